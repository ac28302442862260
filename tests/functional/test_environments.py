"""Environments through the API and the command line: type aliases change
which plugin a resource uses, and the choice is kept with the stack."""

import json

import pytest
import sqlalchemy as sa
import yaml

import heatflow

TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "parameters": {"greeting": {"type": "string", "default": "hello"}},
    "resources": {
        "server": {"type": "My::Server",
                   "properties": {"value": {"get_param": "greeting"}}},
        "other": {"type": "OS::Heat::None"},
    },
    "outputs": {"greeting": {"value": {"get_attr": ["server", "output"]}}},
}
AS_TEST_RESOURCE = {"resource_registry": {
    "My::Server": "OS::Heat::TestResource"}}
AS_VALUE = {"resource_registry": {"My::Server": "OS::Heat::Value"}}


def resources(orch, name):
    return {r.name: r for r in orch.list_resources(name)}


def count_rows(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(
                "SELECT COUNT(*) FROM %s" % t)).scalar()
                for t in ("hf_stacks", "hf_templates", "hf_resources")}
    finally:
        engine.dispose()


def test_alias_picks_the_plugin_and_shows_the_alias(orch):
    stack = orch.create_stack("web", TEMPLATE,
                              environment=AS_TEST_RESOURCE).wait(60)
    assert stack.status == "COMPLETE", stack.status_reason
    res = resources(orch, "web")
    # the type stays as the template wrote it
    assert res["server"].type == "My::Server"
    # and TestResource's attribute "output" answered the output
    assert stack.outputs == {"greeting": "hello"}


def test_environment_parameters_and_defaults(orch):
    env = {"parameters": {"greeting": "from-env"},
           "resource_registry": AS_TEST_RESOURCE["resource_registry"]}
    stack = orch.create_stack("web", TEMPLATE, environment=env).wait(60)
    assert stack.outputs == {"greeting": "from-env"}
    # an explicit parameter wins over the environment's
    stack = orch.update_stack("web", TEMPLATE, environment=env,
                              parameters={"greeting": "given"}).wait(60)
    assert stack.outputs == {"greeting": "given"}


def test_update_keeps_the_aliases_and_replaces_on_a_new_plugin(orch):
    orch.create_stack("web", TEMPLATE, environment=AS_TEST_RESOURCE).wait(60)
    first = resources(orch, "web")["server"].physical_resource_id

    # existing=True: the stored environment (aliases included) carries on
    stack = orch.update_stack("web", existing=True,
                              parameters={"greeting": "again"}).wait(60)
    assert stack.status == "COMPLETE", stack.status_reason
    assert resources(orch, "web")["server"].physical_resource_id == first

    # the same type name now maps to another plugin: a new resource
    changed = json.loads(json.dumps(TEMPLATE))
    changed["outputs"]["greeting"]["value"] = {"get_attr": ["server",
                                                            "value"]}
    plan = {e["resource_name"]: (e["action"], e["reason"])
            for e in orch.preview_update("web", changed,
                                         environment=AS_VALUE)}
    assert plan["server"] == ("replace", "the environment maps type "
                                         "My::Server to another plugin")
    assert plan["other"][0] == "unchanged"
    stack = orch.update_stack("web", changed, environment=AS_VALUE).wait(60)
    assert stack.status == "COMPLETE", stack.status_reason
    res = resources(orch, "web")
    assert [r.name for r in orch.list_resources("web")].count("server") == 1
    assert res["server"].physical_resource_id != first
    assert stack.outputs == {"greeting": "hello"}


def test_without_its_alias_a_stack_is_refused_and_nothing_written(
        orch, db_url):
    before = count_rows(db_url)
    with pytest.raises(heatflow.exception.UnknownResourceType) as info:
        orch.create_stack("web", TEMPLATE)
    assert info.value.path == "resources.server.type"
    bad = {"resource_registry": {"My::Server": "OS::Nova::Server"}}
    with pytest.raises(heatflow.exception.UnknownResourceType) as info:
        orch.create_stack("web", TEMPLATE, environment=bad)
    assert info.value.path == "environment.resource_registry.My::Server"
    with pytest.raises(heatflow.exception.StackValidationFailed) as info:
        orch.preview_create("web", TEMPLATE, environment="[oops")
    assert count_rows(db_url) == before


def test_a_new_orchestrator_resolves_stored_aliases(db_url):
    # Delete from another Orchestrator (as another process or a conductor
    # would): it finds the plugin through the stack's stored environment.
    with heatflow.Orchestrator(db_url=db_url) as first:
        first.create_stack("web", TEMPLATE,
                           environment=AS_TEST_RESOURCE).wait(60)
    with heatflow.Orchestrator(db_url=db_url) as second:
        stack = second.delete_stack("web").wait(60)
        assert (stack.action, stack.status) == ("DELETE", "COMPLETE")


# -- the command line ---------------------------------------------------------


def test_cli_environment_files_merge_aliases(run, tmp_path):
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(TEMPLATE))
    (tmp_path / "a.yaml").write_text(
        "resource_registry:\n  My::Server: OS::Heat::Value\n"
        "parameter_defaults: {greeting: from-defaults}\n")
    # the later file wins for the same alias
    (tmp_path / "b.yaml").write_text(
        "resource_registry:\n  My::Server: OS::Heat::TestResource\n")
    args = ["-t", "t.yaml", "-e", "a.yaml", "-e", "b.yaml"]
    code, out, err = run("template", "validate", *args)
    assert (code, out, err) == (0, "Template is valid.\n", "")
    code, out, err = run("-f", "json", "stack", "create", "web", "--dry-run",
                         *args)
    assert code == 0, err
    assert {e["resource_name"]: e["resource_type"]
            for e in json.loads(out)} == {"server": "My::Server",
                                          "other": "OS::Heat::None"}
    code, out, err = run("stack", "create", "web", "--wait", *args)
    assert code == 0, err
    code, out, err = run("-f", "json", "stack", "output", "show", "web",
                         "greeting")
    assert json.loads(out)["output_value"] == "from-defaults"
    code, out, err = run("-f", "json", "stack", "resource", "list", "web")
    assert {r["name"]: r["type"]
            for r in json.loads(out)} == {"server": "My::Server",
                                          "other": "OS::Heat::None"}


def test_cli_alias_to_an_unknown_type_is_one_line(run, tmp_path):
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(TEMPLATE))
    (tmp_path / "e.yaml").write_text(
        "resource_registry: {'My::Server': 'Nope::Thing'}\n")
    code, out, err = run("stack", "create", "web", "-t", "t.yaml", "-e",
                         "e.yaml")
    assert code == 1 and out == ""
    assert err == ("ERROR: environment.resource_registry.My::Server: type "
                   "My::Server is an alias of unknown resource type "
                   "Nope::Thing\n")


# -- a type changed to another name of the same plugin ------------------------
# Heat compares plugin classes, not type names: a resource whose type
# becomes another name for its class is kept (updated in place, or left
# alone), not replaced.

def _plan(orch, name, template, **kw):
    return {e["resource_name"]: (e["action"], e["reason"])
            for e in orch.preview_update(name, template, **kw)}


def test_type_changed_to_its_alias_keeps_the_resource(orch):
    orch.create_stack("web", TEMPLATE, environment=AS_TEST_RESOURCE).wait(60)
    first = resources(orch, "web")["server"].physical_resource_id
    # the alias's target written out, and the alias dropped
    direct = json.loads(json.dumps(TEMPLATE))
    direct["resources"]["server"]["type"] = "OS::Heat::TestResource"
    assert _plan(orch, "web", direct)["server"][0] == "unchanged"
    stack = orch.update_stack("web", direct).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    res = resources(orch, "web")["server"]
    assert res.physical_resource_id == first
    assert res.type == "OS::Heat::TestResource"
    # and back to the alias, with a property changed: updated in place
    assert _plan(orch, "web", TEMPLATE, environment=AS_TEST_RESOURCE,
                 parameters={"greeting": "hi"})["server"][0] == "update"
    stack = orch.update_stack("web", TEMPLATE, environment=AS_TEST_RESOURCE,
                              parameters={"greeting": "hi"}).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert stack.outputs == {"greeting": "hi"}
    res = resources(orch, "web")["server"]
    assert (res.physical_resource_id, res.type) == (first, "My::Server")
    stack = orch.delete_stack("web").wait(60)
    assert stack.stack_status == "DELETE_COMPLETE", stack.status_reason


def test_type_changed_to_another_registered_name_of_its_class(orch, cloud):
    orch.register_plugin("Test::SameThing", cloud.Thing)
    t = {"heat_template_version": "2018-08-31", "resources": {
        "a": {"type": "Test::Thing", "properties": {"name": "one"}}}}
    orch.create_stack("s", t).wait(60)
    first = resources(orch, "s")["a"].physical_resource_id
    t["resources"]["a"]["type"] = "Test::SameThing"
    t["resources"]["a"]["properties"]["name"] = "two"
    assert _plan(orch, "s", t)["a"] == ("update", "property name changed")
    stack = orch.update_stack("s", t).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert resources(orch, "s")["a"].physical_resource_id == first
    assert cloud.reality() == {first: {"name": "two", "size": 1,
                                       "ref": None}}
    assert orch.delete_stack("s").wait(60).stack_status == "DELETE_COMPLETE"
    assert cloud.reality() == {}


def test_a_failed_create_of_an_aliased_type_can_be_deleted(orch, cloud):
    # the failed row was never converged to a template: its type resolves
    # through the stack's environment all the same
    t = {"heat_template_version": "2018-08-31", "resources": {
        "a": {"type": "My::Thing", "properties": {"fail": True}}}}
    env = {"resource_registry": {"My::Thing": "Test::Thing"}}
    stack = orch.create_stack("s", t, environment=env).wait(60)
    assert stack.stack_status == "CREATE_FAILED"
    stack = orch.delete_stack("s").wait(60)
    assert stack.stack_status == "DELETE_COMPLETE", stack.status_reason
