"""Bad input, table-driven: every item is refused before anything is
written, with an error naming the place in the template.

Each case goes through the API (``Orchestrator.create_stack`` raises
StackValidationFailed with the path and message asserted) and through the
command line in-process (``heatflow stack create``: one line on stderr
starting with "ERROR:", exit status 1, no traceback).  Around each, the
rows of every hf_* table are counted: nothing changes.
"""

import collections
import io

import pytest
import sqlalchemy as sa

import heatflow
from heatflow import cli
from heatflow import exception
from heatflow.persistence import models
from heatflow.template import Limits

V = "heat_template_version: 2021-04-16\n"


def res(body):
    return V + "resources:\n" + body


def value_of(expr):
    return res("  a: {type: OS::Heat::Value, properties: {value: %s}}\n"
               % expr)


Case = collections.namedtuple(
    "Case", "id source params path message exc")


def case(id, source, path, message, params=None,
         exc=exception.StackValidationFailed):
    return Case(id, source, params or {}, path, message, exc)


def _alias_bomb():
    lines = [V + "outputs:", "  o:", "    value:",
             '      l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        lines.append("      l%d: &l%d [%s]"
                     % (i, i, ", ".join(["*l%d" % (i - 1)] * 9)))
    return "\n".join(lines) + "\n"


CASES = [
    # -- the text -------------------------------------------------------
    case("malformed_yaml", V + "resources: [\n", "template",
         "template is not valid YAML"),
    case("bad_indentation", V + "resources:\n  a:\n type: x\n   b: c\n",
         "template", "template is not valid YAML"),
    case("python_object_tag",
         V + "description: !!python/object/apply:os.system ['echo hi']\n",
         "template", "could not determine a constructor"),
    case("not_a_mapping_list", "- a\n- b\n", "template",
         "template must be a map of sections, got a list"),
    case("not_a_mapping_scalar", "just a string\n", "template",
         "template must be a map of sections, got a string"),
    case("binary_junk", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\xfa",
         "template", "not UTF-8 text"),
    case("nul_bytes", b"heat_template_version: 2021-04-16\x00\x00",
         "template", "NUL characters"),
    case("empty_file", "", "template", "template is empty"),
    case("whitespace_only", "  \n\n", "template", "template is empty"),
    case("comments_only", "# nothing here\n", "template",
         "template is empty"),
    # -- versions and sections --------------------------------------------
    case("missing_version", "resources: {}\n", "template",
         "missing heat_template_version"),
    case("unknown_version", "heat_template_version: 2012-01-01\n",
         "heat_template_version", "unknown template version '2012-01-01'",
         exc=exception.InvalidTemplateVersion),
    case("version_not_a_date", "heat_template_version: [1]\n",
         "heat_template_version", "must be a date string",
         exc=exception.InvalidTemplateVersion),
    case("unknown_section", V + "foo: {}\n", "foo",
         "unknown section(s) 'foo'"),
    case("conditions_too_early",
         "heat_template_version: 2015-04-30\nconditions: {}\n",
         "conditions", "conditions need heat_template_version"),
    # -- resources ----------------------------------------------------------
    case("resources_not_mapping", V + "resources: [a, b]\n", "resources",
         "must be a map of resource definitions"),
    case("resource_not_mapping", res("  a: 1\n"), "resources.a",
         "a resource must be a map with a type, got an integer"),
    case("resource_without_type", res("  a: {properties: {}}\n"),
         "resources.a", "missing type"),
    case("resource_type_not_string", res("  a: {type: [x]}\n"),
         "resources.a.type", "must be a non-empty string"),
    case("unknown_resource_key",
         res("  a: {type: OS::Heat::None, propertys: {}}\n"),
         "resources.a", "unknown key(s) 'propertys'"),
    case("unknown_type", res("  a: {type: No::Such::Type}\n"),
         "resources.a.type", "unknown resource type 'No::Such::Type'",
         exc=exception.UnknownResourceType),
    # -- references -----------------------------------------------------------
    case("unknown_resource", value_of("{get_resource: nope}"),
         "resources.a.properties.value.get_resource",
         "unknown resource 'nope'"),
    case("unknown_attribute",
         res("  b: {type: OS::Heat::Value}\n"
             "  a: {type: OS::Heat::Value, properties: "
             "{value: {get_attr: [b, nope]}}}\n"),
         "resources.a.properties.value.get_attr",
         "unknown attribute 'nope' of resource 'b'"),
    case("unknown_parameter", value_of("{get_param: nope}"),
         "resources.a.properties.value.get_param",
         "unknown parameter 'nope'"),
    case("unknown_condition",
         res("  a: {type: OS::Heat::None, condition: nope}\n"),
         "resources.a.condition", "unknown condition 'nope'"),
    case("output_unknown_resource",
         V + "outputs:\n  o: {value: {get_attr: [nope, value]}}\n",
         "outputs.o.value.get_attr", "unknown resource 'nope'"),
    case("output_without_value", V + "outputs:\n  o: {description: x}\n",
         "outputs.o", "missing value"),
    case("output_not_mapping", V + "outputs:\n  o: 42\n", "outputs.o",
         "an output must be a map with a value"),
    case("depends_on_unknown",
         res("  a: {type: OS::Heat::None, depends_on: nope}\n"),
         "resources.a.depends_on", "unknown resource 'nope'"),
    case("depends_on_not_names",
         res("  a: {type: OS::Heat::None, depends_on: {x: 1}}\n"),
         "resources.a.depends_on", "must be a resource name or a list"),
    # -- dependency cycles ------------------------------------------------
    case("cycle_depends_on",
         res("  a: {type: OS::Heat::None, depends_on: b}\n"
             "  b: {type: OS::Heat::None, depends_on: c}\n"
             "  c: {type: OS::Heat::None, depends_on: a}\n"),
         "resources", "dependency cycle: a -> b -> c -> a"),
    case("cycle_functions",
         res("  a: {type: OS::Heat::Value, properties: "
             "{value: {get_attr: [b, value]}}}\n"
             "  b: {type: OS::Heat::Value, properties: "
             "{value: {get_resource: a}}}\n"),
         "resources", "dependency cycle: a -> b -> a"),
    case("self_dependency",
         res("  a: {type: OS::Heat::None, depends_on: a}\n"),
         "resources", "dependency cycle: a -> a"),
    case("self_reference", value_of("{get_resource: a}"),
         "resources", "dependency cycle: a -> a"),
    # -- function arguments -------------------------------------------------
    case("list_join_bad_args", value_of("{list_join: 1}"),
         "resources.a.properties.value.list_join", "argument must be a list"),
    case("str_replace_missing_params",
         value_of("{str_replace: {template: x}}"),
         "resources.a.properties.value.str_replace",
         'argument must be a map with "template" and "params"'),
    case("get_resource_not_a_name", value_of("{get_resource: [a, b]}"),
         "resources.a.properties.value.get_resource",
         "argument must be a resource name"),
    case("cfn_function", value_of("{'Fn::Join': [',', [a]]}"),
         "resources.a.properties.value.Fn::Join",
         "CloudFormation function 'Fn::Join' is not supported"),
    # -- parameters -----------------------------------------------------------
    case("parameter_unknown_type", V + "parameters:\n  n: {type: integer}\n",
         "parameters.n.type", "unknown type 'integer'"),
    case("parameter_not_mapping", V + "parameters:\n  n: number\n",
         "parameters.n", "a parameter must be a map"),
    case("parameter_bad_value_type",
         V + "parameters:\n  n: {type: number}\n", "parameters.n",
         "value 'abc' is not a number", params={"n": "abc"}),
    case("parameter_range",
         V + "parameters:\n  n: {type: number, constraints: "
         "[{range: {max: 5}}]}\n", "parameters.n",
         "value 9 must be at most 5", params={"n": "9"}),
    case("parameter_pattern",
         V + "parameters:\n  s: {type: string, constraints: "
         "[{allowed_pattern: '[a-z]+'}]}\n", "parameters.s",
         "does not match pattern [a-z]+", params={"s": "ABC"}),
    case("parameter_allowed_values",
         V + "parameters:\n  s: {type: string, constraints: "
         "[{allowed_values: [a, b]}]}\n", "parameters.s",
         "is not one of the allowed values", params={"s": "c"}),
    case("parameter_bad_constraint",
         V + "parameters:\n  s: {type: string, constraints: "
         "[{allowed_pattern: '('}]}\n",
         "parameters.s.constraints[0].allowed_pattern",
         "invalid regular expression"),
    case("parameter_required", V + "parameters:\n  s: {type: string}\n",
         "parameters.s", "a value is required"),
    case("parameter_not_declared", V, "parameters.nope",
         "unknown parameter(s) 'nope'", params={"nope": "1"}),
    case("parameter_bad_default",
         V + "parameters:\n  n: {type: number, default: abc}\n",
         "parameters.n.default", "value 'abc' is not a number"),
    # -- properties ---------------------------------------------------------
    case("property_type",
         res("  a: {type: OS::Heat::RandomString, "
             "properties: {length: abc}}\n"),
         "resources.a.properties.length", "is not an integer"),
    case("property_unknown",
         res("  a: {type: OS::Heat::RandomString, "
             "properties: {colour: red}}\n"),
         "resources.a.properties.colour", "unknown property"),
    case("property_constraint",
         res("  a: {type: OS::Heat::RandomString, "
             "properties: {length: -4}}\n"),
         "resources.a.properties.length", "out of range"),
    case("properties_not_mapping",
         res("  a: {type: OS::Heat::RandomString, properties: [1]}\n"),
         "resources.a.properties", "must be a map, got a list"),
    # -- policies, timeouts, retries --------------------------------------
    case("deletion_policy",
         res("  a: {type: OS::Heat::None, deletion_policy: Shred}\n"),
         "resources.a.deletion_policy", "invalid deletion policy 'Shred'"),
    case("timeout_negative", res("  a: {type: OS::Heat::None, timeout: -1}\n"),
         "resources.a.timeout", "must be a positive number of seconds"),
    case("timeout_not_a_number",
         res("  a: {type: OS::Heat::None, timeout: soon}\n"),
         "resources.a.timeout", "must be a positive number of seconds"),
    case("retries_negative",
         res("  a: {type: OS::Heat::None, retries: -2}\n"),
         "resources.a.retries", "must be a non-negative integer"),
    case("retries_fraction",
         res("  a: {type: OS::Heat::None, retries: 1.5}\n"),
         "resources.a.retries", "must be a non-negative integer"),
    # -- limits -----------------------------------------------------------------
    case("limit_template_size",
         V + "description: " + "x" * (512 * 1024 + 10) + "\n", "template",
         "more than the limit of 524288 bytes (max_template_bytes)",
         exc=exception.LimitExceeded),
    case("limit_resources",
         V + "resources:\n" + "".join(
             "  r%d: {type: OS::Heat::None}\n" % i for i in range(10001)),
         "resources", "10001 resources, more than the limit of 10000",
         exc=exception.LimitExceeded),
    case("limit_nesting_depth",
         V + "outputs:\n  o:\n    value: " + "[" * 100 + "]" * 100 + "\n",
         "outputs.o.value" + "[0]" * 62,
         "nested deeper than 64 levels (max_nesting_depth)",
         exc=exception.LimitExceeded),
    case("limit_alias_bomb", _alias_bomb(), "template",
         "(max_yaml_nodes); aliases make it too large",
         exc=exception.LimitExceeded),
]

GOOD = V + "resources:\n  r: {type: OS::Heat::Value, properties: {value: x}}\n"


def count_rows(engine):
    with engine.connect() as conn:
        return {name: conn.execute(
                    sa.select(sa.func.count()).select_from(table)).scalar()
                for name, table in models.metadata.tables.items()
                if name.startswith("hf_")}


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """A database holding one settled stack, so that 'unchanged' means
    something; the engine counts rows."""
    path = tmp_path_factory.mktemp("bad-input") / "heatflow.db"
    url = "sqlite:///%s" % path
    with heatflow.Orchestrator(db_url=url) as orch:
        stack = orch.create_stack("existing", GOOD).wait(60)
        assert stack.stack_status == "CREATE_COMPLETE"
    engine = sa.create_engine(url)
    assert count_rows(engine)["hf_stacks"] == 1
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def orch(database):
    o = heatflow.Orchestrator(db_url=database[0], resume=False)
    yield o
    o.close()


def _ids(cases):
    return [c.id for c in cases]


@pytest.mark.parametrize("c", CASES, ids=_ids(CASES))
def test_api_refuses(c, orch, database):
    before = count_rows(database[1])
    with pytest.raises(c.exc) as info:
        orch.create_stack("s", c.source, parameters=c.params)
    exc = info.value
    assert exc.path == c.path, str(exc)
    assert c.message in exc.message, str(exc)
    assert str(exc).startswith(c.path + ": ")
    assert count_rows(database[1]) == before
    with pytest.raises(exception.StackNotFound):
        orch.get_stack("s")


@pytest.mark.parametrize("c", [c for c in CASES if not c.params],
                         ids=_ids([c for c in CASES if not c.params]))
def test_api_update_refuses(c, orch, database):
    """An update with the same bad template changes nothing either."""
    before = count_rows(database[1])
    with pytest.raises(c.exc) as info:
        orch.update_stack("existing", c.source)
    assert info.value.path == c.path
    assert count_rows(database[1]) == before
    assert orch.get_stack("existing").stack_status == "CREATE_COMPLETE"


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    rc = cli.main(argv, out, err)
    return rc, out.getvalue(), err.getvalue()


def _write(tmp_path, source, name="t.yaml"):
    path = tmp_path / name
    path.write_bytes(source if isinstance(source, bytes)
                     else source.encode("utf-8"))
    return str(path)


def assert_one_error_line(rc, err, *fragments):
    assert rc == 1, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ERROR: "), err
    for fragment in fragments:
        assert fragment in lines[0], err


@pytest.mark.parametrize("c", CASES, ids=_ids(CASES))
def test_cli_refuses(c, database, tmp_path, capsys):
    url, engine = database
    before = count_rows(engine)
    argv = ["--db-url", url, "stack", "create", "s", "-t",
            _write(tmp_path, c.source)]
    for key, value in c.params.items():
        argv += ["--parameter", "%s=%s" % (key, value)]
    rc = cli.main(argv)
    captured = capsys.readouterr()
    assert_one_error_line(rc, captured.err, c.path, c.message)
    assert captured.out == ""
    assert count_rows(engine) == before


@pytest.mark.parametrize("c", [c for c in CASES if not c.params][:12],
                         ids=_ids([c for c in CASES if not c.params][:12]))
def test_cli_template_validate_refuses(c, database, tmp_path):
    url, engine = database
    before = count_rows(engine)
    rc, out, err = run_cli(["--db-url", url, "template", "validate", "-t",
                            _write(tmp_path, c.source)])
    assert_one_error_line(rc, err, c.path, c.message)
    assert count_rows(engine) == before


def test_cli_get_file_outside_the_template_directory(database, tmp_path):
    url, engine = database
    (tmp_path / "secret.txt").write_text("top secret")
    sub = tmp_path / "tmpl"
    sub.mkdir()
    before = count_rows(engine)
    for target in ("../secret.txt", "/etc/passwd", "nope/../../secret.txt"):
        path = _write(sub, value_of("{get_file: '%s'}" % target))
        rc, out, err = run_cli(["--db-url", url, "stack", "create", "s",
                                "-t", path])
        assert_one_error_line(rc, err)
        assert "top secret" not in err and "root:" not in err
    assert count_rows(engine) == before


def test_cli_missing_and_unreadable_template_files(database, tmp_path):
    url, engine = database
    before = count_rows(engine)
    for path in (str(tmp_path / "missing.yaml"), str(tmp_path)):
        rc, out, err = run_cli(["--db-url", url, "stack", "create", "s",
                                "-t", path])
        assert_one_error_line(rc, err)
    assert count_rows(engine) == before


def test_api_bad_stack_names(orch, database):
    before = count_rows(database[1])
    for name in ("", "1abc", "a b", "a/b", "x" * 300, None):
        with pytest.raises(exception.StackValidationFailed) as info:
            orch.create_stack(name, GOOD)
        assert info.value.path == "stack_name"
    assert count_rows(database[1]) == before


def test_api_template_of_the_wrong_type(orch, database):
    before = count_rows(database[1])
    for source in (42, ["a"], object()):
        with pytest.raises(exception.StackValidationFailed) as info:
            orch.create_stack("s", source)
        assert info.value.path == "template"
    assert count_rows(database[1]) == before


def test_configured_limits_are_checked_before_anything_is_written(
        database, tmp_path):
    """Orchestrator(limits=...): tighter caps for a service that takes
    templates from its users, through every entry point."""
    url, engine = database
    tight = Limits(max_template_bytes=400, max_resources=2,
                   max_files_bytes=64, max_value_bytes=100)
    three = V + "resources:\n" + "".join(
        "  r%d: {type: OS::Heat::None}\n" % i for i in range(3))
    big_value = value_of("{list_join: ['', {repeat: {template: x, for_each: "
                         "{'%%x%%': %s}}}]}" % list(range(60)))
    with heatflow.Orchestrator(db_url=url, resume=False,
                               limits=tight) as orch:
        before = count_rows(engine)
        refusals = [
            (lambda: orch.create_stack("s", three), "resources",
             "3 resources, more than the limit of 2"),
            (lambda: orch.preview_create("s", three), "resources",
             "(max_resources)"),
            (lambda: orch.update_stack("existing", three), "resources",
             "(max_resources)"),
            (lambda: orch.create_stack("s", GOOD + "#" * 400), "template",
             "(max_template_bytes)"),
            (lambda: orch.create_stack("s", GOOD, files={"a": "y" * 65}),
             "files", "more than 64 bytes (max_files_bytes)"),
            (lambda: orch.create_stack(
                "s", GOOD, environment="parameters: {a: '%s'}" % ("z" * 400)),
             "environment", "(max_template_bytes)"),
            (lambda: orch.create_stack("s", big_value),
             "resources.a.properties.value", "(max_value_bytes)"),
        ]
        for call, path, message in refusals:
            with pytest.raises(exception.LimitExceeded) as info:
                call()
            assert info.value.path.startswith(path), str(info.value)
            assert message in str(info.value)
        assert count_rows(engine) == before
        # within the limits all is well
        assert orch.create_stack("small", GOOD).wait(60).stack_status == \
            "CREATE_COMPLETE"
        orch.delete_stack("small").wait(60)
