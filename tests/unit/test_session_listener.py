"""A conductor's ZooKeeper session listener: it runs on kazoo's thread,
which skips the rest of its work if the listener raises."""

import sqlalchemy as sa
from kazoo.protocol import states as kazoo_states

from heatflow.runners import conductor as conductor_mod


def test_the_session_listener_never_raises(monkeypatch, caplog):
    """kazoo calls the listener on its own thread and skips the rest of
    its work if it raises: trouble while fencing is logged, not raised."""
    cond = conductor_mod.Conductor.__new__(conductor_mod.Conductor)
    cond.name = "c1"

    def broken(state):
        raise RuntimeError("fencing failed")
    cond._fence_every_run = broken
    cond._session_changed(kazoo_states.KazooState.SUSPENDED)
    assert "handling ZooKeeper state SUSPENDED: RuntimeError: fencing " \
        "failed" in caplog.text


class _Job:
    uuid = "j1"
    details = {"stack_id": "s1", "traversal": "t1"}


def _conductor_whose_database(raises):
    cond = conductor_mod.Conductor.__new__(conductor_mod.Conductor)
    cond.name = "c1"

    class Store:
        def get_stack_by_id(self, stack_id):
            raise raises

    class Db:
        store = Store()
    cond.db = Db()
    return cond


def test_a_dispatch_in_trouble_releases_its_job_and_never_raises(caplog):
    """TaskFlow's conductor throws away the job of a dispatch that raised:
    the operation would sit on no board until the watchdog posted it
    again.  The database away (PostgreSQL restarting) before the run
    even starts: the job goes back, said in one line."""
    away = sa.exc.OperationalError(
        "SELECT ...", {}, Exception("server closed the connection"))
    cond = _conductor_whose_database(away)
    assert cond.dispatch(_Job()) is False
    assert "job j1: the database failed" in caplog.text
    assert "Traceback" not in caplog.text
    # A bug is a bug: a traceback, and the job still goes back.
    caplog.clear()
    cond = _conductor_whose_database(KeyError("traversal"))
    assert cond.dispatch(_Job()) is False
    assert "job j1 failed in conductor c1" in caplog.text
    assert "KeyError" in caplog.text
