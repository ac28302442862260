"""The TaskFlow engine heatflow runs its flows in.

TaskFlow's parallel engine, with one change to how it finds the atoms to
run next.  After an atom completes, the stock selector walks *every*
descendant of it (breadth first, through tasks) and, for each, checks all
its predecessors: a barrier that every resource feeds (converged, the
clean-up that follows it) makes that O(N) per atom and O(N^2) per
operation, and a deep chain pays O(depth) per atom (measured in
shared/research/taskflow.md section 4.1).

Checking whether an atom is ready walks *all* its ancestors the same way:
behind the barrier that is O(N) per clean-up atom, and O(depth) per atom of
a chain.

The deep walks exist for *deciders*: an atom a decider told TaskFlow to
IGNORE passes readiness on to its successors.  heatflow's flows have no
deciders and no retry controllers, so an atom can only become ready when
one of its direct predecessors finishes, and it is ready when its direct
predecessors have executed (each of them ran only after its own):
looking one step back or forward is enough, in both directions.

Pinned to taskflow 6.x's ``Selector`` internals (``_get_maybe_ready``,
``_browse_atoms_for_execute``/``_revert``, ``traversal``), which
tests/unit/test_engine.py exercises.
"""

from taskflow import states
from taskflow.engines.action_engine import deciders
from taskflow.engines.action_engine import engine as tf_engine
from taskflow.engines.action_engine import selector as tf_selector
from taskflow.engines.action_engine import traversal

_DONE = (states.SUCCESS, states.IGNORE)
_EXECUTED = (states.EXECUTE, states.IGNORE)
_UNDONE = (states.PENDING, states.REVERTED, states.IGNORE)


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


class StackEngine(tf_engine.ParallelActionEngine):
    def validate(self):
        # TaskFlow checks here that every requirement of every atom is
        # visible from a provider, walking each atom's scope: O(N) memory
        # per atom, ~150 MB retained for 1,000 resources.  The compiler
        # wires each requirement to exactly one provider of the same flow
        # by construction (tests/unit/test_compiler.py checks it).
        self._validated = True


def load(flow, flow_detail, backend, executor):
    """A parallel engine for ``flow`` on a caller-owned executor."""
    engine = StackEngine(flow, flow_detail, backend, {"executor": executor})
    engine.compile()
    # The runtime caches its selector on first use; put ours there first.
    engine._runtime._selector = NearSelector(engine._runtime)
    return engine
