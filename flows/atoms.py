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

import collections
import json
import logging
import time

from oslo_utils import reflection
from taskflow import task

from heatflow import exception
from heatflow import registry
from heatflow import plugin_factory
from heatflow import stack_view
from heatflow import states
from heatflow.flows import driver
from heatflow.flows.guard import Guard, _Superseded
from heatflow.flows import orphans
from heatflow.flows import runtime as runtime_mod
from heatflow.persistence.taskflow_backend import VOLATILE_PREFIX

LOG = logging.getLogger(__name__)

# Results that tell downstream atoms not to act.
SUPERSEDED = {"halt": "superseded"}


def _halted(value):
    return isinstance(value, dict) and "halt" in value


def _failed_marker(reason):
    return {"halt": "failed", "reason": reason}


class _Atom(Guard, task.Task):
    def __init__(self, op, name, provides=None, requires=None):
        super().__init__(name=name, provides=provides,
                         requires=list(requires or ()))
        # op: the operation's header (flows/plan.py)
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
        return runtime_mod.get(self.op.runtime)

    @property
    def store(self):
        return self.rt.store

    def definition(self, template_id=None):
        template_id = template_id or self.op.template_id
        if template_id is None:
            return None
        return self.rt.definition(template_id, self.op.stack_name,
                                  self.op.stack_id)

    def class_of(self, row):
        """The plugin class of a recorded resource: its type as the
        environment of the template it was last converged to resolves it
        (type aliases may differ between templates); for one never
        converged (a failed create), as this operation's template does."""
        stack_def = self.definition(row.template_id)
        registry = stack_def.registry if stack_def is not None else None
        return (registry or self.rt.registry).get_class(row.type)

    def plugin(self, cls, defn, props, row, metadata=None, action=states.INIT):
        return plugin_factory.make_plugin(
            cls, row.name, defn, props, stack_view.for_atom(self),
            storage=driver.DbStorage(self.store, row, self.fence),
            metadata=metadata, action=action, status=states.IN_PROGRESS)

    def plugin_as_recorded(self, cls, defn, row, action):
        """The plugin of ``row`` for ``action``, with the properties and
        metadata it records (Heat's frozen properties): an action on a
        resource as it is, not as a template now says.  A failing
        translation rule gives the recorded data."""
        return self.plugin(cls, defn,
                           plugin_factory.recorded_properties(cls, row),
                           row, row.rsrc_metadata, action)

    def plugin_to_delete(self, cls, defn, row):
        """The plugin that deletes ``row`` (DELETE lock taken); None if it
        cannot be constructed and no physical resource is recorded (nothing
        to delete), else PluginError saying why.  A failing translation
        rule gives the recorded data rather than refuse the delete."""
        try:
            return self.plugin_as_recorded(cls, defn, row, states.DELETE)
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
                    row.status == states.IN_PROGRESS and
                    (row.action_token is not None or
                     (action == states.CREATE and
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
                    timeout_message=message, taken_over=self.taken_over,
                    sleep=lambda secs: self.rt.pause(self.op.run, secs))
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
                stack_deadline = self.op.deadline if stack_bound \
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
                if action == states.CREATE:
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
            driver.run(plugin, states.DELETE,
                       deadline=self.deadline(states.DELETE)[0],
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
        reason = "Stack %s failed: %s" % (self.op.action, exc)
        LOG.error("stack %s: %s", self.op.stack_name, reason)
        try:
            self.store.set_stack_state(self.fence, self.op.action,
                                       "FAILED", reason)
        except exception.EngineStorageError:
            pass
        self.rt.stop_starting_atoms(self.op.flow_uuid)
        return _failed_marker(reason)

    def stack_failed(self, reason):
        """Record the operation's failure on the stack; with rollback
        enabled, announce the rollback TaskFlow's revert will carry out."""
        self.store.fail_operation(self.fence, self.op.action, reason,
                                  self.op.rollback)


def _message(exc):
    if isinstance(exc, exception.ResourceFailure):
        return str(exc).split(": ", 1)[-1]
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (exception.HeatflowError, ValueError)):
        return text
    return "%s: %s" % (type(exc).__name__, text)


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
            "a plugin's attribute values must be JSON data (plugin %s)"
            % (_attr_key(name), plugin.name, exc,
               registry.plugin_name(type(plugin)))) from None
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
        if not self.store.enter_cleanup(self.fence, self.op.action):
            self.gate()          # raises: rollback requested, or superseded
            self.halt()
            return SUPERSEDED
        return {"rows": sorted(got["rows"])}


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
                                  op.action, "FAILED", reason)
            return {"status": "FAILED"}
        if op.action == "DELETE":
            store.mark_stack_deleted(self.fence)
            return {"status": states.COMPLETE}
        refs = {k[4:]: v["ref"] for k, v in inputs.items()
                if k.startswith("ref:")}
        attrs = {k[4:]: v["attrs"] for k, v in inputs.items()
                 if k.startswith("ref:")}
        stack_def = self.definition()
        outputs = {} if stack_def is None else stack_def.resolve_outputs(
            refs, lambda r, a: attrs.get(r, {}).get(_attr_key(a)))
        store.set_stack_state(
            self.fence, op.action, "COMPLETE",
            "Stack %s completed successfully" % op.action,
            outputs=outputs, prev_template_id=op.template_id)
        return {"status": "COMPLETE"}
