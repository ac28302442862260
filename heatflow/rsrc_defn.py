"""What a plugin holds as a resource definition: Heat's
``rsrc_defn.ResourceDefinition`` as plugins use it.

The engine's own definition (``heatflow.template.template``) is the
template's, with functions still to resolve.  A plugin is handed one with
its values resolved: ``json_snippet`` in ``handle_update`` (the new
definition) and ``frozen_definition()`` (what the resource was last
converged to, as recorded).  ``properties(schema, context)`` builds
Properties from the resolved values, as Heat's does; anything else is
asked of the template's definition, when there is one.
"""

import copy

from heatflow import properties as properties_mod


class ResourceDefinition:
    """A resolved resource definition: ``name``, ``resource_type``,
    ``properties(schema, context=None)``, ``metadata()``,
    ``freeze(**overrides)``, ``to_dict()``."""

    def __init__(self, name, resource_type, properties=None, metadata=None,
                 template_definition=None):
        self.name = name
        self.resource_type = resource_type
        self._properties = properties
        self._metadata = metadata
        self._template = template_definition

    @classmethod
    def of(cls, template_definition, name, resource_type, properties,
           metadata):
        """Wrap the engine's definition with resolved values (a plugin's
        ``properties.data`` may be given as is)."""
        if isinstance(template_definition, cls):
            template_definition = template_definition._template
        return cls(name, resource_type, properties, metadata,
                   template_definition)

    @property
    def type(self):
        return self.resource_type

    def properties(self, schema, context=None):
        """Properties of the resolved values against ``schema`` (Heat's;
        ``context`` is accepted and not needed)."""
        return properties_mod.Properties(
            schema, copy.deepcopy(self._properties or {}),
            path=("resources", self.name, "properties"))

    def metadata(self):
        return copy.deepcopy(self._metadata or {})

    def freeze(self, **overrides):
        """A copy with ``properties`` and/or ``metadata`` replaced (a
        Properties object counts as its data)."""
        props = overrides.get("properties", self._properties)
        props = getattr(props, "data", props)
        return ResourceDefinition(
            self.name, self.resource_type, props,
            overrides.get("metadata", self._metadata), self._template)

    def to_dict(self):
        if self._template is not None:
            return self._template.to_dict()
        out = {"type": self.resource_type}
        if self._properties:
            out["properties"] = copy.deepcopy(self._properties)
        if self._metadata:
            out["metadata"] = copy.deepcopy(self._metadata)
        return out

    render_hot = to_dict

    def __getattr__(self, name):
        # The template's own definition knows the rest (deletion policy,
        # dependencies, ...); none outside the engine.
        template = self.__dict__.get("_template")
        if template is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(template, name)

    def __repr__(self):
        return "<ResourceDefinition %s (%s)>" % (self.name,
                                                 self.resource_type)
