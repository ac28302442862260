"""Intrinsic functions, core: the tree, evaluation and references.

``parser.Parser.parse`` turns raw template data into a *tree*: the same
dicts, lists and scalars, except that every function call is replaced by a
:class:`Function` object.  Argument shapes knowable from the text are checked
while parsing, with the path of the call; the rest when the function runs.
``resolve(tree, ctx)`` evaluates a tree and ``walk(tree, ctx)`` yields every
call in it (for dependency and reference analysis).  This module holds the
reference functions (get_param, get_resource, get_attr, get_file);
``data_functions`` the computing ones; ``conditions`` if/equals/not/and/or.
"""

from heatflow import exception
from heatflow.template import loader
from heatflow.template.parameters import PSEUDO_PARAMETERS


class _Marker:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


# Result of ``if`` without a false branch (2021-04-16): drop the value.
OMIT = _Marker("OMIT")


def _fail(message, path):
    raise exception.StackValidationFailed(message, path)


def _kind(value):
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return "a %s" % type(value).__name__


class Context:
    """What evaluation needs: parameter values, conditions, run-time data.

    ``deferred``, when set, is returned for anything that depends on
    resources (get_resource, get_attr and what is computed from them): it is
    how validation evaluates properties before any resource exists.
    ``deferred_ref(name)``, with it, is what a plain get_resource gives
    instead (Heat's validation gives the resource's name).
    """

    def __init__(self, params, condition=None, refs=None, attrs=None,
                 files=None, limits=loader.DEFAULT_LIMITS, deferred=None,
                 deferred_ref=None):
        self.params = params
        self.condition = condition
        self.refs = refs
        self.attrs = attrs
        self.files = files if files is not None else {}
        self.limits = limits
        self.deferred = deferred
        self.deferred_ref = deferred_ref


def resolve(tree, ctx):
    """Evaluate a parsed tree into plain data."""
    if isinstance(tree, Function):
        return tree.evaluate(ctx)
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            value = resolve(value, ctx)
            if value is not OMIT:
                out[key] = value
        return out
    if isinstance(tree, list):
        return [v for v in (resolve(item, ctx) for item in tree)
                if v is not OMIT]
    return tree


def walk(tree, ctx=None):
    """Yield every Function in ``tree``.

    With a :class:`Context` (whose parameters and conditions are known),
    ``if`` yields only
    the branch it takes, so references in a branch not taken do not count --
    Heat evaluates ``if`` before it looks for dependencies.
    """
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Function):
            yield node
            stack.extend(node.children(ctx))
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def contains_deferred(value, marker):
    stack = [value]
    while stack:
        v = stack.pop()
        if v is marker:
            return True
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


class Function:
    """A call of an intrinsic function at ``path``."""

    name = None
    # only condition functions may appear in condition context
    runtime = False  # True for calls that read resources

    def __init__(self, parser, args, path):
        self.path = tuple(path)
        self.raw = args
        self.parse(parser, args)

    # -- parse time ---------------------------------------------------------
    def parse(self, parser, args):
        self.args = parser.parse(args, self.path)

    def children(self, ctx):
        return [self.args]

    # -- evaluation ---------------------------------------------------------
    def evaluate(self, ctx):
        if ctx.deferred is not None and self.depends_on_resources(ctx):
            return ctx.deferred
        value = self.result(ctx)
        if isinstance(value, (str, list, dict)):
            limit = ctx.limits.max_value_bytes
            if loader.value_size(value, limit) > limit:
                raise exception.LimitExceeded(
                    "result is larger than %d bytes (max_value_bytes)"
                    % limit, self.path)
        return value

    def depends_on_resources(self, ctx):
        return any(f.runtime for f in walk(self, ctx))

    def result(self, ctx):  # pragma: no cover - abstract
        raise NotImplementedError

    def fail(self, message):
        _fail(message, self.path)

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.raw)


class FixedList(Function):
    """A function whose argument is a list of ``size`` items (``usage``
    names them, for the message)."""

    size = None
    usage = None

    def parse(self, parser, args):
        if not isinstance(args, list) or len(args) != self.size:
            self.fail("argument must be a list " + self.usage)
        self.args = parser.parse(args, self.path)


def _path_get(value, components, missing):
    """Follow ``components`` (keys / list indexes) into ``value``."""
    for key in components:
        if isinstance(value, dict):
            if not isinstance(key, str) or key not in value:
                if isinstance(key, (int, float)) and str(key) in value:
                    key = str(key)
                else:
                    return missing
            value = value[key]
        elif isinstance(value, list):
            try:
                index = int(key)
            except (TypeError, ValueError):
                return missing
            if isinstance(key, bool) or not -len(value) <= index < len(value):
                return missing
            value = value[index]
        else:
            return missing
    return value


class GetParam(Function):
    name = "get_param"

    def parse(self, parser, args):
        if isinstance(args, str):
            args = [args]
        if not isinstance(args, list) or not args:
            self.fail("argument must be a parameter name or a list "
                      "[name, key/index, ...]")
        if not isinstance(args[0], str):
            self.fail("parameter name must be a string")
        if args[0] not in parser.param_names and \
                args[0] not in PSEUDO_PARAMETERS:
            self.fail("unknown parameter %r" % (args[0],))
        self.param = args[0]
        self.args = parser.parse(args[1:], self.path)

    def result(self, ctx):
        value = ctx.params[self.param]
        components = resolve(self.args, ctx)
        if not components:
            return value
        for c in components:
            if not isinstance(c, (str, int)) or isinstance(c, bool):
                self.fail("path components must be strings or integers")
        # Heat answers a path that leads nowhere with an empty string.
        return _path_get(value, components, "")


class GetResource(Function):
    name = "get_resource"
    runtime = True

    def parse(self, parser, args):
        if not isinstance(args, str):
            self.fail("argument must be a resource name (a string)")
        self.resource = args
        self.args = []

    def evaluate(self, ctx):
        if ctx.deferred is not None and ctx.deferred_ref is not None:
            return ctx.deferred_ref(self.resource)
        return super().evaluate(ctx)

    def result(self, ctx):
        try:
            return ctx.refs[self.resource]
        except (KeyError, TypeError):
            self.fail("the reference of resource %r is not available"
                      % (self.resource,))


class GetAttr(Function):
    name = "get_attr"
    runtime = True

    def parse(self, parser, args):
        low = 1 if parser.version.get_attr_all else 2
        if not isinstance(args, list) or len(args) < low:
            self.fail("argument must be a list [resource, attribute, ...]"
                      if low == 2 else
                      "argument must be a list [resource, attribute?, ...]")
        if not isinstance(args[0], str):
            self.fail("resource name must be a string")
        self.resource = args[0]
        self.attribute = parser.parse(args[1], self.path) \
            if len(args) > 1 else None
        if isinstance(self.attribute, (dict, list)) and \
                not isinstance(self.attribute, Function):
            self.fail("attribute name must be a string")
        self.args = parser.parse(args[2:], self.path)

    def children(self, ctx):
        return [self.attribute, self.args]

    def attribute_name(self, ctx):
        """The attribute name (None: all attributes), from parameters only."""
        if self.attribute is None:
            return None
        name = resolve(self.attribute, ctx)
        if ctx.deferred is not None and contains_deferred(name, ctx.deferred):
            self.fail("attribute name must not depend on resources")
        if not isinstance(name, str):
            self.fail("attribute name must be a string, got %s" % _kind(name))
        return name

    def result(self, ctx):
        name = self.attribute_name(ctx)
        value = ctx.attrs(self.resource, name)
        components = resolve(self.args, ctx)
        # Heat answers a path that leads nowhere with null.
        return _path_get(value, components, None)


class GetFile(Function):
    name = "get_file"

    def parse(self, parser, args):
        if not isinstance(args, str):
            self.fail("argument must be a file name (a string)")
        self.key = args
        self.args = []

    def content(self, files):
        try:
            return files[self.key]
        except (KeyError, TypeError):
            self.fail("file %r is not in the files map" % (self.key,))

    def result(self, ctx):
        return self.content(ctx.files)


class _Unsupported(Function):
    message = None

    def parse(self, parser, args):
        self.fail(self.message)


class ResourceFacade(_Unsupported):
    name = "resource_facade"
    message = ("resource_facade is not supported yet: a nested stack does "
               "not see its parent resource's definition (docs/nested.rst)")


# -- condition functions ----------------------------------------------------
