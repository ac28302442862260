"""Hidden parameter values never appear in validation errors (regressions
found while fuzzing / reviewing for the safety issue)."""

import pytest

from heatflow import exception
from heatflow import registry as registry_mod
from heatflow.template import Template

SECRET = "s3cr3t-VALUE"
REGISTRY = registry_mod.Registry.default()


def _template(param, resources=None, outputs=None):
    data = {"heat_template_version": "2021-04-16",
            "parameters": {"pw": dict({"type": "string", "hidden": True},
                                      **param)}}
    if resources:
        data["resources"] = resources
    if outputs:
        data["outputs"] = outputs
    return Template.load(data)


def _error(tmpl, value):
    with pytest.raises(exception.StackValidationFailed) as info:
        tmpl.bind({"pw": value}, registry=REGISTRY).validate(REGISTRY)
    return info.value


@pytest.mark.parametrize("constraint", [
    {"length": {"min": 40}},
    {"length": {"max": 2}},
    {"allowed_values": ["a", "b"]},
    {"allowed_pattern": "[0-9]+"},
])
def test_constraint_errors_do_not_echo_the_value(constraint):
    exc = _error(_template({"constraints": [constraint]}), SECRET)
    assert SECRET not in str(exc)
    assert exc.path == "parameters.pw"


def test_length_error_does_not_reveal_the_length():
    exc = _error(_template({"constraints": [{"length": {"min": 40}}]}),
                 SECRET)
    assert "(is %d)" % len(SECRET) not in str(exc)


def test_number_constraint_errors_do_not_echo_the_value():
    tmpl = Template.load({
        "heat_template_version": "2021-04-16",
        "parameters": {"pw": {"type": "number", "hidden": True,
                              "constraints": [{"range": {"max": 3}},
                                              {"modulo": {"step": 2,
                                                          "offset": 0}}]}}})
    exc = _error(tmpl, 987654321)
    assert "987654321" not in str(exc)


@pytest.mark.parametrize("prop, rtype", [
    ("length", "OS::Heat::RandomString"),
    ("fail", "OS::Heat::TestResource"),
    ("character_classes", "OS::Heat::RandomString"),
])
def test_property_errors_mask_hidden_values(prop, rtype):
    tmpl = _template({}, resources={"r": {
        "type": rtype, "properties": {prop: {"get_param": "pw"}}}})
    exc = _error(tmpl, SECRET)
    assert SECRET not in str(exc) and SECRET not in exc.message
    assert "******" in str(exc)
    assert exc.path == "resources.r.properties.%s" % prop


def test_function_errors_mask_hidden_values():
    # digest quotes an unknown algorithm name
    tmpl = _template({}, outputs={"o": {"value": {
        "digest": [{"get_param": "pw"}, "x"]}}})
    with pytest.raises(exception.StackValidationFailed) as info:
        tmpl.bind({"pw": SECRET})
    assert SECRET not in str(info.value)
    assert "unknown algorithm" in str(info.value)


@pytest.mark.parametrize("spelling", ["yes", "on", "1", 1, "True"])
def test_hidden_is_stored_as_a_boolean(spelling):
    """hidden: "yes" hides the parameter, and the stored template says
    hidden: true (stack show reads the stored template to mask)."""
    tmpl = _template({"hidden": spelling})
    assert tmpl.hidden_parameters == {"pw"}
    assert tmpl.to_dict()["parameters"]["pw"]["hidden"] is True


def test_not_hidden_is_stored_as_false():
    tmpl = _template({"hidden": "no"})
    assert tmpl.hidden_parameters == frozenset()
    assert tmpl.to_dict()["parameters"]["pw"]["hidden"] is False
