"""The child stack of the group resources (heatflow.plugins.member_stack):
the members and outputs written into it, removal policies, and the
group's attributes read back, checked through the template machinery
the engine uses (a child template the engine refuses, or an output the
parent cannot read the way Heat's users do, fails here)."""

import pytest

from heatflow import exception, registry, stack_view, states
from heatflow.plugins import member_stack as ms
from heatflow.template.template import Template


def bind(data):
    return Template.from_dict(data).bind(
        registry=registry.Registry(entry_points=False))


class TestMembers:
    def test_names_skip_removed_ones_for_good(self):
        assert ms.member_names(3) == ["0", "1", "2"]
        assert ms.member_names(3, {"1"}) == ["0", "2", "3"]
        assert ms.member_names(2, {"0", "1", "7"}) == ["2", "3"]
        assert ms.member_names(0, {"0"}) == []

    def test_group_members_replace_the_index_in_property_strings(self):
        defn = {"type": "OS::Heat::Value",
                "properties": {"value": {"name": "web-%index%",
                                         "list": ["%index%", 7, None],
                                         "%index%": "key kept"},
                               "type": None},
                "metadata": {"m": "%index%"}}
        members = ms.group_members([("0", defn), ("3", defn)], "%index%")
        assert members == {
            "0": {"type": "OS::Heat::Value",
                  "properties": {"value": {"name": "web-0",
                                           "list": ["0", 7, None],
                                           "%index%": "key kept"}},
                  "metadata": {"m": "%index%"}},
            "3": {"type": "OS::Heat::Value",
                  "properties": {"value": {"name": "web-3",
                                           "list": ["3", 7, None],
                                           "%index%": "key kept"}},
                  "metadata": {"m": "%index%"}},
        }

    def test_group_members_with_another_index_var(self):
        members = ms.group_members([("1", {
            "type": "OS::Heat::None",
            "properties": {"a": "n-$$-%index%"}})], "$$")
        assert members == {"1": {"type": "OS::Heat::None",
                                 "properties": {"a": "n-1-%index%"}}}

    def test_chain_members_depend_on_the_one_before(self):
        members = ms.chain_members(["OS::Heat::None", "OS::Heat::Value",
                                    "OS::Heat::None"], {"value": 1}, False)
        assert members == {
            "0": {"type": "OS::Heat::None", "properties": {"value": 1}},
            "1": {"type": "OS::Heat::Value", "properties": {"value": 1},
                  "depends_on": ["0"]},
            "2": {"type": "OS::Heat::None", "properties": {"value": 1},
                  "depends_on": ["1"]},
        }
        concurrent = ms.chain_members(["OS::Heat::None"] * 2, None, True)
        assert concurrent == {"0": {"type": "OS::Heat::None"},
                              "1": {"type": "OS::Heat::None"}}

    def test_the_child_template_is_one_the_engine_takes(self):
        names = ["0", "2"]
        defn = {"type": "OS::Heat::Value",
                "properties": {"value": "v%index%"}}
        members = ms.group_members([(n, defn) for n in names], "%index%")
        outputs = ms.member_outputs(names, [
            ("refs", ()), ("value", ()), ("attributes", ("value",)),
            ("resource.2.value", ()), ("resource.9.value", ())])
        child = bind(ms.child_template(members, outputs, "g"))
        assert list(child.resources) == names
        assert sorted(child.outputs) == [
            "attributes, value", "refs_map", "resource.2.value", "value"]
        refs = {"0": "id0", "2": "id2"}

        def attrs(member, attr):
            return "%s.%s" % (member, attr)
        got = {k: v["value"] for k, v in
               child.resolve_outputs(refs, attrs).items()}
        assert got == {"refs_map": {"0": "id0", "2": "id2"},
                       "value": ["0.value", "2.value"],
                       "attributes, value": {"0": "0.value",
                                             "2": "2.value"},
                       "resource.2.value": "2.value"}


class TestRemovalPolicies:
    refs = {"0": "a", "1": "b", "2": "c"}

    def removed(self, entries, mode="append", removed=(), created=True,
                members=("0", "1", "2")):
        by_ref = {ref: name for name, ref in self.refs.items()}
        return ms.removed_names([{"resource_list": entries}], mode,
                                set(removed), created, members, by_ref.get)

    def test_by_name_and_by_reference_id(self):
        assert self.removed(["1"]) == {"1"}
        assert self.removed([2]) == {"2"}
        assert self.removed(["c"]) == {"2"}
        assert self.removed(["nobody"]) == set()

    def test_append_keeps_what_was_removed(self):
        assert self.removed(["0"], removed={"5"}) == {"0", "5"}

    def test_update_keeps_only_what_is_named_now(self):
        assert self.removed(["0"], "update", removed={"5"}) == {"0"}
        assert self.removed(["5"], "update", removed={"5"}) == {"5"}

    def test_before_creation_every_entry_is_a_name(self):
        assert self.removed(["c", "1"], created=False, members=()) == \
            {"c", "1"}

    def test_stored_as_text_in_member_order(self):
        text = ms.dump_removed({"10", "2", "x"})
        assert ms.load_removed(text) == ["2", "10", "x"]
        assert ms.load_removed(None) == []


PARENT = {
    "heat_template_version": "2016-10-14",
    "resources": {
        "g": {"type": "OS::Heat::None"},
        "user": {"type": "OS::Heat::Value",
                 "properties": {"value": {"get_attr": ["g", "resource.2"]}}},
    },
    "outputs": {
        "refs": {"value": {"get_attr": ["g", "refs"]}},
        "first": {"value": {"get_attr": ["g", "refs", 0]}},
        "refs_map": {"value": {"get_attr": ["g", "refs_map"]}},
        "names": {"value": {"get_attr": ["g", "attributes", "name"]}},
        "deep": {"value": {"get_attr": ["g", "attributes", "info", "k"]}},
        "values": {"value": {"get_attr": ["g", "value"]}},
        "one": {"value": {"get_attr": ["g", "resource.0.value"]}},
        "one_deep": {"value": {"get_attr": ["g", "resource.0.info", "k"]}},
        "removed": {"value": {"get_attr": ["g", "removed_rsrc_list"]}},
    },
}


class Row:
    """A resource row of the child stack, as the engine records it."""

    def __init__(self, id, name, ref, attributes=None):
        self.id = id
        self.name = name
        self.reference_id = ref
        self.physical_resource_id = ref
        self.attributes = attributes or {}
        self.action = states.CREATE
        self.status = states.COMPLETE
        self.replaced_by = None


class StackResourceStandIn:
    def validate(self):
        pass


class FakeGroup(ms.MemberAttributes, StackResourceStandIn):
    """What MemberAttributes asks of the StackResource it is mixed
    into, over a child stack given as rows and output values."""

    attributes_schema = {"refs": None, "refs_map": None, "attributes": None,
                         "removed_rsrc_list": None}

    def __init__(self, names, rows=None, outputs=None, parent=PARENT,
                 removed=()):
        self.name = "g"
        self.stack = stack_view.StackView("parent", "p",
                                          definition=bind(parent))
        self._names = names
        self._rows = rows
        self._outputs = outputs
        self._removed = list(removed)

    def member_names(self):
        return self._names

    def removed_member_names(self):
        return self._removed

    def nested(self):
        if self._rows is None:
            return None
        return stack_view.StackView("child", "c", rows=lambda: self._rows)

    def get_output(self, name):
        # As StackResource.get_output answers an output the child lacks.
        if name not in self._outputs:
            raise exception.InvalidTemplateAttribute(resource=self.name,
                                                     key=name)
        return self._outputs[name]


def child_outputs(group, member_attrs, refs):
    """The child's outputs as the engine would resolve them from the
    template the group writes for the members it has now."""
    names = group.member_names()
    members = {n: {"type": "OS::Heat::None"} for n in names}
    child = bind(ms.child_template(members, group.member_outputs(names),
                                   "g"))
    return {k: v["value"] for k, v in child.resolve_outputs(
        refs, lambda r, a: member_attrs[r].get(a)).items()}


def parent_outputs(group):
    """The parent's outputs as the engine resolves them: each attribute
    of the group asked once by name, the path followed afterwards."""
    defn = group.stack.definition
    names = defn.attribute_refs("g")
    recorded = {n: group.get_attribute(n) for n in names}
    return {k: v["value"] for k, v in defn.resolve_outputs(
        {"g": "gid"}, lambda r, a: recorded[a]).items()}


class TestAttributes:
    member_attrs = {
        "0": {"name": "n0", "value": "v0", "info": {"k": "k0"}},
        "2": {"name": "n2", "value": "v2", "info": {"k": "k2"}},
    }
    refs = {"0": "id0", "2": "id2"}

    def group(self):
        group = FakeGroup(["0", "2"], rows=[], removed=["1"])
        group._outputs = child_outputs(group, self.member_attrs, self.refs)
        return group

    def test_the_parent_reads_what_heat_gives(self):
        group = self.group()
        assert parent_outputs(group) == {
            "refs": ["id0", "id2"],
            "first": "id0",
            "refs_map": {"0": "id0", "2": "id2"},
            "names": {"0": "n0", "2": "n2"},
            "deep": {"0": "k0", "2": "k2"},
            "values": ["v0", "v2"],
            "one": "v0",
            "one_deep": "k0",
            "removed": ["1"],
        }

    def test_outputs_only_for_what_the_parent_reads(self):
        group = self.group()
        assert sorted(group.member_outputs(["0"])) == [
            "attributes, info, k", "attributes, name", "refs_map",
            "resource.0.info", "resource.0.value", "value"]

    def test_member_reference_and_a_missing_member(self):
        group = self.group()
        assert group.get_attribute("resource.2") == "id2"
        assert group.get_attribute("resource.1") is None
        assert group.get_attribute("resource.1.value") is None

    def test_heat_style_calls_with_a_path(self):
        group = self.group()
        assert group.get_attribute("attributes", "name") == \
            {"0": "n0", "2": "n2"}
        assert group.get_attribute("refs", 1) == "id2"

    def test_all_attributes(self):
        group = self.group()
        assert group.get_attribute(None) == {
            "refs": ["id0", "id2"], "refs_map": {"0": "id0", "2": "id2"},
            "removed_rsrc_list": ["1"]}

    def test_without_outputs_what_the_engine_recorded(self):
        rows = [Row(1, "0", "id0", {"value": "v0", "name": "n0"}),
                Row(2, "2", "id2", {})]
        group = FakeGroup(["0", "2"], rows=rows, outputs={})
        assert group.get_attribute("refs") == ["id0", "id2"]
        assert group.get_attribute("resource.2") == "id2"
        assert group.get_attribute("value") == ["v0", None]
        assert group.get_attribute("resource.0.value") == "v0"
        assert group.get_attribute("attributes", "name") == \
            {"0": "n0", "2": None}

    def test_a_member_found_by_reference_id(self):
        group = self.group()
        assert group.member_of_ref("id2") == "2"
        assert group.member_of_ref("nobody") is None
        # A child written without refs_map: its resources are asked.
        rows = [Row(1, "0", "id0"), Row(2, "2", "id2")]
        group = FakeGroup(["0", "2"], rows=rows, outputs={})
        assert group.member_of_ref("id2") == "2"
        assert group.member_of_ref("nobody") is None

    def test_nothing_read_no_outputs(self):
        parent = dict(PARENT, outputs={})
        parent["resources"] = {"g": PARENT["resources"]["g"]}
        assert FakeGroup(["0"], parent=parent).member_outputs(["0"]) == {}

    def test_outside_a_running_operation(self):
        group = FakeGroup(["0"], rows=[])

        def not_here():
            raise exception.NotSupported(feature="a nested stack outside "
                                         "a running operation")
        group.nested = not_here
        assert group.get_attribute("refs") == [None]
        assert group.get_attribute("attributes", "name") == {"0": None}

    def test_no_child_stack_yet(self):
        group = FakeGroup(["0"], rows=None)
        assert group.get_attribute("refs") == [None]
        assert group.get_attribute("refs_map") == {}
        assert group.get_attribute("value") == [None]


def test_attribute_paths_found_in_the_raw_template():
    found = ms.attribute_paths(PARENT, "g")
    assert ("attributes", ("name",)) in found
    assert ("attributes", ("info", "k")) in found
    assert ("refs", (0,)) in found
    assert ms.attribute_paths(PARENT, "user") == set()
    computed = {"x": {"get_attr": ["g", "attributes",
                                   {"get_param": "p"}, "k"]}}
    # A computed path is not known before the parent's resources are.
    assert ms.attribute_paths(computed, "g") == set()


def test_attributes_read_without_a_name_is_refused_naming_the_place():
    parent = dict(PARENT, outputs={
        "ok": {"value": {"get_attr": ["g", "attributes", "name"]}},
        "bad": {"value": {"list": [{"get_attr": ["g", "attributes"]}]}}})
    group = FakeGroup(["0"], rows=[], parent=parent)
    with pytest.raises(exception.StackValidationFailed) as info:
        group.validate()
    assert "outputs.bad.value.list[0].get_attr: " in str(info.value)
    assert "needs the name of the members' attribute" in str(info.value)
    FakeGroup(["0"], rows=[]).validate()
