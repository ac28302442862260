"""heatflow/states.py's tables against what a user sees.

The expected outcomes below are written out by hand, from the behaviour
the API has had (heatflow/lifecycle.py before the tables): they do not
read states.py, so a wrong entry there fails here twice -- in the table
itself and in what the Orchestrator then does to a stack in that state.
"""

import itertools

import pytest

import heatflow
from heatflow import exception, resource, states
from heatflow.persistence import models as m

ACTIONS = ("CREATE", "UPDATE", "DELETE", "ROLLBACK", "CHECK", "SUSPEND",
           "RESUME")
STATUSES = ("IN_PROGRESS", "COMPLETE", "FAILED")
PHASES = ("converge", "cleanup")

# rollback_stack, by (action, status): (converging, cleaning up); any other
# state: refused.
ROLLBACK_EXPECTED = {
    ("CREATE", "IN_PROGRESS"): ("revert", "converge back"),
    ("UPDATE", "IN_PROGRESS"): ("revert", "converge back"),
    ("CREATE", "FAILED"): ("revert", "converge back"),
    ("UPDATE", "FAILED"): ("revert", "converge back"),
    ("ROLLBACK", "IN_PROGRESS"): ("join", "join"),
    ("ROLLBACK", "FAILED"): ("converge back", "converge back"),
}
# cancel_update(rollback=False): only a running create or update.
CANCEL_EXPECTED = {("CREATE", "IN_PROGRESS"): "stop",
                   ("UPDATE", "IN_PROGRESS"): "stop"}


#: check, suspend, resume (Heat's): from any settled state ("start"), never
#: while an operation runs; suspending a suspended stack or resuming a
#: resumed one does nothing ("already").
ACTING = ("check", "suspend", "resume")


def expected(request, action, status, phase):
    if request == "update" and action == "SUSPEND":
        return None                   # resume it first (Heat)
    if request in ("update", "delete"):
        return "supersede"            # from anything, whatever runs
    if request in ACTING:
        if status == "IN_PROGRESS":
            return None
        if (action, status) == (request.upper(), "COMPLETE") and \
                request != "check":
            return "already"
        return "start"
    if request == "cancel":
        return CANCEL_EXPECTED.get((action, status))
    both = ROLLBACK_EXPECTED.get((action, status))
    return None if both is None else both[PHASES.index(phase)]


CASES = list(itertools.product(("update", "delete", "rollback", "cancel") +
                               ACTING, ACTIONS, STATUSES, PHASES))


def outcome_of(request, action, status, phase):
    if request in ("update", "delete"):
        return states.supersede_outcome(action, status, request.upper())
    if request in ACTING:
        return states.resource_action_outcome(request.upper(), action,
                                              status)
    if request == "cancel":
        return states.cancel_outcome(action, status)
    return states.rollback_outcome(action, status, phase)


@pytest.mark.parametrize("request_, action, status, phase", CASES)
def test_the_table_says_what_the_user_sees(request_, action, status, phase):
    assert outcome_of(request_, action, status, phase) == \
        expected(request_, action, status, phase)


def test_a_revert_needs_the_operations_flow():
    # cancel_update(rollback=False) leaves the stack FAILED with no flow:
    # a later rollback converges back, it cannot revert.
    assert states.rollback_outcome("UPDATE", "FAILED", None,
                                   has_flow=False) == "converge back"
    assert states.REVERTIBLE_ACTIONS == ("CREATE", "UPDATE")


def test_the_constants_are_heats_names():
    assert resource.Resource.ACTIONS == (
        "INIT", "CREATE", "DELETE", "UPDATE", "ROLLBACK", "SUSPEND",
        "RESUME", "ADOPT", "SNAPSHOT", "CHECK")
    assert resource.Resource.STATUSES == ("IN_PROGRESS", "FAILED",
                                          "COMPLETE")
    assert (resource.CREATE, resource.Resource.FAILED) == \
        ("CREATE", "FAILED")


# -- the Orchestrator, on a stack put in each state --------------------------

class Plain(resource.Resource):
    pass


TEMPLATE = {"heat_template_version": "2018-08-31",
            "resources": {"r": {"type": "Test::Plain"}}}


class _NoRunner:
    """Operations are recorded and planned, never run: the stack stays in
    the state the test puts it in."""

    def start(self, plan):
        pass

    def resume(self, row):
        pass


@pytest.fixture(scope="module")
def orch(tmp_path_factory):
    path = tmp_path_factory.mktemp("states") / "hf.db"
    o = heatflow.Orchestrator("sqlite:///" + str(path))
    o.register_plugin("Test::Plain", Plain)
    o._lifecycle.runner = _NoRunner()
    yield o
    o.close()


def _stack_in(orch, name, action, status, phase):
    orch.create_stack(name, TEMPLATE)
    store = orch.db.store
    row = store.find_stack(name)
    with store.engine.begin() as conn:
        conn.execute(m.stacks.update().where(m.stacks.c.id == row.id).values(
            action=action, status=status, phase=phase))
    return store.get_stack_by_id(row.id)


def _request(orch, request, name):
    if request == "update":
        return orch.update_stack(name, TEMPLATE)
    if request == "delete":
        return orch.delete_stack(name)
    if request == "rollback":
        return orch.rollback_stack(name)
    if request in ACTING:
        return getattr(orch, request + "_stack")(name)
    return orch.cancel_update(name, rollback=False)


def _seen(before, op, after):
    """What the request did, in the table's words."""
    if op.action in ("CHECK", "SUSPEND", "RESUME"):
        if op.traversal == before.traversal:
            assert (after.action, after.status) == (before.action,
                                                    before.status)
            return "already"
        assert (after.traversal, after.action, after.status) == \
            (op.traversal, op.action, "IN_PROGRESS")
        return "start"
    if op.traversal == before.traversal:
        assert after.action == "ROLLBACK"
        return "join" if before.action == "ROLLBACK" else "revert"
    assert after.traversal == op.traversal
    if after.status == "FAILED":
        assert after.action == before.action and after.flow_uuid is None
        return "stop"
    assert after.status == "IN_PROGRESS"
    if after.action == "ROLLBACK" and op.action == "ROLLBACK":
        return "converge back"
    return "supersede"


@pytest.mark.parametrize("request_, action, status, phase", CASES)
def test_the_orchestrator_does_what_the_table_says(orch, request_, action,
                                                   status, phase):
    name = "-".join((request_, action, status, phase)).lower()
    before = _stack_in(orch, name, action, status, phase)
    want = expected(request_, action, status, phase)
    if want is None:
        with pytest.raises(exception.ActionNotAllowed) as err:
            _request(orch, request_, name)
        why = {"rollback": "there is nothing to roll back",
               "cancel": "only a running create or update can be "
                         "cancelled",
               "update": "it cannot be updated now (resume it first)",
               }.get(request_)
        if request_ in ACTING:
            why = ("it cannot be %sed while an operation is in progress "
                   "(if nobody runs it any more, heatflow stack continue "
                   "%s runs it again)"
                   % (request_.rstrip("e"), name))
        assert str(err.value) == "stack %s is %s_%s: %s" % (
            name, action, status, why)
        after = orch.db.store.get_stack_by_id(before.id)
        assert (after.traversal, after.action, after.status) == \
            (before.traversal, action, status)
        return
    op = _request(orch, request_, name)
    after = orch.db.store.get_stack_by_id(before.id)
    assert _seen(before, op, after) == want
    if want == "supersede":
        assert after.action == request_.upper()


def test_rollback_from_complete_is_refused_with_the_apis_error(orch):
    _stack_in(orch, "done", "CREATE", "COMPLETE", "cleanup")
    with pytest.raises(exception.ActionNotAllowed,
                       match="^stack done is CREATE_COMPLETE: there is "
                             "nothing to roll back$"):
        orch.rollback_stack("done")


def test_an_update_while_in_progress_supersedes(orch):
    before = _stack_in(orch, "busy", "UPDATE", "IN_PROGRESS", "converge")
    op = orch.update_stack("busy", TEMPLATE)
    after = orch.db.store.get_stack_by_id(before.id)
    assert op.traversal != before.traversal
    assert (after.traversal, after.action, after.status) == \
        (op.traversal, "UPDATE", "IN_PROGRESS")
