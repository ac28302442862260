"""HOT template versions and what each of them allows.

The table below follows Heat's per-version classes in
``heat/engine/hot/template.py`` (openstack/heat; the stored copy read for this
module ends at 2018-08-31).  2021-04-16 (wallaby) is Heat's last HOT version;
its one language change, as far as we know it, is that ``if`` may omit the
false branch, in which case the value is dropped from its enclosing map/list.

=============  ===========================================================
version        functions added (cumulative; "cond" = condition functions)
=============  ===========================================================
2013-05-23     get_param, get_resource, get_attr, get_file, list_join,
               str_replace, and CFN's Ref, Fn::GetAZs, Fn::Join,
               Fn::Select, Fn::Split, Fn::Replace, Fn::Base64,
               Fn::MemberListToMap, Fn::ResourceFacade
2014-10-16     (CFN functions removed, but Fn::Select)
2015-04-30     digest, repeat
2015-10-15     (Fn::Select removed) str_split; list_join takes several
               lists; str_replace
               accepts non-string params (JSON-encoded); get_attr without
               an attribute name (all attributes)
2016-04-08     map_merge
2016-10-14     map_replace, yaql, if; the
               ``conditions`` section; resource/output ``condition``;
               cond: get_param, equals, not, and, or; lowercase
               deletion policies
2017-02-24     filter, str_replace_strict; parameter constraint ``modulo``
2017-09-01     make_url, list_concat, list_concat_unique, contains,
               str_replace_vstrict; ``repeat`` takes ``permutations``;
               cond: contains, yaql
2018-03-02     parameter ``tags``
2018-08-31     (no language change)
2021-04-16     ``if`` false branch optional
=============  ===========================================================

``resource_facade`` exists in every version in Heat but only means something
inside a nested stack, which heatflow does not have; it is refused with a
clear message.  Condition functions (equals, not, and, or) are only
functions in the ``conditions`` section, a resource's or output's
``condition`` and the first argument of ``if``, as in Heat; elsewhere, like
a function too new for the version, such a map is plain data (the parser
records a warning).
"""

import datetime

from heatflow import exception

VERSIONS = (
    "2013-05-23", "2014-10-16", "2015-04-30", "2015-10-15", "2016-04-08",
    "2016-10-14", "2017-02-24", "2017-09-01", "2018-03-02", "2018-08-31",
    "2021-04-16",
)

ALIASES = {
    "newton": "2016-10-14",
    "ocata": "2017-02-24",
    "pike": "2017-09-01",
    "queens": "2018-03-02",
    "rocky": "2018-08-31",
    "wallaby": "2021-04-16",
}

# function name -> first version that has it (ISO dates compare as strings).
FUNCTIONS_SINCE = {
    "get_param": "2013-05-23",
    "get_resource": "2013-05-23",
    "get_attr": "2013-05-23",
    "get_file": "2013-05-23",
    "list_join": "2013-05-23",
    "str_replace": "2013-05-23",
    "resource_facade": "2013-05-23",
    "digest": "2015-04-30",
    "repeat": "2015-04-30",
    "str_split": "2015-10-15",
    "map_merge": "2016-04-08",
    "map_replace": "2016-10-14",
    "yaql": "2016-10-14",
    "if": "2016-10-14",
    "filter": "2017-02-24",
    "str_replace_strict": "2017-02-24",
    "make_url": "2017-09-01",
    "list_concat": "2017-09-01",
    "list_concat_unique": "2017-09-01",
    "contains": "2017-09-01",
    "str_replace_vstrict": "2017-09-01",
}

CONDITION_FUNCTIONS_SINCE = {
    "get_param": "2016-10-14",
    "equals": "2016-10-14",
    "not": "2016-10-14",
    "and": "2016-10-14",
    "or": "2016-10-14",
    "contains": "2017-09-01",
    "yaql": "2017-09-01",
}

# CloudFormation spellings: functions of CFN-format templates (cfn.py); in
# HOT they are refused (Heat's 2013-05-23 accepted some; see the docs).
CFN_FUNCTIONS = frozenset((
    "Fn::GetAZs", "Ref", "Fn::Select", "Fn::Join", "Fn::Split", "Fn::Replace",
    "Fn::Base64", "Fn::MemberListToMap", "Fn::ResourceFacade", "Fn::GetAtt",
    "Fn::FindInMap", "Fn::If", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or",
))

# The CloudFormation functions HOT versions also had, and the last version
# that had each (Heat's HOTemplate20130523 took them from CFN; 2014-10-16
# removed all but Fn::Select, which went in 2015-10-15).
HOT_CFN_FUNCTIONS_UNTIL = {
    "Ref": "2013-05-23", "Fn::GetAZs": "2013-05-23",
    "Fn::Join": "2013-05-23", "Fn::Split": "2013-05-23",
    "Fn::Replace": "2013-05-23", "Fn::Base64": "2013-05-23",
    "Fn::MemberListToMap": "2013-05-23", "Fn::ResourceFacade": "2013-05-23",
    "Fn::Select": "2015-04-30",
}

# Every name that can ever be a function; a one-key map whose key is one of
# these is a call (or an error if the version lacks it).
ALL_FUNCTION_NAMES = (frozenset(FUNCTIONS_SINCE) |
                      frozenset(CONDITION_FUNCTIONS_SINCE) | CFN_FUNCTIONS)


class Version:
    """What one HOT version allows, looked up by the parser and loaders."""

    def __init__(self, date):
        self.date = date
        self.functions = frozenset(
            [n for n, since in FUNCTIONS_SINCE.items() if date >= since] +
            [n for n, until in HOT_CFN_FUNCTIONS_UNTIL.items()
             if date <= until])
        self.condition_functions = frozenset(
            n for n, since in CONDITION_FUNCTIONS_SINCE.items()
            if date >= since)
        self.has_conditions = date >= "2016-10-14"
        sections = ["heat_template_version", "description",
                    "parameter_groups", "parameters", "resources", "outputs"]
        resource_keys = ["type", "properties", "metadata", "depends_on",
                         "deletion_policy", "update_policy", "description",
                         # heatflow extension keys, valid in every version
                         "timeout", "retries"]
        output_keys = ["value", "description"]
        if self.has_conditions:
            sections.append("conditions")
            resource_keys += ["condition", "external_id"]
            output_keys.append("condition")
        self.sections = frozenset(sections)
        self.resource_keys = frozenset(resource_keys)
        self.output_keys = frozenset(output_keys)
        self.deletion_policies = {"Delete": "Delete", "Retain": "Retain",
                                  "Snapshot": "Snapshot"}
        if self.has_conditions:
            self.deletion_policies.update(
                delete="Delete", retain="Retain", snapshot="Snapshot")
        self.param_keys = frozenset(
            ["type", "default", "hidden", "label", "description",
             "immutable", "constraints"] +
            (["tags"] if date >= "2018-03-02" else []))
        self.param_constraints = frozenset(
            ["length", "range", "allowed_values", "allowed_pattern",
             "custom_constraint"] +
            (["modulo"] if date >= "2017-02-24" else []))
        # 2015-10-15 made list_join take many lists and str_replace accept
        # non-string values, and made get_attr's attribute optional.
        self.multi_list_join = date >= "2015-10-15"
        self.json_replace = date >= "2015-10-15"
        self.get_attr_all = date >= "2015-10-15"
        self.repeat_permutations = date >= "2017-09-01"
        # Heat's RepeatWithMap: a for_each value may be a map (its keys).
        self.repeat_maps = date >= "2016-10-14"
        self.if_nullable = date >= "2021-04-16"

    def since(self, name):
        """The first version that has function ``name`` (for messages)."""
        return FUNCTIONS_SINCE.get(name) or CONDITION_FUNCTIONS_SINCE.get(name)

    def __repr__(self):
        return "Version(%r)" % self.date


_CACHE = {}


def canonical(raw, path=("heat_template_version",)):
    """Map the raw version value to its canonical date string."""
    if isinstance(raw, datetime.datetime):
        raw = raw.date()
    if isinstance(raw, datetime.date):
        raw = raw.isoformat()
    if not isinstance(raw, str):
        raise exception.InvalidTemplateVersion(
            "template version must be a date string such as 2018-08-31, "
            "got %r" % (raw,), path)
    value = raw.strip()
    value = ALIASES.get(value, value)
    if value not in VERSIONS:
        raise exception.InvalidTemplateVersion(
            "unknown template version %r; known versions: %s and names %s"
            % (raw, ", ".join(VERSIONS), ", ".join(sorted(ALIASES))), path)
    return value


def get(raw):
    """The :class:`Version` for a raw version value (date, name or date)."""
    date = canonical(raw)
    if date not in _CACHE:
        _CACHE[date] = Version(date)
    return _CACHE[date]
