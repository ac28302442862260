"""Public functions that need no Orchestrator: checking and drawing a
template on its own, and looking after the database and its keys.

They open no database (``upgrade_database`` aside) and import neither
TaskFlow nor SQLAlchemy until they need them, so a command that only
validates a template starts fast.  Exported as ``heatflow.<name>``.
"""


def _registry(plugin_dirs, registry):
    if registry is not None:
        return registry
    from heatflow import registry as registry_mod
    return registry_mod.Registry.default(plugin_dirs=plugin_dirs)


def bind_template(template, parameters=None, files=None, environment=None,
                  registry=None, limits=None, **names):
    """``(Template, StackDefinition)``: ``template`` loaded and bound to the
    environment's parameters overridden by ``parameters``, its types looked
    up in ``registry`` seen through the environment's aliases.  Bound, not
    validated: properties are checked by ``validate(registry)``."""
    from heatflow.environment import Environment
    from heatflow.template import Template
    tmpl = Template.load(template, files=files, limits=limits)
    env = Environment.load(environment, limits=limits)
    values = env.parameter_values(tmpl.parameter_schemas, parameters or {})
    registry = env.registry(registry, tmpl.files, limits)
    return tmpl, tmpl.bind(values, registry=registry, **names)


def validate_template(template, parameters=None, files=None,
                      environment=None, plugin_dirs=(), registry=None):
    """Check ``template`` as a create would, writing nothing; raises
    :class:`heatflow.exception.StackValidationFailed` naming the place.

    Returns what Heat's template validation returns: ``{"Description":
    ..., "Parameters": {name: {"Type", "Label", "Description", "NoEcho",
    "Default" (when it has one; hidden ones masked)}}}``, and
    ``"Warnings"``: what is valid but probably not meant (a function name
    the template's version does not have yet, kept as data), when there
    is any."""
    tmpl, stack_def = bind_template(
        template, parameters, files, environment,
        _registry(plugin_dirs, registry))
    stack_def.validate(stack_def.registry)
    params = {}
    for name, schema in tmpl.parameter_schemas.items():
        info = {"Type": schema.type, "Label": schema.label or name,
                "Description": schema.description or "",
                "NoEcho": "true" if schema.hidden else "false"}
        if schema.has_default:
            info["Default"] = "******" if schema.hidden else schema.default
        params[name] = info
    info = {"Description": tmpl.description, "Parameters": params}
    if tmpl.warnings:
        info["Warnings"] = list(tmpl.warnings)
    return info


def dependency_graph(template, parameters=None, files=None,
                     environment=None, plugin_dirs=(), registry=None,
                     name="stack"):
    """The :class:`heatflow.status.Graph` of ``template``: each resource,
    its type and what it depends on (``depends_on``, ``get_resource``,
    ``get_attr``).  ``Orchestrator.stack_graph`` adds a stack's
    statuses."""
    from heatflow import status
    _, stack_def = bind_template(template, parameters, files, environment,
                                 _registry(plugin_dirs, registry))
    return status.graph_of(stack_def, name=name)


def get_file_references(template):
    """``[(path, name)]`` for every ``{get_file: name}`` in ``template``
    (parsed, not bound), and every ``type`` naming a template file (a
    nested stack: a resource's own type, or one in its properties such as
    a group's member definition, as python-heatclient finds them): the
    files a caller must pass as ``files``, in the template's order.
    ``path`` is the key path to the reference, for
    :func:`heatflow.exception.format_path`."""
    from heatflow.plugins import template_resource
    from heatflow.template import Template
    found = []

    def walk(data, path):
        if isinstance(data, dict):
            if len(data) == 1 and isinstance(data.get("get_file"), str):
                found.append((path + ("get_file",), data["get_file"]))
                return
            for key, value in data.items():
                if key in ("type", "Type") and \
                        template_resource.is_template_type(value):
                    found.append((path + (key,), value))
                else:
                    walk(value, path + (key,))
        elif isinstance(data, list):
            for i, value in enumerate(data):
                walk(value, path + (i,))
    walk(Template.load(template).to_dict(), ())
    return found


def resource_types(plugin_dirs=(), registry=None, with_description=False):
    """The resource types plugins provide, sorted, as Heat lists them:
    those whose support status is HIDDEN left out.  With
    ``with_description``: ``[{"resource_type", "description"}]``."""
    from heatflow import support
    reg = _registry(plugin_dirs, registry)
    names = [name for name in reg.types()
             if _support_status(reg.get_class(name)).status
             != support.HIDDEN]
    if not with_description:
        return names
    return [{"resource_type": name,
             "description": _summary(reg.get_class(name))}
            for name in names]


def resource_type_schema(type_name, plugin_dirs=(), registry=None):
    """What a template may give and get of ``type_name``, as Heat's
    ``resource type show`` says it: ``{"resource_type", "description",
    "properties": {name: {"type", "description", "default", "required",
    "update_allowed", "immutable", "constraints", "schema"}},
    "attributes": {name: {"description", "type"}}, "support_status"}``.
    Properties a plugin declares unimplemented are left out; an unknown
    type raises :class:`heatflow.exception.UnknownResourceType`."""
    from heatflow import attributes
    cls = _registry(plugin_dirs, registry).get_class(type_name)
    props = {name: schema.to_dict()
             for name, schema in cls.properties_schema.items()
             if getattr(schema, "implemented", True)}
    attrs = {}
    for name, schema in attributes.all_attributes(
            cls.attributes_schema).items():
        # a plain string is a description (plugins written loosely)
        attrs[name] = schema.to_dict() if hasattr(schema, "to_dict") \
            else {"description": str(schema)}
    return {"resource_type": type_name, "description": _summary(cls),
            "properties": props, "attributes": attrs,
            "support_status": _support_status(cls).to_dict()}


def _support_status(cls):
    from heatflow import support
    return getattr(cls, "support_status", None) or support.SupportStatus()


def _summary(cls):
    """The first paragraph of a plugin class's own docstring."""
    import inspect
    doc = cls.__doc__ and inspect.cleandoc(cls.__doc__)
    return " ".join(doc.split("\n\n")[0].split()) if doc else ""


def upgrade_database(db_url=None):
    """Create or migrate the tables of the database ``db_url`` (default
    ``HEATFLOW_DB_URL`` or the SQLite file); the URL without its
    password."""
    from heatflow.persistence import database
    url = db_url or database.default_url()
    db = database.Database(url, upgrade=False)
    try:
        db.upgrade()
    finally:
        db.close()
    return database.safe_url(url)


#: The environment variable that holds the keys for encryption at rest.
ENCRYPTION_KEY_ENV = "HEATFLOW_ENCRYPTION_KEY"


def generate_encryption_key():
    """A new key for encrypting values at rest (``encryption_key`` or
    ``HEATFLOW_ENCRYPTION_KEY``)."""
    from heatflow.persistence import sealing
    return sealing.generate_key()


__all__ = ["validate_template", "dependency_graph", "get_file_references",
           "resource_types", "resource_type_schema", "upgrade_database",
           "generate_encryption_key", "ENCRYPTION_KEY_ENV"]
