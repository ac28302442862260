"""The TaskFlow engine heatflow runs its flows in.

TaskFlow's parallel engine, with one change to how it finds the atoms to
run next.  After an atom completes, the stock selector walks *every*
descendant of it (breadth first, through tasks) and, for each, checks all
its predecessors: a barrier that every resource feeds (converged, the
clean-up that follows it) makes that O(N) per atom and O(N^2) per
operation, and a deep chain pays O(depth) per atom (docs/architecture.rst,
"TaskFlow facts worked around").

Checking whether an atom is ready walks *all* its ancestors the same way:
behind the barrier that is O(N) per clean-up atom, and O(depth) per atom of
a chain.

The deep walks exist for *deciders*: an atom a decider told TaskFlow to
IGNORE passes readiness on to its successors.  heatflow's flows have no
deciders and no retry controllers, so an atom can only become ready when
one of its direct predecessors finishes, and it is ready when its direct
predecessors have executed (each of them ran only after its own):
looking one step back or forward is enough, in both directions.

Waiting: TaskFlow's engine waits for any of its running atoms to finish
with ``concurrent.futures.wait``, which visits every running future on
every call: O(N) per completion when N atoms run at once (a delete of
10,000 independent resources took 21 ms per resource instead of 4).
:class:`CompletionQueue` hands the engine its completed futures as they
complete instead.

Progress: TaskFlow records a progress of 0 and 1 with every state change
of a task, copying its metadata each time; heatflow's atoms report none
and nothing reads it (:class:`QuietTaskAction`).

Storage: TaskFlow's storage guards itself with a reader-writer lock from
fasteners, taken and released ~65 times per atom (a Python condition
variable each time), and saves every atom state through a tenacity retry
wrapper built anew per call.  In heatflow's engine only the engine's
thread reads storage (atoms read the database; other threads only
suspend the engine), so :class:`StackStorage`
uses one re-entrant lock for both, and makes a save's first attempt
directly, falling back to TaskFlow's retrying one when it fails (so a
failing save is tried four times, not three).  RUNNING, which the
backend skips writing (resuming never needs it), is set in memory only,
skipping the copy of the atom detail TaskFlow makes to save it.

Fencing: once a run is fenced its backend view refuses every write
(persistence/taskflow_backend.py).  TaskFlow would take the refusal for a
storage error: fail the engine, log the failure, fail again recording
FAILURE and log that the first error was dropped.  :class:`StackStorage`
keeps a fenced run's states in memory instead and turns a running flow
SUSPENDING, so its engine schedules nothing more and ends SUSPENDED, and
``suspend()`` works on a fenced engine (a conductor that lost its ZooKeeper
session suspends every engine it runs).

Compiling: heatflow's flows are flat graph flows of tasks
(flows/compiler.py), and two of TaskFlow's compile-time structures are
quadratic for them.  TaskFlow's flow compiler merges the graph of each
child into the flow's graph one child at a time, and each merge copies the
whole graph so far (``networkx.compose``): O(N^2) for a flat flow of N
atoms, a fifth of a 1,000-resource create's CPU.  :class:`FlatFlowCompiler`
turns such a flow into the same graph in one pass; anything else goes to
TaskFlow's compiler.

Finding an atom's inputs: TaskFlow looks for the providers of an atom's
arguments in its *scope*, which its walker builds from all the atom's
ancestors and all its earlier siblings, each time the atom is scheduled
(and finds the atom in the scope tree by a depth-first search, for every
atom at compile time): O(N) per atom.  In a flat graph flow every provider
of a requirement is a direct predecessor (the flow links them) and no name
has two providers (graph flows refuse that), so :class:`DirectScope`, which
offers the direct predecessors only, finds the same providers.

Pinned to taskflow 6.x's compiler (``FlowCompiler``, ``_add_update_edges``,
the node kinds and link flags), the scope walker's interface, the
``Selector`` internals (``_get_maybe_ready``,
``_browse_atoms_for_execute``/``_revert``, ``traversal``), its runtime's
cached helpers and ``compile``, the machine builder's waiter, and the
storage's ``_lock``, ``_atomdetail_by_name`` and ``_save_atom_detail``, which
tests/unit/test_engine.py exercises.
"""

import threading
import time
from concurrent import futures

from taskflow import exceptions as tf_exc
from taskflow import states
from taskflow import storage as tf_storage
from taskflow import task as tf_task
from taskflow.engines.action_engine import builder as tf_builder
from taskflow.engines.action_engine import compiler as tf_compiler
from taskflow.engines.action_engine import deciders
from taskflow.engines.action_engine import runtime as tf_runtime
from taskflow.engines.action_engine.actions import task as tf_task_action
from taskflow.engines.action_engine import engine as tf_engine
from taskflow.engines.action_engine import selector as tf_selector
from taskflow.engines.action_engine import traversal
from taskflow.flow import LINK_INVARIANT
from taskflow.types import graph as tf_graph
from taskflow.types import tree as tf_tree
from taskflow.utils import misc as tf_misc

from heatflow import exception
from heatflow.flows import runtime as flows_runtime
from heatflow.persistence import taskflow_backend

_DONE = (states.SUCCESS, states.IGNORE)
_EXECUTED = (states.EXECUTE, states.IGNORE)
_UNDONE = (states.PENDING, states.REVERTED, states.IGNORE)


# -- compiling a flat flow, and finding an atom's inputs -------------------

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
        self._names = None

    def __iter__(self):
        # Worked out once: TaskFlow walks the scope once per argument it
        # looks for, and an atom reading every resource (the finish atom
        # of a stack whose output lists them all) has as many arguments as
        # predecessors: sorting them each time made that quadratic.
        if self._names is None:
            graph = self._graph
            preds = [p for p in graph.predecessors(self._atom)
                     if graph.nodes[p]["kind"] in tf_compiler.ATOMS]
            preds.sort(key=self._root.index, reverse=True)
            self._names = [p.name for p in preds]
        if self._names:
            yield self._names


# -- choosing the next atoms -------------------------------------------------

class NearSelector(tf_selector.Selector):
    def _browse_atoms_for_execute(self, atom=None):
        if atom is None:
            yield from super()._browse_atoms_for_execute()
            return
        for nxt in traversal.breadth_first_iterate(
                self._execution_graph, atom, traversal.Direction.FORWARD,
                through_tasks=False, through_retries=False):
            is_ready, late_decider = self._get_maybe_ready_for_execute(nxt)
            if is_ready:
                yield (nxt, late_decider)

    def _near(self, atom, direction):
        return traversal.breadth_first_iterate(
            self._execution_graph, atom, direction, through_tasks=False,
            through_retries=False)

    def _get_maybe_ready_for_execute(self, atom):
        # Ready when every *direct* predecessor has executed (each of
        # them ran only once its own predecessors had).
        def all_done(preds):
            return all(state in _DONE and intention in _EXECUTED
                       for _, (state, intention) in preds)
        return self._get_maybe_ready(
            atom, states.RUNNING, [states.EXECUTE],
            lambda: self._near(atom, traversal.Direction.BACKWARD),
            all_done,
            lambda: deciders.IgnoreDecider(
                atom, self._runtime.fetch_edge_deciders(atom)),
            for_what="execute")

    def _get_maybe_ready_for_revert(self, atom):
        # Ready when every *direct* successor is reverted or never ran.
        def all_undone(succs):
            return all(state in _UNDONE for _, (state, _i) in succs)
        return self._get_maybe_ready(
            atom, states.REVERTING, [states.REVERT, states.RETRY],
            lambda: self._near(atom, traversal.Direction.FORWARD),
            all_undone, deciders.NoOpDecider, for_what="revert")

    def _browse_atoms_for_revert(self, atom=None):
        if atom is None:
            yield from super()._browse_atoms_for_revert()
            return
        for prev in traversal.breadth_first_iterate(
                self._execution_graph, atom, traversal.Direction.BACKWARD,
                through_tasks=False, through_retries=False):
            is_ready, late_decider = self._get_maybe_ready_for_revert(prev)
            if is_ready:
                yield (prev, late_decider)


class StorageLock:
    """TaskFlow storage's reader-writer lock as one re-entrant lock.  The
    engine's thread does all the reading; other threads only write, through
    ``suspend()`` (an atom halting its operation, a conductor losing its
    ZooKeeper session, an Orchestrator closing), and a writer excludes
    everyone either way.  Readers never need to share."""

    def __init__(self):
        self._lock = threading.RLock()

    def read_lock(self):
        return self._lock

    def write_lock(self):
        return self._lock


class StackStorage(tf_storage.Storage):
    """TaskFlow's storage with a cheaper lock and first save attempt (see
    the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = StorageLock()

    def set_atom_state(self, atom_name, state):
        # A transient state is not needed to resume (the backend skips
        # it): set it in memory, without TaskFlow's copy of the detail.
        if state in taskflow_backend.TRANSIENT:
            with self._lock.write_lock():
                self._atomdetail_by_name(atom_name)[0].state = state
            return
        super().set_atom_state(atom_name, state)

    def set_flow_state(self, state):
        try:
            super().set_flow_state(state)
        except exception.Superseded:
            self._fenced(state)

    def _fenced(self, state=None):
        """This run was fenced (taken over, or its conductor's ZooKeeper
        session was suspended): the backend refuses its writes.  Its engine
        carries on in memory only, and stops: what was asked of the flow
        state is kept, except that a running flow becomes SUSPENDING, so no
        further atom is scheduled and the engine ends SUSPENDED, quietly --
        not FAILURE with the refused write as its error."""
        detail = self._flowdetail
        if state is not None:
            detail.state = state
        if detail.state == states.RUNNING:
            detail.state = states.SUSPENDING

    def _save_atom_detail(self, conn, original_atom_detail, atom_detail):
        try:
            original_atom_detail.update(
                conn.update_atom_details(atom_detail))
            return original_atom_detail
        except exception.Superseded:
            original_atom_detail.update(atom_detail)
            self._fenced()
            return original_atom_detail
        except tf_exc.StorageFailure:
            # TaskFlow's own, which tries again (database outages).
            return super()._save_atom_detail(conn, original_atom_detail,
                                             atom_detail)


class QuietTaskAction(tf_task_action.TaskAction):
    """TaskFlow's task action without the progress bookkeeping."""

    def change_state(self, task, state, progress=None,
                     result=tf_task_action.TaskAction.NO_RESULT):
        super().change_state(task, state, result=result)


class CompletionQueue(futures.Executor):
    """The caller's executor, as one engine's: the futures it returns
    report to the engine when they complete, and :meth:`wait_for_any`
    (the engine's waiter) returns them in O(completed), not O(running)."""

    def __init__(self, executor, waits=None):
        self._executor = executor
        self._waits = waits or flows_runtime.WaitHooks()
        self._cond = threading.Condition()
        self._completed = []

    def submit(self, fn, /, *args, **kwargs):
        fut = self._executor.submit(fn, *args, **kwargs)
        fut.add_done_callback(self._on_done)
        return fut

    def _on_done(self, fut):
        with self._cond:
            self._completed.append(fut)
            self._cond.notify()

    def shutdown(self, wait=True, **kwargs):
        # The pool is the caller's, shared by other engines.
        pass

    def wait_for_any(self, fs, timeout=None):
        """(done, not done) of the futures ``fs`` (TaskFlow's running set,
        updated in place), once at least one is done or ``timeout``
        passes."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._waits.engine_waiting(), self._cond:
            while True:
                done = {f for f in self._completed if f in fs}
                if done:
                    self._completed = [f for f in self._completed
                                       if f not in done]
                    break
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left)
        if not isinstance(fs, set):
            fs = set(fs)
        fs.difference_update(done)
        return done, fs


class StackRuntime(tf_runtime.Runtime):
    #: The engine's CompletionQueue (set by StackEngine.compile).
    completions = None

    @tf_misc.cachedproperty
    def selector(self):
        return NearSelector(self)

    @tf_misc.cachedproperty
    def builder(self):
        return tf_builder.MachineBuilder(self, self.completions.wait_for_any)

    @tf_misc.cachedproperty
    def task_action(self):
        return QuietTaskAction(self._storage, self._atom_notifier,
                               self._task_executor)

    def compile(self):
        super().compile()
        compiled = self._compilation
        if isinstance(compiled.hierarchy, FlatScopeNode):
            graph = compiled.execution_graph
            for node, data in graph.nodes(data=True):
                if data["kind"] in tf_compiler.ATOMS:
                    self._atom_cache[node.name]["scope_walker"] = \
                        DirectScope(compiled, node)


class StackEngine(tf_engine.ParallelActionEngine):
    """The parallel engine on ``options["executor"]`` (the caller's pool),
    through a CompletionQueue of its own."""

    def __init__(self, flow, flow_detail, backend, options):
        self._completions = CompletionQueue(options["executor"],
                                            options.get("waits"))
        super().__init__(flow, flow_detail, backend,
                         dict(options, executor=self._completions))
        use_flat_compiler(self._compiler)

    @tf_misc.cachedproperty
    def storage(self):
        # ActionEngine.storage, with heatflow's storage.
        def scope_fetcher(atom_name):
            if self._compiled:
                return self._runtime.fetch_scopes_for(atom_name)
            return None
        return StackStorage(self._flow_detail, backend=self._backend,
                            scope_fetcher=scope_fetcher)

    def compile(self):
        # ActionEngine.compile, with heatflow's runtime.
        with self._lock:
            if self._compiled:
                return
            self._compilation = self._check_compilation(
                self._compiler.compile())
            self._runtime = StackRuntime(
                self._compilation, self.storage, self.atom_notifier,
                self._task_executor, self._retry_executor,
                options=self._options)
            self._runtime.completions = self._completions
            self._runtime.compile()
            self._compiled = True

    def validate(self):
        # TaskFlow checks here that every requirement of every atom is
        # visible from a provider, walking each atom's scope: O(N) memory
        # per atom, ~150 MB retained for 1,000 resources.  The compiler
        # wires each requirement to exactly one provider of the same flow
        # by construction (tests/unit/test_compiler.py checks it).
        self._validated = True


def load(flow, flow_detail, backend, executor, waits=None):
    """A parallel engine for ``flow`` on a caller-owned executor;
    ``waits``: a runtime.WaitHooks told when the engine waits."""
    engine = StackEngine(flow, flow_detail, backend,
                         {"executor": executor, "waits": waits})
    engine.compile()
    return engine
