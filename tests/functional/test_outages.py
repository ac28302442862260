"""Conductors through outages: ZooKeeper and PostgreSQL restarted
mid-operation, every conductor dead past a stack's deadline, a job that
went missing.  Private servers, so the shared ones are not disturbed."""

import os
import re
import signal
import time

import pytest

from heatflow.runners import conductor as conductor_mod
from heatflow import jobs
from heatflow.persistence import store as store_mod
from tests import conftest
from tests.functional import cluster as cluster_mod
from tests.functional.test_conductor import (chain, check_reality, settle,
                                             wait_for)


@pytest.fixture
def servers(zookeeper_factory, postgres_factory):
    zk = zookeeper_factory()
    pg = postgres_factory()
    return zk, pg


@pytest.fixture
def private_cluster(servers, cloud, tmp_path):
    zk, pg = servers
    c = cluster_mod.Cluster(pg.create_database("outage"), zk.hosts,
                            str(tmp_path))
    yield c
    c.close()


def test_zookeeper_restart_mid_operation(private_cluster, servers, cloud):
    zk, _ = servers
    orch = private_cluster.orch
    orch.create_stack("s", chain(delay=0.5, n=4))
    private_cluster.wait_owner("s")
    time.sleep(0.6)
    zk.restart()
    final = settle(orch, "s", timeout=90)
    assert final.stack_status == "CREATE_COMPLETE", private_cluster.logs()
    check_reality(private_cluster, cloud, "s", chain(delay=0.5, n=4))
    # Each conductor says when it lost ZooKeeper and when it was back.
    for name in private_cluster.procs:
        wait_for(lambda: _lost_then_restored(private_cluster, name), 30,
                 "%s to say its session was lost, then restored" % name)


def _lost_then_restored(cluster, name):
    with open(os.path.join(cluster.log_dir, name + ".log"),
              errors="replace") as f:
        text = f.read()
    lost = re.search("ZooKeeper session (SUSPENDED|LOST)", text)
    return lost and "ZooKeeper session restored" in text[lost.end():]


def test_postgresql_restart_mid_operation(private_cluster, servers, cloud):
    """The database goes away for a moment while resources are being
    created: the operation still completes, nothing lost or leaked."""
    _, pg = servers
    orch = private_cluster.orch
    orch.create_stack("s", chain(delay=0.5, n=4))
    private_cluster.wait_owner("s")
    time.sleep(0.6)
    pg.restart()
    final = settle(orch, "s", timeout=90)
    assert final.stack_status == "CREATE_COMPLETE", (
        final.status_reason, private_cluster.logs())
    check_reality(private_cluster, cloud, "s", chain(delay=0.5, n=4))


def test_watchdog_fails_a_stack_whose_conductors_all_died(private_cluster,
                                                          cloud):
    """Every conductor dies mid-create; their claim on the job expires with
    their sessions, the job stays on the board, and the deadline passes.
    The watchdog -- rounds of it on a conductor that claims no job, so
    nothing else can fail the operation -- fails it; a conductor that
    claims the job afterwards does nothing with it."""
    orch = private_cluster.orch
    orch.create_stack("late", chain(delay=2, n=3), timeout_mins=0.05)
    private_cluster.wait_owner("late")
    for name in list(private_cluster.procs):
        private_cluster.kill(name)
    deadline = orch.db.store.find_stack("late").deadline
    watchdog = conductor_mod.Conductor(
        private_cluster.db_url, zookeeper=private_cluster.zk_hosts,
        name="watchdog-only", session_timeout=2.0)
    try:
        if store_mod.utcnow() < deadline:
            # Not overdue yet, and its job is there: left alone.
            watchdog.watchdog.patrol()
            assert orch.get_stack("late").stack_status == \
                "CREATE_IN_PROGRESS"
        # The job outlives its dead owner, unclaimed once the session
        # (2 s) has expired.
        wait_for(lambda: [o for _, o in private_cluster.jobs("late")] ==
                 [None], 15, "the job unclaimed on the board")
        wait_for(lambda: store_mod.utcnow() > deadline, 10, "the deadline")
        calls = len(cloud.calls() + cloud.journal())
        assert orch.get_stack("late").stack_status == "CREATE_IN_PROGRESS"
        watchdog.watchdog.patrol()
    finally:
        # It never ran, so TaskFlow's conductor has nothing to wait for.
        watchdog._tf.wait = lambda timeout=None: True
        watchdog.close()
    final = orch.get_stack("late")
    assert final.stack_status == "CREATE_FAILED"
    assert final.status_reason == "Stack CREATE timed out"
    # A conductor that claims the job now finds the operation over: it
    # consumes the job, calls no plugin and writes nothing (no run of the
    # settled operation, which would fail its resources at once).
    history = _history(orch, "late")
    private_cluster.start_conductor()
    wait_for(lambda: private_cluster.jobs("late") == [], 30,
             "the job consumed")
    assert len(cloud.calls() + cloud.journal()) == calls
    assert _history(orch, "late") == history, private_cluster.logs()


def _history(orch, name):
    """What a user sees of a stack: its status, its resources', events."""
    stack = orch.get_stack(name)
    return ((stack.stack_status, stack.status_reason),
            [(r.name, r.action, r.status, r.status_reason)
             for r in orch.list_resources(name)],
            [(e.resource_name, e.action, e.status, e.reason)
             for e in orch.list_events(name)])


def test_a_conductor_claiming_an_overdue_operation_fails_it(private_cluster,
                                                            cloud):
    """Every conductor dies past the deadline; the next one to start
    claims the job and fails the operation (its own deadline check, or
    the watchdog: whichever comes first)."""
    orch = private_cluster.orch
    orch.create_stack("late", chain(delay=2, n=3), timeout_mins=0.05)
    private_cluster.wait_owner("late")
    for name in list(private_cluster.procs):
        private_cluster.kill(name)
    time.sleep(3.5)                       # the deadline (3 s) passes
    assert orch.get_stack("late").stack_status == "CREATE_IN_PROGRESS"
    private_cluster.start_conductor()
    final = settle(orch, "late", timeout=60)
    assert final.stack_status == "CREATE_FAILED", private_cluster.logs()
    assert "timed out" in final.status_reason


def test_an_operation_whose_job_vanished_is_posted_again(private_cluster,
                                                         cloud):
    orch = private_cluster.orch
    for name in list(private_cluster.procs):
        private_cluster.kill(name, signal.SIGTERM)
    orch.create_stack("lost", chain(delay=0, n=2))
    zk = private_cluster.zk
    path = jobs.jobs_path()
    for child in zk.get_children(path):
        zk.delete(path + "/" + child, recursive=True)
    private_cluster.start_conductor()
    final = settle(orch, "lost", timeout=60)
    assert final.stack_status == "CREATE_COMPLETE", private_cluster.logs()
    check_reality(private_cluster, cloud, "lost", chain(delay=0, n=2))


def test_the_database_failing_as_a_job_is_taken_is_one_line(servers, cloud,
                                                            tmp_path, caplog,
                                                            monkeypatch):
    """PostgreSQL restarting just as a conductor loads a claimed job's flow
    (a chaos soak trial): the job goes back on the board for when the
    database is back, said in one line -- no traceback in the log."""
    import logging

    import sqlalchemy as sa
    from taskflow import exceptions as tf_exc

    from heatflow.flows import execution
    zk, pg = servers
    c = cluster_mod.Cluster(pg.create_database("joberr"), zk.hosts,
                            str(tmp_path), size=0)
    cond = conductor_mod.Conductor(c.db_url, zookeeper=c.zk_hosts,
                                   name="solo", session_timeout=2.0,
                                   plugin_dirs=[conftest.PLUGIN_DIR])
    try:
        c.orch.create_stack("s", chain(n=1))
        (job,) = cluster_mod.jobs_for(cond.board, c.orch.get_stack("s").id)

        def restarting(*args, **kwargs):
            try:
                raise sa.exc.OperationalError("SELECT", {}, Exception(
                    "server closed the connection unexpectedly"))
            except sa.exc.OperationalError as exc:
                raise tf_exc.StorageFailure("Failed getting flow details",
                                            exc)
        monkeypatch.setattr(execution, "load_plan", restarting)
        with caplog.at_level(logging.INFO, logger="heatflow"):
            assert cond.dispatch(job) is False          # released
        failed = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.exc_info for r in failed] == [None], caplog.text
        assert "the database failed" in failed[0].getMessage()
        assert c.orch.get_stack("s").stack_status == "CREATE_IN_PROGRESS"
    finally:
        cond._tf.wait = lambda timeout=None: True
        cond.close()
        c.close()


def test_a_bug_in_a_statement_is_not_taken_for_an_outage():
    """Only the database going away is said in one line; an error in a
    statement (a bug) keeps its traceback."""
    import sqlalchemy as sa
    from taskflow import exceptions as tf_exc

    def wrapped(error):
        try:
            raise error
        except Exception as exc:
            return tf_exc.StorageFailure("Failed getting flow details", exc)
    away = wrapped(sa.exc.OperationalError("SELECT", {}, Exception(
        "server closed the connection unexpectedly")))
    assert conductor_mod._database_away(away) is not None
    for bug in (sa.exc.IntegrityError("INSERT", {}, Exception("dup")),
                sa.exc.ProgrammingError("SELECT", {}, Exception("syntax")),
                sa.exc.NoResultFound()):
        assert conductor_mod._database_away(wrapped(bug)) is None, bug
