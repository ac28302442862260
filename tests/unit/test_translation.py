"""heatflow.translation: Heat's ADD/REPLACE/DELETE/RESOLVE rules, case by
case after Heat's own tests of them (issue 18)."""

import pytest

from heatflow import exception, properties, translation
from heatflow.plugins.random_string import RandomString

P = properties.Schema
TR = translation.TranslationRule
DEFERRED = properties.DEFERRED

# 'far': a List of Maps {red, blue, bar(List), car}; 'bar': a String;
# 'm': a Map {red, dar}; 'names': a List of Strings.
SCHEMA = {
    "far": P(P.LIST, schema=P(P.MAP, schema={
        "red": P(P.STRING), "blue": P(P.STRING),
        "bar": P(P.LIST, schema=P(P.STRING)), "car": P(P.STRING)})),
    "bar": P(P.STRING),
    "num": P(P.INTEGER),
    "m": P(P.MAP, schema={"red": P(P.STRING), "dar": P(P.STRING)}),
    "names": P(P.LIST, schema=P(P.STRING)),
}


def run(data, *rules, **kwargs):
    before = repr(data)
    out = translation.translate(data, list(rules), SCHEMA, **kwargs)
    assert repr(data) == before                 # the input is not changed
    return out


def rule(kind, path, *args, **kwargs):
    return TR(None, kind, path, *args, **kwargs)


@pytest.mark.parametrize("kwargs,words", [
    (dict(rule="Eat", translation_path=["a"]), "unknown translation rule"),
    (dict(rule=TR.ADD, translation_path="a.b", value=["x"]), "non-empty list"),
    (dict(rule=TR.ADD, translation_path=[], value=["x"]), "non-empty list"),
    (dict(rule=TR.ADD, translation_path=["a"], value="x"), "must be a list"),
    (dict(rule=TR.REPLACE, translation_path=["a"], value="x",
          value_name="y"), "value and value_name"),
    (dict(rule=TR.REPLACE, translation_path=["a"], value_path="y"),
     "value_path must be"),
    (dict(rule=TR.RESOLVE, translation_path=["a"], finder="f"),
     "client_plugin and finder"),
    (dict(rule=TR.RESOLVE, translation_path=["a"], custom_function=3),
     "callable"),
])
def test_malformed_rules_are_value_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        TR(None, **kwargs)


# -- ADD ---------------------------------------------------------------------

def test_add_to_an_existing_list():
    assert run({"far": [{"red": "blue"}], "bar": "dak"},
               rule(TR.ADD, ["far"], [{"red": "dak"}]))["far"] == \
        [{"red": "blue"}, {"red": "dak"}]


def test_add_to_a_missing_list_creates_it():
    assert run({"bar": "dak"}, rule(TR.ADD, ["far"], [{"red": "dak"}])) == \
        {"bar": "dak", "far": [{"red": "dak"}]}


def test_add_to_something_that_is_not_a_list():
    with pytest.raises(ValueError, match="Lists only"):
        run({"bar": "tran"}, rule(TR.ADD, ["bar"], ["dak"]))


def test_add_from_a_sibling_in_every_item_of_a_list():
    out = run({"far": [{"bar": ["shar"], "car": "man"}, {"car": "first"}]},
              rule(TR.ADD, ["far", "bar"], value_name="car"))
    assert out["far"] == [{"bar": ["shar", "man"], "car": "man"},
                          {"bar": ["first"], "car": "first"}]


def test_add_from_a_value_path():
    assert run({"names": ["white", "roses"], "bar": "mums"},
               rule(TR.ADD, ["names"], value_path=["bar"]))["names"] == \
        ["white", "roses", "mums"]


def test_add_of_nothing_changes_nothing():
    assert run({"bar": "x"}, rule(TR.ADD, ["names"], value_path=["num"])) \
        == {"bar": "x"}


# -- REPLACE -----------------------------------------------------------------

def test_replace_in_a_map():
    assert run({"m": {"red": "tran"}, "bar": "dak"},
               rule(TR.REPLACE, ["m", "red"], "dak"))["m"] == {"red": "dak"}


def test_replace_in_a_missing_map_creates_it():
    assert run({"bar": "dak"}, rule(TR.REPLACE, ["m", "red"], "dak"))["m"] \
        == {"red": "dak"}


def test_replace_in_every_item_of_a_list():
    assert run({"far": [{"red": "blue"}, {"red": "roses"}]},
               rule(TR.REPLACE, ["far", "red"], "dak"))["far"] == \
        [{"red": "dak"}, {"red": "dak"}]


def test_replace_from_a_sibling_moves_it():
    out = run({"far": [{"blue": "white"}, {"red": "roses"}]},
              rule(TR.REPLACE, ["far", "red"], value_name="blue"))
    assert out["far"] == [{"red": "white"}, {"red": "roses"}]


def test_replace_with_a_value_overwrites():
    assert run({"bar": "two"}, rule(TR.REPLACE, ["bar"], "one")) == \
        {"bar": "one"}


def test_replace_from_a_value_path_moves_it():
    assert run({"bar": "one"}, rule(TR.REPLACE, ["m", "red"],
                                    value_path=["bar"])) == \
        {"m": {"red": "one"}}
    assert run({"m": {"dar": "rad"}}, rule(TR.REPLACE, ["m", "red"],
                                           value_path=["m", "dar"])) == \
        {"m": {"red": "rad"}}


def test_replace_when_both_are_given_is_a_conflict():
    with pytest.raises(exception.StackValidationFailed,
                       match="at the same time: m.red, bar"):
        run({"bar": "one", "m": {"red": "two"}},
            rule(TR.REPLACE, ["m", "red"], value_path=["bar"]))
    with pytest.raises(exception.StackValidationFailed,
                       match="far.red, far.blue"):
        run({"far": [{"red": "a", "blue": "b"}]},
            rule(TR.REPLACE, ["far", "red"], value_name="blue"))


def test_replace_from_a_missing_source_changes_nothing():
    assert run({"num": 2}, rule(TR.REPLACE, ["m", "red"],
                                value_path=["bar"])) == {"num": 2}


def test_a_value_path_through_a_list_is_refused():
    with pytest.raises(ValueError, match="cannot go through the List far"):
        run({"far": [{"car": "man"}]},
            rule(TR.REPLACE, ["bar"], value_path=["far", "car"]))


def test_a_custom_value_path_reaches_inside_the_source():
    out = run({"far": [{"blue": {"id": "x", "k": 1}}]},
              rule(TR.REPLACE, ["far", "red"], value_name="blue",
                   custom_value_path=["id"]))
    assert out["far"] == [{"red": "x", "blue": {"k": 1}}]


# -- DELETE ------------------------------------------------------------------

def test_delete_in_every_item_of_a_list():
    assert run({"far": [{"red": "blue"}, {"red": "roses", "car": "c"}]},
               rule(TR.DELETE, ["far", "red"]))["far"] == [{}, {"car": "c"}]


def test_delete_a_property_and_a_missing_one():
    assert run({"bar": "one"}, rule(TR.DELETE, ["bar"])) == {}
    assert run({}, rule(TR.DELETE, ["m", "red"])) == {}     # no map made


# -- RESOLVE -----------------------------------------------------------------

class Finder:
    def __init__(self):
        self.calls = []

    def find_name_id(self, *args):
        self.calls.append(args)
        if args[-1] == "missing":
            raise LookupError("no such thing")
        return "pink" if args[0] == "rose" else "yellow"


def test_resolve_a_string_with_and_without_an_entity():
    finder = Finder()
    assert run({"bar": "one"}, rule(TR.RESOLVE, ["bar"], client_plugin=finder,
                                    finder="find_name_id")) == \
        {"bar": "yellow"}
    assert run({"bar": "one"}, rule(TR.RESOLVE, ["bar"], client_plugin=finder,
                                    finder="find_name_id", entity="rose")) \
        == {"bar": "pink"}
    assert finder.calls == [("one",), ("rose", "one")]


def test_resolve_in_lists():
    finder = Finder()
    kw = dict(client_plugin=finder, finder="find_name_id")
    assert run({"names": ["one", "rose"]},
               rule(TR.RESOLVE, ["names"], **kw)) == \
        {"names": ["yellow", "pink"]}
    assert run({"far": [{"red": "blue"}, {"red": "roses"}]},
               rule(TR.RESOLVE, ["far", "red"], **kw))["far"] == \
        [{"red": "yellow"}, {"red": "yellow"}]
    assert run({"far": []}, rule(TR.RESOLVE, ["far", "red"], **kw)) == \
        {"far": []}


def test_resolve_with_a_custom_function():
    assert run({"bar": "one"}, rule(TR.RESOLVE, ["bar"],
                                    custom_function=str.upper)) == \
        {"bar": "ONE"}


def test_resolve_errors_raise_unless_ignored():
    kw = dict(client_plugin=Finder(), finder="find_name_id")
    with pytest.raises(LookupError):
        run({"bar": "missing"}, rule(TR.RESOLVE, ["bar"], **kw))
    assert run({"bar": "missing"}, rule(TR.RESOLVE, ["bar"], **kw),
               ignore_resolve_error=True) == {"bar": "missing"}


def test_resolve_is_skipped_without_clients():
    finder = Finder()
    assert run({"bar": "one"}, rule(TR.RESOLVE, ["bar"], client_plugin=finder,
                                    finder="find_name_id"),
               client_resolve=False) == {"bar": "one"}
    assert finder.calls == []


# -- values not known yet, order ---------------------------------------------

def test_deferred_values_are_left_alone():
    finder = Finder()
    data = {"bar": DEFERRED, "m": DEFERRED, "names": DEFERRED,
            "far": [DEFERRED, {"red": DEFERRED}]}
    assert run(data,
               rule(TR.RESOLVE, ["bar"], client_plugin=finder,
                    finder="find_name_id"),
               rule(TR.REPLACE, ["m", "red"], "x"),
               rule(TR.ADD, ["names"], ["x"]),
               rule(TR.REPLACE, ["far", "red"], "y"),
               rule(TR.REPLACE, ["num"], value_path=["bar"])) == data
    assert finder.calls == []
    assert translation.translate(DEFERRED, [rule(TR.DELETE, ["bar"])]) \
        is DEFERRED


def test_delete_runs_after_the_rules_that_read_what_it_deletes():
    out = run({"bar": "b"}, rule(TR.DELETE, ["bar"]),
              rule(TR.ADD, ["names"], value_path=["bar"]))
    assert out == {"names": ["b"]}


# -- a plugin's rules ----------------------------------------------------------

def test_random_strings_deprecated_sequence_becomes_a_character_class():
    res = RandomString.for_test("pw", {})
    data = {"sequence": "digits", "length": 8}
    assert translation.translate_properties(res, data) == \
        {"length": 8, "character_classes": [{"class": "digits", "min": 1}]}
    assert translation.translate_properties(res, {"length": 8}) == \
        {"length": 8}
    # The translated properties are valid and make the same strings.
    done = RandomString.for_test(
        "pw", translation.translate_properties(res, data))
    done.handle_create()
    assert done.get_attribute("value").isdigit()


def test_a_plugin_without_rules_and_one_returning_none():
    class Quiet(RandomString):
        def translation_rules(self, props):
            return None         # Heat's plugins often fall off the end

    data = {"sequence": "digits"}
    assert translation.translate_properties(Quiet.for_test("q", {}),
                                            data) == data
