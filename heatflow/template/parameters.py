"""Template parameters: their schemas, type conversion and constraints.

A value arrives from the caller as text or as a native value; it is
converted to the parameter's type first and then checked against every
constraint.  A constraint's ``description``, when given, replaces the
built-in message, as in Heat.  A hidden parameter's value never appears in
a message.
"""

import json
import math
import numbers
import re

from heatflow import constraints, exception

TYPES = ("string", "number", "boolean", "json", "comma_delimited_list")


class HOTParamSchema:
    """Heat's names of the HOT parameter types (``OS::Heat::Value``'s
    ``type`` takes them)."""

    TYPES = (STRING, NUMBER, LIST, MAP, BOOLEAN) = (
        "string", "number", "comma_delimited_list", "json", "boolean")


PSEUDO_PARAMETERS = ("OS::stack_name", "OS::stack_id", "OS::project_id")

_TRUE = frozenset(("true", "t", "yes", "y", "on", "1"))
_FALSE = frozenset(("false", "f", "no", "n", "off", "0"))

# Which constraint applies to which type (Heat refuses the others: the
# valid_types of each constraint class; json is Heat's MAP type).
_NOT_JSON = ("string", "number", "comma_delimited_list", "boolean")
_CONSTRAINT_TYPES = {
    "length": ("string", "comma_delimited_list", "json"),
    "range": ("number",),
    "modulo": ("number",),
    "allowed_values": _NOT_JSON,
    "allowed_pattern": ("string",),
    "custom_constraint": _NOT_JSON,
}


def _fail(message, path):
    raise exception.StackValidationFailed(message, path)


def _is_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _to_number(text):
    """'3' -> 3, '2.5' -> 2.5; ValueError otherwise."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        value = float(text)
        if math.isnan(value) or math.isinf(value):
            raise ValueError(text)
        return value


def convert(ptype, value, path, hidden=False):
    """Convert a given value to ``ptype``; raise with ``path`` if it can't."""
    shown = "" if hidden else " %s" % (_short(value),)
    if ptype == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (bool, int, float)):
            return str(value)
        _fail("value%s is not a string" % shown, path)
    if ptype == "number":
        if _is_number(value):
            return value
        if isinstance(value, str):
            try:
                return _to_number(value)
            except ValueError:
                pass
        _fail("value%s is not a number" % shown, path)
    if ptype == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
        _fail("value%s is not a boolean (true/false, yes/no, on/off, 1/0)"
              % shown, path)
    if ptype == "json":
        if isinstance(value, (dict, list)):
            return value
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                parsed = json.loads(value)
            except ValueError as exc:
                _fail("value is not valid JSON: %s" % (exc,), path)
            if isinstance(parsed, (dict, list)):
                return parsed
        _fail("value%s is not a JSON map or list" % shown, path)
    if ptype == "comma_delimited_list":
        if isinstance(value, (list, tuple)):
            return [v if isinstance(v, str) else
                    (json.dumps(v) if isinstance(v, (dict, list)) else str(v))
                    for v in value]
        # text or a list, as Heat's CommaDelimitedListParam: a number is
        # refused (it would be a one-item list only by accident)
        if isinstance(value, str):
            return [item.strip() for item in value.split(",")] if value else []
        _fail("value%s is not a comma-delimited list" % shown, path)
    raise AssertionError(ptype)  # pragma: no cover - schema checks type


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Constraint:
    """One entry of a parameter's ``constraints`` list."""

    def __init__(self, kind, spec, description, path):
        self.kind = kind
        self.spec = spec
        self.description = description
        self.path = path

    def check(self, ptype, value, path, hidden):
        """None if ``value`` satisfies the constraint, else a message."""
        problem = getattr(self, "_check_" + self.kind)(ptype, value, hidden)
        if problem is None:
            return None
        return self.description if self.description else problem

    def _check_length(self, ptype, value, hidden):
        lo, hi = self.spec.get("min"), self.spec.get("max")
        n = len(value)
        if (lo is None or n >= lo) and (hi is None or n <= hi):
            return None
        what = "length" if ptype == "string" else "number of items"
        if hidden:  # even the length of a secret is not for error messages
            return "%s must be %s" % (what, _bounds(lo, hi))
        return "%s must be %s (is %d)" % (what, _bounds(lo, hi), n)

    def _check_range(self, ptype, value, hidden):
        lo, hi = self.spec.get("min"), self.spec.get("max")
        if (lo is None or value >= lo) and (hi is None or value <= hi):
            return None
        shown = "value" if hidden else "value %s" % (value,)
        return "%s must be %s" % (shown, _bounds(lo, hi))

    def _check_modulo(self, ptype, value, hidden):
        step, offset = self.spec["step"], self.spec["offset"]
        if value % step == offset:
            return None
        shown = "value" if hidden else "value %s" % (value,)
        return ("%s must be %s modulo %s" % (shown, offset, step))

    def _check_allowed_values(self, ptype, value, hidden):
        allowed = self.spec
        items = value if ptype == "comma_delimited_list" else [value]
        for item in items:
            if not any(_same(item, a, ptype) for a in allowed):
                shown = "value" if hidden else "value %s" % (_short(item),)
                return "%s is not one of the allowed values %s" % (
                    shown, ", ".join(_short(a) for a in allowed))
        return None

    def _check_allowed_pattern(self, ptype, value, hidden):
        # Heat anchors the pattern at the start and needs the match to
        # consume the whole value.
        match = self.spec.match(value)
        if match is not None and match.end() == len(value):
            return None
        shown = "value" if hidden else "value %s" % (_short(value),)
        return "%s does not match pattern %s" % (shown, self.spec.pattern)

    def _check_custom_constraint(self, ptype, value, hidden):
        # The check a plugin registered (constraints.register_custom);
        # as in Heat, a name nobody registered refuses the value.
        return constraints.check_custom(
            self.spec, value, shown="value" if hidden else None)


def _same(value, allowed, ptype):
    if ptype == "number":
        try:
            other = allowed if _is_number(
                allowed) else _to_number(str(allowed))
        except ValueError:
            return False
        return value == other
    if ptype == "boolean":
        try:
            return value == convert("boolean", allowed, ())
        except exception.StackValidationFailed:
            return False
    return value == (allowed if isinstance(allowed, str) else str(allowed))


def _bounds(lo, hi):
    if lo is not None and hi is not None:
        return "between %s and %s" % (lo, hi)
    if lo is not None:
        return "at least %s" % (lo,)
    return "at most %s" % (hi,)


def _parse_constraint(entry, ptype, version, path):
    if not isinstance(entry, dict):
        _fail("a constraint must be a map", path)
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        _fail("description must be a string", path + ("description",))
    kinds = [k for k in entry if k != "description"]
    if len(kinds) != 1:
        _fail("a constraint must have exactly one of %s (found %s)"
              % (", ".join(sorted(version.param_constraints)),
                 ", ".join(kinds) or "none"), path)
    kind = kinds[0]
    if kind not in version.param_constraints:
        later = " (needs heat_template_version 2017-02-24 or later)" \
            if kind == "modulo" else ""
        _fail("unknown constraint %r%s" % (kind, later), path)
    if ptype not in _CONSTRAINT_TYPES[kind]:
        _fail("%s constraint is not valid for a %s parameter" % (kind, ptype),
              path)
    spec = entry[kind]
    cpath = path + (kind,)
    if kind in ("length", "range"):
        if not isinstance(spec, dict) or not spec or \
                set(spec) - {"min", "max"}:
            _fail("must be a map with min and/or max", cpath)
        for bound in spec.values():
            if not _is_number(bound):
                _fail("min and max must be numbers", cpath)
        if "min" in spec and "max" in spec and spec["min"] > spec["max"]:
            _fail("min is greater than max", cpath)
    elif kind == "modulo":
        if not isinstance(spec, dict) or set(spec) != {"step", "offset"}:
            _fail("must be a map with step and offset", cpath)
        step, offset = spec["step"], spec["offset"]
        if not (isinstance(step, int) and isinstance(offset, int)) or \
                isinstance(step, bool) or isinstance(offset, bool):
            _fail("step and offset must be integers", cpath)
        # Heat's Modulo: any non-zero step, and an offset of the same sign
        # that is smaller by absolute value (Python's % keeps that sign)
        if step == 0:
            _fail("step must not be 0", cpath)
        if abs(offset) >= abs(step):
            _fail("offset must be smaller than step (by absolute value)",
                  cpath)
        if step * offset < 0:
            _fail("step and offset must be both positive or both negative",
                  cpath)
    elif kind == "allowed_values":
        if not isinstance(spec, list) or not spec:
            _fail("must be a non-empty list", cpath)
    elif kind == "allowed_pattern":
        if not isinstance(spec, str):
            _fail("must be a string", cpath)
        try:
            spec = re.compile(spec)
        except re.error as exc:
            _fail("invalid regular expression: %s" % (exc,), cpath)
    elif kind == "custom_constraint":
        if not isinstance(spec, str):
            _fail("must be a string", cpath)
    return Constraint(kind, spec, description, path)


class ParamSchema:
    """One declared parameter."""

    def __init__(self, name, type, default=None, has_default=False,
                 hidden=False, label=None, description=None, immutable=False,
                 constraints=(), tags=()):
        self.name = name
        self.type = type
        self.default = default
        self.has_default = has_default
        self.hidden = hidden
        self.label = label
        self.description = description
        self.immutable = immutable
        self.constraints = tuple(constraints)
        self.tags = tuple(tags)

    @classmethod
    def from_dict(cls, name, data, version):
        path = ("parameters", name)
        if not isinstance(data, dict):
            _fail("a parameter must be a map with at least a type", path)
        unknown = sorted(set(data) - version.param_keys)
        if unknown:
            _fail("unknown key(s) %s in parameter (allowed: %s)"
                  % (", ".join(unknown),
                     ", ".join(sorted(version.param_keys))),
                  path)
        ptype = data.get("type")
        if ptype is None:
            _fail("missing type", path)
        if ptype not in TYPES:
            _fail("unknown type %r (allowed: %s)" % (ptype, ", ".join(TYPES)),
                  path + ("type",))
        for key in ("hidden", "immutable"):
            if key in data and not isinstance(data[key], bool):
                try:
                    data = dict(data, **{key: convert("boolean", data[key],
                                                      path + (key,))})
                except exception.StackValidationFailed:
                    _fail("must be a boolean", path + (key,))
        for key in ("label", "description"):
            if data.get(key) is not None and not isinstance(data[key], str):
                _fail("must be a string", path + (key,))
        raw_constraints = data.get("constraints") or []
        if not isinstance(raw_constraints, list):
            _fail("must be a list", path + ("constraints",))
        constraints = [
            _parse_constraint(c, ptype, version, path + ("constraints", i))
            for i, c in enumerate(raw_constraints)]
        tags = data.get("tags") or []
        if not isinstance(tags, list) or \
                not all(isinstance(t, str) for t in tags):
            _fail("must be a list of strings", path + ("tags",))
        schema = cls(name, ptype, hidden=bool(data.get("hidden", False)),
                     label=data.get("label"),
                     description=data.get("description"),
                     immutable=bool(data.get("immutable", False)),
                     constraints=constraints, tags=tags)
        if "default" in data and data["default"] is not None:
            # A default must itself be valid: Heat checks it at validation
            # time even when a value is supplied -- except against custom
            # constraints, which Heat asks only about the value in use.
            schema.default = schema.validate(data["default"],
                                             path + ("default",),
                                             custom=False)
            schema.has_default = True
        return schema

    def validate(self, value, path=None, custom=True):
        """Convert ``value`` and check the constraints; return the value."""
        path = path or ("parameters", self.name)
        value = convert(self.type, value, path, self.hidden)
        self.check(value, path, custom)
        return value

    def check(self, value, path=None, custom=True, only_custom=False):
        """Check a converted ``value`` against the constraints."""
        path = path or ("parameters", self.name)
        for constraint in self.constraints:
            is_custom = constraint.kind == "custom_constraint"
            if (is_custom and not custom) or (only_custom and not is_custom):
                continue
            problem = constraint.check(self.type, value, path, self.hidden)
            if problem is not None:
                _fail(problem, path)

    def __repr__(self):
        return "ParamSchema(%r, %r)" % (self.name, self.type)


def parse_schemas(section, version):
    if section is None:
        return {}
    if not isinstance(section, dict):
        _fail("must be a map of parameter definitions", ("parameters",))
    return {name: ParamSchema.from_dict(name, data, version)
            for name, data in section.items()}


def validate_groups(groups, schemas):
    """Check ``parameter_groups``: every name exists, in one group only."""
    if groups is None:
        return
    if not isinstance(groups, list):
        _fail("must be a list", ("parameter_groups",))
    seen = {}
    for i, group in enumerate(groups):
        path = ("parameter_groups", i)
        if not isinstance(group, dict):
            _fail("a parameter group must be a map", path)
        names = group.get("parameters")
        if not isinstance(names, list):
            _fail("must be a list of parameter names", path + ("parameters",))
        for j, name in enumerate(names):
            where = path + ("parameters", j)
            if name not in schemas:
                _fail("unknown parameter %r" % (name,), where)
            if name in seen:
                _fail("parameter %r is already in group %d"
                      % (name, seen[name]),
                      where)
            seen[name] = i


def immutable_changed(old_schemas, old_given, new_schemas, new_values):
    """The parameters an update may not change, but does: as Heat's
    immutable_params_modified, those in both templates, immutable in the
    new one, whose value differs from the stack's current one."""
    changed = []
    for name, schema in new_schemas.items():
        if not schema.immutable or name not in old_schemas:
            continue
        old = old_schemas[name]
        raw = old_given.get(name)
        try:
            before = old.default if raw is None else convert(old.type, raw,
                                                             ())
        except exception.StackValidationFailed:
            before = raw
        if before != new_values.get(name):
            changed.append(name)
    return changed


def bind(schemas, given, stack_name, stack_id, project_id):
    """Typed values for every declared parameter plus the pseudo ones."""
    given = dict(given or {})
    unknown = sorted(n for n in given if n not in schemas)
    if unknown:
        _fail("unknown parameter(s) %s: the template does not declare them"
              % ", ".join(repr(n) for n in unknown),
              ("parameters", unknown[0]))
    # Every missing value at once: a user should not learn them one
    # command at a time.
    missing = [name for name, schema in schemas.items()
               if given.get(name) is None and not schema.has_default]
    if len(missing) == 1:
        _fail("a value is required: the parameter has no default",
              ("parameters", missing[0]))
    if missing:
        _fail("values are required for parameters %s: they have no default"
              % ", ".join(repr(n) for n in missing),
              ("parameters", missing[0]))
    values = {}
    for name, schema in schemas.items():
        if given.get(name) is not None:
            values[name] = schema.validate(given[name])
        else:
            values[name] = schema.default
            # the rest was checked when the template was read
            schema.check(schema.default, only_custom=True)
    values["OS::stack_name"] = stack_name
    values["OS::stack_id"] = stack_id
    values["OS::project_id"] = project_id
    return values
