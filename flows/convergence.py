"""The convergence rules: which incarnation of a resource to converge, and
what converging it takes.

One home for the decisions the engine (:mod:`heatflow.flows.atoms`,
:mod:`heatflow.flows.compiler`) and the dry run (:mod:`heatflow.preview`)
both make, so that a dry run says what the engine then does.  Pure: no I/O,
no TaskFlow, nothing written.  A *row* is anything with the attributes of a
recorded resource row (``action``, ``status``, ``physical_resource_id``,
``properties``, ``rsrc_metadata``, ``type``, ``template_id``,
``replaced_by``, ``id``).

What only the plugin can answer (does a failed resource need replacing,
does a property change need one, does ``handle_update`` raise
``UpdateReplace``) is asked through zero-argument callables, called only
when the rule needs the answer, or handed back as a decision to complete:
see :func:`decide`, :func:`plugin_verdict` and :func:`update_replaced`.

The rules are Heat's (``Resource._needs_update``, ``Resource.update``,
``update_template_diff_properties`` and convergence's ``check_resource``),
with one refinement: a resource whose create never produced anything (no
physical id) is created again in place rather than replaced.
"""

import collections
import functools

from heatflow import exception
from heatflow import properties as properties_mod
from heatflow import plugin_factory
from heatflow import resource as resource_mod
from heatflow import states

# -- what converging a resource takes ---------------------------------------

ACTIONS = (CREATE, UPDATE, REPLACE, NONE) = (
    "create", "update", "replace", "none")

# -- why (reason codes; heatflow.preview words them) -------------------------

#: No row: the resource is new to the stack.
NO_ROW = "NO_ROW"
#: An INIT row: planned, never created.
NOT_CREATED = "NOT_CREATED"
#: Its create did not complete (in progress when its engine died, or failed
#: without a physical resource, or failed and the plugin keeps it).
CREATE_INCOMPLETE = "CREATE_INCOMPLETE"
#: What a failed action left behind is replaced (``needs_replace_failed``).
FAILED = "FAILED"
#: The incarnation was being (or has been) deleted.
BEING_DELETED = "BEING_DELETED"
#: The type changed to one served by another plugin class.
TYPE_CHANGED = "TYPE_CHANGED"
#: Same type name, but the environment maps it to another plugin class.
PLUGIN_CHANGED = "PLUGIN_CHANGED"
#: Resolved properties and metadata are what the row records: nothing to do.
UNCHANGED = "UNCHANGED"
#: An ``immutable`` property changed: the update is attempted and fails
#: (neither updated nor replaced: Heat's NotSupported).
IMMUTABLE = "IMMUTABLE"
#: A changed property is not ``update_allowed`` (or unknown to a strict
#: schema): replaced.
PROPERTY_NOT_UPDATABLE = "PROPERTY_NOT_UPDATABLE"
#: The plugin's ``needs_replace_with_prop_diff`` asked for a replacement.
PLUGIN_REPLACES = "PLUGIN_REPLACES"
#: The plugin's ``_needs_update`` (or ``needs_replace``) raised
#: ``UpdateReplace``.
NEEDS_REPLACE = "NEEDS_REPLACE"
#: The plugin's ``_needs_update`` said no update is needed.
NOT_NEEDED = "NOT_NEEDED"
#: The plugin's ``_needs_update`` asked for an update though nothing the
#: engine compares changed.
NEEDS_UPDATE = "NEEDS_UPDATE"
#: The plugin's ``handle_update`` raised ``UpdateReplace``.
UPDATE_REPLACE = "UPDATE_REPLACE"
#: Changed properties, all updatable in place.
PROPERTIES_CHANGED = "PROPERTIES_CHANGED"
#: Only the metadata changed: updated in place.
METADATA_ONLY = "METADATA_ONLY"
#: Nothing changed, but the last action did not complete (a failed update
#: the plugin does not replace, or one in flight when its engine died): the
#: update is run again.
INCOMPLETE = "INCOMPLETE"


class Decision(collections.namedtuple(
        "Decision", "action reason prop_diff metadata_changed keys")):
    """What converging one resource takes, and why.

    ``prop_diff``: ``{property: new value}`` for an update (Heat's
    ``prop_diff``); ``metadata_changed``: whether the metadata differs from
    the row's; ``keys``: the sorted properties the reason is about (the
    immutable or not-updatable ones)."""

    __slots__ = ()

    @property
    def fails(self):
        """The action is taken and fails (an immutable property)."""
        return self.reason == IMMUTABLE

    @property
    def asks_plugin(self):
        """An update whose property changes the plugin still has to accept
        (``needs_replace_with_prop_diff``; then :func:`plugin_verdict`)."""
        return self.action == UPDATE and bool(self.prop_diff) and \
            not self.fails


def _decision(action, reason, prop_diff=None, metadata_changed=False,
              keys=()):
    return Decision(action, reason, prop_diff or {}, metadata_changed,
                    tuple(keys))


def _answer(question):
    return question() if callable(question) else question


# -- which incarnation -------------------------------------------------------

def _score(row, target_template_id, prev_template_id, same_definition):
    """How good an incarnation is to converge (Heat's choice, plus one
    rule): a healthy, current row wins; one already built from the very
    definition the target asks for beats one that would need changing (an
    update that reverts a replacement in flight keeps the original); on a
    tie, the newest."""
    s = 0
    if row.status == states.FAILED:
        s -= 30
    if row.replaced_by is not None:
        s -= 1
    if prev_template_id is not None and row.template_id == prev_template_id:
        s += 5
    if same_definition is not None and same_definition(row):
        s += 8
    if target_template_id is not None and \
            row.template_id == target_template_id:
        s += 10
    return (s, row.id)


def choose_row(rows, target_template_id=None, prev_template_id=None,
               same_definition=None):
    """The incarnation, among ``rows`` (one resource's recorded rows), to
    converge; None when there is none (the resource is created).

    Rows being (or already) deleted are going away: a resource added back
    gets a new incarnation.  ``target_template_id``: the template being
    converged to, if stored; ``prev_template_id``: the one the stack was at
    (or converging to) when the operation began; ``same_definition(row)``,
    optional: is the row COMPLETE and built from the definition the target
    asks for (only asked when there is a choice)."""
    cands = [r for r in rows if r.action != states.DELETE]
    if len(cands) <= 1:
        return cands[0] if cands else None
    return max(cands, key=lambda r: _score(
        r, target_template_id, prev_template_id, same_definition))


def built_from(row, defn, definition_of):
    """Is ``row`` COMPLETE and built from the resource definition ``defn``
    (its template's definition as ``definition_of(template_id)`` gives
    it)?"""
    if row.template_id is None or row.status != states.COMPLETE:
        return False
    old = definition_of(row.template_id)
    old = old.resources.get(row.name) if old is not None else None
    return old is not None and old.to_dict() == defn.to_dict()


def choose_rows(rows, definitions, target_template_id=None,
                prev_template_id=None, definition_of=None):
    """``{name: row}``: :func:`choose_row` for each resource of
    ``definitions`` (``{name: definition}``, or just names) among a stack's
    ``rows``; names with no incarnation are left out.  Given
    ``definition_of(template_id)``, an incarnation :func:`built_from` the
    resource's definition is preferred."""
    by_name = collections.defaultdict(list)
    for r in rows:
        by_name[r.name].append(r)
    chosen = {}
    for name in definitions:
        rows = by_name.get(name)
        if not rows:
            continue
        same = None
        if definition_of is not None and len(rows) > 1:
            same = functools.partial(_built_from, definitions[name],
                                     definition_of)
        row = choose_row(rows, target_template_id, prev_template_id, same)
        if row is not None:
            chosen[name] = row
    return chosen


def _built_from(defn, definition_of, row):
    return built_from(row, defn, definition_of)


# -- what converging it takes ------------------------------------------------

def is_converged(row, data, metadata, old_data=None):
    """Is ``row`` already what the target asks for: COMPLETE, with the
    resolved properties ``data`` and ``metadata`` it records?
    ``old_data``: the row's properties as compared (translated), if not
    the recorded ones."""
    old = row.properties if old_data is None else old_data
    return row.status == states.COMPLETE and \
        (old or {}) == data and \
        (row.rsrc_metadata or {}) == (metadata or {})


def _plugin_change(row, new_type, plugin_changed):
    if not _answer(plugin_changed):
        return None
    return _decision(REPLACE, TYPE_CHANGED if row.type != new_type
                     else PLUGIN_CHANGED)


def decide_by_state(row, new_type, *, plugin_changed, replace_failed=True,
                    resumed=False, update_failed=False):
    """The rules of :func:`decide` that look only at the incarnation's
    state and plugin class, not at the new properties; None when the
    properties decide.  (The dry run uses it alone when it cannot resolve
    the properties yet.)"""
    if row is None:
        return _decision(CREATE, NO_ROW)
    made = row.physical_resource_id is not None
    if row.status == states.FAILED and not resumed and \
            (made or row.action != states.CREATE) and \
            (row.action == states.CHECK or _answer(replace_failed)):
        # Heat's rule: what a failed action left behind is replaced, and
        # the wreck cleaned up, unless the plugin says otherwise -- which
        # it may not for a failed check (or a resource marked unhealthy).
        return _decision(REPLACE, FAILED)
    if row.action == states.INIT:
        return _decision(CREATE, NOT_CREATED)
    if update_failed and row.status == states.FAILED and made and \
            not resumed:
        # A plugin with its own _needs_update keeping a failed create
        # (a nested stack): Heat asks it and updates, rather than create
        # again what exists.
        return _plugin_change(row, new_type, plugin_changed)
    if row.action == states.CREATE and row.status != states.COMPLETE:
        # Finishing a create with another plugin would mix two plugins'
        # resources: replace what the first one made.
        changed = made and _plugin_change(row, new_type, plugin_changed)
        return changed or _decision(CREATE, CREATE_INCOMPLETE)
    if row.action == states.DELETE:
        return _decision(REPLACE, BEING_DELETED)
    return _plugin_change(row, new_type, plugin_changed)


def decide(row, new_type, data, metadata, schema, strict, *,
           plugin_changed, replace_failed=True, resumed=False,
           translate=None, update_allowed=(), needs_update=None):
    """The :class:`Decision` for converging ``row`` (None: no incarnation)
    to a resource of type ``new_type`` with the resolved properties
    ``data`` and ``metadata``.

    ``schema``/``strict``: the new plugin's ``properties_schema`` and
    ``strict_properties``.  ``plugin_changed``: is the row's plugin class
    another than the new one (Heat compares classes, not type names: a
    type renamed to another name of the same class keeps the resource).
    ``replace_failed``: the plugin's ``needs_replace_failed()``.  Both may
    be zero-argument callables, asked only when the rule needs them.
    ``resumed``: the row failed in this very operation (a resumed run
    retries its own action rather than replacing it).
    ``translate(data)``: property data as compared (the plugin's
    translation, applied to both sides alike).  ``update_allowed``: the
    plugin's ``update_allowed_properties`` (updatable in place, as
    ``update_allowed`` in the schema).  ``needs_update``: a zero-argument
    callable giving the plugin's own ``_needs_update`` verdict (True,
    False, or :data:`REPLACE` for ``UpdateReplace``), or None where it
    keeps Heat's default, which these rules are (see
    :func:`needs_update_question`).

    An update with property changes still needs the plugin's word
    (``Decision.asks_plugin``, then :func:`plugin_verdict`), and
    ``handle_update`` may still raise ``UpdateReplace``
    (:func:`update_replaced`)."""
    by_state = decide_by_state(row, new_type, plugin_changed=plugin_changed,
                               replace_failed=replace_failed,
                               resumed=resumed,
                               update_failed=needs_update is not None)
    if by_state is not None:
        return by_state
    old = row.properties or {}
    if translate is not None:
        data, old = translate(data), translate(old)
    verdict = _answer(needs_update)
    if verdict == REPLACE:
        return _decision(REPLACE, NEEDS_REPLACE)
    if verdict is False:
        return _decision(NONE, NOT_NEEDED)
    if is_converged(row, data, metadata, old):
        if verdict:
            return _decision(UPDATE, NEEDS_UPDATE)
        return _decision(NONE, UNCHANGED)
    prop_diff = properties_mod.diff(old, data)
    meta_changed = (row.rsrc_metadata or {}) != (metadata or {})
    # Heat's order: an immutable change fails the update before anything
    # else is considered; then a change that cannot be made in place
    # replaces.
    immutable = properties_mod.immutable_changed(schema, prop_diff)
    if immutable:
        return _decision(UPDATE, IMMUTABLE, prop_diff, meta_changed,
                         immutable)
    fixed = set(properties_mod.update_forbidden(schema, prop_diff))
    if strict:
        fixed.update(k for k in prop_diff if k not in schema)
    fixed = sorted(fixed.difference(update_allowed))
    if fixed:
        return _decision(REPLACE, PROPERTY_NOT_UPDATABLE, prop_diff,
                         meta_changed, fixed)
    if prop_diff:
        reason = PROPERTIES_CHANGED
    elif meta_changed:
        reason = METADATA_ONLY
    else:
        reason = INCOMPLETE
    return _decision(UPDATE, reason, prop_diff, meta_changed)


def needs_update_question(cls, name, make_plugin, after, before, data,
                          old_data):
    """The ``needs_update`` question :func:`decide` asks, for the plugin
    class ``cls`` of resource ``name``: None when the class keeps Heat's
    ``_needs_update`` and ``needs_replace`` (these rules are Heat's
    default), else a callable asking ``make_plugin()``'s
    ``_needs_update(after, before, after_props, before_props, None)``
    with both sides' properties translated alike (no client lookups: the
    dry run asks the same)."""
    base = resource_mod.Resource
    if getattr(cls, "_needs_update", base._needs_update) is \
            base._needs_update and getattr(
                cls, "needs_replace", base.needs_replace) is \
            base.needs_replace:
        return None

    def ask():
        def props(values):
            return plugin_factory.properties_for(
                cls, name, values or {}, client_resolve=False,
                validate=False, ignore_errors=True)
        try:
            return bool(make_plugin()._needs_update(
                after, before, props(data), props(old_data), None))
        except exception.UpdateReplace:
            return REPLACE
    return ask


def plugin_verdict(decision, replaces):
    """``decision`` once the plugin has answered its
    ``needs_replace_with_prop_diff`` (``replaces``; asked only when
    ``decision.asks_plugin``)."""
    if decision.asks_plugin and _answer(replaces):
        return decision._replace(action=REPLACE, reason=PLUGIN_REPLACES)
    return decision


def update_replaced(decision):
    """The plugin's ``handle_update`` raised ``UpdateReplace``: the update
    becomes a replacement."""
    return decision._replace(action=REPLACE, reason=UPDATE_REPLACE)


# -- clean-up ----------------------------------------------------------------

CLEANUPS = (DELETE, FORGET, RETAIN) = ("delete", "forget", "retain")


def cleanup(row, deletion_policy=None):
    """What cleaning up an incarnation the target no longer has takes:
    ``forget`` one never created (nothing physical to delete), ``retain``
    one whose deletion policy is Retain (forgotten, left in place), else
    ``delete``."""
    if row.action == states.INIT and row.physical_resource_id is None and \
            getattr(row, "lock_run", None) is None:
        return FORGET
    if deletion_policy == "Retain":
        return RETAIN
    return DELETE
