import pytest

from heatflow import exception
from heatflow.template import Template, versions

from .helpers import evaluate, tmpl

ALL = ["2013-05-23", "2014-10-16", "2015-04-30", "2015-10-15", "2016-04-08",
       "2016-10-14", "2017-02-24", "2017-09-01", "2018-03-02", "2018-08-31",
       "2021-04-16"]


@pytest.mark.parametrize("raw, canonical", [(v, v) for v in ALL] + [
    ("newton", "2016-10-14"), ("ocata", "2017-02-24"), ("pike", "2017-09-01"),
    ("queens", "2018-03-02"), ("rocky", "2018-08-31"),
    ("wallaby", "2021-04-16")])
def test_known_versions(raw, canonical):
    assert tmpl({}, raw).version == canonical


@pytest.mark.parametrize("raw", ["2012-12-12", "2010-09-09", "liberty", 5,
                                 None, "2018-08-31x"])
def test_unknown_versions(raw):
    with pytest.raises(exception.InvalidTemplateVersion) as err:
        tmpl({}, raw)
    assert str(err.value).startswith("heat_template_version: ")


# function -> (first version, a valid call)
CALLS = {
    "get_param": ("2013-05-23", {"get_param": "OS::stack_name"}),
    "get_file": ("2013-05-23", {"get_file": "f"}),
    "list_join": ("2013-05-23", {"list_join": [",", ["a"]]}),
    "str_replace": ("2013-05-23",
                    {"str_replace": {"template": "a", "params": {}}}),
    "digest": ("2015-04-30", {"digest": ["md5", "a"]}),
    "repeat": ("2015-04-30", {"repeat": {"for_each": {"x": ["a"]},
                                         "template": "x"}}),
    "str_split": ("2015-10-15", {"str_split": [",", "a,b"]}),
    "map_merge": ("2016-04-08", {"map_merge": [{"a": 1}]}),
    "map_replace": ("2016-10-14", {"map_replace": [{"a": 1}, {}]}),
    "if": ("2016-10-14", {"if": [True, 1, 2]}),
    "yaql": ("2016-10-14", {"yaql": {"expression": "1"}}),
    "filter": ("2017-02-24", {"filter": [[1], [1, 2]]}),
    "str_replace_strict": ("2017-02-24", {"str_replace_strict": {
        "template": "a", "params": {"a": "b"}}}),
    "make_url": ("2017-09-01", {"make_url": {"host": "h"}}),
    "list_concat": ("2017-09-01", {"list_concat": [[1], [2]]}),
    "list_concat_unique": ("2017-09-01", {"list_concat_unique": [[1], [1]]}),
    "contains": ("2017-09-01", {"contains": [1, [1]]}),
    "str_replace_vstrict": ("2017-09-01", {"str_replace_vstrict": {
        "template": "a", "params": {"a": "b"}}}),
}


def _previous(version):
    return ALL[ALL.index(version) - 1]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_function_version_gates(name):
    since, call = CALLS[name]
    body = {"outputs": {"o": {"value": call}}}
    files = {"f": "content"}
    tmpl(body, since, files=files).bind()
    tmpl(body, "2021-04-16", files=files).bind()
    if since == ALL[0]:
        return
    # Heat parses with the version's own function table: a name that is
    # not a function there is plain data.  We keep it, and warn.
    before = _previous(since)
    t = tmpl(body, before, files=files)
    assert t.bind().resolve_outputs({}, None)["o"]["value"] == call
    assert t.warnings == (
        "outputs.o.value.%s: %r is not a function in heat_template_version "
        "%s (it needs %s or later); the map is kept as plain data"
        % (name, name, before, since),)
    assert tmpl(body, since, files=files).warnings == ()


def test_function_too_new_keeps_the_functions_inside_it():
    body = {"parameters": {"p": {"type": "string", "default": "a,b"}},
            "outputs": {"o": {"value": {"str_split": [
                ",", {"get_param": "p"}]}}}}
    t = tmpl(body, "2015-04-30")
    assert t.bind().resolve_outputs({}, None)["o"]["value"] == {
        "str_split": [",", "a,b"]}


def test_condition_function_outside_conditions_is_plain_data():
    body = {"outputs": {"o": {"value": {"equals": [1, 1]}}}}
    t = tmpl(body, "2018-08-31")
    assert t.bind().resolve_outputs({}, None)["o"]["value"] == {
        "equals": [1, 1]}
    assert t.warnings == (
        "outputs.o.value.equals: 'equals' is a condition function, a "
        "function only in the conditions section, a condition key or the "
        "first argument of if; the map is kept as plain data",)


def test_function_table_matches_docstring_table():
    # the module table is the single source; spot-check a few rows
    assert versions.FUNCTIONS_SINCE["str_split"] == "2015-10-15"
    assert versions.FUNCTIONS_SINCE["map_merge"] == "2016-04-08"
    assert versions.FUNCTIONS_SINCE["filter"] == "2017-02-24"
    assert versions.CONDITION_FUNCTIONS_SINCE["contains"] == "2017-09-01"


def test_get_resource_and_get_attr_everywhere():
    for v in ALL:
        t = tmpl({"resources": {"a": {"type": "T"}},
                  "outputs": {"o": {"value": {"get_attr": ["a", "x"]}},
                              "r": {"value": {"get_resource": "a"}}}}, v)
        t.bind()


def test_get_attr_without_attribute_from_2015_10_15():
    body = {"resources": {"a": {"type": "T"}},
            "outputs": {"o": {"value": {"get_attr": ["a"]}}}}
    d = tmpl(body, "2015-10-15").bind()
    assert d.attribute_refs("a") == frozenset([None])
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body, "2015-04-30")
    assert str(err.value) == ("outputs.o.value.get_attr: argument must be a "
                              "list [resource, attribute, ...]")


def test_list_join_multiple_lists_from_2015_10_15():
    body = {"outputs": {"o": {"value": {"list_join": [",", ["a"], ["b"]]}}}}
    assert tmpl(body, "2015-10-15").bind().resolve_outputs({}, None)[
        "o"]["value"] == "a,b"
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body, "2015-04-30")
    assert str(err.value).startswith("outputs.o.value.list_join: argument")


def test_conditions_section_from_2016_10_14():
    body = {"conditions": {"c": True}}
    tmpl(body, "2016-10-14")
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body, "2016-04-08")
    assert str(err.value).startswith(
        "conditions: unknown section(s) 'conditions'")


def test_resource_condition_key_from_2016_10_14():
    body = {"resources": {"a": {"type": "T", "condition": True}}}
    tmpl(body, "2016-10-14")
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body, "2016-04-08")
    assert str(err.value).startswith(
        "resources.a: unknown key(s) 'condition' in resource")


@pytest.mark.parametrize("name, call, since", [
    ("equals", {"equals": [1, 1]}, "2016-10-14"),
    ("not", {"not": False}, "2016-10-14"),
    ("and", {"and": [True, True]}, "2016-10-14"),
    ("or", {"or": [True, False]}, "2016-10-14"),
    ("contains", {"contains": ["a", ["a"]]}, "2017-09-01"),
    ("get_param", {"equals": [{"get_param": "OS::stack_name"}, "s"]},
     "2016-10-14"),
])
def test_condition_function_gates(name, call, since):
    body = {"conditions": {"c": call}}
    assert tmpl(body, since).bind(stack_name="s").conditions.is_enabled("c")
    if since != "2016-10-14":
        with pytest.raises(exception.StackValidationFailed) as err:
            tmpl(body, _previous(since))
        assert str(err.value) == (
            "conditions.c.%s: function %r is not available in "
            "heat_template_version %s (it needs %s or later)"
            % (name, name, _previous(since), since))


def test_modulo_constraint_from_2017_02_24():
    body = {"parameters": {"n": {"type": "number", "default": 4, "constraints": [
        {"modulo": {"step": 2, "offset": 0}}]}}}
    tmpl(body, "2017-02-24")
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body, "2016-10-14")
    assert str(err.value) == ("parameters.n.constraints[0]: unknown "
                              "constraint 'modulo' (needs "
                              "heat_template_version 2017-02-24 or later)")


def test_parameter_tags_from_2018_03_02():
    body = {"parameters": {"n": {"type": "string", "tags": ["a"]}}}
    tmpl(body, "2018-03-02")
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body, "2017-09-01")
    assert "unknown key(s) tags" in str(err.value)


def test_repeat_permutations_from_2017_09_01():
    call = {"repeat": {"for_each": {"x": ["a"]}, "template": "x",
                       "permutations": False}}
    tmpl({"outputs": {"o": {"value": call}}}, "2017-09-01")
    with pytest.raises(exception.StackValidationFailed):
        tmpl({"outputs": {"o": {"value": call}}}, "2017-02-24")


def test_if_false_branch_optional_from_2021_04_16():
    call = {"if": [False, 1]}
    body = {"outputs": {"o": {"value": {"a": call, "b": [call, 2]}}}}
    d = tmpl(body, "2021-04-16").bind()
    assert d.outputs["o"].resolve({}, None) == {"b": [2]}
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body, "2018-08-31")
    assert str(err.value).startswith("outputs.o.value.a.if: argument must be")


@pytest.mark.parametrize("policy, version, expected", [
    ("Delete", "2013-05-23", "Delete"), ("Retain", "2013-05-23", "Retain"),
    ("Snapshot", "2013-05-23", "Snapshot"),
    ("retain", "2016-10-14", "Retain"), ("snapshot", "2021-04-16", "Snapshot"),
])
def test_deletion_policies(policy, version, expected):
    d = tmpl({"resources": {"a": {"type": "T", "deletion_policy": policy}}},
             version).bind()
    assert d.resources["a"].deletion_policy == expected


def test_lowercase_deletion_policy_before_2016_10_14_refused():
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"resources": {"a": {"type": "T", "deletion_policy": "retain"}}},
             "2016-04-08").bind()
    assert str(err.value).startswith(
        "resources.a.deletion_policy: invalid deletion policy 'retain'")


@pytest.mark.parametrize("name, version", [
    ("Fn::Join", "2014-10-16"), ("Ref", "2021-04-16"),
    ("Fn::Select", "2015-10-15"), ("Fn::GetAtt", "2013-05-23")])
def test_cfn_functions_refused_where_hot_has_none(name, version):
    # Heat's 2014-10-16 removed the CFN functions 2013-05-23 had, but
    # Fn::Select, which 2015-10-15 removed; Fn::GetAtt was never HOT's.
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"outputs": {"o": {"value": {name: "x"}}}}, version)
    assert "CloudFormation function %r is not supported" % name in \
        str(err.value)


@pytest.mark.parametrize("expr, expected, version", [
    ({"Fn::Join": ["-", [{"Ref": "p"}, "y"]]}, "x-y", "2013-05-23"),
    ({"Fn::Select": [1, ["u", "v"]]}, "v", "2013-05-23"),
    ({"Fn::Select": ["k", {"k": "v"}]}, "v", "2015-04-30"),
    ({"Fn::Split": [",", "a,b"]}, ["a", "b"], "2013-05-23"),
    ({"Fn::Replace": [{"$n": "w"}, "hello $n"]}, "hello w", "2013-05-23"),
    ({"Fn::Base64": "raw"}, "raw", "2013-05-23"),
    ({"Fn::MemberListToMap": ["Name", "Value", [".member.0.Name=k",
                                                ".member.0.Value=v"]]},
     {"k": "v"}, "2013-05-23"),
])
def test_hot_2013_05_23_has_cfn_functions(expr, expected, version):
    """Heat's first HOT version took CloudFormation's functions too (and
    the next two kept Fn::Select)."""
    assert evaluate(expr, version, params={
        "p": {"type": "string", "default": "x"}}) == expected


def test_resource_facade_takes_one_of_three_keys():
    tmpl({"outputs": {"o": {"value": {"resource_facade": "metadata"}}}})
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"outputs": {"o": {"value": {"resource_facade": "Metadata"}}}})
    assert str(err.value) == (
        "outputs.o.value.resource_facade: argument must be one of "
        "deletion_policy, metadata, update_policy")


def test_unknown_section_named():
    with pytest.raises(exception.StackValidationFailed) as err:
        Template.load({"heat_template_version": "2018-08-31", "mappings": {}})
    assert str(err.value).startswith("mappings: unknown section(s) 'mappings'")


def test_value_function_refused_in_condition():
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"resources": {"a": {"type": "T"}},
              "conditions": {"c": {"equals": [{"get_resource": "a"}, "x"]}}})
    assert str(err.value).startswith(
        "conditions.c.equals[0].get_resource: function 'get_resource' "
        "cannot be used in a condition")


def test_hot_2013_05_23_ref_names_a_resource_too():
    assert evaluate({"Ref": "a"}, "2013-05-23",
                    resources={"a": {"type": "OS::Heat::None"}},
                    refs={"a": "id-of-a"}) == "id-of-a"
