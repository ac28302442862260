import datetime
import json

import pytest

from heatflow import exception
from heatflow.template import Limits, Template

MINIMAL = "heat_template_version: 2018-08-31\nresources: {}\n"


def test_yaml_text_date_version_becomes_canonical_string():
    t = Template.load(MINIMAL)
    assert t.version == "2018-08-31"
    assert t.to_dict()["heat_template_version"] == "2018-08-31"


def test_dict_with_date_object_version():
    t = Template.load({"heat_template_version": datetime.date(2016, 10, 14)})
    assert t.version == "2016-10-14"
    json.dumps(t.to_dict())


def test_bytes_and_json_text():
    assert Template.load(MINIMAL.encode()).version == "2018-08-31"
    text = json.dumps({"heat_template_version": "2015-10-15",
                       "resources": {"a": {"type": "T"}}})
    assert Template.load(text).version == "2015-10-15"
    # JSON with tabs, which YAML alone would refuse
    assert Template.load('{\t"heat_template_version": "pike"}').version == \
        "2017-09-01"


def test_path_and_pathlike(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(MINIMAL)
    assert Template.load(p).version == "2018-08-31"
    assert Template.load(str(p)).version == "2018-08-31"


def test_dates_in_data_stay_text():
    t = Template.load(MINIMAL + "outputs:\n  d: {value: 2020-01-02}\n")
    assert t.bind().outputs["d"].resolve({}, None) == "2020-01-02"


@pytest.mark.parametrize("source, message", [
    ("", "template: template is empty"),
    ("   \n# only a comment\n", "template: template is empty"),
    (b"\xff\xfe\x00\x01\x80", "template: template is not UTF-8 text"),
    ("a\x00b: 1", "template: template contains NUL characters"),
    ("- 1\n- 2\n", "template: template must be a map of sections, got a list"),
    ("just text", "template: template must be a map of sections, got a str"),
    ("a: [1, 2", "template: template is not valid YAML"),
    ("resources: {}\n", "template: missing heat_template_version"),
])
def test_bad_documents(source, message):
    with pytest.raises(exception.StackValidationFailed) as err:
        Template.load(source)
    assert str(err.value).startswith(message)


def test_python_tags_are_refused():
    text = MINIMAL + \
        "outputs:\n  o: {value: !!python/object/apply:os.system ['true']}\n"
    with pytest.raises(exception.StackValidationFailed) as err:
        Template.load(text)
    assert "not valid YAML" in str(err.value)
    text = MINIMAL + "outputs:\n  o: {value: !!python/object:object {}}\n"
    with pytest.raises(exception.StackValidationFailed):
        Template.load(text)


def test_unknown_local_tag_refused():
    with pytest.raises(exception.StackValidationFailed):
        Template.load(MINIMAL + "description: !custom x\n")


def test_template_size_limit():
    big = MINIMAL + "description: '" + "x" * 2000 + "'\n"
    with pytest.raises(exception.LimitExceeded) as err:
        Template.load(big, limits=Limits(max_template_bytes=1000))
    assert "max_template_bytes" in str(err.value)
    assert str(err.value).startswith("template: ")
    with pytest.raises(exception.LimitExceeded):
        Template.load(big.encode(), limits=Limits(max_template_bytes=1000))
    assert Template.load(big, limits=Limits(max_template_bytes=4000))


def test_default_size_limit_is_512k():
    assert Limits().max_template_bytes == 524288
    big = MINIMAL + "description: '" + "x" * 524288 + "'\n"
    with pytest.raises(exception.LimitExceeded):
        Template.load(big)


def test_billion_laughs_fails_fast():
    lines = ["heat_template_version: 2018-08-31", "a0: &a0 [lol, lol]"]
    for i in range(1, 10):
        prev = "*a%d" % (i - 1)
        lines.append("a%d: &a%d [%s]" % (i, i, ", ".join([prev] * 9)))
    text = "\n".join(lines) + "\n"
    import time
    start = time.monotonic()
    with pytest.raises(exception.LimitExceeded) as err:
        Template.load(text)
    assert time.monotonic() - start < 2
    assert "max_yaml_nodes" in str(err.value)


def test_alias_count_limit():
    text = ("heat_template_version: 2018-08-31\nx: &x 1\n"
            "description: [" + ", ".join(["*x"] * 20) + "]\n")
    with pytest.raises(exception.LimitExceeded) as err:
        Template.load(text, limits=Limits(max_yaml_aliases=10))
    assert "max_yaml_aliases" in str(err.value)


def test_modest_aliases_are_fine():
    text = (MINIMAL + "outputs:\n  a: &o {value: 1}\n  b: *o\n")
    t = Template.load(text)
    assert t.bind().resolve_outputs({}, None)["b"]["value"] == 1


def test_nesting_depth_limit():
    value = "x"
    for _ in range(70):
        value = [value]
    with pytest.raises(exception.LimitExceeded) as err:
        Template.load({"heat_template_version": "2018-08-31",
                       "outputs": {"o": {"value": value}}})
    assert "max_nesting_depth" in str(err.value)
    assert str(err.value).startswith("outputs.o.value[0][0]")


def test_resource_count_limit():
    res = {"r%d" % i: {"type": "T"} for i in range(6)}
    with pytest.raises(exception.LimitExceeded) as err:
        Template.load({"heat_template_version": "2018-08-31",
                       "resources": res}, limits=Limits(max_resources=5))
    assert str(err.value).startswith("resources: template has 6 resources")


def test_value_size_limit():
    t = Template.load({
        "heat_template_version": "2018-08-31",
        "parameters": {"n": {"type": "comma_delimited_list"}},
        "outputs": {"o": {"value": {"list_join": [
            "", {"repeat": {"for_each": {"X": {"get_param": "n"}},
                            "template": "X" * 100}}]}}}},
        limits=Limits(max_value_bytes=5000))
    ok = t.bind({"n": ",".join(["a"] * 10)})
    assert len(ok.outputs["o"].resolve({}, None)) == 1000
    with pytest.raises(exception.LimitExceeded) as err:
        t.bind({"n": ",".join(["a"] * 100)})
    assert "max_value_bytes" in str(err.value)
    assert str(err.value).startswith("outputs.o.value.list_join[1].repeat")


def test_to_dict_roundtrip():
    t = Template.load(
        MINIMAL + "resources:\n  a: {type: T, properties: {x: 1}}\n")
    again = Template.from_dict(json.loads(json.dumps(t.to_dict())))
    assert again.to_dict() == t.to_dict()
    d = t.to_dict()
    d["resources"]["a"]["type"] = "changed"
    assert t.to_dict()["resources"]["a"]["type"] == "T"


def test_resource_name_must_be_string():
    with pytest.raises(exception.StackValidationFailed) as err:
        Template.load("heat_template_version: 2018-08-31\nresources:\n"
                      "  123: {type: T}\n")
    assert "resource name 123 must be a string" in str(err.value)
