"""The TaskFlow atoms of a stack operation.

An operation converges a stack to a target template.  Its flow has:

``converge:<name>``  one per resource of the target: create, update in
                     place, replace, or leave alone, deciding at run time
                     from the recorded state of the resource (so a resumed or
                     superseding operation continues from what is recorded)
                     by the rules of flows/convergence.py.
                     Provides ``ref:<name>``: the reference id and the
                     attribute values its dependents read, computed once.
``converged``        a barrier after every converge atom.
``cleanup:<row>``    one per resource incarnation that existed when the
                     operation began: deletes it unless it is still part of
                     the stack (removed resources, replaced originals), in
                     reverse dependency order, after the barrier.
``finish``           resolves outputs and marks the stack complete.

Rollback is TaskFlow's revert: each converge atom's result records what it
did, and its ``revert`` undoes exactly that (deletes what it created,
restores what it updated, keeps the original of a replacement).  Clean-up
comes after the barrier, so anything a revert needs still exists; a failure
in clean-up is reported but never reverts the converged stack.

Every write is fenced on the operation's traversal: once a newer operation
has started, these atoms start no plugin action, and ask their engine to stop
starting atoms.
"""

import bisect
import collections
import json
import logging
import time

from oslo_utils import reflection
from taskflow import task
from taskflow.types import failure as tf_failure

from heatflow import exception
from heatflow import properties as properties_mod
from heatflow import resource as resource_mod
from heatflow.flows import convergence
from heatflow.flows import driver
from heatflow.flows import orphans
from heatflow.flows import runtime as runtime_mod
from heatflow.persistence import store as store_mod
from heatflow.persistence.taskflow_backend import VOLATILE_PREFIX

LOG = logging.getLogger(__name__)

# Results that tell downstream atoms not to act.
SUPERSEDED = {"halt": "superseded"}


def _halted(value):
    return isinstance(value, dict) and "halt" in value


def _failed_marker(reason):
    return {"halt": "failed", "reason": reason}


_UNREAD = object()     # wait_idle: the row is still to be read


class _Superseded(Exception):
    """This operation's traversal is no longer the stack's current one."""


class _Atom(task.Task):
    def __init__(self, op, name, provides=None, requires=None):
        super().__init__(name=name, provides=provides,
                         requires=list(requires or ()))
        # op: the operation's plain description (see compiler.plan_operation)
        self.op = op

    # What TaskFlow reads from the signature of an atom's execute or revert:
    # (class, method, ignored) -> (required, optional) argument names, or
    # None where the method takes no **keywords (TaskFlow then checks the
    # requirements against the signature: left to it).
    _signature_args = {}

    def _build_arg_mapping(self, executor, requires=None, rebind=None,
                           auto_extract=True, ignore_list=None):
        """TaskFlow's argument mapping, with the signature read once per
        class and method rather than per atom (TaskFlow inspects it six
        times per atom: 6% of the CPU of a 200-resource create).  Our atoms
        take their inputs as keywords and never rebind, so the mapping is
        the signature's arguments plus the atom's requirements."""
        if rebind or self.inject or not auto_extract:
            return super()._build_arg_mapping(
                executor, requires, rebind, auto_extract, ignore_list)
        key = (type(self), executor.__name__, tuple(ignore_list or ()))
        if key not in self._signature_args:
            args = None
            if reflection.accepts_kwargs(executor):
                args = super()._build_arg_mapping(
                    executor, None, None, True, ignore_list)[1:]
            self._signature_args[key] = args
        args = self._signature_args[key]
        if args is None:
            return super()._build_arg_mapping(
                executor, requires, rebind, auto_extract, ignore_list)
        required = args[0].union(requires or ())
        optional = args[1].difference(required)
        mapping = collections.OrderedDict(
            (name, name) for name in required)
        mapping.update((name, name) for name in optional)
        return mapping, required, optional

    @property
    def rt(self):
        return runtime_mod.get(self.op["runtime"])

    @property
    def store(self):
        return self.rt.store

    def definition(self, template_id=None):
        template_id = template_id or self.op["template_id"]
        if template_id is None:
            return None
        return self.rt.definition(template_id, self.op["stack_name"],
                                  self.op["stack_id"])

    def class_of(self, row):
        """The plugin class of a recorded resource: its type as the
        environment of the template it was last converged to resolves it
        (type aliases may differ between templates); for one never
        converged (a failed create), as this operation's template does."""
        stack_def = self.definition(row.template_id)
        registry = stack_def.registry if stack_def is not None else None
        return (registry or self.rt.registry).get_class(row.type)

    @property
    def fence(self):
        return store_mod.Fence(self.op["stack_id"], self.op["traversal"],
                               self.op["run"])

    def is_stale(self):
        row = self.store.stack_position(self.op["stack_id"])
        return (row.traversal, row.run_token) != (self.op["traversal"],
                                                  self.op["run"])

    def taken_over(self):
        """Has another run of this operation replaced this one (resume,
        conductor takeover)?  Then this run must not touch anything."""
        if self.rt.is_fenced(self.op["run"]):
            return True
        if self.rt.owns(self.op["run"]):
            return False
        row = self.store.stack_position(self.op["stack_id"])
        return row.traversal == self.op["traversal"] and \
            row.run_token != self.op["run"]

    def gate(self, position=None):
        """Before an atom starts anything: is its operation still the
        stack's current one (and this run the one executing it), and is it
        still going forward?  ``position``: the stack's, if just read."""
        if self.rt.is_fenced(self.op["run"]):
            raise _Superseded()
        row = position or self.store.stack_position(self.op["stack_id"])
        if (row.traversal, row.run_token) != (self.op["traversal"],
                                              self.op["run"]):
            raise _Superseded()
        if row.action == "ROLLBACK" and self.op["action"] != "ROLLBACK":
            raise exception.RollbackRequested(
                "rollback of the %s requested" % self.op["action"].lower())

    def halt(self):
        """Stop this operation's engine from starting further atoms.  If
        this run was fenced (taken over), TaskFlow must record nothing more
        for it either."""
        if self.taken_over():
            self.rt.fence_run(self.op["run"])
        self.rt.stop_starting_atoms(self.op["flow_uuid"])

    def deadline(self, action, timeout=None, stack_bound=True):
        """The earlier of the stack's deadline and ``timeout`` seconds from
        now, and what to say when it passes.  A rollback's actions are not
        bound by the deadline of the operation they undo."""
        d = self.op.get("deadline") if stack_bound else None
        msg = "Stack %s timed out" % self.op["action"]
        if timeout:
            t = time.time() + float(timeout)
            if d is None or t < d:
                d = t
                msg = "%s timed out after %g s" % (action, float(timeout))
        return d, msg

    def check_stack_deadline(self):
        d = self.op.get("deadline")
        if d is not None and time.time() >= d:
            raise exception.Timeout("Stack %s timed out" % self.op["action"])

    def acquire(self, row_id, action, reason="", undoing=False, **fields):
        """Take the row's action lock, waiting while an action of an older
        operation is still in flight on it (it is never interrupted).
        ``undoing``: see Store.acquire_resource."""
        with self.rt.waits.row_busy(self, row_id):
            return self._acquire(row_id, action, reason, undoing, fields)

    def _acquire(self, row_id, action, reason, undoing, fields):
        delay = 0.01
        while True:
            row = self.store.acquire_resource(
                row_id, self.fence, action, reason,
                is_alive=self.rt.run_alive, undoing=undoing, **fields)
            if row is not None:
                return row
            if self.is_stale():
                raise _Superseded()
            self.check_stack_deadline()
            if self.store.get_resource(row_id) is None:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def first_read(self, row_id):
        """The row, once the gate is passed: both read in one statement."""
        row, position = self.store.resource_and_position(
            row_id, self.op["stack_id"])
        self.gate(position)
        return row

    def wait_idle(self, row_id, row=_UNREAD):
        """Wait while another operation's action is in flight on the row
        (breaking the lock of a run that died).  ``row``: as just read."""
        with self.rt.waits.row_busy(self, row_id):
            return self._wait_idle(row_id, row)

    def _wait_idle(self, row_id, row):
        delay = 0.01
        while True:
            if row is _UNREAD:
                row = self.store.get_resource(row_id)
            if row is None or row.lock_run is None or \
                    row.lock_traversal == self.op["traversal"]:
                return row
            if not self.rt.run_alive(row.lock_run):
                self.store.break_lock(row, self.fence)
                row = _UNREAD
                continue
            if self.is_stale():
                raise _Superseded()
            self.check_stack_deadline()
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
            row = _UNREAD

    def plugin(self, cls, defn, props, row, metadata=None, action="INIT"):
        storage = driver.DbStorage(self.store, row, self.fence)
        return cls(row.name, defn, props, storage=storage,
                   stack_name=self.op["stack_name"],
                   stack_id=self.op["stack_id"], metadata=metadata,
                   action=action, status="IN_PROGRESS")

    def plugin_to_delete(self, cls, defn, row):
        """The plugin that deletes ``row`` (its DELETE lock taken), or None
        when the plugin cannot be constructed and the row records no
        physical resource: nothing the plugin made is known, so nothing is
        left to delete.  With a physical resource recorded, raises
        :class:`exception.PluginError` saying why it cannot be deleted."""
        props = properties_mod.Properties(cls.properties_schema,
                                          row.properties or {}, strict=False)
        try:
            return self.plugin(cls, defn, props, row, row.rsrc_metadata,
                               "DELETE")
        except Exception as exc:
            why = "its plugin (%s) cannot be constructed: %s" % (
                row.type, _message(exc))
            if row.physical_resource_id is None:
                LOG.warning("resource %s: %s; no physical resource was "
                            "recorded: nothing to delete", row.name, why)
                return None
            raise exception.PluginError("%s cannot be deleted: %s" % (
                row.physical_resource_id, why)) from exc

    def run_action(self, plugin, row, action, args=(), timeout=None,
                   retries=0, stack_bound=True):
        """Drive ``action`` of ``plugin`` to completion; a failed or
        timed-out attempt is tried again up to ``retries`` times (a failed
        create is deleted first, as Heat does)."""
        store, fence = self.store, self.fence
        resuming = (row.lock_traversal == fence.traversal and
                    row.action == action and
                    row.status == "IN_PROGRESS" and
                    (row.action_token is not None or
                     (action == "CREATE" and
                      row.physical_resource_id is not None)))
        resume_token = row.action_token
        attempt = 0
        while True:
            deadline, message = self.deadline(action, timeout, stack_bound)
            try:
                token = driver.run(
                    plugin, action, args, deadline=deadline,
                    poll=self.rt.poll_interval,
                    save_token=lambda t: store.update_resource(
                        row.id, fence, action_token=t),
                    resume_token=resume_token, resuming=resuming,
                    timeout_message=message, taken_over=self.taken_over)
                if self._orphan(plugin) is None:
                    return token
                raise self._abandon(plugin, row)
            except exception.Superseded:
                raise self._abandon(plugin, row)
            except (exception.UpdateReplace, exception.EngineStorageError,
                    _Superseded):
                raise
            except Exception as exc:
                if self._orphan(plugin) is not None:
                    # (the plugin turned the refusal into its own error)
                    raise self._abandon(plugin, row)
                stack_deadline = self.op.get("deadline") if stack_bound \
                    else None
                if attempt >= retries or (stack_deadline is not None and
                                          time.time() >= stack_deadline):
                    raise
                attempt += 1
                LOG.info("%s %s failed (%s); attempt %d of %d", row.name,
                         action, exc, attempt + 1, retries + 1)
                store.update_resource(
                    row.id, fence, action_token=None,
                    status_reason="attempt %d of %d after: %s"
                    % (attempt + 1, retries + 1, _message(exc)))
                if action == "CREATE":
                    self._discard_attempt(plugin)
                resuming, resume_token = False, None

    @staticmethod
    def _orphan(plugin):
        """A physical id the plugin learned that this run may not record
        (it lost the operation while the plugin was acting)."""
        return getattr(plugin._storage, "refused_id", None)

    def _abandon(self, plugin, row):
        """This run lost the resource during its action: undo what the
        plugin made that the run could not record (flows/orphans.py);
        returns the exception to raise."""
        orphan = self._orphan(plugin)
        if orphan is not None:
            plugin._storage.refused_id = None        # undone once
            try:
                orphans.undo(self.store, self.fence, plugin, row.id, orphan,
                             self.rt.run_alive, self.rt.poll_interval)
            except Exception:
                LOG.exception("%s: undoing physical resource %s failed: it "
                              "may be leaked", row.name, orphan)
        return _Superseded()

    def _discard_attempt(self, plugin):
        """Delete what a failed create attempt left, before the next."""
        try:
            driver.run(plugin, "DELETE", deadline=self.deadline("DELETE")[0],
                       poll=self.rt.poll_interval)
        except _Superseded:
            raise
        except Exception as exc:
            LOG.warning("could not delete the failed attempt at %s: %s",
                        plugin.name, exc)
        plugin.resource_id_set(None)

    def engine_failed(self, exc):
        """heatflow's database failed under this atom: the operation fails
        as the stack's (no resource is blamed, nothing is rolled back:
        the engine could not record it) and starts nothing more.  If even
        that cannot be written, the runner records it once it can (see
        execution.OperationExecutor.run_flow).  The row this atom held
        stays locked by this run; the next operation breaks the lock once
        the run has ended and decides on the row afresh."""
        reason = "Stack %s failed: %s" % (self.op["action"], exc)
        LOG.error("stack %s: %s", self.op["stack_name"], reason)
        try:
            self.store.set_stack_state(self.fence, self.op["action"],
                                       "FAILED", reason)
        except exception.EngineStorageError:
            pass
        self.rt.stop_starting_atoms(self.op["flow_uuid"])
        return _failed_marker(reason)

    def stack_failed(self, reason):
        """Record the operation's failure on the stack; with rollback
        enabled, announce the rollback TaskFlow's revert will carry out."""
        self.store.fail_operation(self.fence, self.op["action"], reason,
                                  bool(self.op.get("rollback")))


def _message(exc):
    if isinstance(exc, exception.ResourceFailure):
        return str(exc).split(": ", 1)[-1]
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (exception.HeatflowError, ValueError)):
        return text
    return "%s: %s" % (type(exc).__name__, text)


class ConvergeResource(_Atom):
    """Bring one resource to its definition in the target template."""

    def __init__(self, op, name, row_id, requires, fresh=False):
        super().__init__(op, "converge:" + name, provides="ref:" + name,
                         requires=["ref:" + r for r in requires])
        self.resource_name = name
        self.row_id = row_id
        # The row was planned (INIT) by this operation: see _create_fresh.
        self.fresh = fresh

    # -- execute ----------------------------------------------------------

    def execute(self, **inputs):
        try:
            created = self._create_fresh(inputs)
            if created is not None:
                return created
            row = self.first_read(self.row_id)
            if any(_halted(v) for v in inputs.values()):
                return SUPERSEDED
            return self._converge(inputs, row)
        except _Superseded:
            self.halt()
            return SUPERSEDED
        except (exception.ResourceFailure, exception.RollbackRequested):
            raise
        except exception.EngineStorageError as exc:
            return self.engine_failed(exc)
        except Exception as exc:
            # Not the plugin's failure (those are handled where they
            # happen) but still this resource's: report it as such rather
            # than let it escape as an engine error.  (An error heatflow
            # raised on purpose says what is wrong: no traceback.)
            if isinstance(exc, exception.HeatflowError):
                LOG.info("converging %s failed: %s", self.resource_name, exc)
            else:
                LOG.exception("converging %s failed", self.resource_name)
            row = self._current_row()
            return self._fail(row, "CREATE" if row.action == "INIT"
                              else row.action, exc)

    def _inputs(self, inputs):
        refs = {k[4:]: v["ref"] for k, v in inputs.items()}
        attrs = {k[4:]: v["attrs"] for k, v in inputs.items()}

        def get_attr(rname, attr):
            return attrs.get(rname, {}).get(_attr_key(attr))
        return refs, get_attr

    def _resolved(self, stack_def, defn, inputs):
        """(plugin class, properties data, metadata, validated Properties)
        of the resource, given its inputs."""
        self.check_stack_deadline()
        cls = stack_def.registry.get_class(defn.type)
        refs, get_attr = self._inputs(inputs)
        data = defn.resolve_properties(refs, get_attr)
        metadata = defn.resolve_metadata(refs, get_attr)
        props = properties_mod.Properties(
            cls.properties_schema, data,
            path=("resources", defn.name, "properties"),
            strict=cls.strict_properties)
        props.validate()
        return cls, data, metadata, props

    def _create_fresh(self, inputs):
        """Create a resource whose row this operation planned, taking its
        lock in the statement that checks the operation is still current
        and going forward, without reading the row and the stack first
        (what a row nobody touched holds is known: it is to be created).
        None when that does not apply -- the row was touched (a resumed
        run), the operation was superseded or a rollback requested, an
        input halted, the properties are bad: the general path, which
        reads first, decides and reports."""
        if not self.fresh or self.op["action"] == "ROLLBACK" or \
                self.rt.is_fenced(self.op["run"]) or \
                any(_halted(v) for v in inputs.values()):
            return None
        stack_def = self.definition()
        defn = stack_def.resources[self.resource_name]
        try:
            cls, data, metadata, props = self._resolved(stack_def, defn,
                                                        inputs)
        except Exception:
            return None
        self._requires = sorted(v["row"] for v in inputs.values())
        row = self.store.acquire_fresh(self.row_id, self.fence, "CREATE",
                                       requires=self._requires,
                                       properties=data)
        if row is None:
            return None
        return self._run_create(row, defn, cls, props, data, metadata,
                                stack_def.attribute_refs(self.resource_name))

    def _converge(self, inputs, row):
        # Decide on the row as it is once no older operation's action is
        # in flight on it: that action finishes and is recorded first.
        row = self._current_row(self.wait_idle(self.row_id, row))
        if row is None:
            # Gone: only a newer operation, or a newer run of this one,
            # removes a row its operation planned (seen when a frozen
            # conductor woke up between its first read and this one).
            raise _Superseded()
        store = self.store
        stack_def = self.definition()
        defn = stack_def.resources[self.resource_name]
        try:
            cls, data, metadata, props = self._resolved(stack_def, defn,
                                                        inputs)
        except _Superseded:
            raise
        except Exception as exc:
            return self._fail(row, "CREATE" if row.action == "INIT"
                              else "UPDATE", exc)
        needed = stack_def.attribute_refs(self.resource_name)
        # The incarnations this one depends on now; the row records them
        # so that clean-up deletes dependents before what they depend on.
        self._requires = sorted(v["row"] for v in inputs.values())
        decision = self._decide(row, defn, cls, props, data, metadata)
        if decision.fails:
            # An immutable property changed: this resource's failure,
            # reported as such (and reverted only if rollback is enabled).
            keys = decision.keys
            return self._fail(row, "UPDATE", exception.ResourceFailure(
                defn.name, "UPDATE", "%s %s %s immutable and cannot change"
                % ("property" if len(keys) == 1 else "properties",
                   ", ".join(keys), "is" if len(keys) == 1 else "are")))
        what = decision.action
        if what == convergence.NONE:
            attrs = dict(row.attributes or {})
            missing = [a for a in needed if _attr_key(a) not in attrs]
            if missing:
                plugin = self.plugin(cls, defn, props, row, metadata,
                                     "CREATE")
                attrs.update(self._attributes(plugin, missing))
            links = {}
            if row.replaced_by is not None:
                links["replaced_by"] = None
            if list(row.requires or []) != self._requires:
                links["requires"] = self._requires
            if row.template_id != self.op["template_id"]:
                # Converged to this template (what clean-up reads the
                # deletion policy from, for one).
                links["template_id"] = self.op["template_id"]
            if row.type != defn.type:
                # Another name of the same plugin: the type as this
                # template names it (and its environment resolves it).
                links["type"] = defn.type
            if links:
                store.set_resource_fields(row.id, self.fence, **links)
            did, extra = self._done_before(row)
            return self._result(row, row.reference_id, attrs, did, **extra)
        if what == convergence.UPDATE:
            try:
                return self._update(row, defn, cls, props, data, metadata,
                                    decision, needed)
            except exception.UpdateReplace:
                what = convergence.update_replaced(decision).action
        if what == convergence.REPLACE:
            row = self._replacement_row(row, defn)
        return self._create(row, defn, cls, props, data, metadata, needed,
                            replaced=(what == convergence.REPLACE))

    def _done_before(self, row):
        """What this operation had already done to a row that needs nothing
        more: an earlier run of this atom may have created it (or created
        it as a replacement, or updated it in place) and died before
        TaskFlow recorded its result, and a rollback must still undo that.
        Only this traversal's actions leave its id on the row; a create
        leaves ``CREATE`` there, an update ``UPDATE`` and its before-image
        (written before the plugin acted)."""
        if row.traversal != self.op["traversal"]:
            return "none", {}
        before = own_before_image(row, self.op["traversal"])
        if row.action == "UPDATE" and before is not None:
            return "update", {"before": before}
        if row.action != "CREATE":
            return "none", {}
        if row.replaces is not None:
            return "replace", {"replaces": row.replaces}
        return "create", {}

    def _current_row(self, row=None):
        """The incarnation this operation works on: the planned row, or a
        replacement of it that this same traversal already made (when the
        atom is re-executed after its engine died)."""
        if row is None:
            row = self.store.get_resource(self.row_id)
        while row is not None and row.replaced_by is not None:
            nxt = self.store.get_resource(row.replaced_by)
            if nxt is None or nxt.traversal != self.op["traversal"]:
                break
            row = nxt
        return row

    def _plugin_changed(self, row, defn, cls):
        """Is the row's plugin class (its type as the template it was
        last converged to resolves it) another than ``cls``?  Then it is
        replaced.  Heat compares classes, not type names: a type changed to
        another name of the same class (an alias, or a second registered
        name) keeps the resource."""
        if row.type == defn.type and \
                row.template_id in (None, self.op["template_id"]):
            return False
        try:
            return self.class_of(row) is not cls
        except exception.HeatflowError:
            return True

    def _decide(self, row, defn, cls, props, data, metadata):
        """The convergence rules' decision for the row; the plugin is
        asked only what the rules need of it."""
        return convergence.decide(
            row, defn.type, data, metadata, cls.properties_schema,
            cls.strict_properties,
            plugin_changed=lambda: self._plugin_changed(row, defn, cls),
            replace_failed=lambda: self.plugin(
                cls, defn, props, row, metadata,
                row.action).needs_replace_failed(),
            resumed=row.lock_traversal == self.op["traversal"])

    def _replacement_row(self, row, defn):
        """A new INIT incarnation that replaces ``row``; the original stays
        until clean-up (or is restored by a rollback)."""
        store, op = self.store, self.op
        ids = store.insert_resources(self.fence, [{
            "name": defn.name, "type": defn.type,
            "requires": list(row.requires or []), "replaces": row.id,
            "traversal": op["traversal"],
            "physical_name": resource_mod.physical_name(op["stack_name"],
                                                        defn.name)}])
        if ids is None:
            raise _Superseded()
        linked = store.set_resource_fields(row.id, self.fence,
                                           replaced_by=ids[0])
        new = store.get_resource(ids[0])
        if not linked or new is None:
            # The operation moved on between the statements (a chaos soak
            # trial saw the new row gone): only a newer operation, or a
            # newer run of this one, does that.
            raise _Superseded()
        return new

    def _create(self, row, defn, cls, props, data, metadata, needed,
                replaced=False):
        failed = row if row.action == "CREATE" and \
            row.status == "FAILED" and row.physical_resource_id is None \
            else None
        # The properties go on the row with the lock: if the create fails
        # or its engine dies, its delete is given what it was made from.
        row = self.acquire(row.id, "CREATE", requires=self._requires,
                           properties=data)
        if row is None:
            raise _Superseded()
        if failed is not None:
            self._discard_failed_create(defn, failed)
        return self._run_create(row, defn, cls, props, data, metadata,
                                needed, replaced)

    def _discard_failed_create(self, defn, failed):
        """Before creating again an incarnation whose create failed with no
        physical id recorded -- its engine may have died after the cloud
        made it, maybe from another template -- delete what that create
        may have left, as its plugin finds it (by name) from the
        properties it was started with.  Heat replaces such a resource;
        heatflow creates it again in place, after this: a replacement
        could find the same resource by a user-given name and clean-up
        then delete it (docs/semantics.rst)."""
        try:
            plugin = self.plugin_to_delete(self.class_of(failed), defn,
                                           failed)
        except exception.HeatflowError:
            return
        if plugin is not None:
            self._discard_attempt(plugin)

    def _run_create(self, row, defn, cls, props, data, metadata, needed,
                    replaced=False):
        """Create, with the row's lock taken."""
        plugin = self.plugin(cls, defn, props, row, metadata, "CREATE")
        timeout = defn.timeout or cls.default_timeout
        try:
            plugin.validate()
            self.run_action(plugin, row, "CREATE", timeout=timeout,
                            retries=defn.retries)
            attrs = self._attributes(plugin, needed)
            ref = plugin.get_reference_id()
        except _Superseded:
            raise
        except Exception as exc:
            return self._fail(row, "CREATE", exc)
        self._finish(row, "CREATE", data, metadata, attrs, ref)
        return self._result(row, ref, attrs,
                            "replace" if replaced else "create",
                            replaces=row.replaces)

    def _update(self, row, defn, cls, props, data, metadata, decision,
                needed):
        # Recorded with the lock, before the plugin acts: what a rollback
        # restores, even if this atom's result dies with its process.
        before = before_image(row, self.op["traversal"])
        # Until the update is done the resource may still depend on what it
        # used to, so it keeps both (Heat's rule): clean-up stays safe if
        # the update fails half way.
        row = self.acquire(row.id, "UPDATE", requires=sorted(
            set(row.requires or []) | set(self._requires)),
            before_image=before)
        if row is None:
            raise _Superseded()
        plugin = self.plugin(cls, defn, props, row, metadata, "UPDATE")
        prop_diff = decision.prop_diff
        tmpl_diff = {}
        if prop_diff:
            tmpl_diff["Properties"] = data
        if decision.metadata_changed:
            tmpl_diff["Metadata"] = metadata
        timeout = defn.timeout or cls.default_timeout
        try:
            # Asked with the lock taken, as Heat asks inside its update.
            verdict = convergence.plugin_verdict(
                decision, lambda: plugin.needs_replace_with_prop_diff(
                    set(prop_diff), props, row.properties or {}))
            if verdict.action == convergence.REPLACE:
                raise exception.UpdateReplace(defn.name)
            self.run_action(plugin, row, "UPDATE",
                            (defn, tmpl_diff, prop_diff), timeout=timeout,
                            retries=defn.retries)
            attrs = self._attributes(plugin, needed)
            ref = plugin.get_reference_id()
        except exception.UpdateReplace:
            # Not an outcome the user sees: release the row unchanged and
            # replace it instead.
            self.store.finish_resource(
                row.id, self.fence,
                before_action(row), "COMPLETE", "replacing")
            raise
        except _Superseded:
            raise
        except Exception as exc:
            return self._fail(row, "UPDATE", exc)
        self._finish(row, "UPDATE", data, metadata, attrs, ref,
                     replaced_by=None, type=defn.type)
        return self._result(row, ref, attrs, "update", before=before)

    def _attributes(self, plugin, names):
        return {_attr_key(n): _json_attribute(plugin, n) for n in names}

    def _finish(self, row, action, data, metadata, attrs, ref, **fields):
        ok = self.store.finish_resource(
            row.id, self.fence, action, "COMPLETE", "state changed",
            template_id=self.op["template_id"],
            properties=data, rsrc_metadata=metadata, attributes=attrs,
            reference_id=None if ref is None else str(ref),
            requires=self._requires, **fields)
        if not ok:
            raise _Superseded()

    def _result(self, row, ref, attrs, did, **extra):
        result = {"ref": ref, "attrs": attrs, "row": row.id, "did": did}
        result.update(extra)
        return result

    def _fail(self, row, action, exc):
        if isinstance(exc, exception.EngineStorageError):
            return self.engine_failed(exc)
        msg = _message(exc)
        LOG.info("resource %s %s failed: %s", self.resource_name, action, msg)
        op = self.op
        if row.lock_run == self.fence.run or \
                self.acquire(row.id, action) is not None:
            self.store.finish_resource(row.id, self.fence, action,
                                       "FAILED", msg)
        reason = "Resource %s failed: %s: %s" % (action, self.resource_name,
                                                 msg)
        self.stack_failed(reason)
        if op.get("rollback"):
            raise exception.ResourceFailure(self.resource_name, action, msg)
        self.halt()
        return _failed_marker(reason)

    # -- revert (rollback) ------------------------------------------------

    def revert(self, result, flow_failures=None, **inputs):
        try:
            self._revert(result, inputs)
        except _Superseded:
            self.halt()

    def _attempted(self, inputs):
        """The properties this atom tried to apply (None if they cannot be
        worked out)."""
        try:
            defn = self.definition().resources[self.resource_name]
            refs, get_attr = self._inputs(inputs)
            return defn.resolve_properties(refs, get_attr)
        except Exception:
            return None

    def _revert(self, result, inputs):
        op, store = self.op, self.store
        if isinstance(result, tf_failure.Failure) or result is None or \
                (_halted(result) and result["halt"] == "failed"):
            # This atom itself failed: undo whatever it left behind.
            row = self._current_row()
            if row is None:
                return
            if row.traversal == op["traversal"] and \
                    row.action in ("INIT", "CREATE"):
                self._undo_create(row)
                if row.replaces is not None:
                    store.set_resource_fields(row.replaces, self.fence,
                                              replaced_by=None)
            elif row.action == "UPDATE" and row.traversal == op["traversal"]:
                # The plugin may have applied part of the change before it
                # failed: update back from what was attempted.
                self._undo_update(row, None, self._attempted(inputs))
            return
        if _halted(result):
            return
        did = result["did"]
        row = store.get_resource(result["row"])
        if row is None:
            return
        if did in ("create", "replace"):
            self._undo_create(row)
            if did == "replace" and result.get("replaces") is not None:
                store.set_resource_fields(result["replaces"], self.fence,
                                          replaced_by=None)
        elif did == "update":
            self._undo_update(row, result["before"])

    def _undo_create(self, row):
        """Delete an incarnation this operation created, and forget it."""
        store = self.store
        if convergence.cleanup(row) == convergence.FORGET:
            store.purge_resource(row.id, self.fence)
            return
        defn = self.definition().resources.get(row.name)
        cls = self.class_of(row)
        row = self.acquire(row.id, "DELETE", "rollback")
        if row is None:
            return
        try:
            plugin = self.plugin_to_delete(cls, defn, row)
            if plugin is not None:
                self.run_action(plugin, row, "DELETE", stack_bound=False)
        except _Superseded:
            raise
        except Exception as exc:
            store.finish_resource(row.id, self.fence,
                                  "DELETE", "FAILED", _message(exc))
            raise
        store.finish_delete(row.id, self.fence, "rollback")

    def _undo_update(self, row, before, attempted=None):
        """Update a resource back to the properties it had before, and
        read again what its dependents read of it."""
        op, store = self.op, self.store
        if before is None:
            # The update failed: its before-image is on the row (or, if it
            # failed before taking the lock, the row is still as it was).
            before = own_before_image(row, op["traversal"]) or \
                before_image(row, op["traversal"])
        old_template = before["template_id"] or op["template_id"]
        defn = self.definition(old_template).resources.get(row.name) \
            if old_template else None
        cls = self.class_of(row)
        forward = self._update_in_flight(row)
        # If a dead run's update of this row is still in flight, this
        # starts the update back rather than finishing that one.
        row = self.acquire(row.id, "UPDATE", "rollback", undoing=True)
        if row is None:
            return
        current = attempted if attempted is not None else \
            (row.properties or {})
        if forward is not None:
            self._let_finish(cls, defn, row, forward, current)
        target = before["properties"] or {}
        props = properties_mod.Properties(cls.properties_schema, target,
                                          strict=False)
        plugin = self.plugin(cls, defn, props, row, before["metadata"],
                             "UPDATE")
        diff = properties_mod.diff(current, target)
        try:
            self.run_action(plugin, row, "UPDATE",
                            (defn, {"Properties": target}, diff),
                            stack_bound=False)
        except _Superseded:
            raise
        except Exception as exc:
            store.finish_resource(row.id, self.fence,
                                  "UPDATE", "FAILED", _message(exc))
            raise
        attrs, ref = self._read_back(plugin, row, before)
        store.finish_resource(row.id, self.fence,
                              "UPDATE", "COMPLETE", "rollback",
                              properties=target,
                              rsrc_metadata=before["metadata"],
                              template_id=before["template_id"],
                              attributes=attrs, reference_id=ref,
                              type=before.get("type", row.type))

    def _update_in_flight(self, row):
        """The token of this operation's own update of ``row`` that a run
        which died left in flight, or None."""
        if (row.action, row.status) == ("UPDATE", "IN_PROGRESS") and \
                row.lock_traversal == self.op["traversal"] and \
                row.status_reason != "rollback":
            return row.action_token
        return None

    def _let_finish(self, cls, defn, row, token, current):
        """Poll a dead run's update of ``row`` to its end before updating
        back: the cloud may refuse a second update while one is in flight,
        or apply the two out of order.  How it ends does not matter (the
        update back follows either way)."""
        props = properties_mod.Properties(cls.properties_schema, current,
                                          strict=False)
        plugin = self.plugin(cls, defn, props, row, None, "UPDATE")
        timeout = (defn.timeout if defn is not None else None) or \
            cls.default_timeout
        try:
            driver.run(plugin, "UPDATE",
                       deadline=self.deadline("UPDATE", timeout,
                                              stack_bound=False)[0],
                       poll=self.rt.poll_interval, resume_token=token,
                       resuming=True, taken_over=self.taken_over)
        except exception.Superseded:
            raise _Superseded()
        except Exception as exc:
            LOG.info("%s: the interrupted update ended with %s; updating "
                     "back", row.name, _message(exc))

    def _read_back(self, plugin, row, before):
        """(attributes, reference id) of a resource updated back: read
        again from the plugin, the attributes its dependents read (the
        ones the undone update recorded), so that nothing read after the
        rollback comes from the undone action.  If the plugin cannot say,
        the before-image's."""
        names = [None if k == "*" else k for k in (row.attributes or {})]
        try:
            attrs = self._attributes(plugin, names)
            ref = plugin.get_reference_id()
        except Exception as exc:
            LOG.warning("could not read %s back after its rollback (%s); "
                        "keeping what it had before", row.name, exc)
            return before.get("attributes"), before.get("reference_id")
        return attrs, None if ref is None else str(ref)


def before_image(row, traversal):
    """What an update in place by ``traversal`` changes of a row, as it is
    now."""
    return {"properties": row.properties, "metadata": row.rsrc_metadata,
            "template_id": row.template_id, "type": row.type,
            "attributes": row.attributes, "reference_id": row.reference_id,
            "traversal": traversal}


def own_before_image(row, traversal):
    """The before-image ``traversal``'s update in place recorded on the
    row, or None (it made none: an older one's is not its to undo)."""
    image = row.before_image
    if image is not None and image.get("traversal") == traversal:
        return image
    return None


def before_action(row):
    """The action a row showed before the current lock was taken."""
    return "UPDATE" if row.template_id is not None else "CREATE"


def _json_attribute(plugin, name):
    """An attribute's value, checked to be JSON (what the flow and the
    database carry): otherwise the resource fails with an error that names
    it, not with the database's statement."""
    value = plugin.get_attribute(name)
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise exception.PluginError(
            "attribute %r of resource %s is not JSON-serialisable (%s): "
            "a plugin's attribute values must be JSON data"
            % (_attr_key(name), plugin.name, exc)) from None
    return value


def _attr_key(name):
    """Attribute values travel in JSON: ``None`` (all attributes) needs a
    string key."""
    return "*" if name is None else name


def _gathered(values):
    """Merge what a group of atoms provided: resources' results (their
    rows), clean-up results, halt markers and earlier gatherings."""
    rows, failed, superseded = [], [], False
    for v in values:
        if v is None:
            continue
        if "gathered" in v:
            rows.extend(v["rows"])
            failed.extend(v["failed"])
            superseded = superseded or v["superseded"]
        elif v.get("halt") == "superseded":
            superseded = True
        elif v.get("halt") == "failed":
            failed.append(v["reason"])
        elif "row" in v:
            rows.append(v["row"])
    return {"gathered": True, "rows": rows, "failed": failed,
            "superseded": superseded}


class Gather(_Atom):
    """Collects the results of up to FAN_IN atoms for a barrier.

    A barrier requiring every resource directly would make TaskFlow check
    all its predecessors each time one of them completes: O(N) per atom,
    O(N^2) per operation.  Barriers are fed through a tree of these
    instead (see compiler.build_flow), so each completion checks a few."""

    def __init__(self, op, name, requires):
        # Volatile: not recorded (a pure function of recorded inputs, run
        # again on resume); see persistence/taskflow_backend.py.
        super().__init__(op, VOLATILE_PREFIX + name, provides=name,
                         requires=requires)

    def execute(self, **inputs):
        return _gathered(inputs.values())


class Converged(_Atom):
    """Barrier: every resource of the target template has converged."""

    def __init__(self, op, requires):
        super().__init__(op, "converged", provides="converged",
                         requires=requires)

    def execute(self, **inputs):
        try:
            self.gate()
        except _Superseded:
            self.halt()
            return SUPERSEDED
        got = _gathered(inputs.values())
        if got["superseded"]:
            return SUPERSEDED
        if got["failed"]:
            return _failed_marker(got["failed"][0])
        if not self.store.enter_cleanup(self.fence, self.op["action"]):
            self.gate()          # raises: rollback requested, or superseded
            self.halt()
            return SUPERSEDED
        return {"rows": sorted(got["rows"])}


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
                        self.row_id, self.op["stack_name"], _message(exc))
            row = self.store.get_resource(self.row_id)
            if row is None:
                return {"deleted": self.row_id}
            return self._failed(row, exc)

    def _failed(self, row, exc):
        """Record the row's delete failed (if this run holds its lock) and
        tell the finish atom why."""
        msg = _message(exc)
        self.store.finish_resource(row.id, self.fence, "DELETE", "FAILED",
                                   msg)
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
        row = self.acquire(row.id, "DELETE")
        if row is None:
            return {"deleted": self.row_id}
        timeout = (defn.timeout if defn is not None else None) or \
            cls.default_timeout
        try:
            self.check_stack_deadline()
            plugin = self.plugin_to_delete(cls, defn, row)
            if plugin is not None:
                self.run_action(plugin, row, "DELETE", timeout=timeout,
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


class FinishStack(_Atom):
    """Resolve the outputs and record the operation's outcome."""

    def __init__(self, op, cleaned, output_refs):
        super().__init__(op, "finish", provides="finished",
                         requires=["converged"] + list(cleaned) +
                         ["ref:" + n for n in output_refs])

    def execute(self, converged, **inputs):
        op, store = self.op, self.store
        if _halted(converged) and converged.get("halt") == "superseded":
            return SUPERSEDED
        try:
            self.gate()
        except _Superseded:
            return SUPERSEDED
        cleanup = _gathered(v for k, v in inputs.items()
                            if not k.startswith("ref:"))
        if cleanup["superseded"]:
            return SUPERSEDED
        failures = cleanup["failed"]
        if failures or _halted(converged):
            reason = failures[0] if failures else converged.get("reason")
            store.set_stack_state(self.fence,
                                  op["action"], "FAILED", reason)
            return {"status": "FAILED"}
        if op["action"] == "DELETE":
            store.mark_stack_deleted(self.fence)
            return {"status": "COMPLETE"}
        refs = {k[4:]: v["ref"] for k, v in inputs.items()
                if k.startswith("ref:")}
        attrs = {k[4:]: v["attrs"] for k, v in inputs.items()
                 if k.startswith("ref:")}
        stack_def = self.definition()
        outputs = {} if stack_def is None else stack_def.resolve_outputs(
            refs, lambda r, a: attrs.get(r, {}).get(_attr_key(a)))
        store.set_stack_state(
            self.fence, op["action"], "COMPLETE",
            "Stack %s completed successfully" % op["action"],
            outputs=outputs, prev_template_id=op["template_id"])
        return {"status": "COMPLETE"}
