"""A conductor's ZooKeeper session listener: it runs on kazoo's thread,
which skips the rest of its work if the listener raises."""

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
