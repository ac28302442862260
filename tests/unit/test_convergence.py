"""The convergence rules (flows/convergence.py), table by table: which
incarnation is converged, create / update / replace / none and why, and
what clean-up does with an incarnation the target no longer has."""

import types

import pytest

from heatflow import properties
from heatflow.flows import convergence as cv

P = properties.Schema

SCHEMA = {
    "size": P(P.INTEGER, "Updatable.", update_allowed=True),
    "name": P(P.STRING, "Fixed: a change replaces."),
    "zone": P(P.STRING, "Immutable: a change fails.", immutable=True),
    "tags": P(P.LIST, "Updatable.", update_allowed=True),
}

OLD = {"size": 1, "name": "a", "zone": "z1"}
META = {"role": "web"}


def row(action="CREATE", status="COMPLETE", physical="p-1", props=OLD,
        meta=META, type="Acme::Thing", **kw):
    fields = dict(id=1, name="thing", action=action, status=status,
                  physical_resource_id=physical, properties=dict(props),
                  rsrc_metadata=dict(meta), type=type, template_id=1,
                  replaced_by=None, lock_run=None)
    fields.update(kw)
    return types.SimpleNamespace(**fields)


def changed(**kw):
    return dict(OLD, **kw)


def never(*args):
    raise AssertionError("the rule asked what it does not need")


# (case, row, new properties, new metadata, keyword arguments of decide,
#  expected action, expected reason, expected keys)
DECIDE = [
    ("no row: a new resource",
     None, OLD, META, {}, cv.CREATE, cv.NO_ROW, ()),
    ("planned, never created",
     row("INIT", physical=None), OLD, META, {}, cv.CREATE, cv.NOT_CREATED,
     ()),
    ("unchanged and complete",
     row(), OLD, META, {}, cv.NONE, cv.UNCHANGED, ()),
    ("unchanged after an update",
     row("UPDATE"), OLD, META, {}, cv.NONE, cv.UNCHANGED, ()),
    ("metadata only",
     row(), OLD, {"role": "db"}, {}, cv.UPDATE, cv.METADATA_ONLY, ()),
    ("an update_allowed property",
     row(), changed(size=2), META, {}, cv.UPDATE, cv.PROPERTIES_CHANGED, ()),
    ("an update_allowed property added",
     row(), changed(tags=["x"]), META, {}, cv.UPDATE, cv.PROPERTIES_CHANGED,
     ()),
    ("a property that cannot be updated in place",
     row(), changed(name="b"), META, {}, cv.REPLACE,
     cv.PROPERTY_NOT_UPDATABLE, ("name",)),
    ("one fixed among updatable ones",
     row(), changed(name="b", size=3), META, {}, cv.REPLACE,
     cv.PROPERTY_NOT_UPDATABLE, ("name",)),
    ("a fixed property removed",
     row(), {"size": 1, "zone": "z1"}, META, {}, cv.REPLACE,
     cv.PROPERTY_NOT_UPDATABLE, ("name",)),
    ("an unknown property on a strict plugin",
     row(), changed(extra=1), META, {}, cv.REPLACE,
     cv.PROPERTY_NOT_UPDATABLE, ("extra",)),
    ("an unknown property on a lax plugin (OS::Heat::None)",
     row(), changed(extra=1), META, {"strict": False}, cv.UPDATE,
     cv.PROPERTIES_CHANGED, ()),
    ("an immutable property: the update fails",
     row(), changed(zone="z2"), META, {}, cv.UPDATE, cv.IMMUTABLE,
     ("zone",)),
    # Heat's order: immutability is checked before anything is replaced.
    ("immutable beats not-updatable",
     row(), changed(name="b", zone="z2"), META, {}, cv.UPDATE, cv.IMMUTABLE,
     ("zone",)),
    ("type renamed, same plugin class",
     row(type="Acme::Alias"), OLD, META, {}, cv.NONE, cv.UNCHANGED, ()),
    ("type changed to another plugin class",
     row(type="Acme::Old"), OLD, META, {"plugin_changed": True},
     cv.REPLACE, cv.TYPE_CHANGED, ()),
    ("same type name, another plugin class",
     row(), OLD, META, {"plugin_changed": True}, cv.REPLACE,
     cv.PLUGIN_CHANGED, ()),
    ("a plugin change beats a property change",
     row(type="Acme::Old"), changed(size=5), META, {"plugin_changed": True},
     cv.REPLACE, cv.TYPE_CHANGED, ()),
    # failed incarnations
    ("create failed after making something: replaced",
     row("CREATE", "FAILED"), OLD, META, {}, cv.REPLACE, cv.FAILED, ()),
    ("create failed before making anything: created again",
     row("CREATE", "FAILED", physical=None), OLD, META,
     {"replace_failed": never}, cv.CREATE, cv.CREATE_INCOMPLETE, ()),
    ("update failed: replaced",
     row("UPDATE", "FAILED"), OLD, META, {}, cv.REPLACE, cv.FAILED, ()),
    ("update failed, even without a physical id",
     row("UPDATE", "FAILED", physical=None), OLD, META, {}, cv.REPLACE,
     cv.FAILED, ()),
    ("delete failed: replaced",
     row("DELETE", "FAILED"), OLD, META, {}, cv.REPLACE, cv.FAILED, ()),
    ("failed, the plugin keeps it: its update runs again",
     row("UPDATE", "FAILED"), OLD, META, {"replace_failed": False},
     cv.UPDATE, cv.INCOMPLETE, ()),
    ("failed, the plugin keeps it, properties changed",
     row("UPDATE", "FAILED"), changed(size=4), META,
     {"replace_failed": False}, cv.UPDATE, cv.PROPERTIES_CHANGED, ()),
    ("create failed, the plugin keeps it: its create runs again",
     row("CREATE", "FAILED"), OLD, META, {"replace_failed": False},
     cv.CREATE, cv.CREATE_INCOMPLETE, ()),
    # a nested stack: its own _needs_update (always yes) is asked, and
    # the child it made is updated rather than created again
    ("create failed, a plugin asked whether to update keeps it: updated",
     row("CREATE", "FAILED"), OLD, META,
     {"replace_failed": False, "needs_update": lambda: True}, cv.UPDATE,
     cv.INCOMPLETE, ()),
    ("failed in this very operation (resumed): not replaced",
     row("UPDATE", "FAILED"), OLD, META,
     {"resumed": True, "replace_failed": never}, cv.UPDATE, cv.INCOMPLETE,
     ()),
    # interrupted actions
    ("create in flight when its engine died",
     row("CREATE", "IN_PROGRESS"), OLD, META, {}, cv.CREATE,
     cv.CREATE_INCOMPLETE, ()),
    ("interrupted create, another plugin: what it made is replaced",
     row("CREATE", "IN_PROGRESS", type="Acme::Old"), OLD, META,
     {"plugin_changed": True}, cv.REPLACE, cv.TYPE_CHANGED, ()),
    ("interrupted create that made nothing, another plugin: created",
     row("CREATE", "IN_PROGRESS", physical=None, type="Acme::Old"), OLD,
     META, {"plugin_changed": True}, cv.CREATE, cv.CREATE_INCOMPLETE, ()),
    ("update in flight when its engine died",
     row("UPDATE", "IN_PROGRESS"), OLD, META, {}, cv.UPDATE, cv.INCOMPLETE,
     ()),
    ("being deleted",
     row("DELETE", "IN_PROGRESS"), OLD, META, {}, cv.REPLACE,
     cv.BEING_DELETED, ()),
    ("deleted",
     row("DELETE", "COMPLETE"), OLD, META, {}, cv.REPLACE, cv.BEING_DELETED,
     ()),
]


@pytest.mark.parametrize("case,rw,data,meta,kw,action,reason,keys", DECIDE,
                         ids=[c[0] for c in DECIDE])
def test_decide(case, rw, data, meta, kw, action, reason, keys):
    kw = dict(kw)
    strict = kw.pop("strict", True)
    kw.setdefault("plugin_changed", False)
    d = cv.decide(rw, "Acme::Thing", data, meta, SCHEMA, strict, **kw)
    assert (d.action, d.reason, d.keys) == (action, reason, keys)
    if action == cv.UPDATE:
        assert d.prop_diff == properties.diff(rw.properties, data)
        assert d.metadata_changed == (meta != rw.rsrc_metadata)
    assert d.fails == (reason == cv.IMMUTABLE)


@pytest.mark.parametrize("case,rw,data,meta,kw,action,reason,keys", DECIDE,
                         ids=[c[0] for c in DECIDE])
def test_decide_by_state_is_decide_without_properties(case, rw, data, meta,
                                                      kw, action, reason,
                                                      keys):
    kw = dict(kw)
    kw.pop("strict", None)
    kw.setdefault("plugin_changed", False)
    kw["update_failed"] = kw.pop("needs_update", None) is not None
    d = cv.decide_by_state(rw, "Acme::Thing", **kw)
    if reason in (cv.NO_ROW, cv.NOT_CREATED, cv.CREATE_INCOMPLETE,
                  cv.FAILED, cv.BEING_DELETED, cv.TYPE_CHANGED,
                  cv.PLUGIN_CHANGED):
        assert (d.action, d.reason) == (action, reason)
    else:
        assert d is None


def test_the_plugin_is_asked_only_when_the_rule_needs_it():
    asked = []

    def ask(answer):
        def question():
            asked.append(answer)
            return answer
        return question
    # A complete row: whether it failed is not asked; the plugin class is.
    d = cv.decide(row(), "Acme::Thing", OLD, META, SCHEMA, True,
                  plugin_changed=ask(False), replace_failed=ask(True))
    assert d.action == cv.NONE and asked == [False]
    # A failed one is replaced before its plugin class matters.
    asked.clear()
    d = cv.decide(row("UPDATE", "FAILED"), "Acme::Thing", OLD, META, SCHEMA,
                  True, plugin_changed=ask(True), replace_failed=ask(True))
    assert d.reason == cv.FAILED and asked == [True]
    # Nothing is asked of a row never created.
    cv.decide(row("INIT", physical=None), "Acme::Thing", OLD, META, SCHEMA,
              True, plugin_changed=never, replace_failed=never)


# the plugin's own word on an update in place
VERDICT = [
    ("the plugin accepts the change", changed(size=2), False, cv.UPDATE,
     cv.PROPERTIES_CHANGED),
    ("needs_replace_with_prop_diff says replace", changed(size=2), True,
     cv.REPLACE, cv.PLUGIN_REPLACES),
    ("metadata only: the plugin is not asked", OLD, never, cv.UPDATE,
     cv.INCOMPLETE),
    ("immutable: not asked, the update fails", changed(zone="z9"), never,
     cv.UPDATE, cv.IMMUTABLE),
]


@pytest.mark.parametrize("case,data,replaces,action,reason", VERDICT,
                         ids=[c[0] for c in VERDICT])
def test_plugin_verdict(case, data, replaces, action, reason):
    rw = row("UPDATE", "IN_PROGRESS")
    d = cv.decide(rw, "Acme::Thing", data, META, SCHEMA, True,
                  plugin_changed=False)
    assert d.asks_plugin == (replaces is not never)
    d = cv.plugin_verdict(d, replaces)
    assert (d.action, d.reason) == (action, reason)


def test_update_replace_from_handle_update_replaces():
    d = cv.decide(row(), "Acme::Thing", changed(size=9), META, SCHEMA, True,
                  plugin_changed=False)
    d = cv.update_replaced(d)
    assert (d.action, d.reason) == (cv.REPLACE, cv.UPDATE_REPLACE)
    assert d.prop_diff == {"size": 9}


def test_is_converged():
    assert cv.is_converged(row(), OLD, META)
    assert cv.is_converged(row(meta={}), OLD, None)
    assert not cv.is_converged(row(), changed(size=2), META)
    assert not cv.is_converged(row(), OLD, {})
    assert not cv.is_converged(row("UPDATE", "FAILED"), OLD, META)
    assert not cv.is_converged(row("CREATE", "IN_PROGRESS"), OLD, META)


# -- which incarnation ---------------------------------------------------------

def inc(id, status="COMPLETE", template_id=1, replaced_by=None,
        action="CREATE", name="thing"):
    return types.SimpleNamespace(id=id, name=name, status=status,
                                 action=action, template_id=template_id,
                                 replaced_by=replaced_by)


# (case, incarnations, target template, previous template, ids built from
#  the target's definition, expected id or None)
CHOOSE = [
    ("none", [], 3, 2, (), None),
    ("the only one, even failed", [inc(1, "FAILED")], 3, 2, (), 1),
    ("rows being deleted are not reused",
     [inc(1, action="DELETE"), inc(2, action="DELETE", status="FAILED")],
     3, 2, (), None),
    ("a deleted row is passed over for a live one",
     [inc(1), inc(2, action="DELETE")], 3, 2, (), 1),
    ("healthy beats failed, even newer",
     [inc(1), inc(2, "FAILED")], 3, 2, (), 1),
    ("failed replacement vs original: the original",
     [inc(1, replaced_by=2), inc(2, "FAILED", template_id=3)], 3, 2, (), 1),
    ("a replacement made for the target beats its original",
     [inc(1, replaced_by=2), inc(2, template_id=3)], 3, 2, (), 2),
    ("the previous template's incarnation beats an older one",
     [inc(1, template_id=2), inc(2, template_id=1)], 3, 2, (), 1),
    ("not replaced beats replaced",
     [inc(1), inc(2, replaced_by=1)], 3, 2, (), 1),
    ("tie: the newest", [inc(1), inc(2)], 3, 2, (), 2),
    ("built from the target's definition beats the previous template's",
     [inc(1, template_id=1), inc(2, template_id=2)], 3, 2, (1,), 1),
    ("but the target template's own incarnation beats both",
     [inc(1, template_id=1), inc(2, template_id=3)], 3, 2, (1,), 2),
    ("no target stored (a dry run): no rows match a None template",
     [inc(1, template_id=None), inc(2, template_id=2)], None, 2, (), 2),
]


@pytest.mark.parametrize("case,rows,target,prev,same,expected", CHOOSE,
                         ids=[c[0] for c in CHOOSE])
def test_choose_row(case, rows, target, prev, same, expected):
    got = cv.choose_row(rows, target, prev,
                        lambda r: r.id in same)
    assert (got.id if got is not None else None) == expected


class Defn:
    def __init__(self, **d):
        self.d = d

    def to_dict(self):
        return dict(self.d)


def test_choose_rows_prefers_the_target_definition_when_there_is_a_choice():
    rows = [inc(1, name="a"), inc(2, name="b", template_id=1),
            inc(3, name="b", template_id=2), inc(4, name="c", template_id=1),
            inc(5, name="c", template_id=2, status="FAILED")]
    # template 1 built b and c as the target wants them; template 2 not
    templates = {1: types.SimpleNamespace(resources={
        "b": Defn(size=1), "c": Defn(size=1)}),
        2: types.SimpleNamespace(resources={"b": Defn(size=2)})}
    asked = []

    def definition_of(tid):
        asked.append(tid)
        return templates[tid]
    target = {"a": Defn(), "b": Defn(size=1), "c": Defn(size=1),
              "d": Defn()}
    chosen = cv.choose_rows(rows, target, 9, 2, definition_of)
    assert {n: r.id for n, r in chosen.items()} == {"a": 1, "b": 2, "c": 4}
    assert 9 not in asked and asked      # only rows with a choice
    # without definitions: the previous template's row
    chosen = cv.choose_rows(rows, list(target), 9, 2)
    assert {n: r.id for n, r in chosen.items()} == {"a": 1, "b": 3, "c": 4}


def test_built_from():
    defn = Defn(size=1)
    tmpl = types.SimpleNamespace(resources={"thing": Defn(size=1)})
    assert cv.built_from(inc(1), defn, lambda tid: tmpl)
    assert not cv.built_from(inc(1, "FAILED"), defn, lambda tid: tmpl)
    assert not cv.built_from(inc(1, template_id=None), defn, never)
    assert not cv.built_from(inc(1), Defn(size=2), lambda tid: tmpl)
    assert not cv.built_from(inc(1, name="other"), defn, lambda tid: tmpl)
    assert not cv.built_from(inc(1), defn, lambda tid: None)


# -- clean-up --------------------------------------------------------------------

CLEANUP = [
    ("never created: forgotten", row("INIT", physical=None), None,
     cv.FORGET),
    ("planned but locked by a run that may be creating it",
     row("INIT", physical=None, lock_run="r"), None, cv.DELETE),
    ("INIT with a physical id (an interrupted create recorded it)",
     row("INIT"), None, cv.DELETE),
    ("Retain: forgotten, left in place", row(), "Retain", cv.RETAIN),
    ("Retain does not matter for one never created",
     row("INIT", physical=None), "Retain", cv.FORGET),
    ("created: deleted", row(), "Delete", cv.DELETE),
    ("failed create with no physical id: deleted (the plugin may have "
     "made something it did not record)",
     row("CREATE", "FAILED", physical=None), None, cv.DELETE),
]


@pytest.mark.parametrize("case,rw,policy,expected", CLEANUP,
                         ids=[c[0] for c in CLEANUP])
def test_cleanup(case, rw, policy, expected):
    assert cv.cleanup(rw, policy) == expected
