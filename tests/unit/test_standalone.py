"""The public functions that need no Orchestrator (heatflow/standalone.py):
template validation, dependency graphs, ``get_file`` references and the
encryption key."""

import subprocess
import sys

import pytest

import heatflow
from heatflow import exception

TEMPLATE = """\
heat_template_version: 2018-08-31
description: Two values.
parameters:
  word: {type: string, default: hi, label: A word}
  secret: {type: string, default: s3cret, hidden: true}
  size: {type: number, description: How many.}
resources:
  first: {type: OS::Heat::Value, properties: {value: {get_param: word}}}
  second:
    type: OS::Heat::Value
    properties: {value: {get_attr: [first, value]}}
  third:
    depends_on: [second, first]
    type: OS::Heat::None
    properties: {notes: {get_file: notes.txt}}
"""
FILES = {"notes.txt": "Some notes."}


def test_validate_template_reports_heats_fields():
    info = heatflow.validate_template(TEMPLATE, parameters={"size": "3"},
                                      files=FILES)
    assert info["Description"] == "Two values."
    assert info["Parameters"]["word"] == {
        "Type": "string", "Label": "A word", "Description": "",
        "NoEcho": "false", "Default": "hi"}
    assert info["Parameters"]["secret"]["Default"] == "******"
    assert info["Parameters"]["secret"]["NoEcho"] == "true"
    assert "Default" not in info["Parameters"]["size"]
    assert info["Parameters"]["size"]["Label"] == "size"


def test_validate_template_refuses_bad_input_naming_the_place():
    bad = TEMPLATE.replace("OS::Heat::None", "OS::Heat::Nope")
    with pytest.raises(exception.StackValidationFailed) as info:
        heatflow.validate_template(bad, parameters={"size": "3"})
    assert "resources.third" in str(info.value)
    with pytest.raises(exception.StackValidationFailed):
        heatflow.validate_template(TEMPLATE)        # size has no value


def test_validate_template_uses_the_environment():
    env = heatflow.Environment.load({"parameters": {"size": 4}})
    info = heatflow.validate_template(TEMPLATE, environment=env,
                                      files=FILES)
    assert set(info["Parameters"]) == {"word", "secret", "size"}


def test_dependency_graph_in_template_order():
    graph = heatflow.dependency_graph(TEMPLATE, parameters={"size": "3"},
                                      files=FILES, name="g")
    assert graph.name == "g" and not graph.recorded
    assert [(n.name, n.type, n.depends_on) for n in graph.nodes] == [
        ("first", "OS::Heat::Value", ()),
        ("second", "OS::Heat::Value", ("first",)),
        ("third", "OS::Heat::None", ("first", "second")),
    ]
    assert all(n.action is None and n.status is None for n in graph.nodes)


def test_get_file_references():
    assert heatflow.get_file_references(TEMPLATE) == [
        (("resources", "third", "properties", "notes", "get_file"),
         "notes.txt")]
    assert heatflow.get_file_references(
        "heat_template_version: 2018-08-31\n") == []


def test_get_file_references_finds_template_types_in_properties():
    # A group's member definition names a template file as python-heatclient
    # finds it: a "type" naming a template anywhere, not only a resource's
    # own (heat-templates' resource_group/server_with_volumes.yaml).
    group = """\
heat_template_version: 2018-08-31
parameters:
  n: {type: number}
resources:
  top: {type: top.yaml}
  group:
    type: OS::Heat::ResourceGroup
    properties:
      resource_def:
        type: member.yaml
        properties: {script: {get_file: run.sh}, kind: {type: not-a-file}}
"""
    assert heatflow.get_file_references(group) == [
        (("resources", "top", "type"), "top.yaml"),
        (("resources", "group", "properties", "resource_def", "type"),
         "member.yaml"),
        (("resources", "group", "properties", "resource_def", "properties",
          "script", "get_file"), "run.sh")]


def test_encryption_key():
    from heatflow.persistence import sealing
    assert heatflow.ENCRYPTION_KEY_ENV == sealing.ENV_KEY
    key = heatflow.generate_encryption_key()
    assert sealing.configured_cipher(key) is not None


def test_template_functions_import_no_engine():
    # a command that only validates a template starts without TaskFlow
    # and SQLAlchemy
    code = ("import sys, heatflow; "
            "heatflow.validate_template(%r, parameters={'size': '3'}, files=%r); "
            "heatflow.dependency_graph(%r, parameters={'size': '3'}, files=%r); "
            "print(sorted(m for m in ('taskflow', 'sqlalchemy') "
            "if m in sys.modules))" % (TEMPLATE, FILES, TEMPLATE, FILES))
    out = subprocess.run([sys.executable, "-c", code], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "[]"
