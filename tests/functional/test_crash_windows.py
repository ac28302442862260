"""A process that dies between a resource's outcome (recorded in its row)
and TaskFlow's record of the atom's result: the next run executes the atom
again, finds nothing left to do, and a rollback must still undo what the
dead run did."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import heatflow
from tests import conftest


def hot(resources):
    return {"heat_template_version": "2018-08-31", "resources": resources}


def thing(**props):
    return {"type": "Test::Thing", "properties": props}


# Updates the stack, killing itself right after a's update is recorded
# COMPLETE, before TaskFlow records converge:a's result (the before-image
# the rollback restores).
DIES_BEFORE_RESULT = textwrap.dedent("""
    import os, signal, sys, time, json
    import heatflow
    from heatflow.flows import engine
    real = engine.StackStorage._save_atom_detail
    def save(self, conn, original, detail):
        if detail.name == "converge:a" and detail.state == "SUCCESS":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, conn, original, detail)
    engine.StackStorage._save_atom_detail = save
    orch = heatflow.Orchestrator(sys.argv[1], plugin_dirs=[sys.argv[2]])
    orch.update_stack("s", json.loads(sys.argv[3]))
    time.sleep(600)
""")


def _wait_for(predicate, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in %ss" % timeout)


def test_an_update_in_place_whose_result_died_is_still_rolled_back(
        db_url, cloud):
    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    orch.create_stack("s", hot({"a": thing(name="a"),
                                "b": thing(name="b",
                                           ref={"get_attr": ["a", "name"]})}),
                      disable_rollback=False).wait(60)
    orch.close()
    (a_id,) = [i for i, p in cloud.reality().items() if p["name"] == "a"]

    # a is updated in place to "A"; the process dies before TaskFlow
    # records it; on resume b's update fails, and the rollback must update
    # a back although the atom's recorded result (and its before-image)
    # never reached TaskFlow.
    failing = hot({"a": thing(name="A"),
                   "b": thing(name="b", fail=True,
                              ref={"get_attr": ["a", "name"]})})
    proc = subprocess.run(
        [sys.executable, "-c", DIES_BEFORE_RESULT, db_url,
         conftest.PLUGIN_DIR, json.dumps(failing)],
        env=dict(os.environ), timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert cloud.reality()[a_id]["name"] == "A"     # the kill came after

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    try:
        _wait_for(lambda: orch.get_stack("s").status != "IN_PROGRESS")
        assert orch.get_stack("s").stack_status == "ROLLBACK_COMPLETE"
        reality = cloud.reality()
        assert sorted(p["name"] for p in reality.values()) == ["a", "b"]
        assert reality[a_id]["name"] == "a"
        b = [p for p in reality.values() if p["name"] == "b"][0]
        assert b["ref"] == "a"
        # What b reads of a now is a's restored name.
        a_row = [r for r in orch.list_resources("s") if r.name == "a"][0]
        assert a_row.physical_resource_id == a_id
        assert a_row.attributes.get("name") == "a"
    finally:
        orch.close()
