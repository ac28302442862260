"""Small builders shared by the template tests."""

import json

import yaml

from heatflow.template import Template


def tmpl(body, version="2021-04-16", files=None, limits=None):
    """A Template from a dict of sections (version added)."""
    data = {"heat_template_version": version}
    data.update(body)
    return Template.load(data, files=files, limits=limits)


def evaluate(expr, version="2021-04-16", params=None, param_values=None,
             files=None, refs=None, attrs=None, resources=None,
             conditions=None):
    """Evaluate ``expr`` as the value of an output and return the result.

    Raises what bind() or resolution raises.
    """
    body = {"outputs": {"out": {"value": expr}},
            "resources": resources or {}}
    if params:
        body["parameters"] = params
    if conditions:
        body["conditions"] = conditions
    definition = tmpl(body, version, files=files).bind(param_values)
    return definition.outputs["out"].resolve(
        refs or {}, attrs or (lambda r, a: None))


def load_yaml(text, **kw):
    return Template.load(text, **kw)


def roundtrip(t):
    return Template.from_dict(json.loads(json.dumps(t.to_dict())))


__all__ = ["tmpl", "evaluate", "load_yaml", "roundtrip", "yaml"]
