"""The handle of a stack operation under way (:class:`Operation`), as the
API's calls return it: wait for it, ask how far it has got, whether a newer
operation superseded it or nobody runs it any more.  It reads the store
only; the :class:`~heatflow.api.Orchestrator` that made it gives the
store, the run-lock directory and the runner of this process.
"""

import time

from heatflow import exception
from heatflow import states
from heatflow import status
from heatflow.runners import locks


class Operation:
    """A stack operation under way.  :meth:`wait` blocks until it settles:
    it completed, failed, rolled back, or a newer operation took over."""

    def __init__(self, orch, stack_id, traversal, action):
        self._orch = orch
        self.stack_id = stack_id
        self.traversal = traversal
        self.action = action
        self._progress = status.ProgressCounter(stack_id, action)

    def __repr__(self):
        return "<Operation %s of stack %s>" % (self.action, self.stack_id)

    def done(self):
        row = self._orch.db.store.get_stack_by_id(self.stack_id)
        return row.traversal != self.traversal or \
            row.status != states.IN_PROGRESS

    def superseded(self):
        """Has a newer operation on the stack taken over from this one?
        (Then the stack's state is the newer operation's, not this
        one's outcome.)"""
        row = self._orch.db.store.get_stack_by_id(self.stack_id)
        return row.traversal != self.traversal

    def orphaned(self):
        """Is the operation still IN_PROGRESS with nobody running it (the
        process running it died), as far as this host can tell?  Then
        :meth:`Orchestrator.continue_stack` runs it again.  Never for an
        operation conductors run (their watchdog looks after those) or
        one whose worker has not started yet."""
        row = self._orch.db.store.get_stack_by_id(self.stack_id)
        return row.traversal == self.traversal and \
            row.status == states.IN_PROGRESS and row.flow_uuid is not None \
            and locks.abandoned(self._orch._host.lock_dir(), row.run_token)

    def progress(self):
        """How far the operation has got: a :class:`Progress` of resources
        converged to its template out of the template's resources (for a
        delete: gone, out of those there were when first asked).  Cheap
        enough to ask a few times a second while waiting."""
        return self._progress.count(self._orch.db.store)

    def wait(self, timeout=None):
        """The stack once this operation has settled.

        Raises :class:`exception.OperationTimeout` after ``timeout``
        seconds."""
        store = self._orch.db.store
        end = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while True:
            row = store.get_stack_by_id(self.stack_id)
            if row.traversal != self.traversal or \
                    row.status != states.IN_PROGRESS:
                return self._orch._stack_view(row)
            if end is not None and time.monotonic() >= end:
                raise exception.OperationTimeout(
                    "stack %s is still %s_IN_PROGRESS"
                    % (row.name, row.action))
            pause = delay if end is None else \
                max(0, min(delay, end - time.monotonic()))
            running = self._orch._running   # None: no flow runs here
            event = running[0].done_event(row.flow_uuid) \
                if running is not None else None
            if event is not None and not event.is_set():
                # Run here: its end wakes us; the database is only asked
                # again now and then (another process may supersede it).
                event.wait(1.0 if end is None else
                           max(0, min(1.0, end - time.monotonic())))
            else:
                time.sleep(pause)
            delay = min(delay * 2, 0.25)
