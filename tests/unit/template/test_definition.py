"""Resources, outputs, conditions, dependencies, cycles and validation."""

import sys
import types

import pytest

from heatflow import exception
from heatflow.template import (OutputDefinition, ResourceDefinition,
                               StackDefinition, Template, topological_order)

from .helpers import tmpl


def res(**kw):
    d = {"type": "T"}
    d.update(kw)
    return d


def test_resource_fields():
    d = tmpl({"resources": {"web": res(
        description="d", deletion_policy="Retain",
        update_policy={"pause": 1}, depends_on="db", timeout=30, retries=2,
        metadata={"m": {"get_resource": "db"}},
        properties={"p": 1}), "db": res()}}).bind()
    assert isinstance(d, StackDefinition)
    web = d.resources["web"]
    assert isinstance(web, ResourceDefinition)
    assert (web.name, web.type, web.description, web.deletion_policy,
            web.update_policy, web.timeout, web.retries, web.depends_on) == (
        "web", "T", "d", "Retain", {"pause": 1}, 30.0, 2, ["db"])
    assert web.condition is None
    assert d.resources["db"].timeout is None
    assert d.resources["db"].retries == 0
    assert d.resources["db"].deletion_policy == "Delete"
    assert web.resolve_metadata({"db": "X"}, None) == {"m": "X"}
    assert web.resolve_properties({}, None) == {"p": 1}
    assert d.resources["db"].resolve_properties({}, None) == {}
    assert web.to_dict()["depends_on"] == "db"
    assert list(d.resources) == ["web", "db"]


def test_resources_keep_template_order():
    names = ["z", "a", "m", "b"]
    d = tmpl({"resources": {n: res() for n in names}}).bind()
    assert list(d.resources) == names


@pytest.mark.parametrize("snippet, message", [
    ("T", "resources.web: a resource must be a map with a type, got a string"),
    ({}, "resources.web: missing type"),
    ({"type": 5}, "resources.web.type: must be a non-empty string"),
    ({"type": "T", "propertis": {}}, "resources.web: unknown key(s) 'propertis'"),
    (res(properties=[1]),
     "resources.web.properties: must be a map, got a list"),
    (res(metadata="x"), "resources.web.metadata: must be a map"),
    (res(depends_on=5), "resources.web.depends_on: must be a resource name"),
    (res(depends_on=["a", 5]), "resources.web.depends_on: must be a resource"),
    (res(deletion_policy="Keep"),
     "resources.web.deletion_policy: invalid deletion policy 'Keep'"),
    (res(external_id="x"),
     "resources.web.external_id: external_id is not supported by heatflow"),
    (res(timeout=0), "resources.web.timeout: must be a positive number"),
    (res(timeout="5"), "resources.web.timeout: must be a positive number"),
    (res(retries=-1), "resources.web.retries: must be a non-negative integer"),
    (res(retries=1.5), "resources.web.retries: must be a non-negative integer"),
    (res(depends_on="db"), "resources.web.depends_on: unknown resource 'db'"),
    (res(properties={"a": {"get_resource": "db"}}),
     "resources.web.properties.a.get_resource: unknown resource 'db'"),
    (res(metadata={"a": [{"get_attr": ["db", "x"]}]}),
     "resources.web.metadata.a[0].get_attr: unknown resource 'db'"),
    (res(condition="nope"), "resources.web.condition: unknown condition 'nope'"),
])
def test_resource_errors(snippet, message):
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"resources": {"web": snippet}}).bind()
    assert str(err.value).startswith(message)


def test_outputs():
    d = tmpl({"resources": {"a": res()}, "outputs": {
        "url": {"value": {"get_attr": ["a", "url"]}, "description": "U"},
        "plain": {"value": 5},
        "bad": {"value": {"get_attr": ["a", "url", 0]}}}}).bind()
    assert isinstance(d.outputs["url"], OutputDefinition)
    assert d.outputs["url"].description == "U"

    def attrs(r, a):
        if a == "url":
            return "http://x"
        raise AssertionError(a)
    assert d.outputs["url"].resolve({}, attrs) == "http://x"
    resolved = d.resolve_outputs({}, attrs)
    assert resolved["url"] == {"value": "http://x", "description": "U"}
    assert resolved["plain"]["value"] == 5
    assert d.attribute_refs("a") == frozenset(["url"])

    def broken(r, a):
        raise RuntimeError("boom")
    resolved = d.resolve_outputs({}, broken)
    assert resolved["url"]["value"] is None
    assert resolved["url"]["error"] == "boom"


@pytest.mark.parametrize("outputs, message", [
    ({"o": {"description": "x"}}, "outputs.o: missing value"),
    ({"o": 5}, "outputs.o: an output must be a map with a value"),
    ({"o": {"value": 1, "colour": 2}}, "outputs.o: unknown key(s) 'colour'"),
    ({"o": {"value": {"get_attr": ["zz", "a"]}}},
     "outputs.o.value.get_attr: unknown resource 'zz'"),
])
def test_output_errors(outputs, message):
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"outputs": outputs}).bind()
    assert str(err.value).startswith(message)


def test_dependencies_and_attribute_refs():
    d = tmpl({"resources": {
        "a": res(),
        "b": res(properties={"x": {"get_resource": "a"}}),
        "c": res(depends_on=["b"], properties={"y": {"get_attr": ["a", "ip"]},
                                               "z": {"get_attr": ["b"]}}),
        "d": res(metadata={"q": {"list_join": [",", [{"get_attr": ["a", "n", 0]}]]}}),
    }, "outputs": {"o": {"value": {"get_attr": ["d", "out"]}}}}).bind()
    assert d.dependencies() == {"a": frozenset(), "b": {"a"},
                                "c": {"a", "b"}, "d": {"a"}}
    assert d.resources["c"].required_resources() == {"a", "b"}
    assert d.resources["c"].attribute_refs() == {("a", "ip"), ("b", None)}
    assert d.attribute_refs("a") == {"ip", "n"}
    assert d.attribute_refs("b") == {None}
    assert d.attribute_refs("d") == {"out"}
    assert d.attribute_refs("c") == frozenset()
    assert topological_order(d.dependencies())[0] == "a"


@pytest.mark.parametrize("resources, cycle", [
    ({"a": res(depends_on="a")}, "a -> a"),
    ({"a": res(depends_on="b"), "b": res(depends_on="a")}, "a -> b -> a"),
    ({"x": res(), "a": res(properties={"p": {"get_resource": "b"}}),
      "b": res(properties={"p": {"get_attr": ["c", "z"]}}),
      "c": res(depends_on=["x", "a"])}, "a -> b -> c -> a"),
    ({"c": res(depends_on="a"), "a": res(depends_on="b"),
      "b": res(depends_on="c")}, "c -> a -> b -> c"),
])
def test_cycles(resources, cycle):
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"resources": resources}).bind()
    assert str(err.value) == "resources: dependency cycle: " + cycle


def test_conditions_enable_and_disable():
    body = {
        "parameters": {"env": {"type": "string", "default": "prod"}},
        "conditions": {
            "prod": {"equals": [{"get_param": "env"}, "prod"]},
            "dev": {"not": "prod"},
            "both": {"and": ["prod", {"or": ["dev", True]}]},
            "alias": {"not": {"not": "prod"}},
            "yes": True,
        },
        "resources": {
            "p": res(condition="prod"),
            "d": res(condition="dev"),
            "e": res(condition={"not": "dev"}),
            "f": res(condition=False),
            "g": res(properties={"v": {"if": ["dev", {"get_resource": "d"},
                                              {"get_resource": "p"}]}}),
        },
        "outputs": {"od": {"value": 1, "condition": "dev"},
                    "op": {"value": {"get_resource": "p"}, "condition": "both"}},
    }
    d = tmpl(body).bind()
    assert list(d.resources) == ["p", "e", "g"]
    assert list(d.outputs) == ["od", "op"]
    assert d.resources["p"].condition == "prod"
    assert d.dependencies()["g"] == {"p"}
    assert d.conditions.evaluate_all() == {
        "prod": True, "dev": False, "both": True, "alias": True, "yes": True}
    d = tmpl(body).bind({"env": "dev"})
    assert list(d.resources) == ["d", "g"]
    assert d.dependencies()["g"] == {"d"}


def test_output_disabled_by_its_condition_is_shown_with_value_none():
    # Heat's CommonTemplate.outputs: a disabled output is an output whose
    # value is None, and its value is never parsed or evaluated
    body = {"conditions": {"off": False},
            "resources": {"a": res(condition="off")},
            "outputs": {"o": {"value": {"get_attr": ["a", "x"]},
                              "description": "d", "condition": "off"}}}
    d = tmpl(body).bind()
    assert list(d.outputs) == ["o"]
    assert d.outputs["o"].required_resources() == frozenset()
    assert d.resolve_outputs({}, None) == {
        "o": {"value": None, "description": "d"}}


def test_reference_to_disabled_resource():
    body = {"conditions": {"off": False},
            "resources": {"a": res(condition="off"),
                          "b": res(properties={"x": {"get_resource": "a"}})}}
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body).bind()
    assert str(err.value) == ("resources.b.properties.x.get_resource: "
                              "resource 'a' is disabled by its condition")


def test_depends_on_a_disabled_resource_drops_the_edge():
    # Heat's ResourceDefinition.dependencies skips a name that is in the
    # template but disabled by its condition; an unknown name stays an error.
    body = {"conditions": {"off": False},
            "resources": {"a": res(condition="off"),
                          "b": res(depends_on=["a", "c"]), "c": res()}}
    d = tmpl(body).bind()
    assert d.dependencies()["b"] == {"c"}
    body["resources"]["b"] = res(depends_on="zz")
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body).bind()
    assert str(err.value) == "resources.b.depends_on: unknown resource 'zz'"


@pytest.mark.parametrize("conditions, message", [
    ({"a": {"not": "b"}, "b": {"and": ["a", True]}},
     "conditions: condition cycle: a -> b -> a"),
    ({"a": {"get_param": "s"}},
     "conditions.a: condition must evaluate to a boolean, got 'x'"),
    ({"a": {"and": [True]}},
     "conditions.a.and: argument must be a list of at least two conditions"),
    ({"a": {"equals": [1]}},
     "conditions.a.equals: argument must be a list of two values"),
    ({"a": 5}, "conditions.a: a condition must be a boolean"),
    # Heat's Conditions: a definition is a boolean or a function, and a
    # bare name is not (names are fine inside not/and/or)
    ({"a": True, "b": "a"},
     "conditions.b: the definition of a condition must be a boolean or a "
     "condition function, not the name 'a'"),
    ({"a": {"not": "zz"}}, "conditions.a.not: unknown condition 'zz'"),
    ({"a": {"or": [True, {"equals": [1, {"get_attr": ["r", "x"]}]}]}},
     "conditions.a.or[1].equals[1].get_attr: function 'get_attr' cannot be "
     "used in a condition"),
])
def test_condition_errors(conditions, message):
    body = {"parameters": {"s": {"type": "string", "default": "x"}},
            "resources": {"r": res()}, "conditions": conditions}
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body).bind()
    assert str(err.value).startswith(message)


class FakeRegistry:
    def __init__(self, classes):
        self.classes = classes

    def get_class(self, type_name, path=None):
        if type_name not in self.classes:
            raise exception.UnknownResourceType(
                "unknown resource type %r" % type_name, path)
        return self.classes[type_name]


class Web:
    properties_schema = {"size": "schema"}
    attributes_schema = {"url": "schema"}


class Loose:
    properties_schema = {}
    attributes_schema = {}
    strict_attributes = False
    strict_properties = False


def test_registry_checks_types_and_attributes():
    reg = FakeRegistry({"Web": Web, "Loose": Loose})
    body = {"resources": {"w": {"type": "Web"}, "l": {"type": "Loose"}},
            "outputs": {"a": {"value": {"get_attr": ["w", "url"]}},
                        "b": {"value": {"get_attr": ["w", "show"]}},
                        "c": {"value": {"get_attr": ["l", "anything"]}},
                        "d": {"value": {"get_attr": ["w"]}}}}
    tmpl(body).bind(registry=reg)
    body["outputs"]["e"] = {"value": {"get_attr": ["w", "foo"]}}
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body).bind(registry=reg)
    assert str(err.value) == ("outputs.e.value.get_attr: unknown attribute "
                              "'foo' of resource 'w'")
    with pytest.raises(exception.UnknownResourceType) as err:
        tmpl({"resources": {"x": {"type": "Nope"}}}).bind(registry=reg)
    assert str(err.value) == "resources.x.type: unknown resource type 'Nope'"


@pytest.fixture
def fake_properties(monkeypatch):
    """A stand-in for heatflow.properties (written in parallel)."""
    mod = types.ModuleType("heatflow.properties")
    mod.DEFERRED = object()
    mod.PendingRef = type("PendingRef", (str,), {})
    seen = []

    class Properties:
        def __init__(self, schema, data, path, strict=True):
            self.schema, self.data, self.path, self.strict = \
                schema, data, path, strict

        def validate(self):
            seen.append(self)
            for key, value in self.data.items():
                if self.strict and key not in self.schema:
                    raise exception.StackValidationFailed(
                        "unknown property", self.path + (key,))
                if value is mod.DEFERRED:
                    continue
                if key == "size" and not 1 <= value <= 9:
                    raise exception.StackValidationFailed(
                        "value %s is out of range 1..9" % value,
                        self.path + (key,))
    mod.Properties = Properties
    mod.seen = seen
    import heatflow
    monkeypatch.setitem(sys.modules, "heatflow.properties", mod)
    monkeypatch.setattr(heatflow, "properties", mod, raising=False)
    # Validation builds a plugin's properties through
    # heatflow.plugin_factory (translated first), which imported the real
    # module.
    from heatflow import plugin_factory
    monkeypatch.setattr(plugin_factory, "properties_mod", mod)
    return mod


def test_validate_uses_properties_with_deferred(fake_properties):
    reg = FakeRegistry({"Web": Web, "Loose": Loose})
    body = {"parameters": {"n": {"type": "number", "default": 3}},
            "resources": {
                "l": {"type": "Loose", "properties": {"any": 1}},
                "w": {"type": "Web", "properties": {
                    "size": {"get_param": "n"},
                    "name": {"list_join": ["-", [{"get_resource": "l"}, "x"]]},
                    "list": [{"get_attr": ["l", "a"]}, "plain"]}}}}
    d = tmpl(body).bind({"n": 4}, registry=reg)
    Web.properties_schema = {"size": 1, "name": 1, "list": 1}
    try:
        d.validate(reg)
        by_name = {p.path[1]: p for p in fake_properties.seen}
        w = by_name["w"]
        assert w.path == ("resources", "w", "properties")
        assert w.strict is True and by_name["l"].strict is False
        assert w.data["size"] == 4
        assert w.data["name"] is fake_properties.DEFERRED
        assert w.data["list"] == [fake_properties.DEFERRED, "plain"]
        with pytest.raises(exception.StackValidationFailed) as err:
            tmpl(body).bind({"n": 40}).validate(reg)
        assert str(err.value) == ("resources.w.properties.size: value 40 is "
                                  "out of range 1..9")
    finally:
        Web.properties_schema = {"size": "schema"}


def test_validate_reports_unknown_type(fake_properties):
    d = tmpl({"resources": {"x": {"type": "Nope"}}}).bind()
    with pytest.raises(exception.UnknownResourceType):
        d.validate(FakeRegistry({}))


def test_yaml_end_to_end():
    text = """
heat_template_version: rocky
description: demo
parameters:
  size: {type: number, default: 2}
resources:
  db: {type: T}
  web:
    type: T
    depends_on: db
    properties:
      name:
        str_replace:
          template: web-$N
          params: {$N: {get_param: size}}
outputs:
  url:
    value: {get_attr: [web, url]}
"""
    t = Template.load(text)
    assert t.description == "demo"
    d = t.bind({"size": "7"}, stack_name="s")
    assert d.parameters["size"] == 7
    assert d.stack_name == "s" and d.template is t
    assert d.resources["web"].resolve_properties({}, None) == {"name": "web-7"}
    assert d.dependencies() == {"db": frozenset(), "web": {"db"}}
