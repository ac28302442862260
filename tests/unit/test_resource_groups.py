"""OS::Heat::ResourceGroup and OS::Heat::ResourceChain as plugins, without
the engine: what they validate and the child template they write (the
functional tests, tests/functional/test_resource_groups.py, run them)."""

import pytest

from heatflow import exception
from heatflow.plugins.resource_chain import ResourceChain
from heatflow.plugins.resource_group import ResourceGroup


def group(**props):
    props.setdefault("resource_def", {"type": "OS::Heat::None"})
    return ResourceGroup.for_test("g", props)


def refused(make, **props):
    with pytest.raises(exception.StackValidationFailed) as info:
        make(**props).validate()
    return str(info.value)


class TestGroup:
    def test_child_template(self):
        g = group(count=3, resource_def={
            "type": "OS::Heat::Value",
            "properties": {"value": "server-%index%", "type": None},
            "metadata": {"role": "web"}})
        child = g.child_template()
        assert child["heat_template_version"] == "2015-04-30"
        assert child["resources"] == {
            str(i): {"type": "OS::Heat::Value",
                     "properties": {"value": "server-%d" % i},
                     "metadata": {"role": "web"}} for i in range(3)}
        # Nothing reads the group: no outputs.
        assert child["outputs"] == {}
        assert g.child_params() == {}

    def test_removal_policies_before_creation_take_names(self):
        g = group(count=2, removal_policies=[{"resource_list": ["0", 3]}])
        g._note_removals()
        assert g.member_names() == ["1", "2"]
        assert sorted(g.child_template()["resources"]) == ["1", "2"]
        assert g.get_attribute("removed_rsrc_list") == ["0", "3"]

    def test_zero_members(self):
        g = group(count=0)
        assert g.child_template()["resources"] == {}

    @pytest.mark.parametrize("props, where, what", [
        ({"count": -1}, "properties.count", "less than the minimum 0"),
        ({"index_var": "%i"}, "properties.index_var", ""),
        ({"resource_def": {"properties": {}}},
         "properties.resource_def.type", ""),
        ({"removal_policies_mode": "replace"},
         "properties.removal_policies_mode", ""),
    ])
    def test_bad_properties_are_refused_naming_the_place(self, props,
                                                         where, what):
        message = refused(group, **props)
        assert message.startswith("resources.g.%s" % where)
        assert what in message


class TestChain:
    def test_child_template(self):
        c = ResourceChain.for_test("c", {
            "resources": ["OS::Heat::None", "OS::Heat::Value"],
            "resource_properties": {"value": "v"}})
        child = c.child_template()
        assert child["resources"] == {
            "0": {"type": "OS::Heat::None", "properties": {"value": "v"}},
            "1": {"type": "OS::Heat::Value", "properties": {"value": "v"},
                  "depends_on": ["0"]}}
        assert c.member_names() == ["0", "1"]

    def test_concurrent(self):
        c = ResourceChain.for_test("c", {
            "resources": ["OS::Heat::None"] * 3, "concurrent": True})
        assert all("depends_on" not in m
                   for m in c.child_template()["resources"].values())

    def test_an_empty_type_is_refused(self):
        message = refused(lambda: ResourceChain.for_test(
            "c", {"resources": ["OS::Heat::None", ""]}))
        assert message.startswith("resources.c.properties.resources[1]")
