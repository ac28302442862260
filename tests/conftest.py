import os

import pytest

from tests import servers

HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_terminal_summary(terminalreporter):
    """Say loudly that the tests needing real ZooKeeper or PostgreSQL did
    not run (a plain ``s`` is easy to miss); with CI=true they fail
    instead (tests/functional/conftest.py)."""
    reasons = servers.unavailable_skips(
        terminalreporter.stats.get("skipped", []))
    if not reasons:
        return
    tr = terminalreporter
    tr.write_sep("!", "%d TESTS DID NOT RUN: no real ZooKeeper or "
                 "PostgreSQL" % sum(reasons.values()), red=True, bold=True)
    for reason, count in sorted(reasons.items()):
        tr.write_line("  %d skipped: %s" % (count, reason), red=True)
    tr.write_line("  Install the servers (see tests/servers.py); CI=true "
                  "turns this into a failure.", red=True, bold=True)


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    """A fresh test cloud directory (see tests/plugins/cloud.py)."""
    path = tmp_path / "cloud"
    path.mkdir()
    monkeypatch.setenv("HEATFLOW_TEST_CLOUD", str(path))
    from tests.plugins import cloud as cloud_mod
    return cloud_mod


@pytest.fixture
def db_url(tmp_path):
    return "sqlite:///" + str(tmp_path / "heatflow.db")


@pytest.fixture
def orch(db_url, cloud):
    import heatflow
    o = heatflow.Orchestrator(db_url, poll_interval=(0.005, 0.05))
    o.register_plugin("Test::Thing", cloud.Thing)
    yield o
    o.close()


PLUGIN_DIR = os.path.join(HERE, "plugins")
