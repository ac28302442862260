"""The ``yaql`` function: a yaql expression evaluated on template data.

Heat evaluates ``{yaql: {expression: ..., data: ...}}`` with the ``yaql``
library, the expression seeing the data as ``$.data``, and caps collection
sizes and memory (its ``limit_iterators`` and ``memory_quota`` options).
heatflow does the same, and also caps what Heat leaves open: the length of
the expression and the time one evaluation may take (``Limits``), so a
template cannot keep a validating process busy.
"""

import collections.abc  # noqa: F401  (yaql 3 reads collections.abc)
import functools
import importlib
import json
import sys
import time

from heatflow.template.functions import Function, _kind, resolve


def _errors():
    """yaql's exceptions module; yaql itself is imported on first use (it
    takes a fifth of a second, which most templates need not pay)."""
    return importlib.import_module("yaql.language.exceptions")


class _Deadline(BaseException):
    """Raised inside yaql when an evaluation overruns its time.

    A BaseException, so that no ``except Exception`` inside the library
    swallows it."""


@functools.lru_cache(maxsize=8)
def _engine(limit_iterators, memory_quota):
    import yaql
    return yaql.YaqlFactory().create({
        "yaql.limitIterators": limit_iterators,
        "yaql.memoryQuota": memory_quota})


def _check_bits(engine, bits):
    """Refuse, before computing it, an integer larger than the memory
    quota: yaql checks sizes after a call, too late for 2 ** 10 ** 10."""
    quota = engine.options.get("yaql.memoryQuota")
    if quota and bits > 8 * quota:
        raise _errors().MemoryQuotaExceededException()


def _bounded_functions():
    from yaql.language import specs
    from yaql.language import yaqltypes

    @specs.parameter("a", yaqltypes.Number())
    @specs.parameter("b", yaqltypes.Number())
    @specs.parameter("c", yaqltypes.Number(nullable=True))
    @specs.inject("engine", yaqltypes.Engine())
    @specs.name("pow")
    def bounded_pow(engine, a, b, c=None):
        if c is None and isinstance(a, int) and isinstance(b, int) and \
                b > 0 and abs(a) > 1:
            _check_bits(engine, b * abs(a).bit_length())
        return pow(a, b, c)

    @specs.parameter("value", int)
    @specs.parameter("bits_number", int)
    @specs.inject("engine", yaqltypes.Engine())
    @specs.name("shiftBitsLeft")
    def bounded_shift_left(engine, value, bits_number):
        if value:
            _check_bits(engine, value.bit_length() + bits_number)
        return value << bits_number

    return bounded_pow, bounded_shift_left


@functools.lru_cache(maxsize=None)
def _root_context():
    """yaql's standard library, but for the few calls whose cost the
    limits cannot see coming: regular expressions (backtracking runs in C,
    out of reach of the time limit) are left out, and integer powers and
    shifts are checked against the memory quota first."""
    import yaql
    context = yaql.create_context(regex=False).create_child_context()
    for function in _bounded_functions():
        context.register_function(function)
    return context


@functools.lru_cache(maxsize=256)
def _parsed(expression, limit_iterators, memory_quota, seconds):
    # the engine (yaql's import and its parser tables: slow once) is built
    # before the clock starts
    engine = _engine(limit_iterators, memory_quota)
    return _with_deadline(lambda: engine(expression), seconds)


def _with_deadline(fn, seconds):
    """``fn()``, interrupted once ``seconds`` have passed.

    yaql runs as Python calls, so a trace hook on this thread (each new
    frame) can look at the clock; the hook does no line tracing, and the
    previous one (a debugger's, say) is put back afterwards."""
    deadline = time.monotonic() + seconds
    previous = sys.gettrace()

    def hook(frame, event, arg):
        if time.monotonic() > deadline:
            raise _Deadline()
        return None

    sys.settrace(hook)
    try:
        return fn()
    finally:
        sys.settrace(previous)


def _as_data(value):
    """``value`` as template data: what JSON would store (numeric map keys
    become strings, as they would in the database), or None if it is not
    JSON data (a date, NaN, ...)."""
    try:
        return True, json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return False, None


class Yaql(Function):
    name = "yaql"

    def parse(self, parser, args):
        if not isinstance(args, dict) or "expression" not in args or \
                set(args) - {"expression", "data"}:
            self.fail('argument must be a map with "expression" and '
                      'optional "data"')
        self.args = parser.parse(args, self.path)
        # Heat parses a literal expression when the template is validated
        if not isinstance(self.args["expression"], Function):
            self._statement(self.args["expression"], parser.limits)

    def _statement(self, expression, limits):
        if not isinstance(expression, str):
            self.fail('"expression" must be a string, got %s'
                      % _kind(expression))
        if len(expression) > limits.max_yaql_chars:
            self.fail("expression is longer than %d characters "
                      "(max_yaql_chars)"
                      % limits.max_yaql_chars)
        try:
            return _parsed(expression, limits.yaql_limit_iterators,
                           limits.yaql_memory_quota, limits.yaql_seconds)
        except _Deadline:
            self.fail("expression took more than %s s to parse "
                      "(yaql_seconds)" % limits.yaql_seconds)
        except _errors().YaqlException as exc:
            self.fail("bad expression: %s" % (exc,))
        except (RecursionError, MemoryError):
            self.fail("bad expression: too deeply nested")
        except Exception as exc:  # the parser's other complaints
            self.fail("bad expression: %s" % (exc,))

    def result(self, ctx):
        values = resolve(self.args, ctx)
        limits = ctx.limits
        statement = self._statement(values["expression"], limits)
        data = values.get("data", {})  # Heat's default
        context = _root_context().create_child_context()
        try:
            value = _with_deadline(
                lambda: statement.evaluate({"data": data}, context),
                limits.yaql_seconds)
        except _Deadline:
            self.fail("evaluation took more than %s s (yaql_seconds)"
                      % limits.yaql_seconds)
        except (_errors().CollectionTooLargeException,
                _errors().MemoryQuotaExceededException) as exc:
            self.fail("%s (yaql_limit_iterators, yaql_memory_quota)" % exc)
        except (RecursionError, MemoryError):
            self.fail("evaluation failed: too deeply nested")
        except Exception as exc:  # the library's own and Python's errors
            self.fail("evaluation failed: %s" % (exc,))
        ok, value = _as_data(value)
        if not ok:
            self.fail("result is not JSON data")
        return value
