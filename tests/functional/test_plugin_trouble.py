"""Plugins that misbehave or are missing, on the embedded default: the
operation fails or is refused with a message that says what is wrong, and
nothing is left IN_PROGRESS (issue 15)."""

import json
import logging
import textwrap
import time

import pytest
import sqlalchemy as sa

import heatflow
from heatflow import exception

PLUGINS = """\
    from heatflow import attributes, resource

    class Opaque(resource.Resource):
        attributes_schema = {"handle": attributes.Schema("Not JSON.")}

        def handle_create(self):
            self.resource_id_set("opaque-1")

        def _resolve_attribute(self, name):
            return object()

    class Broken(resource.Resource):
        def __init__(self, *args, **kwargs):
            raise RuntimeError("broken plugin")

    class Fragile(resource.Resource):
        # made fine, but cannot be loaded to be deleted

        def __init__(self, *args, **kwargs):
            if kwargs.get("action") == "DELETE":
                raise RuntimeError("cannot load for delete")
            super().__init__(*args, **kwargs)

        def handle_create(self):
            self.resource_id_set("fragile-1")

    class BrokenLikeHeat(resource.Resource):
        # Heat's constructor
        def __init__(self, name, definition, stack):
            raise RuntimeError("broken the Heat way")

    def resource_mapping():
        return {"Test::Opaque": Opaque, "Test::Broken": Broken,
                "Test::Fragile": Fragile,
                "Test::BrokenLikeHeat": BrokenLikeHeat}
    """


@pytest.fixture
def plugin_dir(tmp_path):
    """A plugin directory with the misbehaving plugins above."""
    path = tmp_path / "plugins"
    path.mkdir()
    (path / "trouble.py").write_text(textwrap.dedent(PLUGINS))
    return str(path)


def hot(resources, outputs=None):
    t = {"heat_template_version": "2018-08-31", "resources": resources}
    if outputs:
        t["outputs"] = outputs
    return t


# -- an attribute value that is not JSON --------------------------------------

OPAQUE = hot({"a": {"type": "Test::Opaque"}},
             outputs={"h": {"value": {"get_attr": ["a", "handle"]}}})


def test_an_attribute_that_is_not_json_fails_its_resource(orch, plugin_dir):
    orch.registry.load_plugin_dir(plugin_dir)
    stack = orch.create_stack("s", OPAQUE).wait(30)
    assert stack.stack_status == "CREATE_FAILED"
    reason = stack.status_reason
    assert "\n" not in reason and "SQL" not in reason, reason
    assert reason.startswith("Resource CREATE failed: a: ")
    assert "attribute 'handle'" in reason and "JSON" in reason, reason
    assert "(plugin trouble.py:Opaque)" in reason, reason
    [res] = orch.list_resources("s")
    assert res.resource_status == "CREATE_FAILED"
    assert "attribute 'handle'" in res.status_reason
    # and the stack can go
    assert orch.delete_stack("s").wait(30).stack_status == "DELETE_COMPLETE"


def test_cli_an_attribute_that_is_not_json_is_one_line(run, tmp_path,
                                                       plugin_dir):
    (tmp_path / "t.yaml").write_text(
        "heat_template_version: 2018-08-31\n"
        "resources: {a: {type: 'Test::Opaque'}}\n"
        "outputs: {h: {value: {get_attr: [a, handle]}}}\n")
    code, out, err = run("--plugin-dir", plugin_dir, "stack", "create", "s",
                         "-t", "t.yaml", "--wait")
    assert code == 1
    assert "Traceback" not in err and "SQL" not in err, err
    assert "attribute 'handle'" in err, err
    assert len(err.strip().splitlines()) == 1, err


# -- a plugin whose constructor raises ----------------------------------------

def _settled(op, limit=15):
    """The stack once ``op`` settled, which must be within ``limit`` s."""
    start = time.monotonic()
    stack = op.wait(limit)
    return stack, time.monotonic() - start


@pytest.mark.parametrize("rollback", [False, True])
@pytest.mark.parametrize("plugin, message", [
    ("Broken", "broken plugin"), ("BrokenLikeHeat", "broken the Heat way")])
def test_a_plugin_whose_constructor_raises_can_be_deleted(
        orch, plugin_dir, rollback, plugin, message):
    orch.registry.load_plugin_dir(plugin_dir)
    t = hot({"a": {"type": "Test::" + plugin},
             "b": {"type": "Test::Thing", "properties": {"name": "b"}}})
    stack = orch.create_stack("s", t, disable_rollback=not rollback).wait(15)
    assert stack.stack_status == ("ROLLBACK_COMPLETE" if rollback
                                  else "CREATE_FAILED"), stack.status_reason
    # The failure names the plugin that broke.
    assert any("plugin trouble.py:%s could not be constructed for resource a: "
               "RuntimeError: %s" % (plugin, message) in e.reason
               for e in orch.list_events("s")), \
        [e.reason for e in orch.list_events("s")]
    stack, took = _settled(orch.delete_stack("s"))
    assert stack.stack_status == "DELETE_COMPLETE", stack.status_reason
    assert took < 10


BAD_SCHEMAS = """\
    from heatflow import attributes, properties, resource

    class Stringly(resource.Resource):
        properties_schema = {"size": "integer"}

    def resource_mapping():
        return {"Test::Stringly": Stringly}
    """


@pytest.mark.parametrize("schemas, problem", [
    ({"properties_schema": {"size": "integer"}},
     "properties_schema['size'] must be a heatflow.properties.Schema, "
     "not 'integer'"),
    ({"attributes_schema": {"url": None}},
     "attributes_schema['url'] must be a heatflow.attributes.Schema"),
    ({"properties_schema": [1]}, "properties_schema must be a dict, not list"),
])
def test_a_bad_schema_is_refused_at_registration(orch, schemas, problem):
    from heatflow import resource
    bad = type("BadSchema", (resource.Resource,), dict(schemas))
    with pytest.raises(exception.PluginError) as err:
        orch.register_plugin("Test::Bad", bad)
    assert str(err.value).startswith(
        "Test::Bad (plugin %s.BadSchema): " % __name__), str(err.value)
    assert problem in str(err.value)
    # Not registered: a template naming it is an unknown type.
    with pytest.raises(exception.StackValidationFailed):
        orch.create_stack("s", hot({"a": {"type": "Test::Bad"}}))
    assert orch.list_stacks() == []


def test_a_plugin_dir_with_a_bad_schema_names_the_file(orch, tmp_path):
    (tmp_path / "schemas.py").write_text(textwrap.dedent(BAD_SCHEMAS))
    with pytest.raises(exception.PluginError) as err:
        orch.registry.load_plugin_dir(str(tmp_path))
    assert "schemas.py" in str(err.value), str(err.value)
    assert "Test::Stringly (plugin " in str(err.value)


def test_a_plugin_that_cannot_be_made_to_delete_fails_promptly(orch,
                                                               plugin_dir):
    orch.registry.load_plugin_dir(plugin_dir)
    stack = orch.create_stack("s", hot({"a": {"type": "Test::Fragile"}}))
    assert stack.wait(15).stack_status == "CREATE_COMPLETE"
    stack, took = _settled(orch.delete_stack("s"))
    # its physical resource exists: it is not forgotten, the delete fails
    assert stack.stack_status == "DELETE_FAILED"
    assert "cannot load for delete" in stack.status_reason
    assert "\n" not in stack.status_reason
    [res] = orch.list_resources("s")
    assert (res.resource_status, res.physical_resource_id) == (
        "DELETE_FAILED", "fragile-1")
    assert took < 10


def test_a_delete_whose_template_no_longer_binds_fails_promptly(db_url,
                                                                cloud):
    """A plugin upgrade dropped an attribute the stored template reads:
    clean-up cannot bind the template.  The delete fails, saying why; it
    is not turned into a rollback, nor left in progress."""
    class Shrunk(cloud.Thing):
        attributes_schema = {"size": cloud.Thing.attributes_schema["size"]}

    t = hot({"a": {"type": "Test::Thing", "properties": {"name": "a"}},
             "b": {"type": "Test::Thing", "properties": {
                 "ref": {"get_attr": ["a", "name"]}}}})
    with heatflow.Orchestrator(db_url) as first:
        first.register_plugin("Test::Thing", cloud.Thing)
        assert first.create_stack("s", t).wait(30).status == "COMPLETE"
    real = cloud.reality()
    with heatflow.Orchestrator(db_url) as second:
        second.register_plugin("Test::Thing", Shrunk)
        stack, took = _settled(second.delete_stack("s"))
        assert stack.stack_status == "DELETE_FAILED", stack.status_reason
        assert stack.status_reason.startswith("Resource DELETE failed: ")
        assert "name" in stack.status_reason, stack.status_reason
        assert took < 10
    assert cloud.reality() == real


# -- a plugin this process has not loaded -------------------------------------

def _snapshot(url):
    """Everything an operation refused up front must leave as it was."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(
                "SELECT * FROM %s ORDER BY 1" % t)).all()
                for t in ("hf_stacks", "hf_templates", "hf_resources",
                          "hf_events", "flowdetails")}
    finally:
        engine.dispose()


def _thing(**props):
    return {"type": "Test::Thing", "properties": props}


def test_operations_needing_a_plugin_not_loaded_are_refused(db_url, cloud):
    with heatflow.Orchestrator(db_url) as first:
        first.register_plugin("Test::Thing", cloud.Thing)
        assert first.create_stack("s", hot({"a": _thing(name="a")})).wait(
            30).stack_status == "CREATE_COMPLETE"
        failed = first.create_stack("f", hot({"b": _thing(name="b"),
                                              "c": _thing(fail=True)}))
        assert failed.wait(30).stack_status == "CREATE_FAILED"
        # nothing converged: the failed resource's type is in no template
        # a delete looks at
        assert first.create_stack("lone", hot({"c": _thing(fail=True)})).wait(
            30).stack_status == "CREATE_FAILED"
        # through an environment alias: the alias's target is named
        assert first.create_stack(
            "aliased", hot({"d": {"type": "My::Thing"}}),
            environment={"resource_registry": {
                "My::Thing": "Test::Thing"}}).wait(30).status == "COMPLETE"
    before, real = _snapshot(db_url), cloud.reality()
    # e.g. the command line without --plugin-dir
    with heatflow.Orchestrator(db_url) as second:
        attempts = [
            ("delete", lambda: second.delete_stack("s")),
            ("update", lambda: second.update_stack(
                "s", hot({"z": {"type": "OS::Heat::None"}}))),
            ("update", lambda: second.update_stack("s", existing=True)),
            ("rollback", lambda: second.rollback_stack("f")),
            ("delete", lambda: second.delete_stack("aliased")),
            ("delete", lambda: second.delete_stack("lone")),
        ]
        for action, attempt in attempts:
            with pytest.raises(exception.PluginNotLoaded) as info:
                attempt()
            msg = str(info.value)
            assert "the %s needs the plugin of resource type Test::Thing" \
                % action in msg, msg
            for hint in ("register_plugin", "heatflow.resources",
                         "--plugin-dir", "HEATFLOW_PLUGIN_DIRS",
                         "Nothing was changed"):
                assert hint in msg, msg
            assert info.value.types == ["Test::Thing"]
        assert {s.name: s.stack_status for s in second.list_stacks()} == {
            "s": "CREATE_COMPLETE", "f": "CREATE_FAILED",
            "aliased": "CREATE_COMPLETE", "lone": "CREATE_FAILED"}
    assert _snapshot(db_url) == before
    assert cloud.reality() == real
    # with the plugin, the same delete goes through
    with heatflow.Orchestrator(db_url) as third:
        third.register_plugin("Test::Thing", cloud.Thing)
        for name in ("s", "f", "aliased", "lone"):
            stack = third.delete_stack(name).wait(30)
            assert stack.stack_status == "DELETE_COMPLETE", stack
    assert cloud.reality() == {}


def test_a_delete_that_must_bind_the_template_needs_all_its_plugins(
        db_url, cloud):
    # b waited on a, which failed: nothing of b exists, but a's class comes
    # from binding the stack's template, which names b's type too.  The
    # delete is refused up front, nothing changed -- not DELETE_FAILED
    # half way.
    with heatflow.Orchestrator(db_url) as first:
        first.register_plugin("Test::Thing", cloud.Thing)
        stack = first.create_stack("s", hot({
            "a": {"type": "OS::Heat::TestResource",
                  "properties": {"fail": True}},
            "b": dict(_thing(name="b"), depends_on="a")})).wait(30)
        assert stack.stack_status == "CREATE_FAILED"
        assert {r.name: r.resource_status for r in first.list_resources(
            "s")} == {"a": "CREATE_FAILED", "b": "INIT_COMPLETE"}
    before = _snapshot(db_url)
    with heatflow.Orchestrator(db_url) as second:      # no Test::Thing
        with pytest.raises(exception.PluginNotLoaded) as info:
            second.delete_stack("s")
        assert info.value.types == ["Test::Thing"]
    assert _snapshot(db_url) == before
    with heatflow.Orchestrator(db_url) as third:
        third.register_plugin("Test::Thing", cloud.Thing)
        assert third.delete_stack("s").wait(30).stack_status == \
            "DELETE_COMPLETE"
    assert cloud.reality() == {}


def test_cli_delete_without_the_plugin_dir_is_refused(run, tmp_path, cloud):
    from tests import conftest
    (tmp_path / "t.yaml").write_text(
        "heat_template_version: 2018-08-31\n"
        "resources: {a: {type: 'Test::Thing', properties: {name: a}}}\n")
    code, out, err = run("--plugin-dir", conftest.PLUGIN_DIR, "stack",
                         "create", "s", "-t", "t.yaml", "--wait")
    assert code == 0, err
    real = cloud.reality()
    code, out, err = run("stack", "delete", "s", "-y", "--wait")
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert "Test::Thing" in err and "--plugin-dir" in err, err
    code, out, err = run("-f", "json", "stack", "show", "s")
    assert json.loads(out)["stack_status"] == "CREATE_COMPLETE"
    assert cloud.reality() == real
    code, out, err = run("--plugin-dir", conftest.PLUGIN_DIR, "stack",
                         "delete", "s", "-y", "--wait")
    assert code == 0, err
    assert cloud.reality() == {}


def test_an_orphan_is_resumed_only_where_its_plugin_is(db_url, cloud,
                                                       caplog):
    from tests import conftest
    from tests.functional import test_resume as resume

    def created():
        return [j["props"]["name"] for j in cloud.journal()
                if j["event"] == "create"]
    # The process running the create dies with b's create under way.
    resume._killed_when(lambda: created() == ["a", "b"], resume.SCRIPT,
                        db_url, conftest.PLUGIN_DIR,
                        json.dumps(resume.CHAIN))
    with caplog.at_level(logging.WARNING, logger="heatflow"):
        orch = heatflow.Orchestrator(db_url)
    try:
        assert "not resuming the CREATE of stack s: it needs the plugin " \
            "of Test::Thing" in caplog.text
        row = orch.db.store.find_stack("s")
        time.sleep(0.5)
        assert orch.get_stack("s").stack_status == "CREATE_IN_PROGRESS"
        assert created() == ["a", "b"]
        # once the plugin is registered, the orphan is resumed
        orch.register_plugin("Test::Thing", cloud.Thing)
        assert orch.resume_orphans() == ["s"]
        stack = heatflow.api.Operation(orch, row.id, row.traversal,
                                       "CREATE").wait(60)
        assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
        assert created() == ["a", "b", "c"]
    finally:
        orch.close()


def test_a_failed_create_is_cleared_before_it_is_created_again(tmp_path):
    """A plugin idempotent by a user-given name makes its resource, then
    fails before recording its id.  The next update creates it again:
    what the failed create made is deleted first (its delete is given the
    properties it was started with) and made anew, so the stack ends with
    exactly one resource under that name, the one it records -- not the
    failed create's adopted, nor a replacement's adopted then deleted by
    clean-up."""
    import uuid

    from heatflow import properties, resource
    cloud = {}                       # name -> physical id

    class Named(resource.Resource):
        properties_schema = {
            "name": properties.Schema(properties.Schema.STRING, "n"),
            "fail": properties.Schema(properties.Schema.BOOLEAN, "f",
                                      default=False, update_allowed=True),
        }

        def handle_create(self):
            name = self.properties["name"]
            physical_id = cloud.setdefault(name, uuid.uuid4().hex)
            if self.properties["fail"]:
                raise exception.HeatflowError("post-create step failed")
            self.resource_id_set(physical_id)

        def handle_delete(self):
            if self.resource_id is None:
                cloud.pop(self.properties["name"], None)    # by name
            elif cloud.get(self.properties["name"]) == self.resource_id:
                del cloud[self.properties["name"]]

    def hot(fail):
        return {"heat_template_version": "2018-08-31",
                "resources": {"r": {"type": "X::Named", "properties": {
                    "name": "k1", "fail": fail}}}}

    with heatflow.Orchestrator("sqlite:///" + str(tmp_path / "n.db")) as orch:
        orch.register_plugin("X::Named", Named)
        assert orch.create_stack("s", hot(True)).wait(30).stack_status == \
            "CREATE_FAILED"
        made = cloud["k1"]
        stack = orch.update_stack("s", hot(False)).wait(30)
        assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
        (row,) = orch.list_resources("s")
        assert list(cloud) == ["k1"] and cloud["k1"] != made
        assert row.physical_resource_id == cloud["k1"]
