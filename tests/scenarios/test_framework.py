"""The framework catches what it claims to: leaks, duplicates, wrong
properties and references, stale rows, unsettled ends."""

import pytest

from tests.scenarios import framework
from tests.scenarios.framework import ScenarioError, attr, res, thing


def _done(s):
    s.create({"a": thing(name="x"), "b": thing(ref=res("a")),
              "c": thing(ref=attr("a", "name"))})
    s.run_to_end()


def test_a_leak_is_caught(s):
    _done(s)
    s.world.make("s", "stray", framework.DEFAULTS)
    with pytest.raises(ScenarioError, match="stray leaked"):
        s.verify()
    s.skip_reality_check("checked above")


def test_a_duplicate_is_caught(s):
    _done(s)
    s.world.make("s", "a", {"name": "x", "size": 1, "ref": None})
    with pytest.raises(ScenarioError, match="a exists 2 times"):
        s.verify()
    s.skip_reality_check("checked above")


def test_a_missing_resource_is_caught(s):
    _done(s)
    s.world.remove("c#1")
    with pytest.raises(ScenarioError, match="c is missing"):
        s.verify()
    s.skip_reality_check("checked above")


def test_a_wrong_reference_is_caught(s):
    _done(s)
    s.world.physical["b#1"]["props"]["ref"] = "a#9"
    with pytest.raises(ScenarioError, match="b \\(b#1\\) has"):
        s.verify()
    s.world.physical["b#1"]["props"]["ref"] = "a#1"
    s.world.physical["c#1"]["props"]["ref"] = "y"
    with pytest.raises(ScenarioError, match="c \\(c#1\\) has"):
        s.verify()
    s.skip_reality_check("checked above")


def test_an_unsettled_end_is_caught(s):
    s.create({"a": thing()})
    with pytest.raises(ScenarioError, match="actions at the gate"):
        s.verify()
    s.run_to_end()


def test_a_failed_stack_needs_a_stated_reality(s):
    s.create({"a": thing(fail=True)})
    s.step("a")
    with pytest.raises(ScenarioError, match="must state the expected"):
        s.verify()
    s.expect_reality({})


def test_stepping_what_is_not_waiting_is_an_error(s):
    s.create({"a": thing(), "b": thing(ref=res("a"))})
    with pytest.raises(ScenarioError, match="'b' is not waiting"):
        s.step("b")
    s.run_to_end()
