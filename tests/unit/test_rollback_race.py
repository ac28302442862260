"""A rollback requested just as the operation's engine stopped (a create
failed with rollback disabled): the runner thread that ran it, still
registered as running it, carries the rollback out; ``rollback_stack``
leaves it to that thread rather than start a second run."""

import threading

import pytest

import heatflow
from heatflow import exception, resource


class Refuses(resource.Resource):
    def handle_create(self):
        raise exception.HeatflowError("refused")


@pytest.fixture
def orch(tmp_path):
    o = heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db"))
    o.register_plugin("Test::Refuses", Refuses)
    yield o
    o.close()


def test_a_rollback_requested_as_the_engine_stops_is_carried_out(orch,
                                                                 monkeypatch):
    executor = orch._runner.executor
    run_flow = executor.run_flow
    requested, asked = [], threading.Event()

    def run_then_request(plan):
        got = run_flow(plan)
        if not requested:
            # The engine has stopped; its thread has not yet looked for a
            # pending rollback.
            requested.append(orch.rollback_stack("st"))
            asked.set()
        return got

    monkeypatch.setattr(executor, "run_flow", run_then_request)
    orch.create_stack("st", {"heat_template_version": "2018-08-31",
                             "resources": {"r": {"type": "Test::Refuses"}}},
                      disable_rollback=True)
    assert asked.wait(30)
    stack = requested[0].wait(10)
    assert stack.stack_status == "ROLLBACK_COMPLETE", stack.status_reason
