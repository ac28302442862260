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
    requested, stale, asked = [], [], threading.Event()

    def run_then_request(plan):
        got = run_flow(plan)
        if not requested:
            # The engine has stopped; its thread has not yet looked for a
            # pending rollback.
            requested.append(orch.rollback_stack("st"))
            # A run that has lost the operation (taken over) never picks
            # up its rollback: the run now owning it does.
            lost = plan.op.for_run(plan.op.runtime, "a-run-taken-over")
            stale.append(executor.pending_rollback(lost))
            asked.set()
        return got

    monkeypatch.setattr(executor, "run_flow", run_then_request)
    orch.create_stack("st", {"heat_template_version": "2018-08-31",
                             "resources": {"r": {"type": "Test::Refuses"}}},
                      disable_rollback=True)
    assert asked.wait(30)
    stack = requested[0].wait(10)
    assert stack.stack_status == "ROLLBACK_COMPLETE", stack.status_reason
    assert stale == [None]


STARTED, GO = threading.Event(), threading.Event()


class Held(resource.Resource):
    """A create that completes once the test says so."""

    def handle_create(self):
        STARTED.set()

    def check_create_complete(self, token):
        return GO.is_set()


def test_no_rollback_is_pending_for_an_operation_stopped_by_close(tmp_path,
                                                                  monkeypatch):
    # An Orchestrator closing under a create stops its engine (SUSPENDED)
    # with the stack still CREATE_IN_PROGRESS, for the next one to resume:
    # that is no rollback to carry out, though the flow is suspended as a
    # failure with rollback disabled leaves it.
    STARTED.clear()
    GO.clear()
    orch = heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db"),
                                 poll_interval=(0.005, 0.05))
    orch.register_plugin("Test::Held", Held)
    executor = orch._runner.executor
    run_flow, pending = executor.run_flow, []

    def run_then_ask(plan):
        got = run_flow(plan)
        pending.append(executor.pending_rollback(plan.op))
        return got
    monkeypatch.setattr(executor, "run_flow", run_then_ask)
    orch.create_stack("st", {"heat_template_version": "2018-08-31",
                             "resources": {
                                 "a": {"type": "Test::Held"},
                                 "b": {"type": "Test::Held",
                                       "depends_on": "a"}}})
    assert STARTED.wait(30)
    closing = threading.Thread(target=orch.close)
    closing.start()
    GO.set()                # a completes; b is never started
    closing.join(30)
    assert not closing.is_alive()
    assert pending == [None]
    with heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db")) as o:
        # (this one resumes the create and finishes it)
        assert o.get_stack("st").action == "CREATE"
