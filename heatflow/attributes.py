"""Attribute schemas: what ``get_attr`` may ask a resource for.

A plugin declares ``attributes_schema = {name: Schema(...)}`` and answers in
``_resolve_attribute(name)``.  Every resource also has the attributes of
:data:`BASE_ATTRIBUTES` (``show``).
"""

import collections.abc

__all__ = ["Schema", "BASE_ATTRIBUTES", "CACHE_LOCAL", "CACHE_NONE",
           "all_attributes", "select_from_attribute"]

CACHE_MODES = (CACHE_LOCAL, CACHE_NONE) = ("cache_local", "cache_none")


class Schema:
    """The declaration of one attribute.

    ``cache_mode``: CACHE_LOCAL values are resolved once per traversal and
    passed along the flow; CACHE_NONE values are resolved each time asked.
    ``type`` is informative (docs, output checks), not enforced.
    """

    TYPES = (STRING, MAP, LIST, INTEGER, BOOLEAN, NUMBER) = (
        "String", "Map", "List", "Integer", "Boolean", "Number")
    CACHE_MODES = CACHE_MODES
    CACHE_LOCAL = CACHE_LOCAL
    CACHE_NONE = CACHE_NONE

    def __init__(self, description=None, type=None, cache_mode=CACHE_LOCAL,
                 support_status=None):
        if type is not None and type not in self.TYPES:
            raise ValueError("unknown attribute type %r (one of %s)"
                             % (type, ", ".join(self.TYPES)))
        if cache_mode not in CACHE_MODES:
            raise ValueError("unknown cache mode %r" % (cache_mode,))
        self.description = description
        self.type = type
        self.cache_mode = cache_mode
        self.support_status = support_status

    def __repr__(self):
        return "Schema(%r, type=%r)" % (self.description, self.type)

    def to_dict(self):
        """As ``resource type show`` prints it (Heat's keys)."""
        data = {"description": self.description}
        if self.type is not None:
            data["type"] = self.type.lower()
        return data


# Heat marks "show" uncached: it is a live view of the physical resource.
BASE_ATTRIBUTES = {
    "show": Schema("Detailed information about resource.", type=Schema.MAP,
                   cache_mode=CACHE_NONE),
}


def all_attributes(attributes_schema):
    """A plugin's attributes plus the base ones (the plugin's win)."""
    merged = dict(BASE_ATTRIBUTES)
    merged.update(attributes_schema or {})
    return merged


def select_from_attribute(value, path):
    """Follow ``get_attr``'s extra path items into an attribute's value.

    ``{get_attr: [server, networks, private, 0]}`` selects
    ``value["private"][0]``.  A step that does not apply (missing key,
    index out of range, not a collection) gives None, as in Heat.
    """
    for key in path:
        if isinstance(value, collections.abc.Mapping):
            value = value.get(key)
        elif (isinstance(value, collections.abc.Sequence)
              and not isinstance(value, (str, bytes))):
            try:
                value = value[int(key)]
            except (ValueError, TypeError, IndexError):
                return None
        else:
            return None
        if value is None:
            return None
    return value
