"""A deterministic scenario framework for the convergence engine.

A scenario drives the real engine (``heatflow.Orchestrator`` on a SQLite
file) through its public API, with every resource action of a gated test
plugin (``Scenario::Thing``) held at a *gate* until the scenario lets it
through.  So interleavings are exact and every run is the same::

    def test_update_while_create_runs(s):
        s.create({"a": thing(), "b": thing(ref=res("a"))})
        s.assert_waiting(("a", "CREATE"))
        s.update({"a": thing(), "b": thing(ref=res("a")), "c": thing()})
        s.run_to_end()
        s.assert_state("UPDATE_COMPLETE")

After the scenario the framework checks *reality* (see :meth:`Scenario.
verify`): the physical resources that exist are exactly those of the final
template, once each, with the right properties and references, and the
stack's resource rows agree.

The physical world
------------------
:class:`World` is the test cloud: a dict of physical resources (guarded by
one lock), each recording the stack and logical name that created it, a
journal of physical creates/updates/deletes, and the gate.  Physical ids are
deterministic: ``a#1``, ``a#2``... for the incarnations of resource ``a``.

The plugin ``Scenario::Thing`` has the properties ``name`` (updated in
place), ``size`` (not ``update_allowed``: a change replaces), ``ref`` (any
value, updated in place: where ``get_resource``/``get_attr`` land), ``fail``
(create and update raise) and ``fail_delete`` (delete raises).  ``World.
override(name, fail=..., fail_delete=...)`` changes the effective value of
the last two without a template change (a "fix" between attempts).  Every
``handle_create``/``handle_update``/``handle_delete`` first blocks at the
gate; ``step(..., fail="why")`` makes the released action raise instead.

Quiescence (the rule every step waits for)
------------------------------------------
The engine runs each operation's TaskFlow engine on a runner thread
(``heatflow-engine-*``) whose atoms run on the runner's thread pool.  The
framework swaps that pool for a :class:`TrackingExecutor` which records,
for every atom call, when it was submitted, started and finished and when
the engine *consumed* its result (``Future.result()``, which TaskFlow calls
when it processes a completed atom).  Every such transition, and every
arrival at or release from the gate, bumps a version counter.

The engine is *quiescent* when, within one reading of the version counter
(unchanged from start to end of the check):

1. no atom call is queued (submitted but not started);
2. every finished atom call has been consumed by its engine (or its engine
   thread has ended);
3. every live runner thread is parked in TaskFlow's WAITING state (inside
   the waiter its machine builder was given), i.e. has nothing to analyse
   or schedule: it can only wake when a future completes (which bumps the
   version) or on TaskFlow's 60 s idle timeout (harmless);
4. every running atom call is either blocked at the gate, or inside one of
   the engine's lock loops (an atom's ``acquire`` or ``wait_idle``) on a
   resource row whose action lock is held by a live
   run of *another* traversal while its own traversal (and run) is still
   the stack's current one: exactly the condition under which that loop
   can neither succeed nor give up on its own.

Nobody looks at another thread's stack, and nothing of the engine is
patched: the engine *announces* where it waits, through the seam it has for
that (``Runtime.observe_waits`` with a ``flows.runtime.WaitHooks``): an
engine's thread waiting for an atom notes itself as parked, an atom in a
lock loop notes the row it waits on; each note, made and withdrawn, bumps
the version.  (Walking other threads' live frames --
``sys._current_frames()`` and their ``f_locals`` -- crashed the
interpreter with SIGSEGV in about one full run in six.)

Each condition is exact: nothing is inferred from time passing.  The one
thing that costs time is an atom sleeping in a lock loop after the lock it
waits for was released (or its traversal superseded): the rule waits for it
to wake (its back-off is at most 0.5 s), so such runs are slower, never
different.  Polling is 1 ms, bounded (``QUIESCE_TIMEOUT``); a timeout dumps
the threads' state.
"""

import concurrent.futures
import contextlib
import copy
import itertools
import threading
import time

from heatflow import attributes, exception, properties, resource

TYPE = "Scenario::Thing"
QUIESCE_TIMEOUT = 15.0
MAX_STEPS = 400

ACTIONS = ("CREATE", "UPDATE", "DELETE")


# -- templates ------------------------------------------------------------

def thing(depends_on=None, deletion_policy=None, retries=None,
          metadata=None, **props):
    """A ``Scenario::Thing`` resource definition."""
    d = {"type": TYPE, "properties": props}
    if metadata is not None:
        d["metadata"] = metadata
    if retries is not None:
        d["retries"] = retries
    if depends_on:
        d["depends_on"] = list(depends_on) if not isinstance(
            depends_on, str) else [depends_on]
    if deletion_policy:
        d["deletion_policy"] = deletion_policy
    return d


def res(name):
    return {"get_resource": name}


def attr(name, attribute):
    return {"get_attr": [name, attribute]}


def hot(resources, outputs=None):
    """A template from a dict of resources (a template passes through)."""
    if "heat_template_version" in resources:
        return copy.deepcopy(resources)
    t = {"heat_template_version": "2018-08-31",
         "resources": copy.deepcopy(resources)}
    if outputs:
        t["outputs"] = copy.deepcopy(outputs)
    return t


DEFAULTS = {"name": "", "size": 1, "ref": None}


# -- the physical world -----------------------------------------------------

class Waiter:
    def __init__(self, seq, stack, name, action, physical_id):
        self.seq = seq
        self.stack = stack
        self.name = name
        self.action = action
        self.physical_id = physical_id
        self.thread = threading.get_ident()
        self.event = threading.Event()
        self.inject = None

    @property
    def key(self):
        return (self.name, self.action)

    def __repr__(self):
        return "<%s %s (%s)>" % (self.name, self.action, self.physical_id)


class Call:
    """One atom call submitted by a TaskFlow engine."""

    def __init__(self, seq, submitter, label):
        self.seq = seq
        self.submitter = submitter       # the engine (runner) thread
        self.label = label
        self.thread = None
        self.started = False
        self.finished = False
        self.consumed = False
        self.future = None

    def __repr__(self):
        return "<call %d %s%s%s%s>" % (
            self.seq, self.label, " started" if self.started else "",
            " finished" if self.finished else "",
            " consumed" if self.consumed else "")


class World:
    """The test cloud, the gate and the record of atom calls."""

    def __init__(self):
        self.lock = threading.RLock()
        self.version = 0
        self.physical = {}           # id -> {"stack", "name", "props"}
        self.journal = []            # (event, id, name, props)
        self.passed = []             # (name, action, physical id) in order
        self.overrides = {}          # name -> {"fail": .., "fail_delete": ..}
        self._counters = {}
        self._seq = itertools.count(1)
        self.waiting = []            # Waiters, in arrival order
        self.calls = []
        self.opened = False          # teardown: every gate passes
        self.parked = set()          # runner threads in TaskFlow's waiter
        self.lock_loops = {}         # thread -> (atom, row id) it waits on

    def bump(self):
        with self.lock:
            self.version += 1

    # physical resources
    def make(self, stack, name, props):
        with self.lock:
            n = self._counters[name] = self._counters.get(name, 0) + 1
            pid = "%s#%d" % (name, n)
            self.physical[pid] = {"stack": stack, "name": name,
                                  "props": dict(props)}
            self.journal.append(("create", pid, name, dict(props)))
            self.version += 1
            return pid

    def modify(self, pid, props):
        with self.lock:
            if pid not in self.physical:
                raise exception.HeatflowError(
                    "physical resource %s does not exist" % pid)
            self.physical[pid]["props"] = dict(props)
            self.journal.append(("update", pid,
                                 self.physical[pid]["name"], dict(props)))
            self.version += 1

    def remove(self, pid):
        with self.lock:
            gone = self.physical.pop(pid, None)
            if gone is not None:
                self.journal.append(("delete", pid, gone["name"], None))
            self.version += 1
            return gone is not None

    def override(self, name, **flags):
        """Change the effective ``fail``/``fail_delete`` of ``name``'s
        physical resources (None: back to the template's value)."""
        with self.lock:
            o = self.overrides.setdefault(name, {})
            for k, v in flags.items():
                if v is None:
                    o.pop(k, None)
                else:
                    o[k] = v

    # the gate
    def gate(self, plugin, action):
        with self.lock:
            if self.opened:
                self.passed.append((plugin.name, action,
                                    plugin.resource_id))
                return
            w = Waiter(next(self._seq), plugin.stack_name, plugin.name,
                       action, plugin.resource_id)
            self.waiting.append(w)
            self.version += 1
        w.event.wait()
        if w.inject is not None:
            raise exception.HeatflowError(w.inject)

    def release(self, waiter, fail=None):
        with self.lock:
            self.waiting.remove(waiter)
            waiter.inject = fail
            self.passed.append((waiter.name, waiter.action,
                                waiter.physical_id))
            self.version += 1
            waiter.event.set()

    def open_all(self):
        with self.lock:
            self.opened = True
            for w in list(self.waiting):
                self.release(w)

    def waiting_threads(self):
        with self.lock:
            return {w.thread for w in self.waiting}

    # where the engine says its threads wait (WaitHooks, module doc)
    @contextlib.contextmanager
    def engine_waiting(self):
        """(WaitHooks) an engine's thread is parked while inside."""
        me = threading.get_ident()
        with self.lock:
            self.parked.add(me)
            self.version += 1
        try:
            yield
        finally:
            with self.lock:
                self.parked.discard(me)
                self.version += 1

    @contextlib.contextmanager
    def row_busy(self, atom, row_id):
        """(WaitHooks) an atom's lock loop: its thread waits on the row
        while inside."""
        me = threading.get_ident()
        with self.lock:
            outer = self.lock_loops.get(me)
            self.lock_loops[me] = (atom, row_id)
            self.version += 1
        try:
            yield
        finally:
            with self.lock:
                if outer is None:
                    self.lock_loops.pop(me, None)
                else:
                    self.lock_loops[me] = outer
                self.version += 1


class TrackedFuture(concurrent.futures.Future):
    """A future that notes when its engine reads the outcome."""

    def result(self, timeout=None):
        call = self._scenario_call
        try:
            return super().result(timeout)
        finally:
            if self.done() and not call.consumed:
                call.consumed = True
                self._scenario_world.bump()


class TrackingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The runner's atom pool, recording every call (see the module doc)."""

    def __init__(self, world, max_workers):
        super().__init__(max_workers, thread_name_prefix="heatflow-atom")
        self.world = world

    def submit(self, fn, /, *args, **kwargs):
        world = self.world
        atom = args[0] if args else None
        label = "%s(%s)" % (getattr(fn, "__name__", fn),
                            getattr(atom, "name", ""))
        with world.lock:
            call = Call(len(world.calls) + 1, threading.current_thread(),
                        label)
            world.calls.append(call)
            world.version += 1

        def run():
            with world.lock:
                call.thread = threading.get_ident()
                call.started = True
                world.version += 1
            try:
                return fn(*args, **kwargs)
            finally:
                with world.lock:
                    call.finished = True
                    world.version += 1

        fut = super().submit(run)
        fut.__class__ = TrackedFuture
        fut._scenario_call = call
        fut._scenario_world = world
        call.future = fut
        return fut


def make_plugin(world):
    """The gated plugin class bound to ``world``."""

    class Thing(resource.Resource):
        properties_schema = {
            "name": properties.Schema(properties.Schema.STRING, "A label.",
                                      default="", update_allowed=True),
            "size": properties.Schema(properties.Schema.INTEGER,
                                      "Changing it replaces the thing.",
                                      default=1),
            "ref": properties.Schema(properties.Schema.ANY,
                                     "Whatever the thing refers to.",
                                     update_allowed=True),
            "fail": properties.Schema(properties.Schema.BOOLEAN,
                                      "Create and update fail.",
                                      default=False, update_allowed=True),
            "fail_delete": properties.Schema(properties.Schema.BOOLEAN,
                                             "Delete fails.", default=False,
                                             update_allowed=True),
        }
        attributes_schema = {
            "name": attributes.Schema("The label."),
            "size": attributes.Schema("The size."),
            "ref": attributes.Schema("The reference."),
        }

        def _flag(self, key):
            o = world.overrides.get(self.name, {})
            if key in o:
                return o[key]
            try:
                return bool(self.properties[key])
            except Exception:
                return False

        def _props(self):
            return {k: self.properties[k] for k in ("name", "size", "ref")}

        def handle_create(self):
            world.gate(self, "CREATE")
            if self._flag("fail"):
                raise exception.HeatflowError(
                    "thing %s refused to be created" % self.name)
            pid = world.make(self.stack_name, self.name, self._props())
            self.resource_id_set(pid)

        def handle_update(self, json_snippet, tmpl_diff, prop_diff):
            world.gate(self, "UPDATE")
            if "size" in prop_diff:
                raise exception.UpdateReplace(self.name)
            if self._flag("fail"):
                raise exception.HeatflowError(
                    "thing %s refused to be updated" % self.name)
            world.modify(self.resource_id, self._props())

        def handle_delete(self):
            world.gate(self, "DELETE")
            if self._flag("fail_delete"):
                raise exception.HeatflowError(
                    "thing %s refused to go" % self.name)
            if self.resource_id is not None:
                world.remove(self.resource_id)

        def _resolve_attribute(self, name):
            if name in ("name", "size", "ref"):
                return self.properties[name]
            return None

    return Thing


# -- the scenario -------------------------------------------------------------

class ScenarioError(AssertionError):
    pass


class Scenario:
    """Verbs and assertions of one scenario on one stack."""

    def __init__(self, orch, world=None, name="s"):
        self.orch = orch
        self.world = world or World()
        self.name = name
        self.stack_id = None
        self._ops = {}            # traversal -> template (create/update)
        self._good = None         # resources of the last COMPLETE template
        self._expect = None       # reality the scenario states instead
        self._skip_reason = None
        self._retained = set()
        self.verified = False
        orch.runtime.observe_waits(self.world)
        orch.register_plugin(TYPE, make_plugin(self.world))
        _install_tracking(orch._runner, self.world)

    # -- operations (each returns once the engine is quiescent) -----------

    def create(self, resources, outputs=None, disable_rollback=True, **kw):
        tmpl = hot(resources, outputs)
        op = self.orch.create_stack(self.name, tmpl,
                                    disable_rollback=disable_rollback, **kw)
        self.stack_id = op.stack_id
        self._ops[op.traversal] = tmpl["resources"]
        self.settle()
        return op

    def update(self, resources, outputs=None, **kw):
        tmpl = hot(resources, outputs)
        op = self.orch.update_stack(self.name, tmpl, **kw)
        self._ops[op.traversal] = tmpl["resources"]
        self.settle()
        return op

    def delete(self):
        op = self.orch.delete_stack(self.name)
        self.settle()
        return op

    def rollback(self):
        op = self.orch.rollback_stack(self.name)
        self.settle()
        return op

    def cancel(self, rollback=True):
        op = self.orch.cancel_update(self.name, rollback=rollback)
        self.settle()
        return op

    # -- the gate ---------------------------------------------------------

    def waiting(self):
        """The set of (resource name, action) held at the gate."""
        with self.world.lock:
            return {w.key for w in self.world.waiting}

    def _pick(self, target):
        with self.world.lock:
            ws = sorted(self.world.waiting,
                        key=lambda w: (w.name, w.action, w.seq))
        if isinstance(target, tuple):
            name, action = target
            found = [w for w in ws if w.key == (name, action)]
        else:
            found = [w for w in ws if w.name == target]
        if not found:
            raise ScenarioError("%r is not waiting at the gate; waiting: %s"
                                % (target, sorted(self.waiting()) or
                                   "nothing"))
        if len({w.key for w in found}) > 1:
            raise ScenarioError("%r is ambiguous: %s; say which action"
                                % (target, found))
        return found[0]

    def step(self, *targets, fail=None):
        """Let actions through the gate, then wait for quiescence.

        ``step("a")``: a's waiting action; ``step(("a", "DELETE"))``: that
        one; ``step("a", "b")``: both at once; ``step(3)``: three actions
        one at a time, sorted by resource name then action.  ``fail``
        (a reason) makes the released action(s) raise."""
        if len(targets) == 1 and isinstance(targets[0], int):
            for _ in range(targets[0]):
                with self.world.lock:
                    ws = sorted(self.world.waiting,
                                key=lambda w: (w.name, w.action, w.seq))
                if not ws:
                    raise ScenarioError("nothing is waiting at the gate")
                self.world.release(ws[0], fail)
                self.settle()
            return
        picked = [self._pick(t) for t in targets]
        for w in picked:
            self.world.release(w, fail)
        self.settle()

    def fail(self, *targets, reason="injected failure"):
        """Let actions through the gate, making them fail."""
        self.step(*targets, fail=reason)

    def run_to_end(self, fail=()):
        """Let everything through (sorted) until the stack has settled and
        no engine is running.  Names in ``fail`` fail when let through."""
        for _ in range(MAX_STEPS):
            self.settle()
            with self.world.lock:
                ws = sorted(self.world.waiting,
                            key=lambda w: (w.name, w.action, w.seq))
            if ws:
                w = ws[0]
                self.world.release(w, "injected failure"
                                   if w.name in fail else None)
                continue
            if self._stack_row().status == "IN_PROGRESS":
                raise ScenarioError(
                    "stuck: stack %s is IN_PROGRESS, nothing is at the gate "
                    "and the engine is idle\n%s"
                    % (self._stack_row().action, self.describe()))
            return
        raise ScenarioError("run_to_end: more than %d steps" % MAX_STEPS)

    # -- quiescence -------------------------------------------------------

    def settle(self, timeout=None):
        """Wait until the engine is quiescent (see the module doc)."""
        if timeout is None:
            timeout = QUIESCE_TIMEOUT
        end = time.monotonic() + timeout
        while True:
            why = self._busy()
            if why is None:
                self._observe()
                return
            if time.monotonic() > end:
                raise ScenarioError("the engine did not settle in %.0f s: %s"
                                    "\n%s" % (timeout, why, self.describe()))
            time.sleep(0.001)

    def _engine_threads(self):
        return [t for t in threading.enumerate()
                if t.name.startswith("heatflow-engine-")]

    def _busy(self):
        """None if quiescent, else why not."""
        world = self.world
        with world.lock:
            v0 = world.version
            calls = list(world.calls)
            at_gate = {w.thread for w in world.waiting}
            parked = set(world.parked)
            loops = dict(world.lock_loops)
        for t in self._engines_and_runners():
            if t.ident is None:
                return "runner thread %s not started" % t.name
            if t.ident not in parked:
                return "runner thread %s is busy" % t.name
        for c in calls:
            if c.future is not None and c.future.cancelled():
                continue
            if not c.started:
                return "%r queued" % c
            if c.finished:
                if not c.consumed and c.submitter.is_alive():
                    return "%r not yet consumed by its engine" % c
                continue
            if c.thread in at_gate:
                continue
            loop = loops.get(c.thread)
            if loop is None or not self._blocked_on_lock(*loop):
                return "%r running" % c
        with world.lock:
            if world.version != v0:
                return "moved while looking"
        return None

    def _engines_and_runners(self):
        return [t for t in threading.enumerate()
                if t.name.startswith("heatflow-engine-") and t.is_alive()]

    def _blocked_on_lock(self, atom, row_id):
        """Is ``atom``, in a lock loop (LOCK_LOOPS) on row ``row_id``,
        unable to proceed without someone else's progress?"""
        store = self.orch.db.store
        trav, run = atom.op.traversal, atom.op.run
        row = store.get_resource(row_id)
        if row is None:
            return False
        holder = getattr(row, "lock_run", row.lock_traversal)
        if holder is None or row.lock_traversal in (None, trav):
            return False
        alive = getattr(atom.rt, "run_alive", None)
        if alive is not None and not alive(holder):
            return False          # the engine breaks a dead run's lock
        stack = store.get_stack_by_id(atom.op.stack_id)
        if stack.traversal != trav:
            return False          # it will notice it is stale and stop
        if run is not None and getattr(stack, "run_token", run) != run:
            return False
        return True

    def _observe(self):
        """Note the last known-good template when the stack completes."""
        if self.stack_id is None:
            return
        row = self._stack_row()
        if row.status == "COMPLETE" and row.action in ("CREATE", "UPDATE") \
                and row.traversal in self._ops:
            self._good = self._ops[row.traversal]

    def describe(self):
        world = self.world
        with world.lock:
            lines = ["waiting at the gate: %s" % world.waiting]
            loops = dict(world.lock_loops)
            parked = set(world.parked)
            at_gate = {w.thread for w in world.waiting}
            calls = list(world.calls)
        for c in calls:
            if c.started and not c.finished and c.thread not in at_gate:
                loop = loops.get(c.thread)
                where = "" if loop is None else \
                    " in a lock loop on row %s" % loop[1]
                lines.append("  %r%s" % (c, where))
        for t in self._engines_and_runners():
            lines.append("  runner %s %s" % (
                t.name, "parked" if t.ident in parked else "busy"))
        if self.stack_id:
            row = self._stack_row()
            lines.append("stack: %s_%s (%s)" % (row.action, row.status,
                                                row.status_reason))
            for r in self.orch.db.store.list_resources(self.stack_id):
                lines.append("  row %d %s %s_%s phys=%s lock=%s" % (
                    r.id, r.name, r.action, r.status,
                    r.physical_resource_id, r.lock_traversal and
                    r.lock_traversal[:8]))
        return "\n".join(lines)

    # -- reading ----------------------------------------------------------

    def _stack_row(self):
        return self.orch.db.store.get_stack_by_id(self.stack_id)

    def state(self):
        row = self._stack_row()
        return "%s_%s" % (row.action, row.status)

    def resources(self):
        """name -> status, or a tuple of statuses (oldest row first) when a
        name has several incarnations."""
        out = {}
        for r in self.orch.db.store.list_resources(self.stack_id):
            out.setdefault(r.name, []).append("%s_%s" % (r.action,
                                                         r.status))
        return {k: v[0] if len(v) == 1 else tuple(v) for k, v in out.items()}

    def reality(self):
        """name -> [physical ids] of this stack's physical resources."""
        out = {}
        with self.world.lock:
            for pid, p in sorted(self.world.physical.items()):
                if p["stack"] == self.name:
                    out.setdefault(p["name"], []).append(pid)
        return out

    def phys(self, name):
        """The one physical id of resource ``name``."""
        ids = self.reality().get(name, [])
        if len(ids) != 1:
            raise ScenarioError("%s has %d physical resources: %s"
                                % (name, len(ids), ids))
        return ids[0]

    def props(self, name):
        with self.world.lock:
            return dict(self.world.physical[self.phys(name)]["props"])

    def passed(self, name=None):
        """The actions let through the gate so far: (name, action) or, for
        one resource, its actions."""
        with self.world.lock:
            if name is None:
                return [(n, a) for n, a, _ in self.world.passed]
            return [a for n, a, _ in self.world.passed if n == name]

    # -- assertions -------------------------------------------------------

    def assert_state(self, expected):
        got = self.state()
        if got != expected:
            raise ScenarioError("stack is %s (%s), expected %s\n%s" % (
                got, self._stack_row().status_reason, expected,
                self.describe()))

    def assert_waiting(self, *expected):
        exp = {tuple(e) for e in expected}
        got = self.waiting()
        if got != exp:
            raise ScenarioError("waiting at the gate: %s, expected %s"
                                % (sorted(got), sorted(exp)))

    def assert_resources(self, expected=None, **kw):
        exp = dict(expected or {}, **kw)
        got = self.resources()
        if got != exp:
            raise ScenarioError("resources are %s, expected %s"
                                % (got, exp))

    def assert_reality(self, expected):
        """``expected``: name -> physical id (or a list of them)."""
        got = {k: (v[0] if len(v) == 1 else v)
               for k, v in self.reality().items()}
        if got != expected:
            raise ScenarioError("reality is %s, expected %s"
                                % (got, expected))

    # -- the final check --------------------------------------------------

    def expect_reality(self, resources):
        """State the reality a scenario that ends FAILED (or otherwise out
        of the ordinary) expects: a dict of resource definitions, checked
        like a template's (properties and references), without requiring
        the stack's rows to be COMPLETE (they must still agree with
        reality).  Stated once: to check a reality half way through a
        scenario, use :meth:`assert_matches`."""
        if self._expect is not None:
            raise ScenarioError("expect_reality was already stated (%s); "
                                "check a reality half way with "
                                "assert_matches" % sorted(self._expect))
        self._expect = copy.deepcopy(resources)

    def assert_matches(self, resources):
        """Now: reality is exactly ``resources`` (definitions, checked
        like a template's), and the stack's rows agree with it."""
        self.settle()
        self._check_reality(resources)
        self._check_rows_agree()

    def expect_retained(self, *physical_ids):
        """These physical resources were let go by the stack (deletion
        policy Retain): they must still exist, and are no longer the
        stack's (the reality check leaves them out)."""
        self._retained.update(physical_ids)

    def skip_reality_check(self, reason):
        self._skip_reason = reason

    def verify(self):
        """The automatic end-of-scenario check (see the module doc)."""
        self.verified = True
        if self.stack_id is None:
            return
        self.settle()
        if self.waiting():
            raise ScenarioError("the scenario ended with actions at the "
                                "gate: %s" % sorted(self.waiting()))
        row = self._stack_row()
        if row.status == "IN_PROGRESS":
            raise ScenarioError("the scenario ended with the stack %s_%s"
                                % (row.action, row.status))
        if self._skip_reason:
            return
        deleted = bool(row.deleted_marker)
        if self._expect is not None:
            expected = self._expect
        elif deleted:
            if row.action != "DELETE" or row.status != "COMPLETE":
                raise ScenarioError("deleted stack is %s_%s"
                                    % (row.action, row.status))
            expected = {}
        elif row.status == "COMPLETE":
            if row.action in ("CREATE", "UPDATE"):
                expected = self._ops[row.traversal]
            elif row.action == "ROLLBACK":
                expected = self._good or {}
            else:
                raise ScenarioError("unexpected final state %s_%s"
                                    % (row.action, row.status))
        else:
            raise ScenarioError(
                "the stack ended %s_%s (%s): the scenario must state the "
                "expected reality (expect_reality) or skip the check"
                % (row.action, row.status, row.status_reason))
        self._check_reality(expected)
        if deleted:
            return
        if self._expect is None:
            self._check_rows(expected)
            self._check_template(row, expected)
        else:
            self._check_rows_agree()

    def _check_reality(self, expected):
        real = self.reality()
        problems = []
        for pid in sorted(self._retained):
            name = pid.split("#")[0]
            if pid not in real.get(name, []):
                problems.append("retained %s is gone" % pid)
            else:
                real[name].remove(pid)
                if not real[name]:
                    del real[name]
        for name, ids in sorted(real.items()):
            if len(ids) > 1:
                problems.append("%s exists %d times: %s"
                                % (name, len(ids), ids))
            if name not in expected:
                problems.append("%s leaked: %s" % (name, ids))
        for name in sorted(expected):
            if name not in real:
                problems.append("%s is missing" % name)
        if problems:
            raise ScenarioError("reality is wrong: %s\nreality: %s\n%s"
                                % ("; ".join(problems), real,
                                   self.describe()))
        with self.world.lock:
            phys = {n: self.world.physical[ids[0]]
                    for n, ids in real.items()}
        ids = {n: real[n][0] for n in real}
        for name, defn in sorted(expected.items()):
            want = dict(DEFAULTS)
            for k in DEFAULTS:
                if k in (defn.get("properties") or {}):
                    want[k] = _resolve(defn["properties"][k], ids, phys)
            got = phys[name]["props"]
            if got != want:
                raise ScenarioError("%s (%s) has %s, expected %s"
                                    % (name, ids[name], got, want))

    def _rows(self):
        return self.orch.db.store.list_resources(self.stack_id)

    def _real_ids(self):
        """name -> physical ids, the retained ones left out."""
        return {n: [i for i in ids if i not in self._retained]
                for n, ids in self.reality().items()}

    def _check_rows(self, expected):
        """A settled stack: one COMPLETE row per resource of ``expected``,
        naming its physical resource, with the template's metadata and no
        replacement links left dangling."""
        rows = self._rows()
        real = self._real_ids()
        seen = {}
        for r in rows:
            seen.setdefault(r.name, []).append(r)
        problems = self._link_problems(rows)
        for name, rs in sorted(seen.items()):
            if name not in expected:
                problems.append("row for %s, not in the template" % name)
            elif len(rs) > 1:
                problems.append("%d rows for %s" % (len(rs), name))
        for name, defn in sorted(expected.items()):
            rs = seen.get(name)
            if not rs:
                problems.append("no row for %s" % name)
                continue
            r = rs[0]
            if r.status != "COMPLETE" or r.action not in ("CREATE",
                                                          "UPDATE"):
                problems.append("%s is %s_%s" % (name, r.action, r.status))
            if r.physical_resource_id != real[name][0]:
                problems.append("%s row says %s, reality %s" % (
                    name, r.physical_resource_id, real[name][0]))
            if r.replaced_by is not None:
                problems.append("%s (row %d) is still replaced_by row %s"
                                % (name, r.id, r.replaced_by))
            want = defn.get("metadata") or {}
            if (r.rsrc_metadata or {}) != want:
                problems.append("%s has metadata %s, expected %s"
                                % (name, r.rsrc_metadata, want))
        if problems:
            raise ScenarioError("resource rows are wrong: %s\n%s"
                                % ("; ".join(problems), self.describe()))

    def _check_rows_agree(self):
        """A stack whose reality the scenario stated (it may have ended
        FAILED): each physical resource is named by exactly one row, each
        physical id a row names exists, and the replacement links hold."""
        rows = self._rows()
        real = {pid for ids in self._real_ids().values() for pid in ids}
        named = {}
        for r in rows:
            if r.physical_resource_id is not None:
                named.setdefault(r.physical_resource_id, []).append(r.name)
        problems = self._link_problems(rows)
        for pid in sorted(real):
            if len(named.get(pid, [])) != 1:
                problems.append("%s is named by %d rows"
                                % (pid, len(named.get(pid, []))))
        for pid in sorted(set(named) - real):
            problems.append("row %s names %s, which does not exist"
                            % (named[pid], pid))
        if problems:
            raise ScenarioError("resource rows are wrong: %s\n%s"
                                % ("; ".join(problems), self.describe()))

    @staticmethod
    def _link_problems(rows):
        """An original and its replacement name each other: ``replaced_by``
        points at a row of the same name that ``replaces`` it, and a
        ``replaces`` whose original is still there is answered by it.
        (An original deleted in clean-up leaves ``replaces`` pointing at
        nothing, which is fine.)"""
        by_id = {r.id: r for r in rows}
        problems = []
        for r in rows:
            if r.replaced_by is not None:
                new = by_id.get(r.replaced_by)
                if new is None:
                    problems.append("%s (row %d) is replaced_by row %s, "
                                    "which is gone" % (r.name, r.id,
                                                       r.replaced_by))
                elif new.name != r.name or new.replaces != r.id:
                    problems.append("%s (row %d) is replaced_by row %d, "
                                    "which replaces %s" % (
                                        r.name, r.id, new.id, new.replaces))
            old = by_id.get(r.replaces) if r.replaces is not None else None
            if old is not None and old.replaced_by != r.id:
                problems.append("%s (row %d) replaces row %d, which is "
                                "replaced_by %s" % (r.name, r.id, old.id,
                                                    old.replaced_by))
        return problems

    def _check_template(self, row, expected):
        """The stack's current template is the one it converged to (after
        a rollback: the last known-good one, not the failed update's)."""
        if row.action == "ROLLBACK" and self._good is None:
            return               # a create rolled back: nothing was good
        got = (self.orch.get_stack(self.name).template or {}).get(
            "resources") or {}
        if got != expected:
            raise ScenarioError("the stack's template has resources %s, "
                                "expected %s" % (got, expected))

    # -- teardown ---------------------------------------------------------

    def shutdown(self):
        """Let everything through; fence off whatever is still stuck; close
        the orchestrator without hanging the suite."""
        self.world.open_all()
        try:
            self.settle(timeout=3)
        except ScenarioError:
            if self.stack_id is not None:
                from heatflow.persistence import models
                with self.orch.db.engine.begin() as conn:
                    conn.execute(models.stacks.update().where(
                        models.stacks.c.id == self.stack_id).values(
                            traversal="scenario-teardown"))
        t = threading.Thread(target=self.orch.close, daemon=True)
        t.start()
        t.join(10)


def _install_tracking(runner, world):
    """Swap the runner's atom thread pool (wherever the runner keeps it:
    on itself or on a helper object it holds) for a TrackingExecutor."""
    holders = [runner] + [v for v in vars(runner).values()
                          if hasattr(v, "__dict__") and not isinstance(
                              v, (type, threading.Thread))]
    pool = None
    for h in holders:
        for v in vars(h).values():
            if isinstance(v, concurrent.futures.ThreadPoolExecutor):
                pool = v
                break
        if pool is not None:
            break
    if pool is None:
        raise RuntimeError("cannot find the runner's thread pool")
    tracking = TrackingExecutor(world, pool._max_workers)
    replaced = 0
    for h in holders:
        for k, v in list(vars(h).items()):
            if v is pool:
                setattr(h, k, tracking)
                replaced += 1
    pool.shutdown(wait=True)
    return replaced


def _resolve(value, ids, phys):
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "get_resource":
            return ids.get(arg)
        if fn == "get_attr":
            name, a = arg[0], arg[1]
            if name not in phys:
                return None
            return phys[name]["props"].get(a)
    if isinstance(value, dict):
        return {k: _resolve(v, ids, phys) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, ids, phys) for v in value]
    return value


def sabotage(scenario):
    """Break reality behind the engine's back (SCENARIO_SABOTAGE=1): a
    stray physical resource appears in the stack's name.  Every scenario
    whose reality is checked must then fail; used to prove each can."""
    scenario.world.make(scenario.name, "sabotage", DEFAULTS)
