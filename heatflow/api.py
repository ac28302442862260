"""The public Python API: Orchestrator, Operation and read-only views.

::

    orch = heatflow.Orchestrator()                  # SQLite file, in-process
    op = orch.create_stack("web", "web.yaml", parameters={"size": 3})
    stack = op.wait()
    print(stack.stack_status, stack.outputs)

Operations are asynchronous: a call validates everything, records the
operation and returns an :class:`Operation` at once; the work runs in the
background.  Invalid input raises :class:`heatflow.exception.
StackValidationFailed` before anything is written.
"""

import dataclasses
import datetime
import logging
import os
import time
import uuid
from typing import Any, Optional

from heatflow import exception
from heatflow import runners
from heatflow import standalone
from heatflow import status
from heatflow.environment import Environment
from heatflow.flows import compiler
# Views returned by the progress and graph methods, public from here.
from heatflow.status import Graph, GraphNode, Progress, Waiting  # noqa: F401
from heatflow import template as template_mod
from heatflow.template import Template
from heatflow.template import parameters as template_parameters
from heatflow.template.loader import DEFAULT_LIMITS

LOG = logging.getLogger(__name__)

HIDDEN = "******"


@dataclasses.dataclass(frozen=True)
class Output:
    key: str
    value: Any
    description: str = ""
    error: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Stack:
    id: str
    name: str
    action: str
    status: str
    status_reason: str
    outputs: dict
    parameters: dict
    template: dict
    created_at: datetime.datetime
    updated_at: Optional[datetime.datetime]
    output_details: tuple = ()
    timeout_mins: Optional[int] = None
    disable_rollback: bool = True

    @property
    def stack_status(self):
        return "%s_%s" % (self.action, self.status)


@dataclasses.dataclass(frozen=True)
class Resource:
    name: str
    type: str
    physical_resource_id: Optional[str]
    action: str
    status: str
    status_reason: str
    attributes: dict
    updated_at: Optional[datetime.datetime] = None

    @property
    def resource_status(self):
        return "%s_%s" % (self.action, self.status)


@dataclasses.dataclass(frozen=True)
class Event:
    id: int
    time: datetime.datetime
    resource_name: str
    action: str
    status: str
    reason: str
    physical_resource_id: Optional[str] = None

    @property
    def resource_status(self):
        return "%s_%s" % (self.action, self.status)


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
            row.status != "IN_PROGRESS"

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
                    row.status != "IN_PROGRESS":
                return self._orch._stack_view(row)
            if end is not None and time.monotonic() >= end:
                raise exception.OperationTimeout(
                    "stack %s is still %s_IN_PROGRESS"
                    % (row.name, row.action))
            pause = delay if end is None else \
                max(0, min(delay, end - time.monotonic()))
            event = self._orch._runner.done_event(row.flow_uuid)
            if event is not None and not event.is_set():
                # Run here: its end wakes us; the database is only asked
                # again now and then (another process may supersede it).
                event.wait(1.0 if end is None else
                           max(0, min(1.0, end - time.monotonic())))
            else:
                time.sleep(pause)
            delay = min(delay * 2, 0.25)


class Orchestrator:
    """Stacks in one database.

    ``db_url``: SQLAlchemy URL; default ``HEATFLOW_DB_URL`` or a SQLite file
    ``./.heatflow/heatflow.db``.  Without ``zookeeper`` operations run in
    this process on a pool of ``max_workers`` threads, and a stack whose
    runner died (this process, earlier) is resumed when an Orchestrator
    opens the database (``resume=True``).

    ``limits``: a :class:`heatflow.template.Limits` capping what a
    template, its files and its environment may cost (size, resources,
    nesting, computed values, YAML aliases); default: its defaults.
    Everything is checked before anything is written.

    ``encryption_key``: encrypt users' values at rest with this key (or
    keys, comma-separated; the first encrypts); default
    ``HEATFLOW_ENCRYPTION_KEY``, else no encryption (see
    :mod:`heatflow.persistence.sealing`).

    ``zookeeper_connect_timeout``: seconds to reach ZooKeeper before
    :class:`heatflow.exception.HeatflowError` says it is unreachable
    (default 15, kazoo's; the command line gives 2 s per host listed).

    ``create_database=False``: where there is no SQLite database yet, read
    an empty one in memory instead of creating the file (a reader should
    not leave a database behind, say, a mistyped path).
    """

    def __init__(self, db_url=None, zookeeper=None, plugin_dirs=(),
                 max_workers=32, resume=True, registry=None,
                 poll_interval=(0.01, 1.0), detach=False,
                 zookeeper_auth=None, limits=None, encryption_key=None,
                 create_database=True, zookeeper_connect_timeout=None):
        self.limits = limits or DEFAULT_LIMITS
        self._host = runners.Host(db_url, plugin_dirs=plugin_dirs,
                                  registry=registry,
                                  poll_interval=poll_interval,
                                  limits=self.limits,
                                  encryption_key=encryption_key,
                                  create_database=create_database)
        self.db = self._host.db
        self.registry = self._host.registry
        self.runtime = self._host.runtime
        self._runtime_key = self._host.key
        # detach: operations run in a worker process of their own that
        # outlives this one (the command line without --wait).  Plugins
        # registered with register_plugin() are not seen there.  The URL
        # (which may hold a password) goes to the worker in its
        # environment, not on its command line, where `ps` shows it to
        # every local user.
        detach_args = None
        if detach:
            detach_args = []
            for d in plugin_dirs:
                detach_args += ["--plugin-dir", os.path.abspath(d)]
        # Distributed (zookeeper): operations are posted as jobs;
        # conductors run them (and their watchdog resumes or fails
        # orphans).
        try:
            self._runner = runners.for_orchestrator(
                self._host, zookeeper, zookeeper_auth, detach_args,
                max_workers, zookeeper_connect_timeout)
        except BaseException:
            self._host.close()
            raise
        if resume:
            self.resume_orphans()

    # -- plugins ------------------------------------------------------------

    def register_plugin(self, type_name, cls):
        self.registry.register(type_name, cls)

    def _check_plugins(self, row, action):
        """Refuse, before anything is written, an operation on the stack
        ``row`` that needs a plugin this process lacks (a forgotten
        ``--plugin-dir``, say): run anyway, it could neither delete nor
        update those resources."""
        missing = self.runtime.unloaded_types(row, action)
        if missing:
            raise exception.PluginNotLoaded(row.name, action, missing)

    # -- operations ---------------------------------------------------------

    def _definition(self, tmpl, env, name, stack_id):
        """Bind and fully validate: ``env`` holds the final parameter
        values and the type aliases."""
        registry = env.registry(self.registry)
        stack_def = tmpl.bind(env.parameters, stack_name=name,
                              stack_id=stack_id, registry=registry)
        stack_def.validate(registry)
        return stack_def

    def _create_inputs(self, template, parameters, files, environment):
        """The template and the environment a new stack starts with: the
        environment's parameters resolved to final values (see
        :meth:`heatflow.environment.Environment.parameter_values`)."""
        tmpl = Template.load(template, files=files, limits=self.limits)
        env = Environment.load(environment, limits=self.limits)
        values = env.parameter_values(tmpl.parameter_schemas, parameters)
        return tmpl, Environment(values,
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
        return {"runtime": self._runtime_key, "stack_id": stack_id,
                "stack_name": name, "traversal": traversal,
                "run": str(uuid.uuid4()),
                "flow_uuid": str(uuid.uuid4()), "action": action,
                "template_id": template_id,
                "rollback": not disable_rollback, "deadline": deadline,
                "base_settled": base is None or base.status == "COMPLETE",
                "base_template_id": None if base is None
                else base.template_id}

    def create_stack(self, name, template, parameters=None, files=None,
                     timeout_mins=None, disable_rollback=True,
                     environment=None):
        _check_name(name)
        tmpl, env = self._create_inputs(template, parameters, files,
                                        environment)
        stack_id = str(uuid.uuid4())
        stack_def = self._definition(tmpl, env, name, stack_id)
        traversal = str(uuid.uuid4())
        deadline = self._deadline(timeout_mins)
        op = self._op(stack_id, name, traversal, "CREATE", None,
                      disable_rollback, deadline)
        self.db.store.create_stack(
            stack_id=stack_id, name=name, template=tmpl.to_dict(),
            files=tmpl.files, environment=env.to_dict(),
            parameters=env.parameters, action="CREATE",
            traversal=traversal, run=op["run"],
            status_reason="Stack CREATE started",
            disable_rollback=disable_rollback, timeout_mins=timeout_mins,
            deadline=_as_datetime(deadline), flow_uuid=op["flow_uuid"])
        row = self.db.store.get_stack_by_id(stack_id)
        op["template_id"] = row.template_id
        self._start(op, stack_def)
        return Operation(self, stack_id, traversal, "CREATE")

    def _update_inputs(self, row, template, parameters, files, existing,
                       environment):
        """The template and environment an update of ``row`` converges to:
        with ``existing``, the current ones with the given changes."""
        if not existing:
            if template is None:
                raise exception.StackValidationFailed(
                    "a template is required (or use existing=True)")
            return self._create_inputs(template, parameters, files,
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
        return tmpl, Environment(values, resource_registry=aliases)

    def _check_immutable(self, row, stack_def):
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

    def update_stack(self, name, template=None, parameters=None, files=None,
                     existing=False, timeout_mins=None,
                     disable_rollback=None, environment=None):
        row = self.db.store.find_stack(name)
        self._check_plugins(row, "UPDATE")
        tmpl, env = self._update_inputs(row, template, parameters, files,
                                        existing, environment)
        stack_def = self._definition(tmpl, env, row.name, row.id)
        self._check_immutable(row, stack_def)
        if disable_rollback is None:
            disable_rollback = row.disable_rollback
        if timeout_mins is None:
            timeout_mins = row.timeout_mins
        return self._begin(row, "UPDATE", stack_def, tmpl=tmpl, env=env,
                           timeout_mins=timeout_mins,
                           disable_rollback=disable_rollback)

    def delete_stack(self, name):
        row = self.db.store.find_stack(name)
        self._check_plugins(row, "DELETE")
        return self._begin(row, "DELETE", None, timeout_mins=row.timeout_mins,
                           disable_rollback=True)

    def _begin(self, row, action, stack_def, tmpl=None, env=None,
               timeout_mins=None, disable_rollback=True, **extra):
        """Start an operation on an existing stack, superseding any running
        one."""
        traversal = str(uuid.uuid4())
        deadline = self._deadline(timeout_mins)
        op = self._op(row.id, row.name, traversal, action, row.template_id,
                      disable_rollback, deadline, base=row)
        fields = {"flow_uuid": op["flow_uuid"],
                  "disable_rollback": disable_rollback,
                  "timeout_mins": timeout_mins,
                  "deadline": _as_datetime(deadline)}
        fields.update(extra)
        if tmpl is not None:
            fields["parameters"] = env.parameters
        ok = self.db.store.begin_operation(
            row.id, row.traversal, traversal=traversal, run=op["run"],
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
        fresh = self.db.store.get_stack_by_id(row.id)
        op["template_id"] = fresh.template_id
        # Prefer the incarnations of the template the stack was at (or
        # converging to) when this operation began (Heat's rule): e.g. a
        # replacement the superseded operation already made.
        self._start(op, stack_def, prev_template_id=row.template_id)
        return Operation(self, row.id, traversal, action)

    def rollback_stack(self, name):
        """Roll the stack back to its last known-good state.

        An operation still converging (running, or failed with rollback
        disabled) is reverted by TaskFlow: what it did is undone in reverse
        order, originals of replaced resources are kept, and the revert
        resumes after a crash like any flow.  Otherwise (a failure in
        clean-up, a failed rollback) the stack converges to its last
        known-good template."""
        # The running operation may move on between reading the stack and
        # asking for its revert (out of its converge phase, or to FAILED):
        # then decide again on what it is now.  Each move is a step towards
        # the operation's end, so this settles in a few tries.
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
        """rollback_stack's decision on the stack ``row``; None when the
        stack changed before it could be carried out."""
        if row.action == "ROLLBACK" and row.status == "IN_PROGRESS":
            return Operation(self, row.id, row.traversal, "ROLLBACK")
        if row.action in ("CREATE", "UPDATE") and row.phase == "converge" \
                and row.status in ("IN_PROGRESS", "FAILED") and \
                row.flow_uuid is not None:
            self._check_plugins(row, "ROLLBACK")
            if not self.db.store.request_rollback(row.id, row.traversal,
                                                  row.status):
                return None
            # Unless a live runner (here or in another process) has it,
            # resume its flow, which reverts.
            self._resume(self.db.store.get_stack_by_id(row.id))
            return Operation(self, row.id, row.traversal, "ROLLBACK")
        if (row.status == "FAILED" and row.action in ("CREATE", "UPDATE",
                                                      "ROLLBACK")) or \
                (row.status == "IN_PROGRESS" and row.action in (
                    "CREATE", "UPDATE")):
            # Cleaning up (too late to revert), failed in clean-up, or a
            # rollback that failed: converge to the last known-good
            # template, superseding whatever runs.
            self._check_plugins(row, "ROLLBACK")
            good = row.prev_template_id
            stack_def = None
            if good is not None:
                stack_def = self.runtime.definition(good, row.name, row.id)
            return self._begin(row, "ROLLBACK", stack_def,
                               timeout_mins=row.timeout_mins,
                               disable_rollback=True, template_id=good)
        raise exception.ActionNotAllowed(
            "stack %s is %s_%s: there is nothing to roll back"
            % (row.name, row.action, row.status))

    def cancel_update(self, name, rollback=True):
        """Stop the stack's running create or update.  With ``rollback``
        it is rolled back (:meth:`rollback_stack`); without, no further
        resource action starts (those in flight finish and are recorded)
        and the stack is left ``<ACTION>_FAILED``."""
        row = self.db.store.find_stack(name)
        if row.status != "IN_PROGRESS" or row.action not in ("CREATE",
                                                             "UPDATE"):
            raise exception.ActionNotAllowed(
                "stack %s is %s_%s: only a running create or update can be "
                "cancelled" % (row.name, row.action, row.status))
        if rollback:
            return self.rollback_stack(name)
        traversal = str(uuid.uuid4())
        reason = "Stack %s cancelled" % row.action
        # No flow runs for the new traversal: nothing can be reverted; a
        # later rollback converges to the last known-good template.
        if not self.db.store.begin_operation(
                row.id, row.traversal, traversal=traversal, run=None,
                action=row.action, status_reason=reason, status="FAILED",
                flow_uuid=None, phase=None):
            raise exception.ActionNotAllowed(
                "stack %s changed while it was being cancelled; try again"
                % row.name)
        return Operation(self, row.id, traversal, row.action)

    def _start(self, op, stack_def, prev_template_id=None):
        plan = compiler.plan_operation(
            self.db.store, op, stack_def, prev_template_id=prev_template_id,
            definition_of=lambda tid: self.runtime.definition(
                tid, op["stack_name"], op["stack_id"]))
        self._runner.start(plan)

    def _resume(self, row):
        """Make sure someone runs the stack's current operation."""
        return self._runner.resume(row)

    def resume_orphans(self):
        """Resume every IN_PROGRESS operation nobody is running (in
        ZooKeeper mode, the conductors' watchdog does that: nothing here).
        Returns the stacks' names."""
        return self._runner.resume_orphans()

    # -- reading ------------------------------------------------------------

    def get_stack(self, name):
        return self._stack_view(self.db.store.find_stack(name))

    def list_stacks(self):
        return [self._stack_view(r) for r in self.db.store.list_stacks()]

    def list_resources(self, name):
        row = self.db.store.find_stack(name)
        out = []
        for r in self.db.store.list_resources(row.id):
            attrs = {k: v for k, v in (r.attributes or {}).items()
                     if k != "*"}
            out.append(Resource(
                name=r.name, type=r.type,
                physical_resource_id=r.physical_resource_id,
                action=r.action, status=r.status,
                status_reason=r.status_reason or "", attributes=attrs,
                updated_at=r.updated_at or r.created_at))
        return out

    def list_events(self, name, after=0):
        row = self.db.store.find_stack(name)
        return [Event(id=e.id, time=e.created_at,
                      resource_name=e.resource_name or row.name,
                      action=e.action, status=e.status, reason=e.reason,
                      physical_resource_id=e.physical_resource_id)
                for e in self.db.store.list_events(row.id, after)]

    def operation(self, name):
        """The :class:`Operation` the stack ``name`` is on now (its latest,
        settled or not), e.g. to wait for or follow an operation another
        process started."""
        row = self.db.store.find_stack(name)
        return Operation(self, row.id, row.traversal, row.action)

    def waiting_on(self, name):
        """What the stack's current operation has yet to finish: a list of
        :class:`Waiting`, one per resource running or pending, with the
        resources it depends on that have not converged yet (a running
        resource waiting on nothing is simply in progress)."""
        return status.waiting_on(self.db.store, name)

    def stack_graph(self, name, template=None, parameters=None, files=None,
                    environment=None):
        """The :class:`Graph` of the stack ``name``'s current template (or
        of ``template``, bound as an update would bind it), each node with
        the resource's recorded action and status (None when the stack has
        no such resource)."""
        row = self.db.store.find_stack(name)
        if template is not None:
            _, stack_def = standalone.bind_template(
                template, parameters, files, environment, self.registry,
                limits=self.limits, stack_name=row.name, stack_id=row.id)
        elif row.template_id is not None:
            stack_def = self.runtime.definition(row.template_id, row.name,
                                                row.id)
        else:
            raise exception.StackValidationFailed(
                "stack %s has no template to draw" % row.name)
        chosen = status.chosen_rows(self.db.store, row, stack_def.resources)
        return status.graph_of(
            stack_def, name=row.name,
            statuses={n: (r.action, r.status) for n, r in chosen.items()})

    def validate_template(self, template, parameters=None, files=None,
                          environment=None):
        """:func:`heatflow.validate_template` with this Orchestrator's
        plugins."""
        return standalone.validate_template(
            template, parameters, files, environment, registry=self.registry)

    def _stack_view(self, row):
        tmpl_row = self.db.store.get_template(row.template_id) \
            if row.template_id is not None else None
        content = tmpl_row.content if tmpl_row is not None else {}
        hidden = template_mod.hidden_parameters(content)
        params = {k: (HIDDEN if k in hidden else v)
                  for k, v in (row.parameters or {}).items()}
        details = []
        for key, out in (row.outputs or {}).items():
            details.append(Output(key=key, value=out.get("value"),
                                  description=out.get("description") or "",
                                  error=out.get("error")))
        return Stack(
            id=row.id, name=row.name, action=row.action, status=row.status,
            status_reason=row.status_reason or "",
            outputs={o.key: o.value for o in details},
            parameters=params, template=content, created_at=row.created_at,
            updated_at=row.updated_at, output_details=tuple(details),
            timeout_mins=row.timeout_mins,
            disable_rollback=row.disable_rollback)

    def close(self):
        """Stop starting resource actions and wait for those in flight.

        Operations still running stay IN_PROGRESS in the database and are
        resumed by the next Orchestrator that opens it."""
        for flow_uuid in list(self.runtime._engines):
            self.runtime.stop_starting_atoms(flow_uuid)
        try:
            self._runner.close()
        finally:
            self._host.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- dry runs -------------------------------------------------------------

    def preview_create(self, name, template, parameters=None, files=None,
                       environment=None):
        """What :meth:`create_stack` would do, changing nothing: a list of
        ``{"resource_name", "resource_type", "action", "reason"}``
        (see :mod:`heatflow.preview`)."""
        from heatflow import preview
        _check_name(name)
        try:
            self.db.store.find_stack(name)
        except exception.StackNotFound:
            pass
        else:
            raise exception.StackExists(name)
        tmpl, env = self._create_inputs(template, parameters, files,
                                        environment)
        stack_def = self._definition(tmpl, env, name, "")
        return preview.plan([], stack_def, self.registry)

    def preview_update(self, name, template=None, parameters=None,
                       files=None, existing=False, environment=None):
        """What :meth:`update_stack` would do, changing nothing (same
        arguments; see :meth:`preview_create`)."""
        from heatflow import preview
        row = self.db.store.find_stack(name)
        tmpl, env = self._update_inputs(row, template, parameters, files,
                                        existing, environment)
        stack_def = self._definition(tmpl, env, row.name, row.id)
        self._check_immutable(row, stack_def)

        def recorded(res):
            return self.runtime.definition(res.template_id, row.name, row.id)

        def class_of(res):
            if res.template_id is None:
                return self.registry.get_class(res.type)
            return recorded(res).registry.get_class(res.type)

        def deletion_policy_of(res):
            if res.template_id is None:
                return None
            try:
                return recorded(res).resources[res.name].deletion_policy
            except Exception:
                return None
        return preview.plan(self.db.store.list_resources(row.id), stack_def,
                            self.registry,
                            current_template_id=row.template_id,
                            deletion_policy_of=deletion_policy_of,
                            resource_data=self.db.store.resource_data,
                            class_of=class_of,
                            definition_of=lambda tid: self.runtime.definition(
                                tid, row.name, row.id))


def _as_datetime(epoch):
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc) \
        .replace(tzinfo=None)


def _check_name(name):
    import re
    if not isinstance(name, str) or not re.match(
            r"^[A-Za-z][A-Za-z0-9_.-]{0,254}$", name):
        raise exception.StackValidationFailed(
            "invalid stack name %r: it must start with a letter and contain "
            "only letters, digits, '_', '-' and '.'" % (name,), "stack_name")
