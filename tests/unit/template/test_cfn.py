"""CloudFormation-format templates, as Heat's CfnTemplate reads them
(heat/engine/cfn/template.py and functions.py)."""

import pytest

from heatflow import exception
from heatflow.template import (Template, hidden_parameters, resource_types,
                               topological_order)

AWS = "AWSTemplateFormatVersion"


def cfn(body, key=AWS, version="2010-09-09"):
    data = {key: version}
    data.update(body)
    return Template.load(data)


def value_of(expr, params=None, values=None, refs=None, attrs=None,
             **sections):
    body = {"Parameters": params or {},
            "Resources": {"r": {"Type": "T"}},
            "Outputs": {"o": {"Value": expr}}}
    body.update(sections)
    d = cfn(body).bind(values, stack_name="st", stack_id="sid")
    return d.outputs["o"].resolve(refs or {"r": "id-r"},
                                  attrs or (lambda r, a: {"x": "X"}.get(a)))


P = {"Size": {"Type": "Number", "Default": "3", "MinValue": "1",
              "MaxValue": 9},
     "Names": {"Type": "CommaDelimitedList", "Default": "a,b"},
     "Pw": {"Type": "String", "NoEcho": "true", "Default": "secret",
            "MinLength": 4, "ConstraintDescription": "four or more"}}
MAPS = {"Region": {"ap-southeast-1": {"ami": "ami-1"}}}


@pytest.mark.parametrize("expr, expected", [
    ({"Ref": "Size"}, 3),
    ({"Ref": "r"}, "id-r"),
    ({"Ref": "AWS::StackName"}, "st"),
    ({"Ref": "AWS::StackId"}, "sid"),
    ({"Ref": "AWS::Region"}, "ap-southeast-1"),
    ({"Fn::GetAtt": ["r", "x"]}, "X"),
    ({"Fn::Join": ["-", ["a", {"Ref": "r"}]]}, "a-id-r"),
    ({"Fn::Select": ["1", {"Ref": "Names"}]}, "b"),
    ({"Fn::Select": [5, ["a"]]}, ""),
    ({"Fn::Select": ["k", {"k": "v"}]}, "v"),
    ({"Fn::Select": ["0", '["j"]']}, "j"),
    ({"Fn::Split": [",", "a,b"]}, ["a", "b"]),
    ({"Fn::Replace": [{"$a": "1", "$ab": 2}, "$a $ab"]}, "1 2"),
    ({"Fn::Base64": "plain"}, "plain"),
    ({"Fn::FindInMap": ["Region", {"Ref": "AWS::Region"}, "ami"]}, "ami-1"),
    ({"Fn::GetAZs": ""}, ["nova"]),
    ({"Fn::MemberListToMap": ["Name", "Value", [
        ".member.0.Name=k", ".member.0.Value=v",
        ".member.1.Name=k2", ".member.1.Value=v2"]]}, {"k": "v", "k2": "v2"}),
    ({"get_param": "Size"}, {"get_param": "Size"}),  # HOT is data here
])
def test_functions(expr, expected):
    assert value_of(expr, P, Mappings=MAPS) == expected


def test_parameters_are_translated_and_checked():
    t = cfn({"Parameters": P})
    assert t.parameter_schemas["Pw"].hidden
    with pytest.raises(exception.StackValidationFailed) as err:
        t.bind({"Size": 10})
    assert str(err.value) == "parameters.Size: value 10 must be between 1 " \
        "and 9"
    with pytest.raises(exception.StackValidationFailed) as err:
        t.bind({"Pw": "abc"})
    assert str(err.value) == "parameters.Pw: four or more"


def test_resources_conditions_and_outputs():
    t = cfn({"Parameters": {"Env": {"Type": "String", "Default": "prod",
                                    "AllowedValues": ["prod", "dev"]}},
             "Conditions": {
                 "Prod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                 "Dev": {"Fn::Not": ["Prod"]},
                 "Both": {"Fn::Or": ["Prod", "Dev"]}},
             "Resources": {
                 "a": {"Type": "T", "Properties": {"v": 1}},
                 "b": {"Type": "T", "DependsOn": "a", "Condition": "Dev",
                       "DeletionPolicy": "Retain"},
                 "c": {"Type": "T", "Properties": {
                     "v": {"Fn::If": ["Prod", {"Ref": "a"}, "none"]}},
                     "Metadata": {"m": 1}}},
             "Outputs": {"o": {"Value": {"Fn::GetAtt": ["c", "x"]},
                               "Description": "d", "Condition": "Both"}}})
    d = t.bind()
    assert list(d.resources) == ["a", "c"]
    assert topological_order(d.dependencies()) == ["a", "c"]
    assert d.outputs["o"].required_resources() == {"c"}
    d = t.bind({"Env": "dev"})
    assert list(d.resources) == ["a", "b", "c"]
    assert d.resources["b"].deletion_policy == "Retain"
    assert d.dependencies()["c"] == frozenset()
    # stored as written: the CFN text round-trips
    assert Template.from_dict(t.to_dict()).to_dict()[AWS] == "2010-09-09"


def test_heat_format():
    t = cfn({"Resources": {"a": {"Type": "T"}}},
            key="HeatTemplateFormatVersion", version="2012-12-12")
    assert t.version == "2012-12-12"
    with pytest.raises(exception.StackValidationFailed) as err:
        cfn({"Conditions": {}}, key="HeatTemplateFormatVersion",
            version="2012-12-12")
    assert str(err.value).startswith("Conditions: unknown section(s)")


@pytest.mark.parametrize("body, message", [
    ({"Bogus": {}}, "Bogus: unknown section(s) 'Bogus'"),
    ({"Resources": {"a": {"Type": "T", "type": "x"}}},
     "Resources.a: unknown key 'type' in a resource"),
    ({"Parameters": {"p": {"Type": "Integer"}}},
     "Parameters.p.Type: unknown Type 'Integer'"),
    ({"Parameters": {"p": {"Type": "Number", "MinValue": "x"}}},
     "Parameters.p.MinValue: must be a number"),
    ({"Resources": {"a": {"Type": "T", "Properties": {
        "v": {"Fn::GetAtt": ["a"]}}}}},
     "resources.a.properties.v.Fn::GetAtt: argument must be a list"),
    ({"Resources": {"a": {"Type": "T", "Properties": {
        "v": {"Ref": "nope"}}}}},
     "resources.a.properties.v.Ref: unknown resource 'nope'"),
    ({"Resources": {"a": {"Type": "T", "Properties": {
        "v": {"Fn::FindInMap": ["M", "k", "n"]}}}}},
     "resources.a.properties.v.Fn::FindInMap: unknown mapping 'M'"),
    ({"Conditions": {"c": {"Fn::Equals": [{"Ref": "r"}, 1]}},
      "Resources": {"r": {"Type": "T"}}},
     "conditions.c.Fn::Equals[0].Ref: in a condition, Ref names a "
     "parameter"),
])
def test_errors_name_the_place(body, message):
    with pytest.raises(exception.StackValidationFailed) as err:
        cfn(body).bind()
    assert str(err.value).startswith(message)


def test_unknown_format_version():
    with pytest.raises(exception.StackValidationFailed) as err:
        cfn({}, version="2011-01-01")
    assert str(err.value).startswith(
        "AWSTemplateFormatVersion: unknown AWSTemplateFormatVersion")


def test_cfn_functions_still_refused_in_hot():
    with pytest.raises(exception.StackValidationFailed) as err:
        Template.load({"heat_template_version": "2018-08-31", "outputs": {
            "o": {"value": {"Fn::Join": [",", ["a"]]}}}})
    assert "CloudFormation function 'Fn::Join' is not supported" in \
        str(err.value)


def test_stored_templates_read_without_parsing():
    t = cfn({"Parameters": {"k": {"Type": "String", "NoEcho": "yes"}},
             "Resources": {"a": {"Type": "T1"}, "b": {"Type": "T2"}}})
    stored = t.to_dict()
    assert stored["Parameters"]["k"]["NoEcho"] is True
    assert hidden_parameters(stored) == {"k"}
    assert resource_types(stored) == ["T1", "T2"]
    hot = {"heat_template_version": "2018-08-31",
           "parameters": {"h": {"type": "string", "hidden": True}},
           "resources": {"a": {"type": "T3"}}}
    assert hidden_parameters(hot) == {"h"}
    assert resource_types(hot) == ["T3"]
