"""examples/dev_cluster.sh, as docs/conductors.rst tells a newcomer to use
it: bring a cluster up, source its env file, create a stack through the
conductors, stop it, start it again with its data, and purge it."""

import glob
import os
import shutil
import subprocess
import sys

import pytest

from tests import servers
from tests.functional import conftest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                      "dev_cluster.sh")
TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                        "templates", "demo.yaml")


@pytest.fixture
def cluster_dir(tmp_path):
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") or \
            not os.path.exists("/usr/share/java/zookeeper.jar") or \
            not shutil.which("java"):
        conftest._unavailable("the dev cluster needs Debian's zookeeper "
                              "and postgresql packages and Java")
    path = tmp_path / "cluster"
    yield str(path)
    # whatever the test did, nothing may outlive it
    subprocess.run(["bash", SCRIPT, "down", "--dir", str(path), "--purge"],
                   env=_env(), capture_output=True, timeout=120)


def _env(extra=None):
    env = dict(os.environ, HEATFLOW="%s -m heatflow" % sys.executable)
    for key in ("HEATFLOW_DB_URL", "HEATFLOW_ZOOKEEPER"):
        env.pop(key, None)
    env.update(extra or {})
    return env


def script(*args):
    proc = subprocess.run(["bash", SCRIPT] + list(args), env=_env(),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def sourced(cluster_dir):
    """The variables ``source DIR/env`` sets."""
    out = subprocess.run(
        ["bash", "-c", 'source "$1/env" && echo "$HEATFLOW_DB_URL" && '
         'echo "$HEATFLOW_ZOOKEEPER"', "-", cluster_dir],
        capture_output=True, text=True, check=True).stdout.split()
    return {"HEATFLOW_DB_URL": out[0], "HEATFLOW_ZOOKEEPER": out[1]}


def heatflow(env, *args):
    proc = subprocess.run([sys.executable, "-m", "heatflow"] + list(args),
                          env=_env(env), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def processes_under(path):
    """Live processes whose command line or environment names ``path``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/environ" % pid, "rb") as f:
                cmd += f.read()
        except OSError:
            continue
        if path.encode() in cmd:
            found.append(int(pid))
    return found


def conductor_pids(cluster_dir):
    pids = []
    for pidfile in glob.glob(os.path.join(cluster_dir, "conductor-*.pid")):
        with open(pidfile) as f:
            pids.append(int(f.read()))
    return pids


def test_a_cluster_comes_up_runs_a_stack_and_goes_away(cluster_dir):
    out = script("up", "--dir", cluster_dir, "--conductors", "2")
    assert "zookeeper   running" in out and "postgresql  running" in out
    assert out.count("running, pid") == 2
    assert "source %s/env" % cluster_dir in out
    env = sourced(cluster_dir)
    assert env["HEATFLOW_DB_URL"].startswith("postgresql+psycopg2://")
    # the password is not on any command line
    password = env["HEATFLOW_DB_URL"].split(":")[2].split("@")[0]
    for pid in conductor_pids(cluster_dir):
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            assert password.encode() not in f.read()

    heatflow(env, "stack", "create", "w", "-t", TEMPLATE, "--wait")
    shown = heatflow(env, "-f", "json", "stack", "show", "w")
    assert '"stack_status": "CREATE_COMPLETE"' in shown
    logs = "".join(open(p).read() for p in glob.glob(
        os.path.join(cluster_dir, "conductor-*.log")))
    assert "runs job" in logs           # a conductor ran it, not the client

    conductors = conductor_pids(cluster_dir)
    out = script("down", "--dir", cluster_dir)
    assert "data stays" in out
    assert processes_under(cluster_dir) == []
    assert not [pid for pid in conductors if servers._pid_alive(pid)]

    # up again: the same servers, with the stack still there
    script("up", "--dir", cluster_dir, "--conductors", "1")
    assert sourced(cluster_dir) == env
    assert '"name": "w"' in heatflow(env, "-f", "json", "stack", "list")

    conductors = conductor_pids(cluster_dir)
    script("down", "--dir", cluster_dir, "--purge")
    assert not os.path.exists(cluster_dir)
    assert processes_under(cluster_dir) == []
    assert not [pid for pid in conductors if servers._pid_alive(pid)]
