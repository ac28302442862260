"""Undoing what a converge atom did, when TaskFlow reverts its flow (a
rollback): delete what it created, update back what it updated in place
(from the before-image the update wrote on the row), keep the original of
a replacement.
"""

import logging

from taskflow.types import failure as tf_failure

from heatflow import exception
from heatflow import properties as properties_mod
from heatflow import plugin_factory
from heatflow import states
from heatflow.flows import convergence
from heatflow.flows import driver
from heatflow.flows.atoms import _halted, _message
from heatflow.flows.guard import _Superseded

LOG = logging.getLogger(__name__)


class Undo:
    """The revert of :class:`heatflow.flows.converge.ConvergeResource` (a
    mixin: it gives the atom's state and its plugin and lock helpers)."""

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
            if row.traversal == op.traversal and \
                    row.action in ("INIT", "CREATE"):
                if row.replaces is not None:
                    self._restore_original(row.replaces)
                self._undo_create(row)
                if row.replaces is not None:
                    store.set_resource_fields(row.replaces, self.fence,
                                              replaced_by=None)
            elif row.action == "UPDATE" and row.traversal == op.traversal:
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
            if did == "replace" and result.get("replaces") is not None:
                self._restore_original(result["replaces"])
            self._undo_create(row)
            if did == "replace" and result.get("replaces") is not None:
                store.set_resource_fields(result["replaces"], self.fence,
                                          replaced_by=None)
        elif did == "update":
            self._undo_update(row, result["before"])

    def _restore_original(self, original_id):
        """Heat's ``restore_prev_rsrc(convergence=True)``, on the original
        of a replacement this rollback is about to delete: it undoes what
        its ``prepare_for_replace`` did (the replacement still exists:
        the plugin's ``replaced_by`` is its row).  Only for a plugin that
        overrides it.  If it raises, the original is UPDATE_FAILED with
        its message and the rollback fails there, replacement kept, as in
        Heat."""
        row = self.store.get_resource(original_id)
        if row is None or row.replaced_by is None:
            return
        try:
            self.restore_prev_rsrc(row)
        except _Superseded:
            raise
        except Exception as exc:
            held = self.acquire(row.id, states.UPDATE, "rollback")
            if held is not None:
                self.store.finish_resource(
                    row.id, self.fence, states.UPDATE, states.FAILED,
                    _message(exc), driver.failure_detail(exc))
            raise

    def restore_prev_rsrc(self, row):
        """Call the hook on ``row``'s plugin as recorded, if its plugin
        overrides it; exceptions are the caller's."""
        cls = self.class_of(row)
        if not plugin_factory.overrides(cls, "restore_prev_rsrc"):
            return
        plugin = self.plugin_as_recorded(cls, self._built_from(row), row,
                                         row.action)
        # Heat's attribute: the row of the incarnation that replaced it.
        plugin.replaced_by = row.replaced_by
        try:
            plugin.restore_prev_rsrc(convergence=True)
        except exception.Superseded:
            raise _Superseded()

    def _undo_create(self, row):
        """Delete an incarnation this operation created, and forget it."""
        store = self.store
        if convergence.cleanup(row) == convergence.FORGET:
            store.purge_resource(row.id, self.fence)
            return
        defn = self.definition().resources.get(row.name)
        cls = self.class_of(row)
        row = self.acquire(row.id, states.DELETE, "rollback")
        if row is None:
            return
        try:
            plugin = self.plugin_to_delete(cls, defn, row)
            if plugin is not None:
                self.run_action(plugin, row, states.DELETE, stack_bound=False)
        except _Superseded:
            raise
        except Exception as exc:
            store.finish_resource(row.id, self.fence,
                                  states.DELETE, states.FAILED, _message(exc),
                                  driver.failure_detail(exc))
            raise
        store.finish_delete(row.id, self.fence, "rollback")

    def _undo_update(self, row, before, attempted=None):
        """Update a resource back to the properties it had before, and
        read again what its dependents read of it."""
        op, store = self.op, self.store
        if before is None:
            # The update failed: its before-image is on the row (or, if it
            # failed before taking the lock, the row is still as it was).
            before = own_before_image(row, op.traversal) or \
                before_image(row, op.traversal)
        old_template = before["template_id"] or op.template_id
        defn = self.definition(old_template).resources.get(row.name) \
            if old_template else None
        cls = self.class_of(row)
        forward = self._update_in_flight(row)
        # If a dead run's update of this row is still in flight, this
        # starts the update back rather than finishing that one.
        row = self.acquire(row.id, states.UPDATE, "rollback", undoing=True)
        if row is None:
            return
        current = attempted if attempted is not None else \
            (row.properties or {})
        if forward is not None:
            self._let_finish(cls, defn, row, forward, current)
        target = before["properties"] or {}
        props = plugin_factory.properties_for(
            cls, row.name, target, validate=False, strict=False,
            ignore_errors=True)
        plugin = self.plugin(cls, defn, props, row, before["metadata"],
                             states.UPDATE)
        # Compared as the engine decides (translated, no client lookups);
        # the values as the plugin sees them.
        same = plugin_factory.comparable(cls, row.name)
        diff = {k: props.data.get(k)
                for k in properties_mod.diff(same(current), same(target))}
        try:
            self.run_action(plugin, row, states.UPDATE,
                            (plugin.t, {"Properties": target}, diff),
                            stack_bound=False)
        except _Superseded:
            raise
        except Exception as exc:
            store.finish_resource(row.id, self.fence,
                                  states.UPDATE, states.FAILED, _message(exc),
                                  driver.failure_detail(exc))
            raise
        attrs, ref = self._read_back(plugin, row, before)
        store.finish_resource(row.id, self.fence,
                              states.UPDATE, states.COMPLETE, "rollback",
                              properties=target,
                              rsrc_metadata=before["metadata"],
                              template_id=before["template_id"],
                              attributes=attrs, reference_id=ref,
                              type=before.get("type", row.type))

    def _update_in_flight(self, row):
        """The token of this operation's own update of ``row`` that a run
        which died left in flight, or None."""
        if row.action == states.UPDATE and \
                row.status == states.IN_PROGRESS and \
                row.lock_traversal == self.op.traversal and \
                row.status_reason != "rollback":
            return row.action_token
        return None

    def _let_finish(self, cls, defn, row, token, current):
        """Poll a dead run's update of ``row`` to its end before updating
        back: the cloud may refuse a second update while one is in flight,
        or apply the two out of order.  How it ends does not matter (the
        update back follows either way)."""
        props = plugin_factory.properties_for(
            cls, row.name, current, validate=False, strict=False,
            ignore_errors=True)
        plugin = self.plugin(cls, defn, props, row, None, states.UPDATE)
        timeout = (defn.timeout if defn is not None else None) or \
            cls.default_timeout
        try:
            driver.run(plugin, states.UPDATE,
                       deadline=self.deadline(states.UPDATE, timeout,
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
    return states.UPDATE if row.template_id is not None else states.CREATE
