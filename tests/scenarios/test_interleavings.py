"""Operations arriving while others run: updates, rollbacks and deletes in
every phase, and failures of clean-up."""


from tests.scenarios.framework import attr, res, thing

BASE = {"a": thing(name="a"), "b": thing(ref=res("a"))}


def created(s, resources=BASE):
    s.create(resources)
    s.run_to_end()
    s.assert_state("CREATE_COMPLETE")


def test_readding_a_resource_whose_delete_is_in_flight(s):
    created(s, {"a": thing(), "b": thing(name="b")})
    s.update({"a": thing()})
    s.assert_waiting(("b", "DELETE"))
    s.update({"a": thing(), "b": thing(name="b")})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#2"})


def test_second_update_while_the_replacement_is_being_created(s):
    created(s)
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))})
    s.assert_waiting(("a", "CREATE"))
    s.update({"a": thing(name="A", size=2), "b": thing(ref=res("a"))})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    assert s.props("b")["ref"] == s.phys("a")


def test_delete_while_the_replacement_is_being_created(s):
    created(s)
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))})
    s.assert_waiting(("a", "CREATE"))
    s.delete()
    s.run_to_end()
    s.assert_state("DELETE_COMPLETE")


def test_rollback_of_an_update_that_superseded_another(s):
    created(s)
    s.update({"a": thing(name="a"), "b": thing(ref=res("a")),
              "c": thing()})
    s.assert_waiting(("c", "CREATE"))
    s.update({"a": thing(name="A"), "b": thing(ref=res("a")),
              "d": thing()})
    s.assert_waiting(("a", "UPDATE"), ("c", "CREATE"), ("d", "CREATE"))
    s.step("c", "d")
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_update_during_a_rollback(s):
    created(s)
    s.update({"a": thing(name="a"), "b": thing(ref=res("a")),
              "c": thing()}, disable_rollback=False)
    s.fail("c")
    s.assert_state("ROLLBACK_IN_PROGRESS")
    s.assert_waiting(("c", "DELETE"))
    s.update({"a": thing(name="a"), "b": thing(ref=res("a")),
              "d": thing(ref=res("b"))})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")


def test_delete_during_a_rollback(s):
    created(s)
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))},
             disable_rollback=False)
    s.step("a")
    s.fail("b")
    s.assert_state("ROLLBACK_IN_PROGRESS")
    s.delete()
    s.run_to_end()
    s.assert_state("DELETE_COMPLETE")


def test_rollback_requested_during_clean_up(s):
    created(s, {"a": thing(), "b": thing(ref=res("a")), "c": thing()})
    s.update({"a": thing(), "c": thing()})
    s.assert_waiting(("b", "DELETE"))
    # Too late to undo: b is being deleted.  The rollback converges back
    # to the original template instead.
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#2", "c": "c#1"})


def test_failed_clean_up_is_retried_by_the_next_update(s):
    created(s, {"a": thing(), "b": thing()})
    s.update({"a": thing()})
    s.fail(("b", "DELETE"))
    s.assert_state("UPDATE_FAILED")
    s.assert_reality({"a": "a#1", "b": "b#1"})
    s.update({"a": thing()})
    s.assert_waiting(("b", "DELETE"))
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")


def test_failed_delete_is_retried(s):
    created(s)
    s.delete()
    s.step("b")
    s.fail("a")
    s.assert_state("DELETE_FAILED")
    s.assert_matches({"a": thing(name="a")})
    s.delete()
    s.run_to_end()
    s.assert_state("DELETE_COMPLETE")


def test_failed_replacement_rolls_back_to_the_original(s):
    created(s)
    s.update({"a": thing(name="A", size=2), "b": thing(ref=res("a"))},
             disable_rollback=False)
    s.fail("a")
    s.assert_state("ROLLBACK_IN_PROGRESS")
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert s.passed("b") == ["CREATE"]
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_failed_replacement_is_retried_by_the_next_update(s):
    created(s)
    s.update({"a": thing(name="A", size=2), "b": thing(ref=res("a"))})
    s.fail("a")
    s.assert_state("UPDATE_FAILED")
    s.update({"a": thing(name="A", size=2), "b": thing(ref=res("a"))})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    assert s.props("b")["ref"] == s.phys("a")


def test_parallel_branch_in_flight_when_a_create_fails_is_rolled_back(s):
    s.create({"a": thing(), "b": thing(fail=True), "c": thing()},
             disable_rollback=False)
    s.step("b")
    s.assert_state("ROLLBACK_IN_PROGRESS")
    # a and c were already at work: they finish, then are undone.
    s.assert_waiting(("a", "CREATE"), ("c", "CREATE"), ("b", "DELETE"))
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")


def test_outputs_follow_a_replacement(s):
    out = {"ref": {"value": res("a")}, "name": {"value": attr("a", "name")}}
    s.create({"a": thing(name="one")}, outputs=out)
    s.run_to_end()
    assert s.orch.get_stack("s").outputs == {"ref": "a#1", "name": "one"}
    s.update({"a": thing(name="two", size=2)}, outputs=out)
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    assert s.orch.get_stack("s").outputs == {"ref": "a#2", "name": "two"}


def test_update_reverting_a_replacement_in_flight_keeps_the_original(s):
    created(s)
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))})
    s.assert_waiting(("a", "CREATE"))
    s.update(BASE)                   # changed our mind: back to size 1
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    # The half-made replacement is cleaned up; the original stays.
    assert s.passed("a") == ["CREATE", "CREATE", "DELETE"]
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_update_removing_a_resource_whose_replacement_is_in_flight(s):
    created(s)
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))})
    s.assert_waiting(("a", "CREATE"))
    s.update({"b": thing(ref="literal")})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"b": "b#1"})


def test_a_second_delete_while_the_first_runs(s):
    created(s)
    s.delete()
    s.assert_waiting(("b", "DELETE"))
    s.delete()
    s.run_to_end()
    s.assert_state("DELETE_COMPLETE")


def test_failed_dependent_update_rolls_back_a_replacement(s):
    created(s)
    s.update({"a": thing(name="a", size=2),
              "b": thing(ref=res("a"), fail=True)}, disable_rollback=False)
    s.step("a")
    s.step("b")
    s.assert_state("ROLLBACK_IN_PROGRESS")
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})
    assert s.props("b")["ref"] == "a#1"
    # The original is the stack's again: an in-place update reaches it.
    s.update({"a": thing(name="again"), "b": thing(ref=res("a"))})
    s.assert_waiting(("a", "UPDATE"))
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_failed_clean_up_of_a_replaced_original_is_retried(s):
    created(s)
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))})
    s.step("a")
    s.step("b")
    s.fail(("a", "DELETE"))
    s.assert_state("UPDATE_FAILED")
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))})
    s.assert_waiting(("a", "DELETE"))
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#2", "b": "b#1"})


def test_rollback_after_a_failed_clean_up_of_a_replaced_original(s):
    created(s)
    s.update({"a": thing(name="a", size=2), "b": thing(ref=res("a"))})
    s.step("a")
    s.step("b")
    s.fail(("a", "DELETE"))
    s.assert_state("UPDATE_FAILED")
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert s.props("b")["ref"] == s.phys("a")
    assert s.props("a")["size"] == 1


def test_second_update_before_a_replacements_clean_up_starts(s):
    created(s)
    new = {"a": thing(name="a", size=2), "b": thing(ref=res("a"))}
    s.update(new)
    s.step("a")                      # a#2 exists, b still points at a#1
    s.assert_waiting(("b", "UPDATE"))
    s.update(dict(new, c=thing()))
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    # The replacement already matches: it is kept, not replaced again.
    s.assert_reality({"a": "a#2", "b": "b#1", "c": "c#1"})


def test_rollback_after_cancel_without_rollback(s):
    created(s)
    s.update({"a": thing(name="A"), "b": thing(ref=res("a")),
              "c": thing()})
    s.step("c")
    s.cancel(rollback=False)
    s.step("a")
    s.assert_state("UPDATE_FAILED")
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_failed_update_that_superseded_another_rolls_back_both(s):
    created(s)
    s.update({"a": thing(name="a"), "b": thing(ref=res("a")),
              "c": thing()})
    s.assert_waiting(("c", "CREATE"))
    s.update({"a": thing(name="a"), "b": thing(ref=res("a")),
              "c": thing(), "d": thing(fail=True)}, disable_rollback=False)
    s.step("d")
    s.assert_state("ROLLBACK_IN_PROGRESS")
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_rollback_of_a_create_that_was_superseded_by_an_update(s):
    s.create({"a": thing(), "b": thing(ref=res("a"))})
    s.step("a")
    s.update({"a": thing(), "b": thing(ref=res("a")), "c": thing()})
    s.step("c")
    s.rollback()
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    s.assert_reality({})
