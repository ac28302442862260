"""The typed plan (flows/plan.py): the dict form saved in flow details
before it existed still loads, and what it saves is that same form."""

import dataclasses
import json

import pytest

from heatflow.flows import plan as plan_mod
from heatflow.persistence.store import Fence

# An operation header as the dict form saved it (heatflow/lifecycle.py
# built it; flows/execution.py saved it in the flow detail).
SAVED_OP = {"runtime": "k", "stack_id": "s", "stack_name": "n",
            "traversal": "t", "run": "r", "flow_uuid": "f",
            "action": "UPDATE", "template_id": 4, "rollback": True,
            "deadline": 1700000000.5, "base_settled": False,
            "base_template_id": 3}

SAVED_PLAN = {"op": SAVED_OP, "converge": [["a", 1, []], ["b", 2, ["a"]]],
              "cleanup": [[1, []]], "output_refs": ["b"], "fresh": [2]}


def test_the_saved_dict_form_loads_and_saves_unchanged():
    op = plan_mod.OperationHeader.from_json(SAVED_OP)
    assert (op.stack_id, op.run, op.action, op.template_id, op.rollback,
            op.deadline, op.base_settled, op.base_template_id) == \
        ("s", "r", "UPDATE", 4, True, 1700000000.5, False, 3)
    assert op.to_json() == SAVED_OP
    plan = plan_mod.Plan.from_json(json.loads(json.dumps(SAVED_PLAN)))
    assert plan.op == op
    assert plan.to_json() == SAVED_PLAN


def test_keys_missing_from_older_saves_read_as_the_dict_form_did():
    # op.get("deadline"), op.get("rollback"), op.get("base_settled", True),
    # op.get("base_template_id"); plan.get("output_refs", <all>),
    # plan.get("fresh", ()).
    old = {k: v for k, v in SAVED_OP.items()
           if k not in ("runtime", "rollback", "deadline", "base_settled",
                        "base_template_id")}
    op = plan_mod.OperationHeader.from_json(old)
    assert (op.runtime, op.rollback, op.deadline, op.base_settled,
            op.base_template_id) == (None, False, None, True, None)
    plan = plan_mod.Plan.from_json({"op": old, "converge": [],
                                    "cleanup": []})
    assert plan.output_refs is None and tuple(plan.fresh) == ()
    # ... and saved again without an output_refs a dict reader would take
    # for a list.
    assert "output_refs" not in plan.to_json()


def test_unknown_keys_are_ignored():
    op = plan_mod.OperationHeader.from_json(dict(SAVED_OP, later="x"))
    assert op.to_json() == SAVED_OP


def test_fence_and_a_new_run_leave_the_header_unchanged():
    op = plan_mod.OperationHeader.from_json(SAVED_OP)
    assert op.fence() == Fence("s", "t", "r")
    again = op.for_run("k2", "r2")
    assert (again.runtime, again.run) == ("k2", "r2")
    assert again.fence() == Fence("s", "t", "r2")
    assert (op.runtime, op.run) == ("k", "r")
    assert dataclasses.replace(again, runtime="k", run="r") == op
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.run = "r3"
    plan = plan_mod.Plan.from_json(SAVED_PLAN).for_run("k2", "r2")
    assert plan.op == again and plan.converge == SAVED_PLAN["converge"]
