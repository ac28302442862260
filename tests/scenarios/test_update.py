"""Updates: growing and shrinking, updates while an operation runs,
replacement flowing into dependents, renames."""

from tests.scenarios.framework import attr, res, thing


def test_repeated_updates_grow_and_shrink_the_stack(s):
    s.create({"a": thing(name="a")})
    s.run_to_end()
    s.update({"a": thing(name="a"), "b": thing(ref=res("a")),
              "c": thing(ref=res("b"))})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1", "c": "c#1"})
    s.update({"a": thing(name="a"), "c": thing(ref=res("a"))})
    # c is re-pointed before b goes.
    s.assert_waiting(("c", "UPDATE"))
    s.step("c")
    s.assert_waiting(("b", "DELETE"))
    s.step("b")
    s.assert_state("UPDATE_COMPLETE")
    s.update({"a": thing(name="a"), "c": thing(ref=res("a")),
              "d": thing(ref=attr("c", "ref")), "e": thing()})
    s.run_to_end()
    s.update({"e": thing()})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"e": "e#1"})
    # The resource that stayed the same was never touched.
    assert s.passed("e") == ["CREATE"]
    assert s.passed("a") == ["CREATE", "DELETE"]


def test_unchanged_resources_are_not_touched(s):
    s.create({"a": thing(name="x"), "b": thing(ref=res("a"))})
    s.run_to_end()
    s.update({"a": thing(name="x"), "b": thing(ref=res("a")),
              "c": thing()})
    s.assert_waiting(("c", "CREATE"))
    s.step("c")
    s.assert_state("UPDATE_COMPLETE")
    assert s.passed() == [("a", "CREATE"), ("b", "CREATE"),
                          ("c", "CREATE")]


def test_update_adds_resources_while_the_create_runs(s):
    s.create({"a": thing(), "b": thing(ref=res("a"))})
    s.step("a")
    s.assert_waiting(("b", "CREATE"))
    s.update({"a": thing(), "b": thing(ref=res("a")),
              "c": thing(ref=res("b")), "d": thing()})
    # The new traversal starts what it can; b's create is still in flight.
    s.assert_waiting(("b", "CREATE"), ("d", "CREATE"))
    s.step("b")
    s.assert_waiting(("c", "CREATE"), ("d", "CREATE"))
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    assert s.passed("b") == ["CREATE"]


def test_update_interrupts_a_chain_being_created(s):
    s.create({"a": thing(), "b": thing(ref=res("a")),
              "c": thing(ref=res("b"))})
    s.step("a")
    s.assert_waiting(("b", "CREATE"))
    s.update({"a": thing(), "b": thing(ref=res("a"), name="B"),
              "d": thing(ref=res("b"))})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    # c was never started; b was created once and then updated.
    assert "c" not in {n for n, _ in s.passed()}
    assert s.passed("b") == ["CREATE", "UPDATE"]


def test_three_updates_in_flight_settle_on_the_last(s):
    s.create({"a": thing(), "b": thing(ref=res("a"))})
    s.step("a")
    s.update({"a": thing(name="1"), "b": thing(ref=res("a"))})
    s.update({"a": thing(name="2"), "c": thing(ref=res("a"))})
    s.update({"a": thing(name="3", size=2), "c": thing(ref=attr("a",
                                                                "name"))})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")


def test_removing_a_resource_deletes_it_after_dependents_move(s):
    s.create({"a": thing(), "b": thing(ref=res("a")),
              "c": thing(ref=res("b"))})
    s.run_to_end()
    s.update({"a": thing(), "c": thing(ref=res("a"))})
    s.assert_waiting(("c", "UPDATE"))
    s.step("c")
    s.assert_waiting(("b", "DELETE"))
    s.step("b")
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#1", "c": "c#1"})


def test_replacement_flows_through_get_attr_into_dependents(s):
    s.create({"a": thing(name="old"),
              "b": thing(ref=attr("a", "name")),
              "c": thing(ref=res("a"))})
    s.run_to_end()
    s.update({"a": thing(name="new", size=2),
              "b": thing(ref=attr("a", "name")),
              "c": thing(ref=res("a"))})
    s.assert_waiting(("a", "CREATE"))
    s.step("a")
    s.assert_reality({"a": ["a#1", "a#2"], "b": "b#1", "c": "c#1"})
    s.assert_waiting(("b", "UPDATE"), ("c", "UPDATE"))
    s.step("b", "c")
    assert s.props("b")["ref"] == "new"
    assert s.props("c")["ref"] == "a#2"
    # The original goes last, in clean-up.
    s.assert_waiting(("a", "DELETE"))
    s.step("a")
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#2", "b": "b#1", "c": "c#1"})


def test_inverting_a_dependency_while_both_sides_are_replaced(s):
    s.create({"a": thing(), "b": thing(ref=res("a"))})
    s.run_to_end()
    s.update({"a": thing(size=2, ref=res("b")), "b": thing(size=2)})
    s.assert_waiting(("b", "CREATE"))
    s.step("b")
    s.assert_waiting(("a", "CREATE"))
    s.step("a")
    # Clean-up honours the old order: the old b depended on the old a.
    s.assert_waiting(("b", "DELETE"))
    s.step("b")
    s.assert_waiting(("a", "DELETE"))
    s.step("a")
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#2", "b": "b#2"})


def test_second_update_arrives_before_a_replacements_cleanup(s):
    s.create({"a": thing(), "b": thing(ref=res("a"))})
    s.run_to_end()
    s.update({"a": thing(size=2), "b": thing(ref=res("a"))})
    s.step("a")
    s.step("b")
    s.assert_waiting(("a", "DELETE"))
    s.update({"a": thing(size=2), "b": thing(ref=res("a"), name="B")})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#2", "b": "b#1"})


def test_delete_arrives_before_a_replacements_cleanup(s):
    s.create({"a": thing(), "b": thing(ref=res("a"))})
    s.run_to_end()
    s.update({"a": thing(size=2), "b": thing(ref=res("a"))})
    s.step("a")
    s.step("b")
    s.assert_waiting(("a", "DELETE"))
    s.delete()
    s.run_to_end()
    s.assert_state("DELETE_COMPLETE")


def test_renaming_a_resource_creates_the_new_and_deletes_the_old(s):
    s.create({"a": thing(name="x"), "dep": thing(ref=res("a"))})
    s.run_to_end()
    s.update({"b": thing(name="x"), "dep": thing(ref=res("b"))})
    s.assert_waiting(("b", "CREATE"))
    s.step("b")
    s.step("dep")
    s.assert_waiting(("a", "DELETE"))
    s.step("a")
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"b": "b#1", "dep": "dep#1"})


def test_a_failed_create_is_retried_by_the_next_update(s):
    s.create({"a": thing(fail=True), "b": thing(ref=res("a"))})
    s.step("a")
    s.assert_state("CREATE_FAILED")
    s.update({"a": thing(), "b": thing(ref=res("a"))})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_a_failed_update_is_replaced_by_the_next_update(s):
    s.create({"a": thing(name="x"), "b": thing(ref=res("a"))})
    s.run_to_end()
    s.update({"a": thing(name="y"), "b": thing(ref=res("a"))})
    s.fail("a")
    s.assert_state("UPDATE_FAILED")
    s.update({"a": thing(name="z"), "b": thing(ref=res("a"))})
    # Heat's rule: the failed incarnation is replaced, not updated.
    s.assert_waiting(("a", "CREATE"))
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({"a": "a#2", "b": "b#1"})


def test_a_resource_whose_update_failed_goes_before_what_it_uses(s):
    s.create({"a": thing(), "b": thing(name="x", ref=res("a"))})
    s.run_to_end()
    s.update({"a": thing(), "b": thing(name="y", ref=res("a"))})
    s.fail("b")
    s.assert_state("UPDATE_FAILED")
    # Until its update is done b still depends on what it used before as
    # well as on what it was to use (Heat's rule): a waits for b to go.
    s.update({})
    s.assert_waiting(("b", "DELETE"))
    s.run_to_end()
    assert s.passed()[-2:] == [("b", "DELETE"), ("a", "DELETE")]


def test_in_place_update_flows_through_get_attr(s):
    s.create({"a": thing(name="one"), "b": thing(ref=attr("a", "name"))})
    s.run_to_end()
    s.update({"a": thing(name="two"), "b": thing(ref=attr("a", "name"))})
    s.assert_waiting(("a", "UPDATE"))
    s.step("a")
    s.assert_waiting(("b", "UPDATE"))
    s.step("b")
    s.assert_state("UPDATE_COMPLETE")
    assert s.props("b")["ref"] == "two"
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_update_to_an_empty_template_deletes_in_reverse_order(s):
    s.create({"a": thing(), "b": thing(ref=res("a")),
              "c": thing(ref=attr("b", "name"))})
    s.run_to_end()
    s.update({})
    s.assert_waiting(("c", "DELETE"))
    s.step("c")
    s.assert_waiting(("b", "DELETE"))
    s.step("b")
    s.assert_waiting(("a", "DELETE"))
    s.step("a")
    s.assert_state("UPDATE_COMPLETE")
    s.assert_reality({})


def test_a_metadata_only_change_updates_the_resource_in_place(s):
    s.create({"a": thing(name="a", metadata={"v": 1}),
              "b": thing(ref=res("a"))})
    s.run_to_end()
    s.update({"a": thing(name="a", metadata={"v": 2}),
              "b": thing(ref=res("a"))})
    # Not "unchanged": the plugin is asked to update; b is left alone.
    s.assert_waiting(("a", "UPDATE"))
    s.step("a")
    s.assert_state("UPDATE_COMPLETE")
    assert s.passed() == [("a", "CREATE"), ("b", "CREATE"),
                          ("a", "UPDATE")]
    s.assert_reality({"a": "a#1", "b": "b#1"})
    # (the final check compares the row's metadata with the template's)
