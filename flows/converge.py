"""Converging one resource: the atom that brings a resource to its
definition in the target template -- create, update in place, replace, or
leave alone, as flows/convergence.py decides from the recorded row -- and
records the outcome; its revert is flows/undo.py.
"""

import logging

from heatflow import exception
from heatflow import plugin_factory
from heatflow import resource as resource_mod
from heatflow import states
from heatflow.flows import convergence
from heatflow.flows import driver
from heatflow.flows.atoms import (SUPERSEDED, _Atom, _attr_key,
                                  _failed_marker, _halted, _json_attribute,
                                  _message)
from heatflow.flows.guard import _Superseded
from heatflow.flows.undo import Undo, before_action, before_image, \
    own_before_image

LOG = logging.getLogger(__name__)


class ConvergeResource(Undo, _Atom):
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
            return self._fail(row, states.CREATE if row.action == states.INIT
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
        # What self.stack[...] of its plugins knows without a query.
        self.known_inputs = (refs, get_attr)
        data = defn.resolve_properties(refs, get_attr)
        metadata = defn.resolve_metadata(refs, get_attr)
        props = plugin_factory.properties_for(cls, defn.name, data)
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
        if not self.fresh or self.op.action == "ROLLBACK" or \
                self.rt.is_fenced(self.op.run) or \
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
        row = self.store.acquire_fresh(self.row_id, self.fence, states.CREATE,
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
            return self._fail(row, states.CREATE if row.action == states.INIT
                              else states.UPDATE, exc)
        if self.op.action == states.ROLLBACK and row.replaced_by is not None:
            # A rollback converging back to the original of a replacement
            # restores it first (Heat's update_convergence); the
            # replacement is deleted in clean-up.
            failed = self._hook_before_update(self.restore_prev_rsrc, row)
            if failed is not None:
                return failed
        needed = stack_def.attribute_refs(self.resource_name)
        # The incarnations this one depends on now; the row records them
        # so that clean-up deletes dependents before what they depend on.
        self._requires = sorted(v["row"] for v in inputs.values())
        decision = self._decide(row, defn, cls, props, data, metadata)
        if decision.fails:
            # An immutable property changed: this resource's failure,
            # reported as such (and reverted only if rollback is enabled).
            keys = decision.keys
            return self._fail(row, states.UPDATE, exception.ResourceFailure(
                defn.name, states.UPDATE,
                "%s %s %s immutable and cannot change"
                % ("property" if len(keys) == 1 else "properties",
                   ", ".join(keys), "is" if len(keys) == 1 else "are")))
        what = decision.action
        if what == convergence.NONE:
            attrs = dict(row.attributes or {})
            missing = [a for a in needed if _attr_key(a) not in attrs]
            if missing:
                plugin = self.plugin(cls, defn, props, row, metadata,
                                     states.CREATE)
                attrs.update(self._attributes(plugin, missing))
            links = {}
            if row.replaced_by is not None:
                links["replaced_by"] = None
            if list(row.requires or []) != self._requires:
                links["requires"] = self._requires
            if row.template_id != self.op.template_id:
                # Converged to this template (what clean-up reads the
                # deletion policy from, for one).
                links["template_id"] = self.op.template_id
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
            failed = self._hook_before_update(self._prepare_for_replace, row)
            if failed is not None:
                return failed
            row = self._replacement_row(row, defn)
        return self._create(row, defn, cls, props, data, metadata, needed,
                            replaced=(what == convergence.REPLACE))

    def _hook_before_update(self, hook, row):
        """Run a Heat hook that precedes an update of ``row`` (its
        replacement, or its restoring by a rollback); an exception from
        it fails the resource's update: that failure's result, else
        None."""
        try:
            hook(row)
        except _Superseded:
            raise
        except Exception as exc:
            return self._fail(row, states.UPDATE, exc)
        return None

    def _done_before(self, row):
        """What this operation had already done to a row that needs nothing
        more: an earlier run of this atom may have created it (or created
        it as a replacement, or updated it in place) and died before
        TaskFlow recorded its result, and a rollback must still undo that.
        Only this traversal's actions leave its id on the row; a create
        leaves ``CREATE`` there, an update ``UPDATE`` and its before-image
        (written before the plugin acted)."""
        if row.traversal != self.op.traversal:
            return "none", {}
        before = own_before_image(row, self.op.traversal)
        if row.action == "UPDATE" and before is not None:
            return "update", {"before": before}
        if row.action != states.CREATE:
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
            if nxt is None or nxt.traversal != self.op.traversal:
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
                row.template_id in (None, self.op.template_id):
            return False
        try:
            return not plugin_factory.same_class(self.class_of(row), cls)
        except exception.HeatflowError:
            return True

    def _decide(self, row, defn, cls, props, data, metadata):
        """The convergence rules' decision for the row; the plugin is
        asked only what the rules need of it."""
        def make_plugin():
            return self.plugin(cls, defn, props, row, metadata, row.action)
        return convergence.decide(
            row, defn.type, data, metadata, cls.properties_schema,
            cls.strict_properties,
            plugin_changed=lambda: self._plugin_changed(row, defn, cls),
            replace_failed=lambda: make_plugin().needs_replace_failed(),
            resumed=row.lock_traversal == self.op.traversal,
            translate=plugin_factory.comparable(cls, defn.name),
            update_allowed=getattr(cls, "update_allowed_properties", ()),
            needs_update=convergence.needs_update_question(
                cls, defn.name, make_plugin, defn, self._built_from(row),
                data, row.properties))

    def _built_from(self, row):
        """The definition ``row`` was last converged to, or None."""
        if row.template_id is None:
            return None
        try:
            return self.definition(row.template_id).resources.get(row.name)
        except Exception:
            return None

    def _prepare_for_replace(self, row):
        """Heat's hook on the incarnation about to be replaced, before its
        replacement is created: a plugin whose physical name must be
        unique (OS::Nova::KeyPair) frees it.  Only for a plugin that
        overrides it, and only for an incarnation with a physical id."""
        if row.physical_resource_id is None:
            return
        cls = self.class_of(row)
        if not plugin_factory.overrides(cls, "prepare_for_replace"):
            return
        self.plugin_as_recorded(cls, self._built_from(row), row,
                                row.action).prepare_for_replace()

    def _replacement_row(self, row, defn):
        """A new INIT incarnation that replaces ``row``; the original stays
        until clean-up (or is restored by a rollback)."""
        store, op = self.store, self.op
        ids = store.insert_resources(self.fence, [{
            "name": defn.name, "type": defn.type,
            "requires": list(row.requires or []), "replaces": row.id,
            "traversal": op.traversal,
            "physical_name": resource_mod.physical_name(op.stack_name,
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
        failed = row if row.action == states.CREATE and \
            row.status == states.FAILED and row.physical_resource_id is None \
            else None
        # The properties go on the row with the lock: if the create fails
        # or its engine dies, its delete is given what it was made from.
        row = self.acquire(row.id, states.CREATE, requires=self._requires,
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
        plugin = self.plugin(cls, defn, props, row, metadata, states.CREATE)
        timeout = defn.timeout or cls.default_timeout
        try:
            plugin.validate()
            self.run_action(plugin, row, states.CREATE, timeout=timeout,
                            retries=defn.retries)
            attrs = self._attributes(plugin, needed)
            ref = plugin.get_reference_id()
        except _Superseded:
            raise
        except Exception as exc:
            return self._fail(row, states.CREATE, exc)
        self._finish(row, states.CREATE, data, metadata, attrs, ref)
        # (A row that replaces another is a replacement even when this is
        # a run that took over, finishing its create: its revert must
        # give the original its place back.)
        replaced = replaced or row.replaces is not None
        return self._result(row, ref, attrs,
                            "replace" if replaced else "create",
                            replaces=row.replaces)

    def _update(self, row, defn, cls, props, data, metadata, decision,
                needed):
        # Recorded with the lock, before the plugin acts: what a rollback
        # restores, even if this atom's result dies with its process.
        before = before_image(row, self.op.traversal)
        # Until the update is done the resource may still depend on what it
        # used to, so it keeps both (Heat's rule): clean-up stays safe if
        # the update fails half way.
        row = self.acquire(row.id, states.UPDATE, requires=sorted(
            set(row.requires or []) | set(self._requires)),
            before_image=before)
        if row is None:
            raise _Superseded()
        plugin = self.plugin(cls, defn, props, row, metadata, states.UPDATE)
        # The changed properties as the plugin sees them (translated with
        # its client lookups: the decision compared them without).
        prop_diff = {k: props.data.get(k) for k in decision.prop_diff}
        tmpl_diff = {}
        if prop_diff:
            tmpl_diff["Properties"] = data
        if decision.metadata_changed:
            tmpl_diff["Metadata"] = metadata
        timeout = defn.timeout or cls.default_timeout
        try:
            if plugin_factory.validates_itself(cls):
                # (not done by properties_for; reparse() may have retyped)
                plugin.properties.validate()
            # Asked with the lock taken, as Heat asks inside its update.
            verdict = convergence.plugin_verdict(
                decision, lambda: plugin.needs_replace_with_prop_diff(
                    set(prop_diff), props, row.properties or {}))
            if verdict.action == convergence.REPLACE:
                raise exception.UpdateReplace(defn.name)
            self.run_action(plugin, row, states.UPDATE,
                            (plugin.t, tmpl_diff, prop_diff), timeout=timeout,
                            retries=defn.retries)
            attrs = self._attributes(plugin, needed)
            ref = plugin.get_reference_id()
        except exception.UpdateReplace:
            # Not an outcome the user sees: release the row unchanged and
            # replace it instead.
            self.store.finish_resource(
                row.id, self.fence,
                before_action(row), states.COMPLETE, "replacing")
            raise
        except _Superseded:
            raise
        except Exception as exc:
            return self._fail(row, states.UPDATE, exc)
        self._finish(row, states.UPDATE, data, metadata, attrs, ref,
                     replaced_by=None, type=defn.type)
        return self._result(row, ref, attrs, "update", before=before)

    def _attributes(self, plugin, names):
        return {_attr_key(n): _json_attribute(plugin, n) for n in names}

    def _finish(self, row, action, data, metadata, attrs, ref, **fields):
        ok = self.store.finish_resource(
            row.id, self.fence, action, states.COMPLETE, "state changed",
            template_id=self.op.template_id,
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
                                       states.FAILED, msg,
                                       driver.failure_detail(exc))
        reason = "Resource %s failed: %s: %s" % (action, self.resource_name,
                                                 msg)
        self.stack_failed(reason)
        if op.rollback:
            raise exception.ResourceFailure(self.resource_name, action, msg)
        self.halt()
        return _failed_marker(reason)
