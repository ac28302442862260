"""Resource timeouts and retries, and the stack's deadline."""

from tests.functional.test_api import hot, thing


def test_resource_timeout_fails_the_resource(orch, cloud):
    t = hot({"slow": dict(thing(name="slow", delay=30), timeout=0.3)})
    stack = orch.create_stack("t", t).wait(30)
    assert stack.stack_status == "CREATE_FAILED"
    assert stack.status_reason == (
        "Resource CREATE failed: slow: CREATE timed out after 0.3 s")
    (r,) = orch.list_resources("t")
    assert r.resource_status == "CREATE_FAILED"


def test_failed_attempts_are_retried(orch, cloud):
    t = hot({"flaky": dict(thing(name="flaky", fail_first=2), retries=2)})
    stack = orch.create_stack("r", t).wait(30)
    assert stack.stack_status == "CREATE_COMPLETE"
    attempts = [j for j in cloud.journal() if j["event"] == "attempt"]
    assert len(attempts) == 3
    assert len(cloud.reality()) == 1


def test_retries_run_out(orch, cloud):
    t = hot({"flaky": dict(thing(name="flaky", fail_first=5), retries=1)})
    stack = orch.create_stack("r", t).wait(30)
    assert stack.stack_status == "CREATE_FAILED"
    assert stack.status_reason.endswith("attempt 2 failed")
    assert len([j for j in cloud.journal() if j["event"] == "attempt"]) == 2


def test_timed_out_attempt_is_deleted_before_the_retry(orch, cloud):
    t = hot({"slow": dict(thing(name="slow", delay=30), timeout=0.2,
                          retries=1)})
    stack = orch.create_stack("t", t).wait(30)
    assert stack.stack_status == "CREATE_FAILED"
    events = [j["event"] for j in cloud.journal()]
    # attempt 1 created a thing, which was deleted before attempt 2.
    assert events == ["attempt", "create", "delete", "attempt", "create"]


def test_stack_deadline(orch, cloud):
    t = hot({"slow": thing(name="slow", delay=30)})
    stack = orch.create_stack("d", t, timeout_mins=0.01).wait(30)
    assert stack.stack_status == "CREATE_FAILED"
    assert stack.status_reason == (
        "Resource CREATE failed: slow: Stack CREATE timed out")


def test_timeout_with_rollback(orch, cloud):
    t = hot({"ok": thing(name="ok"),
             "slow": dict(thing(name="slow", delay=30,
                                ref={"get_resource": "ok"}), timeout=0.2)})
    stack = orch.create_stack("d", t, disable_rollback=False).wait(30)
    assert stack.stack_status == "ROLLBACK_COMPLETE"
    assert cloud.reality() == {}
