"""The persistence layer: fenced writes, resource locks, takeover."""

import uuid

import pytest
import sqlalchemy as sa

from heatflow import exception
from heatflow.persistence import database
from heatflow.persistence import sql
from heatflow.persistence.store import Fence


@pytest.fixture
def db(tmp_path):
    db = database.Database("sqlite:///" + str(tmp_path / "t.db"))
    yield db
    db.close()


@pytest.fixture
def store(db):
    return db.store


def new_stack(store, name="s"):
    sid, trav, run = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    store.create_stack(
        stack_id=sid, name=name, template={"heat_template_version":
                                           "2018-08-31"},
        files={}, environment={}, parameters={}, action="CREATE",
        traversal=trav, run=run, status_reason="started",
        disable_rollback=True, timeout_mins=None, deadline=None,
        flow_uuid=str(uuid.uuid4()))
    return Fence(sid, trav, run)


def test_names_are_unique_among_live_stacks(store):
    new_stack(store, "a")
    with pytest.raises(exception.StackExists):
        new_stack(store, "a")


def test_stack_writes_are_fenced_on_traversal_and_run(store):
    f = new_stack(store)
    assert store.set_stack_state(f, "CREATE", "COMPLETE", "done")
    assert not store.set_stack_state(f._replace(run="other"), "CREATE",
                                     "FAILED", "late")
    assert not store.set_stack_state(f._replace(traversal="old"), "CREATE",
                                     "FAILED", "late")
    assert store.find_stack("s").status == "COMPLETE"


def test_a_new_operation_supersedes_the_old(store):
    f = new_stack(store)
    new = str(uuid.uuid4())
    assert store.begin_operation(f.stack_id, f.traversal, traversal=new,
                                 run="r2", action="UPDATE",
                                 status_reason="go")
    # The superseded operation can write nothing any more ...
    assert not store.set_stack_state(f, "CREATE", "COMPLETE", "late")
    assert store.insert_resources(f, [{"name": "x", "type": "T"}]) is None
    # ... and a second operation started from the stale view loses.
    assert not store.begin_operation(f.stack_id, f.traversal,
                                     traversal="t3", run="r3",
                                     action="DELETE", status_reason="go")


@pytest.mark.parametrize("incarnations", [False, True])
def test_new_rows_go_in_together_with_their_ids_in_order(store, monkeypatch,
                                                         incarnations):
    # Several statements (SQLAlchemy's batches of an executemany).
    monkeypatch.setattr(store.engine.dialect, "insertmanyvalues_page_size",
                        3)
    f = new_stack(store)
    rows = [{"name": "r%d" % i, "type": "T", "requires": [i],
             "traversal": f.traversal} for i in range(7)]
    if incarnations:
        # Two incarnations of one name (a replacement) among them.
        rows.insert(2, {"name": "r0", "type": "U", "replaces": None})
    ids = store.insert_resources(f, rows)
    assert len(set(ids)) == len(rows)
    for rid, row in zip(ids, rows):
        got = store.get_resource(rid)
        assert (got.name, got.type, got.action) == (row["name"],
                                                    row["type"], "INIT")
        assert list(got.requires) == row.get("requires", [])
    stale = f._replace(run="other")
    assert store.insert_resources(stale, rows) is None
    assert len(store.list_resources(f.stack_id)) == len(rows)


def test_take_over_fences_the_previous_run(store):
    f = new_stack(store)
    (rid,) = store.insert_resources(f, [{"name": "x", "type": "T"}])
    assert store.acquire_resource(rid, f, "CREATE") is not None
    assert store.take_over(f.stack_id, f.traversal, f.run, "run2")
    f2 = f._replace(run="run2")
    # The old run's writes are refused ...
    assert not store.finish_resource(rid, f, "CREATE", "COMPLETE")
    assert not store.update_resource(rid, f, physical_resource_id="p")
    # ... and the new run resumes the same action without a new event.
    events = len(store.list_events(f.stack_id))
    row = store.acquire_resource(rid, f2, "CREATE")
    assert row.lock_run == "run2" and row.action == "CREATE"
    assert len(store.list_events(f.stack_id)) == events
    assert store.finish_resource(rid, f2, "CREATE", "COMPLETE")


def test_an_undo_takes_over_a_dead_runs_action_afresh(store):
    """Rolling back an update a dead run left in flight updates back: the
    undo gets the lock as a new action (no token to resume, an event);
    an undo that itself died is resumed."""
    f = new_stack(store)
    (rid,) = store.insert_resources(f, [{"name": "x", "type": "T"}])
    store.acquire_resource(rid, f, "UPDATE")
    store.update_resource(rid, f, action_token={"forward": 1})
    assert store.take_over(f.stack_id, f.traversal, f.run, "run2")
    f2 = f._replace(run="run2")
    events = len(store.list_events(f.stack_id))
    row = store.acquire_resource(rid, f2, "UPDATE", "rollback", undoing=True)
    assert (row.lock_run, row.action_token, row.status_reason) == (
        "run2", None, "rollback")
    assert len(store.list_events(f.stack_id)) == events + 1
    store.update_resource(rid, f2, action_token={"back": 1})
    assert store.take_over(f.stack_id, f.traversal, "run2", "run3")
    row = store.acquire_resource(rid, f._replace(run="run3"), "UPDATE",
                                 "rollback", undoing=True)
    assert row.action_token == {"back": 1}
    assert len(store.list_events(f.stack_id)) == events + 1


def test_a_planned_row_is_taken_in_one_statement_only_while_untouched(
        store):
    f = new_stack(store)
    a, b, c, d = store.insert_resources(f, [
        {"name": n, "type": "T", "traversal": f.traversal} for n in "abcd"])
    row = store.acquire_fresh(a, f, "CREATE", requires=[7])
    assert (row.action, row.status, row.lock_run, list(row.requires)) == (
        "CREATE", "IN_PROGRESS", f.run, [7])
    assert [(e.resource_name, e.status) for e in
            store.list_events(f.stack_id)][-1] == ("a", "IN_PROGRESS")
    # Touched since it was planned: locked, or given a physical id.
    assert store.acquire_fresh(a, f, "CREATE") is None
    store.acquire_resource(b, f, "CREATE")
    store.update_resource(b, f, physical_resource_id="p")
    store.finish_resource(b, f, "INIT", "COMPLETE")
    assert store.acquire_fresh(b, f, "CREATE") is None
    # Another run of the operation, or a rollback requested: not so either.
    assert store.acquire_fresh(c, f._replace(run="other"), "CREATE") is None
    assert store.request_rollback(f.stack_id, f.traversal, "IN_PROGRESS")
    assert store.acquire_fresh(c, f, "CREATE") is None
    # None of the refusals wrote anything.
    assert [store.get_resource(r).lock_run for r in (c, d)] == [None, None]


def test_lock_of_another_operation_waits_while_its_run_lives(store):
    f = new_stack(store)
    (rid,) = store.insert_resources(f, [{"name": "x", "type": "T"}])
    assert store.acquire_resource(rid, f, "CREATE") is not None
    assert store.begin_operation(f.stack_id, f.traversal, traversal="t2",
                                 run="r2", action="UPDATE",
                                 status_reason="go")
    f2 = Fence(f.stack_id, "t2", "r2")
    assert store.acquire_resource(rid, f2, "UPDATE",
                                  is_alive=lambda run: True) is None
    # The old run still finishes and records its in-flight action.
    assert store.finish_resource(rid, f, "CREATE", "COMPLETE")
    assert store.acquire_resource(rid, f2, "UPDATE") is not None


def test_lock_of_a_dead_run_is_broken_and_the_resource_failed(store):
    f = new_stack(store)
    (rid,) = store.insert_resources(f, [{"name": "x", "type": "T"}])
    store.acquire_resource(rid, f, "CREATE")
    store.begin_operation(f.stack_id, f.traversal, traversal="t2",
                          run="r2", action="UPDATE", status_reason="go")
    f2 = Fence(f.stack_id, "t2", "r2")
    assert store.acquire_resource(rid, f2, "UPDATE",
                                  is_alive=lambda run: False) is None
    row = store.get_resource(rid)
    assert (row.action, row.status, row.lock_run) == ("CREATE", "FAILED",
                                                      None)
    assert store.acquire_resource(rid, f2, "UPDATE") is not None


def test_rollback_can_be_requested_only_while_converging(store):
    f = new_stack(store)
    assert store.enter_cleanup(f, "CREATE")
    assert not store.request_rollback(f.stack_id, f.traversal,
                                      "IN_PROGRESS")
    g = new_stack(store, "g")
    assert store.request_rollback(g.stack_id, g.traversal, "IN_PROGRESS")
    row = store.find_stack("g")
    assert (row.action, row.status, row.traversal) == (
        "ROLLBACK", "IN_PROGRESS", g.traversal)
    # Once a rollback was requested the forward operation cannot enter
    # clean-up.
    assert not store.enter_cleanup(g, "CREATE")


def test_failure_and_rollback_are_recorded_together(store):
    f = new_stack(store)
    assert store.fail_operation(f, "CREATE", "boom", rollback=True)
    row = store.find_stack("s")
    assert (row.action, row.status) == ("ROLLBACK", "IN_PROGRESS")
    assert [(e.action, e.status) for e in store.list_events(f.stack_id)][
        -2:] == [("CREATE", "FAILED"), ("ROLLBACK", "IN_PROGRESS")]


def test_deleted_stack_disappears_with_its_resources(store):
    f = new_stack(store)
    (rid,) = store.insert_resources(f, [{"name": "x", "type": "T"}])
    assert store.resource_data_set(rid, f, "k", "v")
    assert store.mark_stack_deleted(f)
    with pytest.raises(exception.StackNotFound):
        store.find_stack("s")
    assert store.get_resource(rid) is None
    assert store.resource_data(rid) == {}
    new_stack(store, "s")     # the name is free again


def test_plugin_data_writes_are_fenced_on_the_row_lock(store):
    f = new_stack(store)
    (rid,) = store.insert_resources(f, [{"name": "x", "type": "T"}])
    # The run holding the row's lock writes; so may the operation's run
    # while the row is idle.
    assert store.acquire_resource(rid, f, "CREATE") is not None
    assert store.resource_data_set(rid, f, "k", "v1")
    # Another run of the same operation took it over: the old run's
    # writes (a zombie's) change nothing.
    assert store.take_over(f.stack_id, f.traversal, f.run, "r2")
    zombie, current = f, f._replace(run="r2")
    assert not store.resource_data_set(rid, zombie, "k", "zombie")
    assert not store.resource_data_set(rid, zombie, "new", "zombie")
    assert not store.resource_data_delete(rid, zombie, "k")
    assert store.resource_data(rid) == {"k": "v1"}
    # A superseded operation's writes change nothing either.
    assert store.acquire_resource(rid, current, "CREATE") is not None
    assert store.finish_resource(rid, current, "CREATE", "COMPLETE")
    assert store.resource_data_set(rid, current, "k", "v2")
    assert store.begin_operation(f.stack_id, f.traversal, traversal="t2",
                                 run="r3", action="UPDATE",
                                 status_reason="go")
    assert not store.resource_data_set(rid, current, "k", "late")
    assert not store.resource_data_delete(rid, current, "k")
    assert store.resource_data(rid) == {"k": "v2"}


def _refuse_commits(db, times):
    """The database refuses the next ``times`` commits (as while it
    restarts); returns the list of refusals."""
    refused = []

    def refuse(conn):
        if len(refused) < times:
            refused.append(True)
            raise sa.exc.OperationalError("COMMIT", {}, Exception("gone"))
    sa.event.listen(db.engine, "commit", refuse)
    return refused


def test_a_write_rides_out_a_brief_outage(db, store):
    refused = _refuse_commits(db, 2)
    f = new_stack(store, "brief")
    assert len(refused) == 2
    assert store.find_stack("brief").id == f.stack_id


def test_a_longer_outage_is_the_engines_error(db, store, monkeypatch):
    monkeypatch.setattr(sql, "OUTAGE_PATIENCE", 0.3)
    refused = _refuse_commits(db, 1000)
    with pytest.raises(exception.EngineStorageError):
        new_stack(store, "long")
    assert 2 <= len(refused) < 1000


def test_a_deleted_stack_takes_only_its_own_plugin_data(store):
    rows = {}
    for name in ("gone", "kept"):
        f = new_stack(store, name)
        (rid,) = store.insert_resources(f, [{"name": "x", "type": "T"}])
        assert store.acquire_resource(rid, f, "CREATE") is not None
        assert store.resource_data_set(rid, f, "password", name)
        rows[name] = f, rid
    assert store.mark_stack_deleted(rows["gone"][0])
    assert store.resource_data(rows["gone"][1]) == {}
    assert store.resource_data(rows["kept"][1]) == {"password": "kept"}
