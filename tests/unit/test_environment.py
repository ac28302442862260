"""Environments: reading, merging, parameter precedence and type aliases."""

import pytest

from heatflow import exception
from heatflow import registry as registry_mod
from heatflow.environment import Environment
from heatflow.plugins import none, value


@pytest.fixture(scope="module")
def base():
    return registry_mod.Registry(entry_points=False)


def test_load_accepts_yaml_mappings_and_nothing():
    env = Environment.load(b"parameters: {a: 1}\n"
                           b"resource_registry: {'My::T': OS::Heat::None}\n")
    assert env.parameters == {"a": 1}
    assert env.resource_registry == {"My::T": "OS::Heat::None"}
    assert Environment.load(None) == Environment()
    assert Environment.load("") == Environment()
    assert Environment.load({"parameters": None}) == Environment()


@pytest.mark.parametrize("source, path, message", [
    ("[1, 2]", "environment", "must be a mapping of sections"),
    ("parameters: [\n", "environment", "not valid YAML"),
    ("parameters: {a: !!python/object/apply:os.system [true]}",
     "environment", "not valid YAML"),
    ("outputs: {}", "environment", "unknown or unsupported section "
                                   "'outputs'"),
    ("parameters: [a]", "environment.parameters", "must be a mapping"),
    ("resource_registry: {'My::T': [x]}",
     "environment.resource_registry.My::T", "must map to a resource type"),
    ("resource_registry: {'My::T': 'http://x/t.yaml'}",
     "environment.resource_registry.My::T", "fetches nothing"),
    ("resource_registry: {resources: {web: {'A::B': 'C::D'}}}",
     "environment.resource_registry.resources", "per-resource"),
    ("resource_registry: {'My::*': OS::Heat::None}",
     "environment.resource_registry.My::*", "prefix to a prefix"),
    ("resource_registry: {'My::*::X': 'OS::*::X'}",
     "environment.resource_registry.My::*::X", "may only end an alias"),
])
def test_bad_environments_name_the_place(source, path, message):
    with pytest.raises(exception.StackValidationFailed) as info:
        Environment.load(source)
    assert info.value.path == path
    assert message in info.value.message


def test_later_environments_win_key_by_key():
    env = Environment.merge([
        {"parameters": {"a": 1, "b": 1},
         "parameter_defaults": {"c": 1},
         "resource_registry": {"X::A": "OS::Heat::None",
                               "X::B": "OS::Heat::None"}},
        "parameters: {b: 2}\nresource_registry: {'X::B': OS::Heat::Value}",
    ])
    assert env.parameters == {"a": 1, "b": 2}
    assert env.parameter_defaults == {"c": 1}
    assert env.resource_registry == {"X::A": "OS::Heat::None",
                                     "X::B": "OS::Heat::Value"}


def test_parameter_precedence():
    env = Environment(parameters={"a": "env", "b": "env"},
                      parameter_defaults={"b": "default", "c": "default",
                                          "undeclared": "x"})
    assert env.parameter_values({"a", "b", "c"}, {"a": "given"}) == {
        "a": "given", "b": "env", "c": "default"}


def test_aliases_exact_chained_and_wildcard(base):
    reg = Environment(resource_registry={
        "My::Server": "OS::Heat::None",
        "My::Chain": "My::Value",
        "My::Value": "OS::Heat::Value",
        "Legacy::*": "OS::Heat::*",
        "OS::Heat::RandomString": "OS::Heat::None",
    }).registry(base)
    assert reg.get_class("My::Server") is none.NoneResource
    assert reg.get_class("My::Chain") is value.Value
    assert reg.get_class("Legacy::Value") is value.Value
    # an alias may swap a registered plugin out
    assert reg.get_class("OS::Heat::RandomString") is none.NoneResource
    assert reg.get_class("OS::Heat::Value") is value.Value
    assert "My::Server" in reg and "Legacy::Nothing" not in reg
    with pytest.raises(exception.UnknownResourceType) as info:
        reg.get_class("Legacy::Nothing", path="resources.x.type")
    assert info.value.path == "resources.x.type"
    assert "alias of unknown resource type OS::Heat::Nothing" in str(
        info.value)


def test_no_aliases_is_the_base_registry_with_template_files(base):
    registry = Environment().registry(base, {
        "t.yaml": "heat_template_version: 2018-08-31"})
    assert registry.get_class("OS::Heat::None") is \
        base.get_class("OS::Heat::None")
    assert registry.get_class("t.yaml").template_name == "t.yaml"


def test_alias_to_unknown_type_or_loop_is_refused(base):
    with pytest.raises(exception.UnknownResourceType) as info:
        Environment(resource_registry={"My::T": "No::Such"}).registry(base)
    assert info.value.path == "environment.resource_registry.My::T"
    with pytest.raises(exception.StackValidationFailed) as info:
        Environment(resource_registry={"A::A": "B::B", "B::B": "A::A"}) \
            .registry(base)
    assert "loop: A::A -> B::B -> A::A" in str(info.value)


def test_environment_text_is_bounded_like_a_template():
    from heatflow.template import Limits
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        "%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n"
        % ((chr(98 + i), chr(98 + i)) + (chr(97 + i),) * 8)
        for i in range(9))
    with pytest.raises(exception.LimitExceeded):
        Environment.load(bomb)
    with pytest.raises(exception.LimitExceeded) as info:
        Environment.load("parameters: {a: %s}" % ("x" * 200),
                         limits=Limits(max_template_bytes=100))
    assert "max_template_bytes" in str(info.value)
    deep = {"parameters": {"a": [[[[[[["deep"]]]]]]]}}
    with pytest.raises(exception.LimitExceeded) as info:
        Environment.load(deep, limits=Limits(max_nesting_depth=4))
    assert info.value.path.startswith("environment.parameters.a")
