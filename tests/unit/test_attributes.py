import pytest

from heatflow import attributes


def test_schema_defaults():
    s = attributes.Schema("Where it lives.")
    assert s.description == "Where it lives."
    assert s.type is None
    assert s.cache_mode == attributes.CACHE_LOCAL


def test_type_and_cache_constants():
    s = attributes.Schema("x", type=attributes.Schema.LIST,
                          cache_mode=attributes.Schema.CACHE_NONE)
    assert (s.type, s.cache_mode) == ("List", "cache_none")
    assert attributes.Schema.TYPES == ("String", "Map", "List", "Integer",
                                       "Boolean", "Number")


@pytest.mark.parametrize("kwargs", [{"type": "Str"}, {"cache_mode": "x"}])
def test_bad_schema(kwargs):
    with pytest.raises(ValueError):
        attributes.Schema("x", **kwargs)


def test_base_attributes_has_show():
    show = attributes.BASE_ATTRIBUTES["show"]
    assert show.description == "Detailed information about resource."
    assert show.type == attributes.Schema.MAP


def test_all_attributes_merges_base():
    mine = {"url": attributes.Schema("u")}
    merged = attributes.all_attributes(mine)
    assert set(merged) == {"url", "show"}
    assert "show" not in mine


@pytest.mark.parametrize("value,path,expected", [
    ({"a": [1, {"b": 2}]}, ["a", 1, "b"], 2),
    ({"a": [1, 2]}, ["a", "0"], 1),
    ({"a": 1}, ["missing"], None),
    ([1], [5], None),
    ("text", [0], None),
    ({"a": 1}, [], {"a": 1}),
])
def test_select_from_attribute(value, path, expected):
    assert attributes.select_from_attribute(value, path) == expected
