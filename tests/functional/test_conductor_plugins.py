"""Conductors without a plugin an operation needs (started without
``--plugin-dir``), as real processes against real ZooKeeper and PostgreSQL:
they leave the job to a conductor that has the plugin, the stack says why
it waits, and the watchdog does not re-post the job (issue 15, bug 3)."""

import os
import signal
import time

import pytest

from tests.functional import cluster as cluster_mod

WAITING = "Waiting for a conductor with the plugin of Test::Thing"


@pytest.fixture
def one_conductor(pg_url, zk_hosts, zk_path, zk_client, cloud, tmp_path):
    """A cluster of one conductor that has the test plugins."""
    yield from cluster_mod.running(pg_url, zk_hosts, zk_path, zk_client,
                                   tmp_path, size=1)


@pytest.fixture
def no_conductor(pg_url, zk_hosts, zk_path, zk_client, cloud, tmp_path):
    """A cluster whose conductors the test starts itself."""
    yield from cluster_mod.running(pg_url, zk_hosts, zk_path, zk_client,
                                   tmp_path, size=0)


def full_log(cluster, name):
    with open(os.path.join(cluster.log_dir, name + ".log"),
              errors="replace") as f:
        return f.read()


def wait_for(predicate, timeout, what, cluster):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s: %s\n%s" % (
        what, cluster.orch.list_stacks(), cluster.logs()))


def test_conductors_without_the_plugin_leave_the_job(one_conductor, cloud):
    cluster, orch = one_conductor, one_conductor.orch
    t = {"heat_template_version": "2018-08-31", "resources": {
        "a": {"type": "Test::Thing", "properties": {"name": "a"}},
        "b": {"type": "Test::Thing", "properties": {
            "name": "b", "ref": {"get_resource": "a"}}}}}
    stack = orch.create_stack("p", t).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", cluster.logs()
    real = cloud.reality()
    assert len(real) == 2
    [able] = list(cluster.procs)
    cluster.kill(able, signal.SIGTERM)
    lacking = [cluster.start_conductor(plugins=False) for _ in range(2)]

    # The client has the plugin: the delete is accepted and posted.
    orch.delete_stack("p")
    stack = wait_for(lambda: (lambda s: s if s.status_reason.startswith(
        WAITING) else None)(orch.get_stack("p")), 60,
        "the stack to say why it waits", cluster)
    assert "--plugin-dir" in stack.status_reason
    # Well past the watchdog's grace (5 s) and many of its rounds (0.5 s).
    time.sleep(8)
    stack = orch.get_stack("p")
    assert stack.stack_status == "DELETE_IN_PROGRESS", cluster.logs()
    assert stack.status_reason.startswith(WAITING)
    assert cloud.reality() == real
    # One job, never consumed nor re-posted, left unclaimed; each
    # conductor without the plugin looked at it once.
    on_board = cluster_mod.jobs_for(orch._runner.board, stack.id)
    assert len(on_board) == 1, on_board
    logs = {name: full_log(cluster, name) for name in lacking}
    for name, text in logs.items():
        assert "posted it again" not in text, text
        assert text.count("leaving it to another conductor") <= 1, text
        assert "Traceback" not in text, text
    assert sum(text.count("leaving it to another conductor")
               for text in logs.values()) >= 1
    assert [e.resource_name for e in orch.list_events("p")
            if e.action == "DELETE" and e.resource_name != "p"] == []

    # A conductor with the plugin takes it and the delete completes.
    cluster.start_conductor()
    wait_for(lambda: "p" not in [s.name for s in orch.list_stacks()], 60,
             "the delete", cluster)
    assert cloud.reality() == {}


def test_a_conductor_leaves_every_job_it_declined_alone(no_conductor):
    """Declining one job does not make the conductor forget another it
    declined: each is left alone for a while, not claimed and declined
    again and again, in turn with the other."""
    cluster, orch = no_conductor, no_conductor.orch
    [lacking] = [cluster.start_conductor(plugins=False)]
    names = ["p1", "p2"]
    for name in names:
        orch.create_stack(name, {
            "heat_template_version": "2018-08-31", "resources": {
                "a": {"type": "Test::Thing", "properties": {"name": name}}}})
    for name in names:
        wait_for(lambda: orch.get_stack(name).status_reason.startswith(
            WAITING), 60, "stack %s to say why it waits" % name, cluster)
    # Many rounds of the conductor's claiming loop (0.5 s each).
    time.sleep(4)
    text = full_log(cluster, lacking)
    for name in names:
        assert text.count("of stack %s) needs the plugin" % name) == 1, text
    assert "Traceback" not in text, text
    # Both jobs still there for a conductor with the plugin, none thrown
    # away as by a dispatch that raised.
    assert [owner for name in names for _, owner in cluster.jobs(name)] \
        == [None, None]
    assert cluster.trashed() == [], cluster.logs()
