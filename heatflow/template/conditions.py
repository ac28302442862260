"""The ``conditions`` section: named booleans evaluated once per binding.

A condition may name other conditions inside not/and/or (not as its whole
definition: Heat refuses that); they are evaluated on demand and memoised,
and a condition that reaches itself is reported with the cycle it forms.
"""

from heatflow import exception
from heatflow.template import functions
from heatflow.template.functions import Function, OMIT, _fail, resolve


def evaluate_condition(tree, ctx, path):
    """Evaluate a parsed condition: a bool, a condition name or a call."""
    if isinstance(tree, bool):
        return tree
    if isinstance(tree, ConditionName):
        return tree.value(ctx.condition if ctx is not None else None)
    if isinstance(tree, Function):
        if ctx is None:
            _fail("conditions are not available here", path)
        value = tree.result(ctx)
        if not isinstance(value, bool):
            _fail("condition must evaluate to a boolean, got %r" % (value,),
                  path)
        return value
    _fail("condition must be a boolean, a condition name or a condition "
          "function", path)


class ConditionName:
    """A reference to a condition of the ``conditions`` section by name."""

    def __init__(self, name, path):
        self.name = name
        self.path = tuple(path)

    def value(self, condition):
        if condition is None:
            _fail("conditions are not available here", self.path)
        return condition(self.name)

    def __repr__(self):
        return "ConditionName(%r)" % self.name


class _ConditionFunction(Function):
    def _condition(self, tree, ctx, index):
        if isinstance(tree, bool):
            return tree
        if isinstance(tree, ConditionName):
            return tree.value(ctx.condition)
        value = resolve(tree, ctx)
        if not isinstance(value, bool):
            _fail("must be a boolean, a condition name or a condition "
                  "function, got %r" % (value,), self.path + (index,))
        return value


class Equals(_ConditionFunction):
    name = "equals"

    def parse(self, parser, args):
        if not isinstance(args, list) or len(args) != 2:
            self.fail("argument must be a list of two values")
        self.args = parser.parse(args, self.path)

    def result(self, ctx):
        a, b = resolve(self.args, ctx)
        return a == b


class Not(_ConditionFunction):
    name = "not"

    def parse(self, parser, args):
        self.args = parser.parse_condition(args, self.path)

    def result(self, ctx):
        return not self._condition(self.args, ctx, 0)


class And(_ConditionFunction):
    name = "and"

    def parse(self, parser, args):
        if not isinstance(args, list) or len(args) < 2:
            self.fail("argument must be a list of at least two conditions")
        self.args = [parser.parse_condition(a, self.path + (i,))
                     for i, a in enumerate(args)]

    def result(self, ctx):
        return all(self._condition(a, ctx, i) for i, a in enumerate(self.args))


class Or(And):
    name = "or"

    def result(self, ctx):
        return any(self._condition(a, ctx, i) for i, a in enumerate(self.args))


class If(Function):
    name = "if"

    def parse(self, parser, args):
        nullable = parser.version.if_nullable
        sizes = (2, 3) if nullable else (3,)
        if not isinstance(args, list) or len(args) not in sizes:
            self.fail("argument must be a list [condition, value_if_true%s]"
                      % (", value_if_false?" if nullable
                         else ", value_if_false"))
        self.condition = parser.parse_condition(args[0], self.path + (0,))
        self.if_true = parser.parse(args[1], self.path)
        self.if_false = parser.parse(args[2], self.path) \
            if len(args) > 2 else OMIT
        self.args = []

    def choose(self, ctx):
        return self.if_true if evaluate_condition(
            self.condition, ctx, self.path) else self.if_false

    def children(self, ctx):
        if ctx is None:
            return [self.condition, self.if_true, self.if_false]
        return [self.condition, self.choose(ctx)]

    def depends_on_resources(self, ctx):
        # only the chosen value can make the result run-time data, and its
        # own calls defer themselves
        return False

    def result(self, ctx):
        branch = self.choose(ctx)
        return branch if branch is OMIT else resolve(branch, ctx)


class Conditions:
    def __init__(self, parsed, params):
        self._parsed = parsed
        self._values = {}
        self._active = []
        self._ctx = functions.Context(params, condition=self.is_enabled)

    def is_enabled(self, name):
        if name in self._values:
            return self._values[name]
        if name not in self._parsed:
            raise exception.StackValidationFailed(
                "unknown condition %r" % (name,), "conditions")
        if name in self._active:
            cycle = self._active[self._active.index(name):] + [name]
            raise exception.StackValidationFailed(
                "condition cycle: %s" % " -> ".join(cycle), "conditions")
        self._active.append(name)
        try:
            value = evaluate_condition(
                self._parsed[name], self._ctx, ("conditions", name))
        finally:
            self._active.pop()
        self._values[name] = value
        return value

    def evaluate_all(self):
        for name in self._parsed:
            self.is_enabled(name)
        return dict(self._values)
