"""What a fenced run made but may not record: its orphan, undone.

Fencing stops a run's writes, not its side effects.  A conductor frozen
(SIGSTOP, a long GC pause, a VM migration) in ``handle_create`` past its
ZooKeeper session wakes up after another run took its operation over; the
handler finishes, and the physical resource it made exists, but its
``resource_id_set`` is refused.  Left alone that resource would be known to
nobody: leaked, or alive twice when the new run made its own.

So the run that learned the physical id undoes it, with the plugin, once the
resource's current owner has settled: it waits while a live run holds the
row (that run may be creating the same incarnation again and, keyed on the
stable ``physical_resource_name()``, find and record this very resource),
or while the operation's current run is alive and could still create the
incarnation; then

* a row of the stack records the physical id, and no live run is acting
  on that row (it may be deleting it): the owner adopted it, it stays;
* otherwise it is deleted through a fresh plugin object whose persistent
  bits live in memory only (the run may write nothing), and an event says
  so.

The event is the one write a fenced run makes, on purpose: an INSERT into
the stack's history, conditional on the stack existing, that changes no
state any run decides from (events are only ever shown).  Without it the
undoing would be invisible.  See docs/semantics.rst.
"""

import logging
import time

from heatflow import resource as resource_mod
from heatflow import states
from heatflow.flows import driver
from heatflow.flows import polling

LOG = logging.getLogger(__name__)

#: How long a fenced run waits for the resource's owner to settle before it
#: gives up and logs the physical id as possibly leaked.
PATIENCE = 600.0

KEEP, DELETE, WAIT = "keep", "delete", "wait"


def verdict(store, fence, row_id, physical_id, run_alive):
    """KEEP (a row of the stack records ``physical_id``), WAIT (someone may
    still record it) or DELETE (no one can: it is an orphan).
    ``run_alive``: the runtime's (a run it cannot tell about is alive)."""
    row, position = store.resource_and_position(row_id, fence.stack_id)
    holders = [r for r in store.list_resources(fence.stack_id)
               if r.physical_resource_id == physical_id]
    if any(r.lock_run not in (None, fence.run) and run_alive(r.lock_run)
           for r in holders):
        # Its owner is acting on it, and may be deleting it: a name the row
        # still records is no adoption if the owner's delete of that name
        # came before this run's create (a chaos soak trial leaked so).
        return WAIT
    if holders:
        return KEEP
    if row is None:
        # The incarnation is gone, and its name with it.
        return DELETE
    if row.lock_run not in (None, fence.run) and \
            run_alive(row.lock_run):
        return WAIT
    current = position.run_token
    if position.status == states.IN_PROGRESS and current != fence.run and \
            row.physical_resource_id is None and \
            run_alive(current):
        # The current run may (re)create this incarnation under its name.
        return WAIT
    return DELETE


def undo(store, fence, plugin, row_id, physical_id, run_alive,
         poll=polling.POLL_INTERVAL, patience=PATIENCE):
    """Undo ``physical_id``, which ``plugin``'s run made for the row
    ``row_id`` but could not record (see the module's docstring).  Returns
    KEEP, DELETE, or WAIT when it gave up waiting."""
    end = time.monotonic() + patience
    delay = 0.05
    while True:
        decided = verdict(store, fence, row_id, physical_id, run_alive)
        if decided != WAIT:
            break
        if time.monotonic() >= end:
            LOG.error("%s: physical resource %s was made by run %s, which "
                      "lost its operation; its owner did not settle within "
                      "%g s: it may be leaked", plugin.name, physical_id,
                      fence.run, patience)
            return WAIT
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
    if decided == KEEP:
        LOG.info("%s: physical resource %s, made by run %s after it lost "
                 "its operation, was adopted by the stack", plugin.name,
                 physical_id, fence.run)
        return KEEP
    storage = resource_mod.ResourceStorage(
        physical_id, getattr(plugin._storage, "_data", None),
        plugin._storage.physical_name)
    deleter = resource_mod.make_plugin(
        type(plugin), plugin.name, plugin.t, plugin.properties,
        plugin.stack, storage=storage,
        stack_name=plugin.stack_name, stack_id=plugin.stack_id,
        metadata=plugin.metadata, action=resource_mod.DELETE,
        status=resource_mod.IN_PROGRESS)
    why = "made by a run that had lost the operation"
    try:
        driver.run(deleter, resource_mod.DELETE, poll=poll,
                   deadline=time.time() + patience)
    except Exception as exc:
        LOG.error("%s: could not delete physical resource %s (%s): %s",
                  plugin.name, physical_id, why, exc)
        store.orphan_event(fence.stack_id, plugin.name, physical_id,
                           resource_mod.FAILED,
                           "orphan %s: delete failed: %s" % (why, exc))
        return DELETE
    LOG.warning("%s: deleted physical resource %s (%s)", plugin.name,
                physical_id, why)
    store.orphan_event(fence.stack_id, plugin.name, physical_id,
                       resource_mod.COMPLETE, "orphan deleted: %s" % why)
    return DELETE
