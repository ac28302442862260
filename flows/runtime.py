"""What atoms need at run time that cannot travel inside a flow.

A TaskFlow flow is rebuilt from its persisted description in whichever
process runs it (the embedded runner, or a conductor that took the job
over), so atoms carry only plain data: names, row ids, the stack id and
traversal.  Everything live -- the database, the plugin registry, parsed
stack definitions, the engines running in this process -- is found through a
:class:`Runtime` registered here under a key.  A process that runs flows it
did not build (a conductor) registers a default runtime.
"""

import collections
import contextlib
import logging
import threading
import time

from heatflow import context as context_mod
from heatflow import environment as environment_mod
from heatflow import exception
from heatflow.flows import polling
from heatflow.plugins import template_resource
from heatflow.environment import Environment
from heatflow import states
from heatflow import template as template_mod
from heatflow.template import Template

LOG = logging.getLogger(__name__)

_runtimes = {}
_default = None
_lock = threading.Lock()


def register(key, runtime, default=False):
    global _default
    with _lock:
        _runtimes[key] = runtime
        if default or _default is None:
            _default = runtime


def unregister(key):
    global _default
    with _lock:
        rt = _runtimes.pop(key, None)
        if _default is rt:
            _default = next(iter(_runtimes.values()), None)


def get(key):
    rt = _runtimes.get(key) or _default
    if rt is None:
        raise RuntimeError("no heatflow runtime is registered in this "
                           "process")
    return rt


class WaitHooks:
    """Where the engine waits, for whoever must know (the scenario tests'
    quiescence rule: tests/scenarios/framework.py).  Each method returns a
    context manager around the wait; these do nothing."""

    def engine_waiting(self):
        """An engine's thread waits for one of its atoms to finish."""
        return contextlib.nullcontext()

    def row_busy(self, atom, row_id):
        """``atom`` waits while another run holds row ``row_id``'s lock
        (atoms' acquire and wait_idle loops)."""
        return contextlib.nullcontext()


class Runtime:
    """Live services for the atoms of flows run in this process."""

    DEFINITION_CACHE = 64

    def __init__(self, db, registry, poll_interval=polling.POLL_INTERVAL,
                 limits=None):
        self.db = db
        # What evaluating a stored template may cost (max_value_bytes
        # matters here: the rest was checked when it was stored).
        self.limits = limits
        self.store = db.store
        self.registry = registry
        # check_*_complete is polled after the first interval, then after
        # pauses that double up to the longest: fast for quick resources,
        # few polls of a cloud API for slow ones (see flows/driver.py).
        self.poll_interval = poll_interval
        self._definitions = collections.OrderedDict()
        self._contexts = collections.OrderedDict()
        self._def_lock = threading.Lock()
        self._building = {}
        # flow uuid -> engine, for the engines this process is running.
        self._engines = {}
        # Runs this process must no longer act or record anything for: they
        # were taken over elsewhere, or this process lost its ZooKeeper
        # session.
        self._fenced = set()
        self._all_fenced = False
        # Notified when a run is fenced: its actions' pauses between polls
        # end at once (see pause()).
        self._fencing = threading.Condition()
        self.liveness = self.ownership = None
        self.waits = WaitHooks()
        #: How plugins start operations on their nested stacks
        #: (heatflow.child_stacks.ChildStacks); None until use_child_stacks.
        self.child_stacks = None

    def observe_waits(self, hooks):
        """Tell ``hooks`` (a :class:`WaitHooks`) where engines wait."""
        self.waits = hooks

    def use_runs(self, liveness, ownership=None):
        """How this process tells who executes a run, given by whoever
        runs flows here (heatflow/runners/, or a conductor).
        ``liveness(run)``: is some process executing it?
        ``ownership(run)``: does this process hold what makes it the run's
        only executor, so that no other run can have taken its operation
        over?  (The local runner's lock files, where they decide that;
        None: the database must be asked.)"""
        self.liveness = liveness
        self.ownership = ownership

    def use_child_stacks(self, child_stacks):
        """Where the nested stacks of the resources acting here start
        their operations (a heatflow.child_stacks.ChildStacks, over the
        runner of whoever runs flows here)."""
        self.child_stacks = child_stacks

    # -- request contexts (heatflow/context.py) -----------------------------

    #: How many operations' contexts this process remembers.
    CONTEXTS = 1000

    def remember_context(self, stack_id, traversal, context):
        """The context an operation started here was given, auth token
        included (the stored copy may lack it: no encryption key)."""
        if context is None:
            return
        with self._def_lock:
            self._contexts[(stack_id, traversal)] = context
            while len(self._contexts) > self.CONTEXTS:
                self._contexts.popitem(last=False)

    def remembered_context(self, stack_id, traversal):
        with self._def_lock:
            return self._contexts.get((stack_id, traversal))

    def context_of(self, stack_id, traversal, stack_row):
        """The operation's context: as given in this process, else as
        stored with the stack (``stack_row()`` reads it), else None."""
        known = self.remembered_context(stack_id, traversal)
        if known is not None:
            return known
        stored = getattr(stack_row(), "context", None)
        return context_mod.RequestContext.coerce(stored)

    # -- parsed stack definitions, shared by all atoms of an operation -----

    def definition(self, template_id, stack_name, stack_id):
        """The stack definition of a stored template, bound once per
        process (the definition the API bound is not reused: the stored
        template and environment, normalised, are what every process
        binds)."""
        key = (template_id, stack_name, stack_id)
        d = self._cached_definition(key)
        if d is not None:
            return d
        # One thread binds; the others (an operation's first atoms all ask
        # at once) wait for its result rather than bind it again.
        with self._def_lock:
            building = self._building.setdefault(key, threading.Lock())
        try:
            with building:
                d = self._cached_definition(key)
                if d is None:
                    d = self._bind(template_id, stack_name, stack_id)
                    with self._def_lock:
                        self._definitions[key] = d
                        while len(self._definitions) > \
                                self.DEFINITION_CACHE:
                            self._definitions.popitem(last=False)
        finally:
            with self._def_lock:
                self._building.pop(key, None)
        return d

    def _bind(self, template_id, stack_name, stack_id):
        row = self.store.get_template(template_id)
        tmpl = Template.from_dict(row.content, files=row.files,
                                  limits=self.limits)
        env = Environment.load(row.environment)
        try:
            stack = self.store.get_stack_by_id(stack_id)
            project, facade = stack.project_id, stack.facade
        except exception.NotFound:
            project = facade = None
        d = tmpl.bind(env.parameters, stack_name=stack_name,
                      stack_id=stack_id, project_id=project or "",
                      facade=facade,
                      registry=env.registry(self.registry, tmpl.files,
                                            self.limits))
        d.environment = env         # a plugin's self.stack.env
        return d

    # -- plugins an operation needs ----------------------------------------

    def unloaded_types(self, stack, action):
        """The resource types that an operation ``action`` on ``stack`` (its
        row) would need a plugin for and that no plugin in this process
        provides (aliases resolved), sorted.

        Needed: the type of every resource row that may hold a physical
        resource, as the template it was converged to resolves it (and
        that template's other types: its definition is bound whole);
        except for a delete, the stack's current template; for a rollback,
        also its last good one."""
        template_ids = set()
        if action != states.DELETE:
            template_ids.add(stack.template_id)
        if action == states.ROLLBACK:
            template_ids.add(stack.prev_template_id)
        unconverged = set()
        for row in self.store.list_resources(stack.id):
            if row.template_id is not None:
                template_ids.add(row.template_id)
            elif row.physical_resource_id is not None or \
                    row.action != states.INIT:
                # e.g. a failed create: its type as the stack's template
                # resolves it (see atoms' class_of)
                unconverged.add(row.type)
        missing = set()

        def check(types, template_id):
            tmpl = self.store.get_template(template_id) \
                if template_id is not None else None
            aliases = Environment.load(tmpl.environment).resource_registry \
                if tmpl is not None else {}
            registry = environment_mod.AliasedRegistry(self.registry,
                                                       aliases)
            if types is None:  # HOT or CloudFormation, as stored
                types = template_mod.resource_types(tmpl.content)
            for type_name in types:
                resolved = registry.resolve(type_name)
                # (a template file's type needs its child's types, which
                # the child's own operations check)
                if resolved not in self.registry and \
                        not template_resource.is_template_type(resolved):
                    missing.add(resolved)
        for template_id in template_ids - {None}:
            check(None, template_id)
        check(unconverged, stack.template_id)
        if unconverged:
            # Their class comes from binding the stack's template, and a
            # definition is bound whole: every type of it is needed (a
            # delete would otherwise fail half way on a resource that was
            # never even started).
            check(None, stack.template_id)
        return sorted(missing)

    def _cached_definition(self, key):
        with self._def_lock:
            d = self._definitions.get(key)
            if d is not None:
                self._definitions.move_to_end(key)
            return d

    # -- engines ------------------------------------------------------------

    def engine_started(self, flow_uuid, engine):
        self._engines[flow_uuid] = engine

    def engine_finished(self, flow_uuid):
        self._engines.pop(flow_uuid, None)

    def stop_starting_atoms(self, flow_uuid):
        """Ask the engine running ``flow_uuid`` to start no further atom.

        Atoms already running finish and are recorded; the flow ends
        SUSPENDED.  Used when the operation failed with rollback disabled,
        and when a newer operation superseded it.
        """
        engine = self._engines.get(flow_uuid)
        if engine is not None:
            engine.suspend()

    def is_running(self, flow_uuid):
        return flow_uuid in self._engines

    # -- fencing ------------------------------------------------------------

    def fence_run(self, run):
        with self._fencing:
            self._fenced.add(run)
            self._fencing.notify_all()

    def fence_all(self, fenced=True):
        """Stop acting for every run (a conductor whose ZooKeeper session
        is suspended or lost)."""
        with self._fencing:
            self._all_fenced = fenced
            self._fencing.notify_all()

    def pause(self, run, seconds):
        """Sleep ``seconds`` between two polls of one of ``run``'s actions,
        or less: until ``run`` is fenced.  A pause is up to the longest
        poll interval (10 s by default); a fenced run's actions stop
        there and then instead of holding their threads that long."""
        deadline = time.monotonic() + seconds
        with self._fencing:
            while not self.is_fenced(run):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._fencing.wait(left)

    def is_fenced(self, run):
        return self._all_fenced or run in self._fenced

    def owns(self, run):
        """True if this process certainly still owns ``run`` (then its
        atoms need not ask the database whether it was taken over)."""
        return self.ownership is not None and self.ownership(run)

    def run_alive(self, run):
        """Whether some process is still executing ``run``; a lock held by
        a dead run may be broken."""
        if self.liveness is None:
            return True
        try:
            return self.liveness(run)
        except Exception as exc:
            # Not known now (ZooKeeper reconnecting, say): alive, so that
            # the caller waits and asks again rather than break a live
            # run's lock -- or fail its own resource for the engine's
            # trouble (as a chaos soak trial did).
            LOG.info("could not tell whether run %s is alive (%s); "
                     "assuming it is", run, exc)
            return True
