"""CloudFormation-format templates, read as Heat reads them.

A template with ``AWSTemplateFormatVersion: 2010-09-09`` or
``HeatTemplateFormatVersion: 2012-12-12`` is Heat's CfnTemplate /
HeatTemplate: sections Description, Parameters, Mappings, Conditions (AWS
format only), Resources and Outputs, and the ``Ref`` / ``Fn::*``
functions (``cfn_functions``).  :func:`translate` renames its sections and
keys to their HOT equivalents, so that the rest of the template package
handles one shape; the stored template stays as written.  Errors name the
place with those HOT names (``resources.web.properties.size``).
"""

from heatflow import exception
from heatflow.template import parameters, versions

FORMATS = {"AWSTemplateFormatVersion": ("2010-09-09",),
           "HeatTemplateFormatVersion": ("2012-12-12",)}

FUNCTIONS = frozenset((
    "Ref", "Fn::GetAtt", "Fn::Join", "Fn::Select", "Fn::Split",
    "Fn::Replace", "Fn::Base64", "Fn::FindInMap", "Fn::GetAZs",
    "Fn::MemberListToMap", "Fn::ResourceFacade"))
CONDITION_FUNCTIONS = frozenset((
    "Fn::Equals", "Ref", "Fn::FindInMap", "Fn::Not", "Fn::And", "Fn::Or"))

_PARAM_TYPES = {"String": "string", "Number": "number",
                "CommaDelimitedList": "comma_delimited_list",
                "Json": "json", "Boolean": "boolean"}
_PARAM_KEYS = frozenset((
    "Type", "Default", "NoEcho", "AllowedValues", "AllowedPattern",
    "MaxLength", "MinLength", "MaxValue", "MinValue", "Description",
    "ConstraintDescription", "Label"))
_RESOURCE_KEYS = {"Type": "type", "Properties": "properties",
                  "Metadata": "metadata", "DependsOn": "depends_on",
                  "DeletionPolicy": "deletion_policy",
                  "UpdatePolicy": "update_policy",
                  "Description": "description"}
_OUTPUT_KEYS = {"Value": "value", "Description": "description"}


def _fail(message, path):
    raise exception.StackValidationFailed(message, path)


def format_of(data):
    """``(key, version)`` if ``data`` is a CFN-format template, else None."""
    found = [k for k in FORMATS if k in data]
    if not found:
        return None
    if len(found) > 1:
        _fail("a template has one format version, not both %s"
              % " and ".join(sorted(found)), found[0])
    key = found[0]
    version = data[key]
    if hasattr(version, "isoformat"):
        version = version.isoformat()
    if version not in FORMATS[key]:
        _fail("unknown %s %r (known: %s)"
              % (key, version, ", ".join(FORMATS[key])), key)
    return key, version


class CfnVersion(versions.Version):
    """What a CFN-format template allows, in the terms the parser uses."""

    def __init__(self, key, version):
        # the HOT version whose features CFN shares (conditions, Fn::If)
        super().__init__("2016-10-14")
        self.date = version
        self.cfn = key
        self.functions = FUNCTIONS | (
            {"Fn::If"} if key == "AWSTemplateFormatVersion" else set())
        self.condition_functions = CONDITION_FUNCTIONS
        self.has_conditions = key == "AWSTemplateFormatVersion"
        self.multi_list_join = False
        self.json_replace = False
        self.get_attr_all = False
        self.if_nullable = False
        self.deletion_policies = {"Delete": "Delete", "Retain": "Retain",
                                  "Snapshot": "Snapshot"}
        self.param_constraints = frozenset(
            ("length", "range", "allowed_values", "allowed_pattern"))
        if not self.has_conditions:
            self.sections = self.sections - {"conditions"}
            self.resource_keys = self.resource_keys - {"condition"}
            self.output_keys = self.output_keys - {"condition"}

    def since(self, name):
        return "a HOT template"


def _renamed(data, names, path, what, extra=()):
    if not isinstance(data, dict):
        _fail("%s must be a map, got %s" % (what, type(data).__name__), path)
    out = {}
    for key, value in data.items():
        if key in names:
            out[names[key]] = value
        elif key in extra:
            out[extra[key]] = value
        else:
            _fail("unknown key %r in %s (allowed: %s)"
                  % (key, what, ", ".join(sorted(list(names) +
                                                 list(extra)))),
                  path)
    return out


def _number(value, path):
    try:
        return parameters.convert("number", value, path)
    except exception.StackValidationFailed:
        _fail("must be a number, got %r" % (value,), path)


def _parameter(name, data):
    """A CFN parameter schema as the HOT one it means."""
    path = ("Parameters", name)
    if not isinstance(data, dict):
        _fail("a parameter must be a map with at least a Type", path)
    unknown = sorted(set(data) - _PARAM_KEYS)
    if unknown:
        _fail("unknown key(s) %s in parameter (allowed: %s)"
              % (", ".join(map(str, unknown)), ", ".join(sorted(_PARAM_KEYS))),
              path)
    ptype = data.get("Type")
    if ptype not in _PARAM_TYPES:
        _fail("unknown Type %r (allowed: %s)"
              % (ptype, ", ".join(sorted(_PARAM_TYPES))), path + ("Type",))
    out = {"type": _PARAM_TYPES[ptype]}
    if "Default" in data:
        out["default"] = data["Default"]
    if "NoEcho" in data:
        out["hidden"] = data["NoEcho"]
    for key in ("Description", "Label"):
        if key in data:
            out[key.lower()] = data[key]
    described = {}
    if data.get("ConstraintDescription") is not None:
        described["description"] = data["ConstraintDescription"]
    constraints = []
    if "AllowedValues" in data:
        constraints.append(dict(described,
                                allowed_values=data["AllowedValues"]))
    if "AllowedPattern" in data:
        constraints.append(dict(described,
                                allowed_pattern=data["AllowedPattern"]))
    for low, high, kind in (("MinLength", "MaxLength", "length"),
                            ("MinValue", "MaxValue", "range")):
        bounds = {}
        for key, bound in ((low, "min"), (high, "max")):
            if key in data:
                bounds[bound] = _number(data[key], path + (key,))
        if bounds:
            constraints.append(dict(described, **{kind: bounds}))
    if constraints:
        out["constraints"] = constraints
    return out


def _section(data, name, what):
    section = data.get(name) or {}
    if not isinstance(section, dict):
        _fail("must be a map of %s definitions" % what, name)
    return section.items()


def translate(data, key):
    """The HOT-shaped equivalent of the CFN-format template ``data``."""
    allowed = {key, "Description", "Parameters", "Mappings", "Resources",
               "Outputs"}
    if key == "AWSTemplateFormatVersion":
        allowed.add("Conditions")
    unknown = sorted(set(data) - allowed)
    if unknown:
        _fail("unknown section(s) %s (allowed: %s)"
              % (", ".join(repr(s) for s in unknown),
                 ", ".join(sorted(allowed))), unknown[0])
    hot = {"heat_template_version": "2016-10-14"}
    if data.get("Description") is not None:
        hot["description"] = data["Description"]
    hot["parameters"] = {n: _parameter(n, p) for n, p in
                         _section(data, "Parameters", "parameter")}
    extra = {"Condition": "condition"} if "Conditions" in allowed else {}
    hot["resources"] = {
        n: _renamed(r, _RESOURCE_KEYS, ("Resources", n), "a resource", extra)
        for n, r in _section(data, "Resources", "resource")}
    hot["outputs"] = {
        n: _renamed(o, _OUTPUT_KEYS, ("Outputs", n), "an output", extra)
        for n, o in _section(data, "Outputs", "output")}
    if data.get("Conditions") is not None:
        hot["conditions"] = data["Conditions"]
    return hot


def mappings(data):
    """The Mappings section, checked: map name -> key -> name -> value."""
    maps = data.get("Mappings") or {}
    if not isinstance(maps, dict):
        _fail("must be a map of mappings", "Mappings")
    for name, mapping in maps.items():
        if not isinstance(mapping, dict) or not all(
                isinstance(v, dict) for v in mapping.values()):
            _fail("a mapping must be a map of maps", ("Mappings", name))
    return maps


# -- reading a stored template without parsing it ---------------------------

def _is_cfn(content):
    return any(k in content for k in FORMATS)


def _entries(content, hot_section, cfn_section):
    content = content or {}
    section = cfn_section if _is_cfn(content) else hot_section
    return [(k, v) for k, v in (content.get(section) or {}).items()
            if isinstance(v, dict)]


def resource_types(content):
    """The resource types a stored template (HOT or CFN) names."""
    return [r.get("Type", r.get("type"))
            for _, r in _entries(content, "resources", "Resources")]


def parameter_defaults(content):
    """``{name: default}`` of a stored template's parameters that have
    one (HOT's ``default``, CFN's ``Default``), as written."""
    defaults = {}
    for name, p in _entries(content, "parameters", "Parameters"):
        value = p.get("Default", p.get("default"))
        if value is not None:
            defaults[name] = value
    return defaults


def hidden_parameters(content):
    """The parameters of a stored template whose values are secret (HOT's
    ``hidden``, CFN's ``NoEcho``; stored as booleans by Template)."""
    return {k for k, p in _entries(content, "parameters", "Parameters")
            if p.get("NoEcho", p.get("hidden")) in (True, "true")}
