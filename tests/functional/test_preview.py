"""Dry runs: ``Orchestrator.preview_create`` / ``preview_update`` and
``heatflow stack create|update --dry-run``.  A plan is checked against what
the operation then really does, and the database must not change."""

import json

import pytest
import sqlalchemy as sa
import yaml

import heatflow
from heatflow import preview

BASE = {
    "heat_template_version": "2018-08-31",
    "parameters": {
        "secret": {"type": "string", "default": "first-secret-value",
                   "hidden": True},
    },
    "resources": {
        # replaced: length cannot be updated in place
        "rnd": {"type": "OS::Heat::RandomString",
                "properties": {"length": 8}},
        # dependents of rnd: in place (get_attr), in place (get_resource),
        # replaced (a property that cannot be updated), by depends_on only
        "val": {"type": "OS::Heat::Value",
                "properties": {"value": {"get_attr": ["rnd", "value"]}}},
        "ref": {"type": "OS::Heat::Value",
                "properties": {"value": {"get_resource": "rnd"}}},
        "pinned": {"type": "OS::Heat::TestResource",
                   "properties": {"update_replace_value":
                                  {"get_resource": "rnd"}}},
        "after": {"type": "OS::Heat::None", "depends_on": ["rnd"]},
        # updated in place from a hidden parameter
        "sec": {"type": "OS::Heat::TestResource",
                "properties": {"value": {"get_param": "secret"}}},
        "keep": {"type": "OS::Heat::TestResource",
                 "properties": {"value": "same"}},
        "retype": {"type": "OS::Heat::None"},
        "plugin_says": {"type": "OS::Heat::TestResource",
                        "properties": {"value": "a",
                                       "update_replace": True}},
        "old": {"type": "OS::Heat::None"},
    },
}


def _target():
    t = json.loads(json.dumps(BASE))
    res = t["resources"]
    res["rnd"]["properties"]["length"] = 10
    res["keep"]["properties"]["value"] = "same"
    res["retype"]["type"] = "OS::Heat::TestResource"
    res["plugin_says"]["properties"]["value"] = "b"
    del res["old"]
    res["fresh"] = {"type": "OS::Heat::Value",
                    "properties": {"value": {"get_attr": ["keep",
                                                          "output"]}}}
    return t


EXPECTED = {
    "rnd": ("replace", "property length changed and cannot be updated in "
                       "place"),
    "val": ("update", "reference to rnd changes"),
    "ref": ("update", "reference to rnd changes"),
    "pinned": ("replace", "reference to rnd changes: property "
                          "update_replace_value changed and cannot be "
                          "updated in place"),
    "after": ("unchanged", "no change"),
    "sec": ("update", "property value changed"),
    "keep": ("unchanged", "no change"),
    "retype": ("replace", "type changed from OS::Heat::None to "
                          "OS::Heat::TestResource"),
    "plugin_says": ("replace", "the plugin replaces it when value changes"),
    "fresh": ("create", "new resource"),
    "old": ("delete", "removed from the template"),
}


def row_counts(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = [n for n in sa.inspect(conn).get_table_names()
                     if n.startswith("hf_")]
            counts = {n: conn.execute(sa.text(
                "SELECT COUNT(*) FROM %s" % n)).scalar() for n in names}
            # and what the rows say, not only how many
            res = conn.execute(sa.text(
                "SELECT id, action, status, template_id, replaced_by "
                "FROM hf_resources ORDER BY id")).fetchall()
            stacks = conn.execute(sa.text(
                "SELECT id, action, status, traversal, template_id "
                "FROM hf_stacks ORDER BY id")).fetchall()
    finally:
        engine.dispose()
    assert "hf_resources" in counts and "hf_stacks" in counts
    return counts, [tuple(r) for r in res], [tuple(s) for s in stacks]


def by_name(plan):
    return {e["resource_name"]: (e["action"], e["reason"]) for e in plan}


def test_preview_create_plans_only_creates(orch, db_url):
    before = row_counts(db_url)
    plan = orch.preview_create("web", BASE)
    assert [e["resource_name"] for e in plan] == list(BASE["resources"])
    assert all(e["action"] == "create" and e["reason"] == "new resource"
               for e in plan)
    assert plan[0] == {"resource_name": "rnd",
                       "resource_type": "OS::Heat::RandomString",
                       "action": "create", "reason": "new resource"}
    assert row_counts(db_url) == before
    with pytest.raises(heatflow.exception.StackNotFound):
        orch.get_stack("web")


def test_preview_create_of_an_existing_name_fails(orch):
    orch.create_stack("web", BASE).wait()
    with pytest.raises(heatflow.exception.StackExists):
        orch.preview_create("web", BASE)


def test_preview_update_every_kind_then_the_update_agrees(orch, db_url):
    stack = orch.create_stack("web", BASE).wait()
    assert stack.stack_status == "CREATE_COMPLETE"
    before_rows = {r.name: r for r in orch.list_resources("web")}
    counts = row_counts(db_url)

    plan = orch.preview_update("web", _target(),
                               parameters={"secret": "second-secret-value"})
    assert row_counts(db_url) == counts
    assert by_name(plan) == EXPECTED
    # target resources first, removals last
    assert [e["resource_name"] for e in plan][-1] == "old"
    text = json.dumps(plan)
    assert "secret-value" not in text

    # What the engine does agrees with the plan.
    after = orch.update_stack(
        "web", _target(),
        parameters={"secret": "second-secret-value"}).wait()
    assert after.stack_status == "UPDATE_COMPLETE", after.status_reason
    now = {r.name: r for r in orch.list_resources("web")}
    for name, (action, _) in EXPECTED.items():
        old, new = before_rows.get(name), now.get(name)
        if action == "delete":
            assert new is None
        elif action == "create":
            assert old is None and new is not None
        elif action == "replace":
            assert new.physical_resource_id != old.physical_resource_id, name
        elif action == "update":
            assert new.physical_resource_id == old.physical_resource_id
            assert new.action == "UPDATE", name
        else:
            assert new.physical_resource_id == old.physical_resource_id
            assert new.action == old.action == "CREATE", name
    # a second preview of the same update has nothing left to do
    again = orch.preview_update("web", _target(),
                                parameters={"secret": "second-secret-value"})
    assert {e["action"] for e in again} == {"unchanged"}


def test_preview_update_existing_keeps_template_and_parameters(orch):
    orch.create_stack("web", BASE,
                      parameters={"secret": "a-secret"}).wait()
    plan = orch.preview_update("web", existing=True)
    assert {e["action"] for e in plan} == {"unchanged"}
    plan = orch.preview_update("web", existing=True,
                               parameters={"secret": "b-secret"})
    assert by_name(plan)["sec"] == ("update", "property value changed")
    with pytest.raises(heatflow.exception.StackValidationFailed):
        orch.preview_update("web")


def test_a_resource_reading_an_updated_attribute_may_update(orch):
    def template(value):
        resources = {
            "r": {"type": "OS::Heat::TestResource",
                  "properties": {"value": value}},
            "s": {"type": "OS::Heat::Value",
                  "properties": {"value": {"get_attr": ["r", "output"]}}},
            "t": {"type": "OS::Heat::Value",
                  "properties": {"value": {"get_resource": "r"}}}}
        return {"heat_template_version": "2018-08-31",
                "resources": resources,
                "outputs": {"s": {"value": {"get_attr": ["s", "value"]}}}}
    orch.create_stack("web", template("a")).wait()
    plan = by_name(orch.preview_update("web", template("b")))
    assert plan["r"] == ("update", "property value changed")
    # what r's attribute will be after its update only its plugin knows;
    # its reference id does not change with an update in place
    assert plan["s"] == ("may update", "reads r.output")
    assert plan["t"] == ("unchanged", "no change")
    stack = orch.update_stack("web", template("b")).wait()
    assert stack.outputs == {"s": "b"}          # it did update


def _failing(fail, value="v"):
    return {"heat_template_version": "2018-08-31",
            "resources": {
                "broken": {"type": "OS::Heat::TestResource",
                           "properties": {"fail": fail, "value": value}},
                "user": {"type": "OS::Heat::Value",
                         "properties": {"value": {"get_resource":
                                                  "broken"}}}}}


def test_preview_of_a_failed_create(orch, db_url):
    stack = orch.create_stack("web", _failing(True)).wait()
    assert stack.stack_status == "CREATE_FAILED"
    counts = row_counts(db_url)
    plan = by_name(orch.preview_update("web", _failing(False)))
    # nothing was recorded (no physical id): created again in place, after
    # deleting whatever the failed create left, as the engine does
    assert plan["broken"] == ("create", "its create did not complete "
                                        "(CREATE_FAILED)")
    assert plan["user"] == ("create", "not created yet")
    assert row_counts(db_url) == counts


def test_preview_of_a_failed_update_replaces(orch, db_url):
    orch.create_stack("web", _failing(False)).wait()
    first = {r.name: r for r in orch.list_resources("web")}
    stack = orch.update_stack("web", _failing(True, "w")).wait()
    assert stack.stack_status == "UPDATE_FAILED"
    counts = row_counts(db_url)
    plan = by_name(orch.preview_update("web", _failing(False, "w")))
    assert plan["broken"] == ("replace", "failed resource is replaced "
                                         "(UPDATE_FAILED)")
    assert plan["user"] == ("update", "reference to broken changes")
    assert row_counts(db_url) == counts
    stack = orch.update_stack("web", _failing(False, "w")).wait()
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    now = {r.name: r for r in orch.list_resources("web")}
    assert now["broken"].physical_resource_id != \
        first["broken"].physical_resource_id
    assert now["user"].action == "UPDATE"


def _split(fixed, fail):
    """r1 reads a piece of r0's output: a function that works on the real
    value, not on the placeholder of a replacement's."""
    return {"heat_template_version": "2018-08-31",
            "resources": {
                "r0": {"type": "OS::Heat::TestResource",
                       "properties": {"value": "a,b,c,d,e,f",
                                      "update_replace_value": fixed}},
                "r1": {"type": "OS::Heat::TestResource",
                       "properties": {"value": {"str_split": [
                           ",", {"get_attr": ["r0", "output"]}, 5]},
                           "fail": fail}}}}


def test_unresolvable_properties_still_follow_the_state_rules(orch):
    # r1's create failed before making anything: created again, whatever
    # its properties turn out to be once r0's replacement exists.
    stack = orch.create_stack("web", _split("p", True),
                              disable_rollback=True).wait()
    assert stack.stack_status == "CREATE_FAILED"
    plan = by_name(orch.preview_update("web", _split("q", False)))
    assert plan["r0"][0] == "replace"
    assert plan["r1"] == ("create", "its create did not complete "
                                    "(CREATE_FAILED)")
    events = len(orch.list_events("web"))
    stack = orch.update_stack("web", _split("q", False)).wait()
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert ("r1", "CREATE", "COMPLETE") in [
        (e.resource_name, e.action, e.status)
        for e in orch.list_events("web")[events:]]


def test_retained_removal_says_so(orch):
    tmpl = {"heat_template_version": "2018-08-31",
            "resources": {"kept": {"type": "OS::Heat::None",
                                   "deletion_policy": "Retain"},
                          "other": {"type": "OS::Heat::None"}}}
    orch.create_stack("web", tmpl).wait()
    plan = orch.preview_update("web", {"heat_template_version": "2018-08-31",
                                       "resources": {}})
    assert by_name(plan) == {
        "kept": ("delete", "removed from the template (deletion_policy "
                           "Retain: forgotten, not deleted)"),
        "other": ("delete", "removed from the template")}


def test_placeholders_are_found_in_resolved_values():
    p = preview._placeholder("db", "address")
    assert preview._pending_names({"k": ["x", "url=%s/x" % p]}) == {"db"}
    assert preview._pending_names("plain") == set()


# -- the command line ---------------------------------------------------------


def test_cli_dry_run_in_every_format(run, tmp_path, db_url):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE))
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump(_target()))

    code, out, err = run("-f", "json", "stack", "create", "web", "-t",
                         str(base), "--dry-run")
    assert code == 0, err
    plan = json.loads(out)
    assert len(plan) == len(BASE["resources"])
    assert all(set(e) == {"resource_name", "resource_type", "action",
                          "reason"} and e["action"] == "create"
               for e in plan)
    code, out, err = run("stack", "show", "web")
    assert code == 1 and "not found" in err

    code, out, err = run("stack", "create", "web", "-t", str(base),
                         "--wait")
    assert code == 0, err
    counts = row_counts(db_url)

    args = ("stack", "update", "web", "-t", str(target), "--parameter",
            "secret=second-secret-value", "--dry-run")
    code, out, err = run("-f", "json", *args)
    assert code == 0, err
    assert by_name(json.loads(out)) == EXPECTED

    code, out, err = run("-f", "yaml", *args)
    assert code == 0, err
    assert by_name(yaml.safe_load(out)) == EXPECTED

    code, out, err = run(*args)
    assert code == 0, err
    lines = out.splitlines()
    assert [c.strip() for c in lines[1].split("|")[1:-1]] == [
        "resource_name", "resource_type", "action", "reason"]
    rows = {c[0]: c[1:] for c in (
        [x.strip() for x in line.split("|")[1:-1]]
        for line in lines if line.startswith("| ")) if c[0] in EXPECTED}
    assert rows["rnd"][:2] == ["OS::Heat::RandomString", "replace"]
    assert rows["old"][1] == "delete"
    assert rows["keep"][1] == "unchanged"
    assert "Dry run: nothing was changed." in out
    assert "secret-value" not in out + err

    # --existing without a template
    code, out, err = run("-f", "json", "stack", "update", "web",
                         "--existing", "--dry-run")
    assert code == 0, err
    assert {e["action"] for e in json.loads(out)} == {"unchanged"}

    assert row_counts(db_url) == counts
    code, out, err = run("-f", "json", "stack", "show", "web")
    assert json.loads(out)["stack_status"] == "CREATE_COMPLETE"


def test_a_dry_run_of_the_same_template_keeps_a_template_resource(orch):
    # A template resource's class is built each time its file is bound:
    # the dry run took the new one for another plugin and planned to
    # replace the nested stack (and to update what refers to it) where the
    # update keeps it (heat-templates' barbican/container_generic.yaml).
    child = {"heat_template_version": "2018-08-31",
             "resources": {"thing": {"type": "OS::Heat::None"}},
             "outputs": {"ref": {"value": {"get_resource": "thing"}}}}
    parent = {"heat_template_version": "2018-08-31",
              "resources": {
                  "nested": {"type": "child.yaml"},
                  "user": {"type": "OS::Heat::Value", "properties": {
                      "value": {"get_resource": "nested"}}}}}
    files = {"child.yaml": yaml.safe_dump(child)}
    orch.create_stack("web", parent, files=files).wait()
    plan = by_name(orch.preview_update("web", parent, files=files))
    # updated: the child is, and each of its resources decides
    assert plan["nested"] == ("update", "its plugin asks for an update (a "
                                        "nested stack always does)")
    assert plan["user"] == ("unchanged", "no change")
    before = {r.name: r.physical_resource_id
              for r in orch.list_resources("web")}
    orch.update_stack("web", parent, files=files).wait()
    assert {r.name: r.physical_resource_id
            for r in orch.list_resources("web")} == before
