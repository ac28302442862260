"""Property translation: Heat's ``heat.engine.translation``.

A plugin renames, fills in, drops or looks up properties before it sees
them by returning rules from ``translation_rules(self, props)``; the usual
case is a deprecated property carried over to its replacement::

    def translation_rules(self, props):
        TR = translation.TranslationRule
        return [TR(props, TR.REPLACE, ["network"], value_path=["net"])]

Four kinds of rule, each aimed at ``translation_path`` (property names,
and keys inside Map properties; a List of Maps on the way applies the rule
to every item):

``ADD``
    Extend a List with ``value`` (a list), the value found at
    ``value_path``, or that of the sibling key ``value_name``.
``REPLACE``
    Set the property to ``value``, or move a value there from
    ``value_path`` or the sibling ``value_name`` (the source is removed).
    Both given is an error: which one did the user mean?
``DELETE``
    Remove the property.
``RESOLVE``
    Turn a name into an id: ``getattr(client_plugin, finder)([entity,]
    value)``, or ``custom_function(value)``; a List's items one by one.

Rules run ADD, REPLACE, RESOLVE, DELETE (Heat's order, so that a value can
be moved or added from a property that is then deleted), in their given
order within a kind.  A value not known yet (:data:`properties.DEFERRED`,
a ``get_attr`` at validation time) is left alone, as Heat leaves an
unresolved function.

:func:`translate_properties` applies a plugin's rules to raw property data
and returns the translated copy.  The engine applies them through
:func:`heatflow.plugin_factory.properties_for`, before validation, in the
dry run and before every action.
"""

import copy
import logging

from heatflow import exception
from heatflow import properties as properties_mod

LOG = logging.getLogger(__name__)

DEFERRED = properties_mod.DEFERRED


class TranslationRule:
    """One rule (see the module's description)."""

    RULE_KEYS = (ADD, REPLACE, DELETE, RESOLVE) = (
        "Add", "Replace", "Delete", "Resolve")

    def __init__(self, properties, rule, translation_path, value=None,
                 value_name=None, value_path=None, client_plugin=None,
                 finder=None, entity=None, custom_function=None,
                 custom_value_path=None):
        # ``properties`` is what translation_rules() was given; kept for
        # plugins that read it back, not used to translate.
        self.properties = properties
        self.rule = rule
        self.translation_path = translation_path
        self.value = value
        self.value_name = value_name
        self.value_path = value_path
        self.client_plugin = client_plugin
        self.finder = finder
        self.entity = entity
        self.custom_function = custom_function
        self.custom_value_path = custom_value_path
        self.validate()

    def validate(self):
        """A malformed rule is the plugin's bug: ValueError, as in Heat."""
        if self.rule not in self.RULE_KEYS:
            raise ValueError("unknown translation rule %r (one of %s)"
                             % (self.rule, ", ".join(self.RULE_KEYS)))
        if not isinstance(self.translation_path, list) or \
                not self.translation_path:
            raise ValueError("translation_path must be a non-empty list of "
                             "keys, not %r" % (self.translation_path,))
        sources = [n for n in ("value", "value_name", "value_path")
                   if getattr(self, n) is not None]
        if len(sources) > 1:
            raise ValueError("a translation rule takes one of value, "
                             "value_name and value_path, not %s"
                             % " and ".join(sources))
        if self.rule == self.ADD and self.value is not None and \
                not isinstance(self.value, list):
            raise ValueError("the value of an Add rule must be a list")
        if self.value_path is not None and (
                not isinstance(self.value_path, list) or not self.value_path):
            raise ValueError("value_path must be a non-empty list of keys")
        if self.rule == self.RESOLVE:
            if self.custom_function is not None:
                if not callable(self.custom_function):
                    raise ValueError("custom_function must be callable")
            elif self.client_plugin is None or self.finder is None:
                raise ValueError("a Resolve rule needs client_plugin and "
                                 "finder, or custom_function")

    def __repr__(self):
        return "TranslationRule(%s, %s)" % (self.rule,
                                            ".".join(self.translation_path))


_ORDER = {TranslationRule.ADD: 0, TranslationRule.REPLACE: 1,
          TranslationRule.RESOLVE: 2, TranslationRule.DELETE: 3}


def translate_properties(plugin, data, client_resolve=True,
                         ignore_resolve_error=False):
    """``data`` (a resource's raw properties) translated by the rules
    ``plugin.translation_rules()`` returns for it; a new dict, ``data`` is
    not changed.  ``client_resolve=False`` skips RESOLVE rules (no client
    to ask yet); ``ignore_resolve_error`` keeps a value its lookup failed
    on instead of raising."""
    schema = plugin.properties_schema
    props = properties_mod.Properties(
        schema, data, strict=getattr(plugin, "strict_properties", True))
    rules = plugin.translation_rules(props) or []
    return translate(data, rules, schema, client_resolve=client_resolve,
                     ignore_resolve_error=ignore_resolve_error)


def translate(data, rules, schema=None, client_resolve=True,
              ignore_resolve_error=False):
    """Apply ``rules`` to a copy of ``data`` and return the copy.
    ``schema`` (the properties schema) says which missing properties are
    Maps, so that a rule aimed inside one can create it."""
    if data is DEFERRED:
        return data     # the whole map comes from a function: run time
    out = copy.deepcopy(dict(data or {}))
    for rule in sorted(rules, key=lambda r: _ORDER[r.rule]):
        if rule.rule == TranslationRule.RESOLVE and not client_resolve:
            continue
        _Application(rule, schema or {}, ignore_resolve_error).run(out)
    return out


def _given(value):
    """Heat counts empty values as not given."""
    return value is not None and value != "" and value != [] and value != {}


def _nested_schema(schema):
    """The schemas of the keys inside a property's value, or None."""
    if schema is None or schema.schema is None:
        return None
    if schema.type == properties_mod.Schema.LIST:
        return _nested_schema(schema.schema["*"])
    return schema.schema


def _lookup(container, path, what):
    """(parent dict, key) of ``path`` inside ``container``, or None when a
    step is missing; DEFERRED when a step is not known yet.  Lists on the
    way are refused: which item would be meant?"""
    for i, key in enumerate(path):
        if container is DEFERRED:
            return DEFERRED
        if isinstance(container, list):
            raise ValueError("%s cannot go through the List %s"
                             % (what, ".".join(map(str, path[:i]))))
        if not isinstance(container, dict):
            return None
        if i == len(path) - 1:
            return container, key
        container = container.get(key)
    return None


def _get(found):
    if found is None or found is DEFERRED:
        return found
    parent, key = found
    return parent.get(key)


class _Application:
    """One rule applied to one dict of property data."""

    def __init__(self, rule, schema, ignore_resolve_error):
        self.rule = rule
        self.schema = schema
        self.ignore_resolve_error = ignore_resolve_error

    def _source_path(self):
        return list(self.rule.custom_value_path or ())

    def run(self, data):
        rule = self.rule
        value, where = None, None
        if rule.value is not None:
            value = rule.value
        elif rule.value_path is not None:
            where = _lookup(data, rule.value_path + self._source_path(),
                            "value_path")
            value = _get(where)
            if value is DEFERRED:
                return
        # Containers are made on the way to the target only when there is
        # a value to put there (an ADD or REPLACE with a value at hand; a
        # value_name is read beside the target, which must exist).
        create = rule.rule in (rule.ADD, rule.REPLACE) and value is not None
        moved = False
        for parent, key in list(self._targets(
                data, rule.translation_path, self.schema, create)):
            if parent.get(key) is DEFERRED:
                continue
            if rule.value_name is not None:
                item_where = _lookup(
                    parent, [rule.value_name] + self._source_path(),
                    "value_name")
                item_value = _get(item_where)
                if item_value is not DEFERRED and \
                        self.apply(parent, key, item_value, item_where):
                    _remove(item_where)
            elif self.apply(parent, key, value, where):
                moved = True
        if moved:
            _remove(where)

    def _targets(self, container, path, schema, create):
        """(parent dict, key) of every place ``path`` names."""
        if not isinstance(container, dict):
            return
        key = path[0]
        if len(path) == 1:
            yield container, key
            return
        key_schema = schema.get(key) if schema else None
        value = container.get(key)
        if value is None and create and (
                key_schema is None or
                key_schema.type == properties_mod.Schema.MAP):
            value = container[key] = {}
        inner = _nested_schema(key_schema)
        for item in value if isinstance(value, list) else [value]:
            yield from self._targets(item, path[1:], inner, create)

    def apply(self, parent, key, value, where):
        """Apply the rule at ``parent[key]``; true when a value was moved
        there from ``where`` (which the caller then removes)."""
        rule = self.rule
        if rule.rule == rule.DELETE:
            parent.pop(key, None)
        elif rule.rule == rule.RESOLVE:
            parent[key] = self.resolve(parent.get(key))
        elif value is None:
            pass
        elif rule.rule == rule.ADD:
            current = parent.get(key)
            if current is None:
                current = []
            if not isinstance(current, list):
                raise ValueError(
                    "an Add rule applies to Lists only, and %s is not one"
                    % ".".join(rule.translation_path))
            parent[key] = current + copy.deepcopy(
                value if isinstance(value, list) else [value])
        elif where is None:                 # REPLACE with a given value
            parent[key] = copy.deepcopy(value)
        else:                               # REPLACE from another property
            if _given(parent.get(key)):
                other = rule.value_path or (rule.translation_path[:-1] +
                                            [rule.value_name])
                raise exception.StackValidationFailed(
                    "cannot define the following properties at the same "
                    "time: %s, %s" % (".".join(rule.translation_path),
                                      ".".join(other + self._source_path())))
            parent[key] = copy.deepcopy(value)
            return True
        return False

    def resolve(self, value):
        if value is DEFERRED or not _given(value) or \
                isinstance(value, properties_mod.PendingRef):
            return value        # (a resource's name: nothing to look up)
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        rule = self.rule
        try:
            if rule.custom_function is not None:
                return rule.custom_function(value)
            finder = getattr(rule.client_plugin, rule.finder)
            if rule.entity:
                return finder(rule.entity, value)
            return finder(value)
        except Exception as exc:
            if not self.ignore_resolve_error:
                raise
            LOG.info("resolving %s=%r failed, kept as given: %s",
                     ".".join(rule.translation_path), value, exc)
            return value


def _remove(where):
    """Remove the value a REPLACE moved away (moved, not copied)."""
    if where is not None and where is not DEFERRED:
        parent, key = where
        parent.pop(key, None)
