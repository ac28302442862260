"""A stack operation's life before it runs: bind and check the input,
decide what the request means for the stack as it is (a create, an update
superseding the running one, a rollback: revert the running operation or
converge to the last known-good template, a cancel), record it, plan it,
and hand the plan to the runner.  Nothing is written until the input is
known good.  The Orchestrator (heatflow/api.py) is the facade over it.
"""

import collections
import dataclasses
import datetime
import time
import uuid

from heatflow import exception
from heatflow import states
from heatflow.environment import Environment
from heatflow.flows import compiler
from heatflow.flows import plan as plan_mod
from heatflow.template import Template
from heatflow.template import parameters as template_parameters

#: What starting (or finding) an operation gives the facade.
Started = collections.namedtuple("Started", "stack_id traversal action")


class Lifecycle:
    """Operations on the stacks of one host (heatflow/runners/base.py),
    handed to ``runner``; templates bounded by ``limits``."""

    def __init__(self, host, runner, limits):
        self.db, self.runtime = host.db, host.runtime
        self.registry, self.runtime_key = host.registry, host.key
        self.runner = runner
        self.limits = limits

    @staticmethod
    def check_supersede(row, action):
        """Refuse an update or delete the stack's state does not allow
        (states.SUPERSEDE_FROM: every state of a live stack, and
        states.UPDATE_FROM: not a suspended one)."""
        if states.supersede_outcome(row.action, row.status, action) != \
                states.SUPERSEDE:
            hint = " (resume it first)" if row.action == states.SUSPEND \
                else ""
            raise exception.ActionNotAllowed(
                "stack %s is %s_%s: it cannot be %s now%s"
                % (row.name, row.action, row.status,
                   "updated" if action == states.UPDATE else "deleted",
                   hint))

    @staticmethod
    def check_owner(row, by_parent):
        """Refuse an operation on a nested stack that its parent does not
        ask for (Heat's: a child changes only with its parent)."""
        if row.owner_id is not None and not by_parent:
            raise exception.ActionNotAllowed(
                "stack %s is nested in stack %s (resource %s): it changes "
                "only through its parent" % (row.name, row.owner_id,
                                             row.parent_resource))

    def check_depth(self, parent):
        """Refuse a child deeper than the limit (Heat's
        max_nested_stack_depth), before anything is written."""
        if parent is not None and \
                parent.depth > self.limits.max_nested_stack_depth:
            raise exception.RequestLimitExceeded(
                message="Recursion depth exceeds %d (max_nested_stack_depth)"
                % self.limits.max_nested_stack_depth)

    @staticmethod
    def started(row):
        """The operation the stack ``row`` runs (or last ran)."""
        return Started(row.id, row.traversal, row.action)

    def check_plugins(self, row, action):
        """Refuse, before anything is written, an operation on the stack
        ``row`` that needs a plugin this process lacks (a forgotten
        ``--plugin-dir``, say): run anyway, it could neither delete nor
        update those resources."""
        missing = self.runtime.unloaded_types(row, action)
        if missing:
            raise exception.PluginNotLoaded(row.name, action, missing)

    def definition(self, tmpl, env, name, stack_id, timeout_mins=None,
                   context=None, project_id=None):
        """Bind and fully validate: ``env`` holds the final parameter
        values and the type aliases; ``timeout_mins`` the stack's timeout
        and ``context`` the request context (plugins' validate() may look
        at them); ``project_id`` is OS::project_id (default: the
        context's)."""
        registry = env.registry(self.registry, tmpl.files, self.limits)
        if project_id is None:
            project_id = getattr(context, "project_id", None)
        stack_def = tmpl.bind(env.parameters, stack_name=name,
                              stack_id=stack_id, project_id=project_id or "",
                              registry=registry)
        stack_def.validate(registry, timeout_mins, context)
        return stack_def

    def create_inputs(self, template, parameters, files, environment):
        """The template and the environment a new stack starts with: the
        environment's parameters resolved to final values (see
        :meth:`heatflow.environment.Environment.parameter_values`)."""
        tmpl = Template.load(template, files=files, limits=self.limits)
        env = Environment.load(environment, limits=self.limits)
        values = env.parameter_values(tmpl.parameter_schemas, parameters)
        # parameter_defaults are kept (as Heat keeps them) for the nested
        # stacks, whose parameters they also give defaults to.
        return tmpl, Environment(
            values, parameter_defaults=env.parameter_defaults,
            resource_registry=env.resource_registry)

    @staticmethod
    def _deadline(timeout_mins):
        if timeout_mins is None:
            return None
        return time.time() + 60.0 * float(timeout_mins)

    def _op(self, stack_id, name, traversal, action, template_id,
            disable_rollback, deadline, base=None):
        """The operation header every atom of its flow carries.

        ``base`` is the stack row the operation starts from: a revert
        restores that state, which is the last known-good one only if the
        stack had settled (COMPLETE) there."""
        return plan_mod.OperationHeader(
            runtime=self.runtime_key, stack_id=stack_id, stack_name=name,
            traversal=traversal, run=str(uuid.uuid4()),
            flow_uuid=str(uuid.uuid4()), action=action,
            template_id=template_id, rollback=not disable_rollback,
            deadline=deadline,
            base_settled=base is None or base.status == states.COMPLETE,
            base_template_id=None if base is None else base.template_id)

    def _stored(self, context):
        """The context as stored with the stack: its token only when the
        database seals it (heatflow/context.py)."""
        return context.to_dict(secrets=self.db.cipher is not None)

    def create(self, name, template, parameters=None, files=None,
               timeout_mins=None, disable_rollback=True, environment=None,
               context=None, parent=None):
        """``parent``: a nested stack's place in its tree
        (heatflow.child_stacks.Parent)."""
        self.check_depth(parent)
        tmpl, env = self.create_inputs(template, parameters, files,
                                       environment)
        stack_id = str(uuid.uuid4())
        stack_def = self.definition(tmpl, env, name, stack_id, timeout_mins,
                                    context)
        traversal = str(uuid.uuid4())
        deadline = self._deadline(timeout_mins)
        op = self._op(stack_id, name, traversal, states.CREATE, None,
                      disable_rollback, deadline)
        self.db.store.create_stack(
            stack_id=stack_id, name=name, template=tmpl.to_dict(),
            files=tmpl.files, environment=env.to_dict(),
            parameters=env.parameters, action=states.CREATE,
            traversal=traversal, run=op.run,
            status_reason="Stack CREATE started",
            disable_rollback=disable_rollback, timeout_mins=timeout_mins,
            deadline=_as_datetime(deadline), flow_uuid=op.flow_uuid,
            project_id=getattr(context, "project_id", None),
            context=self._stored(context) if context is not None else None,
            **({} if parent is None else dict(
                owner_id=parent.owner_id, parent_resource=parent.resource,
                nested_depth=parent.depth)))
        self.runtime.remember_context(stack_id, traversal, context)
        row = self.db.store.get_stack_by_id(stack_id)
        # The snapshot's id is known only once create_stack stored it.
        op = dataclasses.replace(op, template_id=row.template_id)
        self._start(op, stack_def)
        return Started(stack_id, traversal, states.CREATE)

    def update_inputs(self, row, template, parameters, files, existing,
                      environment):
        """The template and environment an update of ``row`` converges to:
        with ``existing``, the current ones with the given changes."""
        if not existing:
            if template is None:
                raise exception.StackValidationFailed(
                    "a template is required (or use existing=True)")
            return self.create_inputs(template, parameters, files,
                                      environment)
        if row.template_id is None:
            # Rolled back to nothing (a create that never completed): there
            # is no current template to patch.
            raise exception.StackValidationFailed(
                "stack %s has no template (it was rolled back to nothing); "
                "give one, without existing" % row.name)
        current = self.db.store.get_template(row.template_id)
        if template is None:
            tmpl = Template.from_dict(current.content, files=current.files,
                                      limits=self.limits)
        else:
            tmpl = Template.load(template, files=files or current.files,
                                 limits=self.limits)
        old = Environment.load(current.environment)
        new = Environment.load(environment, limits=self.limits)
        values = dict(old.parameters)
        values.update(new.parameter_values(tmpl.parameter_schemas,
                                           parameters))
        aliases = dict(old.resource_registry)
        aliases.update(new.resource_registry)
        defaults = dict(old.parameter_defaults)
        defaults.update(new.parameter_defaults)
        return tmpl, Environment(values, parameter_defaults=defaults,
                                 resource_registry=aliases)

    def check_immutable(self, row, stack_def):
        """Refuse an update that changes an ``immutable: true`` parameter
        of the stack's current template (Heat's ImmutableParameterModified),
        before anything is written."""
        if row.template_id is None:
            return
        current = self.db.store.get_template(row.template_id)
        old = Template.from_dict(current.content, files=current.files,
                                 limits=self.limits)
        changed = template_parameters.immutable_changed(
            old.parameter_schemas,
            Environment.load(current.environment).parameters,
            stack_def.template.parameter_schemas, stack_def.parameters)
        if changed:
            others = (" (nor those of %s)" % ", ".join(changed[1:])
                      if changed[1:] else "")
            raise exception.StackValidationFailed(
                "immutable: an update may not change its value" + others,
                ("parameters", changed[0]))

    def update(self, name, template=None, parameters=None, files=None,
               existing=False, timeout_mins=None, disable_rollback=None,
               environment=None, context=None, by_parent=False):
        row = self.db.store.find_stack(name)
        self.check_owner(row, by_parent)
        self.check_supersede(row, states.UPDATE)
        self.check_plugins(row, states.UPDATE)
        tmpl, env = self.update_inputs(row, template, parameters, files,
                                       existing, environment)
        if timeout_mins is None:
            timeout_mins = row.timeout_mins
        stack_def = self.definition(
            tmpl, env, row.name, row.id, timeout_mins,
            context or self.runtime.context_of(row.id, row.traversal,
                                               lambda: row),
            project_id=row.project_id)
        self.check_immutable(row, stack_def)
        if disable_rollback is None:
            disable_rollback = row.disable_rollback
        return self._begin(row, states.UPDATE, stack_def, tmpl=tmpl, env=env,
                           timeout_mins=timeout_mins,
                           disable_rollback=disable_rollback,
                           context=context)

    def delete(self, name, context=None, by_parent=False):
        row = self.db.store.find_stack(name)
        self.check_owner(row, by_parent)
        self.check_supersede(row, states.DELETE)
        self.check_plugins(row, states.DELETE)
        return self._begin(row, states.DELETE, None,
                           timeout_mins=row.timeout_mins,
                           disable_rollback=True, context=context)

    def act(self, name, action, by_parent=False):
        """check_stack, suspend_stack, resume_stack: an operation acting on
        each resource of the stack's current template as it is (Heat's
        stack_task; see flows/act.py), from a settled stack only."""
        row = self.db.store.find_stack(name)
        self.check_owner(row, by_parent)
        outcome = states.resource_action_outcome(action, row.action,
                                                 row.status)
        if outcome == states.ALREADY:
            return Started(row.id, row.traversal, row.action)
        if outcome != states.START:
            hint = ""
            if row.status == states.IN_PROGRESS:
                hint = " (if nobody runs it any more, heatflow stack " \
                    "continue %s runs it again)" % row.name
            raise exception.ActionNotAllowed(
                "stack %s is %s_%s: it cannot be %s while an operation is "
                "in progress%s" % (row.name, row.action, row.status,
                                   _DONE[action], hint))
        self.check_plugins(row, action)
        stack_def = None
        if row.template_id is not None:
            stack_def = self.runtime.definition(row.template_id, row.name,
                                                row.id)
        return self._begin(row, action, stack_def,
                           timeout_mins=row.timeout_mins,
                           disable_rollback=row.disable_rollback)

    def _begin(self, row, action, stack_def, tmpl=None, env=None,
               timeout_mins=None, disable_rollback=True, context=None,
               **extra):
        """Start an operation on an existing stack, superseding any running
        one.  ``context``: its caller's; None keeps the stack's last."""
        if context is None:
            context = self.runtime.remembered_context(row.id, row.traversal)
        else:
            extra["context"] = self._stored(context)
        traversal = str(uuid.uuid4())
        deadline = self._deadline(timeout_mins)
        op = self._op(row.id, row.name, traversal, action, row.template_id,
                      disable_rollback, deadline, base=row)
        if action in states.RESOURCE_ACTIONS:
            # Never reverted (Heat has no rollback of them): a failure
            # leaves the stack <ACTION>_FAILED, whatever the stack's
            # rollback setting, which is kept for its next update.
            op = dataclasses.replace(op, rollback=False)
        fields = {"flow_uuid": op.flow_uuid,
                  "disable_rollback": disable_rollback,
                  "timeout_mins": timeout_mins,
                  "deadline": _as_datetime(deadline)}
        fields.update(extra)
        if tmpl is not None:
            fields["parameters"] = env.parameters
        ok = self.db.store.begin_operation(
            row.id, row.traversal, traversal=traversal, run=op.run,
            action=action,
            status_reason="Stack %s started" % action,
            template=tmpl.to_dict() if tmpl is not None else None,
            files=tmpl.files if tmpl is not None else None,
            environment=env.to_dict() if env is not None else None,
            **fields)
        if not ok:
            raise exception.ActionNotAllowed(
                "stack %s changed while the %s was being started; try again"
                % (row.name, action.lower()))
        self.runtime.remember_context(row.id, traversal, context)
        fresh = self.db.store.get_stack_by_id(row.id)
        op = dataclasses.replace(op, template_id=fresh.template_id)
        # Prefer the incarnations of the template the stack was at (or
        # converging to) when this operation began (Heat's rule): e.g. a
        # replacement the superseded operation already made.
        self._start(op, stack_def, prev_template_id=row.template_id)
        return Started(row.id, traversal, action)

    def rollback(self, name):
        """Orchestrator.rollback_stack: revert the operation still
        converging, or converge to the last known-good template."""
        # The running operation may move on between reading the stack and
        # asking for its revert (out of its converge phase, or to FAILED):
        # then decide again on what it is now.  Each move is a step towards
        # the operation's end, so this settles in a few tries.
        row = self.db.store.find_stack(name)
        self.check_owner(row, False)
        self._cancel_children(row)
        for _ in range(self.RACE_RETRIES):
            row = self.db.store.find_stack(name)
            op = self._request_rollback(row)
            if op is not None:
                return op
        raise exception.ActionNotAllowed(
            "stack %s kept changing while its rollback was being requested"
            % name)

    #: How many times a request that raced with the running operation is
    #: decided again on the stack as it is now.
    RACE_RETRIES = 20

    def _request_rollback(self, row):
        """rollback's decision on the stack ``row``; None when the
        stack changed before it could be carried out."""
        outcome = states.rollback_outcome(row.action, row.status, row.phase,
                                          row.flow_uuid is not None)
        if outcome == states.JOIN:
            return Started(row.id, row.traversal, states.ROLLBACK)
        if outcome == states.REVERT:
            self.check_plugins(row, states.ROLLBACK)
            if not self.db.store.request_rollback(row.id, row.traversal,
                                                  row.status):
                return None
            # Unless a live runner (here or in another process) has it,
            # resume its flow, which reverts.
            self.resume(self.db.store.get_stack_by_id(row.id))
            return Started(row.id, row.traversal, states.ROLLBACK)
        if outcome == states.CONVERGE_BACK:
            # Cleaning up (too late to revert), failed in clean-up, or a
            # rollback that failed: converge to the last known-good
            # template, superseding whatever runs.
            self.check_plugins(row, states.ROLLBACK)
            good = row.prev_template_id
            stack_def = None
            if good is not None:
                stack_def = self.runtime.definition(good, row.name, row.id)
            return self._begin(row, states.ROLLBACK, stack_def,
                               timeout_mins=row.timeout_mins,
                               disable_rollback=True, template_id=good)
        raise exception.ActionNotAllowed(
            "stack %s is %s_%s: there is nothing to roll back"
            % (row.name, row.action, row.status))

    def cancel(self, name, rollback=True, by_parent=False):
        """Orchestrator.cancel_update."""
        row = self.db.store.find_stack(name)
        self.check_owner(row, by_parent)
        if states.cancel_outcome(row.action, row.status) != states.STOP:
            raise exception.ActionNotAllowed(
                "stack %s is %s_%s: only a running create or update can be "
                "cancelled" % (row.name, row.action, row.status))
        if rollback:
            return self.rollback(name)
        self._cancel_children(row)
        traversal = str(uuid.uuid4())
        reason = "Stack %s cancelled" % row.action
        # No flow runs for the new traversal: nothing can be reverted; a
        # later rollback converges to the last known-good template.
        if not self.db.store.begin_operation(
                row.id, row.traversal, traversal=traversal, run=None,
                action=row.action, status_reason=reason, status=states.FAILED,
                flow_uuid=None, phase=None):
            raise exception.ActionNotAllowed(
                "stack %s changed while it was being cancelled; try again"
                % row.name)
        return Started(row.id, traversal, row.action)

    def _cancel_children(self, row):
        """Heat's: the nested stacks being created or updated for the
        parent's in-flight resources are cancelled with it (without their
        own rollback: the parent's undoes what it must), so its actions on
        them end instead of waiting for the whole of their operations."""
        for child in self.db.store.list_children(row.id):
            if states.cancel_outcome(child.action, child.status) != \
                    states.STOP:
                continue
            try:
                self.cancel(child.id, rollback=False, by_parent=True)
            except (exception.ActionNotAllowed, exception.StackNotFound):
                pass        # settled meanwhile

    def _start(self, op, stack_def, prev_template_id=None):
        plan = compiler.plan_operation(
            self.db.store, op, stack_def, prev_template_id=prev_template_id,
            definition_of=lambda tid: self.runtime.definition(
                tid, op.stack_name, op.stack_id))
        self.runner.start(plan)

    def resume(self, row):
        """Make sure someone runs the stack's current operation."""
        return self.runner.resume(row)

    def continue_stack(self, name):
        """Orchestrator.continue_stack: the stack's operation in progress,
        run again from where it stopped if nobody runs it."""
        row = self.db.store.find_stack(name)
        self.check_owner(row, False)
        if row.status != states.IN_PROGRESS or not row.flow_uuid:
            raise exception.ActionNotAllowed(
                "stack %s is %s_%s: no operation is in progress to continue"
                % (row.name, row.action, row.status))
        self.check_plugins(row, row.action)
        self.resume(row)
        return Started(row.id, row.traversal, row.action)


def mark_unhealthy(store, name, resource_name, unhealthy=True, reason=None,
                   reset_metadata=None):
    """Orchestrator.mark_resource_unhealthy.  ``reset_metadata(stack row,
    resource row)``: Heat's handle_metadata_reset, called before a
    CHECK_FAILED resource is marked healthy again (if it raises, it is
    not)."""
    from heatflow.flows import convergence
    if not isinstance(unhealthy, bool):
        raise exception.StackValidationFailed(
            "mark_unhealthy must be true or false, not %r" % (unhealthy,),
            "mark_unhealthy")
    if reason is not None and not isinstance(reason, str):
        raise exception.StackValidationFailed(
            "a reason must be a string, not %r" % (reason,), "reason")
    row = store.find_stack(name)
    found = convergence.choose_rows(
        store.list_resources(row.id), [resource_name],
        target_template_id=row.template_id,
        prev_template_id=row.template_id).get(resource_name)
    if found is None:
        raise exception.ResourceNotFound(row.name, resource_name)
    reason = reason or ("marked unhealthy" if unhealthy
                        else "marked healthy again")
    if not unhealthy and reset_metadata is not None and \
            (found.action, found.status) == (states.CHECK, states.FAILED) \
            and found.lock_run is None:
        reset_metadata(row, found)
    done, now = store.mark_resource(found.id, row.id, unhealthy, reason)
    if not done and now is not None and now.lock_run is not None:
        # Heat's ActionInProgress: its action's outcome would overwrite it.
        raise exception.ActionNotAllowed(
            "resource %s of stack %s is %s_%s: try again once it settles"
            % (resource_name, row.name, now.action, now.status))
    # Otherwise, as in Heat, nothing to do: a resource being deleted is not
    # marked, and only a CHECK_FAILED one is reset.


#: How a refusal words each resource action.
_DONE = {states.CHECK: "checked", states.SUSPEND: "suspended",
         states.RESUME: "resumed"}


def _as_datetime(epoch):
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc
                                           ).replace(tzinfo=None)
