"""What the group resources (``OS::Heat::ResourceGroup``,
``OS::Heat::ResourceChain``) share: the child stack that holds their
members, and their attributes read back from it.

A group's members are the resources of its child stack, named "0", "1",
... .  The group reads them through the child's outputs, which it writes
into the child template for the attributes the parent stack asks of it
(Heat's way): a member's attribute is only known to the engine where
something in its own stack reads it, so an output is what makes it
readable from outside.  ``refs``, ``refs_map`` and ``resource.N`` are read
from one output, ``refs_map`` ({member: reference id}).

Nothing here touches the engine: functions of plain data, and
:class:`MemberAttributes`, the attribute side of a group plugin, which
needs only ``nested()``, ``get_output()``, ``self.stack`` and
``member_names()`` of the class it is mixed into.
"""

import copy
import itertools
import json

from heatflow import attributes, exception

#: The version of the child templates: any HOT version would do (the
#: members' values arrive resolved); Heat's groups use this one.
CHILD_TEMPLATE_VERSION = "2015-04-30"

# Attribute names with a meaning of their own (anything else is the
# attribute of that name of every member).
REFS, REFS_MAP, ATTRIBUTES, REMOVED = (
    "refs", "refs_map", "attributes", "removed_rsrc_list")
MEMBER_PREFIX = "resource."


#: The attributes every group resource declares (any other name is
#: accepted too: that attribute of every member).
ATTRIBUTES_SCHEMA = {
    REFS: attributes.Schema(
        "The reference ids of the members, in order.",
        type=attributes.Schema.LIST),
    ATTRIBUTES: attributes.Schema(
        "A map of member names to the attribute named next in get_attr's "
        "path.", type=attributes.Schema.MAP),
}


class OutputMissing(Exception):
    """The child stack has no such output (or no child stack yet)."""


# -- members ---------------------------------------------------------------

def member_names(count, removed=()):
    """The names of ``count`` members: "0", "1", ... without the names in
    ``removed`` (a removed name is never used again)."""
    removed = set(removed)
    candidates = (str(i) for i in itertools.count())
    return list(itertools.islice(
        (n for n in candidates if n not in removed), count))


def replace_index(value, index_var, index):
    """``value`` with every occurrence of ``index_var`` in its strings
    (at any depth; keys are left alone) replaced by ``index``."""
    if isinstance(value, str):
        return value.replace(index_var, index)
    if isinstance(value, dict):
        return {k: replace_index(v, index_var, index)
                for k, v in value.items()}
    if isinstance(value, list):
        return [replace_index(v, index_var, index) for v in value]
    return value


def member_definition(resource_type, properties=None, metadata=None,
                      depends_on=None):
    """One member's entry in the child template.  Properties whose value
    is None are left out: not given, so the member's defaults apply."""
    defn = {"type": resource_type}
    props = {k: v for k, v in (properties or {}).items() if v is not None}
    if props:
        defn["properties"] = copy.deepcopy(props)
    if metadata:
        defn["metadata"] = copy.deepcopy(metadata)
    if depends_on:
        defn["depends_on"] = list(depends_on)
    return defn


def group_members(definitions, index_var):
    """ResourceGroup's members: {name: entry} of each ``(name,
    resource_def)`` in ``definitions`` (``type``, ``properties``,
    ``metadata``), with ``index_var`` in its property strings replaced by
    the member's name."""
    return {name: member_definition(
        resource_def["type"],
        replace_index(resource_def.get("properties") or {}, index_var, name),
        resource_def.get("metadata"))
        for name, resource_def in definitions}


def chain_members(types, properties, concurrent):
    """ResourceChain's members: one of each type in ``types``, all given
    ``properties``; unless ``concurrent``, each depends on the one
    before."""
    names = [str(i) for i in range(len(types))]
    return {name: member_definition(
        resource_type, properties,
        depends_on=None if concurrent or i == 0 else [names[i - 1]])
        for i, (name, resource_type) in enumerate(zip(names, types))}


def child_template(members, outputs, description):
    """The child stack's template (a dict): ``members`` {name: entry},
    ``outputs`` {name: value}."""
    return {
        "heat_template_version": CHILD_TEMPLATE_VERSION,
        "description": description,
        "resources": dict(members),
        "outputs": {name: {"value": value}
                    for name, value in outputs.items()},
    }


# -- removal policies --------------------------------------------------------

def load_removed(stored):
    """The removed names as stored in the group's data (None: none)."""
    return list(json.loads(stored)) if stored else []


def dump_removed(names):
    return json.dumps(sorted(names, key=name_order))


def name_order(name):
    """Sort key of member names: numbers in numeric order first."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def removed_names(policies, mode, removed, created, members, name_of_ref):
    """The names never to be used (again) after this action: Heat's rules.

    ``policies``: the ``removal_policies`` property; ``mode``: "append"
    (what was removed stays removed) or "update" (only what the policies
    name now); ``removed``: the names removed so far; ``created``: whether
    the group exists already; ``members``: its members' names now;
    ``name_of_ref(ref)``: the member whose reference id is ``ref``, or
    None (asked only for entries that are not names).

    An entry is taken as a name when it is one already removed, a member's,
    or the group is not created yet (then nothing can be looked up and a
    name given keeps that member from being made); otherwise as the
    reference id of a member (removing that member)."""
    keep = set(removed) if mode == "append" else set()
    members = set(members)
    for policy in policies or ():
        for entry in policy.get("resource_list") or ():
            text = str(entry)
            if text in removed or not created or text in members:
                keep.add(text)
            elif isinstance(entry, str):
                name = name_of_ref(entry)
                if name is not None:
                    keep.add(name)
    return keep


# -- the attributes a parent reads -----------------------------------------

def attribute_paths(template_data, resource_name):
    """{(key, path)} of every ``get_attr`` of ``resource_name`` written in
    ``template_data`` (the parent's raw template) whose path items are all
    written literally (one computed by a function is not known before the
    parent's resources are).  Only the ``attributes`` key needs them (its
    first path item names the members' attribute); the engine tells the
    attribute names."""
    found = set()
    for _, args in _get_attr_reads(template_data, resource_name):
        path = tuple(args[2:])
        if isinstance(args[1], str) and all(_literal(p) for p in path):
            found.add((args[1], path))
    return found


def bare_attributes_reads(template_data, resource_name):
    """The places in ``template_data`` reading ``attributes`` of
    ``resource_name`` without saying which of the members' attributes."""
    return [where for where, args in _get_attr_reads(template_data,
                                                     resource_name)
            if args[1:] == [ATTRIBUTES]]


def _literal(item):
    return isinstance(item, (str, int)) and not isinstance(item, bool)


def _get_attr_reads(data, resource_name, where=()):
    """(place, arguments) of every ``get_attr`` of ``resource_name`` with
    an attribute name."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "get_attr" and isinstance(value, list) and \
                    len(value) > 1 and value[0] == resource_name:
                yield where + (key,), value
            yield from _get_attr_reads(value, resource_name, where + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _get_attr_reads(value, resource_name,
                                       where + (index,))


def wanted_attributes(names, paths):
    """[(key, path)] of the attributes to make outputs for: ``names`` the
    attribute names the parent reads (None: all of them), ``paths`` what
    :func:`attribute_paths` found (for ``attributes``)."""
    wanted = set()
    for name in names:
        if name is None:
            wanted.add((REFS, ()))
        elif name == ATTRIBUTES:
            wanted.update((k, p) for k, p in paths if k == ATTRIBUTES and p)
        else:
            wanted.add((name, ()))
    return sorted(wanted, key=lambda kp: (kp[0], [str(p) for p in kp[1]]))


def attributes_output(path):
    """The child output holding ``{member: its attribute at path}``."""
    return ", ".join([ATTRIBUTES] + [str(p) for p in path])


def split_member_key(key):
    """``resource.N`` -> (N, None); ``resource.N.attr`` -> (N, attr)."""
    member, _, attr = key[len(MEMBER_PREFIX):].partition(".")
    return member, (attr or None)


def member_outputs(names, wanted):
    """{output name: value} for the child template: one per attribute in
    ``wanted`` (see wanted_attributes) over the members ``names``.
    ``refs``, ``refs_map`` and ``resource.N`` share ``refs_map``.  (Only
    what is read: an output over every member costs the engine about as
    much as a tenth of the members do.)"""
    outputs = {}
    for key, path in wanted:
        if key in (REFS, REFS_MAP) or (key.startswith(MEMBER_PREFIX) and
                                       split_member_key(key)[1] is None):
            outputs[REFS_MAP] = {n: {"get_resource": n} for n in names}
        elif key == REMOVED:
            continue
        elif key == ATTRIBUTES:
            outputs[attributes_output(path)] = {
                n: {"get_attr": [n] + list(path)} for n in names}
        elif key.startswith(MEMBER_PREFIX):
            member, attr = split_member_key(key)
            if attr is not None and member in names:
                outputs[key] = {"get_attr": [member, attr]}
        else:
            outputs[key] = [{"get_attr": [n, key]} for n in names]
    return outputs


class MemberAttributes:
    """The attributes of a group resource, for a StackResource subclass
    defining ``member_names()`` (its members now, in order).

    ``get_attr`` on the group gives: ``refs`` (the members' reference ids,
    in order), ``refs_map``, ``attributes`` with a path (``{member: its
    attribute at that path}``), ``resource.N`` (member N's reference id;
    null if there is no member N), ``resource.N.attr`` (its attribute),
    ``removed_rsrc_list`` (groups only), and for any other name, that
    attribute of every member (a list).  Values come from the child's
    outputs; one the child lacks (written for an older template) from
    what the engine recorded of the members."""

    #: Not held to attributes_schema: any name is a members' attribute.
    strict_attributes = False

    def validate(self):
        super().validate()
        definition = getattr(self.stack, "definition", None)
        if definition is None or \
                ATTRIBUTES not in definition.attribute_refs(self.name):
            return
        bare = bare_attributes_reads(definition.template.to_dict(),
                                     self.name)
        if bare:
            raise exception.StackValidationFailed(
                "get_attr of %r needs the name of the members' attribute "
                "to read: [%s, %s, NAME]" % (ATTRIBUTES, self.name,
                                             ATTRIBUTES), bare[0])

    def removed_member_names(self):
        return []

    def _parent_reads(self):
        """[(key, path)] the parent stack reads of this resource."""
        definition = getattr(self.stack, "definition", None)
        if definition is None:
            return []
        names = definition.attribute_refs(self.name)
        paths = set()
        if ATTRIBUTES in names:
            paths = attribute_paths(definition.template.to_dict(), self.name)
        return wanted_attributes(names, paths)

    def member_outputs(self, names):
        return member_outputs(names, self._parent_reads())

    def _nested(self):
        """The child stack's view; None without a child, or outside a
        running operation (a dry run asks attributes too)."""
        try:
            return self.nested()
        except exception.NotSupported:
            return None

    def _output(self, name):
        if self._nested() is None:
            raise OutputMissing(name)
        try:
            return self.get_output(name)
        except (KeyError, exception.NotFound,
                exception.InvalidTemplateAttribute) as exc:
            raise OutputMissing(name) from exc

    def _refs_map(self):
        try:
            return self._output(REFS_MAP) or {}
        except OutputMissing:
            nested = self._nested()
            if nested is None:
                return {}
            return {n: nested[n].FnGetRefId() for n in self.member_names()
                    if n in nested}

    def member_of_ref(self, ref):
        """The name of the member whose reference id is ``ref``, or None:
        from ``refs_map`` when the child has it, else asked of the child
        (a scan of its resources)."""
        try:
            refs_map = self._output(REFS_MAP) or {}
        except OutputMissing:
            nested = self._nested()
            found = nested.resource_by_refid(ref) if nested else None
            return None if found is None else found.name
        return next((n for n, r in refs_map.items() if r == ref), None)

    def _recorded(self, member, attr, path=()):
        nested = self._nested()
        if nested is None or member not in nested:
            return None
        return nested[member].FnGetAtt(attr, *path)

    def get_attribute(self, name, *path):
        if name is None:
            return {k: self.get_attribute(k)
                    for k in self.attributes_schema if k != ATTRIBUTES}
        if name == "show":
            return super().get_attribute(name)
        if name == REMOVED:
            return self.removed_member_names()
        if name == REFS_MAP:
            return self._refs_map()
        if name == REFS:
            refs_map = self._refs_map()
            return attributes.select_from_attribute(
                [refs_map.get(n) for n in self.member_names()], path)
        if name == ATTRIBUTES:
            return self._member_attribute_map(path)
        if name.startswith(MEMBER_PREFIX):
            return self._one_member(name, path)
        try:
            values = self._output(name)
        except OutputMissing:
            values = [self._recorded(n, name) for n in self.member_names()]
        return attributes.select_from_attribute(values, path)

    def _member_attribute_map(self, path):
        """``attributes``: given a path (Heat's call), {member: value};
        without one (the engine's call, which follows the path itself
        afterwards), every path the parent reads, as nested maps."""
        if path:
            return self._attributes_at(tuple(path))
        tree, leaves = {}, set()
        # Shorter paths first: one that another extends wins (its member
        # map is where the longer one would have to go).
        for key, wanted in self._parent_reads():
            if key != ATTRIBUTES or any(wanted[:i] in leaves
                                        for i in range(1, len(wanted))):
                continue
            node = tree
            for item in wanted[:-1]:
                node = node.setdefault(str(item), {})
            node[str(wanted[-1])] = self._attributes_at(wanted)
            leaves.add(wanted)
        return tree

    def _attributes_at(self, path):
        try:
            return self._output(attributes_output(path))
        except OutputMissing:
            return {n: self._recorded(n, path[0], path[1:])
                    for n in self.member_names()}

    def _one_member(self, name, path):
        member, attr = split_member_key(name)
        if attr is None:
            # A member that is not there is null (Heat's is an error, kept
            # for whatever reads it; the engine would fail the group).
            value = self._refs_map().get(member)
            return attributes.select_from_attribute(value, path)
        try:
            value = self._output(name)
        except OutputMissing:
            value = self._recorded(member, attr)
        return attributes.select_from_attribute(value, path)
