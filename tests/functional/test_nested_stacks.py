"""Nested stacks (issue 19): a template resource (``type: server.yaml``, or
an environment alias to one) and ``OS::Heat::Stack`` make a child stack
that is a real stack, changed only through its parent: created, updated in
place, rolled back and deleted with it, its outputs the resource's
attributes.  The test cloud (tests/plugins/cloud.py) says what exists."""

import json
import time

import pytest
import yaml

from heatflow import exception
from tests.functional.test_conductor import settle

SERVER = {
    "heat_template_version": "2018-08-31",
    "parameters": {"label": {"type": "string"},
                   "size": {"type": "number", "default": 1},
                   "fail": {"type": "boolean", "default": False}},
    "resources": {
        "box": {"type": "Test::Thing",
                "properties": {"name": {"get_param": "label"},
                               "size": {"get_param": "size"},
                               "fail": {"get_param": "fail"}}},
        "disk": {"type": "Test::Thing",
                 "properties": {"name": {"list_join": [
                     "-", [{"get_param": "label"}, "disk"]]},
                     "ref": {"get_resource": "box"}}},
    },
    "outputs": {"box_name": {"value": {"get_attr": ["box", "name"]}},
                "box_id": {"value": {"get_resource": "box"}}},
}


def files(**templates):
    return {name: yaml.safe_dump(t) for name, t in templates.items()}


def parent(label="web", size=1, fail=False, extra=None, kind="server.yaml"):
    resources = {
        "server": {"type": kind,
                   "properties": {"label": label, "size": size,
                                  "fail": fail}},
        "after": {"type": "Test::Thing",
                  "properties": {"name": {"get_attr": ["server",
                                                       "box_name"]}}},
    }
    resources.update(extra or {})
    return {"heat_template_version": "2018-08-31", "resources": resources,
            "outputs": {
                "box": {"value": {"get_attr": ["server", "box_name"]}},
                "disk_ref": {"value": {"get_attr": [
                    "server", "resource.disk.name"]}}}}


def names(cloud):
    return sorted(p["name"] for p in cloud.reality().values())


def child_of(orch, name="s", resource="server"):
    kids = [s for s in orch.list_stacks(nested=True)
            if s.parent == orch.get_stack(name).id and
            s.parent_resource == resource]
    assert len(kids) == 1, kids
    return kids[0]


def test_a_template_resource_is_a_child_stack_created_updated_and_deleted(
        orch, cloud):
    tmpl = parent()
    tmpl["outputs"]["all"] = {"value": {"get_attr": ["server", "outputs"]}}
    stack = orch.create_stack("s", tmpl, files=files(
        **{"server.yaml": SERVER})).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    # The child's outputs are the resource's attributes.
    child = child_of(orch)
    assert stack.outputs.pop("all") == {"box_name": "web",
                                        "box_id": child.outputs["box_id"]}
    assert stack.outputs == {"box": "web", "disk_ref": "web-disk"}
    assert names(cloud) == ["web", "web", "web-disk"]
    assert child.stack_status == "CREATE_COMPLETE"
    # get_resource of the template resource is the child stack's id
    server, = [r for r in orch.list_resources("s") if r.name == "server"]
    assert server.physical_resource_id == child.id
    # A child is also named by its path: parent/resource.
    assert orch.get_stack("s/server").id == child.id
    for missing in ("s/nothing", "nobody/server", "s/server/deeper"):
        with pytest.raises(exception.StackNotFound):
            orch.get_stack(missing)
    # Only the top-level stack is listed by default.
    assert [s.name for s in orch.list_stacks()] == ["s"]

    # The same template again: the child is updated, nothing in it acts.
    made = len(cloud.journal())
    orch.update_stack("s", parent(), files=files(
        **{"server.yaml": SERVER})).wait(60)
    assert [j["event"] for j in cloud.journal()[made:]] == []
    assert child_of(orch).id == child.id

    # A property change flows into the child, updated in place.
    stack = orch.update_stack("s", parent(label="api"), files=files(
        **{"server.yaml": SERVER})).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert stack.outputs == {"box": "api", "disk_ref": "api-disk"}
    assert names(cloud) == ["api", "api", "api-disk"]
    assert child_of(orch).id == child.id
    assert child_of(orch).stack_status == "UPDATE_COMPLETE"

    # A change of the template file itself updates the child too.
    bigger = json.loads(json.dumps(SERVER))
    bigger["resources"]["extra"] = {"type": "Test::Thing",
                                    "properties": {"name": "extra"}}
    stack = orch.update_stack("s", parent(label="api"), files=files(
        **{"server.yaml": bigger})).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert child_of(orch).id == child.id
    assert names(cloud) == ["api", "api", "api-disk", "extra"]

    orch.delete_stack("s").wait(60)
    assert cloud.reality() == {}
    assert orch.list_stacks(nested=True) == []


def test_a_child_changes_only_through_its_parent(orch, cloud):
    orch.create_stack("s", parent(), files=files(
        **{"server.yaml": SERVER})).wait(60)
    child = child_of(orch)
    for attempt in (lambda: orch.update_stack(child.name, SERVER),
                    lambda: orch.delete_stack(child.name),
                    lambda: orch.suspend_stack(child.name),
                    lambda: orch.rollback_stack(child.name),
                    lambda: orch.cancel_update(child.name)):
        with pytest.raises(exception.ActionNotAllowed) as info:
            attempt()
        assert "changes only through its parent" in str(info.value)
    assert child_of(orch).stack_status == "CREATE_COMPLETE"
    assert names(cloud) == ["web", "web", "web-disk"]


def test_a_failed_child_update_is_rolled_back_with_its_parent(orch, cloud):
    orch.create_stack("s", parent(label="good"), disable_rollback=False,
                      files=files(**{"server.yaml": SERVER})).wait(60)
    # The child's box refuses its update: the parent's update fails and
    # rolls back, which updates the child back to what it was.
    stack = orch.update_stack("s", parent(label="bad", fail=True),
                              files=files(**{"server.yaml": SERVER})
                              ).wait(60)
    assert stack.stack_status == "ROLLBACK_COMPLETE", stack.status_reason
    assert stack.outputs["box"] == "good"
    assert names(cloud) == ["good", "good", "good-disk"]
    assert child_of(orch).stack_status in ("UPDATE_COMPLETE",
                                           "ROLLBACK_COMPLETE")


MIDDLE = {
    "heat_template_version": "2018-08-31",
    "parameters": {"label": {"type": "string"},
                   "size": {"type": "number", "default": 1},
                   "fail": {"type": "boolean", "default": False}},
    "resources": {
        "edge": {"type": "Test::Thing", "properties": {
            "name": {"list_join": ["-", [{"get_param": "label"}, "edge"]]}}},
        "server": {"type": "server.yaml", "properties": {
            "label": {"get_param": "label"}, "size": {"get_param": "size"},
            "fail": {"get_param": "fail"}}},
    },
    "outputs": {"box_name": {"value": {"get_attr": ["server", "box_name"]}}},
}


def test_a_failure_in_a_grandchild_rolls_the_tree_back(orch, cloud):
    tree_files = files(**{"middle.yaml": MIDDLE, "server.yaml": SERVER})
    orch.create_stack("s", parent(label="good", kind="middle.yaml"),
                      disable_rollback=False, files=tree_files).wait(60)
    assert names(cloud) == ["good", "good", "good-disk", "good-edge"]
    # The grandchild's box refuses the update: the grandchild, the child
    # and the top fail in turn, and the top's rollback takes the whole
    # tree back to the last good one.
    stack = orch.update_stack("s", parent(label="bad", fail=True,
                                          kind="middle.yaml"),
                              files=tree_files).wait(60)
    assert stack.stack_status == "ROLLBACK_COMPLETE", stack.status_reason
    assert "refused to be updated" in " ".join(
        e.reason for e in orch.list_events("s", nested_depth=2))
    assert names(cloud) == ["good", "good", "good-disk", "good-edge"]
    assert stack.outputs["box"] == "good"
    assert len(orch.list_stacks(nested=True)) == 3
    orch.delete_stack("s").wait(60)
    assert cloud.reality() == {} and orch.list_stacks(nested=True) == []


def test_a_failed_child_create_fails_its_parent_with_the_childs_reason(
        orch, cloud):
    stack = orch.create_stack("s", parent(fail=True), files=files(
        **{"server.yaml": SERVER})).wait(60)
    assert stack.stack_status == "CREATE_FAILED"
    assert "refused to be created" in stack.status_reason
    orch.delete_stack("s").wait(60)
    assert cloud.reality() == {}
    assert orch.list_stacks(nested=True) == []


def test_a_rolled_back_create_deletes_the_child_it_made(orch, cloud):
    broken = parent(extra={"bad": {"type": "Test::Thing", "properties": {
        "name": "bad", "fail": True,
        "ref": {"get_attr": ["server", "box_name"]}}}})
    stack = orch.create_stack("s", broken, disable_rollback=False,
                              files=files(**{"server.yaml": SERVER})
                              ).wait(60)
    assert stack.stack_status == "ROLLBACK_COMPLETE", stack.status_reason
    assert cloud.reality() == {}
    assert [s.name for s in orch.list_stacks(nested=True)] == ["s"]


def test_starting_a_child_again_finds_the_one_started(orch, cloud):
    """A parent action started again after a crash between creating its
    child and recording the child's id gets the same child."""
    orch.create_stack("s", parent(), files=files(
        **{"server.yaml": SERVER})).wait(60)
    child = child_of(orch)
    again = orch.runtime.child_stacks.create(
        owner_id=orch.get_stack("s").id, parent_resource="server",
        name=child.name, template=SERVER, files={}, environment={},
        timeout_mins=None, context=None)
    assert again.stack_id == child.id
    assert len(orch.list_stacks(nested=True)) == 2
    # Another resource's child of that name is not it: refused.
    with pytest.raises(exception.StackExists):
        orch.runtime.child_stacks.create(
            owner_id=orch.get_stack("s").id, parent_resource="after",
            name=child.name, template=SERVER, files={},
            environment={"parameters": {"label": "x"}}, timeout_mins=None,
            context=None)


def test_a_timed_out_nested_resource_cancels_its_childs_create(orch,
                                                               cloud):
    tmpl = parent()
    tmpl["resources"]["server"]["timeout"] = 1
    stack = orch.create_stack("s", tmpl, files=files(
        **{"server.yaml": slow_server(5)})).wait(60)
    assert stack.stack_status == "CREATE_FAILED"
    assert "timed out after 1 s" in stack.status_reason
    # The child's create was stopped where it was, not left running.
    child = child_of(orch)
    assert child.stack_status == "CREATE_FAILED", child.status_reason
    assert "cancelled" in child.status_reason
    orch.delete_stack("s").wait(60)
    assert cloud.reality() == {}
    assert orch.list_stacks(nested=True) == []


@pytest.mark.parametrize("rollback", [False, True, "explicit"])
def test_cancelling_the_parent_cancels_its_running_child(orch, cloud,
                                                         rollback):
    orch.create_stack("s", parent(label="a"), disable_rollback=False,
                      files=files(**{"server.yaml": SERVER})).wait(60)
    orch.update_stack("s", parent(label="b"), files=files(
        **{"server.yaml": slow_server(3)}))
    deadline = time.time() + 30
    while child_of(orch).action != "UPDATE" and time.time() < deadline:
        time.sleep(0.01)
    if rollback == "explicit":
        orch.rollback_stack("s")
    else:
        orch.cancel_update("s", rollback=rollback)
    stack = settle(orch, "s")
    # The child's update stopped where it was: its disk, which waits for
    # the box's 3 s update, was never updated (without the child's cancel
    # the parent's action would have waited for all of it).
    assert not [j for j in cloud.journal()
                if (j.get("props") or {}).get("name") == "b-disk"]
    if rollback:
        assert stack.stack_status == "ROLLBACK_COMPLETE", stack.status_reason
        assert names(cloud) == ["a", "a", "a-disk"]
    else:
        assert stack.stack_status == "UPDATE_FAILED", stack.status_reason
        assert "cancelled" in child_of(orch).status_reason


def test_check_suspend_and_resume_reach_the_child(orch, cloud):
    orch.create_stack("s", parent(), files=files(
        **{"server.yaml": SERVER})).wait(60)
    for act, done in ((orch.check_stack, "CHECK_COMPLETE"),
                      (orch.suspend_stack, "SUSPEND_COMPLETE"),
                      (orch.resume_stack, "RESUME_COMPLETE")):
        stack = act("s").wait(60)
        assert stack.stack_status == done, stack.status_reason
        assert child_of(orch).stack_status == done


def test_resources_are_counted_over_the_whole_tree(db_url, cloud):
    import heatflow
    from heatflow.template import Limits
    orch = heatflow.Orchestrator(db_url, poll_interval=(0.005, 0.05),
                                 limits=Limits(max_resources=5))
    orch.register_plugin("Test::Thing", cloud.Thing)
    try:
        # 2 here and 2 in the child: within 5.
        stack = orch.create_stack("s", parent(), files=files(
            **{"server.yaml": SERVER})).wait(60)
        assert stack.stack_status == "CREATE_COMPLETE"
        # 2 here and 4 in the child: over.
        bigger = json.loads(json.dumps(SERVER))
        for extra in ("e1", "e2"):
            bigger["resources"][extra] = {"type": "Test::Thing"}
        stack = orch.update_stack("s", parent(), files=files(
            **{"server.yaml": bigger})).wait(60)
        assert stack.stack_status == "UPDATE_FAILED"
        assert "6 resources, over the limit of 5 (max_resources)" in \
            stack.status_reason
        assert names(cloud) == ["web", "web", "web-disk"]
    finally:
        orch.close()


def test_a_failed_nested_resource_is_updated_not_replaced(orch, cloud):
    stack = orch.create_stack("s", parent(fail=True), files=files(
        **{"server.yaml": SERVER})).wait(60)
    assert stack.stack_status == "CREATE_FAILED"
    child = child_of(orch)
    stack = orch.update_stack("s", parent(), files=files(
        **{"server.yaml": SERVER})).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    # The same child, its failed box replaced inside it (Heat's rule for a
    # failed plain resource), the rest kept.
    assert child_of(orch).id == child.id
    assert names(cloud) == ["web", "web", "web-disk"]


FACADE_CHILD = {
    "heat_template_version": "2018-08-31",
    "resources": {"t": {"type": "Test::Thing", "properties": {
        "name": {"get_param": "OS::stack_name"},
        "ref": {"resource_facade": "metadata"}}}},
    "outputs": {"policy": {"value": {"resource_facade": "deletion_policy"}},
                "update": {"value": {"resource_facade": "update_policy"}}},
}


def test_resource_facade_reads_the_parent_resource(orch, cloud):
    def tmpl(role):
        outputs = {key: {"value": {"get_attr": ["web", key]}}
                   for key in ("policy", "update")}
        return {"heat_template_version": "2018-08-31", "resources": {
            "web": {"type": "facade.yaml", "metadata": {"role": role},
                    "update_policy": {"batch": 1}}}, "outputs": outputs}
    tree_files = files(**{"facade.yaml": FACADE_CHILD})
    stack = orch.create_stack("s", tmpl("web"), files=tree_files).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    assert stack.outputs == {"policy": "Delete", "update": {"batch": 1}}
    thing, = cloud.reality().values()
    assert thing["ref"] == {"role": "web"}
    # The parent's metadata changes: the child sees the new facade.
    stack = orch.update_stack("s", tmpl("db"), files=tree_files).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    thing, = cloud.reality().values()
    assert thing["ref"] == {"role": "db"}
    # A top-level stack has no facade: said, naming the place.
    with pytest.raises(exception.StackValidationFailed) as info:
        orch.create_stack("top", FACADE_CHILD)
    assert "resources.t.properties.ref.resource_facade" in str(info.value)
    assert "only a nested stack" in str(info.value)


def test_os_heat_stack_and_an_environment_alias_nest_too(orch, cloud):
    inner = {"heat_template_version": "2018-08-31",
             "parameters": {"n": {"type": "string"}},
             "resources": {"t": {"type": "Test::Thing",
                                 "properties": {"name": {"get_param": "n"}}}},
             "outputs": {"n": {"value": {"get_attr": ["t", "name"]}}}}
    tmpl = {"heat_template_version": "2018-08-31", "resources": {
        "stack": {"type": "OS::Heat::Stack", "properties": {
            "template": {"get_file": "inner.yaml"},
            "parameters": {"n": "via-stack"}}},
        "aliased": {"type": "My::Inner", "properties": {"n": "via-alias"}}},
        "outputs": {"a": {"value": {"get_attr": ["stack", "outputs", "n"]}},
                    "b": {"value": {"get_attr": ["aliased", "n"]}}}}
    stack = orch.create_stack(
        "s", tmpl, files=files(**{"inner.yaml": inner}),
        environment={"resource_registry": {"My::Inner": "inner.yaml"}}
    ).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    assert stack.outputs == {"a": "via-stack", "b": "via-alias"}
    assert names(cloud) == ["via-alias", "via-stack"]
    orch.delete_stack("s").wait(60)
    assert cloud.reality() == {} and orch.list_stacks(nested=True) == []


def test_parameter_defaults_reach_the_nested_stacks(orch, cloud):
    # size is not given by the parent: the environment's default gives it
    # (a Thing's size is part of what the cloud records).
    tmpl = parent()
    del tmpl["resources"]["server"]["properties"]["size"]
    stack = orch.create_stack(
        "s", tmpl, files=files(**{"server.yaml": SERVER}),
        environment={"parameter_defaults": {"size": 3}}).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    sizes = sorted(p["size"] for p in cloud.reality().values())
    assert sizes == [1, 1, 3]        # box (3), disk and after (1)
    # Kept by an update of the existing stack (Heat's PATCH); a full
    # update without them drops them, as in Heat.
    orch.update_stack("s", existing=True).wait(60)
    assert sorted(p["size"] for p in cloud.reality().values()) == [1, 1, 3]
    orch.update_stack("s", tmpl, files=files(
        **{"server.yaml": SERVER})).wait(60)
    assert sorted(p["size"] for p in cloud.reality().values()) == [1, 1, 1]


def _nesting(name, child):
    return {"heat_template_version": "2018-08-31",
            "resources": {"r": {"type": child}}}


def test_a_cycle_of_template_files_is_refused_before_anything_is_written(
        orch, cloud):
    with pytest.raises(exception.StackValidationFailed) as info:
        orch.create_stack("s", _nesting("top", "a.yaml"), files=files(**{
            "a.yaml": _nesting("a", "b.yaml"),
            "b.yaml": _nesting("b", "a.yaml")}))
    assert "a.yaml -> b.yaml -> a.yaml" in str(info.value)
    assert orch.list_stacks(nested=True) == []


def test_nesting_deeper_than_the_limit_is_refused(orch, cloud):
    chain = {"f%d.yaml" % i: _nesting("f%d" % i, "f%d.yaml" % (i + 1))
             for i in range(6)}
    chain["f6.yaml"] = {"heat_template_version": "2018-08-31"}
    with pytest.raises(exception.RequestLimitExceeded) as info:
        orch.create_stack("s", _nesting("top", "f0.yaml"),
                          files=files(**chain))
    assert "max_nested_stack_depth" in str(info.value)
    assert orch.list_stacks(nested=True) == []
    # Five levels below the top are allowed (Heat's default).
    del chain["f5.yaml"]
    chain["f4.yaml"] = {"heat_template_version": "2018-08-31"}
    stack = orch.create_stack("s", _nesting("top", "f0.yaml"),
                              files=files(**chain)).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    assert len(orch.list_stacks(nested=True)) == 6


def test_os_heat_stack_nested_past_the_limit_fails_where_it_would_go_deeper(
        orch, cloud):
    # A template given as a property is only known when its resource acts:
    # the sixth level below the top is refused, the tree failing up to it.
    levels = {"l6.yaml": {"heat_template_version": "2018-08-31"}}
    for i in range(5, -1, -1):
        levels["l%d.yaml" % i] = {
            "heat_template_version": "2018-08-31", "resources": {"s": {
                "type": "OS::Heat::Stack",
                "properties": {"template": {
                    "get_file": "l%d.yaml" % (i + 1)}}}}}
    stack = orch.create_stack("s", levels["l0.yaml"],
                              files=files(**levels)).wait(60)
    assert stack.stack_status == "CREATE_FAILED"
    assert "max_nested_stack_depth" in " ".join(
        e.reason for e in orch.list_events("s", nested_depth=5))


@pytest.mark.parametrize("kind,message", [
    ("http://example.com/server.yaml", "fetches nothing"),
    ("missing.yaml", "not in the files map"),
])
def test_a_template_type_that_cannot_be_read_is_refused(orch, cloud, kind,
                                                        message):
    with pytest.raises(exception.StackValidationFailed) as info:
        orch.create_stack("s", parent(kind=kind), files=files(
            **{"server.yaml": SERVER}))
    assert message in str(info.value)
    assert "resources.server" in str(info.value)
    assert orch.list_stacks(nested=True) == []


def test_the_command_line_reads_nested_templates_beside_the_template(
        run, tmp_path, cloud):
    (tmp_path / "server.yaml").write_text(yaml.safe_dump(SERVER))
    (tmp_path / "top.yaml").write_text(yaml.safe_dump(parent()))
    plugin = "--plugin-dir=" + __import__("tests").conftest.PLUGIN_DIR
    code, out, err = run("stack", "create", "s", "-t",
                         str(tmp_path / "top.yaml"), "--wait", plugin)
    assert code == 0, err
    code, out, err = run("-f", "json", "stack", "list", "--nested", plugin)
    listed = json.loads(out)
    top, = [s for s in listed if s["name"] == "s"]
    child, = [s for s in listed if s["parent"] == top["id"]]
    code, out, err = run("stack", "delete", "-y", child["name"], plugin)
    assert code == 1 and "changes only through its parent" in err
    # --nested-depth lists the child's resources and events with the
    # parent's, each naming its stack.
    code, out, err = run("-f", "json", "stack", "resource", "list", "s",
                         "--nested-depth", "1", plugin)
    assert code == 0, err
    assert sorted((r["stack_name"], r["name"]) for r in json.loads(out)) \
        == sorted([("s", "server"), ("s", "after"),
                   (child["name"], "box"), (child["name"], "disk")])
    code, out, err = run("-f", "json", "stack", "resource", "list", "s",
                         plugin)
    assert sorted(r["name"] for r in json.loads(out)) == ["after", "server"]
    code, out, err = run("-f", "json", "stack", "event", "list", "s",
                         "--nested-depth", "1", plugin)
    events = json.loads(out)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert ("disk", child["name"]) in {(e["resource_name"], e["stack_name"])
                                       for e in events}
    code, out, err = run("stack", "event", "list", "s", "--nested-depth",
                         "-1", plugin)
    assert code == 2 and "0 or more" in err
    assert names(cloud) == ["web", "web", "web-disk"]


def slow_server(seconds=0.5):
    slow = json.loads(json.dumps(SERVER))
    for res in slow["resources"].values():
        res["properties"]["delay"] = seconds
    return slow


def test_an_update_superseding_a_running_nested_update_settles_on_the_last(
        orch, cloud):
    tmpl_files = files(**{"server.yaml": slow_server()})
    orch.create_stack("s", parent(label="a"), files=tmpl_files).wait(60)
    child = child_of(orch)
    orch.update_stack("s", parent(label="b"), files=tmpl_files)
    settle_child = time.time() + 30
    while child_of(orch).action != "UPDATE" and \
            time.time() < settle_child:
        time.sleep(0.01)
    # The child's update to b is under way; c supersedes it.
    stack = orch.update_stack("s", parent(label="c"),
                              files=tmpl_files).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert stack.outputs == {"box": "c", "disk_ref": "c-disk"}
    assert names(cloud) == ["c", "c", "c-disk"]
    assert child_of(orch).id == child.id
    assert child_of(orch).stack_status == "UPDATE_COMPLETE"


KILLED_CREATE = """
import json, sys, time
import heatflow
orch = heatflow.Orchestrator(sys.argv[1], plugin_dirs=[sys.argv[2]])
orch.create_stack("s", json.loads(sys.argv[3]),
                  files=json.loads(sys.argv[4]))
time.sleep(600)
"""


# (bounded: a child nobody resumes leaves its parent polling for ever)
@pytest.mark.timeout(120)
def test_a_process_killed_mid_child_create_is_resumed_with_its_tree(
        db_url, cloud):
    import heatflow
    from tests import conftest
    from tests.functional.test_resume import _killed_when
    tmpl_files = files(**{"server.yaml": slow_server()})
    # Killed once the child's first thing exists, its create unfinished.
    _killed_when(lambda: [j["event"] for j in cloud.journal()
                          ].count("create") >= 1,
                 KILLED_CREATE, db_url, conftest.PLUGIN_DIR,
                 json.dumps(parent()), json.dumps(tmpl_files))
    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR],
                                 poll_interval=(0.005, 0.05))
    try:
        # Resumed by the open: the parent and its child.
        stack = settle(orch, "s")
        assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
        assert names(cloud) == ["web", "web", "web-disk"]
        assert child_of(orch).stack_status == "CREATE_COMPLETE"
    finally:
        orch.close()


def test_the_readme_example_tree_runs(run):
    import os
    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                        "templates", "tree.yaml")
    code, out, err = run("stack", "create", "tree", "-t", path, "--wait")
    assert code == 0, err
    code, out, err = run("-f", "json", "stack", "list", "--nested")
    assert len(json.loads(out)) == 3
    code, out, err = run("-f", "json", "stack", "output", "show", "tree",
                         "names")
    front, back = json.loads(out)["output_value"]
    assert front.startswith("front-") and back.startswith("back-")
    code, out, err = run("-f", "json", "stack", "show", "tree/front")
    assert json.loads(out)["parent_resource"] == "front"
    code, out, err = run("stack", "delete", "tree", "--wait", "-y")
    assert code == 0, err
    code, out, err = run("-f", "json", "stack", "list", "--nested")
    assert json.loads(out) == []
