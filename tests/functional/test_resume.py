"""An operation whose process is killed is resumed from TaskFlow's persisted
state by the next Orchestrator that opens the database: finished resource
actions are not repeated, and the one in flight is polled to completion
instead of being started a second time."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import sqlalchemy as sa

import heatflow
from heatflow.persistence import sealing
from tests import conftest

CHAIN = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "a": {"type": "Test::Thing", "properties": {"name": "a"}},
        "b": {"type": "Test::Thing",
              "properties": {"name": "b", "delay": 3, "delete_delay": 3,
                             "ref": {"get_resource": "a"}}},
        "c": {"type": "Test::Thing",
              "properties": {"name": "c", "ref": {"get_resource": "b"}}},
    },
}

# Creates the stack, or (with "delete") creates it and starts deleting it,
# then waits to be killed.
SCRIPT = textwrap.dedent("""
    import sys, time, json
    import heatflow
    orch = heatflow.Orchestrator(sys.argv[1], plugin_dirs=[sys.argv[2]])
    op = orch.create_stack("s", json.loads(sys.argv[3]))
    if sys.argv[4:] == ["delete"]:
        op.wait(60)
        orch.delete_stack("s")
    time.sleep(600)
""")


def _wait_for(predicate, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in %ss" % timeout)


def _rows_match_reality(orch, cloud, name="s"):
    """Each resource row names the one physical resource of its name that
    exists in the test cloud, and nothing else exists."""
    rows = {r.name: r for r in orch.list_resources(name)}
    real = {props["name"]: pid for pid, props in cloud.reality().items()}
    assert len(real) == len(cloud.reality()), "duplicated: %s" % (
        cloud.reality())
    assert {n: r.physical_resource_id for n, r in rows.items()} == real
    assert all(r.status == "COMPLETE" for r in rows.values()), rows


def _row(orch, resource_name, stack_name="s"):
    row, = [r for r in orch.db.store.list_resources(
        orch.db.store.find_stack(stack_name).id) if r.name == resource_name]
    return row


def _created(cloud, name):
    """The physical ids created for ``name``, in order."""
    return [j["id"] for j in cloud.journal()
            if j["event"] == "create" and j["props"]["name"] == name]


def _dies_by_itself(script, db_url, template, cloud, *argv):
    """Run a script that kills itself at the moment it chooses; the names
    of the resources it created."""
    import json
    proc = subprocess.run(
        [sys.executable, "-c", script, db_url, conftest.PLUGIN_DIR,
         json.dumps(template)] + list(argv), env=dict(os.environ),
        timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return [j["props"]["name"] for j in cloud.journal()
            if j["event"] == "create"]


def _killed_when(ready, *argv):
    """Run ``python -c argv...`` and SIGKILL it once ``ready()``; returns
    the dead process."""
    proc = subprocess.Popen([sys.executable, "-c", *argv],
                            env=dict(os.environ))
    try:
        _wait_for(ready)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc


@pytest.mark.parametrize("encrypted", [False, True],
                         ids=["clear", "encrypted"])
def test_killed_runner_is_resumed_without_repeating_actions(
        db_url, cloud, encrypted, monkeypatch):
    import json
    if encrypted:
        # Everything the resume reads back (TaskFlow's atom results, the
        # in-flight action's token) was written sealed.
        monkeypatch.setenv(sealing.ENV_KEY, sealing.generate_key())
    # Killed once b's physical resource exists but its create has not
    # completed.
    proc = _killed_when(
        lambda: [j["props"]["name"] for j in cloud.journal()
                 if j["event"] == "create"] == ["a", "b"],
        SCRIPT, db_url, conftest.PLUGIN_DIR, json.dumps(CHAIN))

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    try:
        assert orch.get_stack("s").stack_status == "CREATE_IN_PROGRESS"
        # b's physical id was recorded before its create completed.
        b = _row(orch, "b")
        assert (b.action, b.status) == ("CREATE", "IN_PROGRESS")
        assert b.physical_resource_id == _created(cloud, "b")[0]
        stack = heatflow.api.Operation(
            orch, orch.get_stack("s").id,
            orch.db.store.find_stack("s").traversal, "CREATE").wait(60)
        assert stack.stack_status == "CREATE_COMPLETE"
        creates = [j["props"]["name"] for j in cloud.journal()
                   if j["event"] == "create"]
        # Nothing created twice; the killed process did a and b, the
        # resumed one only c.
        assert creates == ["a", "b", "c"]
        _rows_match_reality(orch, cloud)
        pids = {j["props"]["name"]: j["pid"] for j in cloud.journal()
                if j["event"] == "create"}
        assert pids["a"] == pids["b"] == proc.pid
        assert pids["c"] == os.getpid()
        with orch.db.engine.connect() as conn:
            raw = [r for (r,) in conn.execute(sa.text(
                "SELECT results FROM atomdetails WHERE results IS NOT NULL "
                "AND results != 'null'"))]
        assert raw and all(('"$sealed"' in r) == encrypted for r in raw)
    finally:
        orch.close()


ROLLED_BACK = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "a": {"type": "Test::Thing",
              "properties": {"name": "a", "delete_delay": 3}},
        "b": {"type": "Test::Thing",
              "properties": {"name": "b", "fail": True,
                             "ref": {"get_resource": "a"}}},
    },
}

ROLLBACK_SCRIPT = textwrap.dedent("""
    import sys, time, json
    import heatflow
    orch = heatflow.Orchestrator(sys.argv[1], plugin_dirs=[sys.argv[2]])
    if sys.argv[4:] == ["update"]:
        orch.update_stack("s", json.loads(sys.argv[3]))
    else:
        orch.create_stack("s", json.loads(sys.argv[3]),
                          disable_rollback=False)
    time.sleep(600)
""")


# Dies at the moment the engine saves a resource's action token:
# argv[4:] = create|update, the resource, the action, and "before" (its
# physical id may be recorded, its token is not) or "after" (the action is
# under way, its token on the row).
DIES_AT_TOKEN_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time, json
    import heatflow
    from heatflow.flows import driver
    operation, name, action, when = sys.argv[4:8]
    real = driver.run
    def run(plugin, act, args=(), **kw):
        if plugin.name == name and act == action:
            save = kw["save_token"]
            def die(token):
                if when == "after":
                    save(token)
                os.kill(os.getpid(), signal.SIGKILL)
            kw["save_token"] = die
        return real(plugin, act, args, **kw)
    driver.run = run
    orch = heatflow.Orchestrator(sys.argv[1], plugin_dirs=[sys.argv[2]])
    getattr(orch, operation + "_stack")("s", json.loads(sys.argv[3]))
    time.sleep(600)
""")


def test_create_killed_before_its_token_was_saved_is_not_started_again(
        db_url, cloud):
    """The process dies after b's handle_create recorded the physical id
    but before the engine saved the token: the next Orchestrator finishes
    that create (polling it with no token) instead of calling
    handle_create again, which would make a second b."""
    assert _dies_by_itself(DIES_AT_TOKEN_SCRIPT, db_url, CHAIN, cloud,
                           "create", "b", "CREATE", "before") == ["a", "b"]

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    try:
        b = _row(orch, "b")
        assert (b.action, b.status) == ("CREATE", "IN_PROGRESS")
        assert b.physical_resource_id == _created(cloud, "b")[0]
        assert b.action_token is None
        stack = heatflow.api.Operation(
            orch, orch.get_stack("s").id,
            orch.db.store.find_stack("s").traversal, "CREATE").wait(60)
        assert stack.stack_status == "CREATE_COMPLETE"
        # handle_create of b ran once (one attempt, one physical b).
        assert [j["id"] for j in cloud.journal()
                if j["event"] == "attempt"] == ["a", "b", "c"]
        assert len(_created(cloud, "b")) == 1
        _rows_match_reality(orch, cloud)
    finally:
        orch.close()


def test_rollback_killed_mid_revert_is_resumed_not_restarted(db_url, cloud):
    """b fails, TaskFlow reverts the create; the process dies while a is
    being deleted; the next Orchestrator finishes the revert: a is deleted
    once, nothing is created again."""
    import json
    _killed_when(
        lambda: [j["event"] for j in cloud.journal()
                 if j["event"] != "attempt"] == ["create", "delete"],
        ROLLBACK_SCRIPT, db_url, conftest.PLUGIN_DIR, json.dumps(ROLLED_BACK))

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    try:
        row = orch.db.store.find_stack("s")
        assert (row.action, row.status) == ("ROLLBACK", "IN_PROGRESS")
        stack = heatflow.api.Operation(orch, row.id, row.traversal,
                                       "ROLLBACK").wait(60)
        assert stack.stack_status == "ROLLBACK_COMPLETE"
        assert [j["event"] for j in cloud.journal()
                if j["event"] != "attempt"] == ["create", "delete"]
        assert cloud.reality() == {}
        assert orch.list_resources("s") == []
        # The resumed revert polled the delete the dead process had begun.
        events = [(e.resource_name, e.resource_status)
                  for e in orch.list_events("s")]
        assert events.count(("a", "DELETE_IN_PROGRESS")) == 1
        assert events[-1] == ("s", "ROLLBACK_COMPLETE")
    finally:
        orch.close()


# Dies right after a's create (or, with "update", its update) is recorded
# COMPLETE, before TaskFlow records the atom's result (what a rollback
# undoes by).
DIES_BEFORE_RESULT_SCRIPT = textwrap.dedent("""
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
    if sys.argv[4:] == ["update"]:
        orch.update_stack("s", json.loads(sys.argv[3]))
    else:
        orch.create_stack("s", json.loads(sys.argv[3]),
                          disable_rollback=False)
    time.sleep(600)
""")


def test_a_create_whose_result_died_with_its_process_is_still_rolled_back(
        db_url, cloud):
    """a is created, the process dies before TaskFlow records a's result;
    the next Orchestrator finds a complete (nothing to do), b fails, and
    the rollback still deletes a."""
    failing = {"heat_template_version": "2018-08-31",
               "resources": {
                   "a": {"type": "Test::Thing", "properties": {"name": "a"}},
                   "b": {"type": "Test::Thing",
                         "properties": {"name": "b", "fail": True,
                                        "ref": {"get_resource": "a"}}}}}
    assert _dies_by_itself(DIES_BEFORE_RESULT_SCRIPT, db_url, failing,
                           cloud) == ["a"]

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    try:
        _wait_for(lambda: orch.get_stack("s").status != "IN_PROGRESS")
        assert orch.get_stack("s").stack_status == "ROLLBACK_COMPLETE"
        assert cloud.reality() == {}
        assert orch.list_resources("s") == []
    finally:
        orch.close()


def test_killed_delete_is_resumed_without_deleting_twice(db_url, cloud):
    """Clean-up deletes c, then b (slowly), then a.  The process dies while
    b is being deleted; the next Orchestrator goes on: c, already deleted,
    is not deleted again, b's delete is polled rather than started again,
    and a is deleted."""
    import json

    def deletes():
        name = {j["id"]: j["props"]["name"] for j in cloud.journal()
                if j["event"] == "create"}
        return [(name[j["id"]], j["pid"]) for j in cloud.journal()
                if j["event"] == "delete"]
    proc = _killed_when(lambda: [n for n, _ in deletes()] == ["c", "b"],
                        SCRIPT, db_url, conftest.PLUGIN_DIR,
                        json.dumps(CHAIN), "delete")

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    try:
        row = orch.db.store.find_stack("s")
        assert (row.action, row.status) == ("DELETE", "IN_PROGRESS")
        heatflow.api.Operation(orch, row.id, row.traversal,
                               "DELETE").wait(60)
        assert deletes() == [("c", proc.pid), ("b", proc.pid),
                             ("a", os.getpid())]
        # The resumed run did not touch c at all (its delete is idempotent,
        # so the journal alone would not show a second one).
        c_id = [j["id"] for j in cloud.journal()
                if j["event"] == "create" and j["props"]["name"] == "c"]
        assert [j for j in cloud.calls()
                if j["id"] in c_id and j["pid"] == os.getpid()] == []
        assert cloud.reality() == {}
        with pytest.raises(heatflow.exception.StackNotFound):
            orch.get_stack("s")
    finally:
        orch.close()


def test_an_update_in_place_whose_result_died_is_still_rolled_back(
        db_url, cloud):
    """a is updated in place to "A" and the process dies before TaskFlow
    records it; on resume b's update fails, and the rollback must update a
    back from the before-image on its row (the atom's result, which held
    it before, never reached TaskFlow)."""
    def thing(**props):
        return {"type": "Test::Thing", "properties": props}

    def hot(resources):
        return {"heat_template_version": "2018-08-31",
                "resources": resources}

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    orch.create_stack("s", hot({"a": thing(name="a"),
                                "b": thing(name="b",
                                           ref={"get_attr": ["a", "name"]})}),
                      disable_rollback=False).wait(60)
    orch.close()
    (a_id,) = [i for i, p in cloud.reality().items() if p["name"] == "a"]
    failing = hot({"a": thing(name="A"),
                   "b": thing(name="b", fail=True,
                              ref={"get_attr": ["a", "name"]})})
    _dies_by_itself(DIES_BEFORE_RESULT_SCRIPT, db_url, failing, cloud,
                    "update")
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


def test_rollback_of_an_update_killed_mid_action_updates_back(db_url,
                                                              cloud):
    """a's update in place is under way when its process dies.  The user
    asks for a rollback before anyone resumes the operation: the revert
    must update a back to what it was, not finish the dead process's
    update (its token is on the row) and call that the rollback."""
    def hot(name):
        return {"heat_template_version": "2018-08-31",
                "resources": {"a": {"type": "Test::Thing",
                                    "properties": {"name": name,
                                                   "delay": 0.5}}}}

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    orch.create_stack("s", hot("a"), disable_rollback=False).wait(60)
    orch.close()
    (a_id,) = cloud.reality()
    _dies_by_itself(DIES_AT_TOKEN_SCRIPT, db_url, hot("A"), cloud,
                    "update", "a", "UPDATE", "after")
    assert cloud.reality()[a_id]["name"] == "A"     # the kill came after

    # (resume=False: the rollback must reach the operation before anything
    # resumes it and finishes the update.)
    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR],
                                 resume=False)
    try:
        assert (_row(orch, "a").action, _row(orch, "a").status) == (
            "UPDATE", "IN_PROGRESS")
        stack = orch.rollback_stack("s").wait(60)
        assert stack.stack_status == "ROLLBACK_COMPLETE"
        assert cloud.reality()[a_id]["name"] == "a"
        # ... after the dead process's update was polled to its end (two
        # updates in flight at once: the cloud may refuse the second, or
        # land them out of order)
        mine = [(j["event"], j["time"]) for j in cloud.calls() + cloud.journal()
                if j["id"] == a_id and j["pid"] == os.getpid()]
        back = min(t for e, t in mine if e == "update")
        assert any(e == "check_update" and t < back for e, t in mine), mine
        a = _row(orch, "a")
        assert (a.action, a.status) == ("UPDATE", "COMPLETE")
        assert a.properties["name"] == "a"
        assert a.attributes.get("name", "a") == "a"
    finally:
        orch.close()


def test_an_update_recreates_a_create_its_dead_engine_left_unrecorded(
        db_url, cloud):
    """The create of r made the resource, under its physical name, and its
    process died before the id was recorded.  An update with other
    properties supersedes the create: r is created again -- after what the
    dead create made is deleted (found by name, from the properties it was
    started with), or a plugin that adopts by name would answer the create
    with the resource made from the old template."""
    import json

    def hot(name):
        return {"heat_template_version": "2018-08-31",
                "resources": {"r": {"type": "Test::SlowThing",
                                    "properties": {"name": name,
                                                   "by_name": True,
                                                   "create_delay": 60}}}}
    _killed_when(lambda: _created(cloud, "r"), SCRIPT, db_url,
                 conftest.PLUGIN_DIR, json.dumps(hot("r")))
    (wreck,) = cloud.reality()

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR],
                                 resume=False)
    try:
        new = hot("r2")
        new["resources"]["r"]["properties"]["create_delay"] = 0
        stack = orch.update_stack("s", new).wait(60)
        assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
        reality = cloud.reality()
        assert len(reality) == 1, reality
        (physical_id, props), = reality.items()
        assert physical_id != wreck and props["name"] == "r2"
        assert _row(orch, "r").physical_resource_id == physical_id
        assert [j["id"] for j in cloud.journal()
                if j["event"] == "delete"] == [wreck]
    finally:
        orch.close()


def test_a_replacement_finished_by_the_next_run_is_rolled_back_as_one(
        db_url, cloud):
    """a is being replaced (its size changes) when the process dies, the
    replacement's create under way.  The next Orchestrator finishes that
    create, then b's update fails and the update is rolled back: the
    replacement is deleted and the original is a again -- not left
    'replaced by' a row that is gone."""
    def hot(size, fail):
        return {"heat_template_version": "2018-08-31",
                "resources": {
                    "a": {"type": "Test::Thing",
                          "properties": {"name": "a", "size": size,
                                         "delay": 0.5}},
                    "b": {"type": "Test::Thing",
                          "properties": {"name": "b", "fail": fail,
                                         "ref": {"get_attr": ["a", "size"]}}}}}

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    orch.create_stack("s", hot(1, False), disable_rollback=False).wait(60)
    original = _row(orch, "a")
    orch.close()
    _dies_by_itself(DIES_AT_TOKEN_SCRIPT, db_url, hot(2, True), cloud,
                    "update", "a", "CREATE", "after")

    orch = heatflow.Orchestrator(db_url, plugin_dirs=[conftest.PLUGIN_DIR])
    try:
        _wait_for(lambda: orch.get_stack("s").status != "IN_PROGRESS")
        assert orch.get_stack("s").stack_status == "ROLLBACK_COMPLETE"
        a = _row(orch, "a")
        assert a.id == original.id and a.replaced_by is None
        assert sorted(p["size"] for p in cloud.reality().values()) == [1, 1]
    finally:
        orch.close()
