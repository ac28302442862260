"""heatflow's HTTP signal receiver as a booted machine meets it: the
wait condition handle's ``curl_cli``, run by ``curl`` in a process of its
own, completes the WaitCondition its stack's create waits on; requests
without the handle's token, or with a bad body, get a 4xx and write
nothing; ``heatflow signal-receiver`` serves until SIGTERM."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import heatflow
from heatflow.plugins import wait_condition

TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "handle": {"type": "OS::Heat::WaitConditionHandle"},
        # What a server's user data would carry.
        "boot": {"type": "OS::Heat::Value", "properties": {"value": {
            "get_attr": ["handle", "curl_cli"]}}},
        "wait": {"type": "OS::Heat::WaitCondition", "depends_on": "boot",
                 "properties": {"handle": {"get_resource": "handle"},
                                "timeout": 60}},
    },
    "outputs": {"data": {"value": {"get_attr": ["wait", "data"]}}},
}


@pytest.fixture
def receiver(orch, monkeypatch):
    monkeypatch.setattr(wait_condition.WaitCondition, "poll_seconds", 0.1)
    rcv = heatflow.SignalReceiver(orch).start()
    monkeypatch.setenv(wait_condition.RECEIVER_URL, rcv.url)
    yield rcv
    rcv.close()


def waiting_create(orch):
    """Start the create; once it waits, the boot script (curl_cli)."""
    op = orch.create_stack("s", TEMPLATE)
    end = time.monotonic() + 30
    while True:
        rows = {r.name: r for r in orch.list_resources("s")}
        if rows["wait"].resource_status == "CREATE_IN_PROGRESS":
            break
        assert time.monotonic() < end
        time.sleep(0.02)
    # (recorded on the handle's row: a dependent, boot, reads it)
    return op, rows["handle"].attributes["curl_cli"]


def post(url, body=b"", headers=None, method="POST"):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_in_another_process_completes_the_wait(orch, receiver):
    op, script = waiting_create(orch)
    assert script.startswith("curl -i -X POST -H 'X-Auth-Token: ")
    stack_id = orch.get_stack("s").id
    assert script.endswith(" %s/signal/%s/handle" % (receiver.url, stack_id))
    sent = subprocess.run(
        script + " --data-binary '{\"status\": \"SUCCESS\", \"data\": "
        "\"booted\"}'", shell=True, capture_output=True, text=True,
        timeout=60)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("HTTP/1.0 200")
    assert sent.stdout.endswith('{"reason": "Signal: Signal 1 received"}')
    st = op.wait(timeout=60)
    assert st.stack_status == "CREATE_COMPLETE", st.status_reason
    assert st.outputs["data"] == '{"1": "booted"}'


def test_refused_requests_get_a_4xx_and_write_nothing(orch, receiver):
    op, script = waiting_create(orch)
    token = re.search(r"X-Auth-Token: (\S+)'", script).group(1)
    stack_id = orch.get_stack("s").id
    url = "%s/signal/%s/handle" % (receiver.url, stack_id)
    good = {"X-Auth-Token": token}
    cases = [
        (post(url), 403, "needs the resource's token"),
        (post(url, headers={"X-Auth-Token": token[:-1] + "x"}), 403,
         "no such resource takes signals with this token"),
        (post(url + "?token=" + token[1:]), 403, "no such resource"),
        (post("%s/signal/nope/handle" % receiver.url, headers=good), 403,
         "no such resource"),
        (post("%s/signal/%s/wait" % (receiver.url, stack_id), headers=good),
         403, "no such resource"),
        (post(url, b"{nope", good), 400, "the body is not JSON"),
        (post(url, b'{"status": "MAYBE"}', good), 400,
         "a wait condition signal is a JSON object"),
        (post(url, b"x" * (70 * 1024), good), 413, "65536 bytes at most"),
        (post(url, headers=good, method="GET"), 405, "signals are POSTed"),
        (post(receiver.url + "/signals/" + stack_id, headers=good), 404,
         "no such endpoint"),
    ]
    for (status, body), expected, words in cases:
        assert status == expected, (expected, body)
        assert words in body["error"]
    assert [e for e in orch.list_events("s") if e.action == "SIGNAL"] == []
    # The token also works as a query, and by the stack's name; an empty
    # body is a signal without details.
    assert post("%s/signal/s/handle?token=%s" % (receiver.url, token)) == \
        (200, {"reason": "Signal: Signal 1 received"})
    st = op.wait(timeout=60)
    assert st.stack_status == "CREATE_COMPLETE", st.status_reason
    assert st.outputs["data"] == '{"1": null}'
    # A deleted stack's handle takes no more signals.
    orch.delete_stack("s").wait(timeout=60)
    assert post(url, headers=good)[0] == 403


def handle_token(db_url):
    """Create a stack ``s`` with a wait condition handle; its token."""
    with heatflow.Orchestrator(db_url) as orch:
        st = orch.create_stack("s", {
            "heat_template_version": "2018-08-31",
            "resources": {"handle": {
                "type": "OS::Heat::WaitConditionHandle"}},
            "outputs": {"token": {"value": {
                "get_attr": ["handle", "token"]}}}}).wait(timeout=60)
        assert st.stack_status == "CREATE_COMPLETE", st.status_reason
        return st.outputs["token"]


def test_the_command_serves_until_sigterm(db_url, isolated_cwd):
    proc = subprocess.Popen(
        [sys.executable, "-m", "heatflow", "--db-url", db_url,
         "signal-receiver", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ))
    try:
        line = proc.stdout.readline()
        url = re.search(r"signal receiver at (http://\S+) ", line).group(1)
        assert "HEATFLOW_SIGNAL_URL=%s" % url in line
        status, body = post(url + "/signal/s/handle",
                            headers={"X-Auth-Token": "t"})
        assert status == 403
        # It started before the database existed, and sees it now.
        token = handle_token(db_url)
        assert post(url + "/signal/s/handle", headers={
            "X-Auth-Token": token}) == (200, {
                "reason": "Signal: Signal 1 received"})
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
