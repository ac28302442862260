"""Resource type registry: type name (``OS::Heat::None``) -> plugin class.

Plugins come from four places, registered in this order so that later ones
override earlier ones (an operator can replace a built-in):

1. the built-ins (``heatflow.plugins.resource_mapping()``);
2. entry points in the group ``heatflow.resources``;
3. plugin directories (Heat's ``plugin_dirs`` convention), from the
   ``HEATFLOW_PLUGIN_DIRS`` environment variable and then from the caller;
4. ``Registry.register()`` calls.
"""

import difflib
import hashlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
import threading

from heatflow import exception

ENTRY_POINT_GROUP = "heatflow.resources"
ENV_PLUGIN_DIRS = "HEATFLOW_PLUGIN_DIRS"

# Module-level mapping functions a plugin module may define.  Heat also
# looks for available_resource_mapping() (types whose client libraries are
# installed); both are honoured.
_MAPPING_FUNCTIONS = ("resource_mapping", "available_resource_mapping")

# Modules loaded from plugin directories, by file path, so that loading the
# same directory again (a second Registry, a second Orchestrator) reuses the
# classes instead of creating look-alike copies with different identities.
_loaded_modules = {}
_load_lock = threading.Lock()


def _resource_base():
    # Imported late: heatflow.resource imports this package's siblings, and
    # plugin modules import heatflow.resource themselves.
    from heatflow import resource
    return resource.Resource


def _is_resource_class(obj):
    return inspect.isclass(obj) and issubclass(obj, _resource_base())


_DIR_MODULE = "heatflow_plugin_"


def plugin_name(cls):
    """A plugin class as errors name it: ``module.Class``, or for one
    from a plugin directory ``file.py:Class`` (its module's name is made
    up)."""
    module = cls.__module__
    if module.startswith(_DIR_MODULE):
        path = getattr(sys.modules.get(module), "__file__", None) or module
        return "%s:%s" % (os.path.basename(path), cls.__qualname__)
    return "%s.%s" % (module, cls.__qualname__)


def contract_problem(cls):
    """What is wrong with the schemas of plugin class ``cls`` (a schema
    that is not a dict of name -> Schema), or None.  Found when the class
    is registered rather than when a template first uses it."""
    from heatflow import attributes, properties
    for what, kind in (("properties_schema", properties.Schema),
                       ("attributes_schema", attributes.Schema)):
        schema = getattr(cls, what, None)
        if not isinstance(schema, dict):
            return "%s must be a dict, not %s" % (
                what, type(schema).__name__)
        for key, value in schema.items():
            if not isinstance(key, str):
                return "%s: name %r is not a string" % (what, key)
            if not isinstance(value, kind):
                return "%s[%r] must be a %s.%s, not %r" % (
                    what, key, kind.__module__, kind.__name__, value)
    return None


class Registry:
    """Maps resource type names to plugin classes."""

    def __init__(self, plugin_dirs=(), entry_points=True, builtins=True):
        self._types = {}
        if builtins:
            from heatflow import plugins
            self._register_mapping(plugins.resource_mapping(),
                                   "heatflow.plugins")
        if entry_points:
            self.load_entry_points()
        for path in plugin_dirs or ():
            self.load_plugin_dir(path)

    @classmethod
    def default(cls, plugin_dirs=()):
        """Built-ins, entry points, ``HEATFLOW_PLUGIN_DIRS`` and then
        ``plugin_dirs``: what an Orchestrator or conductor uses."""
        env = os.environ.get(ENV_PLUGIN_DIRS, "")
        dirs = [d for d in env.split(os.pathsep) if d.strip()]
        return cls(plugin_dirs=dirs + list(plugin_dirs or ()))

    @classmethod
    def permissive(cls, plugin_dirs=(), entry_points=True, builtins=True):
        """A registry that knows every type: unknown ones get a generic
        class accepting any properties and attributes.  For validating
        real-world templates whose types have no plugin here."""
        return PermissiveRegistry(plugin_dirs, entry_points, builtins)

    # -- registration -------------------------------------------------------

    def register(self, type_name, cls):
        if not isinstance(type_name, str) or not type_name:
            raise exception.PluginError(
                "resource type name must be a non-empty string, not %r"
                % (type_name,))
        if not _is_resource_class(cls):
            raise exception.PluginError(
                "%s: %r is not a subclass of heatflow.resource.Resource"
                % (type_name, cls))
        problem = contract_problem(cls)
        if problem is not None:
            raise exception.PluginError("%s (plugin %s): %s" % (
                type_name, plugin_name(cls), problem))
        self._types[type_name] = cls

    def _register_mapping(self, mapping, source):
        """Register a ``{type_name: class}`` dict; ``source`` names where it
        came from in errors."""
        if not isinstance(mapping, dict):
            raise exception.PluginError(
                "%s: resource mapping must be a dict, not %s"
                % (source, type(mapping).__name__))
        for type_name, cls in mapping.items():
            try:
                self.register(type_name, cls)
            except exception.PluginError as err:
                raise exception.PluginError("%s: %s" % (source, err)) from None

    def load_plugin_dir(self, path):
        """Import every ``*.py`` module of ``path`` (names starting with
        "_" excepted) and register what its ``resource_mapping()`` returns.
        Modules without a mapping function are helpers and are skipped."""
        path = os.path.abspath(os.path.expanduser(path))
        if not os.path.isdir(path):
            raise exception.PluginError(
                "plugin directory %s does not exist" % path)
        for filename in sorted(os.listdir(path)):
            if not filename.endswith(".py") or filename.startswith("_"):
                continue
            filepath = os.path.join(path, filename)
            module = _import_file(filepath)
            for fn_name in _MAPPING_FUNCTIONS:
                fn = getattr(module, fn_name, None)
                if fn is None:
                    continue
                try:
                    mapping = fn()
                except Exception as err:
                    raise exception.PluginError(
                        "%s: %s() failed: %s: %s" % (
                            filepath, fn_name, type(err).__name__, err)
                    ) from err
                self._register_mapping(mapping, filepath)

    def load_entry_points(self, group=ENTRY_POINT_GROUP):
        """Register plugins advertised by installed distributions.

        An entry point either loads a Resource subclass (registered under
        the entry point's name) or a ``resource_mapping``-style callable
        returning ``{type_name: class}`` (all registered)."""
        for ep in importlib.metadata.entry_points(group=group):
            source = "entry point %s = %s" % (ep.name, ep.value)
            try:
                obj = ep.load()
            except Exception as err:
                raise exception.PluginError("%s: cannot load: %s: %s" % (
                    source, type(err).__name__, err)) from err
            if inspect.isclass(obj):
                if not _is_resource_class(obj):
                    raise exception.PluginError(
                        "%s: %r is not a subclass of heatflow.resource."
                        "Resource" % (source, obj))
                self.register(ep.name, obj)
            elif callable(obj):
                try:
                    mapping = obj()
                except Exception as err:
                    raise exception.PluginError("%s: call failed: %s: %s" % (
                        source, type(err).__name__, err)) from err
                self._register_mapping(mapping, source)
            else:
                raise exception.PluginError(
                    "%s: neither a Resource subclass nor a callable" % source)

    # -- lookup -------------------------------------------------------------

    def get_class(self, type_name, path=None):
        try:
            return self._types[type_name]
        except (KeyError, TypeError):   # TypeError: unhashable junk
            raise exception.UnknownResourceType(
                "unknown resource type %s%s" % (_quote(type_name),
                                                self._hint(type_name)),
                path) from None

    def _hint(self, type_name):
        """' (did you mean X?)' when a registered type is a likely typo of
        ``type_name``; a mistyped type is the usual reason for the error."""
        if not isinstance(type_name, str):
            return ""
        near = difflib.get_close_matches(type_name, self._types, n=1,
                                         cutoff=0.8)
        return " (did you mean %s?)" % near[0] if near else ""

    def __contains__(self, type_name):
        try:
            return type_name in self._types
        except TypeError:
            return False

    def types(self):
        return sorted(self._types)

    def __repr__(self):
        return "<%s %d types>" % (type(self).__name__, len(self._types))


def _quote(value):
    return "'%s'" % value if isinstance(value, str) else repr(value)


def _import_file(filepath):
    """Import one plugin file under a module name unique to its path.

    The name includes a hash of the directory, so two directories with a
    ``widgets.py`` each do not clash with each other or with installed
    modules."""
    with _load_lock:
        module = _loaded_modules.get(filepath)
        if module is not None:
            return module
        digest = hashlib.sha1(
            os.path.dirname(filepath).encode("utf-8")).hexdigest()[:12]
        stem = os.path.splitext(os.path.basename(filepath))[0]
        mod_name = "%s%s_%s" % (_DIR_MODULE, digest, stem)
        spec = importlib.util.spec_from_file_location(mod_name, filepath)
        if spec is None or spec.loader is None:
            raise exception.PluginError("%s: cannot be imported" % filepath)
        module = importlib.util.module_from_spec(spec)
        # In sys.modules before running it, as a normal import would be, so
        # the module's classes can be pickled and dataclasses work.
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as err:   # sys.exit() in a plugin too
            sys.modules.pop(mod_name, None)
            raise exception.PluginError(
                "%s: cannot load plugin module: %s: %s"
                % (filepath, type(err).__name__, err)) from err
        _loaded_modules[filepath] = module
        return module


class PermissiveRegistry(Registry):
    """Answers every type: registered ones with their plugin, others with a
    generic class that takes any properties and any attributes."""

    def __init__(self, *args, **kwargs):
        self._generic = {}
        super().__init__(*args, **kwargs)

    def get_class(self, type_name, path=None):
        if type_name in self._types:
            return self._types[type_name]
        if not isinstance(type_name, str) or not type_name:
            return super().get_class(type_name, path)
        cls = self._generic.get(type_name)
        if cls is None:
            # One subclass per type name: distinct names in reprs and logs.
            cls = type("Generic[%s]" % type_name, (_generic_base(),),
                       {"__module__": __name__})
            self._generic[type_name] = cls
        return cls

    def __contains__(self, type_name):
        return isinstance(type_name, str) and bool(type_name)


_GENERIC = None


def _generic_base():
    global _GENERIC
    if _GENERIC is None:
        base = _resource_base()

        class GenericResource(base):
            """Stands in for a type heatflow has no plugin for: accepts any
            properties, resolves any attribute to None, does nothing, and
            updates in place."""

            strict_properties = False
            strict_attributes = False

            def handle_create(self):
                self.resource_id_set(self.physical_resource_name())

            def handle_update(self, json_snippet, tmpl_diff, prop_diff):
                return None

        GenericResource.__module__ = __name__
        _GENERIC = GenericResource
    return _GENERIC
