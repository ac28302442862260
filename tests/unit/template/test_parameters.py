import pytest

from heatflow import constraints, exception
from heatflow.template import parameters

from .helpers import tmpl


def bind(params, values=None, version="2021-04-16", **kw):
    return tmpl({"parameters": params}, version).bind(values, **kw).parameters


@pytest.mark.parametrize("ptype, given, expected", [
    ("string", "abc", "abc"),
    ("string", 5, "5"),
    ("number", "3", 3),
    ("number", "2.5", 2.5),
    ("number", 7, 7),
    ("number", " -4 ", -4),
    ("boolean", "true", True), ("boolean", "false", False),
    ("boolean", "yes", True), ("boolean", "no", False),
    ("boolean", "1", True), ("boolean", "0", False),
    ("boolean", "on", True), ("boolean", "off", False),
    ("boolean", "TRUE", True), ("boolean", True, True), ("boolean", 0, False),
    ("json", '{"a": [1]}', {"a": [1]}),
    ("json", {"a": 1}, {"a": 1}),
    ("json", [1, 2], [1, 2]),
    ("json", "", {}),
    ("comma_delimited_list", "a,b", ["a", "b"]),
    ("comma_delimited_list", "a, b ,c", ["a", "b", "c"]),
    ("comma_delimited_list", ["x", "y"], ["x", "y"]),
    ("comma_delimited_list", "", []),
])
def test_conversion(ptype, given, expected):
    assert bind({"p": {"type": ptype}}, {"p": given})["p"] == expected


@pytest.mark.parametrize("ptype, given, message", [
    ("number", "abc", "parameters.p: value 'abc' is not a number"),
    ("number", True, "parameters.p: value True is not a number"),
    ("boolean", "maybe", "parameters.p: value 'maybe' is not a boolean"),
    ("json", "[1,", "parameters.p: value is not valid JSON"),
    ("json", "5", "parameters.p: value '5' is not a JSON map or list"),
    ("string", {"a": 1}, "parameters.p: value {'a': 1} is not a string"),
    ("comma_delimited_list", {
     "a": 1}, "parameters.p: value {'a': 1} is not a comma-delimited list"),
    # Heat's CommaDelimitedListParam splits text or takes a list, no more
    ("comma_delimited_list", 5,
     "parameters.p: value 5 is not a comma-delimited list"),
    ("comma_delimited_list", 2.5,
     "parameters.p: value 2.5 is not a comma-delimited list"),
    ("comma_delimited_list", True,
     "parameters.p: value True is not a comma-delimited list"),
])
def test_conversion_errors(ptype, given, message):
    with pytest.raises(exception.StackValidationFailed) as err:
        bind({"p": {"type": ptype}}, {"p": given})
    assert str(err.value).startswith(message)


def test_defaults_and_missing():
    vals = bind({"a": {"type": "number", "default": "5"},
                 "b": {"type": "string", "default": "x"}})
    assert vals["a"] == 5 and vals["b"] == "x"
    assert bind({"a": {"type": "number", "default": 5}}, {"a": 6})["a"] == 6
    with pytest.raises(exception.StackValidationFailed) as err:
        bind({"size": {"type": "number"}})
    assert str(err.value) == ("parameters.size: a value is required: the "
                              "parameter has no default")


def test_every_missing_parameter_is_named_at_once():
    with pytest.raises(exception.StackValidationFailed) as err:
        bind({"size": {"type": "number"}, "flavor": {"type": "string"},
              "name": {"type": "string", "default": "x"},
              "zone": {"type": "string"}}, {"flavor": "m1"})
    assert str(err.value) == ("parameters.size: values are required for "
                              "parameters 'size', 'zone': they have no "
                              "default")


def test_unknown_parameter_passed():
    with pytest.raises(exception.StackValidationFailed) as err:
        bind({"a": {"type": "string", "default": ""}}, {"zzz": 1})
    assert str(err.value).startswith(
        "parameters.zzz: unknown parameter(s) 'zzz'")


def test_pseudo_parameters():
    vals = bind({}, stack_name="web", stack_id="id1", project_id="p1")
    assert vals["OS::stack_name"] == "web"
    assert vals["OS::stack_id"] == "id1"
    assert vals["OS::project_id"] == "p1"


def test_schema_attributes_and_hidden():
    t = tmpl({"parameters": {
        "pw": {"type": "string", "hidden": True, "label": "L",
               "description": "D", "immutable": True, "default": "s"},
        "n": {"type": "number"}}})
    s = t.parameter_schemas["pw"]
    assert (s.name, s.type, s.default, s.hidden, s.label, s.description,
            s.immutable) == ("pw", "string", "s", True, "L", "D", True)
    assert t.parameter_schemas["n"].default is None
    assert t.parameter_schemas["n"].hidden is False
    assert t.hidden_parameters == frozenset(["pw"])


def test_hidden_value_not_in_message():
    params = {"pw": {"type": "string", "hidden": True, "constraints": [
        {"allowed_pattern": "[a-z]+"}]}}
    with pytest.raises(exception.StackValidationFailed) as err:
        bind(params, {"pw": "SECRET1"})
    assert "SECRET1" not in str(err.value)
    assert str(err.value).startswith("parameters.pw: value does not match")


# (type, constraint, good value, bad value, default message)
CONSTRAINTS = [
    ("string", {"length": {"min": 2, "max": 3}}, "ab", "abcd",
     "length must be between 2 and 3 (is 4)"),
    ("string", {"length": {"min": 2}}, "ab",
     "a", "length must be at least 2 (is 1)"),
    ("comma_delimited_list", {"length": {"max": 1}}, "a", "a,b",
     "number of items must be at most 1 (is 2)"),
    ("json", {"length": {"max": 1}}, {"a": 1}, {"a": 1, "b": 2},
     "number of items must be at most 1 (is 2)"),
    ("number", {"range": {"min": 1, "max": 9}}, 9, 40,
     "value 40 must be between 1 and 9"),
    ("number", {"range": {"max": 9}}, -5, 10, "value 10 must be at most 9"),
    # The bounds are inclusive: the minimum itself is a good value.
    ("number", {"range": {"min": 1, "max": 9}}, 1, 0,
     "value 0 must be between 1 and 9"),
    ("number", {"range": {"min": 2}}, 2, 1.5, "value 1.5 must be at least 2"),
    ("number", {"allowed_values": [1, 2]}, "2", 3,
     "value 3 is not one of the allowed values 1, 2"),
    ("string", {"allowed_values": ["a", "b"]}, "b", "c",
     "value 'c' is not one of the allowed values 'a', 'b'"),
    ("comma_delimited_list", {"allowed_values": ["a", "b"]}, "a,b", "a,c",
     "value 'c' is not one of the allowed values 'a', 'b'"),
    ("boolean", {"allowed_values": [True]}, "yes", "no",
     "value False is not one of the allowed values True"),
    ("string", {"allowed_pattern": "[a-z]+"}, "abc", "abc1",
     "value 'abc1' does not match pattern [a-z]+"),
    ("number", {"modulo": {"step": 2, "offset": 1}}, 5, 4,
     "value 4 must be 1 modulo 2"),
    # Heat's Modulo: a negative step with a negative (or zero) offset
    ("number", {"modulo": {"step": -2, "offset": -1}}, 5, 4,
     "value 4 must be -1 modulo -2"),
    ("number", {"modulo": {"step": -3, "offset": 0}}, 6, 7,
     "value 7 must be 0 modulo -3"),
]


@pytest.mark.parametrize("ptype, constraint, good, bad, message", CONSTRAINTS)
def test_constraints(ptype, constraint, good, bad, message):
    params = {"p": {"type": ptype, "constraints": [constraint]}}
    bind(params, {"p": good})
    with pytest.raises(exception.StackValidationFailed) as err:
        bind(params, {"p": bad})
    assert str(err.value) == "parameters.p: " + message
    described = dict(constraint, description="Pick a better one.")
    params = {"p": {"type": ptype, "constraints": [described]}}
    with pytest.raises(exception.StackValidationFailed) as err:
        bind(params, {"p": bad})
    assert str(err.value) == "parameters.p: Pick a better one."


@pytest.fixture
def small_only():
    constraints.register_custom("test.small", lambda v: v == "small")
    yield
    constraints.unregister_custom("test.small")


def test_custom_constraint_calls_the_registered_check(small_only):
    params = {"p": {"type": "string", "constraints": [
        {"custom_constraint": "test.small"}]}}
    assert bind(params, {"p": "small"})["p"] == "small"
    with pytest.raises(exception.StackValidationFailed) as err:
        bind(params, {"p": "huge"})
    assert str(err.value) == 'parameters.p: "huge" does not validate test.small'


def test_custom_constraint_not_registered_is_refused():
    # Heat's CustomConstraint: a name nobody registered fails the value
    with pytest.raises(exception.StackValidationFailed) as err:
        bind({"p": {"type": "string", "constraints": [
            {"custom_constraint": "nova.flavor"}]}}, {"p": "x"})
    assert str(err.value) == ('parameters.p: "x" does not validate '
                              'nova.flavor (constraint not found)')


def test_custom_constraint_message_hides_a_hidden_value(small_only):
    with pytest.raises(exception.StackValidationFailed) as err:
        bind({"p": {"type": "string", "hidden": True, "constraints": [
            {"custom_constraint": "test.small"}]}}, {"p": "secret"})
    assert str(err.value) == "parameters.p: value does not validate test.small"


def test_default_must_satisfy_constraints():
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"parameters": {"p": {"type": "number", "default": 40,
                                   "constraints": [{"range": {"max": 9}}]}}})
    assert str(err.value) == "parameters.p.default: value 40 must be at most 9"


@pytest.mark.parametrize("schema, message", [
    ({"type": "strin"}, "parameters.p.type: unknown type 'strin'"),
    ({}, "parameters.p: missing type"),
    ("string", "parameters.p: a parameter must be a map"),
    ({"type": "string", "colour": 1}, "parameters.p: unknown key(s) colour"),
    ({"type": "string", "constraints": [{"range": {"min": 1}}]},
     "parameters.p.constraints[0]: range constraint is not valid for a "
     "string parameter"),
    ({"type": "number", "constraints": [{"range": {"min": 5, "max": 1}}]},
     "parameters.p.constraints[0].range: min is greater than max"),
    ({"type": "string", "constraints": [{"allowed_pattern": "("}]},
     "parameters.p.constraints[0].allowed_pattern: invalid regular"),
    ({"type": "string", "constraints": [{"bogus": 1}]},
     "parameters.p.constraints[0]: unknown constraint 'bogus'"),
    ({"type": "string", "constraints": [{"length": {"min": 1},
                                         "allowed_values": ["a"]}]},
     "parameters.p.constraints[0]: a constraint must have exactly one"),
    # Heat's AllowedValues and CustomConstraint have no map (json) type
    ({"type": "json", "constraints": [{"allowed_values": [{"a": 1}]}]},
     "parameters.p.constraints[0]: allowed_values constraint is not valid "
     "for a json parameter"),
    ({"type": "json", "constraints": [{"custom_constraint": "x.y"}]},
     "parameters.p.constraints[0]: custom_constraint constraint is not "
     "valid for a json parameter"),
    ({"type": "number", "constraints": [{"modulo": {"step": 0, "offset": 0}}]},
     "parameters.p.constraints[0].modulo: step must not be 0"),
    ({"type": "number", "constraints": [{"modulo": {"step": 2, "offset": 2}}]},
     "parameters.p.constraints[0].modulo: offset must be smaller than step "
     "(by absolute value)"),
    ({"type": "number", "constraints": [{"modulo": {"step": -2, "offset": 1}}]},
     "parameters.p.constraints[0].modulo: step and offset must be both "
     "positive or both negative"),
    ({"type": "number", "constraints": [{"modulo": {"step": 2}}]},
     "parameters.p.constraints[0].modulo: must be a map with step and offset"),
    ({"type": "string", "constraints": [{"allowed_values": []}]},
     "parameters.p.constraints[0].allowed_values: must be a non-empty list"),
])
def test_schema_errors(schema, message):
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"parameters": {"p": schema}})
    assert str(err.value).startswith(message)


def test_parameter_groups():
    params = {"a": {"type": "string", "default": ""}}
    tmpl({"parameters": params,
          "parameter_groups": [{"label": "g", "parameters": ["a"]}]})
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"parameters": params,
              "parameter_groups": [{"parameters": ["a", "b"]}]})
    assert str(err.value) == ("parameter_groups[0].parameters[1]: unknown "
                              "parameter 'b'")
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"parameters": params, "parameter_groups": [
            {"parameters": ["a"]}, {"parameters": ["a"]}]})
    assert "already in group 0" in str(err.value)


def test_get_param_of_unknown_parameter():
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"outputs": {"o": {"value": {"get_param": "nope"}}}})
    assert str(err.value) == "outputs.o.value.get_param: unknown parameter 'nope'"


def test_custom_constraint_checks_the_default_only_when_it_is_used():
    # Heat's Schema.validate skips custom constraints for the default; the
    # value in use (the default when none is given) is checked with them.
    t = tmpl({"parameters": {"p": {"type": "string", "default": "m1",
                                   "constraints": [
                                       {"custom_constraint": "nova.flavor"}]}}})
    with pytest.raises(exception.StackValidationFailed) as err:
        t.bind()
    assert str(err.value) == ('parameters.p: "m1" does not validate '
                              'nova.flavor (constraint not found)')


def test_immutable_changed_compares_typed_values():
    old = tmpl({"parameters": {
        "n": {"type": "number", "default": 1, "immutable": True},
        "m": {"type": "number", "default": 1}}}).parameter_schemas
    assert parameters.immutable_changed(old, {"n": "1"}, old,
                                        {"n": 1, "m": 2}) == []
    assert parameters.immutable_changed(old, {}, old, {"n": 2, "m": 1}) == ["n"]
    # immutable in the new template is what counts; a new name is free
    assert parameters.immutable_changed(
        {"m": old["m"]}, {}, old, {"n": 5, "m": 1}) == []
