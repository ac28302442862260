"""End-to-end: stacks created, shown and deleted through the public API on
the embedded default (a SQLite file, operations run in-process)."""

import logging

import pytest
import sqlalchemy as sa

from heatflow import exception
from heatflow import properties
from heatflow import resource
from heatflow.persistence import models


def hot(resources, outputs=None, parameters=None):
    t = {"heat_template_version": "2018-08-31", "resources": resources}
    if outputs:
        t["outputs"] = outputs
    if parameters:
        t["parameters"] = parameters
    return t


def thing(**props):
    return {"type": "Test::Thing", "properties": props}


def statuses(orch, name):
    return {r.name: r.resource_status for r in orch.list_resources(name)}


def test_create_show_and_delete(orch, cloud):
    t = hot({"net": thing(name="net"),
             "server": dict(thing(name="srv",
                                  ref={"get_resource": "net"}))},
            outputs={"server_name": {"value": {"get_attr": ["server",
                                                            "name"]},
                                     "description": "The server's name"}})
    stack = orch.create_stack("web", t).wait(30)
    assert stack.stack_status == "CREATE_COMPLETE"
    assert stack.outputs == {"server_name": "srv"}
    assert stack.output_details[0].description == "The server's name"
    resources = {r.name: r for r in orch.list_resources("web")}
    assert statuses(orch, "web") == {"net": "CREATE_COMPLETE",
                                     "server": "CREATE_COMPLETE"}
    # get_resource handed the server the network's physical id.
    net_id = resources["net"].physical_resource_id
    assert cloud.reality()[resources["server"].physical_resource_id][
        "ref"] == net_id
    assert [s.name for s in orch.list_stacks()] == ["web"]

    stack = orch.delete_stack("web").wait(30)
    assert stack.stack_status == "DELETE_COMPLETE"
    assert cloud.reality() == {}
    assert orch.list_stacks() == []
    with pytest.raises(exception.StackNotFound):
        orch.get_stack("web")


def test_dependencies_order_create_and_delete(orch, cloud):
    t = hot({"a": thing(name="a"),
             "b": thing(ref={"get_attr": ["a", "name"]}),
             "c": dict(thing(), depends_on=["b"])})
    orch.create_stack("chain", t).wait(30)
    created = [j["id"] for j in cloud.journal() if j["event"] == "create"]
    ids = {r.name: r.physical_resource_id for r in
           orch.list_resources("chain")}
    assert created == [ids["a"], ids["b"], ids["c"]]
    orch.delete_stack("chain").wait(30)
    deleted = [j["id"] for j in cloud.journal() if j["event"] == "delete"]
    assert deleted == [ids["c"], ids["b"], ids["a"]]


def test_independent_resources_run_in_parallel(orch, cloud):
    t = hot({"r%d" % i: thing(delay=0.3) for i in range(4)})
    orch.create_stack("wide", t).wait(30)
    events = [e for e in orch.list_events("wide") if e.resource_name != "wide"]
    # All four were in progress before the first one completed.
    first_complete = next(i for i, e in enumerate(events)
                          if e.status == "COMPLETE")
    assert sum(1 for e in events[:first_complete]
               if e.status == "IN_PROGRESS") == 4


def test_events_record_every_transition(orch):
    orch.create_stack("ev", hot({"a": thing()})).wait(30)
    seen = [(e.resource_name, e.resource_status) for e in
            orch.list_events("ev")]
    assert seen == [("ev", "CREATE_IN_PROGRESS"),
                    ("a", "CREATE_IN_PROGRESS"),
                    ("a", "CREATE_COMPLETE"),
                    ("ev", "CREATE_COMPLETE")]


def test_failure_without_rollback(orch, cloud):
    t = hot({"ok": thing(),
             "bad": thing(fail=True, ref={"get_resource": "ok"}),
             "after": thing(ref={"get_resource": "bad"})})
    stack = orch.create_stack("f", t).wait(30)
    assert stack.stack_status == "CREATE_FAILED"
    assert stack.status_reason == (
        "Resource CREATE failed: bad: thing bad refused to be created")
    st = statuses(orch, "f")
    assert st["ok"] == "CREATE_COMPLETE"
    assert st["bad"] == "CREATE_FAILED"
    assert st["after"] == "INIT_COMPLETE"      # never started
    bad = [r for r in orch.list_resources("f") if r.name == "bad"][0]
    assert bad.status_reason == "thing bad refused to be created"
    # A failed stack can be deleted.
    assert orch.delete_stack("f").wait(30).stack_status == "DELETE_COMPLETE"
    assert cloud.reality() == {}


def test_failure_with_rollback_removes_what_was_created(orch, cloud):
    t = hot({"ok": thing(),
             "bad": thing(fail=True, ref={"get_resource": "ok"})})
    stack = orch.create_stack("rb", t, disable_rollback=False).wait(30)
    assert stack.stack_status == "ROLLBACK_COMPLETE"
    assert orch.list_resources("rb") == []
    assert cloud.reality() == {}
    states = [e.resource_status for e in orch.list_events("rb")
              if e.resource_name == "rb"]
    assert states == ["CREATE_IN_PROGRESS", "CREATE_FAILED",
                      "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]


def _table_counts(orch):
    with orch.db.engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(
            t)).scalar() for t in models.metadata.sorted_tables}


@pytest.mark.parametrize("template,params,error", [
    (hot({"a": dict(thing(), depends_on=["nope"])}), None,
     "resources.a.depends_on"),
    (hot({"a": {"type": "No::Such::Type"}}), None, "No::Such::Type"),
    (hot({"a": thing(size="big")}), None, "resources.a.properties.size"),
    (hot({"a": thing(name={"get_param": "p"})},
         parameters={"p": {"type": "number"}}), {"p": "x"}, "parameters.p"),
    ("heat_template_version: 2018-08-31\nresources: [", None, ""),
])
def test_bad_input_is_refused_and_nothing_is_written(
        orch, template, params, error):
    before = _table_counts(orch)
    with pytest.raises(exception.StackValidationFailed) as info:
        orch.create_stack("bad", template, parameters=params)
    assert error in str(info.value)
    assert _table_counts(orch) == before


def test_stack_names_are_unique_among_live_stacks(orch):
    orch.create_stack("dup", hot({"a": thing()})).wait(30)
    with pytest.raises(exception.StackExists):
        orch.create_stack("dup", hot({"a": thing()}))
    orch.delete_stack("dup").wait(30)
    # A deleted stack's name can be used again.
    assert orch.create_stack("dup", hot({"a": thing()})).wait(
        30).stack_status == "CREATE_COMPLETE"


def test_hidden_parameters_are_masked(orch):
    t = hot({"a": thing(name={"get_param": "secret"})},
            parameters={"secret": {"type": "string", "hidden": True},
                        "plain": {"type": "string", "default": "x"}})
    stack = orch.create_stack("h", t, parameters={"secret": "s3cr3t"}).wait(
        30)
    assert stack.parameters["secret"] == "******"


class Recorder(resource.Resource):
    """A plugin using resource_id_set and data_set."""

    def handle_create(self):
        self.resource_id_set("rec-" + self.name)
        self.data_set("colour", "blue")

    def _resolve_attribute(self, name):
        return self.data().get("colour")

    attributes_schema = {}


def test_plugin_data_and_physical_id_are_persisted(orch):
    orch.register_plugin("Acme::Recorder", Recorder)
    orch.create_stack("rec", hot({"r": {"type": "Acme::Recorder"}})).wait(30)
    (r,) = orch.list_resources("rec")
    assert r.physical_resource_id == "rec-r"
    row = orch.db.store.list_resources(orch.get_stack("rec").id)[0]
    assert orch.db.store.resource_data(row.id) == {"colour": "blue"}


def test_templates_as_yaml_text_and_path(orch, tmp_path):
    text = ("heat_template_version: 2018-08-31\n"
            "resources:\n  v:\n    type: OS::Heat::Value\n"
            "    properties: {value: 42}\n"
            "outputs:\n  v: {value: {get_attr: [v, value]}}\n")
    assert orch.create_stack("text", text).wait(30).outputs == {"v": 42}
    path = tmp_path / "t.yaml"
    path.write_text(text)
    assert orch.create_stack("path", str(path)).wait(30).outputs == {"v": 42}


def test_parameters_flow_into_properties_and_outputs(orch):
    t = hot({"v": {"type": "OS::Heat::Value",
                   "properties": {"value": {"get_param": "n"}}}},
            outputs={"double": {"value": {"list_join": [
                "-", [{"get_attr": ["v", "value"]},
                      {"get_attr": ["v", "value"]}]]}}},
            parameters={"n": {"type": "string", "default": "d"}})
    stack = orch.create_stack("p", t, parameters={"n": "seven"}).wait(30)
    assert stack.outputs == {"double": "seven-seven"}
    assert stack.parameters == {"n": "seven"}


def test_stack_parameters_show_the_defaults_used(orch):
    t = hot({"v": {"type": "OS::Heat::Value",
                   "properties": {"value": {"get_param": "n"}}}},
            parameters={"n": {"type": "number", "default": 4},
                        "m": {"type": "string", "default": "x"},
                        "pw": {"type": "string", "default": "s3",
                               "hidden": True}})
    stack = orch.create_stack("p", t, parameters={"m": "given"}).wait(30)
    assert stack.parameters == {"n": 4, "m": "given", "pw": "******"}


class Immutable(resource.Resource):
    properties_schema = {"x": properties.Schema(
        properties.Schema.STRING, "Fixed at creation.", immutable=True,
        update_allowed=True)}


def test_changing_an_immutable_property_fails_the_resource(orch):
    orch.register_plugin("T::Immutable", Immutable)
    orch.create_stack("i", hot({"a": {"type": "T::Immutable",
                                      "properties": {"x": "1"}}})).wait(30)
    stack = orch.update_stack("i", hot({"a": {
        "type": "T::Immutable", "properties": {"x": "2"}}})).wait(30)
    # Rollback is disabled: the update fails, naming the property, and
    # nothing is reverted.
    assert stack.stack_status == "UPDATE_FAILED"
    assert "property x is immutable" in stack.status_reason


def test_changing_an_immutable_parameter_is_refused(orch):
    # Heat's Parameters.immutable_params_modified: a parameter in both
    # templates, immutable in the new one, may not change its value
    params = {"size": {"type": "number", "default": 1, "immutable": True},
              "free": {"type": "string", "default": "a"}}
    t = hot({"a": thing(name="a")}, parameters=params)
    orch.create_stack("im", t).wait(30)
    before = orch.get_stack("im")
    for call in (orch.update_stack, orch.preview_update):
        with pytest.raises(exception.StackValidationFailed) as err:
            call("im", t, parameters={"size": "2"})
        assert str(err.value) == ("parameters.size: immutable: an update "
                                  "may not change its value")
    assert orch.get_stack("im").updated_at == before.updated_at
    # the same value, a mutable parameter, or a parameter new to the stack
    # are fine
    params2 = dict(params, extra={"type": "string", "default": "x",
                                  "immutable": True})
    stack = orch.update_stack("im", hot({"a": thing(name="a")},
                                        parameters=params2),
                              parameters={"size": 1, "free": "b"}).wait(30)
    assert stack.stack_status == "UPDATE_COMPLETE"


def test_cloudformation_template_create_update_delete(orch, cloud):
    # Heat runs AWSTemplateFormatVersion templates; so do we, end to end
    def cfn(names):
        return {"AWSTemplateFormatVersion": "2010-09-09",
                "Parameters": {"Prefix": {"Type": "String",
                                          "Default": "p"},
                               "Key": {"Type": "String", "NoEcho": "true",
                                       "Default": "k"}},
                "Resources": {n: {"Type": "Test::Thing", "Properties": {
                    "name": {"Fn::Join": ["-", [{"Ref": "Prefix"}, n]]}}}
                    for n in names},
                "Outputs": {"first": {"Value": {
                    "Fn::GetAtt": [names[0], "name"]}}}}
    stack = orch.create_stack("cf", cfn(["a", "b"]),
                              parameters={"Key": "secret"}).wait(30)
    assert stack.stack_status == "CREATE_COMPLETE"
    assert stack.outputs == {"first": "p-a"}
    assert stack.parameters["Key"] == "******"  # NoEcho, as hidden
    stack = orch.update_stack("cf", cfn(["b", "c"]),
                              parameters={"Prefix": "q"}).wait(30)
    assert stack.stack_status == "UPDATE_COMPLETE"
    assert sorted(v["name"] for v in cloud.reality().values()) == [
        "q-b", "q-c"]
    assert stack.outputs == {"first": "q-b"}
    assert orch.delete_stack("cf").wait(30).stack_status == "DELETE_COMPLETE"
    assert cloud.reality() == {}


class Crashes(resource.Resource):
    def handle_create(self):
        raise RuntimeError("disk on fire")


def test_an_unexpected_error_is_reported_with_its_type(orch):
    # A plugin's own errors say what they are; anything else (a bug in
    # the plugin, a library's error) is named by its type.
    orch.register_plugin("T::Crashes", Crashes)
    stack = orch.create_stack("x", hot({"a": {"type": "T::Crashes"}})).wait(
        30)
    assert (stack.stack_status, stack.status_reason) == (
        "CREATE_FAILED", "Resource CREATE failed: a: RuntimeError: disk on "
        "fire")
    (a,) = orch.list_resources("x")
    assert a.status_reason == "RuntimeError: disk on fire"


def test_an_unexpected_error_keeps_its_traceback_in_the_log(orch, caplog):
    # The status reason is one line; the plugin's author needs the
    # traceback, and the engine's log (a worker's, a conductor's) has it.
    orch.register_plugin("T::Crashes", Crashes)
    with caplog.at_level(logging.INFO, logger="heatflow.flows.driver"):
        orch.create_stack("x", hot({"a": {"type": "T::Crashes"}})).wait(30)
    (record,) = [r for r in caplog.records
                 if r.name == "heatflow.flows.driver" and r.exc_info]
    assert record.getMessage() == "the CREATE of resource a raised"
    assert record.exc_info[0] is RuntimeError
    assert "handle_create" in caplog.text       # the plugin's frame


class FailsOnPurpose(resource.Resource):
    def handle_create(self):
        raise exception.Error("quota exceeded")


def test_the_traceback_of_a_plugins_own_error_is_kept_with_the_failure(orch):
    # Shown by `stack resource show` and on the failure's event: the
    # plugin's author finds the line without the engine's log.
    orch.register_plugin("T::Crashes", Crashes)
    orch.register_plugin("T::Refuses", FailsOnPurpose)
    orch.create_stack("x", hot({"a": {"type": "T::Crashes"},
                                "b": {"type": "T::Refuses"}})).wait(30)
    a = orch.get_resource("x", "a")
    assert a.resource_status == "CREATE_FAILED"
    assert a.status_detail.startswith("Traceback (most recent call last)")
    assert "in handle_create" in a.status_detail
    assert a.status_detail.endswith("RuntimeError: disk on fire")
    (event,) = [e for e in orch.list_events("x")
                if e.resource_name == "a" and e.status == "FAILED"]
    assert event.detail == a.status_detail
    # A failure the plugin raised on purpose says it all in its reason.
    b = orch.get_resource("x", "b")
    assert (b.status_reason, b.status_detail) == ("quota exceeded", None)
    with pytest.raises(exception.ResourceNotFound):
        orch.get_resource("x", "nothing")


def test_cancel_without_rollback_then_rollback(orch, cloud):
    orch.create_stack("c", hot({"a": thing(name="a")})).wait(30)
    orch.update_stack("c", hot({"a": thing(name="a"),
                                "b": thing(name="b", delay=1)}))
    _wait_for_status(orch, "c", "b", "CREATE_IN_PROGRESS")
    stack = orch.cancel_update("c", rollback=False).wait(30)
    assert stack.stack_status == "UPDATE_FAILED"
    assert stack.status_reason == "Stack UPDATE cancelled"
    stack = orch.rollback_stack("c").wait(30)
    assert stack.stack_status == "ROLLBACK_COMPLETE"
    assert sorted(v["name"] for v in cloud.reality().values()) == ["a"]


def _wait_for_status(orch, stack, name, status, timeout=30):
    import time
    end = time.time() + timeout
    while time.time() < end:
        if any(r.name == name and r.resource_status == status
               for r in orch.list_resources(stack)):
            return
        time.sleep(0.01)
    raise AssertionError("%s never %s" % (name, status))
