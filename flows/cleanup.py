"""Cleaning up: the atom that deletes an incarnation the target template
no longer has (a replaced resource's old one, a removed resource), once
the stack has converged and what depended on it is gone.
"""

import bisect
import logging

from heatflow import exception
from heatflow import plugin_factory
from heatflow import states
from heatflow.flows import convergence
from heatflow.flows import driver
from heatflow.flows.atoms import (SUPERSEDED, _Atom, _failed_marker,
                                  _halted, _message)
from heatflow.flows.guard import _Superseded
from heatflow.persistence.taskflow_backend import VOLATILE_PREFIX

LOG = logging.getLogger(__name__)


def _converged_row(converged, row_id):
    """Is ``row_id`` one of the converged incarnations?  (Their ids are
    sorted: a lookup per clean-up atom stays O(log N).)"""
    rows = converged["rows"]
    i = bisect.bisect_left(rows, row_id)
    return i < len(rows) and rows[i] == row_id


class CleanupResource(_Atom):
    """Delete an incarnation the target template no longer has.

    Volatile (not recorded by TaskFlow): what it did is recorded in its
    row, whose deletion is its record of success.  A resumed flow runs it
    again; it finds the row gone (nothing to do), still being deleted by
    the dead run (its lock is broken and the delete polled to completion),
    still there (deleted now), or DELETE_FAILED by the dead run (the
    delete is tried again, as a retried operation would).  A row id the
    database gave again to a new row cannot be mistaken for the old one:
    no row is inserted into the stack once its clean-up has begun (a newer
    operation stops this one at the gate), and the first read is limited
    to the stack's rows."""

    def __init__(self, op, row_id, after_rows):
        super().__init__(op, VOLATILE_PREFIX + "cleanup:%d" % row_id,
                         provides="gone:%d" % row_id,
                         requires=["converged"] +
                         ["gone:%d" % r for r in after_rows])
        self.row_id = row_id

    def execute(self, converged, **gone):
        if _halted(converged) or any(_halted(v) and v["halt"] ==
                                     "superseded" for v in gone.values()):
            return SUPERSEDED
        if _converged_row(converged, self.row_id):
            # Still part of the stack: nothing to do, nothing to read.
            return {"kept": True}
        try:
            return self._cleanup(converged, self.first_read(self.row_id))
        except _Superseded:
            self.halt()
            return SUPERSEDED
        except exception.RollbackRequested:
            raise
        except Exception as exc:
            # Not the plugin's failure (reported where it happens) but this
            # row's all the same, e.g. its template no longer binds: a
            # failed clean-up, never a revert of the converged stack (for a
            # delete, a revert chained a rollback that never ended).
            LOG.warning("cleaning up row %d of stack %s failed: %s",
                        self.row_id, self.op.stack_name, _message(exc))
            row = self.store.get_resource(self.row_id)
            if row is None:
                return {"deleted": self.row_id}
            return self._failed(row, exc)

    def _failed(self, row, exc):
        """Record the row's delete failed (if this run holds its lock) and
        tell the finish atom why."""
        msg = _message(exc)
        self.store.finish_resource(row.id, self.fence, states.DELETE,
                                   states.FAILED, msg,
                                   driver.failure_detail(exc))
        # Clean-up failures never revert the converged stack; the
        # operation ends FAILED and a retry picks the row up again.
        return _failed_marker("Resource DELETE failed: %s: %s"
                              % (row.name, msg))

    def _cleanup(self, converged, row):
        store = self.store
        if row is None or _converged_row(converged, row.id):
            return {"kept": True}
        defn = None
        if row.template_id is not None:
            defn = self.definition(row.template_id).resources.get(row.name)
        what = convergence.cleanup(
            row, defn.deletion_policy if defn is not None else None)
        if what == convergence.FORGET:
            # Never created: nothing to delete.
            store.purge_resource(row.id, self.fence)
            return {"deleted": row.id}
        if what == convergence.RETAIN:
            store.purge_resource(row.id, self.fence)
            return {"retained": row.id}
        cls = self.class_of(row)
        if self._id_taken_over(cls, row):
            # Its physical id names its replacement now (a plugin's
            # prepare_for_replace freed it, OS::Nova::KeyPair's name): a
            # delete through it would delete the replacement.
            store.purge_resource(row.id, self.fence)
            return {"deleted": row.id}
        row = self.acquire(row.id, states.DELETE)
        if row is None:
            return {"deleted": self.row_id}
        timeout = (defn.timeout if defn is not None else None) or \
            cls.default_timeout
        try:
            self.check_stack_deadline()
            plugin = self.plugin_to_delete(cls, defn, row)
            if plugin is not None:
                self.run_action(plugin, row, states.DELETE, timeout=timeout,
                                retries=defn.retries if defn is not None
                                else 0)
        except _Superseded:
            raise
        except exception.EngineStorageError as exc:
            return self.engine_failed(exc)
        except Exception as exc:
            return self._failed(row, exc)
        store.finish_delete(row.id, self.fence)
        return {"deleted": row.id}

    def _id_taken_over(self, cls, row):
        """Does ``row``'s replacement hold its physical id?  Only a plugin
        with its own prepare_for_replace hands its id on; asked of those
        alone, by one read of the replacement (a read of the whole stack
        per clean-up was quadratic in the stack's size)."""
        if row.physical_resource_id is None or row.replaced_by is None or \
                not plugin_factory.overrides(cls, "prepare_for_replace"):
            return False
        replacement = self.store.get_resource(row.replaced_by)
        return replacement is not None and \
            replacement.physical_resource_id == row.physical_resource_id
