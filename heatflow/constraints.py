"""Value constraints shared by HOT parameters and resource properties.

Every constraint has ``validate(value)``: it returns None when the value is
acceptable and raises ``ValueError(message)`` otherwise.  The message is the
constraint's ``description`` when the template author gave one (so the author
controls what users read), else a default text naming the value.  Callers
(parameters, properties) add the template path; a constraint knows nothing of
where its value came from.
"""

import collections.abc
import numbers
import re

from heatflow import exception

__all__ = ["Constraint", "Length", "Range", "AllowedValues", "AllowedPattern",
           "Modulo", "CustomConstraint", "register_custom",
           "unregister_custom", "check_custom",
           "from_hot"]


def _to_number(value):
    """Numbers as they arrive from templates: ints, floats or numeric text."""
    if isinstance(value, bool):
        # bool is an int subclass; True is not "1" to a template author.
        raise ValueError("%r is not a number" % (value,))
    if isinstance(value, numbers.Number):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
    raise ValueError("%r is not a number" % (value,))


def _fmt(number):
    """Print 3.0 as 3 so messages read like the template."""
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


class Schema:
    """Heat's ``constraints.Schema``: the type names a property or
    attribute schema takes (``heatflow.properties.Schema`` declares
    properties)."""

    #: The key naming a type in a schema's dict form.
    TYPE = "type"
    TYPES = (INTEGER, STRING, NUMBER, BOOLEAN, MAP, LIST, ANY) = (
        "Integer", "String", "Number", "Boolean", "Map", "List", "Any")


class Constraint:
    """Base class: subclasses implement ``_check(value)`` returning None or
    a default error text."""

    def __init__(self, description=None):
        self.description = description

    def validate(self, value):
        error = self._check(value)
        if error is not None:
            raise ValueError(self.description or error)

    def _check(self, value):
        raise NotImplementedError

    def to_dict(self):
        """The constraint as ``resource type show`` prints it (Heat's
        keys: ``{"range": {"min": 1, "max": 5}, "description": ...}``)."""
        data = {self.KEY: self._spec()}
        if self.description is not None:
            data["description"] = self.description
        return data

    def _spec(self):
        raise NotImplementedError

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        args = ", ".join("%s=%r" % kv for kv in sorted(vars(self).items())
                         if kv[1] is not None)
        return "%s(%s)" % (type(self).__name__, args)


class _MinMax(Constraint):
    """Shared bounds handling of Range and Length."""

    def __init__(self, min=None, max=None, description=None):
        super().__init__(description)
        if min is None and max is None:
            raise ValueError("%s needs a min or a max" % type(self).__name__)
        for bound in (min, max):
            if bound is not None:
                _to_number(bound)
        self.min = min
        self.max = max

    def _spec(self):
        return {k: v for k, v in (("min", self.min), ("max", self.max))
                if v is not None}

    def _bounds_error(self, what, measured):
        low = None if self.min is None else _to_number(self.min)
        high = None if self.max is None else _to_number(self.max)
        if ((low is None or measured >= low)
                and (high is None or measured <= high)):
            return None
        if low is not None and high is not None:
            return "%s %s is out of range %s..%s" % (
                what, _fmt(measured), _fmt(low), _fmt(high))
        if low is not None:
            return "%s %s is less than the minimum %s" % (
                what, _fmt(measured), _fmt(low))
        return "%s %s is greater than the maximum %s" % (
            what, _fmt(measured), _fmt(high))


class Range(_MinMax):
    """Numeric bounds, inclusive.  Numeric strings are compared as numbers
    because parameter values often arrive as text."""

    KEY = "range"

    def _check(self, value):
        try:
            number = _to_number(value)
        except ValueError:
            return "%r is not a number" % (value,)
        return self._bounds_error("value", number)


class Length(_MinMax):
    """Bounds on the length of a string, list or map, inclusive."""

    KEY = "length"

    def _check(self, value):
        if not isinstance(value, (str, collections.abc.Sequence,
                                  collections.abc.Mapping)):
            return "%r has no length" % (value,)
        return self._bounds_error("length", len(value))


class AllowedValues(Constraint):
    KEY = "allowed_values"

    def _spec(self):
        return list(self.allowed)

    def __init__(self, allowed, description=None):
        super().__init__(description)
        if isinstance(allowed, (str, bytes)) or not isinstance(
                allowed, collections.abc.Iterable):
            raise ValueError("allowed values must be a list")
        self.allowed = list(allowed)

    def _check(self, value):
        if value in self.allowed:
            return None
        if isinstance(value, list):
            # Heat's rule for a list (OS::Heat::Delay's ``actions``): every
            # item is one of the allowed values.
            bad = [v for v in value if self._check(v) is not None]
            if not bad:
                return None
            return "%s is not an allowed value %s" % (
                _quote(bad[0]), self._listed())
        # Parameters hold numbers as text ("2") while the template may list
        # them as numbers (2) or the other way round: compare as text too.
        if not isinstance(value, (list, dict)) and str(value) in [
                str(a) for a in self.allowed]:
            return None
        return "%s is not an allowed value %s" % (
            _quote(value), self._listed())

    def _listed(self):
        return "[%s]" % ", ".join(_quote(a) for a in self.allowed)


def _quote(value):
    return '"%s"' % value if isinstance(value, str) else repr(value)


class AllowedPattern(Constraint):
    """A regular expression the whole string must match (Heat anchors the
    pattern at both ends; so do we, with fullmatch)."""

    KEY = "allowed_pattern"

    def _spec(self):
        return self.pattern

    def __init__(self, pattern, description=None):
        super().__init__(description)
        if not isinstance(pattern, str):
            raise ValueError("allowed_pattern must be a string")
        self.pattern = pattern
        try:
            self._regex = re.compile(pattern)
        except re.error as err:     # not a ValueError: callers expect one
            raise ValueError("bad pattern %r: %s" % (pattern, err)) from None

    def __eq__(self, other):
        return (type(self) is type(other) and self.pattern == other.pattern
                and self.description == other.description)

    __hash__ = Constraint.__hash__

    def __repr__(self):
        return "AllowedPattern(pattern=%r)" % (self.pattern,)

    def _check(self, value):
        if not isinstance(value, str):
            return "%r is not a string" % (value,)
        if self._regex.fullmatch(value) is None:
            return '"%s" does not match pattern "%s"' % (value, self.pattern)
        return None


class Modulo(Constraint):
    """value % step == offset (Heat's rule: offset is smaller than step in
    absolute value and has the same sign)."""

    KEY = "modulo"

    def _spec(self):
        return {"step": self.step, "offset": self.offset}

    def __init__(self, step, offset, description=None):
        super().__init__(description)
        if step is None or offset is None:
            raise ValueError("modulo needs both step and offset")
        step, offset = _to_number(step), _to_number(offset)
        if step == 0:
            raise ValueError("modulo step must not be 0")
        if abs(offset) >= abs(step):
            raise ValueError("modulo offset must be smaller than step")
        if offset and (offset > 0) != (step > 0):
            raise ValueError("modulo step and offset must have the same sign")
        self.step = step
        self.offset = offset

    def _check(self, value):
        try:
            number = _to_number(value)
        except ValueError:
            return "%r is not a number" % (value,)
        if number % self.step == self.offset:
            return None
        return "value %s is not a multiple of %s with an offset of %s" % (
            _fmt(number), _fmt(self.step), _fmt(self.offset))


# name -> callable(value); registered by plugins that know how to check e.g.
# "nova.flavor".  Unregistered names are accepted and check nothing: heatflow
# cannot look up flavors in a cloud it does not talk to.
_custom_validators = {}


def register_custom(name, fn):
    """Register ``fn(value)`` as the check of custom constraint ``name``.

    ``fn`` returns a false value to reject (the default message is used),
    or raises ValueError with its own message; anything else accepts.
    """
    _custom_validators[name] = fn


def unregister_custom(name):
    _custom_validators.pop(name, None)


class CustomConstraint(Constraint):
    KEY = "custom_constraint"

    def _spec(self):
        return self.name

    def __init__(self, name, description=None):
        super().__init__(description)
        if not isinstance(name, str) or not name:
            raise ValueError("custom_constraint must be a name")
        self.name = name

    def _check(self, value):
        if self.name not in _custom_validators:
            return None
        return check_custom(self.name, value)


def check_custom(name, value, shown=None):
    """None if the check registered as ``name`` accepts ``value``, else the
    message.  A name nobody registered fails, as in Heat ("constraint not
    found").  ``shown`` replaces the quoted value in messages (hidden
    parameters), and then a check's own message, which may quote the
    value, is not used."""
    shown = '"%s"' % (value,) if shown is None else shown
    fn = _custom_validators.get(name)
    if fn is None:
        return "%s does not validate %s (constraint not found)" % (shown, name)
    default = "%s does not validate %s" % (shown, name)
    try:
        ok = fn(value)
    except ValueError as err:
        return str(err) if str(err) and shown.startswith('"') else default
    return default if ok is False else None


def _bounds(kind, body, path):
    if not isinstance(body, collections.abc.Mapping):
        raise exception.StackValidationFailed(
            "%s must be a mapping with min and/or max" % kind, path)
    unknown = set(body) - {"min", "max"}
    if unknown:
        raise exception.StackValidationFailed(
            "unknown %s key %s" % (kind, ", ".join(sorted(map(str, unknown)))),
            path)
    for key in ("min", "max"):
        if key in body:
            try:
                _to_number(body[key])
            except ValueError:
                raise exception.StackValidationFailed(
                    "%s %s must be a number" % (kind, key),
                    list(_as_list(path)) + [key]) from None
    if "min" not in body and "max" not in body:
        raise exception.StackValidationFailed(
            "%s needs a min or a max" % kind, path)
    return body.get("min"), body.get("max")


def _as_list(path):
    if path is None:
        return []
    if isinstance(path, str):
        return [path]
    return list(path)


_HOT_KEYS = ("length", "range", "allowed_values", "allowed_pattern", "modulo",
             "custom_constraint")


def from_hot(entry, path=None):
    """Build a constraint from one entry of a HOT parameter's ``constraints``.

    ``entry`` is e.g. ``{"range": {"min": 1, "max": 9}, "description": "x"}``;
    ``path`` locates it in the template for error messages.
    """
    if not isinstance(entry, collections.abc.Mapping):
        raise exception.StackValidationFailed(
            "a constraint must be a mapping", path)
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        raise exception.StackValidationFailed(
            "constraint description must be a string",
            _as_list(path) + ["description"])
    kinds = [k for k in entry if k != "description"]
    if len(kinds) != 1 or kinds[0] not in _HOT_KEYS:
        if len(kinds) == 1:
            msg = "unknown constraint %r" % (kinds[0],)
        elif not kinds:
            msg = "constraint has no type (one of %s)" % ", ".join(_HOT_KEYS)
        else:
            msg = "constraint must have exactly one type, got %s" % ", ".join(
                sorted(map(str, kinds)))
        raise exception.StackValidationFailed(msg, path)
    kind = kinds[0]
    body = entry[kind]
    where = _as_list(path) + [kind]
    try:
        if kind == "range":
            low, high = _bounds(kind, body, where)
            return Range(low, high, description)
        if kind == "length":
            low, high = _bounds(kind, body, where)
            return Length(low, high, description)
        if kind == "allowed_values":
            if not isinstance(body, list):
                raise ValueError("allowed_values must be a list")
            return AllowedValues(body, description)
        if kind == "allowed_pattern":
            return AllowedPattern(body, description)
        if kind == "modulo":
            if not isinstance(body, collections.abc.Mapping) or set(body) != {
                    "step", "offset"}:
                raise ValueError(
                    "modulo must be a mapping with step and offset")
            return Modulo(body["step"], body["offset"], description)
        return CustomConstraint(body, description)
    except exception.StackValidationFailed:
        raise
    except (ValueError, TypeError) as err:
        raise exception.StackValidationFailed(
            "invalid %s constraint: %s" % (kind, err), where) from None
