"""Acting on each resource as it is: a stack's check, suspend or resume
(Heat's ``stack_task``).  No template changes and nothing is converged:
each resource of the stack's current template gets its plugin's
``handle_<action>`` (then ``check_<action>_complete`` polled, through
flows/driver.py like any action), in dependency order -- reverse order for
a suspend (states.REVERSE_ORDER_ACTIONS) -- and the stack ends
``<ACTION>_COMPLETE`` or ``<ACTION>_FAILED``.

What Heat does, resource by resource (heat/engine/resource.py):

- check: a plugin without ``handle_check`` is not checked: CHECK_COMPLETE,
  "CHECK not supported for <type>", and the stack's reason says the check
  was not complete; one never created fails ("not created yet"); a failed
  check is CHECK_FAILED with the plugin's reason.  A failure does not stop
  the others (Heat aggregates them), only what depends on the failed one.
- suspend: only from a settled (COMPLETE) state or a suspend that failed,
  never from a delete; resume: only from SUSPEND_COMPLETE or a resume
  (complete or failed).  From another state the resource is left as it
  is and the stack fails, naming it.  Without ``handle_suspend``/
  ``handle_resume`` a resource is simply marked so.  The first failure
  stops the operation starting any further resource (Heat cancels the
  others); those in flight finish.

Failures are never reverted (op.rollback is False): TaskFlow ends the flow
normally and the last atom records the outcome.
"""

import logging

from heatflow import exception
from heatflow import plugin_factory
from heatflow import stack_view
from heatflow import states
from heatflow.flows import convergence
from heatflow.flows import driver
from heatflow.flows import plan as plan_mod
from heatflow.flows.atoms import (SUPERSEDED, _Atom, _failed_marker,
                                  _gathered, _halted, _message)
from heatflow.flows.guard import _Superseded
from heatflow.persistence import store as store_mod

LOG = logging.getLogger(__name__)

#: The reason of a resource a check passed over (Heat's words).
UNCHECKED = "CHECK not supported for "

#: What an acting atom provides, by resource name.
ACTED = "acted:"

#: What an atom not acted on provides (its dependents are not either).
SKIPPED = {"halt": "skipped"}

#: The (action, status) each action may start a resource from (Heat's
#: Resource.suspend and resume); absent: any.
ALLOWED_FROM = {
    states.RESUME: ((states.SUSPEND, states.COMPLETE),
                    (states.RESUME, states.FAILED),
                    (states.RESUME, states.COMPLETE)),
}


def plan_resource_action(store, op, stack_def):
    """The :class:`plan.Plan` of a check, suspend or resume: each resource
    of ``stack_def`` (the stack's current template) that has an
    incarnation, with the resources to act on before it."""
    rows = store.list_resources(op.stack_id)
    target = stack_def.resources if stack_def is not None else {}
    found = convergence.choose_rows(rows, target,
                                    target_template_id=op.template_id,
                                    prev_template_id=op.template_id)
    deps = stack_def.dependencies() if stack_def is not None else {}
    names = [n for n in target if n in found]
    first = {n: {d for d in deps.get(n, ()) if d in found} for n in names}
    if op.action in states.REVERSE_ORDER_ACTIONS:
        dependents = {n: set() for n in names}
        for n in names:
            for d in first[n]:
                dependents[d].add(n)
        first = dependents
    return plan_mod.Plan(op=op, converge=[], cleanup=[], act=[
        [n, found[n].id, sorted(first[n])] for n in names])


def state_refused(action, row):
    """Why ``row`` may not start ``action`` (Heat's words), or None."""
    state = (row.action, row.status)
    if action == states.SUSPEND and (
            row.action == states.DELETE or
            (row.action != states.SUSPEND and row.status != states.COMPLETE)):
        return "State %s invalid for suspend" % states.joined(*state)
    if action in ALLOWED_FROM and state not in ALLOWED_FROM[action]:
        return "State %s invalid for %s" % (
            states.joined(*state), action.lower())
    return None


class ActOnResource(_Atom):
    """Check, suspend or resume one resource, after those it waits for."""

    def __init__(self, op, name, row_id, first):
        super().__init__(op, "act:" + name, provides=ACTED + name,
                         requires=[ACTED + r for r in first])
        self.resource_name = name
        self.row_id = row_id

    def execute(self, **inputs):
        if any(_halted(v) and v["halt"] == "superseded"
               for v in inputs.values()):
            return SUPERSEDED
        if any(_halted(v) for v in inputs.values()):
            # Not acted on: what it waits for failed (Heat cancels it).
            return SKIPPED
        try:
            row = self.first_read(self.row_id)
            row = self.wait_idle(self.row_id, row)
            if row is None:
                return {"row": self.row_id}      # gone meanwhile
            return self._act(row)
        except _Superseded:
            self.halt()
            return SUPERSEDED
        except exception.EngineStorageError as exc:
            return self.engine_failed(exc)
        except Exception as exc:
            # Not the plugin's failure (handled where it happens) but this
            # resource's all the same -- its template no longer binds, the
            # stack's deadline passed while it waited for the row: the
            # resource fails (as it is), never the engine.  (Raised out of
            # the atom, it would make TaskFlow revert a flow that has
            # nothing to revert.)
            LOG.info("the %s of %s failed", self.op.action,
                     self.resource_name, exc_info=not isinstance(
                         exc, exception.HeatflowError))
            return self._failed(_message(exc))

    def _act(self, row):
        action = self.op.action
        mine = row.traversal == self.op.traversal and row.action == action
        if mine and row.status != states.IN_PROGRESS:
            # Done by an earlier run of this operation that died before
            # TaskFlow recorded it: not done twice.
            return self._outcome(row.status, row.status_reason)
        # (An action of this operation in flight when its run died is
        # resumed, whatever the state rules say of IN_PROGRESS.)
        refused = None if mine else state_refused(action, row)
        if refused is not None:
            # Left as it is (Heat does not record it on the resource).
            return self._failed(refused)
        cls = self.class_of(row)
        defn = self.definition(row.template_id or self.op.template_id
                               ).resources.get(row.name)
        if action == states.CHECK and not hasattr(cls, "handle_check"):
            return self._record(row, states.COMPLETE,
                                UNCHECKED + row.type)
        if action == states.CHECK and row.action == states.INIT:
            return self._record(
                row, states.FAILED,
                "Can not check %s, resource not created yet." % row.name)
        locked = self.acquire(row.id, action)
        if locked is None:
            return {"row": self.row_id}
        try:
            self.check_stack_deadline()
            plugin = self.plugin_as_recorded(cls, defn, locked, action)
            self.run_action(plugin, locked, action, timeout=(
                defn.timeout if defn is not None else None) or
                cls.default_timeout)
        except _Superseded:
            raise
        except exception.EngineStorageError:
            raise
        except Exception as exc:
            return self._finish(locked, states.FAILED, _message(exc),
                                driver.failure_detail(exc))
        return self._finish(locked, states.COMPLETE, "state changed")

    def _record(self, row, status, reason):
        """Set the resource's state without asking its plugin."""
        locked = self.acquire(row.id, self.op.action)
        if locked is None:
            return {"row": self.row_id}
        return self._finish(locked, status, reason)

    def _finish(self, row, status, reason, detail=None):
        """Record the outcome; ``detail``: a plugin's crash's traceback."""
        if not self.store.finish_resource(row.id, self.fence, self.op.action,
                                          status, reason, detail):
            raise _Superseded()
        return self._outcome(status, reason)

    def _outcome(self, status, reason):
        if status == states.FAILED:
            return self._failed(reason)
        return {"row": self.row_id}

    def _failed(self, msg):
        LOG.info("resource %s %s failed: %s", self.resource_name,
                 self.op.action, msg)
        reason = "Resource %s failed: %s: %s" % (self.op.action,
                                                 self.resource_name, msg)
        if self.op.action != states.CHECK:
            # Heat stops a suspend or resume at its first failure: the
            # stack fails now, and no further atom (the last one neither)
            # starts.
            self.stack_failed(reason)
            self.halt()
        return _failed_marker(reason)


class FinishAction(_Atom):
    """Record the outcome of a check, suspend or resume on the stack."""

    def __init__(self, op, requires):
        super().__init__(op, "finish", provides="finished",
                         requires=requires)

    def execute(self, **inputs):
        op = self.op
        try:
            self.gate()
        except _Superseded:
            return SUPERSEDED
        got = _gathered(inputs.values())
        if got["superseded"]:
            return SUPERSEDED
        if got["failed"]:
            status, reason = states.FAILED, "; ".join(got["failed"])
        else:
            status = states.COMPLETE
            reason = "Stack %s completed successfully" % op.action
        if op.action == states.CHECK and self._unchecked():
            reason += ". 'CHECK' not fully supported (see resources)"
        self.store.set_stack_state(self.fence, op.action, status, reason)
        return {"status": status}

    def _unchecked(self):
        """Did this check pass over a resource whose plugin cannot check?
        (Read from the rows: a resumed run knows it too.)"""
        return any(r.traversal == self.op.traversal and
                   r.action == states.CHECK and
                   (r.status_reason or "").startswith(UNCHECKED)
                   for r in self.store.list_resources(self.op.stack_id))


def reset_metadata(rt, store, stack, row):
    """Heat's ``handle_metadata_reset()``, as ``stack resource mark
    unhealthy --reset`` marks the CHECK_FAILED resource ``row`` of
    ``stack`` (a stack row) healthy again: only for a plugin that
    overrides it, built as the resource records it.  No operation runs:
    the plugin's writes (``data_set``) are fenced on the stack's
    current one, refused once another starts.  An exception from it
    raises :class:`exception.ResourceFailure` naming the resource."""
    stack_def = None
    try:
        if row.template_id is not None:
            stack_def = rt.definition(row.template_id, stack.name, stack.id)
        cls = (stack_def.registry if stack_def is not None
               else rt.registry).get_class(row.type)
    except exception.UnknownResourceType:
        # Whether it has the hook is not known: refused, as an update or
        # a delete would be.
        raise exception.PluginNotLoaded(
            stack.name, "reset",
            rt.unloaded_types(stack, states.CHECK) or [row.type]) from None
    if not plugin_factory.overrides(cls, "handle_metadata_reset"):
        return
    view = stack_view.StackView(
        stack.name, stack.id, definition=stack_def,
        rows=lambda: store.list_resources(stack.id),
        stack_row=lambda: stack, software_configs=store,
        context=lambda: rt.context_of(stack.id, stack.traversal,
                                      lambda: stack))
    fence = store_mod.Fence(stack.id, stack.traversal, stack.run_token)
    try:
        props = plugin_factory.properties_for(
            cls, row.name, row.properties or {}, validate=False,
            strict=False, ignore_errors=True)
        plugin = plugin_factory.make_plugin(
            cls, row.name, stack_def.resources.get(row.name)
            if stack_def is not None else None, props, view,
            storage=driver.DbStorage(store, row, fence),
            metadata=row.rsrc_metadata, action=row.action,
            status=row.status)
        plugin.handle_metadata_reset()
    except Exception as exc:
        LOG.info("%s: handle_metadata_reset failed", row.name,
                 exc_info=not isinstance(exc, exception.HeatflowError))
        raise exception.ResourceFailure(
            row.name, states.CHECK,
            "its metadata could not be reset: %s" % _message(exc)) from exc
