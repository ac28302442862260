"""Property-based fuzzing of the template pipeline.

Every input -- valid or broken templates, random YAML-ish structures,
binary junk, alias bombs, deep nesting, random parameter schemas and
values, random function calls and depends_on graphs -- must either load,
bind and validate, or raise :class:`heatflow.exception.
StackValidationFailed` (or a subclass).  No other exception, and no hang:
each example runs under a hypothesis deadline and a wall-clock guard.

The CI budget is small (``FUZZ_EXAMPLES`` per test, the file runs in well
under 30 s); ``python bench/fuzz_templates.py --examples 20000`` is the
long run, reusing the strategies and :func:`check` defined here.
"""

import contextlib
import datetime
import os
import signal
import string
import threading

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatflow import exception
from heatflow import registry as registry_mod
from heatflow.template import Limits, Template, cfn, versions

FUZZ_EXAMPLES = int(os.environ.get("HEATFLOW_FUZZ_EXAMPLES", "60"))
# a single example may take at most this long (the hypothesis deadline,
# generous enough for a loaded CI machine) ...
DEADLINE_MS = 4000
# ... and is aborted after this many seconds of wall-clock time (a hang)
HANG_SECONDS = 20

REGISTRY = registry_mod.Registry.default()
TYPES = sorted(REGISTRY.types())
VERSIONS = list(versions.VERSIONS) + sorted(versions.ALIASES)
FUNCTIONS = sorted(versions.ALL_FUNCTION_NAMES)
PARAM_TYPES = ["string", "number", "json", "comma_delimited_list",
               "boolean"]

SMALL_LIMITS = Limits(max_template_bytes=4096, max_resources=4,
                      max_nesting_depth=8, max_value_bytes=2048,
                      max_yaml_aliases=16, max_yaml_nodes=400)

FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=datetime.timedelta(milliseconds=DEADLINE_MS),
    suppress_health_check=[HealthCheck.too_slow,
                           HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
    derandomize=os.environ.get("HEATFLOW_FUZZ_RANDOM") is None,
    database=None)


class Hang(Exception):
    """An example ran past HANG_SECONDS."""


@contextlib.contextmanager
def hang_guard(seconds=HANG_SECONDS):
    """Abort the block with :class:`Hang` after ``seconds`` (main thread
    only: SIGALRM; elsewhere the hypothesis deadline is the guard)."""
    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum, frame):
        raise Hang("example did not finish in %s s" % seconds)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(source, params=None, files=None, limits=None, preview=None):
    """Run the whole validation pipeline on ``source``.

    Returns the StackDefinition, or None when the input was refused with
    StackValidationFailed.  Any other exception propagates (a bug).
    """
    with hang_guard():
        try:
            tmpl = Template.load(source, files=files, limits=limits)
            definition = tmpl.bind(params, stack_name="fuzz",
                                   registry=REGISTRY)
            definition.validate(REGISTRY)
            if preview is not None:
                preview(tmpl, params, files)
            return definition
        except exception.StackValidationFailed as exc:
            # the error must render: "<path>: <message>"
            assert isinstance(exc.path, str)
            assert str(exc)
            return None


# -- strategies ---------------------------------------------------------------

NAMES = ["a", "b", "c", "web", "db", "x y", ""]
PARAM_NAMES = ["p", "q", "size", "secret", "OS::stack_name"]
ATTRS = ["value", "output", "show", "nope", "value.x"]

names = st.sampled_from(NAMES) | st.text(min_size=0, max_size=6)
interesting_text = st.sampled_from([
    "", " ", "0", "1", "-1", "1e400", "nan", "yes", "no", "on", "null",
    "true", "2016-10-14", "${x}", "$x", "%s", "%(a)s", "{0}", "{}", "[]",
    "a,b,c", "\u00e9\u4e2d", "\U0001F600", "\ud800", "x" * 300,
    "get_param", "Delete", "Retain", "Snapshot", "(", "[a-", "*"])
scalars = (st.none() | st.booleans() |
           st.integers(min_value=-2 ** 70, max_value=2 ** 70) |
           st.floats(allow_nan=True, allow_infinity=True) |
           st.text(max_size=12) | interesting_text |
           st.sampled_from(PARAM_NAMES + NAMES + ATTRS + TYPES))
keys = (st.sampled_from(["type", "properties", "value", "template",
                         "params", "for_each", "depends_on", "get_param",
                         "condition", "default", "hidden", "constraints",
                         "%var%", "<%x%>", "$a", "url"]) |
        st.text(max_size=6))


# yaql that is valid, costly or hostile: each must give a value or a
# StackValidationFailed within the limits, never hang or crash.
YAQL_EXPRESSIONS = [
    "$.data", "$.data.len()", "$.data.sum()", "$.data.keys()",
    "$.data.select($ * 2)", "$.data.where($ > 1).orderBy($)", "now()",
    "range(0, 1000).select($)", "pow(10, 100000000)", "'a' * 100000000",
    "shiftBitsLeft(1, 100000000000)", "dict($.data.select([$, $]))",
    "range(0, 200).select(range(0, 200).select(range(0, 200).sum())"
    ".sum()).sum()", "'a'.matches('(a+)+$')", "(((((((((1)))))))))",
    "$.data.toList().distinct()", "let(x => $.data) -> $x", "1 / 0",
    "float('nan')", "$.data.join(',')", "[" * 50 + "]" * 50]


def _call(children):
    """A random function call: ``{name: args}``, with arguments that are
    sometimes well shaped and sometimes not."""
    fname = st.sampled_from(FUNCTIONS)
    targeted = st.one_of(
        st.builds(lambda p, rest: {"get_param": [p] + rest},
                  st.sampled_from(PARAM_NAMES),
                  st.lists(scalars | children, max_size=2)),
        st.builds(lambda p: {"get_param": p}, st.sampled_from(PARAM_NAMES)),
        st.builds(lambda r: {"get_resource": r}, st.sampled_from(NAMES)),
        st.builds(lambda r, a, rest: {"get_attr": [r, a] + rest},
                  st.sampled_from(NAMES), st.sampled_from(ATTRS) | children,
                  st.lists(scalars, max_size=2)),
        st.builds(lambda d, items: {"list_join": [d, items]},
                  scalars, st.lists(scalars | children, max_size=3) |
                  children),
        st.builds(lambda t, p: {"str_replace": {"template": t,
                                                "params": p}},
                  scalars | children,
                  st.dictionaries(keys, scalars | children, max_size=3)),
        st.builds(lambda fe, t: {"repeat": {"for_each": fe,
                                            "template": t}},
                  st.dictionaries(keys, st.lists(scalars, max_size=4) |
                                  children, max_size=3),
                  scalars | children),
        st.builds(lambda c, a, b: {"if": [c, a, b]},
                  st.booleans() | st.sampled_from(NAMES) | children,
                  scalars | children, scalars | children),
        st.builds(lambda a, b: {"equals": [a, b]}, scalars | children,
                  scalars | children),
        st.builds(lambda s: {"yaql": {"expression": s, "data": {}}},
                  st.text(max_size=20)),
        st.builds(lambda s, d: {"yaql": {"expression": s, "data": d}},
                  st.sampled_from(YAQL_EXPRESSIONS), scalars | children),
        st.builds(lambda a, b: {"digest": [a, b]},
                  st.sampled_from(["md5", "sha256", "nope"]) | scalars,
                  scalars),
    )
    return st.builds(lambda n, a: {n: a}, fname, children) | targeted


values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4) |
                      st.dictionaries(keys, children, max_size=4) |
                      _call(children)),
    max_leaves=25)


@st.composite
def param_schema(draw):
    if draw(st.integers(0, 9)) == 0:
        return draw(values)
    schema = {"type": draw(st.sampled_from(PARAM_TYPES) | scalars)}
    if draw(st.booleans()):
        schema["default"] = draw(scalars | values)
    if draw(st.booleans()):
        schema["hidden"] = draw(st.booleans() | scalars)
    if draw(st.booleans()):
        kind = draw(st.sampled_from(
            ["length", "range", "modulo", "allowed_values",
             "allowed_pattern", "custom_constraint", "bogus"]))
        spec = draw(st.one_of(
            st.fixed_dictionaries({}, optional={
                "min": scalars, "max": scalars, "step": scalars,
                "offset": scalars}),
            st.lists(scalars, max_size=4),
            st.sampled_from(["[a-z]+", "(", ".*", "a{99999}", "\\"]),
            scalars))
        schema["constraints"] = [{kind: spec}]
        if draw(st.booleans()):
            schema["constraints"][0]["description"] = draw(scalars)
    if draw(st.integers(0, 5)) == 0:
        schema[draw(keys)] = draw(scalars)
    return schema


@st.composite
def resource(draw, res_names, param_names):
    if draw(st.integers(0, 12)) == 0:
        return draw(values)
    res = {"type": draw(st.sampled_from(TYPES) | scalars)}
    prop_names = st.sampled_from(
        ["value", "length", "fail", "wait_secs", "sequence",
         "character_classes", "type", "nope"])
    if draw(st.booleans()):
        res["properties"] = draw(
            st.dictionaries(prop_names, values, max_size=3) | values)
    if res_names and draw(st.booleans()):
        # random graphs: self-dependencies and cycles included
        res["depends_on"] = draw(
            st.lists(st.sampled_from(res_names + ["missing"]), max_size=3) |
            st.sampled_from(res_names) | scalars)
    for key, strategy in (
            ("condition", st.booleans() | st.sampled_from(["c1", "nope"]) |
             values),
            ("deletion_policy", st.sampled_from(
                ["Delete", "Retain", "Snapshot", "delete", "Bogus"]) |
             values),
            ("update_policy", values),
            ("metadata", values),
            ("timeout", scalars),
            ("retries", scalars),
            ("description", scalars)):
        if draw(st.integers(0, 6)) == 0:
            res[key] = draw(strategy)
    return res


@st.composite
def templates(draw):
    """A HOT template as a dict: mostly well formed, randomly broken."""
    data = {"heat_template_version": draw(
        st.sampled_from(VERSIONS) | st.sampled_from(
            ["2012-12-12", "2099-01-01", "wallaby ", ""]) | scalars)}
    res_names = draw(st.lists(st.sampled_from(NAMES[:5]), max_size=4,
                              unique=True))
    param_names = draw(st.lists(st.sampled_from(PARAM_NAMES[:4]),
                                max_size=3, unique=True))
    if param_names or draw(st.booleans()):
        data["parameters"] = {n: draw(param_schema()) for n in param_names}
    if draw(st.booleans()):
        data["conditions"] = {"c1": draw(values),
                              "c2": {"equals": [{"get_param": "p"}, 1]}}
    data["resources"] = {n: draw(resource(res_names, param_names))
                         for n in res_names}
    if draw(st.booleans()):
        data["outputs"] = {
            draw(names): {"value": draw(values)}
            for _ in range(draw(st.integers(0, 2)))}
    if draw(st.integers(0, 8)) == 0:
        data["parameter_groups"] = draw(values)
    if draw(st.integers(0, 8)) == 0:
        data["description"] = draw(scalars)
    if draw(st.integers(0, 8)) == 0:
        data[draw(keys)] = draw(values)
    return data


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated_templates(draw):
    """A template with one node replaced by a random value (or deleted)."""
    data = draw(templates())
    paths = list(_paths(data))[1:]
    if not paths:
        return data
    path = draw(st.sampled_from(paths))
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.integers(0, 3)) == 0 and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(values)
    return data


parameter_values = st.dictionaries(
    st.sampled_from(PARAM_NAMES) | st.text(max_size=4), values, max_size=3)


def _dump(data):
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return "{}"


@st.composite
def texts(draw):
    """Template text: YAML of a generated template with character-level
    damage, raw random text, YAML-ish fragments."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.text(max_size=200))
    if choice == 1:
        return draw(st.lists(st.sampled_from(
            ["heat_template_version: 2021-04-16\n", "resources:\n",
             "  a:\n", "    type: OS::Heat::None\n", "- ", ": ", "&a ",
             "*a ", "!!python/object:os.system ", "!!binary ", "{", "}",
             "[", "]", "'", '"', "\t", "\n", "  ", "? ", "|\n", ">\n",
             "%YAML 1.1\n", "---\n", "...\n", "<<: *a\n", "!!set ",
             "!!omap ", "!!timestamp ", "2001-12-14t21:59:43.10-05:00",
             "0x1F", "1_000", ".inf", "~"]), max_size=40).map("".join))
    text = _dump(draw(templates()))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        pos = draw(st.integers(0, len(text) - 1))
        op = draw(st.integers(0, 2))
        if op == 0:
            text = text[:pos] + text[pos + 1:]
        elif op == 1:
            text = text[:pos] + draw(st.sampled_from(
                list(":-[]{}&*!|>'\"\t\n #%@`,?")
            )) + text[pos:]
        else:
            text = text[:pos] + text[pos:][::-1]
    return text


@st.composite
def alias_bombs(draw):
    levels = draw(st.integers(1, 12))
    fanout = draw(st.integers(1, 12))
    lines = ["heat_template_version: 2021-04-16", "outputs:",
             "  o:", "    value:", '      l0: &l0 ["lol"]']
    for i in range(1, levels):
        refs = ", ".join("*l%d" % (i - 1) for _ in range(fanout))
        lines.append("      l%d: &l%d [%s]" % (i, i, refs))
    return "\n".join(lines) + "\n"


@st.composite
def deep_nesting(draw):
    depth = draw(st.integers(1, 3000))
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return ("heat_template_version: 2021-04-16\noutputs:\n  o:\n"
                "    value: " + "[" * depth + "]" * depth + "\n")
    if kind == 1:
        return ("heat_template_version: 2021-04-16\noutputs:\n  o:\n"
                "    value: " + "{a: " * depth + "1" + "}" * depth + "\n")
    value = "x"
    for _ in range(min(depth, 400)):
        value = {"list_join": [",", [value]]} if depth % 2 else [value]
    return {"heat_template_version": "2021-04-16",
            "outputs": {"o": {"value": value}}}


@st.composite
def big_strings(draw):
    size = draw(st.sampled_from([0, 1, 4095, 4096, 4097, 2 ** 16,
                                 512 * 1024, 512 * 1024 + 1]))
    where = draw(st.integers(0, 2))
    blob = "x" * size
    if where == 0:
        return {"heat_template_version": "2021-04-16",
                "outputs": {"o": {"value": blob}}}
    if where == 1:
        return ("heat_template_version: 2021-04-16\ndescription: " +
                blob + "\n")
    # a string multiplied by functions: repeat / list_join
    return {"heat_template_version": "2021-04-16",
            "outputs": {"o": {"value": {"repeat": {
                "for_each": {"%a%": list(range(draw(st.integers(1, 60)))),
                             "%b%": list(range(draw(st.integers(1, 60))))},
                "template": blob[:4096]}}}}}


# -- the properties -----------------------------------------------------------

limits_choice = st.sampled_from([None, SMALL_LIMITS])


@FUZZ_SETTINGS
@given(templates(), parameter_values, limits_choice)
def test_generated_templates(data, params, limits):
    check(data, params, limits=limits)


@FUZZ_SETTINGS
@given(mutated_templates(), parameter_values)
def test_mutated_templates(data, params):
    check(data, params)


@FUZZ_SETTINGS
@given(values)
def test_random_structures(data):
    check(data)


@FUZZ_SETTINGS
@given(texts(), limits_choice)
def test_random_text(text, limits):
    check(text, limits=limits)
    check(text.encode("utf-8", "surrogatepass"), limits=limits)


@FUZZ_SETTINGS
@given(st.binary(max_size=400))
def test_binary_junk(blob):
    check(blob)
    check(b"heat_template_version: 2021-04-16\ndescription: " + blob)


@FUZZ_SETTINGS
@given(alias_bombs(), limits_choice)
def test_alias_bombs(text, limits):
    check(text, limits=limits)


@FUZZ_SETTINGS
@given(deep_nesting(), limits_choice)
def test_deep_nesting(source, limits):
    check(source, limits=limits)


@settings(FUZZ_SETTINGS, max_examples=max(8, FUZZ_EXAMPLES // 4))
@given(big_strings(), limits_choice)
def test_big_strings(source, limits):
    check(source, limits=limits)


@FUZZ_SETTINGS
@given(st.sampled_from(PARAM_TYPES), param_schema(), values)
def test_parameter_schemas_and_values(ptype, schema, value):
    if isinstance(schema, dict):
        schema = dict(schema, type=ptype)
    check({"heat_template_version": "2021-04-16",
           "parameters": {"p": schema},
           "outputs": {"o": {"value": {"get_param": "p"}}}},
          {"p": value})


@FUZZ_SETTINGS
@given(st.sampled_from(VERSIONS), st.sampled_from(FUNCTIONS), values,
       st.dictionaries(st.sampled_from(["f.txt", "g"]), scalars,
                       max_size=2))
def test_function_calls_per_version(version, fname, args, files):
    check({"heat_template_version": version,
           "parameters": {"p": {"type": "string", "default": "v"}},
           "resources": {"a": {"type": "OS::Heat::Value",
                               "properties": {"value": {fname: args}}}},
           "outputs": {"o": {"value": {fname: args}}}},
          files=files)


@FUZZ_SETTINGS
@given(st.sampled_from(sorted(cfn.FORMATS)), st.sampled_from(FUNCTIONS),
       values, values, values)
def test_cloudformation_templates(key, fname, args, condition, anything):
    """CloudFormation-format templates: every function name (CFN and HOT)
    with random arguments, random conditions and a random section."""
    check({key: cfn.FORMATS[key][0],
           "Parameters": {"p": {"Type": "String", "Default": "v"}},
           "Mappings": {"m": {"k": {"n": "v"}}},
           "Conditions": {"c": condition},
           "Resources": {"a": {"Type": "OS::Heat::Value",
                               "Properties": {"value": {fname: args}},
                               "Condition": "c"}},
           "Outputs": {"o": {"Value": {fname: args}}},
           "Description": anything})


@FUZZ_SETTINGS
@given(st.dictionaries(st.sampled_from(list(string.ascii_lowercase[:8])),
                       st.lists(st.sampled_from(
                           list(string.ascii_lowercase[:9])), max_size=4),
                       max_size=8))
def test_dependency_graphs(graph):
    """Random depends_on graphs (cycles, self-dependencies, unknown names):
    either acyclic and accepted, or refused; a cycle is named."""
    data = {"heat_template_version": "2021-04-16",
            "resources": {n: {"type": "OS::Heat::None", "depends_on": d}
                          for n, d in graph.items()}}
    with hang_guard():
        try:
            Template.load(data).bind(registry=REGISTRY)
        except exception.StackValidationFailed as exc:
            assert "cycle" in str(exc) or "unknown resource" in str(exc) \
                or "depend" in str(exc), str(exc)


# -- preview (dry run) --------------------------------------------------------

@settings(FUZZ_SETTINGS, max_examples=max(10, FUZZ_EXAMPLES // 3))
@given(data=st.data())
def test_preview_create(tmp_path_factory, data):
    import heatflow
    tmpl = data.draw(templates() | mutated_templates())
    params = data.draw(parameter_values)
    db = tmp_path_factory.mktemp("fuzz") / "h.db"
    orch = heatflow.Orchestrator(db_url="sqlite:///%s" % db, resume=False)
    try:
        with hang_guard():
            try:
                orch.preview_create("fuzz", tmpl, parameters=params)
            except exception.StackValidationFailed:
                pass
    finally:
        orch.close()
