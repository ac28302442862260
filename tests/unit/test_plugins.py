import json
import string

import pytest

from heatflow import exception, plugins, properties, resource
from heatflow.plugins import none, random_string, test_resource, value
from heatflow.plugins.none import NoneResource
from heatflow.plugins.random_string import RandomString
from heatflow.plugins.nested_stack import NestedStack
from heatflow.plugins.resource_chain import ResourceChain
from heatflow.plugins.resource_group import ResourceGroup
from heatflow.plugins.test_resource import TestResource
from heatflow.plugins.value import Value


def test_resource_mapping_has_every_builtin():
    assert plugins.resource_mapping() == {
        "OS::Heat::None": NoneResource,
        "OS::Heat::Value": Value,
        "OS::Heat::RandomString": RandomString,
        "OS::Heat::TestResource": TestResource,
        "OS::Heat::Stack": NestedStack,
        "OS::Heat::ResourceGroup": ResourceGroup,
        "OS::Heat::ResourceChain": ResourceChain,
    }
    for module in (none, value, random_string, test_resource):
        assert set(module.resource_mapping()) <= set(
            plugins.resource_mapping())


def invalid(cls, props, name="web"):
    """The validation error for building ``cls`` with ``props`` (schema
    checks) or for its validate() (plugin checks)."""
    with pytest.raises(exception.StackValidationFailed) as info:
        cls.for_test(name, props).validate()
    return str(info.value)


class TestNone:
    def test_lifecycle(self):
        res = NoneResource.for_test(
            "off", {"image": "x", "nested": {"a": [1]}})
        assert res.properties["image"] == "x"
        assert res.handle_create() is None
        first = res.resource_id
        assert first and first == res.get_reference_id()
        assert res.get_attribute("anything") is None
        assert res.get_attribute("show") is None
        # any change updates in place: never a replacement
        assert res.handle_update(None, {}, {"image": "y", "new": 1}) is None
        assert res.resource_id == first
        assert not res.needs_replace_with_prop_diff({"image"}, None, None)
        assert res.handle_delete() is None

    def test_ids_unique(self):
        a, b = NoneResource.for_test("a"), NoneResource.for_test("b")
        a.handle_create(), b.handle_create()
        assert a.resource_id != b.resource_id

    def test_no_changes_are_forbidden(self):
        assert properties.update_forbidden(NoneResource.properties_schema,
                                           ["image"]) == []


class TestValue:
    def test_lifecycle(self):
        res = Value.for_test("v", {"value": {"a": [1, 2]}})
        res.validate()
        res.handle_create()
        assert res.resource_id
        assert res.get_attribute("value") == {"a": [1, 2]}
        # updates never replace
        assert res.handle_update(None, {}, {"value": "new"}) is None
        assert Value.for_test("v", {"value": "new"}).get_attribute("value") \
            == "new"
        assert properties.update_forbidden(Value.properties_schema,
                                           ["value", "type"]) == []
        assert res.handle_delete() is None

    @pytest.mark.parametrize("type_,given,expected", [
        ("string", 5, "5"),
        ("number", "2.5", 2.5),
        ("number", "3", 3),
        ("boolean", "true", True),
        ("comma_delimited_list", "a,b", ["a", "b"]),
        ("comma_delimited_list", ["a"], ["a"]),
        ("json", '{"k": [1]}', {"k": [1]}),
        ("json", [1, 2], [1, 2]),
        (None, [1, "x"], [1, "x"]),
    ])
    def test_type_converts(self, type_, given, expected):
        props = {"value": given}
        if type_:
            props["type"] = type_
        res = Value.for_test("v", props)
        res.validate()
        assert res.get_attribute("value") == expected

    @pytest.mark.parametrize("props,text", [
        ({"value": "abc", "type": "number"},
         'resources.v.properties.value: "abc" is not a number'),
        ({"value": "{", "type": "json"},
         "resources.v.properties.value: value is not valid JSON"),
        ({"value": 5, "type": "json"},
         "resources.v.properties.value: 5 is not a JSON map or list"),
        ({"value": "x", "type": "float"},
         'resources.v.properties.type: "float" is not an allowed value'),
        ({}, "resources.v.properties.value: property is required"),
    ])
    def test_invalid(self, props, text):
        assert invalid(Value, props, "v").startswith(text)

    def test_deferred_value_validates(self):
        Value.for_test("v", {"value": properties.DEFERRED,
                             "type": "number"}).validate()


class TestRandomString:
    def test_default(self):
        res = RandomString.for_test("pw", {})
        res.validate()
        assert res.get_reference_id() == "pw"       # nothing created yet
        res.handle_create()
        text = res.get_attribute("value")
        assert len(text) == 32
        assert set(text) <= set(string.ascii_letters + string.digits)
        assert res.get_reference_id() == text
        assert res.data()["value"] == text

    def test_value_stored_redacted(self):
        res = RandomString.for_test("pw", {"length": 8})
        calls = []
        real = res.data_set

        def data_set(key, value, redact=False):
            calls.append((key, redact))
            real(key, value, redact=redact)
        res.data_set = data_set
        res.handle_create()
        assert calls == [("value", True)]

    def test_strings_differ(self):
        values = set()
        for _ in range(5):
            res = RandomString.for_test("pw", {})
            res.handle_create()
            values.add(res.get_attribute("value"))
        assert len(values) == 5

    def test_deprecated_sequence(self):
        res = RandomString.for_test("pw", {"length": 50, "sequence": "digits"})
        res.validate()
        res.handle_create()
        assert res.get_attribute("value").isdigit()

    @pytest.mark.parametrize("attempt", range(20))
    def test_minimums_satisfied(self, attempt):
        res = RandomString.for_test("pw", {
            "length": 12,
            "character_classes": [{"class": "uppercase", "min": 3},
                                  {"class": "digits", "min": 2}],
            "character_sequences": [{"sequence": "!@", "min": 4}],
        })
        res.validate()
        res.handle_create()
        text = res.get_attribute("value")
        assert len(text) == 12
        assert sum(c.isupper() for c in text) >= 3
        assert sum(c.isdigit() for c in text) >= 2
        assert sum(c in "!@" for c in text) >= 4
        assert set(text) <= set(string.ascii_uppercase + string.digits + "!@")

    def test_deprecated_sequence_with_classes_adds_a_class(self):
        # Heat's translation: the sequence is one more class, minimum 1.
        res = RandomString.for_test("pw", {
            "length": 8, "sequence": "digits",
            "character_classes": [{"class": "lowercase", "min": 7}]})
        assert "sequence" not in res.properties.data
        res.validate()
        res.handle_create()
        text = res.get_attribute("value")
        assert sum(c.isdigit() for c in text) >= 1
        assert sum(c.islower() for c in text) >= 7

    def test_class_defaults(self):
        res = RandomString.for_test("pw", {"character_classes": [{}]})
        assert res.properties["character_classes"] == [
            {"class": "lettersdigits", "min": 1}]

    @pytest.mark.parametrize("props,text", [
        ({"length": 0}, "resources.pw.properties.length: "
         "value 0 is out of range 1..512"),
        ({"length": 513}, "resources.pw.properties.length: "
         "value 513 is out of range 1..512"),
        ({"length": 4, "character_classes": [{"min": 3}, {"min": 2}]},
         "resources.pw.properties.length: length 4 is smaller than the "
         "combined character class and character sequence minimums (5)"),
        ({"length": 2, "character_sequences": [{"sequence": "ab", "min": 3}]},
         "resources.pw.properties.length: length 2 is smaller"),
        # Translated first (Heat's order): the deprecated sequence is
        # checked as the character class it becomes.
        ({"sequence": "emoji"}, "resources.pw.properties.character_classes"
         '[0].class: "emoji" is not an allowed value'),
        ({"length": 1, "sequence": "digits", "character_classes": [{}]},
         "resources.pw.properties.length: length 1 is smaller than the "
         "combined character class and character sequence minimums (2)"),
        ({"character_classes": [{"class": "emoji"}]},
         "resources.pw.properties.character_classes[0].class: "),
        ({"character_sequences": [{"min": 1}]},
         "resources.pw.properties.character_sequences[0].sequence: "
         "property is required"),
        ({"character_sequences": [{"sequence": ""}]},
         "resources.pw.properties.character_sequences[0].sequence: length 0"),
    ])
    def test_invalid(self, props, text):
        assert invalid(RandomString, props, "pw").startswith(text)

    def test_deferred_length_skips_minimum_check(self):
        RandomString.for_test("pw", {
            "length": properties.DEFERRED,
            "character_classes": [{"min": 40}]}).validate()

    def test_any_change_replaces(self):
        res = RandomString.for_test("pw", {"salt": "1"})
        res.handle_create()
        with pytest.raises(exception.UpdateReplace):
            res.handle_update(None, {}, {"salt": "2"})
        assert properties.update_forbidden(
            RandomString.properties_schema, ["salt", "length"]) == \
            ["length", "salt"]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(test_resource, "_clock", c)
    return c


def poll(check, token, clock, seconds):
    """Advance ``clock`` one second at a time; the number of polls that
    said "not yet" (False, or resource.PollDelay) before True (None if
    never True within ``seconds``)."""
    for waited in range(seconds + 1):
        try:
            if check(token):
                return waited
        except resource.PollDelay:
            pass
        clock.now += 1
    return None


class TestTestResource:
    def test_schema_matches_heat(self):
        schema = TestResource.properties_schema
        assert set(schema) == {
            "value", "update_replace_value", "fail", "update_replace",
            "wait_secs", "action_wait_secs", "attr_wait_secs",
            "constraint_prop_secs", "client_name", "entity_name"}
        assert properties.update_forbidden(schema, list(schema)) == \
            ["update_replace_value"]
        assert set(TestResource.attributes_schema) == {"output"}

    def test_lifecycle(self, clock):
        res = TestResource.for_test("web", {"value": "one", "wait_secs": 3})
        token = res.handle_create()
        json.dumps(token)                    # persistable
        assert poll(res.check_create_complete, token, clock, 10) == 3
        assert res.get_attribute("output") == "one"
        assert res.get_reference_id() == res.resource_id
        assert res.resource_id.startswith("test-web-")

        token = res.handle_update(None, {}, {"value": "two"})
        assert poll(res.check_update_complete, token, clock, 10) == 3
        assert res.get_attribute("output") == "two"

        token = res.handle_delete()
        assert poll(res.check_delete_complete, token, clock, 10) == 3

    def test_no_wait_by_default(self, clock):
        res = TestResource.for_test("web", {})
        assert res.check_create_complete(res.handle_create())
        assert res.get_attribute("output") == "test_string"

    def test_action_wait_secs_override(self, clock):
        res = TestResource.for_test("web", {
            "wait_secs": 5, "action_wait_secs": {"create": 1, "delete": 2}})
        assert poll(res.check_create_complete,
                    res.handle_create(), clock, 9) == 1
        token = res.handle_update(None, {}, {"value": "x"})
        assert poll(res.check_update_complete, token, clock, 9) == 5
        assert poll(res.check_delete_complete,
                    res.handle_delete(), clock, 9) == 2

    def test_infinite_wait(self, clock):
        res = TestResource.for_test("web", {"wait_secs": -1})
        assert poll(res.check_create_complete, res.handle_create(), clock,
                    100) is None

    def test_handle_create_does_not_block(self, monkeypatch, clock):
        monkeypatch.setattr(test_resource.time, "sleep",
                            lambda s: pytest.fail("slept %s" % s))
        res = TestResource.for_test("web", {"wait_secs": 3600})
        with pytest.raises(resource.PollDelay):
            res.check_create_complete(res.handle_create())

    def test_it_asks_to_be_polled_when_its_wait_ends(self, clock):
        """Its wait is known: the engine need not guess with its back-off
        (a worker polling a timer at 10 ms would be a rate-limit incident
        against a cloud API)."""
        res = TestResource.for_test("web", {"wait_secs": 30})
        token = res.handle_create()
        clock.now += 12.5
        with pytest.raises(resource.PollDelay) as info:
            res.check_create_complete(token)
        assert info.value.period == pytest.approx(17.5)
        clock.now += 17.5
        assert res.check_create_complete(token) is True

    def test_an_infinite_wait_leaves_the_polling_to_the_engine(self, clock):
        res = TestResource.for_test("web", {"wait_secs": -1})
        assert res.check_create_complete(res.handle_create()) is False

    def test_fail_create(self, clock):
        res = TestResource.for_test("web", {"fail": True, "wait_secs": 2})
        token = res.handle_create()
        assert res.resource_id is None and "value" not in res.data()
        with pytest.raises(resource.PollDelay):
            res.check_create_complete(token)
        clock.now += 3
        with pytest.raises(ValueError) as info:
            res.check_create_complete(token)
        assert str(info.value) == "Test Resource failed web"

    def test_fail_update_keeps_old_value(self, clock):
        res = TestResource.for_test("web", {"value": "one"})
        res.check_create_complete(res.handle_create())
        token = res.handle_update(None, {}, {"value": "two", "fail": True})
        with pytest.raises(ValueError, match="Test Resource failed web"):
            res.check_update_complete(token)
        assert res.get_attribute("output") == "one"

    def test_fail_update_without_value_change(self, clock):
        res = TestResource.for_test("web", {})
        token = res.handle_update(None, {}, {"fail": True})
        with pytest.raises(ValueError, match="Test Resource failed web"):
            res.check_update_complete(token)

    def test_delete_ignores_fail(self, clock):
        res = TestResource.for_test("web", {"fail": True})
        assert res.check_delete_complete(res.handle_delete()) is True

    def test_update_replace(self, clock):
        res = TestResource.for_test("web", {"value": "one"})
        res.check_create_complete(res.handle_create())
        with pytest.raises(exception.UpdateReplace):
            res.handle_update(None, {}, {"value": "two",
                                         "update_replace": True})
        after = TestResource.for_test("web", {"value": "two",
                                              "update_replace": True})
        assert res.needs_replace_with_prop_diff({"value"}, after.properties,
                                                res.properties) is True
        assert res.needs_replace_with_prop_diff(
            {"value"}, res.properties, res.properties) is False
        assert res.get_attribute("output") == "one"

    def test_update_with_removed_property_uses_default(self, clock):
        res = TestResource.for_test("web", {"value": "one"})
        res.check_create_complete(res.handle_create())
        token = res.handle_update(None, {}, {"value": None})
        assert res.check_update_complete(token)
        assert res.get_attribute("output") == "test_string"

    def test_attr_wait_secs_sleeps(self, monkeypatch):
        slept = []
        monkeypatch.setattr(test_resource.time, "sleep", slept.append)
        res = TestResource.for_test("web", {"attr_wait_secs": 0.5})
        res.get_attribute("output")
        assert slept == [0.5]

    def test_constraint_prop_secs_delays_validation(self, monkeypatch):
        slept = []
        monkeypatch.setattr(test_resource.time, "sleep", slept.append)
        TestResource.for_test("web", {"constraint_prop_secs": 0.25})
        assert slept == [0.25]

    def test_types_checked(self):
        assert invalid(TestResource, {"wait_secs": "soon"}) == \
            'resources.web.properties.wait_secs: "soon" is not a number'
        assert invalid(TestResource, {"action_wait_secs": {"craete": 1}}) == \
            "resources.web.properties.action_wait_secs.craete: unknown property"
