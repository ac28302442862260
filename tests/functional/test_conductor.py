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

from heatflow import exception
from tests.functional import cluster as cluster_mod

TRIALS = 20


@pytest.fixture
def cluster(pg_url, zk_hosts, zk_path, zk_client, cloud, tmp_path):
    yield from cluster_mod.running(pg_url, zk_hosts, zk_path, zk_client,
                                   tmp_path)


@pytest.fixture
def patient_cluster(pg_url, zk_hosts, zk_path, zk_client, cloud, tmp_path):
    """Conductors whose sessions take long to expire (8 s): what happens
    at once cannot be the session's expiry."""
    yield from cluster_mod.running(pg_url, zk_hosts, zk_path, zk_client,
                                   tmp_path, session_timeout=8.0)


def hot(resources):
    return {"heat_template_version": "2018-08-31", "resources": resources}


def chain(size=1, delay=0.4, n=4, delete_delay=None):
    """a0 <- a1 <- ... each waiting ``delay`` s to be created (and
    ``delete_delay``, by default the same, to be deleted)."""
    res = {}
    for i in range(n):
        props = {"name": "a%d" % i, "size": size, "delay": delay,
                 "delete_delay": delay if delete_delay is None
                 else delete_delay}
        if i:
            props["ref"] = {"get_resource": "a%d" % (i - 1)}
        res["a%d" % i] = {"type": "Test::Thing", "properties": props}
    return hot(res)


def check_reality(cluster, cloud, stack_name, template=None):
    """The stack's resources exist in the cloud exactly once, and nothing
    else does; with ``template``, they are its resources, with its
    properties (name, size, and ref pointing at the right thing)."""
    try:
        resources = cluster.orch.list_resources(stack_name)
    except exception.StackNotFound:
        resources = []              # deleted
    known = {r.physical_resource_id for r in resources
             if r.physical_resource_id}
    real = cloud.reality()
    assert set(real) == known, "leaked or missing: %s vs %s" % (
        sorted(real), sorted(known))
    names = collections.Counter(v["name"] for v in real.values())
    assert all(n == 1 for n in names.values()), "duplicated: %s" % names
    for r in resources:
        assert r.status == "COMPLETE", r
    if template is None:
        return
    ids = {r.name: r.physical_resource_id for r in resources}
    assert sorted(ids) == sorted(template["resources"])
    for name, defn in template["resources"].items():
        props = defn["properties"]
        ref = props.get("ref")
        if isinstance(ref, dict):
            ref = ids[ref["get_resource"]]
        want = {"name": props.get("name", ""), "size": props.get("size", 1),
                "ref": ref}
        assert real[ids[name]] == want, (name, real[ids[name]], want)


def settle(orch, name, timeout=60):
    """The stack once it is no longer IN_PROGRESS; None once deleted."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            s = orch.get_stack(name)
        except exception.StackNotFound:
            return None
        if s.status != "IN_PROGRESS":
            return s
        time.sleep(0.05)
    raise AssertionError("stack %s still in progress" % name)


def test_two_conductors_share_the_work(cluster, cloud):
    stack = cluster.orch.create_stack("s", chain(delay=0)).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", cluster.logs()
    check_reality(cluster, cloud, "s", chain(delay=0))
    assert cluster.orch.delete_stack("s").wait(60).stack_status == \
        "DELETE_COMPLETE"
    assert cloud.reality() == {}


def _attempts(cloud, since=0):
    """The create attempts the plugin saw since ``since``: their props."""
    return [j["props"] for j in cloud.journal()
            if j["event"] == "attempt" and j["time"] >= since]


def wait_for(predicate, timeout=30, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("not within %ss: %s" % (timeout, what))


@pytest.mark.parametrize("trial", range(TRIALS))
def test_owner_killed_at_a_random_moment(cluster, cloud, trial):
    """SIGKILL the conductor running the operation while it runs; another
    one takes the job over when the session expires and finishes it."""
    rnd = random.Random(trial)
    kind = ["create", "replace", "rollback", "delete"][trial % 4]
    orch = cluster.orch
    if kind == "create":
        final_template = chain()
        orch.create_stack("s", final_template)
        expected = "CREATE_COMPLETE"
    else:
        # Created at once; each delete (clean-up, rollback, the delete)
        # takes 0.4 s, so the kill lands while the operation runs.
        original = chain(delay=0, delete_delay=0.4)
        orch.create_stack("s", original).wait(60)
        if kind == "replace":
            final_template = chain(size=2)
            orch.update_stack("s", final_template)
            expected = "UPDATE_COMPLETE"
        elif kind == "delete":
            orch.delete_stack("s")
            expected = None
        else:
            bad = chain(size=2)
            bad["resources"]["a3"]["properties"]["fail"] = True
            orch.update_stack("s", bad, disable_rollback=False)
            final_template = original      # the originals survive
            expected = "ROLLBACK_COMPLETE"
    owner = cluster.wait_owner("s")
    store = orch.db.store
    stack_id = store.find_stack("s").id
    time.sleep(rnd.uniform(0.05, 1.0))
    cluster.kill(owner)
    # The kill landed mid-operation: the dead owner's run still has it
    # (nobody can take it before the session expires).
    at_kill = store.get_stack_by_id(stack_id)
    assert at_kill.status == "IN_PROGRESS", at_kill
    assert cluster.owner("s") == owner
    cluster.start_conductor()
    final = settle(orch, "s")
    # Another conductor took it over: a new run finished the operation.
    assert store.get_stack_by_id(stack_id).run_token not in (
        None, at_kill.run_token), cluster.logs()
    if expected is None:
        assert final is None, cluster.logs()
        assert cloud.reality() == {}
    else:
        assert final.stack_status == expected, (final, cluster.logs())
        check_reality(cluster, cloud, "s", final_template)


def test_zombie_makes_no_plugin_call_and_no_accepted_write(cluster, cloud):
    """SIGSTOP the owner past its session timeout; another conductor takes
    over; on SIGCONT the zombie calls no plugin and no write of its lands
    in the database."""
    orch = cluster.orch
    cluster.audit_writes()
    template = chain(delay=1.0, n=3)
    orch.create_stack("z", template)
    owner = cluster.wait_owner("z")
    time.sleep(0.3)
    pid = cluster.procs[owner].pid
    cluster.kill(owner, signal.SIGSTOP)
    frozen = time.time()
    # Wait for another conductor to take over (new run, new owner).
    wait_for(lambda: cluster.owner("z") not in (owner, None), 30,
             "a takeover")
    zombie_calls = len([c for c in cloud.calls() if c["pid"] == pid])
    assert zombie_calls > 0          # it was polling when it was frozen
    # Its writes are seen (so the audit would see more of them).
    assert cluster.writes(owner), "no write of the owner was noted"
    woke = time.time()
    cluster.kill(owner, signal.SIGCONT)
    final = settle(orch, "z")
    assert final.stack_status == "CREATE_COMPLETE", cluster.logs()
    time.sleep(1.5)                  # give the zombie every chance to act
    # Plugin calls (handlers and polls) the zombie made after it woke: none.
    late = [c for c in cloud.calls() + cloud.journal()
            if c["pid"] == pid and c["time"] >= woke]
    assert late == [], cluster.logs()
    # Rows it wrote after it was frozen (so after the takeover): none.
    assert [w for w in cluster.writes(owner) if w[0] >= frozen] == [], \
        cluster.logs()
    check_reality(cluster, cloud, "z", template)
    assert cluster.orch.get_stack("z").stack_status == "CREATE_COMPLETE"


def test_sigterm_releases_the_job_at_once(patient_cluster, cloud):
    """SIGTERM: the action in flight finishes, then the job goes back on
    the board -- the same job, not consumed -- and the other conductor
    claims it at once, long before the owner's session (8 s) would have
    expired."""
    cluster = patient_cluster
    orch = cluster.orch
    template = chain(delay=0.8, n=3)
    orch.create_stack("g", template)
    owner = cluster.wait_owner("g")
    other, = [n for n in cluster.procs if n != owner]
    (job, claimed_by), = cluster.jobs("g")
    assert claimed_by == owner
    pid = cluster.procs[owner].pid
    time.sleep(0.2)
    sent = time.time()
    cluster.procs[owner].send_signal(signal.SIGTERM)
    wait_for(lambda: cluster.jobs("g") == [(job, other)], 10,
             "the same job claimed by %s" % other)
    taken = time.time() - sent
    # At once: the in-flight action (0.8 s, seen done by the poll at 1.55 s
    # on the back-off) and a moment -- half the 8 s the owner's session
    # would take to expire if the job were not released.
    assert taken < 4.0, taken
    cluster.procs[owner].wait(30)
    # It exits cleanly once its in-flight action has finished ...
    assert cluster.procs[owner].returncode == 0, cluster.logs()
    final = settle(orch, "g")
    assert final.stack_status == "CREATE_COMPLETE", cluster.logs()
    check_reality(cluster, cloud, "g", template)
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
    create = chain(delay=0.3, n=4)
    # a1 is in flight when the update supersedes the create.
    create["resources"]["a1"]["properties"]["delay"] = 2.0
    orch.create_stack("u", create)
    wait_for(lambda: [a["name"] for a in _attempts(cloud)] == ["a0", "a1"],
             30, "a1's create started")
    target = chain(delay=0.1, n=3)
    target["resources"]["a1"]["properties"]["name"] = "renamed"
    target["resources"]["extra"] = {"type": "Test::Thing",
                                    "properties": {"name": "extra"}}
    op = orch.update_stack("u", target)
    superseded = time.time()
    stack = op.wait(90)
    assert stack.stack_status == "UPDATE_COMPLETE", cluster.logs()
    check_reality(cluster, cloud, "u", target)
    # Nothing started for the create after the update superseded it: its
    # a2 and a3 (delay 0.3) never began; the update made a2 (delay 0.1).
    assert [a for a in _attempts(cloud, superseded)
            if a["delay"] == 0.3] == [], _attempts(cloud)
    assert sorted(a["name"] for a in _attempts(cloud, superseded)) == \
        ["a2", "extra"]
    # a1's create, in flight, finished once; the update renamed that thing.
    a1 = [j["id"] for j in cloud.journal() if j["event"] == "create" and
          j["props"]["name"] == "a1"]
    assert len(a1) == 1
    assert cloud.reality()[a1[0]]["name"] == "renamed"
