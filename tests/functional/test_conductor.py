"""Conductors against real ZooKeeper and PostgreSQL, with real processes
killed: takeover, fencing of a zombie, graceful release, the watchdog.

Every trial checks reality through the test cloud's journal, kept outside
the database: the final stack's resources exist exactly once, with nothing
leaked (no physical resource the stack does not know) and nothing
duplicated."""

import collections
import random
import signal
import time

import pytest

from tests.functional import cluster as cluster_mod

TRIALS = 20


@pytest.fixture
def cluster(pg_url, zk_hosts, zk_path, zk_client, cloud, tmp_path):
    zk_client.ensure_path(zk_path)
    c = cluster_mod.Cluster(pg_url, zk_hosts + zk_path, str(tmp_path))
    yield c
    c.close()


def hot(resources):
    return {"heat_template_version": "2018-08-31", "resources": resources}


def chain(size=1, delay=0.4, n=4):
    """a0 <- a1 <- ... each waiting ``delay`` s to be created."""
    res = {}
    for i in range(n):
        props = {"name": "a%d" % i, "size": size, "delay": delay,
                 "delete_delay": delay}
        if i:
            props["ref"] = {"get_resource": "a%d" % (i - 1)}
        res["a%d" % i] = {"type": "Test::Thing", "properties": props}
    return hot(res)


def check_reality(cluster, cloud, stack_name):
    """The stack's resources exist in the cloud exactly once, and nothing
    else does."""
    orch = cluster.orch
    try:
        resources = orch.list_resources(stack_name)
    except Exception:
        resources = []
    known = {r.physical_resource_id for r in resources
             if r.physical_resource_id}
    real = cloud.reality()
    assert set(real) == known, "leaked or missing: %s vs %s" % (
        sorted(real), sorted(known))
    names = collections.Counter(v["name"] for v in real.values())
    assert all(n == 1 for n in names.values()), "duplicated: %s" % names
    for r in resources:
        assert r.status == "COMPLETE", r


def settle(orch, name, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            s = orch.get_stack(name)
        except Exception:
            return None       # deleted
        if s.status != "IN_PROGRESS":
            return s
        time.sleep(0.05)
    raise AssertionError("stack %s still in progress" % name)


def test_two_conductors_share_the_work(cluster, cloud):
    stack = cluster.orch.create_stack("s", chain(delay=0)).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", cluster.logs()
    check_reality(cluster, cloud, "s")
    assert cluster.orch.delete_stack("s").wait(60).stack_status == \
        "DELETE_COMPLETE"
    assert cloud.reality() == {}


@pytest.mark.parametrize("trial", range(TRIALS))
def test_owner_killed_at_a_random_moment(cluster, cloud, trial):
    """SIGKILL the conductor running the operation; another one takes the
    job over when the session expires and finishes it."""
    rnd = random.Random(trial)
    kind = ["create", "replace", "rollback", "delete"][trial % 4]
    orch = cluster.orch
    if kind == "create":
        orch.create_stack("s", chain())
        expected = "CREATE_COMPLETE"
    else:
        orch.create_stack("s", chain(delay=0)).wait(60)
        if kind == "replace":
            orch.update_stack("s", chain(size=2))
            expected = "UPDATE_COMPLETE"
        elif kind == "delete":
            orch.delete_stack("s")
            expected = None
        else:
            bad = chain(size=2)
            bad["resources"]["a3"]["properties"]["fail"] = True
            orch.update_stack("s", bad, disable_rollback=False)
            expected = "ROLLBACK_COMPLETE"
    owner = cluster.wait_owner("s")
    time.sleep(rnd.uniform(0.05, 1.2))
    cluster.kill(owner)
    cluster.start_conductor()
    final = settle(orch, "s")
    if expected is None:
        assert final is None, cluster.logs()
        assert cloud.reality() == {}
    else:
        assert final.stack_status == expected, (final, cluster.logs())
        check_reality(cluster, cloud, "s")
        if kind == "rollback":
            # The originals survived: nothing of the failed update is left.
            assert all(v["size"] == 1 for v in cloud.reality().values())


def test_zombie_makes_no_plugin_call_and_no_accepted_write(cluster, cloud):
    """SIGSTOP the owner past its session timeout; another conductor takes
    over; on SIGCONT the zombie calls no plugin and writes nothing."""
    orch = cluster.orch
    orch.create_stack("z", chain(delay=1.0, n=3))
    owner = cluster.wait_owner("z")
    time.sleep(0.3)
    pid = cluster.procs[owner].pid
    cluster.kill(owner, signal.SIGSTOP)
    # Wait for another conductor to take over (new run, new owner).
    end = time.time() + 30
    while time.time() < end and cluster.owner("z") in (owner, None):
        time.sleep(0.05)
    assert cluster.owner("z") not in (owner, None), cluster.logs()
    zombie_calls = len([c for c in cloud.calls() if c["pid"] == pid])
    assert zombie_calls > 0          # it was polling when it was frozen
    woke = time.time()
    cluster.kill(owner, signal.SIGCONT)
    final = settle(orch, "z")
    assert final.stack_status == "CREATE_COMPLETE", cluster.logs()
    time.sleep(1.5)                  # give the zombie every chance to act
    # Plugin calls (handlers and polls) the zombie made after it woke: none.
    late = [c for c in cloud.calls() + cloud.journal()
            if c["pid"] == pid and c["time"] >= woke]
    assert late == [], cluster.logs()
    check_reality(cluster, cloud, "z")
    assert cluster.orch.get_stack("z").stack_status == "CREATE_COMPLETE"


def test_sigterm_releases_the_job_at_once(cluster, cloud):
    orch = cluster.orch
    orch.create_stack("g", chain(delay=0.8, n=3))
    owner = cluster.wait_owner("g")
    pid = cluster.procs[owner].pid
    time.sleep(0.2)
    cluster.kill(owner, signal.SIGTERM)
    # It exits cleanly once its in-flight action has finished ...
    assert cluster.procs[owner].returncode == 0, cluster.logs()
    final = settle(orch, "g")
    assert final.stack_status == "CREATE_COMPLETE", cluster.logs()
    check_reality(cluster, cloud, "g")
    # ... and that action was not interrupted: whatever it created is the
    # resource the stack has, created once (nothing re-done elsewhere).
    creates = [j for j in cloud.journal() if j["event"] == "create"]
    assert len(creates) == 3
    assert any(j["pid"] == pid for j in creates)


def test_update_supersedes_a_create_running_on_another_conductor(cluster,
                                                                 cloud):
    """The create runs on one conductor; an update posted meanwhile is
    picked up (possibly by the other), the create's in-flight action
    finishes, nothing new starts for it, and the update's template is
    what exists at the end."""
    orch = cluster.orch
    orch.create_stack("u", chain(delay=0.6, n=4))
    cluster.wait_owner("u")
    time.sleep(0.9)
    target = chain(delay=0.1, n=3)
    target["resources"]["a1"]["properties"]["name"] = "renamed"
    target["resources"]["extra"] = {"type": "Test::Thing",
                                    "properties": {"name": "extra"}}
    stack = orch.update_stack("u", target).wait(90)
    assert stack.stack_status == "UPDATE_COMPLETE", cluster.logs()
    check_reality(cluster, cloud, "u")
    names = sorted(v["name"] for v in cloud.reality().values())
    assert names == ["a0", "a2", "extra", "renamed"]
