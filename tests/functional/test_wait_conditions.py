"""OS::Heat::WaitCondition and WaitConditionHandle as a template author
meets them: the create waits until the handle has ``count`` SUCCESS
signals -- sent from another process while it waits, or before, or while
no engine runs at all -- fails on a FAILURE signal or when its timeout
passes (a timeout that a crash does not restart), and hands the signals'
data on as its ``data`` attribute."""

import json
import os
import signal as signals
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import heatflow
from heatflow import exception
from heatflow.plugins import wait_condition


def template(count=1, timeout=30, handle="handle"):
    return {
        "heat_template_version": "2018-08-31",
        "resources": {
            "handle": {"type": "OS::Heat::WaitConditionHandle"},
            "other": {"type": "OS::Heat::None"},
            "wait": {"type": "OS::Heat::WaitCondition", "properties": {
                "handle": {"get_resource": handle}, "count": count,
                "timeout": timeout}},
            "after": {"type": "OS::Heat::Value", "properties": {
                "value": {"get_attr": ["wait", "data"]}}},
        },
        "outputs": {"data": {"value": {"get_attr": ["wait", "data"]}},
                    "token": {"value": {"get_attr": ["handle", "token"]}},
                    "curl": {"value": {"get_attr": ["handle", "curl_cli"]}}},
    }


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(wait_condition.WaitCondition, "poll_seconds", 0.1)
    monkeypatch.delenv(wait_condition.RECEIVER_URL, raising=False)


def state(orch, name="s", resource="wait"):
    res, = [r for r in orch.list_resources(name) if r.name == resource]
    return res.resource_status, res.status_reason


def wait_until(predicate, timeout=30):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def waiting(orch, name="s"):
    """The WaitCondition's create has begun (and is waiting)."""
    def begun():
        try:
            resources = orch.list_resources(name)
        except exception.StackNotFound:
            return False        # (another process has yet to create it)
        return any(r.name == "wait" and
                   r.resource_status == "CREATE_IN_PROGRESS"
                   for r in resources)
    return begun


def cli_signal(db_url, name, resource, data):
    """`heatflow stack resource signal` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "heatflow", "--db-url", db_url, "stack",
         "resource", "signal", name, resource, "--data", json.dumps(data)],
        capture_output=True, text=True, timeout=60, env=dict(os.environ))


def test_the_create_completes_on_a_signal_from_another_process(orch, db_url):
    op = orch.create_stack("s", template())
    wait_until(waiting(orch))
    time.sleep(0.3)             # a few polls that find nothing
    assert state(orch)[0] == "CREATE_IN_PROGRESS"
    assert state(orch, resource="after")[0] == "INIT_COMPLETE"
    sent = cli_signal(db_url, "s", "handle",
                      {"status": "SUCCESS", "reason": "booted",
                       "data": "10.0.0.5", "id": "web"})
    assert (sent.returncode, sent.stderr) == (0, "")
    st = op.wait(timeout=60)
    assert st.stack_status == "CREATE_COMPLETE", st.status_reason
    assert st.outputs["data"] == '{"web": "10.0.0.5"}'
    assert len(st.outputs["token"]) >= 32
    # No signal receiver was configured where the handle was created.
    assert st.outputs["curl"] is None
    events = [(e.resource_name, e.action, e.status, e.reason)
              for e in orch.list_events("s")]
    assert ("handle", "SIGNAL", "COMPLETE",
            "Signal: Signal web received") in events
    # What waited for the wait condition ran after it, with its data.
    assert events.index(("wait", "CREATE", "COMPLETE", "state changed")) < \
        events.index(("after", "CREATE", "IN_PROGRESS", ""))


def test_count_signals_are_needed_and_an_id_counts_once(orch):
    op = orch.create_stack("s", template(count=3))
    wait_until(waiting(orch))
    orch.signal_resource("s", "handle", {"id": "a", "data": 1})
    orch.signal_resource("s", "handle", {"id": "a", "data": 2})
    orch.signal_resource("s", "handle")       # id 2: the signals' number
    time.sleep(0.5)
    assert state(orch)[0] == "CREATE_IN_PROGRESS"
    orch.signal_resource("s", "handle", {"data": "x"})
    st = op.wait(timeout=60)
    assert st.stack_status == "CREATE_COMPLETE", st.status_reason
    assert json.loads(st.outputs["data"]) == {"2": None, "3": "x", "a": 2}


def eight_signals_at_once(orch):
    """Create a stack waiting for 8 signals and send them from 8 threads
    at the same moment, none with an id: each must get a number of its
    own (none overwrites another that read the same count)."""
    op = orch.create_stack("s", template(count=8, timeout=20))
    wait_until(waiting(orch))
    start = threading.Barrier(8)

    def send(n):
        start.wait()
        orch.signal_resource("s", "handle", {"data": n})
    senders = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(60)
    st = op.wait(timeout=60)
    assert st.stack_status == "CREATE_COMPLETE", st.status_reason
    data = json.loads(st.outputs["data"])
    assert sorted(data) == [str(n) for n in range(1, 9)]
    assert sorted(data.values()) == list(range(8))


def test_signals_sent_at_once_without_ids_are_each_counted(orch):
    eight_signals_at_once(orch)


def test_signals_sent_before_the_wait_count(orch):
    """The handle is created first: a machine that boots fast signals
    before the WaitCondition even starts."""
    st = orch.create_stack("s", {
        "heat_template_version": "2018-08-31",
        "resources": {"handle": {"type": "OS::Heat::WaitConditionHandle"}}}
    ).wait(timeout=60)
    assert st.stack_status == "CREATE_COMPLETE"
    orch.signal_resource("s", "handle", {"data": "early"})
    st = orch.update_stack("s", template()).wait(timeout=60)
    assert st.stack_status == "UPDATE_COMPLETE", st.status_reason
    assert st.outputs["data"] == '{"1": "early"}'


def test_an_update_raising_count_waits_again(orch):
    """Heat's: an update of ``count`` waits in place for the signals
    still missing (those the handle has count); nothing is replaced."""
    op = orch.create_stack("s", template(count=1))
    wait_until(waiting(orch))
    orch.signal_resource("s", "handle", {"data": "first"})
    assert op.wait(timeout=60).stack_status == "CREATE_COMPLETE"
    wait_id = [r.physical_resource_id for r in orch.list_resources("s")
               if r.name == "wait"]
    op = orch.update_stack("s", template(count=2))
    wait_until(lambda: state(orch)[0] == "UPDATE_IN_PROGRESS")
    time.sleep(0.3)
    assert state(orch)[0] == "UPDATE_IN_PROGRESS"
    orch.signal_resource("s", "handle", {"data": "second"})
    st = op.wait(timeout=60)
    assert st.stack_status == "UPDATE_COMPLETE", st.status_reason
    assert st.outputs["data"] == '{"1": "first", "2": "second"}'
    assert [r.physical_resource_id for r in orch.list_resources("s")
            if r.name == "wait"] == wait_id


def test_a_failure_signal_fails_the_create(orch):
    op = orch.create_stack("s", template(count=2))
    wait_until(waiting(orch))
    orch.signal_resource("s", "handle", {"status": "SUCCESS"})
    orch.signal_resource("s", "handle", {"status": "FAILURE",
                                         "reason": "disk full"})
    st = op.wait(timeout=60)
    assert st.stack_status == "CREATE_FAILED"
    assert state(orch) == ("CREATE_FAILED", "disk full")
    assert st.status_reason == "Resource CREATE failed: wait: disk full"


def test_the_timeout_fails_the_create(orch):
    started = time.monotonic()
    op = orch.create_stack("s", template(count=2, timeout=1))
    wait_until(waiting(orch))
    orch.signal_resource("s", "handle", {"reason": "one is up"})
    st = op.wait(timeout=60)
    assert time.monotonic() - started < 10
    assert st.stack_status == "CREATE_FAILED"
    assert state(orch) == ("CREATE_FAILED", "1 of 2 received - one is up")


def test_bad_signals_are_refused_and_write_nothing(orch):
    op = orch.create_stack("s", template())
    wait_until(waiting(orch))
    for bad in ({"status": "MAYBE"}, {"status": "SUCCESS", "colour": 1},
                "SUCCESS", [1]):
        with pytest.raises(exception.ResourceFailure,
                           match="a wait condition signal is a JSON object"):
            orch.signal_resource("s", "handle", bad)
    with pytest.raises(exception.ActionNotAllowed, match="takes no signal"):
        orch.signal_resource("s", "wait", {})
    assert [e for e in orch.list_events("s") if e.action == "SIGNAL"] == []
    orch.signal_resource("s", "handle", {})
    assert op.wait(timeout=60).outputs["data"] == '{"1": null}'


def test_a_handle_that_is_none_fails_the_create(orch):
    st = orch.create_stack("s", template(handle="other")).wait(timeout=60)
    assert st.stack_status == "CREATE_FAILED"
    assert state(orch)[1] == "other is not a valid wait condition handle."


def test_the_handle_points_at_the_signal_receiver_when_there_is_one(
        orch, monkeypatch):
    monkeypatch.setenv(wait_condition.RECEIVER_URL, "http://10.0.0.1:8000/")
    op = orch.create_stack("s", template())
    wait_until(waiting(orch))
    orch.signal_resource("s", "handle")
    st = op.wait(timeout=60)
    stack_id = orch.get_stack("s").id
    endpoint = "http://10.0.0.1:8000/signal/%s/handle" % stack_id
    assert st.outputs["curl"] == (
        "curl -i -X POST -H 'X-Auth-Token: %s' -H 'Content-Type: "
        "application/json' -H 'Accept: application/json' %s"
        % (st.outputs["token"], endpoint))


# -- an engine that dies while the create waits ----------------------------

CREATE_AND_WAIT = textwrap.dedent("""
    import json, sys, time
    import heatflow
    from heatflow.plugins import wait_condition
    wait_condition.WaitCondition.poll_seconds = 0.1
    orch = heatflow.Orchestrator(sys.argv[1])
    orch.create_stack("s", json.loads(sys.argv[2]))
    time.sleep(600)
""")


def _killed_while_waiting(db_url, tmpl):
    proc = subprocess.Popen([sys.executable, "-c", CREATE_AND_WAIT, db_url,
                             json.dumps(tmpl)], env=dict(os.environ))
    try:
        with heatflow.Orchestrator(db_url, resume=False) as reader:
            wait_until(waiting(reader))
            # the wait's token (its end) is stored with the row
            wait_until(lambda: _token(reader) is not None)
        proc.send_signal(signals.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()


def _token(orch):
    stack = orch.db.store.find_stack("s")
    row, = [r for r in orch.db.store.list_resources(stack.id)
            if r.name == "wait"]
    return row.action_token


def test_a_signal_sent_while_no_engine_runs_completes_the_resumed_create(
        db_url):
    _killed_while_waiting(db_url, template())
    with heatflow.Orchestrator(db_url, resume=False) as orch:
        assert orch.get_stack("s").stack_status == "CREATE_IN_PROGRESS"
        orch.signal_resource("s", "handle", {"data": "kept"})
    # The next Orchestrator resumes the create, which finds the signal.
    with heatflow.Orchestrator(db_url) as orch:
        st = orch.operation("s").wait(timeout=60)
        assert st.stack_status == "CREATE_COMPLETE", st.status_reason
        assert st.outputs["data"] == '{"1": "kept"}'


def test_the_timeout_is_not_restarted_by_a_resume(db_url):
    _killed_while_waiting(db_url, template(timeout=2))
    time.sleep(2.5)             # the wait's end passes while nobody runs
    started = time.monotonic()
    with heatflow.Orchestrator(db_url) as orch:
        st = orch.operation("s").wait(timeout=60)
        assert time.monotonic() - started < 1.5
        assert st.stack_status == "CREATE_FAILED"
        assert state(orch) == ("CREATE_FAILED", "0 of 1 received")


def test_a_wait_condition_in_a_nested_stack_takes_a_signal_by_its_path(
        tmp_path):
    """A child stack's handle is signalled through the child's path
    (parent/resource); the parent's create completes with it."""
    import yaml
    orch = heatflow.Orchestrator("sqlite:///%s" % (tmp_path / "n.db"),
                                 poll_interval=(0.005, 0.05))
    try:
        parent = {"heat_template_version": "2018-08-31", "resources": {
            "tier": {"type": "tier.yaml"}},
            "outputs": {"data": {"value": {"get_attr": ["tier", "data"]}}}}
        child = template()
        child["outputs"] = {"data": child["outputs"]["data"]}
        op = orch.create_stack("s", parent, files={
            "tier.yaml": yaml.safe_dump(child)})
        wait_until(lambda: any(
            r.name == "handle" and r.resource_status == "CREATE_COMPLETE"
            for r in orch.list_resources("s", nested_depth=1)))
        orch.signal_resource("s/tier", "handle",
                             {"status": "SUCCESS", "data": "ready"})
        stack = op.wait(60)
        assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
        assert json.loads(stack.outputs["data"]) == {"1": "ready"}
    finally:
        orch.close()
