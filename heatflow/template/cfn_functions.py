"""The functions of CloudFormation-format templates, as Heat's
``heat/engine/cfn/functions.py`` evaluates them.

Where a function means the same as a HOT one it is that class under its CFN
name (``Fn::Join`` is ``list_join`` with one list, ``Fn::GetAtt`` is
``get_attr`` with exactly an attribute name), so reference and dependency
analysis see them as they see the HOT ones.
"""

import json
import re

from heatflow.template.conditions import And, Equals, If, Or
from heatflow.template.data_functions import ListJoin
from heatflow.template.functions import (
    FixedList, Function, GetAttr, GetParam, GetResource, ResourceFacade,
    _fail, _kind, resolve)

# AWS pseudo parameters; Heat's AWS::Region is a fixed name.
PSEUDO = {"AWS::StackName": "OS::stack_name", "AWS::StackId": "OS::stack_id",
          "AWS::Region": None}
REGION = "ap-southeast-1"


class ParamRef(GetParam):
    name = "Ref"

    def parse(self, parser, args):
        self.param = args
        self.args = []

    def result(self, ctx):
        if self.param == "AWS::Region":
            return REGION
        return ctx.params[PSEUDO.get(self.param, self.param)]


class ResourceRef(GetResource):
    name = "Ref"


def Ref(parser, args, path):
    """``{Ref: name}``: a resource's reference id when a resource has that
    name (Heat looks at resources first), else a parameter's value."""
    if not isinstance(args, str):
        _fail("argument must be a resource or parameter name (a string)",
              path)
    if parser.in_condition:
        if args not in parser.param_names and args not in PSEUDO:
            _fail("in a condition, Ref names a parameter; unknown "
                  "parameter %r" % (args,), path)
        return ParamRef(parser, args, path)
    if args not in parser.resource_names and \
            (args in parser.param_names or args in PSEUDO):
        return ParamRef(parser, args, path)
    return ResourceRef(parser, args, path)  # unknown: reported at bind


class GetAtt(GetAttr):
    name = "Fn::GetAtt"

    def parse(self, parser, args):
        if not isinstance(args, list) or len(args) != 2:
            self.fail("argument must be a list [resource, attribute]")
        super().parse(parser, args)


class Join(ListJoin):
    name = "Fn::Join"


class Select(FixedList):
    """``[index, list or map]``; what is not there is ''."""
    name = "Fn::Select"
    size, usage = 2, "[index, collection]"

    def result(self, ctx):
        index, collection = resolve(self.args, ctx)
        if collection == "" or collection is None:
            return ""  # Heat: a value not available yet
        if isinstance(collection, str):
            try:
                collection = json.loads(collection)
            except ValueError as exc:
                self.fail("collection is text that is not JSON: %s" % exc)
        if isinstance(collection, dict):
            if not isinstance(index, str):
                self.fail("index into a map must be a string, got %s"
                          % _kind(index))
            return collection.get(index, "")
        if isinstance(collection, list):
            try:
                if isinstance(index, bool):
                    raise ValueError
                index = int(index)
            except (TypeError, ValueError):
                self.fail("index into a list must be an integer, got %r"
                          % (index,))
            return collection[index] if -len(collection) <= index < \
                len(collection) else ""
        self.fail("collection must be a list or a map, got %s"
                  % _kind(collection))


class Split(FixedList):
    name = "Fn::Split"
    size, usage = 2, "[delimiter, string]"

    def parse(self, parser, args):
        super().parse(parser, args)
        if not isinstance(args[0], str) or not args[0]:
            self.fail("delimiter must be a non-empty string")

    def result(self, ctx):
        delim, text = resolve(self.args, ctx)
        if not isinstance(text, str):
            self.fail("string to split must be a string, got %s"
                      % _kind(text))
        return text.split(delim)


class Replace(FixedList):
    """``[{placeholder: value}, template]``: each placeholder replaced in
    turn, longest first (Heat's order)."""
    name = "Fn::Replace"
    size, usage = 2, "[{placeholder: value}, template]"

    def parse(self, parser, args):
        super().parse(parser, args)
        if not isinstance(args[0], dict):
            self.fail("the first item must be a map of placeholders")

    def result(self, ctx):
        mapping, template = resolve(self.args, ctx)
        if not isinstance(template, str):
            self.fail("template must be a string, got %s" % _kind(template))
        if not isinstance(mapping, dict):
            self.fail("placeholders must be a map, got %s" % _kind(mapping))
        for key in sorted(mapping, key=lambda k: len(str(k)), reverse=True):
            value = mapping[key]
            if not isinstance(key, str):
                self.fail("placeholders must be strings")
            if value is None:
                value = ""
            if isinstance(value, (dict, list)):
                self.fail("value of %r must be a string or a number, got %s"
                          % (key, _kind(value)))
            if isinstance(value, bool):
                value = "true" if value else "false"
            template = template.replace(key, str(value))
        return template


class Base64(Function):
    """Heat does not encode: the string is passed through."""
    name = "Fn::Base64"

    def result(self, ctx):
        value = resolve(self.args, ctx)
        if not isinstance(value, str):
            self.fail("argument must be a string, got %s" % _kind(value))
        return value


class FindInMap(FixedList):
    name = "Fn::FindInMap"
    size, usage = 3, "[mapping, key, name]"

    def parse(self, parser, args):
        self.mappings = parser.mappings
        super().parse(parser, args)

    def result(self, ctx):
        mapname, key, name = resolve(self.args, ctx)
        mapping = self.mappings.get(mapname) if isinstance(
            mapname, str) else None
        if mapping is None:
            self.fail("unknown mapping %r" % (mapname,))
        if not isinstance(key, str) or key not in mapping:
            self.fail("mapping %r has no key %r" % (mapname, key))
        if not isinstance(name, str) or name not in mapping[key]:
            self.fail("mapping %r has no %r under %r" % (mapname, name, key))
        return mapping[key][name]


class GetAZs(Function):
    """Heat asks Nova; with no Nova to ask it answers ['nova']."""
    name = "Fn::GetAZs"

    def result(self, ctx):
        resolve(self.args, ctx)
        return ["nova"]


_MEMBER = re.compile(r"^\.member\.([0-9]+)\.(.*)$")


class MemberListToMap(Function):
    """``[key_name, value_name, ['.member.0.Name=k', '.member.0.Value=v',
    ...]]`` -> ``{k: v}``."""
    name = "Fn::MemberListToMap"

    def parse(self, parser, args):
        if not isinstance(args, list) or len(args) != 3 or \
                not isinstance(args[0], str) or not isinstance(args[1], str):
            self.fail("argument must be a list [key_name, value_name, list]")
        self.keyname, self.valuename = args[0], args[1]
        self.args = parser.parse(args[2], self.path)

    def result(self, ctx):
        members = resolve(self.args, ctx)
        if not isinstance(members, list):
            self.fail("member list must be a list, got %s" % _kind(members))
        pairs = {}
        for item in members:
            if not isinstance(item, str):
                self.fail("member list items must be strings")
            key, _, value = item.partition("=")
            match = _MEMBER.match(key)
            if match:
                pairs.setdefault(int(match.group(1)), {})[
                    match.group(2)] = value
        return {p[self.keyname]: p[self.valuename]
                for _, p in sorted(pairs.items())
                if self.keyname in p and self.valuename in p}


class CfnResourceFacade(ResourceFacade):
    name = "Fn::ResourceFacade"
    KEYS = {"Metadata": "metadata", "DeletionPolicy": "deletion_policy",
            "UpdatePolicy": "update_policy"}


class CfnIf(If):
    name = "Fn::If"


class CfnEquals(Equals):
    name = "Fn::Equals"


class CfnNot(Function):
    """``Fn::Not: [condition]`` (a list of one, unlike HOT's ``not``)."""
    name = "Fn::Not"

    def parse(self, parser, args):
        if not isinstance(args, list) or len(args) != 1:
            self.fail("argument must be a list [condition]")
        self.args = [parser.parse_condition(args[0], self.path + (0,))]

    def result(self, ctx):
        from heatflow.template.conditions import evaluate_condition
        return not evaluate_condition(self.args[0], ctx, self.path + (0,))


class CfnAnd(And):
    name = "Fn::And"


class CfnOr(Or):
    name = "Fn::Or"


CLASSES = {"Ref": Ref, "Fn::GetAtt": GetAtt, "Fn::Join": Join,
           "Fn::Select": Select, "Fn::Split": Split, "Fn::Replace": Replace,
           "Fn::Base64": Base64, "Fn::FindInMap": FindInMap,
           "Fn::GetAZs": GetAZs, "Fn::MemberListToMap": MemberListToMap,
           "Fn::ResourceFacade": CfnResourceFacade, "Fn::If": CfnIf,
           "Fn::Equals": CfnEquals, "Fn::Not": CfnNot, "Fn::And": CfnAnd,
           "Fn::Or": CfnOr}
