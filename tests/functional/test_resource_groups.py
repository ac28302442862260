"""OS::Heat::ResourceGroup and OS::Heat::ResourceChain end to end: real
stacks on the embedded default, members of the test cloud's Test::Thing
(tests/plugins/cloud.py) so that what exists outside the stack is seen."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import time

import pytest

import heatflow
from heatflow import exception
from tests import conftest


def hot(resources, outputs=None):
    t = {"heat_template_version": "2018-08-31", "resources": resources}
    if outputs:
        t["outputs"] = {k: {"value": v} for k, v in outputs.items()}
    return t


def group(count, name="web-%index%", **props):
    props.update(count=count, resource_def={
        "type": "Test::Thing", "properties": {"name": name}})
    return {"type": "OS::Heat::ResourceGroup", "properties": props}


OUTPUTS = {
    "refs": {"get_attr": ["g", "refs"]},
    "refs_map": {"get_attr": ["g", "refs_map"]},
    "names": {"get_attr": ["g", "name"]},
    "by_member": {"get_attr": ["g", "attributes", "name"]},
    "first": {"get_attr": ["g", "resource.0"]},
    "first_name": {"get_attr": ["g", "resource.0.name"]},
    "removed": {"get_attr": ["g", "removed_rsrc_list"]},
}


def settled(operation, status):
    """The stack once ``operation`` has settled, in ``status``."""
    stack = operation.wait(60)
    assert stack.stack_status == status, stack.status_reason
    return stack


def create(orch, template, status="CREATE_COMPLETE", **kwargs):
    return settled(orch.create_stack("s", template, **kwargs), status)


def update(orch, template, status="UPDATE_COMPLETE", **kwargs):
    return settled(orch.update_stack("s", template, **kwargs), status)


def deleted_without_a_trace(orch, cloud):
    settled(orch.delete_stack("s"), "DELETE_COMPLETE")
    assert cloud.reality() == {}


def living(cloud):
    """{physical id: name} of the things that exist."""
    return {pid: props["name"] for pid, props in cloud.reality().items()}


def child_of(orch, stack, resource):
    ref = {r.name: r for r in orch.list_resources(stack)}[resource]
    return ref.physical_resource_id


def test_group_create_scale_up_scale_down_and_delete(orch, cloud):
    stack = create(orch, hot({"g": group(3)}, OUTPUTS))
    out = stack.outputs
    assert sorted(living(cloud).values()) == ["web-0", "web-1", "web-2"]
    assert sorted(out["refs"]) == sorted(living(cloud))
    assert out["refs_map"] == {n: out["refs"][int(n)] for n in "012"}
    assert out["names"] == ["web-0", "web-1", "web-2"]
    assert out["by_member"] == {"0": "web-0", "1": "web-1", "2": "web-2"}
    assert out["first"] == out["refs"][0]
    assert out["first_name"] == "web-0"
    assert out["removed"] == []

    # Up: the members there are left alone, two are added.
    stack = update(orch, hot({"g": group(5)}, OUTPUTS))
    assert stack.outputs["refs"][:3] == out["refs"]
    assert stack.outputs["names"] == ["web-%d" % i for i in range(5)]
    assert len(living(cloud)) == 5

    # Down, removing member 1 by name and member 3 by reference id: the
    # others keep theirs, and the removed names are not used again.
    refs = stack.outputs["refs"]
    policies = [{"resource_list": ["1", refs[3]]}]
    stack = update(orch, hot({"g": group(3, removal_policies=policies)},
                             OUTPUTS))
    out = stack.outputs
    assert out["refs_map"] == {"0": refs[0], "2": refs[2], "4": refs[4]}
    assert out["names"] == ["web-0", "web-2", "web-4"]
    assert out["removed"] == ["1", "3"]
    assert sorted(living(cloud)) == sorted([refs[0], refs[2], refs[4]])

    # Up again: new names, never 1 or 3.
    stack = update(orch, hot({"g": group(4)}, OUTPUTS))
    assert sorted(stack.outputs["refs_map"]) == ["0", "2", "4", "5"]
    assert stack.outputs["removed"] == ["1", "3"]

    # update mode: only what the policies name now stays removed.
    stack = update(orch, hot({"g": group(
        4, removal_policies_mode="update")}, OUTPUTS))
    assert stack.outputs["removed"] == []
    assert sorted(stack.outputs["refs_map"]) == ["0", "1", "2", "3"]
    assert len(living(cloud)) == 4

    deleted_without_a_trace(orch, cloud)


def test_removal_by_reference_id_when_nothing_reads_the_group(orch, cloud):
    """Without refs read, the child has no refs_map output: the member a
    reference id names is found among the child's resources."""
    create(orch, hot({"g": group(3)}))
    child = orch.db.store.get_stack_by_id(child_of(orch, "s", "g"))
    ids = {r.name: r.physical_resource_id
           for r in orch.list_resources(child.name)}
    update(orch, hot({"g": group(2, removal_policies=[
        {"resource_list": [ids["1"]]}])}))
    assert living(cloud) == {ids["0"]: "web-0", ids["2"]: "web-2"}


def test_a_changed_definition_updates_the_members_in_place(orch, cloud):
    stack = create(orch, hot({"g": group(2)}, OUTPUTS))
    refs = stack.outputs["refs"]
    stack = update(orch, hot({"g": group(2, name="db-%index%")}, OUTPUTS))
    # The group and its members are updated, not replaced.
    assert stack.outputs["refs"] == refs
    assert stack.outputs["names"] == ["db-0", "db-1"]
    assert living(cloud) == {refs[0]: "db-0", refs[1]: "db-1"}


def test_a_new_read_of_the_group_in_an_update(orch, cloud):
    create(orch, hot({"g": group(2)}))
    stack = update(orch, hot({"g": group(2)}, {
        "names": {"get_attr": ["g", "name"]},
        "sizes": {"get_attr": ["g", "attributes", "size"]}}))
    assert stack.outputs == {"names": ["web-0", "web-1"],
                             "sizes": {"0": 1, "1": 1}}


def test_member_attributes_feed_other_resources(orch, cloud):
    t = hot({"g": group(2),
             "user": {"type": "Test::Thing", "properties": {
                 "name": "user", "ref": {"get_attr": ["g", "refs"]}}}})
    create(orch, t)
    things = cloud.reality()
    user = [p for p in things.values() if p["name"] == "user"][0]
    assert sorted(user["ref"]) == sorted(
        pid for pid, p in things.items() if p["name"] != "user")


def test_a_failing_member_fails_the_group(orch, cloud):
    t = hot({"g": {"type": "OS::Heat::ResourceGroup", "properties": {
        "count": 2, "resource_def": {"type": "Test::Thing", "properties": {
            "name": "x", "fail": True}}}}})
    stack = create(orch, t, status="CREATE_FAILED", disable_rollback=True)
    assert "refused to be created" in stack.status_reason
    deleted_without_a_trace(orch, cloud)


def test_bad_group_definitions_are_refused_naming_the_place(orch, cloud):
    bad_policy = dict(group(1), update_policy={
        "rolling_update": {"pause_time": 4000}})
    with pytest.raises(exception.StackValidationFailed) as info:
        orch.create_stack("s", hot({"g": bad_policy}))
    assert str(info.value).startswith(
        "resources.g.update_policy.rolling_update.pause_time")
    bare = hot({"g": group(1)}, {"x": {"get_attr": ["g", "attributes"]}})
    with pytest.raises(exception.StackValidationFailed) as info:
        orch.create_stack("s", bare)
    assert str(info.value).startswith("outputs.x.value.get_attr")
    assert orch.list_stacks() == []
    assert cloud.reality() == {}


def test_pauses_longer_than_the_timeout_fail_before_any_member(orch, cloud):
    g = dict(group(3), update_policy={"batch_create": {
        "max_batch_size": 1, "pause_time": 30}})
    stack = create(orch, hot({"g": g}), status="CREATE_FAILED",
                   timeout_mins=1)
    assert "(3 batches, 30 s apart) would outlast the stack's timeout " \
        "(60 s)" in stack.status_reason
    assert cloud.reality() == {}


def test_chain_creates_in_order_and_deletes_in_reverse(orch, cloud):
    t = hot({"c": {"type": "OS::Heat::ResourceChain", "properties": {
        "resources": ["Test::Thing"] * 3,
        "resource_properties": {"name": "link"}}}},
        {"refs": {"get_attr": ["c", "refs"]},
         "names": {"get_attr": ["c", "name"]},
         "by_member": {"get_attr": ["c", "attributes", "name"]},
         "last": {"get_attr": ["c", "resource.2"]}})
    stack = create(orch, t)
    out = stack.outputs
    assert out["names"] == ["link"] * 3
    assert out["by_member"] == {"0": "link", "1": "link", "2": "link"}
    assert out["last"] == out["refs"][2]
    created = [j["id"] for j in cloud.journal() if j["event"] == "create"]
    assert created == out["refs"]

    t["resources"]["c"]["properties"]["resources"] = ["Test::Thing"] * 2
    stack = update(orch, t)
    assert stack.outputs["refs"] == out["refs"][:2]
    # Member 2 is gone: the output reading it is null, the chain fine.
    assert stack.outputs["last"] is None
    assert sorted(cloud.reality()) == sorted(out["refs"][:2])

    stack = settled(orch.delete_stack("s"), "DELETE_COMPLETE")
    deleted = [j["id"] for j in cloud.journal() if j["event"] == "delete"]
    assert deleted == [out["refs"][2], out["refs"][1], out["refs"][0]]
    assert cloud.reality() == {}


MEMBER = """
heat_template_version: 2018-08-31
parameters:
  label: {type: string}
resources:
  thing:
    type: Test::Thing
    properties: {name: {get_param: label}}
outputs:
  label: {value: {get_attr: [thing, name]}}
"""


def test_members_made_from_a_template_file(orch, cloud):
    g = {"type": "OS::Heat::ResourceGroup", "properties": {
        "count": 2, "resource_def": {"type": "member.yaml", "properties": {
            "label": "m-%index%"}}}}
    t = hot({"g": g}, {"labels": {"get_attr": ["g", "label"]}})
    stack = create(orch, t, files={"member.yaml": MEMBER})
    assert stack.outputs == {"labels": ["m-0", "m-1"]}
    assert sorted(living(cloud).values()) == ["m-0", "m-1"]
    deleted_without_a_trace(orch, cloud)


def test_a_failed_scale_up_rolls_back_to_the_last_good_group(orch, cloud):
    stack = create(orch, hot({"g": group(2)}, OUTPUTS))
    refs = stack.outputs["refs"]
    # The new member's first create attempt fails (the two there are
    # updated in place, fail_first is not checked on update).
    bad = group(3)
    bad["properties"]["resource_def"]["properties"]["fail_first"] = 1
    stack = update(orch, hot({"g": bad}, OUTPUTS), disable_rollback=False,
                   status="ROLLBACK_COMPLETE")
    assert stack.outputs["refs"] == refs
    assert stack.outputs["names"] == ["web-0", "web-1"]
    assert living(cloud) == {refs[0]: "web-0", refs[1]: "web-1"}
    attempts = [j["id"] for j in cloud.journal() if j["event"] == "attempt"]
    assert sorted(attempts) == ["web-0", "web-1", "web-2"]


def batches_of(events, pause):
    """The journal's events split where ``pause`` seconds or more passed
    between two of them: the names in each batch."""
    out, last = [], None
    for event in events:
        if last is None or event["time"] - last >= pause:
            out.append(set())
        out[-1].add(event["props"]["name"])
        last = event["time"]
    return out


def test_batch_create(orch, cloud):
    g = dict(group(5), update_policy={"batch_create": {
        "max_batch_size": 2, "pause_time": 0.5}})
    stack = create(orch, hot({"g": g}, OUTPUTS))
    assert stack.outputs["names"] == ["web-%d" % i for i in range(5)]
    creates = [j for j in cloud.journal() if j["event"] == "create"]
    assert batches_of(creates, 0.5) == [
        {"web-0", "web-1"}, {"web-2", "web-3"}, {"web-4"}]


def rolled(orch, count, policy):
    """A group of ``count`` members rolled to a new name with ``policy``:
    the members' reference ids (the same before and after: the members
    are updated in place)."""
    refs = create(orch, hot({"g": group(count)}, OUTPUTS)).outputs["refs"]
    g = dict(group(count, name="v2-%index%"),
             update_policy={"rolling_update": policy})
    stack = update(orch, hot({"g": g}, OUTPUTS))
    assert stack.outputs["names"] == ["v2-%d" % i for i in range(count)]
    assert stack.outputs["refs"] == refs
    return refs


def test_rolling_update(orch, cloud):
    rolled(orch, 4, {"max_batch_size": 2, "pause_time": 0.5})
    # The highest names first, two at a time.
    updates = [j for j in cloud.journal() if j["event"] == "update"]
    assert batches_of(updates, 0.5) == [{"v2-3", "v2-2"}, {"v2-1", "v2-0"}]


def test_rolling_update_keeps_members_in_service(orch, cloud):
    refs = rolled(orch, 2, {"max_batch_size": 1, "min_in_service": 2})
    # A third member kept two in service while each was updated; it is
    # gone again.
    journal = cloud.journal()
    extra = [j["id"] for j in journal if j["event"] == "create"][2:]
    assert len(extra) == 1
    assert [j["id"] for j in journal if j["event"] == "delete"] == extra
    assert sorted(living(cloud)) == sorted(refs)


CORPUS = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / \
    "hot-corpus" / "resource_group"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no HOT corpus here")
def test_the_corpus_groups_run(orch):
    """openstack/heat-templates' ResourceGroup examples that need no
    cloud: created, updated to the same template (nothing is touched: the
    random strings stay), deleted."""
    files = {"random.yaml": (CORPUS / "random.yaml").read_text()}
    text = (CORPUS / "resource_group.yaml").read_text()
    stack = create(orch, text)
    out = stack.outputs
    assert out["all_values"] == [out["resource1_id"], out["resource2_id"]]
    assert out["resource1_value"] == out["resource1_id"]
    assert len(set(out["all_values"])) == 2
    assert update(orch, text).outputs == out
    settled(orch.delete_stack("s"), "DELETE_COMPLETE")

    text = (CORPUS / "resource_group_index_lookup.yaml").read_text()
    stack = create(orch, text, files=files)
    # Each member's length is the list's item at its index.
    assert [len(v) for v in stack.outputs["all_values"]] == [4, 5, 6]
    assert update(orch, text, files=files).outputs == stack.outputs
    settled(orch.delete_stack("s"), "DELETE_COMPLETE")


BATCHED_SCRIPT = textwrap.dedent("""
    import sys, time, json
    import heatflow
    orch = heatflow.Orchestrator(sys.argv[1], plugin_dirs=[sys.argv[2]])
    orch.create_stack("s", json.loads(sys.argv[3]))
    time.sleep(600)
""")


def test_a_batched_create_killed_between_batches_carries_on(db_url, cloud):
    """The process running a batch_create dies after its second batch's
    member is made: the next Orchestrator resumes the group's action,
    which starts the third batch (not the first again)."""
    g = dict(group(3), update_policy={"batch_create": {
        "max_batch_size": 1, "pause_time": 0.5}})
    made = lambda: len([j for j in cloud.journal()  # noqa: E731
                        if j["event"] == "create"])
    proc = subprocess.Popen(
        [sys.executable, "-c", BATCHED_SCRIPT, db_url, conftest.PLUGIN_DIR,
         json.dumps(hot({"g": g}, OUTPUTS))], env=dict(os.environ))
    try:
        deadline = time.time() + 30
        while made() < 2 and time.time() < deadline:
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    assert made() == 2
    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    try:
        stack = settled(heatflow.api.Operation(
            orch, orch.get_stack("s").id,
            orch.db.store.find_stack("s").traversal, "CREATE"),
            "CREATE_COMPLETE")
        assert stack.outputs["names"] == ["web-0", "web-1", "web-2"]
        creates = [j["props"]["name"] for j in cloud.journal()
                   if j["event"] == "create"]
        assert creates == ["web-0", "web-1", "web-2"]
        assert sorted(living(cloud)) == sorted(stack.outputs["refs"])
    finally:
        orch.close()


def test_count_and_definition_from_other_resources(orch, cloud):
    """Values other resources give reach the group once they are known
    (validation sees Heat's placeholders for them)."""
    resources = {
        "n": {"type": "OS::Heat::Value",
              "properties": {"value": 3, "type": "number"}},
        "label": {"type": "OS::Heat::Value",
                  "properties": {"value": "x-%index%"}},
        "g": {"type": "OS::Heat::ResourceGroup", "properties": {
            "count": {"get_attr": ["n", "value"]},
            "resource_def": {"type": "Test::Thing", "properties": {
                "name": {"get_attr": ["label", "value"]}}}}}}
    t = hot(resources, {"names": {"get_attr": ["g", "name"]}})
    assert create(orch, t).outputs == {"names": ["x-0", "x-1", "x-2"]}
