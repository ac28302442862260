"""Resource property schemas and validated property access.

A plugin declares ``properties_schema = {name: Schema(...)}``; the engine
wraps a resource definition's ``properties`` in :class:`Properties`, calls
``validate()`` before anything is touched, and hands the plugin the object:
``self.properties["size"]`` is the converted value with defaults applied.

Conversions follow Heat so that ported templates behave the same: Integer
takes "3", Number takes numeric text, Boolean takes "true"/"false", String
takes ints and bools (as text).  Values that exist only at run time
(get_resource / get_attr results during validation) are :data:`DEFERRED`
(a get_resource a :class:`PendingRef`) and are skipped by type and
constraint checks; read, they are what Heat's validation gives.
"""

import collections.abc
import json
import numbers

from heatflow import constraints
from heatflow import exception

__all__ = ["DEFERRED", "Schema", "Properties", "diff", "update_forbidden",
           "immutable_changed"]


class _Deferred:
    """Type of :data:`DEFERRED`; a singleton that survives copy and pickle
    (flows persist resource definitions)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "DEFERRED"

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        # A string from __reduce__ tells pickle "the global of this name",
        # so unpickling gives back the one instance.
        return "DEFERRED"


DEFERRED = _Deferred()


class PendingRef(str):
    """What a ``get_resource`` gives during up-front validation: the
    resource's name, which is what Heat's validation gives (its reference
    is not known before it exists).  Not checked against the schema, as
    :data:`DEFERRED` is not."""

    __slots__ = ()


def known(value):
    """Is ``value`` (property data, at any depth) known, rather than
    :data:`DEFERRED` or a :class:`PendingRef` of up-front validation?"""
    if value is DEFERRED or isinstance(value, PendingRef):
        return False
    if isinstance(value, collections.abc.Mapping):
        return all(known(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(known(v) for v in value)
    return True


class _AnyIndex(collections.abc.Mapping):
    """The item schema of a List: every index maps to the same Schema.

    Heat's convention: a List's ``schema`` is one Schema applying to all
    items; it is also reachable under the key ``"*"``.
    """

    ANYTHING = "*"

    def __init__(self, item_schema):
        self.item = item_schema

    def __getitem__(self, key):
        if key == self.ANYTHING or (isinstance(key, int)
                                    and not isinstance(key, bool)):
            return self.item
        raise KeyError(key)

    def __iter__(self):
        return iter((self.ANYTHING,))

    def __len__(self):
        return 1

    def __repr__(self):
        return "{'*': %r}" % (self.item,)


class Schema(constraints.Schema):
    """The declaration of one property."""

    def __init__(self, data_type, description=None, default=None, schema=None,
                 required=False, constraints=None, implemented=True,
                 update_allowed=False, immutable=False, support_status=None,
                 allow_conversion=False):
        # Schema mistakes are plugin bugs: fail when the plugin is imported.
        if data_type not in self.TYPES:
            raise exception.PluginError("unknown property type %r (one of %s)"
                                        % (data_type, ", ".join(self.TYPES)))
        self.type = data_type
        self.description = description
        self.default = default
        self.required = required
        self.constraints = list(constraints or [])
        self.implemented = implemented
        self.update_allowed = update_allowed
        self.immutable = immutable
        self.support_status = support_status
        self.allow_conversion = allow_conversion
        self.schema = self._nested(data_type, schema)

    @staticmethod
    def _nested(data_type, schema):
        if schema is None:
            return None
        if data_type == Schema.LIST:
            if isinstance(schema, Schema):
                return _AnyIndex(schema)
            if (isinstance(schema, collections.abc.Mapping)
                    and set(schema) == {"*"}
                    and isinstance(schema["*"], Schema)):
                return _AnyIndex(schema["*"])
            raise exception.PluginError(
                "a List's schema must be one Schema (or {'*': Schema})")
        if data_type == Schema.MAP:
            if isinstance(schema, collections.abc.Mapping) and all(
                    isinstance(s, Schema) for s in schema.values()):
                return dict(schema)
            raise exception.PluginError(
                "a Map's schema must be a dict of name -> Schema")
        raise exception.PluginError(
            "only List and Map properties take a schema")

    @property
    def data_type(self):
        return self.type

    def has_default(self):
        return self.default is not None

    def __repr__(self):
        return "Schema(%r%s)" % (self.type, ", required=True"
                                 if self.required else "")

    def to_dict(self):
        """The declaration as ``resource type show`` prints it: Heat's
        keys, its type names in lower case, unset ones left out."""
        data = {"type": self.type.lower()}
        if self.description is not None:
            data["description"] = self.description
        if self.default is not None:
            data["default"] = self.default
        data.update(required=self.required,
                    update_allowed=self.update_allowed,
                    immutable=self.immutable)
        if self.constraints:
            data["constraints"] = [c.to_dict() for c in self.constraints]
        if self.schema is not None:     # a List's is {"*": item schema}
            data["schema"] = {k: v.to_dict() for k, v in self.schema.items()}
        return data


def _show(value):
    """A value as it appears in an error message."""
    if isinstance(value, str):
        return '"%s"' % value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _fail(message, path):
    raise exception.StackValidationFailed(message, path)


def _to_integer(value, path):
    if isinstance(value, bool):
        _fail("%s is not an integer" % _show(value), path)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    _fail("%s is not an integer" % _show(value), path)


def _to_number(value, path):
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        for convert in (int, float):
            try:
                return convert(value.strip())
            except ValueError:
                pass
    _fail("%s is not a number" % _show(value), path)


def _to_string(value, path):
    if isinstance(value, str):
        return value
    # Heat accepts ints and bools as text (YAML turns `port: 80` into an
    # int); floats and structures are refused.
    if isinstance(value, (bool, int)):
        return str(value)
    _fail("%s is not a string" % _show(value), path)


def _to_boolean(value, path):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    _fail("%s is not a valid boolean" % _show(value), path)


def _to_list(schema, value, path, check):
    if isinstance(value, str) and schema.allow_conversion:
        # Comma-delimited text, as a comma_delimited_list parameter gives.
        value = [v.strip() for v in value.split(",")] if value else []
    if (not isinstance(value, collections.abc.Sequence)
            or isinstance(value, (str, bytes))):
        _fail("%s is not a list" % _show(value), path)
    if schema.schema is None:
        return _as_heat_reads(list(value))
    item = schema.schema["*"]
    return [_convert(item, v, list(path) + [i], check)
            for i, v in enumerate(value)]


def _to_map(schema, value, path, check):
    if not isinstance(value, collections.abc.Mapping):
        if schema.allow_conversion and isinstance(value, str):
            return value                  # Heat passes JSON text through
        if schema.allow_conversion and isinstance(value, (list, tuple)):
            return json.dumps(value)
        _fail("%s is not a map" % _show(value), path)
    if schema.schema is None:
        return _as_heat_reads(dict(value))
    # A Map with a schema is a nested set of properties: same rules
    # (unknown keys, required, defaults) as the top level.
    nested = Properties(schema.schema, value, path=path)
    if check:
        nested.validate()
    return dict(nested)


def _as_heat_reads(value):
    """``value`` with what is not known yet (in schema-less data) null,
    as Heat's validation reads it."""
    if value is DEFERRED:
        return None
    if isinstance(value, dict):
        return {k: _as_heat_reads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_heat_reads(v) for v in value]
    return value


def _null(schema):
    """What an explicit null stands for: Heat's Property.get_value(None)
    gives the default, else the type's empty value (Any stays null)."""
    if schema.has_default():
        return schema.default
    return {Schema.STRING: "", Schema.INTEGER: 0, Schema.NUMBER: 0,
            Schema.BOOLEAN: False, Schema.LIST: [],
            Schema.MAP: {}}.get(schema.type)


def _convert(schema, value, path, check):
    """Convert one value to its schema's type; with ``check`` also apply the
    constraints.  Raises StackValidationFailed naming ``path``."""
    if value is DEFERRED or isinstance(value, PendingRef):
        # Not known before the resources exist: not checked (Heat does
        # not check a value depending on a resource not created yet).
        # Read, it is what Heat's validation gives: a get_resource the
        # resource's name, anything else null.
        if isinstance(value, PendingRef) and \
                schema.type in (Schema.STRING, Schema.ANY):
            return value
        return _null(schema)
    if value is None:
        value = _null(schema)
        if value is None:
            return None
    kind = schema.type
    if kind == Schema.INTEGER:
        value = _to_integer(value, path)
    elif kind == Schema.NUMBER:
        value = _to_number(value, path)
    elif kind == Schema.STRING:
        value = _to_string(value, path)
    elif kind == Schema.BOOLEAN:
        value = _to_boolean(value, path)
    elif kind == Schema.LIST:
        value = _to_list(schema, value, path, check)
    elif kind == Schema.MAP:
        value = _to_map(schema, value, path, check)
    elif kind == Schema.ANY and isinstance(value, (dict, list)):
        value = _as_heat_reads(value)
    if check:
        for constraint in schema.constraints:
            try:
                constraint.validate(value)
            except ValueError as err:
                raise exception.StackValidationFailed(str(err), path) from None
    return value


class Properties(collections.abc.Mapping):
    """A resource's properties: raw ``data`` checked against ``schema``.

    ``path`` is where the properties sit in the template, e.g.
    ``("resources", "web", "properties")``, so errors name the exact place.
    With ``strict=False`` keys the schema does not know are accepted and
    returned as given (for plugins that take anything).
    """

    def __init__(self, schema, data, path=(), strict=True):
        self.schema = schema
        self.data = {} if data is None else data
        self.path = [] if path is None else (
            [path] if isinstance(path, str) else list(path))
        self.strict = strict

    def _at(self, key):
        return self.path + [key]

    @property
    def props(self):
        """Heat's ``{name: Property}``: a plugin that sets one gives that
        property a schema of its own on this object (Heat's
        ``OS::Heat::Value`` types its ``value`` so)."""
        return _PropertyMap(self)

    def validate(self):
        """Raise StackValidationFailed for the first problem found."""
        if not isinstance(self.data, collections.abc.Mapping) and \
                not known(self.data):
            return      # the whole map comes from a function: run time
        if not isinstance(self.data, collections.abc.Mapping):
            _fail("properties must be a map, not %s" % _show(self.data),
                  self.path)
        if self.strict:
            for key in self.data:
                if key not in self.schema:
                    _fail("unknown property", self._at(key))
        for key, schema in self.schema.items():
            given = self.data.get(key)
            if not schema.implemented and given is not None:
                _fail("property is not implemented yet", self._at(key))
            self._value(key, check=True)

    def _value(self, key, check=False):
        schema = self.schema[key]
        if isinstance(self.data, collections.abc.Mapping) and \
                key in self.data:
            # an explicit null too: _convert gives Heat's value for it
            return _convert(schema, self.data[key], self._at(key), check)
        if schema.has_default():
            # Defaults are converted and checked like given values, so
            # a wrong default is reported rather than silently used.
            return _convert(schema, schema.default, self._at(key), check)
        if schema.required:
            _fail("property is required", self._at(key))
        return None

    def known(self, key):
        """Is property ``key``'s value known?  False during up-front
        validation for one that depends on other resources (its value
        then is Heat's placeholder: see :class:`PendingRef`)."""
        if not isinstance(self.data, collections.abc.Mapping):
            return known(self.data)
        return known(self.data.get(key))

    def __getitem__(self, key):
        if key in self.schema:
            return self._value(key)
        if not self.strict and key in self.data:
            return self.data[key]
        raise KeyError(key)

    def _keys(self):
        keys = list(self.schema)
        if not self.strict and isinstance(self.data, collections.abc.Mapping):
            keys += [k for k in self.data if k not in self.schema]
        return keys

    def __iter__(self):
        return iter(self._keys())

    def __len__(self):
        return len(self._keys())

    def __contains__(self, key):
        return key in self.schema or (not self.strict and key in self.data)

    def __repr__(self):
        return "Properties(%r)" % (self.data,)


class Property:
    """Heat's: one property's schema under its name, for
    ``Properties.props``."""

    def __init__(self, schema, name=None, context=None, path=None):
        self.schema = schema
        self.name = name


class _PropertyMap(collections.abc.MutableMapping):
    def __init__(self, owner):
        self._owner = owner

    def __getitem__(self, key):
        return Property(self._owner.schema[key], key)

    def __setitem__(self, key, prop):
        schema = getattr(prop, "schema", prop)
        if not isinstance(schema, Schema):
            raise TypeError("%r is not a property schema" % (prop,))
        # Copied: the plugin class's schema is shared by every object.
        owner = self._owner
        owner.schema = dict(owner.schema, **{key: schema})

    def __delitem__(self, key):
        owner = self._owner
        owner.schema = {k: v for k, v in owner.schema.items() if k != key}

    def __iter__(self):
        return iter(self._owner.schema)

    def __len__(self):
        return len(self._owner.schema)


def diff(old, new):
    """The properties that changed between two raw property dicts.

    Returns ``{key: new value}``; a removed key maps to None (Heat's
    ``prop_diff`` convention).  A key whose value is null on one side and
    absent on the other is unchanged: both mean "not given".
    """
    old = old or {}
    new = new or {}
    changed = {}
    for key in list(old) + [k for k in new if k not in old]:
        before = old.get(key)
        after = new.get(key)
        if before != after:
            changed[key] = after
    return changed


def update_forbidden(schema, changed_keys):
    """Sorted changed keys that cannot be updated in place (the resource
    must be replaced).  Keys the schema does not know can only occur with
    non-strict plugins (OS::Heat::None, stand-ins for unknown types); they
    update in place, as Heat's None resource never gets replaced."""
    return sorted(k for k in changed_keys
                  if k in schema and not schema[k].update_allowed)


def immutable_changed(schema, changed_keys):
    """Sorted changed keys declared ``immutable``: such an update must fail
    rather than replace the resource (Heat's rule)."""
    return sorted(k for k in changed_keys
                  if k in schema and schema[k].immutable)
