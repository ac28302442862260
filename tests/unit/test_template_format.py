"""heatflow.template_format: Heat's parse()/simple_parse() interface on
heatflow's loader (issue 18)."""

import collections

import pytest
import yaml

from heatflow import exception
from heatflow import template_format as tf


def test_yaml_and_json():
    assert tf.parse("heat_template_version: 2018-08-31\nresources: {}\n") \
        == {"heat_template_version": "2018-08-31", "resources": {}}
    # JSON may hold tabs, which YAML refuses.
    assert tf.parse('{"AWSTemplateFormatVersion":\t"2010-09-09"}') == \
        {"AWSTemplateFormatVersion": "2010-09-09"}
    assert tf.parse("HeatTemplateFormatVersion: '2012-12-12'") == \
        {"HeatTemplateFormatVersion": "2012-12-12"}


@pytest.mark.parametrize("text,words", [
    ("resources: {}", "version not found"),
    ("", "version not found"),
    ("- a\n- b\n", "not a JSON object or YAML mapping"),
    ("a: [", "not valid YAML"),
    ("!!python/object:os.system {}", "not valid YAML"),
])
def test_bad_templates_are_value_errors(text, words):
    with pytest.raises(ValueError, match=words) as info:
        tf.parse(text)
    assert isinstance(info.value, exception.StackValidationFailed)


@pytest.mark.parametrize("text,answer", [
    ("heat_template_version: 2018-08-31\n", True),
    ('{"AWSTemplateFormatVersion": "2010-09-09"}', True),
    # a docker-compose file, a script, broken YAML: data, not templates
    ("version: '2'\nservices: {web: {image: nginx}}\n", False),
    ("#!/bin/sh\necho hi\n", False),
    ("a: [", False),
    ("", False),
])
def test_is_template(text, answer):
    assert tf.is_template(text) is answer


def test_simple_parse_needs_no_version_and_empty_is_empty():
    assert tf.simple_parse("a: 1") == {"a": 1}
    assert tf.simple_parse("  \n") == {}
    with pytest.raises(ValueError, match="nested.yaml"):
        tf.simple_parse("a: [", tmpl_url="nested.yaml")


def test_the_size_limit():
    big = "heat_template_version: 2018-08-31\ndescription: " + "x" * 524288
    with pytest.raises(exception.RequestLimitExceeded, match="524288"):
        tf.parse(big)
    with pytest.raises(exception.RequestLimitExceeded):
        tf.validate_template_limit("x" * 524289)
    tf.validate_template_limit("x" * 524288)


def test_alias_bombs_are_limits_too():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        "%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n"
        % ((chr(98 + i), chr(98 + i)) + (chr(97 + i),) * 10)
        for i in range(8))
    with pytest.raises(exception.RequestLimitExceeded):
        tf.simple_parse(bomb)


def test_loader_and_dumper():
    assert yaml.load("d: 2020-01-01", Loader=tf.yaml_loader) == \
        {"d": "2020-01-01"}                 # dates stay text
    text = yaml.dump(collections.OrderedDict([("b", 1), ("a", 2)]),
                     Dumper=tf.yaml_dumper)
    assert text == "b: 1\na: 2\n"
    with pytest.raises(yaml.YAMLError):
        yaml.dump(object(), Dumper=tf.yaml_dumper)
