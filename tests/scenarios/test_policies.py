"""Per-resource policies: deletion_policy and retries."""


from tests.scenarios.framework import res, thing


def test_retained_original_of_a_replacement_survives(s):
    s.create({"a": thing(size=1, deletion_policy="Retain"),
              "b": thing(ref=res("a"))})
    s.run_to_end()
    s.update({"a": thing(size=2, deletion_policy="Retain"),
              "b": thing(ref=res("a"))})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    assert ("a", "DELETE") not in s.passed()
    s.expect_retained("a#1")
    assert s.props("b")["ref"] == "a#2"


def test_dropping_retain_by_an_update_lets_the_delete_delete(s):
    s.create({"a": thing(name="x", deletion_policy="Retain")})
    s.run_to_end()
    s.update({"a": thing(name="x")})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.delete()
    s.run_to_end()
    s.assert_state("DELETE_COMPLETE")
    assert ("a", "DELETE") in s.passed()


def test_adding_retain_by_an_update_keeps_the_resource_on_delete(s):
    s.create({"a": thing(name="x")})
    s.run_to_end()
    s.update({"a": thing(name="x", deletion_policy="Retain")})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    s.delete()
    s.run_to_end()
    s.assert_state("DELETE_COMPLETE")
    s.expect_retained("a#1")


def test_a_failed_create_is_retried_after_deleting_the_wreck(s):
    s.create({"a": thing(retries=1), "b": thing(ref=res("a"))})
    s.fail("a")
    # The plugin is asked to clean up what the failed attempt left before
    # the second attempt (Heat's rule).
    s.assert_waiting(("a", "DELETE"))
    s.step("a")
    s.assert_waiting(("a", "CREATE"))
    s.run_to_end()
    s.assert_state("CREATE_COMPLETE")
    assert s.passed() == [("a", "CREATE"), ("a", "DELETE"), ("a", "CREATE"),
                          ("b", "CREATE")]
    s.assert_reality({"a": "a#1", "b": "b#1"})


def test_retries_exhausted_fail_the_stack(s):
    s.create({"a": thing(retries=1), "b": thing(ref=res("a"))})
    s.fail("a")
    s.step(("a", "DELETE"))
    s.fail("a")
    s.assert_state("CREATE_FAILED")
    s.assert_resources(a="CREATE_FAILED", b="INIT_COMPLETE")
    s.expect_reality({})
