"""Creating and deleting stacks: order, parallelism, early interruption,
failure, and deletion policies."""

from tests.scenarios.framework import attr, res, thing


def test_chain_is_created_in_dependency_order(s):
    s.create({"a": thing(name="A"),
              "b": thing(ref=res("a")),
              "c": thing(ref=attr("b", "name"), name="C")})
    s.assert_waiting(("a", "CREATE"))
    s.step("a")
    s.assert_waiting(("b", "CREATE"))
    s.step("b")
    s.assert_waiting(("c", "CREATE"))
    s.step("c")
    s.assert_state("CREATE_COMPLETE")
    s.assert_reality({"a": "a#1", "b": "b#1", "c": "c#1"})
    assert s.props("b")["ref"] == "a#1"


def test_disjoint_graphs_advance_independently(s):
    s.create({"a": thing(), "b": thing(ref=res("a")),
              "x": thing(), "y": thing(ref=res("x"))})
    s.assert_waiting(("a", "CREATE"), ("x", "CREATE"))
    s.step("a")
    s.assert_waiting(("b", "CREATE"), ("x", "CREATE"))
    s.step("b")
    # One half is done while the other has not moved.
    s.assert_resources(a="CREATE_COMPLETE", b="CREATE_COMPLETE",
                       x="CREATE_IN_PROGRESS", y="INIT_COMPLETE")
    s.assert_state("CREATE_IN_PROGRESS")
    s.step("x")
    s.step("y")
    s.assert_state("CREATE_COMPLETE")


def test_delete_goes_in_reverse_dependency_order(s):
    s.create({"a": thing(), "b": thing(ref=res("a")),
              "c": thing(depends_on="b")})
    s.run_to_end()
    s.delete()
    s.assert_waiting(("c", "DELETE"))
    s.step("c")
    s.assert_waiting(("b", "DELETE"))
    s.step("b")
    s.assert_waiting(("a", "DELETE"))
    s.step("a")
    s.assert_state("DELETE_COMPLETE")


def test_a_delete_that_fails_beside_one_that_completes(s):
    s.create({"a": thing(), "b": thing(), "c": thing()})
    s.run_to_end()
    s.delete()
    s.assert_waiting(("a", "DELETE"), ("b", "DELETE"), ("c", "DELETE"))
    # The one finished first forgets its row only: the others' deletes are
    # still in flight, and a's fails.
    s.step("b")
    s.fail("a")
    s.step("c")
    s.assert_state("DELETE_FAILED")
    s.assert_resources(a="DELETE_FAILED")
    s.expect_reality({"a": thing()})


def test_rollback_early_in_a_create(s):
    s.create({"a": thing(), "b": thing(ref=res("a")),
              "c": thing(ref=res("b"))})
    s.step("a")
    s.assert_waiting(("b", "CREATE"))
    s.rollback()
    # b's create was already in flight: it finishes, then is undone.
    s.assert_waiting(("b", "CREATE"))
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert s.passed() == [("a", "CREATE"), ("b", "CREATE"),
                          ("b", "DELETE"), ("a", "DELETE")]


def test_delete_early_in_a_create(s):
    s.create({"a": thing(), "b": thing(ref=res("a")),
              "c": thing(ref=res("b"))})
    s.step("a")
    s.delete()
    s.assert_waiting(("b", "CREATE"))
    s.run_to_end()
    s.assert_state("DELETE_COMPLETE")
    assert "c" not in {n for n, _ in s.passed()}


def test_delete_before_anything_was_created(s):
    s.create({"a": thing(), "b": thing(ref=res("a"))})
    s.assert_waiting(("a", "CREATE"))
    s.delete()
    s.run_to_end()
    s.assert_state("DELETE_COMPLETE")


def test_failure_without_rollback_keeps_what_was_created(s):
    s.create({"a": thing(), "b": thing(fail=True, ref=res("a")),
              "c": thing(ref=res("b")), "x": thing()})
    s.step("a", "x")
    s.step("b")
    s.assert_state("CREATE_FAILED")
    s.assert_resources(a="CREATE_COMPLETE", b="CREATE_FAILED",
                       c="INIT_COMPLETE", x="CREATE_COMPLETE")
    s.expect_reality({"a": thing(), "x": thing()})


def test_failure_with_rollback_removes_everything(s):
    s.create({"a": thing(), "b": thing(fail=True, ref=res("a")),
              "c": thing(ref=res("b"))}, disable_rollback=False)
    s.step("a")
    s.step("b")
    s.assert_state("ROLLBACK_IN_PROGRESS")
    s.run_to_end()
    s.assert_state("ROLLBACK_COMPLETE")
    assert "c" not in {n for n, _ in s.passed()}


def test_delete_of_a_stack_whose_create_failed(s):
    s.create({"a": thing(), "b": thing(ref=res("a")),
              "c": thing(ref=res("b"))})
    s.step("a")
    s.fail("b")
    s.assert_state("CREATE_FAILED")
    s.delete()
    s.run_to_end()
    s.assert_state("DELETE_COMPLETE")


def test_deletion_policy_retain_keeps_the_physical_resource(s):
    s.create({"a": thing(name="kept", deletion_policy="Retain"),
              "b": thing(ref=res("a"))})
    s.run_to_end()
    s.delete()
    s.assert_waiting(("b", "DELETE"))
    s.step("b")
    s.assert_state("DELETE_COMPLETE")
    assert ("a", "DELETE") not in s.passed()
    s.expect_retained("a#1")
    assert s.props("a")["name"] == "kept"


def test_retained_resource_removed_by_an_update_survives(s):
    s.create({"a": thing(deletion_policy="Retain"), "b": thing()})
    s.run_to_end()
    s.update({"b": thing()})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    assert s.resources() == {"b": "CREATE_COMPLETE"}
    s.expect_retained("a#1")
