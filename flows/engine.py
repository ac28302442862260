"""The TaskFlow engine heatflow runs its flows in.

TaskFlow's parallel engine, with one change to how it finds the atoms to
run next.  After an atom completes, the stock selector walks *every*
descendant of it (breadth first, through tasks) and, for each, checks all
its predecessors: a barrier that every resource feeds (converged, the
clean-up that follows it) makes that O(N) per atom and O(N^2) per
operation, and a deep chain pays O(depth) per atom (measured in
shared/research/taskflow.md section 4.1).

The deep walk exists for *deciders*: an atom a decider told TaskFlow to
IGNORE passes readiness on to its successors.  heatflow's flows have no
deciders and no retry controllers, so an atom can only become ready when
one of its direct predecessors finishes: looking at direct successors (and
direct predecessors when reverting) is enough.  Pinned to taskflow 6.x's
``Selector`` internals (``_browse_atoms_for_execute``/``_revert``,
``traversal.breadth_first_iterate``), which tests/unit/test_engine.py
exercises.
"""

from taskflow.engines.action_engine import engine as tf_engine
from taskflow.engines.action_engine import selector as tf_selector
from taskflow.engines.action_engine import traversal


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


def load(flow, flow_detail, backend, executor):
    """A parallel engine for ``flow`` on a caller-owned executor."""
    engine = tf_engine.ParallelActionEngine(
        flow, flow_detail, backend, {"executor": executor})
    engine.compile()
    # The runtime caches its selector on first use; put ours there first.
    engine._runtime._selector = NearSelector(engine._runtime)
    return engine
