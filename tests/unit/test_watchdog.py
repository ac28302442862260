"""The watchdog's re-posting of a missing job backs off: an operation whose
job keeps going missing is not re-posted every round (issue 15, bug 3)."""

import datetime
import types

from heatflow.runners import watchdog as watchdog_mod
from heatflow.persistence import store as store_mod

T0 = datetime.datetime(2026, 1, 1)


def stack_row(traversal="t1", status="IN_PROGRESS"):
    return types.SimpleNamespace(
        id="s1", name="s", traversal=traversal, run_token="r1",
        action="DELETE", status=status, deadline=None, updated_at=T0,
        created_at=T0, disable_rollback=True, phase="converge",
        flow_uuid="f1")


def watchdog(rows, grace=5.0):
    """A watchdog with a board that has no jobs and a store with
    ``rows``."""
    board = types.SimpleNamespace(
        iterjobs=lambda ensure_fresh: [], markers=lambda: [],
        forget=lambda traversals, grace: None,
        has_job=lambda traversal: False)
    db = types.SimpleNamespace(
        store=types.SimpleNamespace(list_stacks=lambda: rows))
    return watchdog_mod.Watchdog(db, board, client=None, root="/heatflow",
                                 name="c1", repost_grace=grace)


def test_a_job_that_keeps_going_missing_is_reposted_ever_less_often(
        monkeypatch):
    posted = []

    def repost(board, db, row):
        posted.append(now[0])
        return "job-%d" % len(posted)        # what was posted
    monkeypatch.setattr(watchdog_mod.jobs, "repost", repost)
    now = [T0]
    monkeypatch.setattr(store_mod, "utcnow", lambda: now[0])
    rows = [stack_row()]
    cond = watchdog(rows)
    # a round every second for ten minutes; the job never appears
    for second in range(600):
        now[0] = T0 + datetime.timedelta(seconds=second)
        cond.patrol()
    times = [(p - T0).total_seconds() for p in posted]
    # after the grace, then 5, 10, 20, ... s apart, capped at 300 s
    assert times == [5, 10, 20, 40, 80, 160, 320], times
    # once the operation settles its back-off is forgotten
    rows[:] = [stack_row(status="COMPLETE")]
    cond.patrol()
    assert cond._reposts == {}


def test_an_overdue_operation_with_rollback_enabled_is_rolled_back(
        monkeypatch):
    """The watchdog fails it, and asks for its rollback, whose job it
    posts (a conductor then reverts what was done)."""
    row = stack_row(status="IN_PROGRESS")
    row.action, row.disable_rollback = "CREATE", False
    row.deadline = T0
    calls = []
    store = types.SimpleNamespace(
        list_stacks=lambda: [row],
        set_stack_state=lambda fence, action, status, reason:
            calls.append(("failed", action, status, reason)) or True,
        request_rollback=lambda sid, traversal, status:
            calls.append(("rollback", sid, status)) or True,
        get_stack_by_id=lambda sid: row)
    dog = watchdog(())
    dog.db = types.SimpleNamespace(store=store)
    monkeypatch.setattr(watchdog_mod.jobs, "repost",
                        lambda board, db, r: calls.append(("repost",)))
    monkeypatch.setattr(store_mod, "utcnow",
                        lambda: T0 + datetime.timedelta(seconds=10))
    dog.patrol()
    assert calls == [("failed", "CREATE", "FAILED", "Stack CREATE timed out"),
                     ("rollback", "s1", "FAILED"), ("repost",)]


def test_an_overdue_operation_without_rollback_is_only_failed(monkeypatch):
    row = stack_row(status="IN_PROGRESS")
    row.deadline = T0
    calls = []
    store = types.SimpleNamespace(
        list_stacks=lambda: [row],
        set_stack_state=lambda fence, action, status, reason:
            calls.append(("failed", action)) or True)
    dog = watchdog(())
    dog.db = types.SimpleNamespace(store=store)
    monkeypatch.setattr(store_mod, "utcnow",
                        lambda: T0 + datetime.timedelta(seconds=10))
    dog.patrol()
    assert calls == [("failed", "DELETE")]
