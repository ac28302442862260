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
import logging
import os
import threading

from heatflow import child_stacks
from heatflow import context as context_mod
from heatflow import exception
from heatflow.flows import polling
# The handle of an operation under way, public from here too.
from heatflow.operation import Operation  # noqa: F401
from heatflow import runners
from heatflow import standalone
from heatflow import states
from heatflow import status
# Views returned by the progress and graph methods, public from here.
from heatflow.status import Graph, GraphNode, Progress, Waiting  # noqa: F401
from heatflow.template.loader import DEFAULT_LIMITS
from heatflow import views
# The views the reading methods return, public from here too.
from heatflow.views import (  # noqa: F401
    HIDDEN, Event, Output, Resource, Stack)

LOG = logging.getLogger(__name__)


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

    ``context``: the request context (user, project, region, auth token,
    roles: :class:`heatflow.context.RequestContext` or a mapping of its
    fields) of every operation not given one of its own
    (``create_stack(..., context=...)``, ``update_stack``,
    ``delete_stack``); plugins see it as ``self.context``, client plugins
    as theirs, and the template as ``OS::project_id``.  An operation
    given none runs with the stack's last.  Stored with the stack, its
    auth token only when encrypted (:mod:`heatflow.context`).

    ``poll_interval``: ``(first, longest)`` seconds between two polls of
    a plugin's ``check_<action>_complete``: the first pause, doubled at
    each poll up to the longest (default 0.05 and 10: an action that
    takes 30 s is polled 11 times); a plugin can ask for its own pause
    with :class:`heatflow.resource.PollDelay`, never shorter than
    ``first``.

    ``zookeeper_connect_timeout``: seconds to reach ZooKeeper before
    :class:`heatflow.exception.HeatflowError` says it is unreachable
    (default 15, kazoo's; the command line gives 2 s per host listed).

    ``create_database=False``: where there is no SQLite database yet, read
    an empty one in memory instead of creating the file (a reader should
    not leave a database behind, say, a mistyped path).

    With ``resume=False`` and no ``zookeeper``, what runs operations (and
    TaskFlow with it) is set up by the first operation started: an
    Orchestrator that only reads imports neither.
    """

    def __init__(self, db_url=None, zookeeper=None, plugin_dirs=(),
                 max_workers=32, resume=True, registry=None,
                 poll_interval=polling.POLL_INTERVAL, detach=False,
                 zookeeper_auth=None, limits=None, encryption_key=None,
                 create_database=True, zookeeper_connect_timeout=None,
                 context=None):
        self.limits = limits or DEFAULT_LIMITS
        #: The request context of every operation not given its own
        #: (heatflow.context.RequestContext, or a mapping of its fields).
        self.context = context_mod.RequestContext.coerce(context)
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
        self._runner_args = (zookeeper, zookeeper_auth, detach_args,
                             max_workers, zookeeper_connect_timeout)
        self._running = None
        self._running_lock = threading.Lock()
        if zookeeper or resume:
            # At once: a ZooKeeper that cannot be reached is an error of
            # the open, and orphans are resumed now.
            try:
                self._operations()
            except BaseException:
                self._host.close()
                raise
        if resume:
            self.resume_orphans()

    def _operations(self):
        """The runner and the lifecycle, built the first time an operation
        is started or resumed (or at once, see __init__).

        Lazily because they import TaskFlow and the flows/ engine
        (networkx, alembic, ...): about a second of imports that an
        Orchestrator which only reads stacks (the read-only commands: see
        heatflow/cli/context.py) has no use for.  Their TaskFlow backend
        is built lazily too (Database.taskflow).  A test holds read-only
        commands to not importing TaskFlow (tests/unit/test_cli_imports.py).
        """
        with self._running_lock:
            if self._running is None:
                from heatflow import lifecycle
                # Distributed (zookeeper): operations are posted as jobs;
                # conductors run them (and their watchdog resumes or fails
                # orphans).
                runner = runners.for_orchestrator(self._host,
                                                  *self._runner_args)
                self._running = (runner, lifecycle.Lifecycle(
                    self._host, runner, self.limits))
                # Nested stacks started by resources acting in this
                # process run through the same runner.
                child_stacks.serve(self.runtime, self._running[1])
            return self._running

    @property
    def _runner(self):
        return self._operations()[0]

    @property
    def _lifecycle(self):
        return self._operations()[1]

    # -- plugins ------------------------------------------------------------

    def register_plugin(self, type_name, cls):
        self.registry.register(type_name, cls)

    def _context(self, context):
        """The operation's request context: given, else this
        Orchestrator's (None: the stack keeps its last)."""
        given = context_mod.RequestContext.coerce(context)
        return given if given is not None else self.context

    def create_stack(self, name, template, parameters=None, files=None,
                     timeout_mins=None, disable_rollback=True,
                     environment=None, context=None):
        _check_name(name)
        return self._operation(self._lifecycle.create(
            name, template, parameters, files, timeout_mins,
            disable_rollback, environment, context=self._context(context)))

    def update_stack(self, name, template=None, parameters=None, files=None,
                     existing=False, timeout_mins=None,
                     disable_rollback=None, environment=None, context=None):
        return self._operation(self._lifecycle.update(
            name, template, parameters, files, existing, timeout_mins,
            disable_rollback, environment, context=self._context(context)))

    def delete_stack(self, name, context=None):
        return self._operation(self._lifecycle.delete(
            name, context=self._context(context)))

    def rollback_stack(self, name):
        """Roll the stack back to its last known-good state.

        An operation still converging (running, or failed with rollback
        disabled) is reverted by TaskFlow: what it did is undone in reverse
        order, originals of replaced resources are kept, and the revert
        resumes after a crash like any flow.  Otherwise (a failure in
        clean-up, a failed rollback) the stack converges to its last
        known-good template."""
        return self._operation(self._lifecycle.rollback(name))

    def cancel_update(self, name, rollback=True):
        """Stop the stack's running create or update.  With ``rollback``
        it is rolled back (:meth:`rollback_stack`); without, no further
        resource action starts (those in flight finish and are recorded)
        and the stack is left ``<ACTION>_FAILED``."""
        return self._operation(self._lifecycle.cancel(name, rollback))

    def check_stack(self, name):
        """Check every resource of the stack is what its plugin expects
        (Heat's stack check): each plugin's ``handle_check``, in
        dependency order; the stack ends ``CHECK_COMPLETE`` or
        ``CHECK_FAILED``, a failed resource ``CHECK_FAILED`` with its
        plugin's reason (an event says so too; the next update replaces
        it).  A resource whose plugin has no ``handle_check`` is passed
        over (``CHECK_COMPLETE``, "CHECK not supported for ...") and the
        stack's reason says the check was not complete.  Raises
        :class:`exception.ActionNotAllowed` while an operation is in
        progress."""
        return self._operation(self._lifecycle.act(name, states.CHECK))

    def suspend_stack(self, name):
        """Suspend the stack (Heat's): each resource's ``handle_suspend``,
        dependents first; ``SUSPEND_COMPLETE``, or ``SUSPEND_FAILED`` at
        the first failure.  A suspended stack is not updated until it is
        resumed (it can be deleted).  Nothing to do if it is suspended
        already."""
        return self._operation(self._lifecycle.act(name, states.SUSPEND))

    def resume_stack(self, name):
        """Resume a suspended stack (Heat's): each resource's
        ``handle_resume``, in dependency order; ``RESUME_COMPLETE``, or
        ``RESUME_FAILED`` at the first failure (a resource that is not
        suspended fails it, as in Heat).  Nothing to do if it was resumed
        already.  (To run again an operation nobody runs any more:
        :meth:`continue_stack`.)"""
        return self._operation(self._lifecycle.act(name, states.RESUME))

    def continue_stack(self, name):
        """Run the stack's operation in progress again, from where it
        stopped, if nobody runs it any more (the process running it died:
        :meth:`Operation.orphaned`); in a worker process of its own when
        this Orchestrator detaches.  Its :class:`Operation` either way.
        Raises :class:`exception.ActionNotAllowed` when the stack has no
        operation in progress."""
        return self._operation(self._lifecycle.continue_stack(name))

    def mark_resource_unhealthy(self, name, resource_name,
                                mark_unhealthy=True, reason=None):
        """Mark the resource ``resource_name`` of the stack ``name``
        unhealthy (Heat's): ``CHECK_FAILED`` with ``reason``, and an event;
        the next update replaces it.  With ``mark_unhealthy=False`` a
        ``CHECK_FAILED`` resource goes back to ``CHECK_COMPLETE`` (any
        other is left alone), after its plugin's
        ``handle_metadata_reset()`` (Heat's; if it raises, the resource
        stays CHECK_FAILED and :class:`exception.ResourceFailure` says
        why).  A resource being deleted is left alone;
        one with an action in flight raises
        :class:`exception.ActionNotAllowed`."""
        from heatflow import lifecycle
        from heatflow.flows import act
        lifecycle.mark_unhealthy(
            self.db.store, name, resource_name, mark_unhealthy, reason,
            reset_metadata=lambda stack, res: act.reset_metadata(
                self.runtime, self.db.store, stack, res))

    def _operation(self, started):
        return Operation(self, started.stack_id, started.traversal,
                         started.action)

    def resume_orphans(self):
        """Resume every IN_PROGRESS operation nobody is running (in
        ZooKeeper mode, the conductors' watchdog does that: nothing here).
        Returns the stacks' names."""
        return self._runner.resume_orphans()

    # -- reading ------------------------------------------------------------

    def get_stack(self, name):
        return self._stack_view(self.db.store.find_stack(name))

    def list_stacks(self, nested=False):
        """The live stacks; with ``nested``, their nested stacks too
        (each view names its ``parent``)."""
        return [self._stack_view(r)
                for r in self.db.store.list_stacks(nested=nested)]

    def _tree(self, row, nested_depth):
        """The stack ``row`` and its nested stacks down to ``nested_depth``
        levels below it, parents before their children."""
        found, level = [row], [row]
        for _ in range(max(0, nested_depth)):
            level = [c for r in level
                     for c in self.db.store.list_children(r.id)]
            found.extend(level)
        return found

    def list_resources(self, name, nested_depth=0):
        """The stack's resources; with ``nested_depth``, those of its
        nested stacks too, that many levels down (each names its
        ``stack_name``)."""
        out = []
        for row in self._tree(self.db.store.find_stack(name), nested_depth):
            for r in self.db.store.list_resources(row.id):
                attrs = {k: v for k, v in (r.attributes or {}).items()
                         if k != "*"}
                out.append(Resource(
                    name=r.name, type=r.type,
                    physical_resource_id=r.physical_resource_id,
                    action=r.action, status=r.status,
                    status_reason=r.status_reason or "", attributes=attrs,
                    updated_at=r.updated_at or r.created_at,
                    stack_name=row.name))
        return out

    def get_resource(self, name, resource_name):
        """One resource of the stack ``name``, with the traceback of its
        failure (``status_detail``) when its plugin raised one of its own
        exceptions; raises ResourceNotFound."""
        for res in self.list_resources(name):
            if res.name == resource_name:
                break
        else:
            raise exception.ResourceNotFound(name, resource_name)
        if res.status != states.FAILED:
            return res
        row = self.db.store.find_stack(name)
        event = self.db.store.last_event(row.id, resource_name)
        if event is None or event.status != states.FAILED or \
                event.physical_resource_id != res.physical_resource_id:
            return res
        return dataclasses.replace(res, status_detail=event.detail)

    def list_events(self, name, after=0, nested_depth=0):
        """The stack's events after the event id ``after``, in order; with
        ``nested_depth``, its nested stacks' too, that many levels down
        (each names its ``stack_name``)."""
        names = {r.id: r.name for r in self._tree(
            self.db.store.find_stack(name), nested_depth)}
        return [Event(id=e.id, time=e.created_at,
                      resource_name=e.resource_name or names[e.stack_id],
                      action=e.action, status=e.status, reason=e.reason,
                      physical_resource_id=e.physical_resource_id,
                      detail=e.detail, stack_name=names[e.stack_id])
                for e in self.db.store.list_events_of(names, after)]

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
        return views.stack_view(row, tmpl_row)

    def close(self):
        """Stop starting resource actions and wait for those in flight.

        Operations still running stay IN_PROGRESS in the database and are
        resumed by the next Orchestrator that opens it."""
        for flow_uuid in list(self.runtime._engines):
            self.runtime.stop_starting_atoms(flow_uuid)
        try:
            if self._running is not None:
                self._running[0].close()
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
        tmpl, env = self._lifecycle.create_inputs(template, parameters,
                                                  files, environment)
        stack_def = self._lifecycle.definition(tmpl, env, name, "")
        return preview.dry_run([], stack_def, self.registry)

    def preview_update(self, name, template=None, parameters=None,
                       files=None, existing=False, environment=None):
        """What :meth:`update_stack` would do, changing nothing (same
        arguments; see :meth:`preview_create`)."""
        from heatflow import preview
        row = self.db.store.find_stack(name)
        # (Refused as the update would be: a suspended stack, say.)
        self._lifecycle.check_supersede(row, states.UPDATE)
        tmpl, env = self._lifecycle.update_inputs(
            row, template, parameters, files, existing, environment)
        stack_def = self._lifecycle.definition(tmpl, env, row.name, row.id)
        self._lifecycle.check_immutable(row, stack_def)

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
        return preview.dry_run(
            self.db.store.list_resources(row.id), stack_def, self.registry,
            current_template_id=row.template_id,
            deletion_policy_of=deletion_policy_of,
            resource_data=self.db.store.resource_data,
            class_of=class_of,
            definition_of=lambda tid: self.runtime.definition(
                tid, row.name, row.id))


def _check_name(name):
    import re
    if not isinstance(name, str) or not re.match(
            r"^[A-Za-z][A-Za-z0-9_.-]{0,254}$", name):
        raise exception.StackValidationFailed(
            "invalid stack name %r: it must start with a letter and contain "
            "only letters, digits, '_', '-' and '.'" % (name,), "stack_name")
