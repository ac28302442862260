"""A run that lost its operation while its plugin was creating something
undoes what it made but may not record (flows/orphans.py).

The engine runs embedded; the test plays the run that took the operation
over (``Store.take_over`` and fenced writes with its run token) while the
first run's ``handle_create`` is held, then lets the handler finish: it
learns a physical id the fence refuses."""

import threading
import time
import uuid

import pytest

import heatflow
from heatflow import resource
from heatflow.persistence.store import Fence

CLOUD = {}          # physical id -> physical name: what exists
DELETED = []        # physical ids deleted through the plugin
REFUSING = []       # non-empty: the cloud refuses deletes
STARTED, GO = threading.Event(), threading.Event()


class Maker(resource.Resource):
    """Makes its physical resource first, learns its id when the (slow)
    cloud call returns, as a real create does; a delete completes at its
    second poll."""

    def handle_create(self):
        physical_id = "p-" + uuid.uuid4().hex[:8]
        CLOUD[physical_id] = self.physical_resource_name()
        STARTED.set()
        GO.wait(30)
        self.resource_id_set(physical_id)

    def handle_delete(self):
        if REFUSING:
            raise RuntimeError("the cloud refuses")
        return [self.resource_id]

    def check_delete_complete(self, token):
        # Gone at the second poll, as a real delete takes a while.
        token.append(None)
        if len(token) < 3:
            return False
        if token[0] is not None:
            CLOUD.pop(token[0], None)
            DELETED.append(token[0])
        return True


@pytest.fixture
def orch(tmp_path):
    CLOUD.clear()
    del DELETED[:]
    del REFUSING[:]
    STARTED.clear()
    GO.clear()
    o = heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db"),
                              poll_interval=(0.005, 0.05))
    o.register_plugin("Test::Maker", Maker)
    yield o
    GO.set()
    o.close()


def _taken_over(orch):
    """Start a create, hold its handler after it made the resource, and
    take the operation over: (the new run's fence, the row, the id the
    held handler made)."""
    orch.create_stack("z", {"heat_template_version": "2018-08-31",
                            "resources": {"r": {"type": "Test::Maker"}}})
    assert STARTED.wait(30)
    store = orch.db.store
    stack = store.find_stack("z")
    (row,) = store.list_resources(stack.id)
    assert store.take_over(stack.id, stack.traversal, stack.run_token,
                           "new-run")
    (made,) = CLOUD
    return Fence(stack.id, stack.traversal, "new-run"), row, made


def _eventually(cond, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def _orphan_events(orch, stack_id):
    return [(e.resource_name, e.physical_resource_id, e.action, e.status)
            for e in orch.db.store.list_events(stack_id)
            if e.reason.startswith("orphan")]


@pytest.mark.parametrize("owner", ["recreates", "deletes", "adopts"])
def test_a_fenced_create_undoes_what_nobody_recorded(orch, owner):
    new, row, made = _taken_over(orch)
    store = orch.db.store
    if owner == "deletes":
        assert store.acquire_resource(row.id, new, "DELETE") is not None
        assert store.finish_delete(row.id, new)
    else:
        assert store.acquire_resource(row.id, new, "CREATE") is not None
        # The new run found what the held handler made by its name, or made
        # its own.
        assert CLOUD[made] == row.physical_name
        got = made if owner == "adopts" else "p-new"
        assert store.update_resource(row.id, new, physical_resource_id=got)
        assert store.finish_resource(row.id, new, "CREATE", "COMPLETE")
    GO.set()
    if owner == "adopts":
        time.sleep(0.5)
        assert DELETED == [] and made in CLOUD
        assert _orphan_events(orch, new.stack_id) == []
        assert store.get_resource(row.id).physical_resource_id == made
        return
    assert _eventually(lambda: DELETED == [made]), DELETED
    assert CLOUD == {}
    assert _eventually(lambda: _orphan_events(orch, new.stack_id) == [
        ("r", made, "DELETE", "COMPLETE")])
    # The fenced run wrote nothing to the resource.
    now = store.get_resource(row.id)
    if owner == "deletes":
        assert now is None
    else:
        assert (now.physical_resource_id, now.lock_run) == ("p-new", None)


def test_it_waits_while_the_owner_may_still_record_it(orch, monkeypatch):
    new, row, made = _taken_over(orch)
    store = orch.db.store
    alive = orch.runtime.run_alive
    monkeypatch.setattr(orch.runtime, "run_alive",
                        lambda run: run == "new-run" or alive(run))
    GO.set()
    # The new run has not taken the row over yet, then holds it: the held
    # handler's run waits (the owner may find the resource by its name).
    time.sleep(0.3)
    assert store.acquire_resource(row.id, new, "CREATE") is not None
    time.sleep(0.3)
    assert DELETED == [] and made in CLOUD
    assert store.update_resource(row.id, new, physical_resource_id="p-new")
    assert store.finish_resource(row.id, new, "CREATE", "COMPLETE")
    assert _eventually(lambda: DELETED == [made]), DELETED


def test_a_row_being_deleted_under_the_same_name_adopts_nothing(
        orch, monkeypatch):
    # The new run recorded the resource under the same physical name, then
    # deleted it (a rollback) before the held handler's create landed: the
    # row still names it while the delete runs, but what the handler made
    # is nobody's once the delete is done.
    new, row, made = _taken_over(orch)
    store = orch.db.store
    alive = orch.runtime.run_alive
    monkeypatch.setattr(orch.runtime, "run_alive",
                        lambda run: run == "new-run" or alive(run))
    assert store.acquire_resource(row.id, new, "CREATE") is not None
    assert store.update_resource(row.id, new, physical_resource_id=made)
    assert store.finish_resource(row.id, new, "CREATE", "COMPLETE")
    assert store.acquire_resource(row.id, new, "DELETE") is not None
    GO.set()
    time.sleep(0.3)
    assert DELETED == [] and made in CLOUD     # waits for the delete
    assert store.finish_delete(row.id, new)
    assert _eventually(lambda: DELETED == [made]), DELETED
    assert CLOUD == {}


def test_an_orphan_that_cannot_be_deleted_is_reported(orch):
    new, row, made = _taken_over(orch)
    store = orch.db.store
    assert store.acquire_resource(row.id, new, "DELETE") is not None
    assert store.finish_delete(row.id, new)
    REFUSING.append(True)
    GO.set()
    assert _eventually(lambda: _orphan_events(orch, new.stack_id) == [
        ("r", made, "DELETE", "FAILED")])
    (event,) = [e for e in store.list_events(new.stack_id)
                if e.reason.startswith("orphan")]
    assert event.reason == ("orphan made by a run that had lost the "
                            "operation: delete failed: the cloud refuses")
    assert made in CLOUD
