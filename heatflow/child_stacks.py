"""The engine's side of a nested stack: what a :class:`heatflow.
stack_resource.StackResource` asks of the process running its action.

Plugins see it as ``self.stack.child_stacks``.  Each call starts one
operation on a child stack through the process's
:class:`heatflow.lifecycle.Lifecycle` (so through its runner: this
process's pool, a detached worker's, or a job on the board for the
conductors) and returns at once; the resource polls :meth:`get`.

Child stacks are stacks like any other but for their owner: the public
API refuses to update, delete, roll back or act on one (only its parent's
resource does, through here), and lists it only when asked for nested
stacks.
"""

import collections

from heatflow import exception
from heatflow import plugin_factory
from heatflow import resource as resource_mod
from heatflow import stack_view

#: A child's place in its tree: the parent stack's id, the parent's
#: resource that holds it, its depth (the parent's plus one), and that
#: resource's facade (what the child's resource_facade reads).
Parent = collections.namedtuple("Parent", "owner_id resource depth facade",
                                defaults=(None,))


def serve(runtime, lifecycle):
    """Have the resources acting on ``runtime`` start their nested stacks'
    operations through ``lifecycle``."""
    runtime.use_child_stacks(ChildStacks(lifecycle))


class ChildStacks:
    def __init__(self, lifecycle):
        self.lifecycle = lifecycle
        self.store = lifecycle.db.store

    def create(self, *, owner_id, parent_resource, name, template, files,
               environment, timeout_mins, context, facade=None):
        """Start the child's create; Started.  Done again (an action
        resumed after a crash between the create and the recording of
        the child's id), it finds the child it started: one child per
        resource incarnation (``name`` is the incarnation's physical
        name)."""
        owner = self.store.get_stack_by_id(owner_id)
        try:
            existing = self.store.find_stack(name)
        except exception.StackNotFound:
            existing = None
        if existing is not None and existing.owner_id == owner_id and \
                existing.parent_resource == parent_resource:
            return self.lifecycle.started(existing)
        self.check_tree_size(owner, template)
        return self.lifecycle.create(
            name, template, files=files, timeout_mins=timeout_mins,
            disable_rollback=True, environment=environment,
            context=context,
            parent=Parent(owner_id, parent_resource, owner.nested_depth + 1,
                          facade))

    def update(self, child_id, *, template, files, environment,
               timeout_mins, context, facade=None):
        """Start the child's update to ``template`` (superseding whatever
        runs on it)."""
        row = self.store.get_stack_by_id(child_id)
        self.check_tree_size(row, template, replacing=child_id)
        return self.lifecycle.update(
            row.id, template, files=files, timeout_mins=timeout_mins,
            disable_rollback=True, environment=environment, context=context,
            by_parent=True, facade=facade)

    def check_tree_size(self, stack, template, replacing=None):
        """Refuse a child that would take its whole tree past
        ``Limits.max_resources`` (Heat counts max_resources_per_stack
        over the tree too); ``replacing``: the child being updated, whose
        tree the new template replaces."""
        limit = self.lifecycle.limits.max_resources
        root = stack
        while root.owner_id is not None:
            root = self.store.get_stack_by_id(root.owner_id)
        total = self.store.tree_resource_count(root.id)
        if replacing is not None:
            total -= self.store.tree_resource_count(replacing)
        added = len((template or {}).get("resources") or
                    (template or {}).get("Resources") or {})
        if total + added > limit:
            raise exception.RequestLimitExceeded(
                message="the stack %s and its nested stacks would hold %d "
                "resources, over the limit of %d (max_resources)"
                % (root.name, total + added, limit))

    def delete(self, child_id, context=None):
        """Start the child's delete; None when it is gone already."""
        row = self.get(child_id)
        if row is None or row.deleted_marker:
            return None
        return self.lifecycle.delete(row.id, context=context,
                                     by_parent=True)

    def act(self, child_id, action):
        """Start a check, suspend or resume of the child."""
        return self.lifecycle.act(child_id, action, by_parent=True)

    def cancel(self, child_id):
        """Stop the child's running create or update where it is (no
        rollback: its parent decides what happens next)."""
        try:
            self.lifecycle.cancel(child_id, rollback=False, by_parent=True)
        except (exception.ActionNotAllowed, exception.StackNotFound):
            pass        # settled meanwhile: nothing to stop

    def get(self, child_id):
        """The child's row (a deleted one too), or None."""
        try:
            return self.store.get_stack_by_id(child_id)
        except exception.StackNotFound:
            return None

    def outputs(self, child_id):
        """The child's output values, as its last operation resolved
        them (outputs that failed to resolve are left out)."""
        row = self.get(child_id)
        out = {}
        for key, entry in ((row.outputs if row is not None else None)
                           or {}).items():
            if isinstance(entry, dict) and entry.get("error") is None:
                out[key] = entry.get("value")
        return out

    def view(self, child_id):
        """The child, read-only, as a plugin sees a stack."""
        row = self.get(child_id)
        if row is None or row.deleted_marker:
            return None
        return stack_view.StackView(
            row.name, row.id,
            rows=lambda: self.store.list_resources(row.id),
            stack_row=lambda: row)

    def member_attribute(self, child_id, name, attribute):
        """Attribute ``attribute`` of the child's resource ``name`` (Heat's
        ``resource.NAME.ATTR`` of a template resource): as recorded when
        its action completed, else asked of its plugin as recorded (the
        child's own resources read only what they needed); None when the
        child or the resource is not there."""
        view = self.view(child_id)
        if view is None or name not in view:
            return None
        row = view._row(name)
        if row is None:
            return None
        recorded = row.attributes or {}
        if attribute in recorded:
            return recorded[attribute]
        if row.template_id is None:
            return None
        runtime = self.lifecycle.runtime
        stack_def = runtime.definition(row.template_id, view.name, view.id)
        cls = stack_def.registry.get_class(row.type)
        props = plugin_factory.recorded_properties(cls, row)
        storage = resource_mod.ResourceStorage(
            row.physical_resource_id, self.store.resource_data(row.id),
            row.physical_name)
        plugin = plugin_factory.make_plugin(
            cls, name, stack_def.resources.get(name), props, view,
            storage=storage, metadata=row.rsrc_metadata, action=row.action,
            status=row.status)
        return plugin.get_attribute(attribute)
