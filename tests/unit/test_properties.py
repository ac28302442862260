import copy
import pickle

import pytest

from heatflow import constraints, exception, properties
from heatflow.properties import DEFERRED, PendingRef, Properties, Schema

PATH = ("resources", "web", "properties")

SCHEMA = {
    "size": Schema(Schema.INTEGER, "Size.", required=True,
                   constraints=[constraints.Range(1, 9)]),
    "name": Schema(Schema.STRING, default="web"),
    "ratio": Schema(Schema.NUMBER),
    "enabled": Schema(Schema.BOOLEAN, default=False),
    "tags": Schema(Schema.LIST),
    "meta": Schema(Schema.MAP),
    "anything": Schema(Schema.ANY),
    "ports": Schema(Schema.LIST, schema=Schema(Schema.MAP, schema={
        "name": Schema(Schema.STRING, required=True),
        "number": Schema(Schema.INTEGER, default=80,
                         constraints=[constraints.Range(1, 65535)]),
    })),
}


def failure(data, schema=SCHEMA, strict=True):
    with pytest.raises(exception.StackValidationFailed) as info:
        Properties(schema, data, path=PATH, strict=strict).validate()
    return str(info.value)


def props(data, schema=SCHEMA, strict=True):
    p = Properties(schema, data, path=PATH, strict=strict)
    p.validate()
    return p


class TestValidate:
    def test_constraint_violation_names_the_path(self):
        assert failure({"size": 40}) == \
            "resources.web.properties.size: value 40 is out of range 1..9"

    def test_range_bounds_are_inclusive(self):
        assert props({"size": 1})["size"] == 1
        assert props({"size": 9})["size"] == 9
        assert failure({"size": 0}) == \
            "resources.web.properties.size: value 0 is out of range 1..9"

    def test_unknown_property(self):
        assert failure({"size": 1, "sizee": 2}) == \
            "resources.web.properties.sizee: unknown property"

    def test_unknown_property_accepted_when_not_strict(self):
        p = props({"size": 1, "sizee": 2}, strict=False)
        assert p["sizee"] == 2
        assert "sizee" in p and "sizee" in list(p)

    def test_required(self):
        assert failure(
            {}) == "resources.web.properties.size: property is required"
        # Heat: an explicit null is the type's empty value (0), which is
        # then checked like any other value
        assert failure({"size": None}) == \
            "resources.web.properties.size: value 0 is out of range 1..9"

    @pytest.mark.parametrize("key,value,text", [
        ("size", "abc", '"abc" is not an integer'),
        ("size", 2.5, "2.5 is not an integer"),
        ("size", "2.5", '"2.5" is not an integer'),
        ("size", True, "true is not an integer"),
        ("ratio", "x", '"x" is not a number'),
        ("ratio", [1], "[1] is not a number"),
        ("enabled", "yes", '"yes" is not a valid boolean'),
        ("enabled", 1, "1 is not a valid boolean"),
        ("name", 1.5, "1.5 is not a string"),
        ("name", {"a": 1}, '{"a": 1} is not a string'),
        ("tags", "a,b", '"a,b" is not a list'),
        ("tags", {"a": 1}, '{"a": 1} is not a list'),
        ("meta", [1], "[1] is not a map"),
    ])
    def test_type_errors(self, key, value, text):
        data = {"size": 1, key: value}
        assert failure(data) == "resources.web.properties.%s: %s" % (key, text)

    def test_nested_paths(self):
        assert failure({"size": 1, "ports": [{}]}) == \
            "resources.web.properties.ports[0].name: property is required"
        assert failure({"size": 1, "ports": [{"name": "a"},
                                             {"name": "b", "number": 0}]}) == \
            "resources.web.properties.ports[1].number: " \
            "value 0 is out of range 1..65535"
        assert failure({"size": 1, "ports": [{"name": "a", "nmber": 1}]}) == \
            "resources.web.properties.ports[0].nmber: unknown property"
        assert failure({"size": 1, "ports": ["a"]}) == \
            'resources.web.properties.ports[0]: "a" is not a map'

    def test_not_a_map(self):
        assert failure(["x"]).startswith(
            "resources.web.properties: properties must be a map")

    def test_not_implemented(self):
        schema = {"old": Schema(Schema.STRING, implemented=False)}
        assert failure({"old": "x"}, schema) == \
            "resources.web.properties.old: property is not implemented yet"
        props({}, schema)

    def test_bad_default_is_reported(self):
        schema = {"n": Schema(Schema.INTEGER, default=0,
                              constraints=[constraints.Range(1, 2)])}
        assert failure({}, schema) == \
            "resources.web.properties.n: value 0 is out of range 1..2"

    def test_custom_constraint_via_registry(self):
        constraints.register_custom("test.flavor", lambda v: v == "small")
        try:
            schema = {"f": Schema(Schema.STRING, constraints=[
                constraints.CustomConstraint("test.flavor")])}
            props({"f": "small"}, schema)
            assert failure({"f": "big"}, schema) == \
                'resources.web.properties.f: "big" does not validate test.flavor'
        finally:
            constraints.unregister_custom("test.flavor")


class TestConversion:
    def test_values_converted_and_defaults_applied(self):
        p = props({"size": "3", "ratio": "0.5", "enabled": "TRUE",
                   "ports": [{"name": 7}]})
        assert p["size"] == 3
        assert p["ratio"] == 0.5
        assert p["enabled"] is True
        assert p["name"] == "web"
        assert p["ports"] == [{"name": "7", "number": 80}]

    def test_missing_optional_is_none(self):
        p = props({"size": 1})
        assert p["tags"] is None and p["meta"] is None and p["anything"] is None

    def test_explicit_null_is_the_default_or_the_empty_value(self):
        # Heat's Property.get_value(None): the default, else '', 0, False,
        # [] or {} -- a required string given null is '' (not refused)
        schema = dict(SCHEMA, label=Schema(Schema.STRING, required=True))
        p = props({"size": 1, "label": None, "name": None, "ratio": None,
                   "enabled": None, "tags": None, "meta": None,
                   "anything": None, "ports": [{"name": None}]}, schema)
        assert dict(p) == {"size": 1, "label": "", "name": "web", "ratio": 0,
                           "enabled": False, "tags": [], "meta": {},
                           "anything": None,
                           "ports": [{"name": "", "number": 80}]}

    def test_string_takes_ints_and_bools_like_heat(self):
        p = props({"size": 1, "name": 80})
        assert p["name"] == "80"
        assert props({"size": 1, "name": False})["name"] == "False"

    def test_number_keeps_ints(self):
        p = props({"size": 1, "ratio": "4"})
        assert p["ratio"] == 4 and isinstance(p["ratio"], int)

    def test_integral_float_is_integer(self):
        assert props({"size": 3.0})["size"] == 3

    def test_any_passes_through(self):
        assert props({"size": 1, "anything": [{"x": 1}]})["anything"] == \
            [{"x": 1}]

    def test_list_conversion_from_text(self):
        schema = {"l": Schema(Schema.LIST, allow_conversion=True)}
        assert props({"l": "a, b,c"}, schema)["l"] == ["a", "b", "c"]
        assert props({"l": ""}, schema)["l"] == []

    def test_list_schema_star_form_equivalent(self):
        item = Schema(Schema.INTEGER)
        a = Schema(Schema.LIST, schema=item)
        b = Schema(Schema.LIST, schema={"*": item})
        assert a.schema["*"] is item and b.schema[5] is item
        assert props({"l": ["1", 2]}, {"l": b})["l"] == [1, 2]

    def test_mapping_interface(self):
        p = props({"size": 2})
        assert set(p) == set(SCHEMA)
        assert len(p) == len(SCHEMA)
        assert p.data == {"size": 2}
        assert p.get("size") == 2
        with pytest.raises(KeyError):
            p["nope"]

    def test_getitem_raises_on_bad_type(self):
        p = Properties(SCHEMA, {"size": "abc"}, path=PATH)
        with pytest.raises(exception.StackValidationFailed):
            p["size"]


class TestDeferred:
    def test_skips_type_and_constraints(self):
        # Read as Heat's validation reads a get_attr: null, so the
        # default or the type's empty value (0 is outside 1..9: unchecked).
        p = props({"size": DEFERRED, "enabled": DEFERRED,
                   "anything": DEFERRED, "name": DEFERRED})
        assert (p["size"], p["enabled"], p["anything"], p["name"]) == \
            (0, False, None, "web")
        assert not p.known("size") and p.known("ratio")

    def test_a_pending_reference_reads_as_the_resource_name(self):
        # Heat's validation gives a get_resource the resource's name, and
        # checks nothing of it.
        ref = PendingRef("net")
        p = props({"size": ref, "name": ref, "anything": ref,
                   "tags": [ref], "ports": [{"name": ref}]},
                  schema=dict(SCHEMA, name=Schema(
                      Schema.STRING, constraints=[
                          constraints.AllowedPattern("[0-9]+")])))
        assert (p["size"], p["name"], p["anything"], p["tags"]) == \
            (0, "net", "net", ["net"])
        assert p["ports"] == [{"name": "net", "number": 80}]
        assert not p.known("tags") and not p.known("ports")

    def test_inside_lists_and_maps(self):
        p = props({"size": 1, "ports": [{"name": DEFERRED, "number": DEFERRED}],
                   "tags": [DEFERRED]})
        assert p["ports"] == [{"name": "", "number": 80}]
        assert p["tags"] == [None]
        # ... but siblings are still checked
        assert failure({"size": 1, "ports": [{"name": DEFERRED,
                                              "number": "x"}]}) == \
            'resources.web.properties.ports[0].number: "x" is not an integer'

    def test_whole_property_map_deferred(self):
        Properties(SCHEMA, DEFERRED, path=PATH).validate()

    def test_singleton_survives_copy_and_pickle(self):
        assert copy.deepcopy([DEFERRED])[0] is DEFERRED
        assert pickle.loads(pickle.dumps({"a": DEFERRED}))["a"] is DEFERRED
        assert repr(DEFERRED) == "DEFERRED"


class TestSchema:
    def test_attributes(self):
        s = Schema(Schema.STRING, "d", default="x", required=True,
                   update_allowed=True, immutable=True, support_status="s")
        assert (s.type, s.description, s.default, s.required,
                s.update_allowed, s.immutable, s.support_status,
                s.constraints, s.implemented) == \
            ("String", "d", "x", True, True, True, "s", [], True)

    @pytest.mark.parametrize("args,kwargs", [
        (("Strin",), {}),
        ((Schema.STRING,), {"schema": {"a": Schema(Schema.STRING)}}),
        ((Schema.LIST,), {"schema": {"a": Schema(Schema.STRING)}}),
        ((Schema.MAP,), {"schema": Schema(Schema.STRING)}),
    ])
    def test_bad_schemas_are_plugin_errors(self, args, kwargs):
        with pytest.raises(exception.PluginError):
            Schema(*args, **kwargs)


class TestDiff:
    def test_changed_added_removed(self):
        assert properties.diff({"a": 1, "b": 2, "c": 3},
                               {"a": 1, "b": 5, "d": 4}) == \
            {"b": 5, "c": None, "d": 4}

    def test_null_equals_absent(self):
        assert properties.diff({"a": None}, {}) == {}
        assert properties.diff(None, {"a": 1}) == {"a": 1}

    def test_nested_change_detected(self):
        assert properties.diff({"m": {"x": [1]}}, {"m": {"x": [2]}}) == \
            {"m": {"x": [2]}}

    def test_update_forbidden_and_immutable(self):
        schema = {"a": Schema(Schema.STRING, update_allowed=True),
                  "b": Schema(Schema.STRING),
                  "c": Schema(Schema.STRING, immutable=True)}
        assert properties.update_forbidden(schema, ["a", "b", "c", "zz"]) == \
            ["b", "c"]
        assert properties.immutable_changed(schema, ["a", "c"]) == ["c"]
