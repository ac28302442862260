"""What a running operation is doing, through the public API:
``Operation.progress()``, ``Orchestrator.waiting_on()`` and
``Orchestrator.stack_graph()`` (the views behind the command line's
progress bar, ``resource list --waiting`` and ``template graph
--stack``)."""

import time

import pytest

import heatflow
from heatflow import exception


def hot(resources):
    return {"heat_template_version": "2018-08-31", "resources": resources}


def thing(name, after=None, **props):
    res = {"type": "Test::Thing", "properties": dict(name=name, **props)}
    if after:
        res["depends_on"] = [after]
    return res


def chain(**slow):
    """a <- b <- c; ``slow`` gives b's properties (a delay, say)."""
    return hot({"a": thing("a"), "b": thing("b", "a", **slow),
                "c": thing("c", "b")})


def progress_once_done(op, done, timeout=30):
    """``op.progress()`` once ``done`` resources are done."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        progress = op.progress()
        if progress.done >= done:
            return progress
        time.sleep(0.02)
    raise AssertionError("%d resources not done in %s s" % (done, timeout))


def test_progress_counts_converged_resources(orch, cloud):
    op = orch.create_stack("web", chain(delay=1))
    # b runs for a second: a is done, b and c are not
    assert progress_once_done(op, 1) == heatflow.Progress("CREATE", 1, 3)
    waiting = {w.name: w for w in orch.waiting_on("web")}
    assert set(waiting) == {"b", "c"}
    assert waiting["b"].running and waiting["b"].waiting_on == ()
    assert waiting["b"].resource_status == "CREATE_IN_PROGRESS"
    assert not waiting["c"].running and waiting["c"].waiting_on == ("b",)
    assert waiting["c"].type == "Test::Thing"
    op.wait(30)
    assert op.progress() == heatflow.Progress("CREATE", 3, 3)
    assert orch.waiting_on("web") == []


def test_delete_progress_counts_what_is_gone(orch, cloud):
    orch.create_stack("web", hot({
        "a": thing("a"), "b": thing("b", "a"),
        "c": thing("c", "b", delete_delay=1)})).wait(30)
    op = orch.delete_stack("web")
    first = op.progress()
    assert first.action == "DELETE" and first.total == 3
    assert first.done < 3
    op.wait(30)
    # the rows are gone with the stack; the total is the one first seen
    assert op.progress() == heatflow.Progress("DELETE", 3, 3)


def test_update_progress_counts_the_new_template(orch, cloud):
    orch.create_stack("web", chain()).wait(30)
    t = chain()
    t["resources"]["d"] = thing("d", "c")
    op = orch.update_stack("web", t)
    op.wait(30)
    assert op.progress() == heatflow.Progress("UPDATE", 4, 4)


def test_waiting_on_after_a_failed_create(orch, cloud):
    orch.create_stack("web", hot({"a": thing("a", fail=True),
                                  "b": thing("b", "a")})).wait(30)
    [waiting] = orch.waiting_on("web")
    assert (waiting.name, waiting.resource_status, waiting.waiting_on,
            waiting.running) == ("b", "INIT_COMPLETE", ("a",), False)


def test_waiting_on_an_unknown_stack(orch):
    with pytest.raises(exception.StackNotFound):
        orch.waiting_on("nope")


def test_stack_graph_has_recorded_statuses(orch, cloud):
    orch.create_stack("web", hot({"a": thing("a", fail=True),
                                  "b": thing("b", "a")})).wait(30)
    graph = orch.stack_graph("web")
    assert graph.name == "web" and graph.recorded
    nodes = {n.name: n for n in graph.nodes}
    assert [n.name for n in graph.nodes] == ["a", "b"]
    assert (nodes["a"].action, nodes["a"].status) == ("CREATE", "FAILED")
    assert (nodes["b"].action, nodes["b"].status) == ("INIT", "COMPLETE")
    assert nodes["b"].depends_on == ("a",) and nodes["a"].depends_on == ()
    # another template drawn over the stack: new resources have no status
    other = orch.stack_graph("web", hot({"a": thing("a"),
                                         "z": thing("z", "a")}))
    nodes = {n.name: n for n in other.nodes}
    assert nodes["a"].status == "FAILED"
    assert nodes["z"].action is None and nodes["z"].status is None


def test_stack_graph_of_a_stack_without_a_template(orch, cloud):
    orch.create_stack("web", hot({"a": thing("a", fail=True)}),
                      disable_rollback=False).wait(30)
    assert orch.get_stack("web").template == {}
    with pytest.raises(exception.StackValidationFailed):
        orch.stack_graph("web")


def test_operation_by_name_follows_what_another_caller_started(orch, cloud):
    started = orch.create_stack("web", chain(delay=0.5))
    op = orch.operation("web")
    assert (op.stack_id, op.traversal, op.action) == (
        started.stack_id, started.traversal, "CREATE")
    assert op.wait(30).stack_status == "CREATE_COMPLETE"
    assert op.progress() == heatflow.Progress("CREATE", 3, 3)


def test_validate_template_with_the_orchestrators_plugins(orch):
    t = hot({"a": thing("a")})
    info = orch.validate_template(t)
    assert info == {"Description": "", "Parameters": {}}
    with pytest.raises(exception.StackValidationFailed):
        heatflow.validate_template(t)       # Test::Thing is not built in
    with pytest.raises(exception.StackValidationFailed):
        orch.validate_template(hot({"a": thing("a", size="big")}))
