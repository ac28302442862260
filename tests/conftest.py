import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


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
