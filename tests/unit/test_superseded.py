"""A run whose action is in flight when its operation changes hands.

Superseded (a newer operation, an update, started): the action goes on to
completion and is recorded; the newer operation waits for it.  Fenced
(this process lost the run, as a conductor does when its ZooKeeper session
is suspended): the run stops polling and writes nothing more, since
another conductor may own the operation by now.

The plugin's action completes only after a few polls, so the engine asks
between polls whether the run still owns it (flows/driver.py)."""

import itertools
import threading
import time
import types
import uuid

import pytest

import heatflow
from heatflow import exception, lifecycle, resource

#: action -> set when a handler of it ran / when its polls may complete.
STARTED = {"CREATE": threading.Event(), "DELETE": threading.Event()}
GO = {"CREATE": threading.Event(), "DELETE": threading.Event()}
MADE = []


class Slow(resource.Resource):
    """Its actions complete once GO[action] is set."""

    def handle_create(self):
        self.resource_id_set("p-%s" % self.name)
        MADE.append(self.name)
        STARTED["CREATE"].set()

    def check_create_complete(self, token):
        return GO["CREATE"].is_set()

    def handle_delete(self):
        STARTED["DELETE"].set()

    def check_delete_complete(self, token):
        return GO["DELETE"].is_set()


class Refuses(resource.Resource):
    def handle_create(self):
        raise exception.HeatflowError("refused")


@pytest.fixture
def orch(tmp_path):
    for event in list(STARTED.values()) + list(GO.values()):
        event.clear()
    del MADE[:]
    o = heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db"),
                              poll_interval=(0.005, 0.02))
    o.register_plugin("Test::Slow", Slow)
    o.register_plugin("Test::Refuses", Refuses)
    yield o
    for event in GO.values():
        event.set()
    o.close()


def _template(**resources):
    return {"heat_template_version": "2018-08-31", "resources": resources}


def test_a_superseded_create_completes_and_the_update_waits(orch,
                                                            monkeypatch):
    # Each new id sorts before the last: an operation's traversal is newer
    # and smaller than the one it supersedes (uuid4 gives either order; a
    # comparison that is not equality would pass half the time otherwise).
    ids = itertools.count(2 ** 100, -1)
    monkeypatch.setattr(lifecycle, "uuid", types.SimpleNamespace(
        uuid4=lambda: uuid.UUID(int=next(ids))))
    # As on PostgreSQL (another host may take a run over): the polls ask
    # the database, not this process's lock files, who owns the run.
    monkeypatch.setattr(orch.runtime, "ownership", None)
    tmpl = _template(r={"type": "Test::Slow"})
    orch.create_stack("st", tmpl)
    assert STARTED["CREATE"].wait(30)
    tmpl["resources"]["other"] = {"type": "Test::Slow"}
    update = orch.update_stack("st", tmpl)
    time.sleep(0.2)             # a few polls of r's create meanwhile
    GO["CREATE"].set()
    stack = update.wait(10)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    rows = {r.name: r for r in orch.db.store.list_resources(stack.id)}
    # The first create was neither abandoned nor done again.
    assert rows["r"].physical_resource_id == "p-r"
    assert sorted(MADE) == ["other", "r"]


def test_a_fenced_rollback_writes_nothing_more(orch):
    tmpl = _template(r={"type": "Test::Slow"},
                     bad={"type": "Test::Refuses", "depends_on": "r"})
    GO["CREATE"].set()
    orch.create_stack("st", tmpl, disable_rollback=False)
    # The create fails at "bad"; the rollback deletes r, which polls.
    assert STARTED["DELETE"].wait(30)
    store = orch.db.store
    stack = store.find_stack("st")
    (r,) = [row for row in store.list_resources(stack.id)
            if row.name == "r"]
    assert (r.action, r.status) == ("DELETE", "IN_PROGRESS")
    # The run is lost (its conductor's session, say), the database still
    # names it: only the process knows.
    orch.runtime.fence_run(stack.run_token)
    time.sleep(0.5)              # polls meanwhile: each asks
    now = store.get_resource(r.id)
    assert (now.action, now.status, now.lock_run) == \
        ("DELETE", "IN_PROGRESS", stack.run_token)
    assert [(e.action, e.status) for e in store.list_events(stack.id)
            if e.resource_name == "r"][-1] == ("DELETE", "IN_PROGRESS")
