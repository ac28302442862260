"""Every example script runs, and does what it says."""

import json
import os
import runpy
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


def run_example(name, *args, timeout=180):
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)]
                          + list(args), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_library_usage(tmp_path):
    out = run_example("library_usage.py",
                      "sqlite:///" + str(tmp_path / "lib.db"))
    assert "stack widgets CREATE_COMPLETE" in out
    assert "refused: resources.big.properties.size: value 40 is out of " \
           "range 1..9" in out
    assert "stack widgets DELETE_COMPLETE" in out
    assert out.strip().endswith("widgets in the cloud: {}")


def test_update_during_update(tmp_path):
    out = run_example("update_during_update.py",
                      "sqlite:///" + str(tmp_path / "uu.db"))
    assert "before the update: CREATE_IN_PROGRESS" in out
    assert "after the update:  UPDATE_COMPLETE" in out
    # Nothing was created twice: one CREATE_IN_PROGRESS per resource.
    events = out.split("events:")[1]
    for name in ("db", "app", "web", "cache"):
        assert events.count("%s CREATE_IN_PROGRESS" % name) == 1, events


def test_conductor_cluster(pg_url, zk_hosts, zk_path, zk_client):
    zk_client.ensure_path(zk_path)
    out = run_example("conductor_cluster.py", "--db-url", pg_url,
                      "--zookeeper", zk_hosts + zk_path)
    assert "killing it" in out
    assert "CREATE_COMPLETE" in out.split("finished by")[1]


def _command_line(tmp_path):
    """``heatflow`` on a database of its own, run from the repository's
    top (where the docs' commands are run)."""
    db = "sqlite:///" + str(tmp_path / "demo.db")

    def heatflow(*args):
        return subprocess.run([sys.executable, "-m", "heatflow",
                               "--db-url", db] + list(args),
                              capture_output=True, text=True, timeout=120,
                              cwd=ROOT)
    return heatflow


def test_demo_template_through_the_command_line(tmp_path):
    template = os.path.join(EXAMPLES, "templates", "demo.yaml")
    heatflow = _command_line(tmp_path)

    created = heatflow("stack", "create", "demo", "-t", template, "--wait")
    assert created.returncode == 0, created.stderr
    assert "CREATE_COMPLETE" in created.stdout
    assert "postgresql://app@db/orders" in created.stdout
    deleted = heatflow("stack", "delete", "demo", "--wait", "-y")
    assert deleted.returncode == 0, deleted.stderr
    assert heatflow("stack", "list", "-f", "json").stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["widget.py"])
def test_plugin_directory_example_loads(name):
    ns = runpy.run_path(os.path.join(EXAMPLES, "plugins", name))
    assert "Acme::Widget" in ns["resource_mapping"]()


def test_the_documented_commands_run_with_the_shipped_templates(tmp_path):
    """What README.rst and docs/quickstart.rst show, with the templates in
    examples/templates/ they name."""
    heatflow = _command_line(tmp_path)
    t = "examples/templates/"
    assert heatflow("stack", "create", "demo", "-t", t + "demo.yaml",
                    "--wait").returncode == 0
    assert heatflow("stack", "update", "demo", "--existing", "--parameter",
                    "db_name=shop", "--wait").returncode == 0
    # demo-v2 without --existing: db_name is back to its default
    plan = heatflow("-f", "json", "stack", "update", "demo", "-t",
                    t + "demo-v2.yaml", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert {r["resource_name"]: r["action"] for r in json.loads(
        plan.stdout)} == {"db_password": "replace", "database": "update",
                          "web1": "may update", "cache": "create",
                          "web2": "delete"}
    refused = heatflow("stack", "create", "x", "-t", t + "unknown-type.yaml")
    assert (refused.returncode, refused.stderr.strip()) == (
        1, "ERROR: resources.a.type: unknown resource type "
           "'OS::Nova::Server'")
    broken = heatflow("stack", "create", "broken", "-t", t + "fail.yaml",
                      "--enable-rollback", "--wait")
    assert broken.returncode == 1
    assert "ROLLBACK_COMPLETE" in broken.stdout
    widgets = heatflow("--plugin-dir", "examples/plugins", "stack", "create",
                       "w", "-t", t + "widgets.yaml", "--wait")
    assert widgets.returncode == 0, widgets.stderr
    assert "CREATE_COMPLETE" in widgets.stdout
    # docs/conductors.rst's takeover template, here without the waiting
    slow = heatflow("stack", "create", "slow", "-t", t + "slow.yaml",
                    "--parameter", "seconds=0", "--wait")
    assert slow.returncode == 0, slow.stderr
    assert "[slow]: CREATE_COMPLETE" in slow.stdout
    # README's wait condition: a worker process waits, another process
    # signals
    assert heatflow("stack", "create", "boot", "-t",
                    t + "wait.yaml").returncode == 0
    end = time.time() + 60
    while ("handle", "CREATE_COMPLETE") not in [
            (r["name"], r["resource_status"]) for r in json.loads(heatflow(
                "-f", "json", "stack", "resource", "list", "boot").stdout)]:
        assert time.time() < end, "the handle was not created"
        time.sleep(0.2)
    signal = heatflow("stack", "resource", "signal", "boot", "handle",
                      "--data", '{"data": "up"}')
    assert (signal.returncode, signal.stderr) == (0, "")
    end = time.time() + 60
    while json.loads(heatflow("-f", "json", "stack", "show", "boot").stdout
                     )["stack_status"] != "CREATE_COMPLETE":
        assert time.time() < end, "the wait did not end"
        time.sleep(0.2)
    data = heatflow("stack", "output", "show", "boot", "data")
    assert '{"1": "up"}' in data.stdout, data
