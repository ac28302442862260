"""Check, suspend and resume run on conductors like any operation: posted
as a job, fenced, taken over when their conductor dies (against real
ZooKeeper and PostgreSQL, with the test cloud of tests/plugins/cloud.py,
whose things check that their file is still there and journal their
suspends and resumes)."""

import os
import random
import time

import pytest

from tests.functional import cluster as cluster_mod
from tests.functional.test_conductor import (
    chain, check_reality, settle, wait_for)


@pytest.fixture
def cluster(pg_url, zk_hosts, zk_path, zk_client, cloud, tmp_path):
    yield from cluster_mod.running(pg_url, zk_hosts, zk_path, zk_client,
                                   tmp_path)


def paused(cloud, event):
    """The names of the things suspended (or resumed), in journal order."""
    return [j["props"]["name"] for j in cloud.journal()
            if j["event"] == event]


def test_a_check_finds_what_vanished_and_the_update_remakes_it(
        cluster, cloud):
    orch = cluster.orch
    template = chain(delay=0)
    assert orch.create_stack("s", template).wait(60).stack_status == \
        "CREATE_COMPLETE", cluster.logs()
    assert orch.check_stack("s").wait(60).stack_status == "CHECK_COMPLETE"
    # Someone deletes a2 behind the stack's back.
    lost = {r.name: r.physical_resource_id
            for r in orch.list_resources("s")}["a2"]
    os.unlink(os.path.join(cloud.cloud_dir(), lost))
    st = orch.check_stack("s").wait(60)
    assert st.stack_status == "CHECK_FAILED", cluster.logs()
    assert st.status_reason == ("Resource CHECK failed: a2: thing %s is "
                                "gone" % lost)
    got = {r.name: r.resource_status for r in orch.list_resources("s")}
    assert got == {"a0": "CHECK_COMPLETE", "a1": "CHECK_COMPLETE",
                   "a2": "CHECK_FAILED", "a3": "CHECK_COMPLETE"}
    # a3 depends on a2: not checked the second time.
    checked = [c["id"] for c in cloud.calls() if c["event"] == "check"]
    ids = {r.name: r.physical_resource_id for r in orch.list_resources("s")}
    assert [checked.count(ids["a%d" % i]) for i in range(4)] == [2, 2, 2, 1]
    st = orch.update_stack("s", template).wait(60)
    assert st.stack_status == "UPDATE_COMPLETE", cluster.logs()
    check_reality(cluster, cloud, "s", template)


@pytest.mark.parametrize("action, trial", [
    ("suspend", 0), ("suspend", 1), ("resume", 0), ("resume", 1)])
def test_an_action_whose_conductor_dies_is_finished_by_another(
        cluster, cloud, action, trial):
    orch = cluster.orch
    template = chain(delay=0.4)
    orch.create_stack("s", chain(delay=0)).wait(60)
    # (The delay the things take to suspend is the one they were created
    # with, 0: update it in place first.)
    assert orch.update_stack("s", template).wait(60).stack_status == \
        "UPDATE_COMPLETE", cluster.logs()
    if action == "resume":
        assert orch.suspend_stack("s").wait(60).stack_status == \
            "SUSPEND_COMPLETE", cluster.logs()
    getattr(orch, action + "_stack")("s")
    owner = cluster.wait_owner("s")
    store = orch.db.store
    stack_id = store.find_stack("s").id
    wait_for(lambda: paused(cloud, action), what="the first " + action)
    # Somewhere in the four actions (0.4 s each).
    time.sleep(random.Random(trial).uniform(0, 1.2))
    cluster.kill(owner)
    at_kill = store.get_stack_by_id(stack_id)
    assert (at_kill.action, at_kill.status) == (action.upper(),
                                                "IN_PROGRESS")
    cluster.start_conductor()
    final = settle(orch, "s")
    assert final.stack_status == action.upper() + "_COMPLETE", \
        cluster.logs()
    assert store.get_stack_by_id(stack_id).run_token != at_kill.run_token
    # In order, each once: an action in flight was polled to its end by
    # the new run, not started again.
    order = ["a3", "a2", "a1", "a0"]
    assert paused(cloud, action) == (order if action == "suspend"
                                     else order[::-1])
    check_reality(cluster, cloud, "s", template)
