"""yaql, as Heat's Yaql function evaluates it (test_hot.py's yaql cases),
with the limits heatflow adds."""

import pytest

from heatflow import exception
from heatflow.template import Limits

from .helpers import evaluate, tmpl

P = {"list": {"type": "comma_delimited_list", "default": "a,b,c"},
     "j": {"type": "json", "default": {"k": [3, 2, 1]}}}


@pytest.mark.parametrize("expr, expected", [
    ({"yaql": {"expression": "$.data.var1.sum()",
               "data": {"var1": [3, 2, 1]}}}, 6),
    ({"yaql": {"expression": "$.data.l.where($ != b).len()",
               "data": {"l": {"get_param": "list"}}}}, 2),
    ({"yaql": {"expression": "$.data.k.orderBy($)",
               "data": {"get_param": "j"}}}, [1, 2, 3]),
    ({"yaql": {"expression": "dict($.data.select([$, $ * 2]))",
               "data": [1, 2]}}, {"1": 2, "2": 4}),
    ({"yaql": {"expression": "1 + 2"}}, 3),
    ({"yaql": {"expression": "$.data"}}, {}),
    ({"yaql": {"expression": "pow(2, 10) + shiftBitsLeft(1, 3)"}}, 1032),
    ({"yaql": {"expression": {"str_replace": {
        "template": "$.data.X", "params": {"X": "v"}}}, "data": {"v": 7}}}, 7),
])
def test_results(expr, expected):
    # a map's keys are strings, as JSON (and so storage) has them
    assert evaluate(expr, "2016-10-14", params=P) == expected


def test_yaql_condition_from_2017_09_01():
    body = {"conditions": {"c": {"yaql": {"expression": "$.data.n > 1",
                                          "data": {"n": 2}}}}}
    assert tmpl(body, "2017-09-01").bind().conditions.is_enabled("c")


@pytest.mark.parametrize("expr, message", [
    ({"yaql": "1"}, 'yaql: argument must be a map with "expression"'),
    ({"yaql": {"expression": "1", "bogus": 1}},
     'yaql: argument must be a map with "expression"'),
    ({"yaql": {"expression": 5}}, 'yaql: "expression" must be a string'),
    ({"yaql": {"expression": "$.data.("}}, "yaql: bad expression: "),
])
def test_refused_when_the_template_is_read(expr, message):
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"outputs": {"o": {"value": expr}}}, "2016-10-14")
    assert str(err.value).startswith("outputs.o.value." + message)


def _refused(expr, limits=None, message=""):
    t = tmpl({"outputs": {"o": {"value": expr}}}, "2016-10-14",
             limits=limits)
    with pytest.raises(exception.StackValidationFailed) as err:
        t.bind()
    assert str(err.value).startswith("outputs.o.value.yaql: " + message)
    return str(err.value)


@pytest.mark.parametrize("expression, message", [
    ("range(0, 1000).select($)", "Collection length exceeds 200"),
    ("$.data.nope.len()", "evaluation failed: "),
    ("now()", "result is not JSON data"),
    # sizes yaql would only check once computed, checked first
    ("pow(10, 100000000)", "Expression consumed too much memory"),
    ("shiftBitsLeft(1, 10000000000)", "Expression consumed too much memory"),
    # regular expressions backtrack in C, beyond the time limit's reach
    ("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'.matches('(a+)+$')",
     'evaluation failed: Unknown method "matches"'),
])
def test_evaluation_errors_name_the_place(expression, message):
    _refused({"yaql": {"expression": expression, "data": {}}},
             message=message)


def test_expression_length_is_limited():
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"outputs": {"o": {"value": {"yaql": {
            "expression": "1 + " * 30 + "1"}}}}}, "2016-10-14",
            limits=Limits(max_yaql_chars=100))
    assert "longer than 100 characters" in str(err.value)


def test_evaluation_time_is_limited():
    # 200 ** 4 steps: far beyond the time allowed, stopped in time
    slow = ("range(0, 200).select(range(0, 200).select(range(0, 200)"
            ".select(range(0, 200).sum()).sum()).sum()).sum()")
    message = _refused({"yaql": {"expression": slow}},
                       limits=Limits(yaql_seconds=0.2))
    assert "took more than 0.2 s" in message
