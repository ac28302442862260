"""Heat's plugin hooks as a user of the engine sees them: translation
rules applied before validation, in the dry run and before every action;
``update_allowed_properties``; ``_needs_update`` overrides."""

import pytest

from heatflow import attributes
from heatflow import constraints
from heatflow import exception
from heatflow import properties
from heatflow import resource
from heatflow import translation

P = properties.Schema

# What the plugins below saw, per action: {"create": [props data], ...}
SEEN = {}


def hot(resources):
    return {"heat_template_version": "2018-08-31", "resources": resources}


def seen(action, data):
    SEEN.setdefault(action, []).append(dict(data))


class Renamed(resource.Resource):
    """``old`` is deprecated: its rule moves it to ``new`` (which its
    validate() checks: it must see the translated data)."""

    properties_schema = {
        "old": P(P.STRING, "Deprecated: use new."),
        # Required: given only as ``old``, it exists once translated.
        "new": P(P.STRING, "The value.", update_allowed=True, required=True),
        "fixed": P(P.STRING, "Replaces when changed."),
    }

    def translation_rules(self, props):
        TR = translation.TranslationRule
        return [TR(props, TR.REPLACE, ["new"], value_path=["old"])]

    def validate(self):
        super().validate()
        if self.properties["new"] == "bad":
            raise exception.StackValidationFailed("new must not be bad",
                                                  ("new",))

    def handle_create(self):
        seen("create", self.properties.data)
        self.resource_id_set(self.physical_resource_name())

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        seen("update", prop_diff)

    def handle_delete(self):
        seen("delete", self.properties.data)


class AllowedByClass(resource.Resource):
    """Heat's class attribute instead of update_allowed in the schema."""

    properties_schema = {"size": P(P.INTEGER, "Size."),
                         "name": P(P.STRING, "Name.")}
    update_allowed_properties = ("size",)

    def handle_create(self):
        self.resource_id_set(self.physical_resource_name())

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        seen("update", prop_diff)


class Picky(resource.Resource):
    """``_needs_update`` as Heat plugins override it: ``ignored`` never
    needs an update, ``force`` replaces even when nothing else changed."""

    properties_schema = {
        "ignored": P(P.STRING, "Never acted on.", update_allowed=True),
        "force": P(P.BOOLEAN, "Replace on the next update.",
                   update_allowed=True, default=False),
    }

    def _needs_update(self, after, before, after_props, before_props,
                      prev_resource, check_init_complete=True):
        if after_props["force"]:
            raise exception.UpdateReplace(self.name)
        if after_props["ignored"] != before_props["ignored"]:
            return False
        return super()._needs_update(after, before, after_props,
                                     before_props, prev_resource,
                                     check_init_complete)

    def handle_create(self):
        self.resource_id_set(self.physical_resource_name())

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        seen("update", prop_diff)


def register(orch):
    SEEN.clear()
    orch.register_plugin("Test::Renamed", Renamed)
    orch.register_plugin("Test::AllowedByClass", AllowedByClass)
    orch.register_plugin("Test::Picky", Picky)


def rows(orch, name):
    return {r.name: r for r in orch.list_resources(name)}


def test_random_string_deprecated_sequence_takes_effect(orch):
    t = hot({"pw": {"type": "OS::Heat::RandomString",
                    "properties": {"length": 40, "sequence": "digits"}}})
    stack = orch.create_stack("rs", t).wait(30)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    value = rows(orch, "rs")["pw"].physical_resource_id
    ref = orch.get_stack("rs")
    assert ref.stack_status == "CREATE_COMPLETE"
    t["outputs"] = {"v": {"value": {"get_attr": ["pw", "value"]}}}
    stack = orch.update_stack("rs", t).wait(30)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    text = stack.outputs["v"]
    assert len(text) == 40 and text.isdigit(), text
    assert value == rows(orch, "rs")["pw"].physical_resource_id


def test_translation_before_validation_and_every_action(orch):
    register(orch)
    bad = hot({"r": {"type": "Test::Renamed", "properties": {"old": "bad"}}})
    # validate() sees the translated data, before anything is written.
    with pytest.raises(exception.StackValidationFailed,
                       match="new must not be bad"):
        orch.create_stack("tr-bad", bad)
    assert orch.list_stacks() == []

    t = hot({"r": {"type": "Test::Renamed", "properties": {"old": "a"}}})
    stack = orch.create_stack("tr", t).wait(30)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    assert SEEN["create"][-1] == {"new": "a"}
    # The same value under its new name: nothing changes (both sides of
    # the diff are translated), and the dry run says so too.
    t2 = hot({"r": {"type": "Test::Renamed", "properties": {"new": "a"}}})
    assert [e["action"] for e in orch.preview_update("tr", t2)] == [
        "unchanged"]
    stack = orch.update_stack("tr", t2).wait(30)
    assert stack.stack_status == "UPDATE_COMPLETE"
    assert "update" not in SEEN
    # A change through the deprecated name is an update in place of new.
    t3 = hot({"r": {"type": "Test::Renamed", "properties": {"old": "b"}}})
    assert [e["action"] for e in orch.preview_update("tr", t3)] == [
        "update"]
    stack = orch.update_stack("tr", t3).wait(30)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert SEEN["update"] == [{"new": "b"}]
    stack = orch.delete_stack("tr").wait(30)
    assert stack.stack_status == "DELETE_COMPLETE"
    assert SEEN["delete"] == [{"new": "b"}]


def test_update_allowed_properties_updates_in_place(orch):
    register(orch)
    t = hot({"r": {"type": "Test::AllowedByClass",
                   "properties": {"size": 1, "name": "x"}}})
    orch.create_stack("ua", t).wait(30)
    first = rows(orch, "ua")["r"].physical_resource_id
    t["resources"]["r"]["properties"]["size"] = 2
    assert [e["action"] for e in orch.preview_update("ua", t)] == ["update"]
    stack = orch.update_stack("ua", t).wait(30)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert rows(orch, "ua")["r"].physical_resource_id == first
    assert SEEN["update"] == [{"size": 2}]
    # name is neither in the class attribute nor update_allowed: replaced
    t["resources"]["r"]["properties"]["name"] = "y"
    assert [e["action"] for e in orch.preview_update("ua", t)] == ["replace"]
    orch.update_stack("ua", t).wait(30)
    assert rows(orch, "ua")["r"].physical_resource_id != first


def test_needs_update_override(orch):
    register(orch)
    t = hot({"r": {"type": "Test::Picky", "properties": {"ignored": "a"}}})
    orch.create_stack("nu", t).wait(30)
    first = rows(orch, "nu")["r"].physical_resource_id
    # The plugin says no update is needed: nothing is done.
    t["resources"]["r"]["properties"]["ignored"] = "b"
    assert [e["action"] for e in orch.preview_update("nu", t)] == [
        "unchanged"]
    stack = orch.update_stack("nu", t).wait(30)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert "update" not in SEEN
    assert rows(orch, "nu")["r"].physical_resource_id == first
    # It raises UpdateReplace: replaced, though the property is updatable.
    t["resources"]["r"]["properties"]["force"] = True
    assert [e["action"] for e in orch.preview_update("nu", t)] == [
        "replace"]
    stack = orch.update_stack("nu", t).wait(30)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert rows(orch, "nu")["r"].physical_resource_id != first
    assert "update" not in SEEN


class HeatStyle(resource.Resource):
    """Heat's constructor, and ``self.stack`` read in its actions."""

    properties_schema = {"peer": P(P.STRING, "Another resource's ref.")}
    attributes_schema = {"saw": attributes.Schema("What it saw.")}

    def __init__(self, name, definition, stack):
        super().__init__(name, definition, stack)
        self.made_by_heat_constructor = True

    def handle_create(self):
        stack = self.stack
        peer = self.properties["peer"]
        found = stack.resource_by_refid(peer) if peer else None
        self.data_set("saw", {
            "heat": self.made_by_heat_constructor,
            "name": stack.name, "id": stack.id,
            "timeout": [stack.timeout_mins, stack.timeout_secs()],
            "strict": stack.strict_validate,
            "contains": ["first" in stack, "nope" in stack],
            "first_ref": stack["first"].FnGetRefId() if "first" in stack
            else None,
            "by_refid": found.name if found is not None else None,
            "env": stack.env is not None,
            "param": stack.parameters.get("p"),
        })
        self.resource_id_set(self.physical_resource_name())

    def _resolve_attribute(self, name):
        return self.data().get("saw")


def test_stack_view_and_heat_constructor(orch):
    orch.register_plugin("Test::HeatStyle", HeatStyle)
    t = hot({"first": {"type": "Test::HeatStyle"},
             "second": {"type": "Test::HeatStyle",
                        "properties": {"peer": {"get_resource": "first"}}}})
    t["parameters"] = {"p": {"type": "string", "default": "pv"}}
    t["outputs"] = {"saw": {"value": {"get_attr": ["second", "saw"]}}}
    stack = orch.create_stack("sv", t, timeout_mins=7).wait(30)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    first = rows(orch, "sv")["first"].physical_resource_id
    assert stack.outputs["saw"] == {
        "heat": True, "name": "sv", "id": stack.id, "timeout": [7, 420],
        "strict": True, "contains": [True, False], "first_ref": first,
        "by_refid": "first", "env": True, "param": "pv"}
    # Deleted through the same constructor.
    assert orch.delete_stack("sv").wait(30).stack_status == "DELETE_COMPLETE"


# -- prepare_for_replace / restore_prev_rsrc --------------------------------

# What the Slot plugins were asked, in order: (hook, what they saw)
HOOKS = []


class Slot(resource.Resource):
    """A resource holding something another incarnation cannot hold at
    the same time (Heat's Port and its fixed IPs): it gives it up before
    it is replaced and takes it back when a rollback restores it."""

    refused = False
    properties_schema = {
        "name": P(P.STRING, "Changing it replaces the slot."),
        "fail": P(P.BOOLEAN, "Fail the create.", default=False),
    }

    def handle_create(self):
        if self.properties["fail"]:
            raise exception.Error("told to fail")
        self.resource_id_set(self.physical_resource_name())

    def prepare_for_replace(self):
        HOOKS.append(("prepare", self.resource_id))

    def restore_prev_rsrc(self, convergence=False):
        HOOKS.append(("restore", self.resource_id, convergence,
                      self.replaced_by))
        if self.properties["name"] == "unrestorable" and not Slot.refused:
            Slot.refused = True         # once
            raise exception.Error("cannot take it back")


class Breaks(resource.Resource):
    properties_schema = {"after": P(P.STRING, "Ordering only.",
                                    update_allowed=True),
                         "fail": P(P.BOOLEAN, "Fail the update.",
                                   update_allowed=True, default=False)}

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if prop_diff.get("fail"):
            raise exception.Error("broken")


def slot_stack(orch, name, slot_name="a"):
    HOOKS.clear()
    Slot.refused = False
    orch.register_plugin("Test::Slot", Slot)
    orch.register_plugin("Test::Breaks", Breaks)
    t = hot({"s": {"type": "Test::Slot", "properties": {"name": slot_name}},
             "b": {"type": "Test::Breaks",
                   "properties": {"after": {"get_resource": "s"}}}})
    stack = orch.create_stack(name, t).wait(30)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    return t, rows(orch, name)["s"]


def test_rollback_of_a_failed_replacement_restores_the_original(orch):
    t, original = slot_stack(orch, "rp")
    t["resources"]["s"]["properties"].update(name="b", fail=True)
    stack = orch.update_stack("rp", t, disable_rollback=False).wait(30)
    assert stack.stack_status == "ROLLBACK_COMPLETE", stack.status_reason
    pid = original.physical_resource_id
    [restore] = [h for h in HOOKS if h[0] == "restore"]
    # Called on the original, in convergence style, the replacement's row
    # still named.
    assert HOOKS[0] == ("prepare", pid)
    assert restore[:3] == ("restore", pid, True)
    assert restore[3] is not None
    assert [(r.physical_resource_id, r.action, r.status)
            for r in orch.list_resources("rp") if r.name == "s"] == [
        (pid, "CREATE", "COMPLETE")]


def test_rollback_after_a_replacement_restores_the_original(orch):
    t, original = slot_stack(orch, "rq")
    t["resources"]["s"]["properties"]["name"] = "b"
    t["resources"]["b"]["properties"]["fail"] = True
    stack = orch.update_stack("rq", t, disable_rollback=False).wait(30)
    assert stack.stack_status == "ROLLBACK_COMPLETE", stack.status_reason
    assert [h[:3] for h in HOOKS] == [
        ("prepare", original.physical_resource_id),
        ("restore", original.physical_resource_id, True)]
    assert [r.physical_resource_id for r in orch.list_resources("rq")
            if r.name == "s"] == [original.physical_resource_id]


def test_replacement_without_rollback_restores_nothing(orch):
    t, original = slot_stack(orch, "rn")
    t["resources"]["s"]["properties"]["name"] = "b"
    stack = orch.update_stack("rn", t, disable_rollback=False).wait(30)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert [h[0] for h in HOOKS] == ["prepare"]


def test_restore_that_fails_fails_the_rollback(orch):
    t, original = slot_stack(orch, "rf", slot_name="unrestorable")
    t["resources"]["s"]["properties"].update(name="b", fail=True)
    stack = orch.update_stack("rf", t, disable_rollback=False).wait(30)
    assert stack.stack_status == "ROLLBACK_FAILED", stack.status_reason
    now = orch.get_resource("rf", "s")
    assert now.physical_resource_id == original.physical_resource_id
    assert (now.action, now.status) == ("UPDATE", "FAILED")
    assert "cannot take it back" in now.status_reason
    assert all(r.status != "IN_PROGRESS"
               for r in orch.list_resources("rf"))
    # Rolled back again: converging back to the original restores it
    # first (Heat's update_convergence in a rollback), then, as it failed,
    # replaces it.
    HOOKS.clear()
    stack = orch.rollback_stack("rf").wait(30)
    assert stack.stack_status == "ROLLBACK_COMPLETE", stack.status_reason
    assert HOOKS[0][:3] == ("restore", original.physical_resource_id, True)


# -- handle_metadata_reset ----------------------------------------------------

class Gauge(resource.Resource):
    """Heat's scaling resources reset metadata left 'in progress' when
    they are marked healthy again."""

    properties_schema = {"stuck": P(P.BOOLEAN, "Refuse the reset.",
                                    default=False)}

    def handle_create(self):
        self.resource_id_set(self.physical_resource_name())

    def handle_metadata_reset(self):
        resets = self.data().get("resets", 0)
        HOOKS.append(("reset", self.resource_id, dict(self.metadata),
                      resets))
        if self.properties["stuck"]:
            raise exception.Error("metadata stuck")
        self.data_set("resets", resets + 1)


def test_reset_of_an_unhealthy_resource_resets_its_metadata(orch):
    HOOKS.clear()
    orch.register_plugin("Test::Gauge", Gauge)
    t = hot({"g": {"type": "Test::Gauge", "metadata": {"scaling": True}},
             "h": {"type": "Test::Gauge"}})
    assert orch.create_stack("mr", t).wait(30).stack_status == \
        "CREATE_COMPLETE"
    pid = orch.get_resource("mr", "g").physical_resource_id
    # Only the reset of a CHECK_FAILED resource asks the plugin (Heat's).
    orch.mark_resource_unhealthy("mr", "g")
    orch.mark_resource_unhealthy("mr", "h", mark_unhealthy=False)
    assert HOOKS == []
    orch.mark_resource_unhealthy("mr", "g", mark_unhealthy=False)
    assert HOOKS == [("reset", pid, {"scaling": True}, 0)]
    g = orch.get_resource("mr", "g")
    assert (g.action, g.status) == ("CHECK", "COMPLETE")
    # What the plugin wrote is kept.
    orch.mark_resource_unhealthy("mr", "g")
    orch.mark_resource_unhealthy("mr", "g", mark_unhealthy=False)
    assert HOOKS[-1] == ("reset", pid, {"scaling": True}, 1)


def test_a_reset_that_fails_leaves_the_resource_unhealthy(orch):
    HOOKS.clear()
    orch.register_plugin("Test::Gauge", Gauge)
    t = hot({"g": {"type": "Test::Gauge", "properties": {"stuck": True}}})
    assert orch.create_stack("ms", t).wait(30).stack_status == \
        "CREATE_COMPLETE"
    orch.mark_resource_unhealthy("ms", "g", reason="gone bad")
    with pytest.raises(exception.ResourceFailure,
                       match="g: its metadata could not be reset: "
                             "metadata stuck"):
        orch.mark_resource_unhealthy("ms", "g", mark_unhealthy=False)
    g = orch.get_resource("ms", "g")
    assert (g.action, g.status, g.status_reason) == (
        "CHECK", "FAILED", "gone bad")


# -- what validate() sees of values other resources give ----------------------

class Looks(resource.Resource):
    """Records what its validate() reads (in Heat: a get_resource is the
    resource's name, a get_attr None, converted as a null is)."""

    properties_schema = {
        "ref": P(P.STRING, "A get_resource."),
        "text": P(P.STRING, "A get_attr.",
                  constraints=[constraints.AllowedPattern("[a-z]+")]),
        "count": P(P.INTEGER, "A get_attr.", default=3),
        "anything": P(P.ANY, "A get_attr."),
        "items": P(P.LIST, "get_attr items.", schema=P(P.STRING, "One.")),
    }

    def validate(self):
        super().validate()
        props = self.properties
        HOOKS.append({k: props[k] for k in self.properties_schema})
        # What a Heat plugin's check does: fine in Heat.
        if props["text"].startswith("-"):
            raise exception.StackValidationFailed("bad text", ("text",))


def test_validate_sees_what_heat_validation_gives(orch):
    HOOKS.clear()
    orch.register_plugin("Test::Looks", Looks)
    t = hot({"other": {"type": "OS::Heat::Value",
                       "properties": {"value": "x"}},
             "l": {"type": "Test::Looks", "properties": {
                 "ref": {"get_resource": "other"},
                 "text": {"get_attr": ["other", "value"]},
                 "count": {"get_attr": ["other", "value"]},
                 "anything": {"get_attr": ["other", "value"]},
                 "items": [{"get_attr": ["other", "value"]}, "b"]}}})
    orch.validate_template(t)
    assert HOOKS == [{"ref": "other", "text": "", "count": 3,
                      "anything": None, "items": ["", "b"]}]


def test_builtin_plugins_check_again_what_is_not_known_yet(orch):
    # heatflow's own RandomString and Value leave what depends on another
    # resource to the check before their create (not Heat's placeholders).
    t = hot({"n": {"type": "OS::Heat::Value",
                   "properties": {"value": 40, "type": "number"}},
             "pw": {"type": "OS::Heat::RandomString", "properties": {
                 "length": {"get_attr": ["n", "value"]},
                 "character_classes": [{"class": "digits", "min": 40}]}},
             "j": {"type": "OS::Heat::Value", "properties": {
                 "value": {"get_attr": ["n", "value"]}, "type": "json"}}})
    orch.validate_template(t)


def test_a_reset_without_the_plugin_is_refused(orch, db_url):
    import heatflow
    orch.register_plugin("Test::Gauge", Gauge)
    t = hot({"g": {"type": "Test::Gauge"}})
    assert orch.create_stack("mp", t).wait(30).stack_status == \
        "CREATE_COMPLETE"
    with heatflow.Orchestrator(db_url) as bare:
        bare.mark_resource_unhealthy("mp", "g")     # needs no plugin
        # Whether the plugin resets anything cannot be known without it.
        with pytest.raises(exception.PluginNotLoaded,
                           match="stack mp: the reset needs the plugin of "
                                 "resource type Test::Gauge"):
            bare.mark_resource_unhealthy("mp", "g", mark_unhealthy=False)
    g = orch.get_resource("mp", "g")
    assert (g.action, g.status) == ("CHECK", "FAILED")


def test_a_nested_template_another_resource_gives_is_checked_when_known(
        orch):
    # (Heat's placeholder for it would be an empty template.)
    child = "heat_template_version: 2018-08-31\n"
    t = hot({"v": {"type": "OS::Heat::Value", "properties": {"value": child}},
             "s": {"type": "OS::Heat::Stack", "properties": {
                 "template": {"get_attr": ["v", "value"]}}}})
    orch.validate_template(t)
