"""The states of stacks and resources, and which request may start from
which state: the one place that says so.

The store's compare-and-swap conditions (``persistence/store.py``,
``persistence/resources.py``), the lifecycle's checks
(``heatflow/lifecycle.py``) and the conductor's watchdog are built from the
tables below; ``tests/unit/test_states.py`` holds them against what a user
sees.  This module imports nothing of heatflow's, so that persistence/ and
flows/ (below heatflow's other modules) can import it.
"""

# -- actions and statuses (Heat's names) ------------------------------------

INIT, CREATE, UPDATE, DELETE, ROLLBACK, CHECK, SUSPEND, RESUME = (
    "INIT", "CREATE", "UPDATE", "DELETE", "ROLLBACK", "CHECK", "SUSPEND",
    "RESUME")
# Heat's names for its adopt and snapshot actions (heatflow runs neither
# yet; plugins may name them).
ADOPT, SNAPSHOT = "ADOPT", "SNAPSHOT"
# (In Heat's order: plugins unpack Resource.ACTIONS and STATUSES.)
ACTIONS = (INIT, CREATE, DELETE, UPDATE, ROLLBACK, SUSPEND, RESUME, ADOPT,
           SNAPSHOT, CHECK)
IN_PROGRESS, COMPLETE, FAILED = "IN_PROGRESS", "COMPLETE", "FAILED"
STATUSES = (IN_PROGRESS, FAILED, COMPLETE)

#: The operations that act on each resource as it is, changing no template
#: (Heat's stack_task): a check, a suspend, a resume.
RESOURCE_ACTIONS = (CHECK, SUSPEND, RESUME)
#: Of those, the ones that go in reverse dependency order (dependents
#: first, as a delete does); the others go in dependency order.
REVERSE_ORDER_ACTIONS = (SUSPEND,)
#: The actions a stack's operation has (a resource's may also be INIT).
STACK_ACTIONS = (CREATE, UPDATE, DELETE, ROLLBACK) + RESOURCE_ACTIONS


def joined(action, status):
    """The name a user sees for an action and a status:
    ``CREATE_COMPLETE``."""
    return "%s_%s" % (action, status)


class ResourceStatus:
    """``resource_status``: the joined name of a view's ``action`` and
    ``status`` (a mixin of the views that have both)."""

    @property
    def resource_status(self):
        return joined(self.action, self.status)


# -- a stack operation's phases ---------------------------------------------

#: Converging until every resource of the target has converged, then
#: cleaning up: from then on the operation can no longer be reverted.
CONVERGE, CLEANUP = "converge", "cleanup"

# -- what a request does, by the stack's state ------------------------------

#: A new operation (new traversal) replaces whatever runs.
SUPERSEDE = "supersede"
#: The requested rollback already runs: the request is that operation.
JOIN = "join"
#: The operation reverts itself (same traversal; TaskFlow reverts the flow),
#: possible only while it converges and has a flow.
REVERT = "revert"
#: A new ROLLBACK operation converges to the last known-good template.
CONVERGE_BACK = "converge back"
#: No further resource action starts; the stack is left <ACTION>_FAILED.
STOP = "stop"
#: Refused (exception.ActionNotAllowed).
REFUSE = None

#: delete_stack, by the stack's (action, status): from any state of a live
#: stack (a deleted one is not found), superseding whatever runs.
SUPERSEDE_FROM = {(a, s): SUPERSEDE for a in STACK_ACTIONS for s in STATUSES}

#: update_stack, by the stack's (action, status): as a delete, except that
#: a suspended stack (or one being suspended, or whose suspend failed) is
#: not updated: resume it first (Heat refuses it too).
UPDATE_FROM = {(a, s): outcome for (a, s), outcome in SUPERSEDE_FROM.items()
               if a != SUSPEND}

#: A resource action (RESOURCE_ACTIONS) the stack is already settled in:
#: nothing to do (Heat's suspend of a suspended stack, resume of a resumed
#: one).
ALREADY = "already"
#: A new operation acting on each resource.
START = "start"

#: check_stack, suspend_stack and resume_stack, by the stack's (action,
#: status): from any settled state, never while an operation runs (Heat's
#: stack lock: ActionInProgress); a suspend of a suspended stack and a
#: resume of a resumed one do nothing.  Whether each resource may be
#: suspended or resumed is its own state's affair (flows/act.py).
RESOURCE_ACTION_FROM = {
    request: {(a, s): (ALREADY if (a, s) == (request, COMPLETE) and
                       request != CHECK else START)
              for a in STACK_ACTIONS for s in (COMPLETE, FAILED)}
    for request in RESOURCE_ACTIONS}

#: rollback_stack, by the stack's (action, status); what is not here is
#: refused ("there is nothing to roll back").
ROLLBACK_FROM = {
    (ROLLBACK, IN_PROGRESS): JOIN,
    (CREATE, IN_PROGRESS): REVERT,
    (UPDATE, IN_PROGRESS): REVERT,
    # failed with rollback disabled: still revertible
    (CREATE, FAILED): REVERT,
    (UPDATE, FAILED): REVERT,
    # a rollback that failed
    (ROLLBACK, FAILED): CONVERGE_BACK,
}

#: cancel_update, by the stack's (action, status): only a running create or
#: update (with ``rollback``, it then asks for a rollback).
CANCEL_FROM = {
    (CREATE, IN_PROGRESS): STOP,
    (UPDATE, IN_PROGRESS): STOP,
}

#: The actions whose operation a rollback may revert (the store's
#: request_rollback checks it in the statement).
REVERTIBLE_ACTIONS = tuple(sorted(
    {a for (a, _), outcome in ROLLBACK_FROM.items() if outcome == REVERT}))


def rollback_outcome(action, status, phase, has_flow=True):
    """What rollback_stack does to a stack in this state (see the
    constants above): a revert needs the operation still converging, with
    its flow; past that, the stack converges back."""
    outcome = ROLLBACK_FROM.get((action, status), REFUSE)
    if outcome == REVERT and not (phase == CONVERGE and has_flow):
        return CONVERGE_BACK
    return outcome


def cancel_outcome(action, status):
    """What cancel_update (without rollback) does to a stack in this
    state."""
    return CANCEL_FROM.get((action, status), REFUSE)


def supersede_outcome(action, status, request=DELETE):
    """What update_stack (``request`` UPDATE) or delete_stack does to a
    stack in this state."""
    table = UPDATE_FROM if request == UPDATE else SUPERSEDE_FROM
    return table.get((action, status), REFUSE)


def resource_action_outcome(request, action, status):
    """What check_stack, suspend_stack or resume_stack (``request``: CHECK,
    SUSPEND, RESUME) does to a stack in this state."""
    return RESOURCE_ACTION_FROM[request].get((action, status), REFUSE)
