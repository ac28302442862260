"""Template text to data, as plugins call it: Heat's
``heat.common.template_format`` (an ``OS::Heat::Stack``-like plugin parses
the template it is given as a property).

The parsing is heatflow's own (heatflow.template.loader: a safe YAML
loader that keeps dates as text and refuses alias bombs, JSON tried first
for text starting with ``{``); this module gives it Heat's interface:

* :func:`simple_parse` -- JSON or YAML to a dict; empty text is ``{}``;
* :func:`parse` -- the same, within the template size limit, and the
  result must name a template version;
* :func:`is_template` -- whether text is a template (python-heatclient's
  test of a ``get_file``'d file, whose own files are then read too);
* :data:`yaml_loader`, :data:`yaml_dumper` -- for ``yaml.load(text,
  Loader=yaml_loader)`` and ``yaml.dump(data, Dumper=yaml_dumper)``.

Malformed text raises :class:`TemplateFormatError`, a ValueError (what
Heat raises, and what ported plugins catch) that is also a
StackValidationFailed; text over the limit raises
``exception.RequestLimitExceeded``.
"""

import collections

import yaml

from heatflow import exception
from heatflow.template import loader

#: The loader templates are read with (safe: tags build no objects; dates
#: stay the text they were written as).
yaml_loader = loader._Loader

try:  # libyaml when the PyYAML build has it, as for the loader
    _DumperBase = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _DumperBase = yaml.SafeDumper


class yaml_dumper(_DumperBase):
    """Safe dumper that also writes OrderedDicts (as plain mappings, in
    their order)."""

    def represent_ordered_dict(self, data):
        return self.represent_dict(data.items())


yaml_dumper.add_representer(collections.OrderedDict,
                            yaml_dumper.represent_ordered_dict)

#: The keys that say which template format a dict is.
VERSION_KEYS = ("heat_template_version", "HeatTemplateFormatVersion",
                "AWSTemplateFormatVersion")


class TemplateFormatError(exception.StackValidationFailed, ValueError):
    """The text is not a template's JSON or YAML."""


def validate_template_limit(contain_str, limits=None):
    """RequestLimitExceeded when ``contain_str`` is longer than the
    template size limit (``Limits.max_template_bytes``, 512 KiB as in
    Heat)."""
    limit = (limits or loader.DEFAULT_LIMITS).max_template_bytes
    text = contain_str if isinstance(contain_str, (bytes, bytearray)) \
        else str(contain_str).encode("utf-8", "surrogatepass")
    if len(text) > limit:
        raise exception.RequestLimitExceeded(
            message="the template is %d bytes, more than the limit of %d "
                    "bytes" % (len(text), limit))


def simple_parse(tmpl_str, tmpl_url=None):
    """``tmpl_str`` (JSON or YAML) as a dict; ``tmpl_url`` names it in
    errors (default: the root stack's template)."""
    what = "template %s" % (tmpl_url or "[root stack]")
    if isinstance(tmpl_str, (bytes, bytearray)):
        tmpl_str = bytes(tmpl_str).decode("utf-8-sig", "replace")
    if not tmpl_str.strip():
        return {}       # Heat: an empty document is an empty template
    try:
        data = loader.parse_text(tmpl_str, loader.DEFAULT_LIMITS, what)
    except exception.LimitExceeded as exc:
        raise exception.RequestLimitExceeded(message=exc.message) from None
    except exception.StackValidationFailed as exc:
        raise TemplateFormatError(exc.message) from None
    if not isinstance(data, dict):
        raise TemplateFormatError(
            "%s is not a JSON object or YAML mapping" % what)
    return data


def parse(tmpl_str, tmpl_url=None):
    """:func:`simple_parse` for a template that must say its version
    (``heat_template_version`` and Heat's other version keys).  (Both
    keep to the size limit: the loader checks it.)"""
    data = simple_parse(tmpl_str, tmpl_url)
    if not any(key in data for key in VERSION_KEYS):
        raise TemplateFormatError("template format version not found: the "
                                  "template needs one of %s"
                                  % ", ".join(VERSION_KEYS))
    return data


def is_template(tmpl_str):
    """Whether ``tmpl_str`` parses as a template (:func:`parse` accepts
    it), as python-heatclient asks of a file read with ``get_file``: a
    file that is one may read files of its own (an ``OS::Heat::Stack``'s
    template); other YAML (a docker-compose file) is data."""
    try:
        parse(tmpl_str)
    except (ValueError, exception.HeatflowError):
        return False
    return True
