import hashlib

import pytest

from heatflow import exception

from .helpers import evaluate, tmpl

JSONP = {"j": {"type": "json", "default": {"a": {"b": [10, 20]}}},
         "l": {"type": "comma_delimited_list", "default": "x,y"},
         "s": {"type": "string", "default": "hi"},
         "lm": {"type": "json", "default": [{"a": 1}, {"b": 2}]},
         "ll": {"type": "json", "default": [[1], [2, 3]]}}


@pytest.mark.parametrize("expr, expected", [
    ({"get_param": "s"}, "hi"),
    ({"get_param": ["j", "a", "b", 1]}, 20),
    ({"get_param": ["j", "a", "b", "0"]}, 10),
    ({"get_param": ["j", "missing"]}, ""),
    ({"get_param": ["l", 1]}, "y"),
    ({"get_param": ["j", {"get_param": "s"}]}, ""),
    ({"list_join": [",", ["a", "b"]]}, "a,b"),
    ({"list_join": ["-", ["a"], ["b", "c"], []]}, "a-b-c"),
    ({"list_join": [",", [{"a": 1}, None, 2]]}, '{"a": 1},,2'),
    ({"list_join": [",", {"get_param": "l"}]}, "x,y"),
    ({"str_replace": {"template": "$a and $ab", "params": {"$a": "1", "$ab": 2}}},
     "1 and 2"),
    ({"str_replace": {"template": "v=V", "params": {"V": {"k": [1]}}}},
     'v={"k": [1]}'),
    ({"str_replace": {"template": "AB", "params": {"A": "B", "B": "C"}}}, "BC"),
    ({"str_replace_strict": {"template": "xy", "params": {"x": "1"}}}, "1y"),
    ({"str_replace_vstrict": {"template": "xy", "params": {"x": "1"}}}, "1y"),
    ({"str_split": [",", "a,b,c"]}, ["a", "b", "c"]),
    ({"str_split": [",", "a,b,c", 1]}, "b"),
    ({"str_split": [",", "a,b,c", "2"]}, "c"),
    # Heat's test_str_split_none_*: a null string splits to null, a null
    # delimiter splits on whitespace; a negative index counts from the end
    ({"str_split": [".", None]}, None),
    ({"str_split": [".", None, 3]}, None),
    ({"str_split": [None, "check"]}, ["check"]),
    ({"str_split": [None, " a  b "]}, ["a", "b"]),
    ({"str_split": [",", "a,b,c", -1]}, "c"),
    ({"map_merge": [{"a": 1, "b": 1}, {"b": 2}, None]}, {"a": 1, "b": 2}),
    ({"map_replace": [{"a": 1, "b": "v"}, {"keys": {"a": "A"},
                                           "values": {"v": "w"}}]},
     {"A": 1, "b": "w"}),
    ({"repeat": {"for_each": {"%x%": ["1", "2"]}, "template": {"p%x%": "v%x%"}}},
     [{"p1": "v1"}, {"p2": "v2"}]),
    ({"repeat": {"for_each": {"A": ["1", "2"], "B": ["x", "y"]},
                 "template": "AB"}}, ["1x", "1y", "2x", "2y"]),
    ({"repeat": {"for_each": {"A": ["1", "2"], "B": ["x", "y"]},
                 "template": "AB", "permutations": False}}, ["1x", "2y"]),
    ({"repeat": {"for_each": {"A": {"get_param": "l"}}, "template": "<A>"}},
     ["<x>", "<y>"]),
    ({"digest": ["sha256", "abc"]}, hashlib.sha256(b"abc").hexdigest()),
    ({"digest": ["md5", "abc"]}, hashlib.md5(b"abc").hexdigest()),
    ({"digest": ["sha512", ""]}, hashlib.sha512(b"").hexdigest()),
    ({"list_concat": [[1, 2], [2], []]}, [1, 2, 2]),
    ({"list_concat_unique": [[1, 2], [2, 3], [{"a": 1}], [{"a": 1}]]},
     [1, 2, 3, {"a": 1}]),
    ({"contains": ["a", ["a", "b"]]}, True),
    ({"contains": ["z", {"get_param": "l"}]}, False),
    ({"filter": [[1, None], [1, 2, None, 3]]}, [2, 3]),
    ({"make_url": {"scheme": "https", "host": "example.com", "port": 8080,
                   "path": "/a b", "query": {"q": "1 2"}, "fragment": "f"}},
     "https://example.com:8080/a%20b?q=1+2#f"),
    ({"make_url": {"scheme": "http", "username": "u", "password": "p@",
                   "host": "::1", "path": "x"}}, "http://u:p%40@[::1]/x"),
    # Heat's test_make_url_*: '/' stays readable in the query
    ({"make_url": {"scheme": "http", "host": "example.com",
                   "path": "/foo/?bar",
                   "query": {"foo#": "bar & baz", "blarg": "/wib=ble/"}}},
     "http://example.com/foo/%3Fbar?foo%23=bar+%26+baz&blarg=/wib%3Dble/"),
    ({"make_url": {"scheme": "file", "path": "foo/bar"}}, "file:///foo/bar"),
    ({"make_url": {"scheme": "https", "host": "example.com", "port": "80",
                   "path": "/foo/bar"}}, "https://example.com:80/foo/bar"),
    ({"make_url": {"scheme": "http", "username": "wibble", "password": "blarg",
                   "host": "example.com", "path": "/foo/bar"}},
     "http://wibble:blarg@example.com/foo/bar"),
    ({"make_url": {"scheme": "http", "host": "[::1]", "port": 80}},
     "http://[::1]:80"),
    # Heat's MakeURL quotes the host and keeps a password with no username
    ({"make_url": {"scheme": "http", "host": "a b", "password": "p w"}},
     "http://:p%20w@a%20b"),
    ({"if": [True, "yes", "no"]}, "yes"),
    ({"if": [{"equals": [{"get_param": "s"}, "hi"]}, 1, 2]}, 1),
    ({"if": [{"not": {"equals": [{"get_param": "s"}, "hi"]}}, 1, 2]}, 2),
    ({"get_file": "a.txt"}, "content"),
    # A function may yield the whole argument list (Heat resolves first).
    ({"map_merge": {"get_param": "lm"}}, {"a": 1, "b": 2}),
    ({"map_merge": {"repeat": {"for_each": {"%k%": ["x", "y"]},
                               "template": {"%k%": 1}}}}, {"x": 1, "y": 1}),
    ({"list_concat": {"get_param": "ll"}}, [1, 2, 3]),
    ({"list_concat_unique": {"get_param": "ll"}}, [1, 2, 3]),
])
def test_results(expr, expected):
    assert evaluate(expr, params=JSONP, files={"a.txt": "content"}) == expected


@pytest.mark.parametrize("expr, message", [
    ({"get_param": 5}, "get_param: argument must be a parameter name"),
    ({"get_param": [5]}, "get_param: parameter name must be a string"),
    ({"get_param": []}, "get_param: argument must be a parameter name"),
    ({"get_resource": ["a"]},
     "get_resource: argument must be a resource name"),
    ({"get_attr": "a"}, "get_attr: argument must be a list"),
    ({"get_attr": [5, "x"]}, "get_attr: resource name must be a string"),
    ({"get_file": ["x"]}, "get_file: argument must be a file name"),
    ({"list_join": ","},
     "list_join: argument must be a list [delimiter, list"),
    ({"list_join": [",", "abc"]},
     "list_join[1]: must be a list, got a string"),
    ({"str_replace": {"template": "x"}},
     'str_replace: argument must be a map with "template" and "params"'),
    ({"str_replace": {"template": "x", "params": []}},
     'str_replace: "params" must be a map'),
    ({"str_replace": {"template": [], "params": {}}},
     'str_replace: "template" must be a string'),
    ({"str_split": [","]}, "str_split: argument must be a list"),
    ({"map_merge": {"a": 1}}, "map_merge: argument must be a list of maps"),
    ({"map_replace": [{}, {"bogus": {}}]},
     'map_replace: second argument may only have "keys" and "values"'),
    ({"repeat": {"template": "x"}}, 'repeat: argument must be a map with'),
    ({"repeat": {"for_each": {}, "template": "x"}},
     'repeat: "for_each" must be a non-empty map'),
    ({"repeat": {"for_each": {"a": [1]}, "template": "x", "permutations": "x"}},
     'repeat: "permutations" must be a boolean'),
    ({"digest": ["crc32", "x"]}, "digest: unknown algorithm 'crc32'"),
    ({"digest": "x"}, "digest: argument must be a list [algorithm, value]"),
    ({"list_concat": "x"}, "list_concat: argument must be a list of lists"),
    ({"contains": [1]}, "contains: argument must be a list [value, sequence]"),
    ({"filter": [1]}, "filter: argument must be a list"),
    ({"make_url": {"hots": "x"}}, "make_url: unknown key(s) hots"),
    ({"make_url": "x"}, "make_url: argument must be a map of URL parts"),
    ({"if": [True, 1, 2, 3]}, "if: argument must be a list [condition"),
    ({"if": ["nocond", 1, 2]}, "if[0]: unknown condition 'nocond'"),
    ({"if": [5, 1, 2]}, "if[0]: a condition must be a boolean"),
])
def test_parse_errors(expr, message):
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"resources": {"web": {"type": "T", "properties": {"name": expr}}}})
    assert str(err.value).startswith(
        "resources.web.properties.name." + message)


@pytest.mark.parametrize("expr, message", [
    ({"list_join": [",", {"get_param": "s"}]},
     "list_join: arguments to join must be lists, got a string"),
    ({"list_join": [",", [[1]]]}, None),  # multi-list join JSON-encodes
    ({"str_replace": {"template": {"get_param": "j"}, "params": {}}},
     'str_replace: "template" must be a string, got a map'),
    ({"str_replace_strict": {"template": "abc", "params": {"z": "1", "y": ""}}},
     "str_replace_strict: params not found in the template: y, z"),
    ({"str_replace_vstrict": {"template": "abc", "params": {"a": ""}}},
     "str_replace_vstrict: params with empty values: a"),
    # Heat's ReplaceJsonVeryStrict: an empty map or list is empty too
    ({"str_replace_vstrict": {"template": "abc", "params": {"a": {}, "b": []}}},
     "str_replace_vstrict: params with empty values: a, b"),
    ({"str_replace_vstrict": {"template": "abc", "params": {"a": None}}},
     "str_replace_vstrict: params with empty values: a"),
    ({"str_split": [",", "a,b", 5]},
     "str_split: index 5 is out of range (2 items)"),
    ({"str_split": [",", {"get_param": "j"}]},
     "str_split: second argument must be a string, got a map"),
    ({"map_merge": [{"a": 1}, {"get_param": "l"}]},
     "map_merge: item 1 must be a map, got a list"),
    ({"map_replace": [{"a": 1, "b": 2}, {"keys": {"a": "b"}}]},
     "map_replace: key 'b' is duplicated after replacement"),
    ({"repeat": {"for_each": {"A": [1, 2], "B": [1]}, "template": "AB",
                 "permutations": False}},
     "repeat: with permutations false, all for_each lists must have the same"),
    ({"repeat": {"for_each": {"A": {"get_param": "s"}}, "template": "A"}},
     "repeat: for_each value of 'A' must be a list, got a string"),
    ({"digest": ["md5", {"get_param": "j"}]},
     "digest: value to digest must be a string, got a map"),
    ({"list_concat": [[1], {"get_param": "s"}]},
     "list_concat: item 1 must be a list, got a string"),
    ({"contains": [1, {"get_param": "j"}]},
     "contains: second argument must be a list, got a map"),
    ({"filter": [1, [1]]}, "filter: values to remove must be a list"),
    ({"make_url": {"host": "h", "port": 70000}},
     "make_url: port 70000 is out of range 1..65535"),
    ({"make_url": {"host": "h", "query": "q"}},
     "make_url: query must be a map, got a string"),
    ({"get_file": "absent"}, "get_file: file 'absent' is not in the files map"),
    ({"map_merge": {"get_param": "s"}},
     "map_merge: argument must be a list of maps, got a string"),
    ({"list_concat": {"get_param": "j"}},
     "list_concat: argument must be a list of lists, got a map"),
])
def test_evaluation_errors_at_bind(expr, message):
    body = {"parameters": JSONP,
            "resources": {"web": {"type": "T", "properties": {"name": expr}}}}
    t = tmpl(body, files={"a.txt": "x"})
    if message is None:
        t.bind()
        return
    with pytest.raises(exception.StackValidationFailed) as err:
        t.bind()
    assert str(err.value).startswith(
        "resources.web.properties.name." + message)


def test_old_list_join_refuses_non_strings():
    body = {"outputs": {"o": {"value": {"list_join": [",", [[1]]]}}}}
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body, "2015-04-30").bind()
    assert "items to join must be strings, got a list" in str(err.value)


def test_old_str_replace_refuses_maps():
    body = {"outputs": {"o": {"value": {"str_replace": {
        "template": "x", "params": {"x": {"a": 1}}}}}}}
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl(body, "2015-04-30").bind()
    assert "must be a string or number, got a map" in str(err.value)


RES = {"a": {"type": "T"}, "b": {"type": "T"}, "c": {"type": "T"}}


def attrs(resource, name):
    return {"a": {"x": {"k": [1, 2]}, None: {"x": 1}},
            "b": {"y": "Y"}, "c": {"v": [[1], [2]]}}[resource].get(name)


@pytest.mark.parametrize("expr, expected", [
    ({"get_resource": "a"}, "id-a"),
    ({"get_attr": ["a", "x"]}, {"k": [1, 2]}),
    ({"get_attr": ["a", "x", "k", 1]}, 2),
    ({"get_attr": ["a", "x", "nope", 1]}, None),
    ({"get_attr": ["a", "x", "k", 9]}, None),
    ({"get_attr": ["a"]}, {"x": 1}),
    ({"list_concat": {"get_attr": ["c", "v"]}}, [1, 2]),
    ({"list_join": ["/", [{"get_resource": "a"}, {"get_attr": ["b", "y"]}]]},
     "id-a/Y"),
    ({"str_replace": {"template": "R", "params": {"R": {"get_resource": "b"}}}},
     "id-b"),
])
def test_runtime_references(expr, expected):
    got = evaluate(expr, resources=RES, refs={"a": "id-a", "b": "id-b"},
                   attrs=attrs)
    assert got == expected


def test_missing_reference_at_runtime_is_an_error():
    with pytest.raises(exception.StackValidationFailed) as err:
        evaluate({"get_resource": "a"}, resources=RES, refs={})
    assert str(err.value) == ("outputs.out.value.get_resource: the reference "
                              "of resource 'a' is not available")


def test_get_attr_attribute_from_parameter():
    d = tmpl({"parameters": {"n": {"type": "string", "default": "x"}},
              "resources": RES,
              "outputs": {"o": {"value": {"get_attr": ["a", {"get_param": "n"}]}}}
              }).bind()
    assert d.attribute_refs("a") == frozenset(["x"])
    assert d.outputs["o"].resolve({}, attrs) == {"k": [1, 2]}


def test_get_attr_attribute_depending_on_resources_refused():
    with pytest.raises(exception.StackValidationFailed) as err:
        tmpl({"resources": RES, "outputs": {"o": {"value": {
            "get_attr": ["a", {"get_resource": "b"}]}}}}).bind()
    assert str(err.value) == ("outputs.o.value.get_attr: attribute name must "
                              "not depend on resources")


def test_function_like_keys_in_larger_maps_are_data():
    expr = {"get_param": "s", "other": 1}
    assert evaluate(expr, params=JSONP) == expr


# repeat's edge cases, as Heat's Repeat / RepeatWithMap / RepeatWithNestedLoop
# pin them down.
NULLP = {"n": {"type": "json", "default": {"x": None}},
         "m": {"type": "json", "default": {"k1": 1, "k2": 2}},
         "fe": {"type": "json", "default": {"%a%": ["x", "y"]}}}


@pytest.mark.parametrize("version, expr, expected", [
    # a null value (an empty parameter) is an empty list
    ("2015-04-30", {"repeat": {"for_each": {"X": None}, "template": "X"}}, []),
    ("2021-04-16", {"repeat": {"for_each": {"X": {"get_param": ["n", "x"]}},
                               "template": "X"}}, []),
    ("2021-04-16", {"repeat": {"for_each": {"X": None, "Y": ["a"]},
                               "template": "XY", "permutations": False}}, []),
    # a map value iterates its keys from 2016-10-14 on
    ("2016-10-14", {"repeat": {"for_each": {"X": {"get_param": "m"}},
                               "template": "X"}}, ["k1", "k2"]),
    # the whole for_each may come from a function
    ("2021-04-16", {"repeat": {"for_each": {"get_param": "fe"},
                               "template": "<%a%>"}}, ["<x>", "<y>"]),
])
def test_repeat_edge_cases(version, expr, expected):
    assert evaluate(expr, version, params=NULLP) == expected


@pytest.mark.parametrize("version, expr, message", [
    ("2016-04-08", {"repeat": {"for_each": {"X": {"get_param": "m"}},
                               "template": "X"}},
     "repeat: for_each value of 'X' must be a list, got a map"),
    ("2021-04-16", {"repeat": {"for_each": {"X": {"get_param": "m"}},
                               "template": "X", "permutations": False}},
     "repeat: for_each value of 'X' must be a list, got a map "
     "(maps only with permutations)"),
])
def test_repeat_refusals_at_bind(version, expr, message):
    with pytest.raises(exception.StackValidationFailed) as err:
        evaluate(expr, version, params=NULLP)
    assert str(err.value) == "outputs.out.value." + message


def test_repeat_permutations_before_2017_09_01_named_clearly():
    expr = {"repeat": {"for_each": {"X": ["a"]}, "template": "X",
                       "permutations": False}}
    with pytest.raises(exception.StackValidationFailed) as err:
        evaluate(expr, "2017-02-24")
    assert str(err.value) == (
        'outputs.out.value.repeat: "permutations" needs '
        'heat_template_version 2017-09-01 or later')
