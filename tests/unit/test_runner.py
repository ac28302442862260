"""Run lock files: what tells another process that a run is being executed,
and this process that no other run can have taken it over."""

import os

from heatflow.runners import local as runner


def test_a_lock_is_intact_while_held_in_place(tmp_path):
    lock = runner.RunLock(str(tmp_path), "run-1")
    assert not lock.intact()
    assert lock.acquire(blocking=False)
    assert lock.intact()
    assert not runner.RunLock(str(tmp_path), "run-1").acquire(blocking=False)
    lock.release()
    assert not lock.intact()


def test_a_lock_whose_file_was_removed_is_not_intact(tmp_path):
    lock = runner.RunLock(str(tmp_path), "run-1")
    assert lock.acquire(blocking=False)
    os.unlink(lock.path)          # someone tidied the directory
    assert not lock.intact()
    # ... and another process could now lock a file of that name.
    other = runner.RunLock(str(tmp_path), "run-1")
    assert other.acquire(blocking=False)
    assert not lock.intact()
    other.release()


class FakeRuntime:
    liveness = ownership = None

    def use_runs(self, liveness, ownership=None):
        self.liveness, self.ownership = liveness, ownership


class FakeHost:
    db, key = None, "k"

    def __init__(self):
        self.runtime = FakeRuntime()


def test_ownership_comes_from_lock_files_only_where_they_decide_it(tmp_path):
    decided = FakeHost()
    runner.LocalRunner(decided, 1, lock_dir=str(tmp_path),
                       locks_decide_ownership=True).pool.shutdown()
    assert decided.runtime.ownership is not None
    undecided = FakeHost()
    runner.LocalRunner(undecided, 1, lock_dir=str(tmp_path)).pool.shutdown()
    assert undecided.runtime.ownership is None


def test_an_orchestrator_picks_its_runner_once(tmp_path, monkeypatch):
    """Embedded runs here; detached hands each new operation to a worker
    process (started with the stack's id) and runs none here."""
    import heatflow
    from heatflow.runners import local
    url = "sqlite:///" + str(tmp_path / "r.db")
    spawned = []
    monkeypatch.setattr(local, "spawn_worker",
                        lambda stack_id, *args, **kw: spawned.append(
                            stack_id))
    tmpl = {"heat_template_version": "2018-08-31",
            "resources": {"r": {"type": "OS::Heat::None"}}}
    with heatflow.Orchestrator(url) as orch:
        assert type(orch._runner) is local.LocalRunner
        op = orch.create_stack("here", tmpl)
        assert op.wait(30).stack_status == "CREATE_COMPLETE"
    with heatflow.Orchestrator(url, detach=True, resume=False) as orch:
        assert type(orch._runner) is local.DetachedRunner
        op = orch.create_stack("there", tmpl)
        assert spawned == [op.stack_id]
        assert orch.get_stack("there").stack_status == "CREATE_IN_PROGRESS"


def test_an_unreachable_zookeeper_is_said_at_once(tmp_path):
    """A mistyped ZooKeeper address: the Orchestrator says so within its
    connect timeout instead of hanging, and leaves nothing open."""
    import threading
    import time

    import pytest

    import heatflow
    from heatflow import jobs
    before = threading.active_count()
    started = time.monotonic()
    with pytest.raises(heatflow.exception.HeatflowError) as err:
        heatflow.Orchestrator("sqlite:///" + str(tmp_path / "z.db"),
                              zookeeper="127.0.0.1:1",
                              zookeeper_connect_timeout=1.5)
    assert time.monotonic() - started < 1.5 + 2
    assert str(err.value).startswith("ZooKeeper at 127.0.0.1:1 did not "
                                     "answer within 1.5 s")
    assert jobs.CONNECT_TIMEOUT == 15
    time.sleep(0.5)
    assert threading.active_count() <= before


def test_a_conductor_says_an_unreachable_zookeeper_as_the_client_does(
        tmp_path):
    """`heatflow conductor` with a mistyped ZooKeeper address: the same
    one-line message (not kazoo's bare "Connection time-out"), and nothing
    left running."""
    import threading
    import time

    import pytest

    import heatflow
    before = threading.active_count()
    with pytest.raises(heatflow.exception.HeatflowError) as err:
        heatflow.Conductor("sqlite:///" + str(tmp_path / "z.db"),
                           "127.0.0.1:1", connect_timeout=1.5)
    assert str(err.value) == ("ZooKeeper at 127.0.0.1:1 did not answer "
                              "within 1.5 s: is it running, and is that its "
                              "address?")
    time.sleep(0.5)
    assert threading.active_count() <= before
