"""Template resources: a resource whose type names a template file
(``type: server.yaml``, or an environment alias to one:
``My::Server: server.yaml``) is a nested stack made from that template
(Heat's ``TemplateResource``).

The file comes from the stack's files map, as ``get_file``'s do (the
command line reads it off the disk, relative to the template naming it);
nothing is ever fetched, so a URL is refused.  The template's parameters
are the resource's properties, and its outputs its attributes;
``get_attr: [r, resource.NAME.ATTR]`` reads a child resource's attribute.

:class:`TemplateTypes` is the registry layer that gives such a type its
class: one class per template file and registry, its properties and
attributes schemas read from the file.
"""

from heatflow import attributes
from heatflow import exception
from heatflow import properties
from heatflow import stack_resource

#: What a type names a template file with (Heat's rule, and .yml).
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".template")

# HOT parameter type -> property type (Heat's, for template resources).
_PROPERTY_TYPES = {
    "string": properties.Schema.STRING,
    "number": properties.Schema.NUMBER,
    "comma_delimited_list": properties.Schema.LIST,
    "json": properties.Schema.MAP,
    "boolean": properties.Schema.BOOLEAN,
}


def is_template_type(type_name):
    """Does the type name a template file (or a URL) rather than a
    plugin?"""
    return isinstance(type_name, str) and (
        type_name.endswith(TEMPLATE_SUFFIXES) or "://" in type_name)


class TemplateResource(stack_resource.StackResource):
    """The base of each template file's class (built by
    :class:`TemplateTypes`)."""

    #: The template file (its key in the files map).
    template_name = None
    #: The registry layer that built the class (for the child's types).
    template_types = None
    #: The names of the template's outputs.
    declared_outputs = frozenset()

    @property
    def resource_info(self):
        # An environment alias naming this template is not passed on to
        # the child: a child of the same type would nest again.
        return str(self.type) if self.type != self.template_name else None

    def child_template(self):
        return self.template_types.load(self.template_name).to_dict()

    def child_params(self):
        params = {}
        for key in self.properties_schema:
            value = self.properties.get(key)
            if value is not None:
                params[key] = value
        return params

    def validate(self):
        super().validate()
        # The child's own types exist, and no file nests itself; the
        # child's values are validated when it is created.
        self.template_types.check_child(self.template_name)

    def get_reference_id(self):
        # Heat's: the child's OS::stack_id output stands for it if given.
        if self.resource_id is not None:
            outputs = self._children().outputs(self.resource_id)
            if outputs.get("OS::stack_id") is not None:
                return outputs["OS::stack_id"]
        return super().get_reference_id()

    def get_attribute(self, name):
        if isinstance(name, str) and name.startswith("resource."):
            return self._member_attribute(name)
        return super().get_attribute(name)

    def _resolve_attribute(self, name):
        if name == "outputs" and "outputs" not in self.declared_outputs:
            if self.resource_id is None:
                return None
            return self._children().outputs(self.resource_id)
        return super()._resolve_attribute(name)

    def _member_attribute(self, name):
        """``resource.NAME`` (its reference id) or ``resource.NAME.ATTR``
        of the child's resources."""
        parts = name.split(".", 2)
        if self.resource_id is None:
            return None
        if len(parts) == 2:
            nested = self.nested()
            if nested is None or parts[1] not in nested:
                return None
            return nested[parts[1]].FnGetRefId()
        return self._children().member_attribute(self.resource_id,
                                                 parts[1], parts[2])


class TemplateTypes:
    """``base`` (a registry) where a template file's type name gives a
    :class:`TemplateResource` class over that file of ``files``.
    ``aliases``: the environment's type aliases (for the child's types);
    ``chain``: the template files this one is nested in (a cycle is
    refused)."""

    def __init__(self, base, files, aliases=None, chain=(), limits=None):
        self.base = base
        self.files = files if files is not None else {}
        self.aliases = dict(aliases or {})
        self.chain = tuple(chain)
        self.limits = limits
        self._classes = {}

    def get_class(self, type_name, path=None):
        if not is_template_type(type_name):
            return self.base.get_class(type_name, path)
        cls = self._classes.get(type_name)
        if cls is None:
            cls = self._classes[type_name] = self._build(type_name, path)
        return cls

    def __contains__(self, type_name):
        if is_template_type(type_name):
            return "://" not in type_name and type_name in self.files
        return type_name in self.base

    def resolve(self, type_name, path=None):
        return type_name

    def types(self):
        return self.base.types()

    def load(self, name, path=None):
        """The template file ``name``, loaded."""
        from heatflow.template import Template
        if "://" in name:
            raise exception.StackValidationFailed(
                "%r refused: a template resource names a file of the files "
                "map; heatflow fetches nothing" % name, path)
        if name not in self.files:
            raise exception.StackValidationFailed(
                "template %r is not in the files map (the command line "
                "reads it beside the template naming it)" % name, path)
        try:
            return Template.load(self.files[name], files=self.files,
                                 limits=self.limits)
        except exception.StackValidationFailed as exc:
            raise exception.StackValidationFailed(
                "template %s: %s" % (name, exc), path) from None

    def _build(self, name, path):
        tmpl = self.load(name, path)
        schema = {}
        for key, param in tmpl.parameter_schemas.items():
            ptype = _PROPERTY_TYPES.get(param.type, properties.Schema.STRING)
            schema[key] = properties.Schema(
                ptype, description=param.description,
                required=not param.has_default, update_allowed=True,
                allow_conversion=ptype == properties.Schema.LIST)
        attrs = {key: attributes.Schema(out.description)
                 for key, out in tmpl.outputs.items()}
        # All of them at once, unless the template has an output so named.
        attrs.setdefault("outputs", attributes.Schema(
            "The nested stack's outputs, a map.",
            type=attributes.Schema.MAP))
        return type("Template[%s]" % name, (TemplateResource,), {
            "__module__": __name__, "properties_schema": schema,
            "attributes_schema": attrs, "template_name": name,
            "declared_outputs": frozenset(tmpl.outputs),
            "template_types": self})

    def check_child(self, name):
        """Refuse a cycle of template files (a.yaml nesting b.yaml nesting
        a.yaml) and a chain deeper than the nesting limit; check that
        every type of ``name``'s template exists."""
        chain = self.chain + (name,)
        if name in self.chain:
            raise exception.StackValidationFailed(
                "template files nest each other: %s" % " -> ".join(chain))
        limit = getattr(self.limits, "max_nested_stack_depth", 5)
        if len(chain) > limit:
            raise exception.RequestLimitExceeded(
                message="Recursion depth exceeds %d (max_nested_stack_depth)"
                % limit)
        from heatflow import environment
        child = TemplateTypes(self.base, self.files, self.aliases, chain,
                              self.limits)
        registry = environment.AliasedRegistry(child, self.aliases) \
            if self.aliases else child
        tmpl = self.load(name)
        for rname, rtype in _resource_types(tmpl):
            cls = registry.get_class(rtype, path="%s: resources.%s.type"
                                     % (name, rname))
            if issubclass(cls, TemplateResource):
                cls.template_types.check_child(cls.template_name)


def _resource_types(tmpl):
    """(name, type) of each resource of a loaded template."""
    for rname, snippet in tmpl.to_dict().get("resources", {}).items():
        if isinstance(snippet, dict):
            yield rname, snippet.get("type")
