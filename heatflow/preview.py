"""Dry runs: what an operation would do, without doing anything.

:func:`plan` compares the recorded resource rows of a stack with the bound
target :class:`~heatflow.template.StackDefinition` and returns one entry per
resource::

    {"resource_name": "web", "resource_type": "Acme::Server",
     "action": "replace", "reason": "property flavor cannot be updated in
     place"}

``action`` is one of :data:`ACTIONS`.  The decisions are the engine's own:
:mod:`heatflow.flows.convergence` chooses the incarnation and decides, for
the dry run as for the engine; this module supplies what the rules ask
(properties resolved with the recorded reference ids and attributes of
existing resources, the plugin's answers) and words the outcome.  A
resource that will be created or replaced gets a placeholder reference, so
its dependents see their reference change.  Rows of resources no longer in
the template are deleted.

Pure functions: nothing here writes anything.  Reasons name properties,
never their values (a value may come from a hidden parameter).
"""

from heatflow import exception
from heatflow import plugin_factory
from heatflow import resource as resource_mod
from heatflow import stack_view
from heatflow import states
from heatflow.flows import convergence
from heatflow.template import topological_order

ACTIONS = (CREATE, UPDATE, REPLACE, DELETE, UNCHANGED, MAY_UPDATE) = (
    "create", "update", "replace", "delete", "unchanged", "may update")

FIELDS = ("resource_name", "resource_type", "action", "reason")

_MARK = "\x00heatflow-pending:"


def _placeholder(name, attr=None):
    """A value that stands for what a new incarnation of ``name`` will
    provide; it names the resource so the reason can."""
    key = name if attr is None else "%s.%s" % (name, attr)
    return "%s%s\x00" % (_MARK, key)


def _pending_names(value, found=None):
    """Resources whose placeholders occur in a resolved value."""
    found = set() if found is None else found
    if isinstance(value, str):
        start = value.find(_MARK)
        while start >= 0:
            end = value.find("\x00", start + len(_MARK))
            if end < 0:
                break
            key = value[start + len(_MARK):end]
            found.add(key.split(".", 1)[0])
            start = value.find(_MARK, end + 1)
    elif isinstance(value, dict):
        for k, v in value.items():
            _pending_names(k, found)
            _pending_names(v, found)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _pending_names(v, found)
    return found


def _entry(name, rtype, action, reason):
    return {"resource_name": name, "resource_type": rtype,
            "action": action, "reason": reason}


def _attr_name(resource, attr):
    """``r.attr`` as a dry run names an attribute a resource reads."""
    if attr is None:
        return resource
    if isinstance(attr, (list, tuple)):
        attr = ".".join(str(a) for a in attr)
    return "%s.%s" % (resource, attr)


def _attr_key(attr):
    return "*" if attr is None else attr


def _view(stack_def):
    """``self.stack`` of a plugin the dry run asks: the target
    definition; nothing read from the database."""
    return stack_view.StackView(stack_def.stack_name, stack_def.stack_id,
                                definition=stack_def)


def _plugin(cls, name, defn, props, row, metadata):
    storage = resource_mod.ResourceStorage(
        row.physical_resource_id if row is not None else None,
        physical_name=getattr(row, "physical_name", None))
    return plugin_factory.make_plugin(
        cls, name, defn, props, _view(defn.stack_definition),
        storage=storage, metadata=metadata,
        action=row.action if row is not None else states.INIT,
        status=row.status if row is not None else states.COMPLETE)


def _names(keys):
    keys = sorted(keys)
    return ", ".join(keys)


def _plural(keys, one, many):
    return one if len(keys) == 1 else many


def _live_attribute(cls, row, attr, data, stack_def):
    """An attribute of an existing, unchanged resource that was not
    recorded (nothing read it before): asked of its plugin ``cls``, as the
    engine does, with the recorded properties and an in-memory copy of its
    data (a plugin's attribute resolution only reads)."""
    props = plugin_factory.properties_for(
        cls, row.name, dict(row.properties or {}), client_resolve=False,
        validate=False, ignore_errors=True)
    storage = resource_mod.ResourceStorage(
        row.physical_resource_id, data, row.physical_name)
    plugin = plugin_factory.make_plugin(
        cls, row.name, None, props, _view(stack_def), storage=storage,
        metadata=row.rsrc_metadata, action=row.action, status=row.status)
    plugin.type = row.type
    return plugin.get_attribute(attr)


def dry_run(rows, stack_def, registry, current_template_id=None,
            deletion_policy_of=None, resource_data=None, class_of=None,
            definition_of=None):
    """The dry run of converging ``rows`` (a stack's recorded resource rows,
    ``[]`` for a new stack) to ``stack_def`` (None: delete everything).

    ``deletion_policy_of(row)``, optional: the row's recorded deletion
    policy ("Retain" rows are forgotten, not deleted).
    ``resource_data(row_id)``, optional: a row's recorded plugin data;
    given, attributes not recorded are asked of the plugin.
    ``class_of(row)``, optional: a row's plugin class, as the environment
    it was made in resolves its type (default: looked up in
    ``registry``).
    ``definition_of(template_id)``, optional: a recorded template's
    definition; given, an incarnation built from the very definition the
    target asks for is preferred, as the engine does."""
    if stack_def is not None and stack_def.registry is not None:
        registry = stack_def.registry
    if class_of is None:
        def class_of(row):
            return registry.get_class(row.type)
    target = stack_def.resources if stack_def is not None else {}
    order = topological_order(stack_def.dependencies(), list(target)) \
        if stack_def is not None else []
    chosen = convergence.choose_rows(rows, target,
                                     prev_template_id=current_template_id,
                                     definition_of=definition_of)
    refs, attrs = {}, {}
    pending = set()    # resources that will be created or replaced
    # Updated in place (or maybe): their attributes may change, which
    # only the plugin knows once it has acted.
    updating = set()
    entries = {}

    def get_attr(rname, attr):
        if rname in pending:
            return _placeholder(rname, attr)
        values = attrs.setdefault(rname, {})
        key = _attr_key(attr)
        if key not in values:
            values[key] = _placeholder(rname, attr)
            row = chosen.get(rname)
            if resource_data is not None and row is not None:
                try:
                    values[key] = _live_attribute(
                        class_of(row), row, attr, resource_data(row.id),
                        stack_def)
                except Exception:
                    pass
        return values[key]

    for name in order:
        defn = target[name]
        row = chosen.get(name)
        action, reason = _decide(name, defn, row, registry, class_of, refs,
                                 get_attr, pending, definition_of)
        if action == UNCHANGED:
            reads = sorted(_attr_name(r, a) for r, a in defn.attribute_refs()
                           if r in updating)
            if reads:
                action, reason = MAY_UPDATE, "reads %s" % ", ".join(reads)
        if action in (UPDATE, MAY_UPDATE):
            updating.add(name)
        entries[name] = _entry(name, defn.type, action, reason)
        if action in (CREATE, REPLACE):
            pending.add(name)
            refs[name] = _placeholder(name)
        else:
            refs[name] = row.reference_id
            attrs[name] = dict(row.attributes or {})
    out = [entries[n] for n in target]
    gone = []
    chosen_ids = {r.id for r in chosen.values()}
    for r in rows:
        if r.name in target or r.id in chosen_ids:
            continue
        if any(g["resource_name"] == r.name for g in gone):
            continue
        reason = "removed from the template" if stack_def is not None \
            else "the stack is deleted"
        policy = deletion_policy_of(r) if deletion_policy_of else None
        what = convergence.cleanup(r, policy)
        if what == convergence.RETAIN:
            reason += " (deletion_policy Retain: forgotten, not deleted)"
        elif what == convergence.FORGET:
            reason += " (never created: forgotten)"
        gone.append(_entry(r.name, r.type, DELETE, reason))
    # Clean-up runs dependents first: the reverse of the recorded order.
    return out + gone[::-1]


def _built_from(row, definition_of):
    """The definition ``row`` was last converged to, or None (what the
    engine hands a plugin's ``_needs_update`` as ``before``)."""
    if definition_of is None or row.template_id is None:
        return None
    try:
        return definition_of(row.template_id).resources.get(row.name)
    except Exception:
        return None


def _decide(name, defn, row, registry, class_of, refs, get_attr, pending,
            definition_of=None):
    """(action, reason) for one target resource: the convergence rules'
    decision, worded."""
    if row is None:
        return _worded(convergence.decide(
            None, defn.type, None, None, {}, True, plugin_changed=False),
            name, defn, None, pending)
    cls = registry.get_class(defn.type, path="resources.%s.type" % name)
    props = metadata = None

    def plugin_changed():
        # the engine's test (flows/converge.py): a template resource's
        # class is built anew at each binding of its file
        try:
            return not plugin_factory.same_class(class_of(row), cls)
        except exception.HeatflowError:
            return True

    def replace_failed():
        try:
            return _plugin(cls, name, defn, props, row,
                           metadata).needs_replace_failed()
        except Exception:
            return True
    try:
        data = defn.resolve_properties(refs, get_attr)
        metadata = defn.resolve_metadata(refs, get_attr)
    except Exception:
        # A function applied to a value that exists only once a new
        # incarnation does (e.g. a path into a placeholder): the rules
        # that need no properties still apply.
        deps = sorted(pending & set(defn.required_resources()))
        if not deps:
            raise
        decision = convergence.decide_by_state(
            row, defn.type, plugin_changed=plugin_changed,
            replace_failed=replace_failed)
        if decision is not None:
            return _worded(decision, name, defn, row, pending)
        return UPDATE, "reference to %s changes" % _names(deps)
    try:
        props = plugin_factory.properties_for(cls, name, data,
                                              client_resolve=False)
    except Exception:
        props = None

    def make_plugin():
        return _plugin(cls, name, defn, props, row, metadata)
    decision = convergence.decide(
        row, defn.type, data, metadata, cls.properties_schema,
        cls.strict_properties, plugin_changed=plugin_changed,
        replace_failed=replace_failed,
        translate=plugin_factory.comparable(cls, name),
        update_allowed=getattr(cls, "update_allowed_properties", ()),
        needs_update=None if props is None else
        convergence.needs_update_question(
            cls, name, make_plugin, defn, _built_from(row, definition_of),
            data,
            row.properties))
    if decision.asks_plugin and props is not None:
        # What the engine asks the plugin before updating in place.
        try:
            plugin = _plugin(cls, name, defn, props, row, metadata)
            decision = convergence.plugin_verdict(
                decision, lambda: plugin.needs_replace_with_prop_diff(
                    set(decision.prop_diff), props, row.properties or {}))
        except exception.UpdateReplace:
            decision = convergence.update_replaced(decision)
        except Exception:
            pass
    return _worded(decision, name, defn, row, pending)


#: How each reason reads; ``{status}``, ``{old_type}``, ``{new_type}`` are
#: filled in.
_REASONS = {
    convergence.NO_ROW: "new resource",
    convergence.NOT_CREATED: "not created yet",
    convergence.CREATE_INCOMPLETE: "its create did not complete ({status})",
    convergence.FAILED: "failed resource is replaced ({status})",
    convergence.BEING_DELETED: "it was being deleted ({status})",
    convergence.TYPE_CHANGED: "type changed from {old_type} to {new_type}",
    convergence.PLUGIN_CHANGED: "the environment maps type {new_type} to "
                                "another plugin",
    convergence.UNCHANGED: "no change",
    convergence.UPDATE_REPLACE: "the plugin replaces it",
    convergence.METADATA_ONLY: "metadata changed",
    convergence.INCOMPLETE: "its last action did not complete ({status})",
}

_ACTION_WORDS = {convergence.CREATE: CREATE, convergence.UPDATE: UPDATE,
                 convergence.REPLACE: REPLACE, convergence.NONE: UNCHANGED}


def _worded(decision, name, defn, row, pending):
    """(action, reason) of a decision, in the dry run's words."""
    action = _ACTION_WORDS[decision.action]
    template = _REASONS.get(decision.reason)
    if template is not None:
        return action, template.format(
            status=row and states.joined(row.action, row.status),
            old_type=row and row.type, new_type=defn.type)
    prop_diff, keys = decision.prop_diff, list(decision.keys)
    if decision.reason == convergence.IMMUTABLE:
        return action, (
            "%s %s immutable and cannot change: the update will fail"
            % (_plural(keys, "property", "properties") + " " + _names(keys),
               _plural(keys, "is", "are")))
    if decision.reason == convergence.PLUGIN_REPLACES:
        return action, "the plugin replaces it when %s %s" % (
            _names(prop_diff), _plural(list(prop_diff), "changes", "change"))
    # Which changed properties come from a reference to a resource that is
    # created or replaced (not from the template itself)?
    by_ref = {}
    for key, value in prop_diff.items():
        names = _pending_names(value) & pending
        if names:
            by_ref[key] = names
    if decision.reason == convergence.PROPERTY_NOT_UPDATABLE:
        reason = "%s %s changed and cannot be updated in place" % (
            _plural(keys, "property", "properties"), _names(keys))
        ref_fixed = sorted(set().union(*(by_ref[k] for k in keys
                                         if k in by_ref)))
        if ref_fixed:
            reason = "reference to %s changes: %s" % (_names(ref_fixed),
                                                      reason)
        return action, reason
    parts = []
    via = sorted(set().union(*by_ref.values())) if by_ref else []
    direct = sorted(k for k in prop_diff if k not in by_ref)
    if via:
        parts.append("reference to %s changes" % _names(via))
    if direct:
        parts.append("%s %s changed" % (
            _plural(direct, "property", "properties"), _names(direct)))
    if decision.metadata_changed:
        parts.append("metadata changed")
    # Nothing changed here, but the plugin's _needs_update says update.
    return action, "; ".join(parts) or \
        "its plugin asks for an update (a nested stack always does)"
