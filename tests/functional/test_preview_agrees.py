"""The dry run says what the engine does: generated (recorded stack, new
template) pairs, each previewed and then really updated on the embedded
engine (SQLite, resource actions in-process), and for every resource of the
new template the action the preview planned must be the action the engine
took.

A recorded stack is made by a create, sometimes followed by an update;
either may fail part way (``fail`` properties), leaving failed, half-made,
never-created (INIT) and replaced-but-kept incarnations behind.  The new
template changes properties that update in place, that cannot
(replacement), that are immutable (the update fails), metadata only, types
to another name of the same plugin class or to another class, references
to resources that are replaced, and adds and removes resources.

What the engine did is read from the records, not from the plan: a new
incarnation for a resource that had one is a replacement (none: a create),
otherwise its CREATE or UPDATE events during the update say which, and no
event means it was left alone.

The preview cannot know how an attribute of a resource updated in place
changes, so the templates read (with ``get_attr``) only attributes that an
update in place leaves alone.
"""

import itertools
import time

import hypothesis
from hypothesis import strategies as st
import pytest

from heatflow import properties, resource
from tests.plugins import cloud

P = properties.Schema

NAMES = ["r0", "r1", "r2", "r3", "r4"]


class Frozen(resource.Resource):
    """A resource with an immutable property: changing it fails the update
    (neither updated nor replaced)."""
    properties_schema = {
        "label": P(P.STRING, "Updatable.", default="", update_allowed=True),
        "zone": P(P.STRING, "Immutable.", default="z1", immutable=True),
        "ref": P(P.ANY, "Anything.", update_allowed=True),
    }

    def handle_create(self):
        self.resource_id_set(self.physical_resource_name())

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        return None


class Stubborn(cloud.Thing):
    """A Test::Thing that keeps its failed incarnations: a failed action is
    tried again, not replaced."""

    def needs_replace_failed(self):
        return False


# Types whose properties are interchangeable, so that a type change within
# a family binds; Test::Alias is another name of Test::Thing's class.
FAMILIES = {
    "thing": ["Test::Thing", "Test::Alias", "Test::Stubborn",
              "OS::Heat::None"],
    "test": ["OS::Heat::TestResource"],
    "frozen": ["Test::Frozen"],
}


@st.composite
def _properties(draw, family, earlier, may_fail):
    """Properties of a resource of ``family`` that may refer to the
    ``earlier`` resources (and, with ``may_fail``, fail)."""
    def some(values):
        return draw(st.sampled_from(values))
    refs = [None] + [{"get_resource": n} for n, _ in earlier]
    # Only the size of a thing is read: it never changes in place.
    refs += [{"get_attr": [n, "size"]} for n, f in earlier if f == "thing"]
    if family == "thing":
        props = {"name": some(["a", "b"]), "size": some([1, 2])}
        ref = some(refs)
        if ref is not None:
            props["ref"] = ref
        if may_fail and draw(st.integers(0, 3)) == 0:
            props["fail"] = True
    elif family == "test":
        names = [r for r in refs if r and "get_resource" in r]
        props = {"value": some(["a", "b"] + names),
                 "update_replace_value": some(["p", "q"] + names)}
        if draw(st.booleans()):
            props["update_replace"] = True
        if may_fail and draw(st.integers(0, 3)) == 0:
            props["fail"] = True
    else:
        props = {"label": some(["a", "b"]), "zone": some(["z1", "z1", "z2"])}
        ref = some(refs)
        if ref is not None:
            props["ref"] = ref
    return props


@st.composite
def templates(draw, types, may_fail):
    """A template over some of NAMES, each of its usual type (``types``)
    or, now and then, another of its family."""
    resources, earlier = {}, []
    present = draw(st.lists(st.sampled_from(NAMES), min_size=1,
                            unique=True))
    for name in NAMES:
        if name not in present:
            continue
        family, rtype = types[name]
        if draw(st.integers(0, 3)) == 0:
            rtype = draw(st.sampled_from(FAMILIES[family]))
        if rtype == "OS::Heat::None":
            family = "none"      # accepts anything, offers nothing to read
        defn = {"type": rtype,
                "properties": draw(_properties(
                    "thing" if family == "none" else family, earlier,
                    may_fail))}
        if draw(st.integers(0, 3)) == 0:
            defn["metadata"] = {"m": draw(st.sampled_from([1, 2]))}
        resources[name] = defn
        earlier.append((name, family))
    return {"heat_template_version": "2018-08-31", "resources": resources}


@st.composite
def histories(draw):
    """(templates of the recorded stack's operations, the new template)."""
    types = {}
    for name in NAMES:
        family = draw(st.sampled_from(sorted(FAMILIES)))
        types[name] = (family, draw(st.sampled_from(FAMILIES[family])))
    recorded = [draw(templates(types, may_fail=True))]
    if draw(st.booleans()):
        recorded.append(draw(templates(types, may_fail=True)))
    return recorded, draw(templates(types, may_fail=False))


def _engine_actions(orch, stack_id, before, events_before):
    """{name: what the engine did} for the update just made: ``before``
    holds the rows as they were."""
    store = orch.db.store
    old_ids = {r.id for r in before}
    had = {r.name for r in before if r.action != "DELETE"}
    did = {}
    for r in store.list_resources(stack_id):
        if r.id not in old_ids:
            did[r.name] = "replace" if r.name in had else "create"
    for e in store.list_events(stack_id, events_before):
        if e.resource_name and e.resource_name not in did:
            if e.action == "CREATE":
                did[e.resource_name] = "create"
            elif e.action == "UPDATE":
                did.setdefault(e.resource_name, "update")
    return did


def _settled(orch, stack_id):
    """Wait for the resource actions still in flight after a failed
    operation (a failure stops new actions; those started finish and are
    recorded after the stack says FAILED)."""
    deadline = time.monotonic() + 30
    while any(r.status == "IN_PROGRESS"
              for r in orch.db.store.list_resources(stack_id)):
        assert time.monotonic() < deadline, "actions never settled"
        time.sleep(0.01)


def _last_event(orch, stack_id):
    events = orch.db.store.list_events(stack_id)
    return events[-1].id if events else 0


@pytest.fixture
def agreeing(orch):
    orch.register_plugin("Test::Alias", cloud.Thing)
    orch.register_plugin("Test::Stubborn", Stubborn)
    orch.register_plugin("Test::Frozen", Frozen)
    return orch


def test_the_dry_run_plans_what_the_engine_does(agreeing):
    orch = agreeing
    counter = itertools.count()
    seen = {"examples": 0, "actions": set(), "reasons": set()}

    @hypothesis.settings(
        max_examples=300, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(histories())
    def check(history):
        recorded, new = history
        name = "s%d" % next(counter)
        stack = orch.create_stack(name, recorded[0],
                                  disable_rollback=True).wait()
        for tmpl in recorded[1:]:
            stack = orch.update_stack(name, tmpl).wait()
        stack_id = stack.id
        _settled(orch, stack_id)
        before = orch.db.store.list_resources(stack_id)
        events_before = _last_event(orch, stack_id)
        plan = {e["resource_name"]: e for e in orch.preview_update(name,
                                                                   new)}
        after = orch.update_stack(name, new).wait()
        did = _engine_actions(orch, stack_id, before, events_before)
        complete = after.stack_status == "UPDATE_COMPLETE"
        for rname in new["resources"]:
            planned = plan[rname]["action"]
            taken = did.get(rname, "unchanged")
            seen["actions"].add(planned)
            seen["reasons"].add(plan[rname]["reason"])
            if not complete and taken == "unchanged":
                # The update failed (an immutable property) before the
                # engine reached this resource.
                continue
            if planned == "may update":
                # it reads an attribute of a resource updated in place:
                # whether that changes only the plugin knows
                assert taken in ("update", "unchanged"), (rname, taken)
                continue
            assert planned == taken, (rname, plan[rname], after.status,
                                      after.status_reason)
        if complete:
            left = {r.name for r in orch.list_resources(name)}
            for rname, entry in plan.items():
                if entry["action"] == "delete":
                    assert rname not in left
        seen["examples"] += 1

    check()
    assert seen["examples"] >= 300
    # The generator reaches every kind of decision, and the rules that
    # depend on what an earlier operation left behind.
    assert seen["actions"] - {"may update"} == {
        "create", "update", "replace", "unchanged"}
    reasons = " | ".join(sorted(seen["reasons"]))
    for words in ("new resource", "not created yet", "did not complete",
                  "failed resource is replaced", "type changed",
                  "cannot be updated in place", "reference to",
                  "the plugin replaces it", "is immutable",
                  "metadata changed", "no change"):
        assert words in reasons, words
