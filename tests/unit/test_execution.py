"""What stopped an engine: heatflow's database (the stack's failure, said
in one line) or anything else (left to the revert handling)."""

import sqlalchemy as sa
from taskflow import exceptions as tf_exc

from heatflow import exception
from heatflow.flows import execution


def _disk_full():
    return sa.exc.OperationalError(
        "INSERT INTO hf_events ...", {}, Exception("database or disk is full"))


def _raised(outer, cause):
    """``outer`` raised from ``cause``, as TaskFlow and heatflow raise."""
    try:
        try:
            raise cause
        except Exception as exc:
            raise outer from exc
    except Exception as exc:
        return exc


def test_taskflow_storage_failures_are_the_databases():
    wrapped = _raised(tf_exc.StorageFailure("Failed updating atom details"),
                      _disk_full())
    got = execution.storage_failure(wrapped)
    assert isinstance(got, exception.EngineStorageError)
    assert str(got) == "engine storage error: (builtins.Exception) " \
        "database or disk is full"


def test_a_taskflow_failure_carrying_its_cause_is_followed():
    # TaskFlow's raise_with_cause keeps the cause on the exception itself.
    failure = tf_exc.StorageFailure("Failed updating flow details",
                                    cause=_disk_full())
    got = execution.storage_failure(failure)
    assert isinstance(got, exception.EngineStorageError)
    assert "disk is full" in str(got)


def test_the_stores_own_error_is_passed_on_as_it_is():
    err = exception.EngineStorageError(_disk_full())
    assert execution.storage_failure(_raised(RuntimeError("engine"),
                                             err)) is err


def test_other_failures_are_not_the_databases():
    assert execution.storage_failure(ValueError("plugin")) is None
    assert execution.storage_failure(
        exception.ResourceFailure("r", "CREATE", "boom")) is None
    # A plugin's error whose context (not cause) was a database error is
    # still the plugin's.
    try:
        try:
            raise _disk_full()
        except Exception:
            raise ValueError("the plugin's own")
    except ValueError as exc:
        assert execution.storage_failure(exc) is None


def test_a_long_lived_process_remembers_recent_runs_only():
    # A conductor or a service's DetachedRunner sees runs for weeks: what
    # it remembers of them must not grow with them.
    seen = execution.RecentlySeen(size=3)
    assert seen.add("a") and seen.add("b") and seen.add("c")
    assert not seen.add("a")            # seen: and now the most recent
    assert seen.add("d")                # forgets b, the oldest
    assert "b" not in seen
    assert "a" in seen and "c" in seen and "d" in seen
    for i in range(1000):
        seen.add(i)
    assert len(seen._seen) == 3
