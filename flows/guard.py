"""Fencing, as an atom sees it: is its operation still the stack's current
one and this run the one executing it, may it take a resource row's lock,
and when must it stop.  The whole protocol is stated in
docs/architecture.rst ("Fencing"); the conditions every write carries are
persistence/store.py's.
"""

import time

from heatflow import exception

_UNREAD = object()     # wait_idle: the row is still to be read


class _Superseded(Exception):
    """This operation's traversal is no longer the stack's current one."""


class Guard:
    """The fencing and row-lock side of an atom (a mixin of flows/atoms.py's
    base atom, which gives it ``op``, ``rt`` and ``store``)."""

    @property
    def fence(self):
        return self.op.fence()

    def is_stale(self):
        row = self.store.stack_position(self.op.stack_id)
        return (row.traversal, row.run_token) != (self.op.traversal,
                                                  self.op.run)

    def taken_over(self):
        """Has another run of this operation replaced this one (resume,
        conductor takeover)?  Then this run must not touch anything."""
        if self.rt.is_fenced(self.op.run):
            return True
        if self.rt.owns(self.op.run):
            return False
        row = self.store.stack_position(self.op.stack_id)
        return row.traversal == self.op.traversal and \
            row.run_token != self.op.run

    def gate(self, position=None):
        """Before an atom starts anything: is its operation still the
        stack's current one (and this run the one executing it), and is it
        still going forward?  ``position``: the stack's, if just read."""
        if self.rt.is_fenced(self.op.run):
            raise _Superseded()
        row = position or self.store.stack_position(self.op.stack_id)
        if (row.traversal, row.run_token) != (self.op.traversal,
                                              self.op.run):
            raise _Superseded()
        if row.action == "ROLLBACK" and self.op.action != "ROLLBACK":
            raise exception.RollbackRequested(
                "rollback of the %s requested" % self.op.action.lower())

    def halt(self):
        """Stop this operation's engine from starting further atoms.  If
        this run was fenced (taken over), TaskFlow must record nothing more
        for it either."""
        if self.taken_over():
            self.rt.fence_run(self.op.run)
        self.rt.stop_starting_atoms(self.op.flow_uuid)

    def deadline(self, action, timeout=None, stack_bound=True):
        """The earlier of the stack's deadline and ``timeout`` seconds from
        now, and what to say when it passes.  A rollback's actions are not
        bound by the deadline of the operation they undo."""
        d = self.op.deadline if stack_bound else None
        msg = "Stack %s timed out" % self.op.action
        if timeout:
            t = time.time() + float(timeout)
            if d is None or t < d:
                d = t
                msg = "%s timed out after %g s" % (action, float(timeout))
        return d, msg

    def check_stack_deadline(self):
        d = self.op.deadline
        if d is not None and time.time() >= d:
            raise exception.Timeout("Stack %s timed out" % self.op.action)

    def acquire(self, row_id, action, reason="", undoing=False, **fields):
        """Take the row's action lock, waiting while an action of an older
        operation is still in flight on it (it is never interrupted).
        ``undoing``: see Store.acquire_resource."""
        with self.rt.waits.row_busy(self, row_id):
            return self._acquire(row_id, action, reason, undoing, fields)

    def _acquire(self, row_id, action, reason, undoing, fields):
        delay = 0.01
        while True:
            row = self.store.acquire_resource(
                row_id, self.fence, action, reason,
                is_alive=self.rt.run_alive, undoing=undoing, **fields)
            if row is not None:
                return row
            if self.is_stale():
                raise _Superseded()
            self.check_stack_deadline()
            if self.store.get_resource(row_id) is None:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def first_read(self, row_id):
        """The row, once the gate is passed: both read in one statement."""
        row, position = self.store.resource_and_position(
            row_id, self.op.stack_id)
        self.gate(position)
        return row

    def wait_idle(self, row_id, row=_UNREAD):
        """Wait while another operation's action is in flight on the row
        (breaking the lock of a run that died).  ``row``: as just read."""
        with self.rt.waits.row_busy(self, row_id):
            return self._wait_idle(row_id, row)

    def _wait_idle(self, row_id, row):
        delay = 0.01
        while True:
            if row is _UNREAD:
                row = self.store.get_resource(row_id)
            if row is None or row.lock_run is None or \
                    row.lock_traversal == self.op.traversal:
                return row
            if not self.rt.run_alive(row.lock_run):
                self.store.break_lock(row, self.fence)
                row = _UNREAD
                continue
            if self.is_stale():
                raise _Superseded()
            self.check_stack_deadline()
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
            row = _UNREAD
