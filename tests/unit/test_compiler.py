"""The compiler: which incarnations a plan converges and cleans up, and the
edges of the TaskFlow graph flow it builds."""

import dataclasses
import uuid

import pytest

from heatflow import registry
from heatflow.flows import compiler
from heatflow.flows import plan as plan_mod
from heatflow.persistence import database
from heatflow.persistence.store import Fence
from heatflow.template import Template


@pytest.fixture
def store(tmp_path):
    db = database.Database("sqlite:///" + str(tmp_path / "t.db"))
    yield db.store
    db.close()


def definition(resources):
    t = Template.from_dict({"heat_template_version": "2018-08-31",
                            "resources": resources})
    return t.bind({}, stack_name="s", registry=registry.Registry.default())


def none(**kw):
    return dict({"type": "OS::Heat::None"}, **kw)


def start(store):
    f = Fence(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()))
    store.create_stack(stack_id=f.stack_id, name="s", template={},
                       files={}, environment={}, parameters={},
                       action="CREATE", traversal=f.traversal, run=f.run,
                       status_reason="", disable_rollback=True,
                       timeout_mins=None, deadline=None, flow_uuid="x")
    op = plan_mod.OperationHeader(
        stack_id=f.stack_id, stack_name="s", traversal=f.traversal,
        run=f.run, flow_uuid="x", action="CREATE", template_id=1,
        runtime="k")
    return f, op


def edges(flow):
    return {(a.name, b.name) for a, b, _ in flow.iter_links()}


def test_create_plan_inserts_rows_and_links_dependencies(store):
    f, op = start(store)
    d = definition({"a": none(), "b": none(depends_on="a"),
                    "c": none(properties={"x": {"get_attr": ["b", "y"]}})})
    plan = compiler.plan_operation(store, op, d)
    rows = {r.name: r.id for r in store.list_resources(f.stack_id)}
    assert plan.converge == [["a", rows["a"], []],
                             ["b", rows["b"], ["a"]],
                             ["c", rows["c"], ["b"]]]
    assert plan.cleanup == []
    flow = compiler.build_flow(plan)
    links = edges(flow)
    assert ("converge:a", "converge:b") in links
    assert ("converge:b", "converge:c") in links
    assert ("converge:a", "converge:c") not in links
    for name in "abc":
        assert ("converge:" + name, "converged") in links
    assert ("converged", "finish") in links


def test_only_rows_the_plan_inserts_are_fresh(store):
    # (their atoms take the lock without reading the row first)
    f, op = start(store)
    (old,) = store.insert_resources(f, [{"name": "a", "type": "T"}])
    plan = compiler.plan_operation(store, op, definition({"a": none(),
                                                          "b": none()}))
    rows = {r.name: r.id for r in store.list_resources(f.stack_id)}
    assert rows["a"] == old and plan.fresh == [rows["b"]]
    fresh = {a.resource_name: a.fresh for a in compiler.build_flow(plan)
             if a.name.startswith("converge:")}
    assert fresh == {"a": False, "b": True}
    # A plan saved before plans listed them: none is.
    saved = plan.to_json()
    del saved["fresh"]
    assert not any(getattr(a, "fresh", False)
                   for a in compiler.build_flow(
                       plan_mod.Plan.from_json(saved)))


def test_cleanup_deletes_dependents_first(store):
    f, op = start(store)
    ids = store.insert_resources(f, [{"name": "a", "type": "T"},
                                     {"name": "b", "type": "T"}])
    # b depends on a (recorded when b was converged).
    store.set_resource_fields(ids[1], f, requires=[ids[0]])
    plan = compiler.plan_operation(store, op, None)       # delete
    assert plan.converge == []
    assert plan.cleanup == [[ids[0], [ids[1]]], [ids[1], []]]
    links = edges(compiler.build_flow(plan))
    cleanup = "volatile:cleanup:%d"
    assert (cleanup % ids[1], cleanup % ids[0]) in links
    assert ("converged", cleanup % ids[1]) in links


# Template ids past CPython's cache of small ints too: ids compared with
# "is" would pass with small ones only.
@pytest.mark.parametrize("one", [1, 1001])
def test_update_reuses_the_best_incarnation(store, one):
    two = one + 1
    f, op = start(store)
    old, new = store.insert_resources(f, [{"name": "a", "type": "T"},
                                          {"name": "a", "type": "T"}])
    store.set_resource_fields(old, f, template_id=one, action="CREATE")
    store.set_resource_fields(new, f, template_id=two, action="CREATE",
                              replaces=old)
    store.set_resource_fields(old, f, replaced_by=new)
    # Rolling back to template one prefers the original ...
    plan = compiler.plan_operation(store, dataclasses.replace(op, template_id=one),
                                   definition({"a": none()}))
    assert plan.converge[0][1] == old
    # ... going forward to template two the replacement.
    plan = compiler.plan_operation(store, dataclasses.replace(op, template_id=two),
                                   definition({"a": none()}),
                                   prev_template_id=one)
    assert plan.converge[0][1] == new
    # Both incarnations get a clean-up node; the replaced one after its
    # replacement's.
    assert [old, [new]] in plan.cleanup


def test_flow_is_deterministic(store):
    f, op = start(store)
    d = definition({"a": none(), "b": none(depends_on=["a"])})
    plan = compiler.plan_operation(store, op, d)
    one, two = compiler.build_flow(plan), compiler.build_flow(plan)
    assert sorted(a.name for a, _ in one.iter_nodes()) == \
        sorted(a.name for a, _ in two.iter_nodes())
    assert edges(one) == edges(two)


def test_every_requirement_has_exactly_one_provider(store):
    """What the engine's skipped validation would have checked."""
    f, op = start(store)
    ids = store.insert_resources(f, [{"name": "old", "type": "T"}])
    d = definition({"a": none(), "b": none(depends_on="a"),
                    "c": none(properties={"x": {"get_attr": ["b", "y"]}})})
    plan = compiler.plan_operation(store, op, d)
    assert plan.cleanup == [[ids[0], []]]
    nodes = [a for a, _ in compiler.build_flow(plan).iter_nodes()]
    providers = {}
    for atom in nodes:
        for sym in atom.provides:
            providers.setdefault(sym, []).append(atom.name)
    for atom in nodes:
        for sym in atom.requires:
            assert len(providers.get(sym, ())) == 1, (atom.name, sym)


def test_without_a_current_row_the_previous_templates_wins(store):
    f, op = start(store)
    old, new = store.insert_resources(f, [{"name": "a", "type": "T"},
                                          {"name": "a", "type": "T"}])
    store.set_resource_fields(old, f, template_id=1, action="CREATE")
    store.set_resource_fields(new, f, template_id=3, action="CREATE")
    # Going to template 2 from 1: the row template 1 converged, not the
    # newer one of an operation that did not settle.
    plan = compiler.plan_operation(store, dataclasses.replace(op, template_id=2),
                                   definition({"a": none()}),
                                   prev_template_id=1)
    assert plan.converge[0][1] == old


def test_a_large_stack_has_one_atom_per_name(store):
    """Barriers over more inputs than FAN_IN squared need a tree of
    gather atoms three levels deep."""
    f, op = start(store)
    n = compiler.FAN_IN ** 2 + 1
    plan = compiler.plan_operation(store, op, definition(
        {"r%d" % i: none() for i in range(n)}))
    names = [a.name for a, _ in compiler.build_flow(plan).iter_nodes()]
    assert len(names) == len(set(names))


def test_the_saved_json_builds_the_same_flow(store):
    # The flow detail names build_flow as its factory, with the plan's
    # JSON as argument (flows/execution.py save_operation).
    f, op = start(store)
    plan = compiler.plan_operation(store, op, definition(
        {"a": none(), "b": none(depends_on=["a"])}))
    one, two = compiler.build_flow(plan), compiler.build_flow(plan.to_json())
    assert sorted(a.name for a, _ in one.iter_nodes()) == \
        sorted(a.name for a, _ in two.iter_nodes())
    assert edges(one) == edges(two)
