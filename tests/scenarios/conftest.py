"""Fixtures of the scenario suite.

``s`` is a :class:`~tests.scenarios.framework.Scenario` on a fresh
Orchestrator (SQLite file in ``tmp_path``).  After the test function
returns, still inside the test's call phase (so ``xfail`` covers it), the
framework checks reality with ``s.verify()``.
"""

import os

import pytest

import heatflow

from tests.scenarios import framework


@pytest.fixture
def s(tmp_path):
    orch = heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db"),
                                 poll_interval=(0.002, 0.02))
    scenario = framework.Scenario(orch)
    yield scenario
    scenario.shutdown()


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    result = yield
    scenario = pyfuncitem.funcargs.get("s")
    # Always, also after a test's own verify(): what a test states or does
    # after one (a reality, another step) is checked too.
    if isinstance(scenario, framework.Scenario):
        if os.environ.get("SCENARIO_SABOTAGE"):
            framework.sabotage(scenario)
        scenario.verify()
    return result
