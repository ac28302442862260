"""What a stack's operation is doing, read from the store.

How far it has got (:class:`Progress`), what each unfinished resource waits
for (:class:`Waiting`) and the dependency graph of a template or a stack
(:class:`Graph`, coloured by recorded status).  The public methods are
``Operation.progress()``, ``Orchestrator.waiting_on()``,
``Orchestrator.stack_graph()`` and ``heatflow.dependency_graph()``; this
module holds the views they return and the counting behind them.  Nothing
here writes or takes a lock, so asking never slows a running operation.

"Converged" means what the engine means: the resource's chosen incarnation
records the stack's current template and is COMPLETE (not INIT).
"""

import dataclasses
from typing import Optional

from heatflow import exception
from heatflow import states


@dataclasses.dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` resources of an operation: converged to its
    template, or, for a delete, gone, or, for a check, suspend or resume,
    acted on by it."""
    action: str
    done: int
    total: int


@dataclasses.dataclass(frozen=True)
class Waiting(states.ResourceStatus):
    """A resource the current operation has not finished with: running
    (IN_PROGRESS) or pending, and the resources it depends on that have
    not converged yet (``waiting_on``, in template order)."""
    name: str
    type: str
    action: str
    status: str
    waiting_on: tuple
    running: bool


@dataclasses.dataclass(frozen=True)
class GraphNode:
    """One resource of a :class:`Graph`: what it depends on, and, in a
    stack's graph, its recorded action and status (None: no row, the
    resource is not in the stack)."""
    name: str
    type: str
    depends_on: tuple
    action: Optional[str] = None
    status: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Graph:
    """A template's dependency graph, nodes in template order.
    ``recorded``: the nodes carry a stack's recorded statuses."""
    name: str
    nodes: tuple
    recorded: bool = False


def graph_of(stack_def, name="stack", statuses=None):
    """The :class:`Graph` of a bound template; ``statuses`` maps resource
    names to their recorded ``(action, status)``."""
    deps = stack_def.dependencies()
    nodes = []
    for res, defn in stack_def.resources.items():
        action, status = (statuses or {}).get(res, (None, None))
        depends_on = tuple(sorted(deps.get(res, ())))
        nodes.append(GraphNode(res, defn.type, depends_on, action, status))
    return Graph(name, tuple(nodes), statuses is not None)


def current_definition(store, row):
    """The stack's current template bound to its parameters, for reading
    its resources and dependencies: no plugin classes are needed, so this
    works in a process without the stack's plugins."""
    from heatflow.template import Template
    tmpl_row = store.get_template(row.template_id)
    params = (tmpl_row.environment or {}).get("parameters") or {}
    return Template.from_dict(tmpl_row.content, files=tmpl_row.files).bind(
        params, stack_name=row.name, stack_id=row.id)


def chosen_rows(store, row, names):
    """``{name: row}``: the incarnation of each named resource the stack's
    current operation converges."""
    from heatflow.flows import convergence
    return convergence.choose_rows(store.list_resources(row.id),
                                   list(names),
                                   prev_template_id=row.template_id)


def _converged(res_row, template_id):
    return res_row is not None and res_row.status == states.COMPLETE and \
        res_row.action != states.INIT and res_row.template_id == template_id


class ProgressCounter:
    """Counts one operation's progress each time it is asked.

    A delete's total is what was left when it was first counted (its rows
    go as they are deleted); anything else counts the resources of the
    stack's current template, bound once per template."""

    def __init__(self, stack_id, action):
        self.stack_id = stack_id
        self.action = action
        self._delete_total = None
        self._names = None      # (template id, its resource names)

    def count(self, store):
        try:
            row = store.get_stack_by_id(self.stack_id)
        except exception.NotFound:
            row = None
        if row is None or self.action == states.DELETE:
            alive = {r.name for r in store.list_resources(self.stack_id)
                     if not (r.action == states.DELETE and
                             r.status == states.COMPLETE)}
            if self._delete_total is None:
                self._delete_total = len(alive)
            total = self._delete_total
            return Progress(self.action, max(0, total - len(alive)), total)
        names = []
        if row.template_id is not None:
            if self._names is None or self._names[0] != row.template_id:
                self._names = (row.template_id, list(
                    current_definition(store, row).resources))
            names = self._names[1]
        chosen = chosen_rows(store, row, names)
        if self.action in states.RESOURCE_ACTIONS:
            # Already converged: what counts is what this operation did.
            done = sum(1 for r in chosen.values()
                       if r.traversal == row.traversal and
                       r.action == self.action and
                       r.status != states.IN_PROGRESS)
        else:
            done = sum(1 for r in chosen.values()
                       if _converged(r, row.template_id))
        return Progress(self.action, done, len(names))


def waiting_on(store, name):
    """The :class:`Waiting` resources of the stack ``name``'s current
    operation, in template order.  Pending: not started yet (INIT), or,
    while the stack is IN_PROGRESS, not converged to its template."""
    row = store.find_stack(name)
    if row.template_id is None:
        return []
    stack_def = current_definition(store, row)
    deps = stack_def.dependencies()
    chosen = chosen_rows(store, row, stack_def.resources)

    def converged(res):
        return _converged(chosen.get(res), row.template_id)

    out = []
    for res in stack_def.resources:
        r = chosen.get(res)
        if r is None:
            continue
        running = r.status == states.IN_PROGRESS
        pending = r.action == states.INIT or (
            row.status == states.IN_PROGRESS and not converged(res))
        if not (running or pending):
            continue
        blockers = tuple(d for d in stack_def.resources
                         if d in deps.get(res, ()) and not converged(d))
        out.append(Waiting(res, r.type, r.action, r.status, blockers,
                           running))
    return out
