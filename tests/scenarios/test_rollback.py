"""Rollback (explicit, automatic, cancel) of creates and updates: originals
survive, what the update made goes, and a failed rollback can be retried."""

import pytest

from heatflow import exception
from tests.scenarios.framework import attr, res, thing

BASE = {"a": thing(name="a"), "b": thing(ref=res("a"))}


def created(s, resources=BASE):
    s.create(resources)
    s.run_to_end()
    s.assert_state("CREATE_COMPLETE")


def test_rollback_of_an_update_before_its_new_resources_start(s):
    created(s)
    s.update({"a": thing(name="A"), "b": thing(ref=res("a")),
              "c": thing(ref=res("a")), "d": thing(ref=res("c"))})
    s.assert_waiting(("a", "UPDATE"))
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert "c" not in {n for n, _ in s.passed()}
    # a was updated, then updated back: the same physical resource.
    assert s.passed("a") == ["CREATE", "UPDATE", "UPDATE"]
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_rollback_of_an_update_after_its_new_resources_started(s):
    created(s)
    s.update({"a": thing(name="a"), "b": thing(ref=res("a")),
              "c": thing(ref=res("a")), "d": thing(ref=res("c"))})
    s.step("c")
    s.assert_waiting(("d", "CREATE"))
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert s.passed("c") == ["CREATE", "DELETE"]
    assert s.passed("d") == ["CREATE", "DELETE"]
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_rollback_of_a_removal_keeps_the_original(s):
    created(s, {"a": thing(name="a"), "b": thing(ref=res("a")),
                "c": thing()})
    s.update({"a": thing(name="A"), "c": thing()})
    s.assert_waiting(("a", "UPDATE"))
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert s.passed("b") == ["CREATE"]
    s.assert_reality({"a": "a#1", "b": "b#1", "c": "c#1"})


def test_rollback_during_a_replacement_restores_the_original(s):
    created(s, {"a": thing(name="a"), "b": thing(ref=res("a")),
                "c": thing(ref=attr("a", "name"))})
    s.update({"a": thing(name="A", size=2), "b": thing(ref=res("a")),
              "c": thing(ref=attr("a", "name"))})
    s.step("a")                      # the replacement a#2 exists
    s.step("b")                      # b points at it
    s.assert_waiting(("c", "UPDATE"))
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1", "c": "c#1"})
    assert s.props("b")["ref"] == "a#1"


def test_rollback_while_the_replacement_is_being_created(s):
    created(s)
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))})
    s.assert_waiting(("a", "CREATE"))
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert s.passed("b") == ["CREATE"]
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_rename_rolled_back_keeps_the_original(s):
    created(s, {"a": thing(name="x"), "dep": thing(ref=res("a"))})
    s.update({"b": thing(name="x"), "dep": thing(ref=res("b"))})
    s.step("b")
    s.assert_waiting(("dep", "UPDATE"))
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert s.passed("a") == ["CREATE"]
    s.assert_reality({"a": "a#1", "dep": "dep#1"})
    assert s.props("dep")["ref"] == "a#1"


def test_rollback_then_an_in_place_update_updates_the_original(s):
    created(s)
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))})
    s.step("a")
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})
    s.update({"a": thing(name="renamed"), "b": thing(ref=res("a"))})
    s.assert_waiting(("a", "UPDATE"))
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_failed_update_rolls_back_automatically(s):
    created(s)
    s.update({"a": thing(name="A"), "b": thing(ref=res("a"), name="B"),
              "c": thing(ref=res("b"))}, disable_rollback=False)
    s.step("a")
    s.fail("b")
    s.assert_state("ROLLBACK_IN_PROGRESS")
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert "c" not in {n for n, _ in s.passed()}
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_failed_update_without_rollback_then_explicit_rollback(s):
    created(s)
    s.update({"a": thing(name="A"), "b": thing(ref=res("a")),
              "c": thing(fail=True)})
    s.step("c")
    s.assert_state("UPDATE_FAILED")
    s.step("a")                      # in flight: finishes, is recorded
    s.assert_waiting()
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_rollback_that_fails_is_retried(s):
    created(s)
    s.update({"a": thing(name="a"), "b": thing(ref=res("a")),
              "c": thing(), "d": thing(ref=res("c"), fail=True)},
             disable_rollback=False)
    s.step("c")
    s.step("d")
    s.assert_state("ROLLBACK_IN_PROGRESS")
    # The failed d is deleted too (it has no physical resource: the plugin
    # is told so), then c.
    s.assert_waiting(("d", "DELETE"))
    s.step("d")
    s.assert_waiting(("c", "DELETE"))
    s.world.override("c", fail_delete=True)
    s.step("c")
    s.assert_state("ROLLBACK_FAILED")
    s.world.override("c", fail_delete=None)   # the cloud recovers
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_rollback_of_a_create_that_fails_is_retried(s):
    s.create({"a": thing(), "b": thing(ref=res("a"), fail=True)},
             disable_rollback=False)
    s.step("a")
    s.step("b")
    s.assert_waiting(("b", "DELETE"))
    s.step("b")
    s.assert_waiting(("a", "DELETE"))
    s.fail("a")
    s.assert_state("ROLLBACK_FAILED")
    # The resource says why, as the user lists it: not an action forever
    # in progress.
    (a,) = s.orch.list_resources(s.name)
    assert (a.name, a.resource_status) == ("a", "DELETE_FAILED")
    assert "injected failure" in a.status_reason
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({})


def test_cancel_with_rollback(s):
    created(s)
    s.update({"a": thing(name="A"), "b": thing(ref=res("a")),
              "c": thing()})
    s.step("c")
    s.assert_waiting(("a", "UPDATE"))
    s.cancel(rollback=True)
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_cancel_without_rollback_then_update_again(s):
    created(s)
    s.update({"a": thing(name="A"), "b": thing(ref=res("a"), name="B"),
              "c": thing()})
    s.step("c")
    s.assert_waiting(("a", "UPDATE"))
    s.cancel(rollback=False)
    s.assert_state("UPDATE_FAILED")
    s.step("a")                      # in flight: finishes, nothing follows
    s.assert_waiting()
    s.assert_resources(a="UPDATE_COMPLETE", b="CREATE_COMPLETE",
                       c="CREATE_COMPLETE")
    s.update({"a": thing(name="A"), "b": thing(ref=res("a"), name="B")})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_cancel_of_a_create_without_rollback_leaves_it_failed(s):
    s.create({"a": thing(), "b": thing(ref=res("a")), "x": thing()})
    s.step("x")
    s.cancel(rollback=False)
    s.assert_state("CREATE_FAILED")
    s.step("a")
    s.assert_waiting()
    s.expect_reality({"a": thing(), "x": thing()})


def test_attributes_read_after_a_rolled_back_update_are_the_restored_ones(s):
    created(s, {"a": thing(name="a"), "c": thing(ref=attr("a", "name"))})
    s.update({"a": thing(name="A"), "c": thing(ref=attr("a", "name"))})
    s.assert_waiting(("a", "UPDATE"))
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    # The update of a was undone, so what c reads of a is a's name again,
    # not what the undone update made it.
    s.update({"a": thing(name="a"),
              "c": thing(ref=attr("a", "name"), name="c2")})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    assert s.props("c")["ref"] == "a"


def test_rollback_requested_as_the_update_leaves_its_converge_phase(s):
    """The user reads the stack while its update converges; by the time
    the rollback is asked for, the update is cleaning up (too late to
    revert).  The request is decided again, not refused with 'try
    again'."""
    created(s)
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))})
    converging = s.orch.db.store.find_stack(s.name)
    s.step("a")
    s.step("b")
    s.assert_waiting(("a", "DELETE"))          # clean-up has begun
    reads = iter([converging])
    find = s.orch.db.store.find_stack
    s.orch.db.store.find_stack = lambda name: next(reads, None) or find(name)
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")


def test_rolled_back_to_nothing_the_stack_has_no_template(s):
    """Found by the chaos soak: a stack that never completed was rolled
    back to nothing; an update of it, rolled back, left nothing alive but
    the stack still showed the undone update's template."""
    s.create({"a": thing(name="a")})
    s.assert_waiting(("a", "CREATE"))
    s.update({"a": thing(name="a"), "b": thing(name="b")})
    s.cancel(rollback=True)
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.update({"c": thing(name="c")})
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({})
    assert not s.orch.get_stack(s.name).template.get("resources")


def test_a_rolled_back_create_has_no_template(s):
    s.create({"a": thing(name="a", fail=True)}, disable_rollback=False)
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert not s.orch.get_stack(s.name).template.get("resources")


def test_a_stack_rolled_back_to_nothing_is_updated_with_a_template(s):
    s.create({"a": thing(name="a", fail=True)}, disable_rollback=False)
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    with pytest.raises(exception.StackValidationFailed,
                       match="no template"):
        s.orch.update_stack(s.name, existing=True)
    s.update({"a": thing(name="a")})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
