import pytest

from heatflow import constraints as c
from heatflow import exception


def error(constraint, value):
    with pytest.raises(ValueError) as info:
        constraint.validate(value)
    return str(info.value)


class TestRange:
    def test_inside_bounds_passes(self):
        for v in (1, 5, 9, "3", 1.0, 9.0):
            assert c.Range(1, 9).validate(v) is None

    def test_out_of_range_default_text(self):
        assert error(c.Range(1, 9), 40) == "value 40 is out of range 1..9"
        assert error(c.Range(1, 9), 0) == "value 0 is out of range 1..9"

    def test_only_min(self):
        assert error(c.Range(min=1), 0) == "value 0 is less than the minimum 1"
        c.Range(min=1).validate(10 ** 9)

    def test_only_max(self):
        assert error(c.Range(max=3), 5) == \
            "value 5 is greater than the maximum 3"
        c.Range(max=3).validate(-100)

    def test_description_replaces_default_text(self):
        assert error(c.Range(1, 9, "pick 1 to 9"), 40) == "pick 1 to 9"

    def test_non_numbers_rejected(self):
        assert "not a number" in error(c.Range(1, 9), "abc")
        assert "not a number" in error(c.Range(0, 9), True)

    def test_float_bounds(self):
        c.Range(0.5, 1.5).validate(1.2)
        assert error(c.Range(0.5, 1.5),
                     2) == "value 2 is out of range 0.5..1.5"

    def test_needs_a_bound(self):
        with pytest.raises(ValueError):
            c.Range()


class TestLength:
    @pytest.mark.parametrize("value", ["ab", [1, 2, 3], {"a": 1, "b": 2}])
    def test_sized_values_within(self, value):
        c.Length(2, 3).validate(value)

    def test_too_short_and_too_long(self):
        assert error(c.Length(2, 3), "a") == "length 1 is out of range 2..3"
        assert error(c.Length(max=1), [1, 2]) == \
            "length 2 is greater than the maximum 1"
        assert error(c.Length(min=1), {}
                     ) == "length 0 is less than the minimum 1"

    def test_unsized_rejected(self):
        assert "has no length" in error(c.Length(1, 2), 5)

    def test_description(self):
        assert error(c.Length(2, description="too short"), "") == "too short"


class TestAllowedValues:
    def test_allowed(self):
        c.AllowedValues(["a", "b"]).validate("a")

    def test_rejected_text(self):
        assert error(c.AllowedValues(["a", "b"]), "c") == \
            '"c" is not an allowed value ["a", "b"]'

    def test_numbers_match_their_text(self):
        # Parameters carry numbers as text; templates list them as numbers.
        c.AllowedValues([1, 2]).validate("2")
        c.AllowedValues(["1", "2"]).validate(2)
        assert error(c.AllowedValues([1, 2]), 3).startswith("3 is not")

    def test_must_be_a_list(self):
        with pytest.raises(ValueError):
            c.AllowedValues("abc")

    def test_a_list_value_checks_each_item(self):
        # Heat's rule: OS::Heat::Delay's actions: [CREATE, DELETE].
        allowed = c.AllowedValues(["CREATE", "DELETE", "SUSPEND"])
        allowed.validate(["CREATE", "DELETE"])
        allowed.validate([])
        assert error(allowed, ["CREATE", "ADOPT"]) == \
            '"ADOPT" is not an allowed value ["CREATE", "DELETE", "SUSPEND"]'


class TestAllowedPattern:
    def test_whole_string_must_match(self):
        p = c.AllowedPattern("[a-z]+")
        p.validate("abc")
        assert error(p, "abc1") == '"abc1" does not match pattern "[a-z]+"'
        assert error(p, "1abc")

    def test_not_a_string(self):
        assert "not a string" in error(c.AllowedPattern(".*"), 5)

    def test_bad_regex(self):
        with pytest.raises(ValueError):
            c.AllowedPattern("[")


class TestModulo:
    def test_ok_and_rejected(self):
        m = c.Modulo(2, 1)
        m.validate(3)
        m.validate("5")
        assert error(
            m, 4) == "value 4 is not a multiple of 2 with an offset of 1"

    @pytest.mark.parametrize("step,offset", [(0, 0), (2, 2), (2, -1), (None, 1)])
    def test_bad_definitions(self, step, offset):
        with pytest.raises(ValueError):
            c.Modulo(step, offset)


class TestCustom:
    def teardown_method(self):
        c.unregister_custom("test.even")

    def test_unregistered_accepts_anything(self):
        c.CustomConstraint("nova.flavor").validate("m1.whatever")

    def test_registered_false_rejects(self):
        c.register_custom("test.even", lambda v: v % 2 == 0)
        c.CustomConstraint("test.even").validate(4)
        assert error(c.CustomConstraint("test.even"), 3) == \
            '"3" does not validate test.even'
        assert error(c.CustomConstraint("test.even", "need even"), 3) == \
            "need even"

    def test_registered_value_error_message_used(self):
        def check(v):
            raise ValueError("flavor %s not found" % v)
        c.register_custom("test.even", check)
        assert error(c.CustomConstraint("test.even"),
                     "x") == "flavor x not found"


class TestFromHot:
    PATH = ["parameters", "size", "constraints", 0]

    @pytest.mark.parametrize("entry,cls", [
        ({"range": {"min": 1, "max": 9}}, c.Range),
        ({"length": {"min": 1}}, c.Length),
        ({"allowed_values": ["a"]}, c.AllowedValues),
        ({"allowed_pattern": "[a-z]*"}, c.AllowedPattern),
        ({"modulo": {"step": 2, "offset": 1}}, c.Modulo),
        ({"custom_constraint": "nova.flavor"}, c.CustomConstraint),
    ])
    def test_builds_each_kind(self, entry, cls):
        assert type(c.from_hot(entry, self.PATH)) is cls

    def test_description_carried(self):
        con = c.from_hot({"range": {"min": 1, "max": 9}, "description": "1-9"})
        assert con == c.Range(1, 9, "1-9")
        assert error(con, 10) == "1-9"

    @pytest.mark.parametrize("entry,where,text", [
        ("range", "parameters.size.constraints[0]", "must be a mapping"),
        ({}, "parameters.size.constraints[0]", "no type"),
        ({"rang": {}}, "parameters.size.constraints[0]", "unknown constraint"),
        ({"range": {"min": 1}, "length": {"min": 1}},
         "parameters.size.constraints[0]", "exactly one"),
        ({"range": {"min": "a"}}, "parameters.size.constraints[0].range.min",
         "must be a number"),
        ({"range": {}},
         "parameters.size.constraints[0].range", "min or a max"),
        ({"range": {"low": 1}}, "parameters.size.constraints[0].range",
         "unknown range key low"),
        ({"length": [1, 2]}, "parameters.size.constraints[0].length",
         "must be a mapping"),
        ({"allowed_values": "a"}, "parameters.size.constraints[0].allowed_values",
         "must be a list"),
        ({"allowed_pattern": "["}, "parameters.size.constraints[0]"
         ".allowed_pattern", "invalid allowed_pattern"),
        ({"modulo": {"step": 2}}, "parameters.size.constraints[0].modulo",
         "step and offset"),
        ({"custom_constraint": 5}, "parameters.size.constraints[0]"
         ".custom_constraint", "must be a name"),
        ({"range": {"min": 1}, "description": 5},
         "parameters.size.constraints[0].description", "must be a string"),
    ])
    def test_malformed(self, entry, where, text):
        with pytest.raises(exception.StackValidationFailed) as info:
            c.from_hot(entry, self.PATH)
        assert info.value.path == where
        assert text in info.value.message
