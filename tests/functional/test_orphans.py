"""Operations nobody runs, on the embedded default, through the command
line as a user meets them: Ctrl-C on --wait stops the waiting, not the
operation; a worker killed mid-operation is noticed by whoever follows
the stack and finished by one worker on ``stack continue`` (or by the next
write command), never half run by a command that then exits; a suspend
too (``stack resume`` is Heat's, of a suspended stack)."""

import collections
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests import conftest

#: Three Test::Thing in a chain, 1.5 s each: long enough to land in.
CHAIN = {"heat_template_version": "2018-08-31", "resources": {
    "t%d" % i: {"type": "Test::Thing",
                "properties": {"name": "t%d" % i, "delay": 1.5},
                **({"depends_on": "t%d" % (i - 1)} if i else {})}
    for i in range(3)}}


def _ctrl_c_as_at_a_terminal():
    # A shell starts background jobs with SIGINT ignored, and Python then
    # never turns it into KeyboardInterrupt: a suite run as `tox &` would
    # see Ctrl-C do nothing.  The command gets it as a user's would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def cli(db_url, cloud, tmp_path):
    template = tmp_path / "chain.yaml"
    template.write_text(json.dumps(CHAIN))
    other = tmp_path / "other.yaml"
    other.write_text(json.dumps({
        "heat_template_version": "2018-08-31", "resources": {
            "o": {"type": "Test::Thing", "properties": {"name": "o"}}}}))
    files = {"TEMPLATE": str(template), "OTHER": str(other)}

    def start(*args):
        return subprocess.Popen(
            [sys.executable, "-m", "heatflow", "--db-url", db_url,
             "--plugin-dir", conftest.PLUGIN_DIR] + [
                files.get(a, a) for a in args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=str(tmp_path), preexec_fn=_ctrl_c_as_at_a_terminal)

    def run(*args, timeout=90):
        proc = start(*args)
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err

    run.start = start
    return run


def status(cli, name):
    code, out, err = cli("-f", "json", "stack", "show", name)
    assert code == 0, err
    return json.loads(out)["stack_status"]


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out waiting for " + what
        time.sleep(0.1)


def created_things(cloud):
    return collections.Counter(j["props"]["name"] for j in cloud.journal()
                               if j["event"] == "create")


def workers(db_url):
    """Live detached workers (``python -m heatflow.runners.local``) on
    the database ``db_url`` (given them in their environment)."""
    found = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        pid = path.split("/")[2]
        try:
            with open(path, "rb") as f:
                command = f.read()
            with open("/proc/%s/environ" % pid, "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if b"heatflow.runners.local" in command and \
                ("HEATFLOW_DB_URL=" + db_url).encode() in environ:
            found.append(int(pid))
    return found


def create_and_kill_the_worker(cli, cloud, db_url):
    """Create stack s without waiting; SIGKILL its worker once the first
    resource is being made."""
    code, _, err = cli("stack", "create", "s", "-t", "TEMPLATE")
    assert code == 0, err
    wait_for(lambda: created_things(cloud), 30, "the first create")
    (worker,) = workers(db_url)
    os.kill(worker, signal.SIGKILL)


def test_ctrl_c_stops_the_waiting_and_the_create_goes_on(cli, cloud):
    waiting = cli.start("stack", "create", "s", "-t", "TEMPLATE", "--wait")
    wait_for(lambda: created_things(cloud), 30, "the first create")
    waiting.send_signal(signal.SIGINT)
    _, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 130
    assert err.strip() == ("Stopped waiting: the CREATE of stack s goes on; "
                           "follow it with: heatflow stack event list s "
                           "--follow")
    wait_for(lambda: status(cli, "s") != "CREATE_IN_PROGRESS", 60,
             "the create to settle")
    assert status(cli, "s") == "CREATE_COMPLETE"
    assert created_things(cloud) == {"t0": 1, "t1": 1, "t2": 1}


def test_a_killed_worker_is_noticed_and_one_worker_finishes_it(
        cli, cloud, db_url):
    create_and_kill_the_worker(cli, cloud, db_url)

    code, _, err = cli("stack", "event", "list", "s", "--follow")
    assert code == 1
    assert err.strip() == (
        "ERROR: nobody is running the CREATE of stack s any more (the "
        "process running it ended); continue it with: heatflow stack "
        "continue s")
    assert status(cli, "s") == "CREATE_IN_PROGRESS"

    # Two users continue it at once: one worker runs it, nothing twice.
    first = cli.start("stack", "continue", "s", "--wait")
    code, out, err = cli("stack", "continue", "s", "--wait")
    assert code == 0, err
    assert first.wait(timeout=60) == 0
    assert status(cli, "s") == "CREATE_COMPLETE"
    things = created_things(cloud)
    # t0 may be created again only if the kill landed inside its create
    # (the plugin adopts by name, so nothing is left twice)
    assert set(things) == {"t0", "t1", "t2"}
    assert sorted(props["name"] for props in cloud.reality().values()) \
        == ["t0", "t1", "t2"]

    code, _, err = cli("stack", "continue", "s")
    assert code == 1
    assert err.strip() == ("ERROR: stack s is CREATE_COMPLETE: no operation "
                           "is in progress to continue")


def test_the_next_write_command_hands_an_orphan_to_a_worker(
        cli, cloud, db_url):
    create_and_kill_the_worker(cli, cloud, db_url)
    # an unrelated command that changes a stack, and exits
    other = cli.start("stack", "create", "other", "-t", "OTHER")
    _, err = other.communicate(timeout=60)
    assert other.returncode == 0, err
    wait_for(lambda: status(cli, "s") != "CREATE_IN_PROGRESS", 60,
             "the orphan to be finished after that command exited")
    assert status(cli, "s") == "CREATE_COMPLETE"
    # by a worker, not by the command that found it
    finishing = {j["pid"] for j in cloud.journal()
                 if j["event"] == "create" and j["props"]["name"] == "t2"}
    assert finishing and other.pid not in finishing


def test_a_suspend_whose_worker_died_is_continued(cli, cloud, db_url):
    code, _, err = cli("stack", "create", "s", "-t", "TEMPLATE", "--wait")
    assert code == 0, err
    code, _, err = cli("stack", "suspend", "s")
    assert code == 0, err

    def suspended():
        return [j["props"]["name"] for j in cloud.journal()
                if j["event"] == "suspend"]
    wait_for(suspended, 30, "the first suspend")
    (worker,) = workers(db_url)
    os.kill(worker, signal.SIGKILL)
    assert status(cli, "s") == "SUSPEND_IN_PROGRESS"
    # "resume" is Heat's, of a suspended stack: not this.
    code, _, err = cli("stack", "resume", "s")
    assert code == 1 and "heatflow stack continue s" in err
    code, out, err = cli("stack", "continue", "s", "--wait")
    assert code == 0, err
    assert status(cli, "s") == "SUSPEND_COMPLETE"
    # Dependents first, each once (the one in flight was polled to its
    # end, not started again).
    assert suspended() == ["t2", "t1", "t0"]
