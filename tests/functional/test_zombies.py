"""A zombie's in-flight create, with real processes, ZooKeeper and
PostgreSQL: the conductor running ``handle_create`` is stopped (SIGSTOP)
after the plugin made the physical resource and before it learned its id,
past its session timeout; another conductor takes the operation over (and
the test may move the stack on); then SIGCONT.  The zombie's
``resource_id_set`` is refused, and it must undo what it made unless the
stack adopted it: the test cloud ends with exactly the final template's
resources, nothing leaked, nothing twice."""

import signal
import time

import pytest

from tests.functional import test_conductor as tc

cluster = tc.cluster          # the fixture: two conductors
DELAY = 4.0                   # the create call; > the session timeout


def template(size=1, by_name=False):
    return tc.hot({"r": {"type": "Test::SlowThing", "properties": {
        "name": "r", "size": size, "create_delay": DELAY,
        "by_name": by_name}}})


def _freeze_in_create(cluster, cloud, name):
    """SIGSTOP the owner once its handler has made the resource; wait for
    another conductor to take over.  (owner, its pid, the id it made)"""
    owner = cluster.wait_owner(name)
    pid = cluster.procs[owner].pid
    made = None
    end = time.time() + 30
    while made is None and time.time() < end:
        made = next((j["id"] for j in cloud.journal()
                     if j["event"] == "create" and j["pid"] == pid), None)
        time.sleep(0.01)
    assert made is not None, cluster.logs()
    frozen_run = cluster.orch.db.store.find_stack(name).run_token
    cluster.kill(owner, signal.SIGSTOP)

    def taken_over():
        # A new run token: another conductor took the operation over (it
        # may have finished it already, as when it adopts by name).
        return cluster.orch.db.store.find_stack(name).run_token != \
            frozen_run
    end = time.time() + 30
    while time.time() < end and not taken_over():
        time.sleep(0.05)
    assert taken_over(), cluster.logs()
    return owner, pid, made


def _eventually(cond, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def _known(cluster, name):
    try:
        return {r.physical_resource_id for r in
                cluster.orch.list_resources(name) if r.physical_resource_id}
    except Exception:
        return set()            # the stack is gone


@pytest.mark.parametrize("then", ["resume", "adopt", "update", "delete"])
def test_a_zombie_create_leaves_nothing_behind(cluster, cloud, then):
    orch = cluster.orch
    orch.register_plugin("Test::SlowThing", cloud.SlowThing)
    orch.create_stack("z", template(by_name=(then == "adopt")))
    owner, pid, made = _freeze_in_create(cluster, cloud, "z")
    if then == "resume":
        # Woken while the new run re-creates the resource: the zombie
        # waits for it, then deletes its own.
        cluster.kill(owner, signal.SIGCONT)
        expected = "CREATE_COMPLETE"
    elif then == "update":
        orch.update_stack("z", template(size=2))
        expected = "UPDATE_COMPLETE"
    elif then == "delete":
        orch.delete_stack("z")
        expected = None
    else:
        expected = "CREATE_COMPLETE"
    final = tc.settle(orch, "z", timeout=90)
    assert (final and final.stack_status) == expected, cluster.logs()
    cluster.kill(owner, signal.SIGCONT)
    assert _eventually(lambda: set(cloud.reality()) ==
                       _known(cluster, "z")), (cloud.reality(),
                                               cluster.logs())
    tc.check_reality(cluster, cloud, "z")
    undone = [j for j in cloud.journal()
              if j["event"] == "delete" and j["id"] == made]
    if then == "adopt":
        # The new run found the zombie's resource by its physical name.
        assert _known(cluster, "z") == {made}
        assert undone == []
        return
    assert made not in _known(cluster, "z")
    assert [j["pid"] for j in undone] == [pid], cluster.logs()
    if expected is not None:
        # (written once the delete has completed: after its journal entry)
        def orphan_events():
            return [(e.physical_resource_id, e.action, e.status)
                    for e in orch.list_events("z")
                    if e.reason.startswith("orphan")]
        assert _eventually(lambda: orphan_events() != [], timeout=10)
        assert orphan_events() == [(made, "DELETE", "COMPLETE")]
