"""Compiling heatflow's flows for TaskFlow's engine, in linear time.

heatflow's flows are flat graph flows of tasks (flows/compiler.py), and two
of TaskFlow's compile-time structures are quadratic for them.

Compiling: TaskFlow's flow compiler merges the graph of each child into
the flow's graph one child at a time, and each merge copies the whole graph
so far (``networkx.compose``): O(N^2) for a flat flow of N atoms, a fifth
of a 1,000-resource create's CPU.  heatflow's flows are flat graph flows of
tasks, which :class:`FlatFlowCompiler` turns into the same graph in one
pass; anything else goes to TaskFlow's compiler.

Finding an atom's inputs: TaskFlow looks for the providers of an atom's
arguments in its *scope*, which its walker builds from all the atom's
ancestors and all its earlier siblings, each time the atom is scheduled
(and finds the atom in the scope tree by a depth-first search, for every
atom at compile time): O(N) per atom.  In a flat graph flow every provider
of a requirement is a direct predecessor (the flow links them) and no name
has two providers (graph flows refuse that), so :class:`DirectScope`, which
offers the direct predecessors only, finds the same providers.

Pinned to taskflow 6.x's compiler (``FlowCompiler``, ``_add_update_edges``,
the node kinds and link flags) and the scope walker's interface, which
tests/unit/test_engine.py exercises against TaskFlow's own.
"""

from taskflow import task as tf_task
from taskflow.engines.action_engine import compiler as tf_compiler
from taskflow.flow import LINK_INVARIANT
from taskflow.types import graph as tf_graph
from taskflow.types import tree as tf_tree


class FlatScopeNode(tf_tree.Node):
    """The scope tree of a flat flow: the flow, its tasks as children.
    Finds a task's node and position by a dictionary, not a scan."""

    _positions = None

    def _position(self, item):
        if self._positions is None or \
                len(self._positions) != len(self._children):
            self._positions = {c.item: i
                               for i, c in enumerate(self._children)}
        return self._positions.get(item)

    def find(self, item, only_direct=False, include_self=True):
        if include_self and self.item is item:
            return self
        i = self._position(item)
        return None if i is None else self._children[i]

    def index(self, item):
        i = self._position(item)
        if i is None:
            raise ValueError("%s is not contained in any child" % (item,))
        return i


class FlatFlowCompiler(tf_compiler.FlowCompiler):
    """TaskFlow's flow compiler, in one pass for a flat graph flow of tasks
    (no retry controller, no nested flows).  The result is what TaskFlow's
    own would build: the flow node, the tasks, the flow's links, an
    invariant edge from the flow node to every task with no predecessor
    and from every task with no successor to the flow's terminator."""

    def compile(self, flow, parent=None):
        children = list(flow)
        if flow.retry is not None or \
                not all(isinstance(c, tf_task.Task) for c in children):
            return super().compile(flow, parent=parent)
        graph = tf_graph.DiGraph(name=flow.name)
        graph.add_node(flow, kind=tf_compiler.FLOW, noop=True)
        node = FlatScopeNode(flow, kind=tf_compiler.FLOW, noop=True)
        if parent is not None:
            parent.add(node)
        for child in children:
            # Through the pattern compiler: its duplicate check, and the
            # child's place in the scope tree.
            self._deep_compiler_func(child, parent=node)
            graph.add_node(child, kind=tf_compiler.TASK)
        for u, v, attrs in flow.iter_links():
            tf_compiler._add_update_edges(graph, [u], [v], attr_dict=attrs)
        invariant = {LINK_INVARIANT: True}
        roots = [n for n in graph.no_predecessors_iter() if n is not flow]
        tf_compiler._add_update_edges(graph, [flow], roots,
                                      attr_dict=invariant)
        end = tf_compiler.Terminator(flow)
        graph.add_node(end, kind=tf_compiler.FLOW_END, noop=True)
        leaves = [n for n in graph.no_successors_iter() if n is not end]
        tf_compiler._add_update_edges(graph, leaves, [end],
                                      attr_dict=invariant)
        return graph, node


def use_flat_compiler(pattern_compiler):
    matchers = pattern_compiler._matchers
    for i, (kind, _) in enumerate(matchers):
        if kind is tf_compiler.flow.Flow:
            matchers[i] = (kind, FlatFlowCompiler(pattern_compiler._compile))
            return
    raise RuntimeError("TaskFlow's compiler has no flow matcher")


class DirectScope:
    """What TaskFlow's scope walker yields (with ``names_only``) for the
    atom's requirements in a flat graph flow: its direct predecessors,
    latest sibling first, as one scope level."""

    def __init__(self, compilation, atom):
        self._graph = compilation.execution_graph
        self._root = compilation.hierarchy
        self._atom = atom

    def __iter__(self):
        graph = self._graph
        preds = [p for p in graph.predecessors(self._atom)
                 if graph.nodes[p]["kind"] in tf_compiler.ATOMS]
        if preds:
            preds.sort(key=self._root.index, reverse=True)
            yield [p.name for p in preds]
