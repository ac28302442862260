"""(recorded state, target definition) -> plan -> TaskFlow graph flow.

Planning happens once, when an operation starts: it picks, for every
resource of the target template, the incarnation to converge (inserting INIT
rows for new resources), and lists every existing incarnation for clean-up.
The plan (flows/plan.py) is saved as JSON with the flow detail, and
:func:`build_flow` turns it into the same flow in any process (TaskFlow
matches atoms to their persisted state by name, so names must be
deterministic).

Edges: ``converge:a`` requires ``ref:b`` for each resource b that a depends
on; ``converged`` requires every ``ref:``; ``cleanup:r`` requires
``converged`` and ``gone:x`` for every incarnation x that depended on r (so
dependents are deleted first); ``finish`` requires everything.  TaskFlow's
graph flow derives the edges from these requirements.
"""

from taskflow.patterns import graph_flow

from heatflow import exception
from heatflow import resource as resource_mod
from heatflow import states
from heatflow.flows import act
from heatflow.flows import atoms
from heatflow.flows import cleanup
from heatflow.flows import converge
from heatflow.flows import convergence
from heatflow.flows import plan as plan_mod


def plan_operation(store, op, stack_def, prev_template_id=None,
                   definition_of=None):
    """Choose rows and record new ones; returns the :class:`plan.Plan`.

    ``op`` is the :class:`plan.OperationHeader` the atoms carry.  Raises
    :class:`exception.Superseded` if another operation started meanwhile.
    """
    if op.action in states.RESOURCE_ACTIONS:
        # A check, suspend or resume acts on the stack as it is.
        return act.plan_resource_action(store, op, stack_def)
    rows = store.list_resources(op.stack_id)
    target = stack_def.resources if stack_def is not None else {}
    found = convergence.choose_rows(
        rows, target, target_template_id=op.template_id,
        prev_template_id=prev_template_id, definition_of=definition_of)
    chosen = {name: row.id for name, row in found.items()}
    new = [{"name": name, "type": defn.type, "traversal": op.traversal,
            "physical_name": resource_mod.physical_name(op.stack_name, name)}
           for name, defn in target.items() if name not in chosen]
    if new:
        ids = store.insert_resources(op.fence(), new)
        if ids is None:
            raise exception.Superseded("stack %s changed hands"
                                       % op.stack_id)
        for row, rid in zip(new, ids):
            chosen[row["name"]] = rid
    deps = stack_def.dependencies() if stack_def is not None else {}
    converge = [[name, chosen[name], sorted(deps.get(name, ()))]
                for name in target]
    existing = {r.id for r in rows}
    after = {r.id: set() for r in rows}
    for r in rows:
        for q in r.requires or ():
            if q in existing and q != r.id:
                after[q].add(r.id)
        if r.replaces in existing:
            after[r.replaces].add(r.id)
    cleanup = [[rid, sorted(after[rid])] for rid in sorted(existing)]
    # The resources the outputs read: what the finish atom needs besides
    # the barriers.
    output_refs = set()
    if stack_def is not None:
        for out in stack_def.outputs.values():
            output_refs |= out.required_resources()
    # Rows planned here: their atoms may take the lock without reading
    # first (converge.ConvergeResource).
    fresh = sorted(chosen[row["name"]] for row in new)
    return plan_mod.Plan(op=op, converge=converge, cleanup=cleanup,
                         output_refs=sorted(output_refs), fresh=fresh)


#: Most inputs one barrier atom waits for (see atoms.Gather).
FAN_IN = 16


def _fan_in(op, name, symbols):
    """Gather atoms collecting ``symbols`` in a tree; returns the atoms
    and the (at most FAN_IN) symbols the barrier itself should require."""
    gathers, level, current = [], 0, list(symbols)
    while len(current) > FAN_IN:
        upper = []
        for k in range(0, len(current), FAN_IN):
            sym = "%s/%d/%d" % (name, level, k // FAN_IN)
            gathers.append(atoms.Gather(op, sym, current[k:k + FAN_IN]))
            upper.append(sym)
        current, level = upper, level + 1
    return gathers, current


def build_flow(plan):
    """The TaskFlow graph flow of a plan.  Deterministic."""
    if isinstance(plan, dict):
        # The JSON form: the flow detail names this function as its
        # factory with the saved plan as argument (flows/execution.py),
        # so TaskFlow's own flow_from_detail may call it with that.
        plan = plan_mod.Plan.from_json(plan)
    op = plan.op
    flow = graph_flow.Flow("stack-%s-%s" % (op.action.lower(),
                                            op.traversal))
    if op.action in states.RESOURCE_ACTIONS:
        nodes = [act.ActOnResource(op, name, row_id, first)
                 for name, row_id, first in plan.act]
        gathers, top = _fan_in(op, "acting",
                               [act.ACTED + c[0] for c in plan.act])
        flow.add(*(nodes + gathers + [act.FinishAction(op, top)]))
        return flow
    names = [c[0] for c in plan.converge]
    fresh = set(plan.fresh)
    nodes = [converge.ConvergeResource(op, name, row_id, requires,
                                       fresh=row_id in fresh)
             for name, row_id, requires in plan.converge]
    gathers, top = _fan_in(op, "converging", ["ref:" + n for n in names])
    nodes.extend(gathers)
    nodes.append(atoms.Converged(op, top))
    nodes.extend(cleanup.CleanupResource(op, row_id, after_rows)
                 for row_id, after_rows in plan.cleanup)
    gathers, cleaned = _fan_in(op, "cleaning",
                               ["gone:%d" % c[0] for c in plan.cleanup])
    nodes.extend(gathers)
    output_refs = names if plan.output_refs is None else plan.output_refs
    nodes.append(atoms.FinishStack(op, cleaned, output_refs))
    # One call: graph_flow copies its graph on every add(), so adding atoms
    # one at a time would cost O(N^2).  Edges come from the requirements.
    flow.add(*nodes)
    return flow
