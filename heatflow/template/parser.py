"""Turning raw template data into trees of function calls."""

from heatflow import exception
from heatflow.template import versions
from heatflow.template.conditions import And, Equals, If, Not, Or
from heatflow.template.data_functions import (
    Contains, Digest, Filter, ListConcat, ListConcatUnique, ListJoin,
    MakeURL, MapMerge, MapReplace, Repeat, StrReplace, StrReplaceStrict,
    StrReplaceVeryStrict, StrSplit)
from heatflow.template import loader
from heatflow.template.functions import (
    GetAttr, GetFile, GetParam, GetResource, ResourceFacade, _fail)
from heatflow.template.yaql_function import Yaql
from heatflow.template.conditions import ConditionName
from heatflow.template import cfn_functions


CLASSES = {cls.name: cls for cls in (
    GetParam, GetResource, GetAttr, GetFile, ListJoin, StrReplace,
    StrReplaceStrict, StrReplaceVeryStrict, StrSplit, MapMerge, MapReplace,
    Repeat, Digest, ListConcat, ListConcatUnique, Contains, Filter, MakeURL,
    If, Yaql, ResourceFacade, Equals, Not, And, Or)}
# CloudFormation-format templates' functions (only their version has them)
CLASSES.update(cfn_functions.CLASSES)

CONDITION_ONLY = frozenset(("equals", "not", "and", "or"))


class Parser:
    """Turns raw template data into trees, knowing the version's functions.

    ``param_names`` and ``condition_names`` let references to unknown
    parameters/conditions fail at parse time with the path of the call.
    """

    def __init__(self, version, param_names=(), condition_names=(),
                 limits=loader.DEFAULT_LIMITS, resource_names=(),
                 mappings=None):
        self.version = version
        self.limits = limits
        self.param_names = frozenset(param_names)
        self.condition_names = frozenset(condition_names)
        # CFN's Ref names a resource or a parameter; Fn::FindInMap reads
        # the Mappings section
        self.resource_names = frozenset(resource_names)
        self.mappings = mappings or {}
        self._in_condition = False
        # "path: message" for maps kept as data that look like calls
        self.warnings = []

    def is_call(self, data):
        """The function name if ``data`` is a call, else None."""
        if isinstance(data, dict) and len(data) == 1:
            (key,) = data
            if key in versions.ALL_FUNCTION_NAMES:
                return key
        return None

    def parse(self, data, path):
        name = self.is_call(data)
        if name is not None:
            return self._call(name, data[name], tuple(path) + (name,))
        if isinstance(data, dict):
            return {k: self.parse(v, tuple(path) + (k,))
                    for k, v in data.items()}
        if isinstance(data, list):
            return [self.parse(v, tuple(path) + (i,))
                    for i, v in enumerate(data)]
        return data

    def _call(self, name, args, path):
        version = self.version
        where = tuple(path[:-1])
        if self._in_condition:
            if name in version.condition_functions:
                return CLASSES[name](self, args, path)
            if name in version.functions or name in CONDITION_ONLY:
                _fail("function %r cannot be used in a condition (allowed: "
                      "%s)" % (name, ", ".join(sorted(
                          version.condition_functions))), path)
        else:
            if name in version.functions:
                return CLASSES[name](self, args, path)
            if name not in versions.CFN_FUNCTIONS or \
                    getattr(version, "cfn", None):
                return self._data(name, args, path)
        if name in versions.HOT_CFN_FUNCTIONS_UNTIL:
            _fail("CloudFormation function %r is not supported in "
                  "heat_template_version %s (HOT had it up to %s)"
                  % (name, version.date,
                     versions.HOT_CFN_FUNCTIONS_UNTIL[name]), path)
        if name in versions.CFN_FUNCTIONS:
            _fail("CloudFormation function %r is not supported in HOT "
                  "templates" % (name,), path)
        _fail("function %r is not available in heat_template_version %s "
              "(it needs %s or later)"
              % (name, version.date, version.since(name)), where + (name,))

    def _data(self, name, args, path):
        """Heat parses with the version's own function table, so a name
        that is no function there (too new, or a condition function
        outside conditions) is plain data; a warning says so."""
        if getattr(self.version, "cfn", None):
            why = "%r is not a function in a %s template" % (
                name, self.version.cfn)
        elif name in CONDITION_ONLY and self.version.has_conditions:
            why = ("%r is a condition function, a function only in the "
                   "conditions section, a condition key or the first "
                   "argument of if" % (name,))
        else:
            why = ("%r is not a function in heat_template_version %s (it "
                   "needs %s or later)"
                   % (name, self.version.date, self.version.since(name)))
        self.warnings.append("%s: %s; the map is kept as plain data"
                             % (exception.format_path(path), why))
        return {name: self.parse(args, path)}

    @property
    def in_condition(self):
        return self._in_condition

    def parse_condition(self, data, path):
        """Parse a condition: bool, condition name, or condition function."""
        if isinstance(data, bool):
            return data
        if isinstance(data, str):
            if data not in self.condition_names:
                _fail("unknown condition %r" % (data,), path)
            return ConditionName(data, path)
        if self.is_call(data) is None:
            _fail("a condition must be a boolean, a condition name or a "
                  "condition function", path)
        saved, self._in_condition = self._in_condition, True
        try:
            return self.parse(data, path)
        finally:
            self._in_condition = saved
