"""Client plugins: how a resource plugin reaches the service it manages.

Heat's ``heat.engine.clients``.  A client plugin wraps one service's client
library: it makes the client (``client()``) and knows which of the
library's exceptions mean "not found", "over limit", "conflict"::

    class BucketClientPlugin(clients.ClientPlugin):
        def _create(self, version=None):
            return bucket_api.Client()

        def is_not_found(self, ex):
            return isinstance(ex, bucket_api.NotFound)

    clients.register_client_plugin("bucket", BucketClientPlugin)

and a resource plugin names it::

    class Bucket(resource.Resource):
        default_client_name = "bucket"
        entity = "buckets"      # Heat's default delete and show use it

        def handle_create(self):
            self.resource_id_set(self.client().buckets.create(...).id)

Client plugins are registered with :func:`register_client_plugin` or found
through entry points in the group ``heatflow.clients`` (name: the client
name, value: the ClientPlugin subclass); a registered one wins.

Credentials: as in Heat, a client plugin gets the operation's request
context (``self.context``: token, project, region; heatflow.context).  It
is None when the caller gave none, and has no token in a process other
than the caller's unless the database is encrypted: then a client plugin
takes its credentials from its own configuration (environment,
clouds.yaml).
"""

import functools
import importlib.metadata
import inspect
import logging
import threading

from heatflow import exception

LOG = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "heatflow.clients"

_registered = {}
_entry_points = None        # name -> entry point, read once
_lock = threading.Lock()


class ExceptionFilter:
    """Ignore the exceptions a predicate accepts, two ways (Heat's):

    * ``with plugin.ignore_not_found: ...`` swallows them;
    * ``plugin.ignore_not_found(ex)`` in an ``except`` block returns for
      them and raises anything else again.

    Used as a decorator on a method ``(self, ex) -> bool``.
    """

    def __init__(self, should_ignore):
        self._should_ignore = should_ignore
        functools.update_wrapper(self, should_ignore)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return type(self)(self._should_ignore.__get__(obj, owner))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc is not None and isinstance(exc, Exception) and \
            bool(self._should_ignore(exc))

    def __call__(self, ex):
        if not self._should_ignore(ex):
            raise ex


class ClientPlugin:
    """Base class of client plugins: subclasses implement ``_create`` and
    the ``is_*`` tests their client library needs."""

    #: The client library's exceptions module (or a list of them), for
    #: is_client_exception().
    exceptions_module = None
    service_types = []
    #: The version client() makes when given none.
    default_version = None
    #: Versions client(version=...) accepts besides the default.
    supported_versions = []

    def __init__(self, context=None):
        # The operation's request context, or None (see the module's
        # description).
        self.context = context
        self.invalidate()

    def invalidate(self):
        """Forget the clients made so far (new credentials, say)."""
        self._client_instances = {}

    def client(self, version=None):
        """The client, made once per version and plugin object."""
        version = version or self.default_version
        if version not in self._client_instances:
            if version is not None and version != self.default_version \
                    and version not in self.supported_versions:
                raise exception.InvalidServiceVersion(
                    service=type(self).__name__, version=version)
            kwargs = {} if version is None else {"version": version}
            self._client_instances[version] = self._create(**kwargs)
        return self._client_instances[version]

    def _create(self, version=None):
        raise NotImplementedError(
            "%s does not make a client (_create)" % type(self).__name__)

    def is_client_exception(self, ex):
        """Is ``ex`` one of the client library's own exceptions?"""
        modules = self.exceptions_module
        if modules is None:
            return False
        for module in modules if isinstance(modules, list) else [modules]:
            if type(ex) in vars(module).values():
                return True
        return False

    def is_not_found(self, ex):
        return False

    def is_over_limit(self, ex):
        return False

    def is_conflict(self, ex):
        return False

    @ExceptionFilter
    def ignore_not_found(self, ex):
        return self.is_not_found(ex)

    @ExceptionFilter
    def ignore_conflict_and_not_found(self, ex):
        return self.is_conflict(ex) or self.is_not_found(ex)


class DefaultClientPlugin(ClientPlugin):
    """What ``_default_client_plugin()`` gives a resource without a
    client: no client, only heatflow's own EntityNotFound is "not found"."""

    def _create(self, version=None):
        return None

    def is_not_found(self, ex):
        return isinstance(ex, exception.EntityNotFound)


def register_client_plugin(name, cls):
    """Make ``cls`` (a ClientPlugin subclass) the client plugin ``name``
    in this process (it replaces one of that name)."""
    if not isinstance(name, str) or not name:
        raise exception.PluginError("a client plugin's name must be a "
                                    "non-empty string, not %r" % (name,))
    if not (inspect.isclass(cls) and issubclass(cls, ClientPlugin)):
        raise exception.PluginError("client plugin %s: %r is not a subclass "
                                    "of heatflow.clients.ClientPlugin"
                                    % (name, cls))
    with _lock:
        _registered[name] = cls


def unregister_client_plugin(name):
    with _lock:
        _registered.pop(name, None)


def _advertised():
    global _entry_points
    with _lock:
        if _entry_points is None:
            _entry_points = {ep.name: ep for ep in
                             importlib.metadata.entry_points(
                                 group=ENTRY_POINT_GROUP)}
        return _entry_points


def client_plugin_class(name):
    """The ClientPlugin subclass registered as ``name`` (or advertised by
    an entry point); ClientNotAvailable when there is none."""
    with _lock:
        cls = _registered.get(name)
    if cls is not None:
        return cls
    ep = _advertised().get(name)
    if ep is None:
        raise exception.ClientNotAvailable(client_name=name)
    source = "entry point %s = %s" % (ep.name, ep.value)
    try:
        cls = ep.load()
    except Exception as err:
        raise exception.PluginError("%s: cannot load: %s: %s" % (
            source, type(err).__name__, err)) from err
    if not (inspect.isclass(cls) and issubclass(cls, ClientPlugin)):
        raise exception.PluginError("%s: %r is not a subclass of "
                                    "heatflow.clients.ClientPlugin"
                                    % (source, cls))
    return cls


class Clients:
    """The client plugins of one resource plugin object (Heat's
    ``stack.clients``), made on first use and kept."""

    def __init__(self, context=None):
        self.context = context
        self._plugins = {}

    def client_plugin(self, name):
        if name not in self._plugins:
            self._plugins[name] = client_plugin_class(name)(self.context)
        return self._plugins[name]

    def client(self, name, version=None):
        return self.client_plugin(name).client(version=version)


# -- what Resource's client hooks do (heatflow.resource delegates here) -----

def client_name(resource, name):
    """``name``, else the resource's ``default_client_name``."""
    name = name or resource.default_client_name
    if not name:
        raise exception.PluginError(
            "%s names no client: give client()/client_plugin() a name or "
            "set default_client_name on the class" % type(resource).__name__)
    return name


def delete_entity(resource):
    """Heat's default ``handle_delete`` for a plugin with ``entity``:
    ``client().<entity>.delete(resource_id)``, a not-found ignored."""
    plugin = resource.client_plugin()
    with plugin.ignore_not_found:
        getattr(resource.client(), resource.entity).delete(
            resource.resource_id)
        return resource.resource_id
    return None


def show_entity(resource):
    """Heat's default ``show`` attribute for a plugin with ``entity``:
    ``client().<entity>.get(resource_id)`` as a dict."""
    try:
        found = getattr(resource.client(), resource.entity).get(
            resource.resource_id)
        return found if isinstance(found, dict) else found.to_dict()
    except AttributeError as exc:
        # Heat's rule: a client without the entity, or an object without
        # to_dict(), gives no "show" rather than a failure.
        LOG.warning("resource %s: resolving 'show' failed: %s",
                    resource.name, exc)
        return None
