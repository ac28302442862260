"""The plugin objects the engine makes: the properties a plugin is given
(its translation rules applied, checked against its schema), its object
built with whichever constructor it has (heatflow's or Heat's), and Heat's
validation of a resource before anything is made.

The plugin contract itself, what a plugin author subclasses, is
:mod:`heatflow.resource`; this module is the engine's side of it (the
atoms, the dry run and template validation call it).
"""

import inspect
import logging

from heatflow import exception
from heatflow import properties as properties_mod
from heatflow import registry
from heatflow import resource
from heatflow import translation

LOG = logging.getLogger(__name__)
# plugin class -> does it have Heat's constructor?
_HEAT_STYLE = {}


def _rules_owner(cls, name, raw):
    """An instance of ``cls`` to ask for its translation rules when no
    plugin exists yet (validation, a dry run, the properties a plugin is
    then constructed with): Heat's rules are instance methods, but read
    only the class, the name and the properties they are given.  The
    base initialiser, whatever the plugin's own takes."""
    inst = cls.__new__(cls)
    resource.Resource.__init__(inst, name, None, raw)
    return inst


def translated_data(cls, name, data, *, plugin=None, client_resolve=True,
                    ignore_errors=False):
    """``data`` (a resource's resolved properties) as the plugin class
    ``cls`` translates it (``translation_rules``, Heat's
    ``translate_properties``); ``data`` itself when there are no rules.
    ``client_resolve=False`` skips the RESOLVE rules (they ask a client).
    ``ignore_errors``: a translation that fails gives ``data`` untranslated
    (a delete must not be refused because a rule no longer applies)."""
    if not isinstance(data, dict) or \
            not hasattr(cls, "translation_rules"):
        # DEFERRED or not a map (validation says), or a class that is
        # not a Resource: nothing to translate.
        return data
    strict = getattr(cls, "strict_properties", True)
    raw = properties_mod.Properties(
        cls.properties_schema, data, path=("resources", name, "properties"),
        strict=strict)
    try:
        owner = plugin if plugin is not None else _rules_owner(cls, name,
                                                               raw)
        rules = owner.translation_rules(raw)
        if not rules:
            return data
        return translation.translate(data, rules, cls.properties_schema,
                                     client_resolve=client_resolve,
                                     ignore_resolve_error=ignore_errors)
    except Exception:
        if ignore_errors:
            return data
        raise


def comparable(cls, name):
    """``data -> data`` as decisions compare property data: translated by
    the plugin class ``cls`` without client lookups, on both sides of a
    diff alike, by the engine and the dry run alike (so the dry run says
    what the engine does, and deciding asks no cloud)."""
    def translate(data):
        return translated_data(cls, name, data or {}, client_resolve=False,
                               ignore_errors=True)
    return translate


def properties_for(cls, name, data, *, plugin=None, client_resolve=True,
                   validate=True, strict=None, ignore_errors=False):
    """The :class:`~heatflow.properties.Properties` a plugin of class
    ``cls`` sees for the resolved property ``data`` of resource ``name``:
    translated (:func:`translated_data`), then, with ``validate``, checked
    against its schema.  Every place that gives a plugin its properties or
    validates them builds them here, so translation applies alike to
    validation, the dry run and every action.  ``given`` on the result is
    ``data`` as it was before translation (what :meth:`Resource.reparse`
    translates again).  A plugin class with a ``validate()`` of its own
    checks its properties there (Heat's rule: see :func:`validate_plugin`),
    not here."""
    if strict is None:
        strict = getattr(cls, "strict_properties", True)
    out = translated_data(cls, name, data, plugin=plugin,
                          client_resolve=client_resolve,
                          ignore_errors=ignore_errors)
    props = properties_mod.Properties(
        cls.properties_schema, out, path=("resources", name, "properties"),
        strict=strict)
    props.given = data
    if validate and not validates_itself(cls):
        props.validate()
    return props


def overrides(cls, hook):
    """Does plugin class ``cls`` define Heat's hook ``hook`` itself?"""
    own = getattr(cls, hook, None)
    return own is not None and own is not getattr(resource.Resource, hook)


def validates_itself(cls):
    """Does plugin class ``cls`` override ``validate()`` or ``reparse()``?
    Then its plugin object checks its properties (the base ``validate()``
    checks them against the schema; Heat's ``OS::Heat::None`` overrides it
    to take any properties, and ``OS::Heat::Value`` retypes its ``value``
    in ``reparse()``)."""
    return overrides(cls, "validate") or overrides(cls, "reparse")


def validate_plugin(cls, name, definition, props, stack, **kwargs):
    """Heat's validation of one resource before anything is made: its
    plugin's ``validate()`` with ``props`` as resolved so far (the
    schema's checks, unless the plugin's own leaves them out).  A
    plugin without a ``validate()`` of its own needs no object."""
    if not validates_itself(cls):
        props.validate()
        return
    make_plugin(cls, name, definition, props, stack, **kwargs).validate()


def heat_constructor(cls):
    """Does ``cls`` define Heat's constructor, ``__init__(self, name,
    definition, stack)`` (or ``json_snippet``), rather than heatflow's?
    Recognised by its third argument being ``stack``."""
    if cls not in _HEAT_STYLE:
        heat = False
        if cls.__init__ is not resource.Resource.__init__:
            try:
                params = list(inspect.signature(cls.__init__).parameters)
            except (TypeError, ValueError):
                params = []
            heat = len(params) >= 4 and params[3] == "stack"
        _HEAT_STYLE[cls] = heat
    return _HEAT_STYLE[cls]


def recorded_properties(cls, row):
    """The Properties of the resource row ``row`` as it records them (Heat's
    frozen properties), for an action on it as it is, not as a template
    now says: unvalidated, and a failing translation rule gives the
    recorded data."""
    return properties_for(cls, row.name, row.properties or {},
                          validate=False, strict=False, ignore_errors=True)


def make_plugin(cls, name, definition, properties, stack, **kwargs):
    """An instance of the plugin class ``cls`` for one action, whichever
    constructor it has: heatflow's (``name, definition, properties,
    **kwargs``) or Heat's (``name, definition, stack``: the rest travels
    with the stack view it is given, and the base initialiser takes it
    from there).  ``stack``: its :class:`~heatflow.stack_view.StackView`
    (``self.stack``)."""
    kwargs.setdefault("stack_name", stack.name)
    kwargs.setdefault("stack_id", stack.id)
    try:
        if heat_constructor(cls):
            plugin = cls(name, definition, stack.constructing(
                dict(kwargs, properties=properties)))
        else:
            plugin = cls(name, definition, properties, **kwargs)
    except exception.HeatflowError:
        raise
    except Exception as exc:
        # A plugin bug: say whose, and log where.
        LOG.info("constructing plugin %s failed", cls, exc_info=True)
        raise exception.PluginError(
            "plugin %s could not be constructed for resource %s: %s: %s" % (
                registry.plugin_name(cls), name, type(exc).__name__,
                exc)) from exc
    if not heat_constructor(cls):
        plugin.stack = stack
    if overrides(cls, "reparse") and properties is not None:
        # Heat's constructor reparses: a plugin's own reparse() reshapes
        # its properties (without client lookups, as there).
        plugin.reparse(client_resolve=False)
    return plugin


def same_class(a, b):
    """Are ``a`` and ``b`` the same plugin?  A template resource's class is
    built per binding of its template (heatflow/plugins/
    template_resource.py): two are the same plugin when they name the same
    template file, whatever it holds now (Heat updates the nested stack to
    the file's new content rather than replace it)."""
    name = getattr(a, "template_name", None)
    return a is b or (name is not None and
                      name == getattr(b, "template_name", None))
