"""Signals: a resource's plugin told something from outside (Heat's
``resource_signal``): ``handle_signal(details)`` of the stack's current
incarnation of the resource, run in the caller, and Heat's ``SIGNAL``
event.

A signal is not an operation: it takes no traversal (it would supersede
the create that waits for it, a WaitCondition's) and no row lock (an
action in flight on the resource is not disturbed, as in Heat).  It is
refused, before the plugin is asked, when the stack is deleted or being
deleted, the resource has no incarnation, has not been created, or is being
(or was) suspended or deleted (Heat's ``no_signal_actions``), or its
plugin has no ``handle_signal``.  What the plugin writes (``data_set``)
and the event are fenced on the same conditions, checked in each write's
own statement (persistence/resources.py ``_SIGNAL_MAY_WRITE``): a delete
that takes the row a moment after the checks refuses the signal's late
writes.
"""

import hmac
import json
import logging

from heatflow import exception
from heatflow import plugin_factory
from heatflow import stack_view
from heatflow import states
from heatflow.flows import convergence
from heatflow.flows import driver
from heatflow.persistence.resources import NO_SIGNAL_ACTIONS
from heatflow.persistence.sql import SignalFence

LOG = logging.getLogger(__name__)


def current_incarnation(store, stack, resource_name):
    """The row of ``resource_name`` the stack (its row) has now, as its
    next operation would choose it; raises ResourceNotFound."""
    found = convergence.choose_rows(
        store.list_resources(stack.id), [resource_name],
        target_template_id=stack.template_id,
        prev_template_id=stack.template_id).get(resource_name)
    if found is None:
        raise exception.ResourceNotFound(stack.name, resource_name)
    return found


class SignalStorage(driver.DbStorage):
    """A plugin's data as its handle_signal writes it: fenced on the
    signal's conditions (the SignalFence), not on an operation."""

    def set_resource_id(self, value):
        raise exception.PluginError(
            "handle_signal may not change a resource's physical id (that "
            "is an action's: create or update)")


def deliver(store, runtime, stack_name, resource_name, details=None,
            token=None):
    """Orchestrator.signal_resource: run the resource's ``handle_signal``
    and record the signal's event.  Returns the event's reason.

    ``token``: the signal comes from outside (heatflow's HTTP receiver)
    and must carry the secret the resource keeps as its ``token`` data (a
    wait condition handle's); checked first, and every refusal reads the
    same (NotAuthorized), so the receiver tells a stranger nothing of
    which stacks and resources exist."""
    _check_details(details)
    if token is not None:
        _check_token(store, stack_name, resource_name, token)
    stack = store.find_stack(stack_name)
    if stack.action == states.DELETE and stack.status == states.IN_PROGRESS:
        raise exception.ActionNotAllowed(
            "stack %s is DELETE_IN_PROGRESS: its resources take no signal"
            % stack.name)
    row = current_incarnation(store, stack, resource_name)
    _check_state(stack, row)
    stack_def = runtime.definition(row.template_id or stack.template_id,
                                   stack.name, stack.id)
    cls = stack_def.registry.get_class(row.type)
    if not callable(getattr(cls, "handle_signal", None)):
        # Heat's ResourceActionNotSupported.
        raise exception.ActionNotAllowed(
            "resource %s of stack %s (%s) takes no signal: its plugin has no "
            "handle_signal" % (row.name, stack.name, row.type))
    fence = SignalFence(stack.id, row.id)
    plugin = _plugin(store, runtime, stack, stack_def, cls, row, fence)
    try:
        result = plugin.handle_signal(details)
    except exception.NoActionRequired:
        return None             # (Heat writes no event: it would be spam)
    except exception.Superseded:
        raise _changed(stack, row) from None
    except Exception as exc:
        LOG.info("signal to %s of stack %s failed", row.name, stack.name,
                 exc_info=not isinstance(exc, exception.HeatflowError))
        raise exception.ResourceFailure(
            row.name, "SIGNAL", "Signal failed: %s" % (
                str(exc) or type(exc).__name__)) from exc
    reason = "Signal: %s" % result if result else _described(details)
    if not store.signal_event(fence, row.status, reason):
        raise _changed(stack, row)
    return reason


def _check_token(store, stack_name, resource_name, token):
    try:
        stack = store.find_stack(stack_name)
        row = current_incarnation(store, stack, resource_name)
        kept = store.resource_data(row.id).get("token")
    except exception.NotFound:
        kept = None
    if not isinstance(token, str) or not isinstance(kept, str) or \
            not hmac.compare_digest(kept.encode(), token.encode()):
        raise exception.NotAuthorized(
            "signal refused: no such resource takes signals with this "
            "token")


def _check_details(details):
    try:
        json.dumps(details)
    except (TypeError, ValueError) as exc:
        raise exception.StackValidationFailed(
            "a signal's details must be JSON data (%s)" % exc,
            "details") from None


def _check_state(stack, row):
    if row.action in NO_SIGNAL_ACTIONS:
        why = ("it has not been created" if row.action == states.INIT else
               "it cannot be signalled during %s" % row.action)
        raise exception.ActionNotAllowed(
            "resource %s of stack %s is %s: %s" % (
                row.name, stack.name, states.joined(row.action, row.status),
                why))


def _changed(stack, row):
    return exception.ActionNotAllowed(
        "resource %s of stack %s is being suspended or deleted (or the "
        "stack is): the signal was not recorded" % (row.name, stack.name))


def _plugin(store, runtime, stack, stack_def, cls, row, fence):
    """The plugin of ``row`` as it was last created or updated."""
    props = plugin_factory.recorded_properties(cls, row)
    view = stack_view.StackView(
        stack.name, stack.id, definition=stack_def,
        rows=lambda: store.list_resources(stack.id), stack_row=lambda: stack,
        software_configs=store, resource_data=store.resource_data,
        context=lambda: runtime.context_of(stack.id, stack.traversal,
                                           lambda: stack))
    return plugin_factory.make_plugin(
        cls, row.name, stack_def.resources.get(row.name), props, view,
        storage=SignalStorage(store, row, fence),
        metadata=row.rsrc_metadata, action=row.action, status=row.status)


def _described(details):
    """The event's reason when the plugin gave none (Heat's words)."""
    if details is None:
        return "No signal details provided"
    if isinstance(details, str):
        return details
    if isinstance(details, dict):
        if all(k in details for k in ("previous", "current", "reason")):
            return "alarm state changed from %(previous)s to %(current)s " \
                "(%(reason)s)" % details
        if "state" in details:
            return "alarm state changed to %(state)s" % details
    return "Unknown"
