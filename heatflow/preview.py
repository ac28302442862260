"""Dry runs: what an operation would do, without doing anything.

:func:`plan` compares the recorded resource rows of a stack with the bound
target :class:`~heatflow.template.StackDefinition` and returns one entry per
resource::

    {"resource_name": "web", "resource_type": "Acme::Server",
     "action": "replace", "reason": "property flavor cannot be updated in
     place"}

``action`` is one of :data:`ACTIONS`.  The rules mirror the engine's
(``compiler.plan_operation`` picks the row, ``ConvergeResource._decide``
decides at run time): a missing row is created; a failed one replaced
(unless its plugin's ``needs_replace_failed()`` says no); a changed plugin
class replaces (a type changed to another name of the same class does not);
equal resolved properties and metadata on a COMPLETE row leave it alone;
otherwise changed properties update in place when all are
``update_allowed`` (and the plugin's ``needs_replace_with_prop_diff`` does
not ask for a replacement), else replace.  Properties are resolved with the
recorded reference ids and attributes of existing resources; a resource that
will be created or replaced gets a placeholder, so its dependents see their
reference change.  Rows of resources no longer in the template are deleted.

Pure functions: nothing here writes anything.  Reasons name properties,
never their values (a value may come from a hidden parameter).
"""

import collections

from heatflow import exception
from heatflow import properties as properties_mod
from heatflow import resource as resource_mod
from heatflow.template import topological_order

ACTIONS = (CREATE, UPDATE, REPLACE, DELETE, UNCHANGED) = (
    "create", "update", "replace", "delete", "unchanged")

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


def _attr_key(attr):
    return "*" if attr is None else attr


def _score(row, current_template_id):
    """The row the engine would converge (compiler._score, without the
    "same definition" bonus, which needs the new template stored)."""
    s = 0
    if row.status == "FAILED":
        s -= 30
    if row.replaced_by is not None:
        s -= 1
    if current_template_id is not None and \
            row.template_id == current_template_id:
        s += 10
    return (s, row.id)


def choose_rows(rows, names, current_template_id=None):
    """``{name: row}``: the existing incarnation each target resource
    converges (rows being deleted are not reused)."""
    by_name = collections.defaultdict(list)
    for r in rows:
        by_name[r.name].append(r)
    chosen = {}
    for name in names:
        cands = [r for r in by_name.get(name, ()) if r.action != "DELETE"]
        if cands:
            chosen[name] = max(cands,
                               key=lambda r: _score(r, current_template_id))
    return chosen


def _plugin(cls, name, defn, props, row, metadata):
    storage = resource_mod.ResourceStorage(
        row.physical_resource_id if row is not None else None,
        physical_name=getattr(row, "physical_name", None))
    return cls(name, defn, props, storage=storage, metadata=metadata,
               action=row.action if row is not None else "INIT",
               status=row.status if row is not None else "COMPLETE")


def _names(keys):
    keys = sorted(keys)
    return ", ".join(keys)


def _plural(keys, one, many):
    return one if len(keys) == 1 else many


def _live_attribute(cls, row, attr, data):
    """An attribute of an existing, unchanged resource that was not
    recorded (nothing read it before): asked of its plugin ``cls``, as the
    engine does, with the recorded properties and an in-memory copy of its
    data (a plugin's attribute resolution only reads)."""
    props = properties_mod.Properties(
        cls.properties_schema, dict(row.properties or {}),
        path=("resources", row.name, "properties"),
        strict=cls.strict_properties)
    storage = resource_mod.ResourceStorage(
        row.physical_resource_id, data, row.physical_name)
    plugin = cls(row.name, None, props, storage=storage,
                 metadata=row.rsrc_metadata, action=row.action,
                 status=row.status)
    plugin.type = row.type
    return plugin.get_attribute(attr)


def plan(rows, stack_def, registry, current_template_id=None,
         deletion_policy_of=None, resource_data=None, class_of=None):
    """The plan of converging ``rows`` (a stack's recorded resource rows,
    ``[]`` for a new stack) to ``stack_def`` (None: delete everything).

    ``deletion_policy_of(row)``, optional: the row's recorded deletion
    policy ("Retain" rows are forgotten, not deleted).
    ``resource_data(row_id)``, optional: a row's recorded plugin data;
    given, attributes not recorded are asked of the plugin.
    ``class_of(row)``, optional: a row's plugin class, as the environment
    it was made in resolves its type (default: looked up in
    ``registry``)."""
    if stack_def is not None and stack_def.registry is not None:
        registry = stack_def.registry
    if class_of is None:
        def class_of(row):
            return registry.get_class(row.type)
    target = stack_def.resources if stack_def is not None else {}
    order = topological_order(stack_def.dependencies(), list(target)) \
        if stack_def is not None else []
    chosen = choose_rows(rows, order, current_template_id)
    refs, attrs = {}, {}
    pending = set()    # resources that will be created or replaced
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
                        class_of(row), row, attr, resource_data(row.id))
                except Exception:
                    pass
        return values[key]

    for name in order:
        defn = target[name]
        row = chosen.get(name)
        action, reason = _decide(name, defn, row, registry, class_of, refs,
                                 get_attr, pending)
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
        if policy == "Retain":
            reason += " (deletion_policy Retain: forgotten, not deleted)"
        elif r.physical_resource_id is None and r.action == "INIT":
            reason += " (never created: forgotten)"
        gone.append(_entry(r.name, r.type, DELETE, reason))
    # Clean-up runs dependents first: the reverse of the recorded order.
    return out + gone[::-1]


def _decide(name, defn, row, registry, class_of, refs, get_attr, pending):
    """(action, reason) for one target resource; mirrors
    ``ConvergeResource._decide``."""
    if row is None:
        return CREATE, "new resource"
    cls = registry.get_class(defn.type, path="resources.%s.type" % name)
    try:
        old_cls = class_of(row)
    except exception.HeatflowError:
        old_cls = None
    # Plugin classes are compared, not type names (Heat's rule): another
    # name of the same class keeps the resource.
    if old_cls is not cls:
        if row.type != defn.type:
            return REPLACE, "type changed from %s to %s" % (row.type,
                                                            defn.type)
        return REPLACE, "the environment maps type %s to another plugin" \
            % defn.type
    try:
        data = defn.resolve_properties(refs, get_attr)
        metadata = defn.resolve_metadata(refs, get_attr)
    except Exception:
        # A function applied to a value that exists only once a new
        # incarnation does (e.g. list_join over a placeholder).
        deps = sorted(pending & set(defn.required_resources()))
        if deps:
            return UPDATE, "reference to %s changes" % _names(deps)
        raise
    props = None
    try:
        props = properties_mod.Properties(
            cls.properties_schema, data,
            path=("resources", name, "properties"),
            strict=cls.strict_properties)
        props.validate()
    except Exception:
        props = None
    status = "%s_%s" % (row.action, row.status)
    if row.status == "FAILED":
        try:
            replace_failed = _plugin(cls, name, defn, props, row,
                                     metadata).needs_replace_failed()
        except Exception:
            replace_failed = True
        if replace_failed:
            return REPLACE, "failed resource is replaced (%s)" % status
    if row.action == "INIT":
        return CREATE, "not created yet"
    if row.action == "CREATE" and row.status != "COMPLETE":
        return CREATE, "its create did not complete (%s)" % status
    if row.action == "DELETE":
        return REPLACE, "it was being deleted (%s)" % status
    old = row.properties or {}
    if old == data and (row.rsrc_metadata or {}) == (metadata or {}) \
            and row.status == "COMPLETE":
        return UNCHANGED, "no change"
    prop_diff = properties_mod.diff(old, data)
    if not prop_diff:
        if (row.rsrc_metadata or {}) != (metadata or {}):
            return UPDATE, "metadata changed"
        return UPDATE, "its last action did not complete (%s)" % status
    # Which changed properties come from a reference to a resource that is
    # created or replaced (not from the template itself)?
    by_ref = {}
    for key, value in prop_diff.items():
        names = _pending_names(value) & pending
        if names:
            by_ref[key] = names
    schema = cls.properties_schema
    immutable = properties_mod.immutable_changed(schema, prop_diff)
    if immutable:
        return UPDATE, (
            "%s %s immutable and cannot change: the update will fail"
            % (_plural(immutable, "property", "properties") + " " +
               _names(immutable), _plural(immutable, "is", "are")))
    fixed = [k for k in prop_diff if k in schema and
             not schema[k].update_allowed]
    if cls.strict_properties:
        fixed += [k for k in prop_diff if k not in schema]
    via = sorted(set().union(*by_ref.values())) if by_ref else []
    if fixed:
        fixed = sorted(set(fixed))
        reason = "%s %s changed and cannot be updated in place" % (
            _plural(fixed, "property", "properties"), _names(fixed))
        ref_fixed = sorted(set().union(*(by_ref[k] for k in fixed
                                         if k in by_ref)))
        if ref_fixed:
            reason = "reference to %s changes: %s" % (_names(ref_fixed),
                                                      reason)
        return REPLACE, reason
    if props is not None:
        try:
            plugin = _plugin(cls, name, defn, props, row, metadata)
            if plugin.needs_replace_with_prop_diff(set(prop_diff), props,
                                                   old):
                return REPLACE, "the plugin replaces it when %s %s" % (
                    _names(prop_diff), _plural(list(prop_diff), "changes",
                                               "change"))
        except exception.UpdateReplace:
            return REPLACE, "the plugin replaces it"
        except Exception:
            pass
    parts = []
    direct = sorted(k for k in prop_diff if k not in by_ref)
    if via:
        parts.append("reference to %s changes" % _names(via))
    if direct:
        parts.append("%s %s changed" % (
            _plural(direct, "property", "properties"), _names(direct)))
    if (row.rsrc_metadata or {}) != (metadata or {}):
        parts.append("metadata changed")
    return UPDATE, "; ".join(parts)
