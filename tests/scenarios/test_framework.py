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


def _write(s, table, where, **values):
    """Change the stack's records behind the engine's back."""
    from heatflow.persistence import models
    t = getattr(models, table)
    with s.orch.db.engine.begin() as conn:
        conn.execute(t.update().where(where(t.c)).values(**values))


def _row(s, name):
    return [r for r in s.orch.db.store.list_resources(s.stack_id)
            if r.name == name][0]


def test_a_dangling_replacement_link_is_caught(s):
    _done(s)
    a = _row(s, "a")
    _write(s, "resources", lambda c: c.id == a.id, replaced_by=a.id + 100)
    with pytest.raises(ScenarioError,
                       match="a \\(row %d\\) is still replaced_by" % a.id):
        s.verify()
    _write(s, "resources", lambda c: c.id == a.id, replaced_by=None)


def _failed(s):
    """a created, b failed: CREATE_FAILED, a's reality stated."""
    s.create({"a": thing(), "b": thing(fail=True)})
    s.step("a")
    s.fail("b")
    s.assert_state("CREATE_FAILED")
    s.expect_reality({"a": thing()})


def test_a_replacement_link_not_answered_is_caught(s):
    _failed(s)
    a, b = _row(s, "a"), _row(s, "b")
    _write(s, "resources", lambda c: c.id == b.id, replaces=a.id)
    with pytest.raises(ScenarioError, match="replaces row %d, which is "
                       "replaced_by None" % a.id):
        s.verify()
    _write(s, "resources", lambda c: c.id == b.id, replaces=None)


def test_rows_are_checked_when_the_reality_is_stated(s):
    _failed(s)
    a = _row(s, "a")
    _write(s, "resources", lambda c: c.id == a.id,
           physical_resource_id="a#9")
    with pytest.raises(ScenarioError, match="a#1 is named by 0 rows; "
                       "row \\['a'\\] names a#9, which does not exist"):
        s.verify()
    _write(s, "resources", lambda c: c.id == a.id,
           physical_resource_id="a#1")


def test_wrong_metadata_is_caught(s):
    s.create({"a": thing(metadata={"v": 1})})
    s.run_to_end()
    a = _row(s, "a")
    _write(s, "resources", lambda c: c.id == a.id, rsrc_metadata={"v": 2})
    with pytest.raises(ScenarioError, match="a has metadata"):
        s.verify()
    _write(s, "resources", lambda c: c.id == a.id, rsrc_metadata={"v": 1})


def test_a_stale_template_is_caught(s):
    s.create({"a": thing()})
    s.run_to_end()
    first = s._stack_row().template_id
    s.update({"a": thing(), "b": thing()})
    s.run_to_end()
    s.assert_state("UPDATE_COMPLETE")
    second = s._stack_row().template_id
    _write(s, "stacks", lambda c: c.id == s.stack_id, template_id=first)
    with pytest.raises(ScenarioError, match="the stack's template has"):
        s.verify()
    _write(s, "stacks", lambda c: c.id == s.stack_id, template_id=second)


def test_a_reality_is_stated_once(s):
    s.create({"a": thing(fail=True)})
    s.step("a")
    s.expect_reality({})
    with pytest.raises(ScenarioError, match="already stated"):
        s.expect_reality({"a": thing()})
