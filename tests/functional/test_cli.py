"""The ``heatflow`` command, run in-process through ``heatflow.cli.main``
and, to prove the console entry works, as ``python -m heatflow``.  Each
test has its own SQLite database in tmp_path."""

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

import heatflow
import heatflow.api
from heatflow.cli import output as formatting
from heatflow.cli import stacks

EVENT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \[(?P<res>[^\]]+)\]: "
    r"(?P<status>[A-Z]+_[A-Z_]+)(  .*)?$")

STACK_TEMPLATE = """\
heat_template_version: 2018-08-31
description: A stack for the command line tests
parameters:
  greeting:
    type: string
    default: hello
  secret:
    type: string
    default: hush
    hidden: true
resources:
  first:
    type: OS::Heat::TestResource
    properties:
      value: {get_param: greeting}
  second:
    type: OS::Heat::Value
    properties:
      value: {get_attr: [first, output]}
  token:
    type: OS::Heat::RandomString
    properties:
      length: 12
  nothing:
    type: OS::Heat::None
    depends_on: [second]
outputs:
  said:
    description: What was said
    value: {get_attr: [second, value]}
  token:
    value: {get_attr: [token, value]}
  pair:
    value: {str_split: [",", "a,b"]}
"""


pytestmark = pytest.mark.usefixtures("isolated_cwd")


@pytest.fixture
def template(tmp_path):
    path = tmp_path / "stack.yaml"
    path.write_text(STACK_TEMPLATE)
    return str(path)


@pytest.fixture
def created(run, template):
    code, out, err = run("stack", "create", "web", "-t", template,
                         "--parameter", "secret=classified", "--wait")
    assert code == 0, err
    return out


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


def value_template(value_expr, parameters=None):
    t = {"heat_template_version": "2018-08-31",
         "resources": {"v": {"type": "OS::Heat::Value",
                             "properties": {"value": value_expr}}},
         "outputs": {"result": {"value": {"get_attr": ["v", "value"]}}}}
    if parameters:
        t["parameters"] = parameters
    return yaml.safe_dump(t)


def output_of(run, stack, key):
    code, out, err = run("-f", "json", "stack", "output", "show", stack, key)
    assert code == 0, err
    return json.loads(out)["output_value"]


def table_rows(text):
    """The data rows of a bordered table: lists of stripped cells."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|")]
    return rows[1:]


# -- create, show, list, delete -----------------------------------------------

def test_create_wait_prints_events_then_the_stack(created):
    lines = created.splitlines()
    events = [m for m in map(EVENT_LINE.match, lines) if m]
    assert events[0].group("res") == "web"
    assert events[0].group("status") == "CREATE_IN_PROGRESS"
    assert events[-1].group("res") == "web"
    assert events[-1].group("status") == "CREATE_COMPLETE"
    seen = {(m.group("res"), m.group("status")) for m in events}
    for res in ("first", "second", "token", "nothing"):
        assert (res, "CREATE_COMPLETE") in seen
    # then the stack, as `stack show` prints it, with its outputs
    fields = dict((r[0], r[1]) for r in table_rows(created) if len(r) == 2)
    assert fields["stack_status"] == "CREATE_COMPLETE"
    assert fields["name"] == "web"
    assert "output_value: hello" in created


def test_create_that_fails_exits_1(run, tmp_path):
    path = write(tmp_path, "fail.yaml", """\
        heat_template_version: 2018-08-31
        resources:
          broken:
            type: OS::Heat::TestResource
            properties: {fail: true}
        """)
    code, out, err = run("stack", "create", "bad", "-t", path, "--wait")
    assert code == 1
    assert "CREATE_FAILED" in out
    assert err.startswith("ERROR: ") and "CREATE_FAILED" in err
    assert "Traceback" not in err


def test_wait_with_json_keeps_stdout_one_document(run, template):
    code, out, err = run("-f", "json", "stack", "create", "web", "-t",
                         template, "--wait")
    assert code == 0, err
    assert json.loads(out)["stack_status"] == "CREATE_COMPLETE"
    events = [EVENT_LINE.match(line) for line in err.splitlines()]
    assert events and all(events)
    assert events[-1].group("res", "status") == ("web", "CREATE_COMPLETE")


def test_show_in_every_format(run, created):
    code, out, _ = run("stack", "show", "web")
    assert code == 0
    assert out.startswith("+")
    assert table_rows(out)[0][:1] == ["id"]
    fields = {r[0]: r[1] for r in table_rows(out) if r[0]}
    assert fields["stack_status"] == "CREATE_COMPLETE"
    assert fields["description"] == "A stack for the command line tests"

    code, out, _ = run("-f", "json", "stack", "show", "web")
    assert code == 0
    doc = json.loads(out)
    assert doc["name"] == "web"
    assert doc["action"] == "CREATE" and doc["status"] == "COMPLETE"
    assert doc["stack_status"] == "CREATE_COMPLETE"
    assert doc["status_reason"]
    assert doc["disable_rollback"] is True
    assert doc["timeout_mins"] is None
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                    doc["creation_time"])
    # the values the stack runs with: defaults included, hidden masked
    assert doc["parameters"] == {"greeting": "hello", "secret": "******"}
    assert "classified" not in out
    outputs = {o["output_key"]: o for o in doc["outputs"]}
    assert outputs["said"] == {"output_key": "said", "output_value": "hello",
                               "description": "What was said"}
    assert len(outputs["token"]["output_value"]) == 12
    assert outputs["pair"]["output_value"] == ["a", "b"]

    code, out, _ = run("-f", "yaml", "stack", "show", "web")
    assert code == 0
    assert yaml.safe_load(out) == doc


def test_list_commands_in_json_and_yaml(run, created):
    code, out, _ = run("-f", "json", "stack", "list")
    assert code == 0
    stacks = json.loads(out)
    assert [s["name"] for s in stacks] == ["web"]
    assert stacks[0]["stack_status"] == "CREATE_COMPLETE"
    assert set(stacks[0]) >= {"id", "name", "action", "status",
                              "status_reason", "creation_time",
                              "updated_time"}

    code, out, _ = run("-f", "yaml", "stack", "resource", "list", "web")
    assert code == 0
    resources = {r["name"]: r for r in yaml.safe_load(out)}
    assert set(resources) == {"first", "second", "token", "nothing"}
    assert resources["first"]["type"] == "OS::Heat::TestResource"
    assert resources["first"]["resource_status"] == "CREATE_COMPLETE"
    assert resources["first"]["physical_resource_id"]
    assert resources["second"]["attributes"]["value"] == "hello"
    assert len(resources["token"]["attributes"]["value"]) == 12

    code, out, _ = run("-f", "json", "stack", "event", "list", "web")
    assert code == 0
    events = json.loads(out)
    assert events[0]["resource_name"] == "web"
    assert events[-1]["resource_status"] == "CREATE_COMPLETE"
    assert {"time", "resource_name", "action", "status",
            "reason"} <= set(events[0])
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)

    code, out, _ = run("-f", "json", "stack", "output", "list", "web")
    assert code == 0
    assert [o["output_key"] for o in json.loads(out)] == ["said", "token",
                                                          "pair"]


def test_list_commands_as_tables(run, created):
    code, out, _ = run("stack", "list")
    assert code == 0
    header = out.splitlines()[1]
    assert "name" in header and "stack_status" in header
    assert [r[1:3] for r in table_rows(out)] == [["web", "CREATE_COMPLETE"]]

    code, out, _ = run("stack", "resource", "list", "web")
    assert code == 0
    assert sorted(r[0] for r in table_rows(out)) == ["first", "nothing",
                                                     "second", "token"]

    code, out, _ = run("stack", "event", "list", "web")
    assert code == 0
    rows = table_rows(out)
    assert rows[-1][1:3] == ["web", "CREATE_COMPLETE"]


def test_output_and_resource_show(run, created):
    assert output_of(run, "web", "said") == "hello"

    code, out, _ = run("stack", "output", "show", "web", "said")
    assert code == 0
    assert ["output_value", "hello"] in table_rows(out)

    code, out, _ = run("-f", "yaml", "stack", "output", "show", "web",
                       "--all")
    assert code == 0
    outputs = {o["output_key"]: o["output_value"]
               for o in yaml.safe_load(out)}
    assert outputs["said"] == "hello" and outputs["pair"] == ["a", "b"]
    assert set(outputs) == {"said", "token", "pair"}

    code, out, err = run("stack", "output", "show", "web", "nope")
    assert code == 1
    assert err == "ERROR: Output 'nope' not found in stack 'web'\n"

    code, out, err = run("stack", "output", "show", "web")
    assert code == 1 and "--all" in err

    code, out, _ = run("-f", "json", "stack", "resource", "show", "web",
                       "first")
    assert code == 0
    res = json.loads(out)
    assert res["name"] == "first"
    assert res["attributes"] == {"output": "hello"}

    code, out, err = run("stack", "resource", "show", "web", "nope")
    assert code == 1
    assert "'nope' not found" in err


def test_delete_wait_removes_the_stack(run, created):
    code, out, err = run("stack", "delete", "web", "--wait", "-y")
    assert code == 0, err
    assert out.splitlines()[-1] == "Stack web DELETE_COMPLETE"
    assert EVENT_LINE.match(out.splitlines()[0])

    code, out, _ = run("-f", "json", "stack", "list")
    assert code == 0 and json.loads(out) == []

    code, out, err = run("stack", "show", "web")
    assert code == 1
    assert out == ""
    assert err == "ERROR: Stack 'web' not found\n"

    code, _, err = run("stack", "delete", "web", "-y")
    assert code == 1 and err == "ERROR: Stack 'web' not found\n"


def test_delete_several_stacks(run, template):
    for name in ("one", "two"):
        assert run("stack", "create", name, "-t", template, "--wait")[0] == 0
    code, out, err = run("stack", "delete", "one", "ghost", "two", "--wait")
    assert code == 1
    assert err == "ERROR: Stack 'ghost' not found\n"
    assert "Stack one DELETE_COMPLETE" in out
    assert "Stack two DELETE_COMPLETE" in out
    code, out, _ = run("-f", "json", "stack", "list")
    assert json.loads(out) == []


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_delete_asks_on_a_terminal(run, created, monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    code, out, err = run("stack", "delete", "web", "--wait")
    assert code == 1
    assert "Are you sure you want to delete this stack(s) [y/N]?" in err
    code, out, _ = run("-f", "json", "stack", "list")
    assert [s["name"] for s in json.loads(out)] == ["web"]

    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    code, out, err = run("stack", "delete", "web", "--wait")
    assert code == 0, err
    assert "Stack web DELETE_COMPLETE" in out


def test_update_with_a_template_and_existing(run, created, tmp_path):
    path = write(tmp_path, "smaller.yaml", """\
        heat_template_version: 2018-08-31
        parameters:
          greeting: {type: string, default: hi}
        resources:
          first:
            type: OS::Heat::TestResource
            properties: {value: {get_param: greeting}}
        outputs:
          said: {value: {get_attr: [first, output]}}
        """)
    code, out, err = run("stack", "update", "web", "-t", path,
                         "--parameter", "greeting=bonjour", "--wait")
    assert code == 0, err
    statuses = [m.group("res", "status")
                for m in map(EVENT_LINE.match, out.splitlines()) if m]
    # only this operation's events are followed
    assert statuses[0] == ("web", "UPDATE_IN_PROGRESS")
    assert ("second", "DELETE_COMPLETE") in statuses
    assert ("web", "CREATE_COMPLETE") not in statuses
    assert output_of(run, "web", "said") == "bonjour"

    code, out, err = run("stack", "update", "web", "--existing",
                         "--parameter", "greeting=ciao", "--wait")
    assert code == 0, err
    assert output_of(run, "web", "said") == "ciao"
    code, out, _ = run("-f", "json", "stack", "resource", "list", "web")
    assert [r["name"] for r in json.loads(out)] == ["first"]

    code, out, err = run("stack", "update", "web")
    assert code == 1 and "--existing" in err


def test_update_rollback_option_sets_the_stacks_rollback(run, created):
    def rollback_disabled():
        code, out, err = run("-f", "json", "stack", "show", "web")
        assert code == 0, err
        return json.loads(out)["disable_rollback"]

    assert rollback_disabled() is True
    code, _, err = run("stack", "update", "web", "--existing",
                       "--rollback", "enabled", "--wait")
    assert code == 0, err
    assert rollback_disabled() is False
    # without the option the stack keeps its setting
    code, _, err = run("stack", "update", "web", "--existing", "--wait")
    assert code == 0, err
    assert rollback_disabled() is False
    code, _, err = run("stack", "update", "web", "--existing",
                       "--rollback", "disabled", "--wait")
    assert code == 0, err
    assert rollback_disabled() is True


def test_stack_template_and_environment_show(run, template, tmp_path):
    env = write(tmp_path, "env.yaml", """\
        parameters: {secret: classified, greeting: hey}
        """)
    code, _, err = run("stack", "create", "web", "-t", template, "-e", env,
                       "--wait")
    assert code == 0, err

    # the version date is kept as the text it was written as
    expected = json.loads(json.dumps(yaml.safe_load(STACK_TEMPLATE),
                                     default=str))
    code, out, err = run("stack", "template", "show", "web")
    assert code == 0, err
    assert yaml.safe_load(out) == expected
    code, out, err = run("-f", "json", "stack", "template", "show", "web")
    assert code == 0, err
    assert json.loads(out) == expected

    code, out, err = run("stack", "environment", "show", "web")
    assert code == 0, err
    assert yaml.safe_load(out)["parameters"] == {"secret": "******",
                                                 "greeting": "hey"}
    assert "classified" not in out
    code, out, err = run("stack", "environment", "show", "nosuch")
    assert code == 1 and "nosuch" in err


def test_resource_type_list_and_show(run, tmp_path):
    code, out, err = run("-f", "json", "resource", "type", "list")
    assert code == 0, err
    names = [t["resource_type"] for t in json.loads(out)]
    assert "OS::Heat::RandomString" in names and names == sorted(names)
    code, out, err = run("resource", "type", "list", "--long")
    assert code == 0, err
    assert "A random string" in out

    code, out, err = run("resource", "type", "show",
                         "OS::Heat::RandomString")
    assert code == 0, err
    schema = yaml.safe_load(out)
    assert schema["resource_type"] == "OS::Heat::RandomString"
    length = schema["properties"]["length"]
    assert length["type"] == "integer" and length["default"] == 32
    assert length["constraints"] == [{"range": {"min": 1, "max": 512}}]
    assert length["update_allowed"] is False and not length["required"]
    assert schema["attributes"]["value"]["type"] == "string"
    assert "show" in schema["attributes"]
    assert schema["support_status"]["status"] == "SUPPORTED"

    code, out, err = run("resource", "type", "show", "OS::Heat::RandomStrin")
    assert code == 1
    assert "did you mean OS::Heat::RandomString?" in err


def test_create_without_wait_completes(run, template):
    # With a detaching Orchestrator the work runs in a detached worker;
    # without one the command waits quietly.  Either way it completes.
    code, out, err = run("-f", "json", "stack", "create", "quiet", "-t",
                         template)
    assert code == 0, err
    assert json.loads(out)["name"] == "quiet"
    deadline = time.monotonic() + 20
    while True:
        code, out, _ = run("-f", "json", "stack", "show", "quiet")
        status = json.loads(out)["stack_status"]
        if status != "CREATE_IN_PROGRESS" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == "CREATE_COMPLETE"


def test_operation_outlives_the_command(db_url, tmp_path):
    path = write(tmp_path, "slow.yaml", """\
        heat_template_version: 2018-08-31
        resources:
          slow:
            type: OS::Heat::TestResource
            properties: {wait_secs: 2}
        """)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "heatflow", "--db-url", db_url, "-f", "json",
         "stack", "create", "slow", "-t", path],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stack_status"] == "CREATE_IN_PROGRESS"
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 30
    while True:
        proc = subprocess.run(
            [sys.executable, "-m", "heatflow", "--db-url", db_url, "-f",
             "json", "stack", "show", "slow"],
            capture_output=True, text=True, timeout=60)
        status = json.loads(proc.stdout)["stack_status"]
        if status != "CREATE_IN_PROGRESS" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == "CREATE_COMPLETE"


# -- inputs: parameters, environment files, get_file --------------------------

def test_bad_parameter_is_an_error(run, template):
    code, out, err = run("stack", "create", "web", "-t", template,
                         "--parameter", "greeting")
    assert code == 1
    assert err == ("ERROR: malformed parameter 'greeting': expected "
                   "KEY=VALUE\n")
    code, out, _ = run("-f", "json", "stack", "list")
    assert json.loads(out) == []


def test_parameter_with_commas_stays_a_string(run, tmp_path):
    path = write(tmp_path, "t.yaml", value_template(
        {"get_param": "p"}, {"p": {"type": "string"}}))
    code, _, err = run("stack", "create", "s", "-t", path, "--parameter",
                       "p=a,b=c", "--wait")
    assert code == 0, err
    assert output_of(run, "s", "result") == "a,b=c"


def test_environment_files_and_precedence(run, tmp_path):
    path = write(tmp_path, "t.yaml", value_template(
        {"list_join": ["-", [{"get_param": "a"}, {"get_param": "b"},
                             {"get_param": "c"}, {"get_param": "d"}]]},
        {"a": {"type": "string"}, "b": {"type": "string"},
         "c": {"type": "string"}, "d": {"type": "string"}}))
    env1 = write(tmp_path, "env1.yaml", """\
        parameters: {a: env1, b: env1}
        parameter_defaults: {c: default1, d: default1, undeclared: x}
        """)
    env2 = write(tmp_path, "env2.yaml", """\
        parameters: {b: env2}
        parameter_defaults: {d: default2}
        """)
    code, _, err = run("stack", "create", "s", "-t", path, "-e", env1,
                       "-e", env2, "--parameter", "c=cli", "--wait")
    assert code == 0, err
    # a from env1, b: env2 over env1, c: --parameter over parameter
    # defaults, d: the later file's default; "undeclared" is ignored
    assert output_of(run, "s", "result") == "env1-env2-cli-default2"


def test_environment_file_errors(run, tmp_path, template):
    registry = write(tmp_path, "reg.yaml", """\
        resource_registry: {"My::Type": other.yaml}
        """)
    code, _, err = run("stack", "create", "s", "-t", template, "-e",
                       registry)
    assert code == 1
    # (a type may map to a template file: one that is not there is named)
    assert err == ("ERROR: %s: resource_registry.My::Type: cannot read file "
                   "%s: No such file or directory\n"
                   % (registry, tmp_path / "other.yaml"))
    code, _, err = run("stack", "create", "s", "-t", template, "-e",
                       str(tmp_path / "absent.yaml"))
    assert code == 1
    assert err.startswith("ERROR: cannot read environment file")
    broken = write(tmp_path, "broken.yaml", "parameters: [\n")
    code, _, err = run("template", "validate", "-t", template, "-e", broken)
    assert code == 1 and err.startswith(
        "ERROR: environment file %s: environment is not valid YAML: " % broken)
    assert len(err.splitlines()) == 1


def test_get_file_reads_sibling_files(run, tmp_path):
    write(tmp_path, "tmpl/config.txt", "line one\nline two\n")
    write(tmp_path, "tmpl/sub/more.txt", "more")
    path = write(tmp_path, "tmpl/t.yaml", value_template(
        {"list_join": ["+", [{"get_file": "config.txt"},
                             {"get_file": "./sub/more.txt"}]]}))
    code, _, err = run("stack", "create", "s", "-t", path, "--wait")
    assert code == 0, err
    assert output_of(run, "s", "result") == "line one\nline two\n+more"


def test_get_file_of_yaml_that_is_not_a_template_is_text(run, tmp_path):
    # A docker-compose or cloud-config file read with get_file (as in
    # heat-templates' software-config examples) is data, not a nested
    # template: only a file that is a template has its own files read.
    compose = "version: '2'\nservices:\n  web: {image: nginx}\n"
    write(tmp_path, "tmpl/compose.yml", compose)
    write(tmp_path, "tmpl/inner.txt", "inner")
    write(tmp_path, "tmpl/child.yaml", value_template(
        {"get_file": "inner.txt"}))
    path = write(tmp_path, "tmpl/t.yaml", yaml.safe_dump({
        "heat_template_version": "2018-08-31",
        "resources": {
            "v": {"type": "OS::Heat::Value",
                  "properties": {"value": {"get_file": "compose.yml"}}},
            "nested": {"type": "OS::Heat::Stack", "properties": {
                "template": {"get_file": "child.yaml"}}}},
        "outputs": {"result": {"value": {"get_attr": ["v", "value"]}},
                    "nested": {"value": {"get_attr": [
                        "nested", "outputs", "result"]}}}}))
    code, _, err = run("stack", "create", "s", "-t", path, "--wait")
    assert code == 0, err
    assert output_of(run, "s", "result") == compose
    # the template read with get_file had its own get_file read
    assert output_of(run, "s", "nested") == "inner"


@pytest.mark.parametrize("name,message", [
    ("../escape.txt", "outside the template's directory"),
    ("sub/../../escape.txt", "outside the template's directory"),
    ("/etc/hostname", "relative to the template's directory"),
])
def test_get_file_refuses_paths_outside(run, tmp_path, name, message):
    write(tmp_path, "escape.txt", "secret")
    path = write(tmp_path, "tmpl/t.yaml", value_template({"get_file": name}))
    code, out, err = run("stack", "create", "s", "-t", path, "--wait")
    assert code == 1
    assert err.startswith(
        "ERROR: resources.v.properties.value.get_file: %r refused" % name)
    assert message in err
    code, out, _ = run("-f", "json", "stack", "list")
    assert json.loads(out) == []


def test_get_file_missing_file(run, tmp_path):
    path = write(tmp_path, "t.yaml", value_template({"get_file": "no.txt"}))
    code, _, err = run("template", "validate", "-t", path)
    assert code == 1
    assert err.startswith("ERROR: resources.v.properties.value.get_file: "
                          "cannot read file ")


# -- template validate --------------------------------------------------------

def test_template_validate(run, template):
    code, out, err = run("template", "validate", "-t", template, db=False)
    assert (code, out, err) == (0, "Template is valid.\n", "")

    code, out, _ = run("-f", "json", "template", "validate", "-t", template,
                       db=False)
    assert code == 0
    doc = json.loads(out)
    assert doc["Description"] == "A stack for the command line tests"
    assert doc["Parameters"]["greeting"]["Default"] == "hello"
    assert doc["Parameters"]["secret"]["NoEcho"] == "true"
    assert doc["Parameters"]["secret"]["Default"] == "******"


def test_template_validate_warns_of_a_function_too_new(run, tmp_path):
    # Heat keeps {list_concat: ...} as data in 2013-05-23; so do we, and
    # validate says so
    path = write(tmp_path, "t.yaml", """\
        heat_template_version: 2013-05-23
        resources:
          a: {type: OS::Heat::Value, properties: {value: {list_concat: []}}}
        """)
    code, out, err = run("template", "validate", "-t", path, db=False)
    assert (code, out) == (0, "Template is valid.\n")
    assert err == ("WARNING: resources.a.properties.value.list_concat: "
                   "'list_concat' is not a function in heat_template_version "
                   "2013-05-23 (it needs 2017-09-01 or later); the map is "
                   "kept as plain data\n")


def test_template_validate_accepts_cloudformation(run, tmp_path):
    path = write(tmp_path, "t.yaml", """\
        AWSTemplateFormatVersion: '2010-09-09'
        Description: CFN
        Parameters:
          N: {Type: String, Default: x}
        Resources:
          a: {Type: 'OS::Heat::None', Properties: {v: {Ref: N}}}
        Outputs:
          o: {Value: {Ref: a}}
        """)
    code, out, err = run("template", "validate", "-t", path, db=False)
    assert (code, out, err) == (0, "Template is valid.\n", "")


def test_template_validate_unknown_dependency(run, tmp_path):
    path = write(tmp_path, "t.yaml", """\
        heat_template_version: 2018-08-31
        resources:
          a: {type: OS::Heat::None, depends_on: [ghost]}
        """)
    code, out, err = run("template", "validate", "-t", path, db=False)
    assert code == 1
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("ERROR: resources.a.depends_on")
    assert "ghost" in err
    assert "Traceback" not in err


def test_template_validate_bad_parameter_value(run, tmp_path):
    path = write(tmp_path, "t.yaml", value_template(
        {"get_param": "n"}, {"n": {"type": "number"}}))
    code, _, err = run("template", "validate", "-t", path, "--parameter",
                       "n=many", db=False)
    assert code == 1
    assert err.startswith("ERROR: ") and "parameters.n" in err


def test_missing_template_file(run, tmp_path):
    code, out, err = run("stack", "create", "s", "-t",
                         str(tmp_path / "absent.yaml"), "--wait")
    assert code == 1
    assert err == ("ERROR: cannot read template file %s: No such file or "
                   "directory\n" % (tmp_path / "absent.yaml"))


def test_invalid_yaml_template(run, tmp_path):
    path = write(tmp_path, "t.yaml", "heat_template_version: 2018-08-31\n"
                                     "resources: [a\n")
    code, _, err = run("template", "validate", "-t", path, db=False)
    assert code == 1
    assert err.startswith("ERROR: ") and "YAML" in err
    assert len(err.splitlines()) == 1


def plugin_and_template(tmp_path, type_name, body):
    """plugins/plugin.py: one class of ``body`` (indented 4) registered as
    ``type_name``; t.yaml: one resource ``r`` of it.  Returns t.yaml."""
    write(tmp_path, "plugins/plugin.py",
          "from heatflow import resource\n\n\n"
          "class Plugin(resource.Resource):\n%s\n\n\n"
          "def resource_mapping():\n"
          "    return {%r: Plugin}\n" % (textwrap.indent(
              textwrap.dedent(body), "    "), type_name))
    return write(tmp_path, "t.yaml", """\
        heat_template_version: 2018-08-31
        resources:
          r: {type: %s}
        """ % type_name)


def test_plugin_dir(run, tmp_path):
    path = plugin_and_template(tmp_path, "CliTest::Widget", "pass")
    code, _, err = run("template", "validate", "-t", path, db=False)
    assert code == 1 and "CliTest::Widget" in err
    code, out, err = run("--plugin-dir", str(tmp_path / "plugins"),
                         "template", "validate", "-t", path, db=False)
    assert (code, err) == (0, "")


def test_resource_show_has_the_traceback_of_a_plugins_crash(run, tmp_path):
    # The create runs in a detached worker process; the traceback of the
    # plugin's exception is read back from the database, not a log.
    plugins = tmp_path / "plugins"
    path = plugin_and_template(tmp_path, "CliTest::Crash", """\
        def handle_create(self):
            return {}["size"]
        """)
    code, _, err = run("--plugin-dir", str(plugins), "stack", "create", "s",
                       "-t", path, "--wait")
    assert code == 1 and "KeyError: 'size'" in err
    assert "Traceback" not in err           # the one-line reason only
    code, out, err = run("stack", "resource", "show", "s", "r", "-f", "json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["resource_status"] == "CREATE_FAILED"
    detail = shown["status_detail"]
    assert detail.startswith("Traceback (most recent call last)")
    assert str(plugins / "plugin.py") in detail and "in handle_create" in detail
    assert detail.endswith("KeyError: 'size'")
    code, out, err = run("stack", "event", "list", "s", "-f", "json")
    assert [e["detail"] for e in json.loads(out) if "detail" in e] == [detail]


# -- global options, errors ---------------------------------------------------

def test_debug_shows_a_traceback(run, tmp_path):
    code, _, err = run("--debug", "stack", "show", "nothing")
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1] == "ERROR: Stack 'nothing' not found"


def test_global_options_after_the_command(run, created, db_url):
    code, out, err = run("stack", "list", "--db-url", db_url, "-f", "json",
                         db=False)
    assert code == 0, err
    assert [s["name"] for s in json.loads(out)] == ["web"]
    code, _, err = run("stack", "show", "nothing", "--debug", db=False)
    assert "Traceback" in err


def test_db_url_from_the_environment(run, created, db_url, monkeypatch):
    monkeypatch.setenv("HEATFLOW_DB_URL", db_url)
    code, out, err = run("-f", "json", "stack", "list", db=False)
    assert code == 0, err
    assert [s["name"] for s in json.loads(out)] == ["web"]


def test_zookeeper_hosts_reach_the_orchestrator(run, monkeypatch):
    """Commands that change a stack connect to the ZooKeeper given (option
    or environment); read-only ones read the database only."""
    # Connecting to a ZooKeeper that is not there takes the connect
    # timeout; a stand-in Orchestrator fails at once instead.
    from kazoo.handlers.threading import KazooTimeoutError
    seen = []

    class Unreachable:
        def __init__(self, db_url=None, zookeeper=None, plugin_dirs=(),
                     resume=True, detach=False, create_database=True,
                     zookeeper_connect_timeout=None):
            seen.append(zookeeper)
            if zookeeper:
                # 2 s a member: a mistyped address fails fast, a member
                # that is down does not fail the ensemble
                assert zookeeper_connect_timeout == 2.0 * len(
                    zookeeper.split(","))
            if zookeeper:
                raise KazooTimeoutError("Connection time-out")
            raise NotImplementedError("no ZooKeeper given")

    monkeypatch.setattr(heatflow.api, "Orchestrator", Unreachable)
    code, out, err = run("--zookeeper", "127.0.0.1:1", "stack", "delete",
                         "web", "-y")
    assert code == 1
    assert err == ("ERROR: cannot connect to ZooKeeper at 127.0.0.1:1: "
                   "Connection time-out\n")
    monkeypatch.setenv("HEATFLOW_ZOOKEEPER", "zk1:2181,zk2:2181")
    code, out, err = run("stack", "rollback", "web")
    assert code == 1 and "ZooKeeper at zk1:2181,zk2:2181" in err
    assert seen == ["127.0.0.1:1", "zk1:2181,zk2:2181"]
    # reading: no ZooKeeper, whatever is configured
    code, out, err = run("stack", "list")
    assert (code, err) == (1, "ERROR: no ZooKeeper given\n")
    assert seen[-1] is None


def test_reading_a_database_that_is_not_there_creates_nothing(run,
                                                              tmp_path):
    """A read-only command on a mistyped path neither makes the directory
    nor an empty database: it sees no stacks."""
    url = "sqlite:///" + str(tmp_path / "nosuchdir" / "x.db")
    code, out, err = run("--db-url", url, "-f", "json", "stack", "list")
    assert (code, out.strip(), err) == (0, "[]", "")
    code, out, err = run("--db-url", url, "stack", "show", "ghost")
    assert (code, err) == (1, "ERROR: Stack 'ghost' not found\n")
    assert not (tmp_path / "nosuchdir").exists()


def test_usage_errors_exit_2(run):
    assert run("stack")[0] == 2
    assert run("stack", "create", "x")[0] == 2          # no -t
    assert run("-f", "xml", "stack", "list")[0] == 2
    assert run("stack", "create", "x", "-t", "f", "--timeout", "0")[0] == 2
    code, out, _ = run("--help")
    assert code == 0 and "stack" in out


def test_db_upgrade(run, tmp_path):
    url = "sqlite:///" + str(tmp_path / "new" / "fresh.db")
    code, out, err = run("--db-url", url, "db", "upgrade", db=False)
    assert code == 0, err
    assert out == "Database %s is up to date.\n" % url
    assert (tmp_path / "new" / "fresh.db").exists()
    assert "alembic" not in err.lower()


def test_keyboard_interrupt_exits_130(run, monkeypatch):
    def interrupted(ctx, args):
        raise KeyboardInterrupt
    monkeypatch.setattr(stacks, "cmd_stack_list", interrupted)
    code, out, err = run("stack", "list")
    assert code == 130
    assert err == "ERROR: interrupted\n"


# -- the table formatter ------------------------------------------------------

def test_table_format():
    text = formatting.table(["a", "long header"],
                            [["x", "one\ntwo"], [None, {"k": 1}]])
    assert text.splitlines() == [
        "+---+-------------+",
        "| a | long header |",
        "+---+-------------+",
        "| x | one         |",
        "|   | two         |",
        "|   | k: 1        |",
        "+---+-------------+",
    ]
    assert formatting.render([], "table", ["a"]).splitlines() == [
        "+---+", "| a |", "+---+"]
    long = " ".join(["word"] * 40)
    lines = formatting.table(["v"], [[long]]).splitlines()
    assert all(len(line) <= formatting.CELL_WIDTH + 4 for line in lines)
    assert " ".join(line.strip("| ") for line in lines[3:-1]) == long


# -- the console entry, in a real process -------------------------------------

def _heatflow(*argv):
    return subprocess.run([sys.executable, "-m", "heatflow"] + list(argv),
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, HEATFLOW_DB_URL=""))


def test_subprocess_create_show_delete(db_url, template):
    proc = _heatflow("--db-url", db_url, "stack", "create", "web", "-t",
                     template, "--wait")
    assert proc.returncode == 0, proc.stderr
    assert "CREATE_COMPLETE" in proc.stdout
    proc = _heatflow("--db-url", db_url, "-f", "json", "stack", "show",
                     "web")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stack_status"] == "CREATE_COMPLETE"
    # stdin is not a terminal: no question asked
    proc = _heatflow("--db-url", db_url, "stack", "delete", "web", "--wait")
    assert proc.returncode == 0, proc.stderr
    assert "Stack web DELETE_COMPLETE" in proc.stdout


def test_subprocess_errors_are_one_line(db_url, tmp_path):
    proc = _heatflow("--db-url", db_url, "stack", "show", "ghost")
    assert proc.returncode == 1
    assert proc.stderr == "ERROR: Stack 'ghost' not found\n"
    # a failed resource: events and the final status, no library noise
    path = write(tmp_path, "fail.yaml", """\
        heat_template_version: 2018-08-31
        resources:
          broken:
            type: OS::Heat::TestResource
            properties: {fail: true}
        """)
    proc = _heatflow("--db-url", db_url, "-f", "json", "stack", "create",
                     "bad", "-t", path, "--enable-rollback", "--wait")
    assert proc.returncode == 1
    status = json.loads(proc.stdout)["stack_status"]
    assert status.startswith("ROLLBACK_")
    assert "[broken]: CREATE_FAILED" in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(
        "ERROR: stack bad %s: " % status)
    assert "Traceback" not in proc.stderr
    proc = _heatflow("--db-url", db_url, "stack", "create", "x", "-t")
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_a_waiting_update_that_is_superseded_says_by_what(db_url, tmp_path,
                                                          run):
    slow = {"type": "OS::Heat::TestResource",
            "properties": {"value": {"get_param": "v"},
                           "action_wait_secs": {"update": 3}}}
    path = write(tmp_path, "slow.yaml", yaml.safe_dump({
        "heat_template_version": "2018-08-31",
        "parameters": {"v": {"type": "string", "default": "a"}},
        "resources": {"r1": slow, "r2": dict(slow, depends_on="r1")}}))
    code, _, err = run("stack", "create", "s", "-t", path, "--wait")
    assert code == 0, err
    first = subprocess.Popen(
        [sys.executable, "-m", "heatflow", "--db-url", db_url, "stack",
         "update", "s", "-t", path, "--parameter", "v=b", "--wait"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            code, out, _ = run("-f", "json", "stack", "show", "s")
            if json.loads(out)["stack_status"] == "UPDATE_IN_PROGRESS":
                break
            time.sleep(0.1)
        code, _, err = run("stack", "update", "s", "-t", path,
                           "--parameter", "v=c", "--wait")
        assert code == 0, err
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 1
    assert "ERROR: the UPDATE of stack s was superseded by a newer UPDATE" \
        in err
    assert "which is still running; follow it with: heatflow stack event " \
        "list s --follow" in err or "which ended UPDATE_COMPLETE" in err
