"""The resource plugin base class: Heat's plugin contract.

A Heat plugin ports by changing its imports to ``from heatflow import
resource, properties, attributes, constraints, exception``.

The engine builds one plugin instance per resource action (a fresh object
each time, as Heat's convergence workers do) and drives it through
``handle_<action>`` followed by polling ``check_<action>_complete``.  Anything
a plugin must remember between actions goes through ``resource_id_set`` and
``data_set``, which are persisted at once through the engine's
:class:`ResourceStorage`.
"""

import secrets

from heatflow import clients
from heatflow import exception
from heatflow import rpc_client
from heatflow import rsrc_defn
from heatflow import states
from heatflow import stack_view
from heatflow import support
# Plugins name actions and statuses through this module too
# (resource.CREATE); they are heatflow.states'.
from heatflow.states import (  # noqa: F401
    ADOPT, CHECK, COMPLETE, CREATE, DELETE, FAILED, IN_PROGRESS, INIT,
    RESUME, ROLLBACK, SNAPSHOT, SUSPEND, UPDATE)


#: The longest physical name (the column's width).
PHYSICAL_NAME_MAX = 255


def physical_name(stack_name, resource_name):
    """A new physical name for an incarnation of ``resource_name``:
    ``<stack>-<resource>-<12 random hex digits>``, the front shortened when
    it would not fit (the random part is what makes it unique)."""
    suffix = "-" + secrets.token_hex(6)
    front = "%s-%s" % (stack_name, resource_name)
    return front[:PHYSICAL_NAME_MAX - len(suffix)] + suffix


_memory_configs = {}


class TypeName(str):
    """The resource's type: a string, and callable for plugins that ask
    for it as Heat's ``self.type()``."""

    def __new__(cls, value):
        if value is None:
            return None
        return super().__new__(cls, value)

    def __call__(self):
        return str(self)


class PollDelay(Exception):
    """Raised by a plugin's ``check_<action>_complete`` for "not done yet,
    and there is no point asking again for ``period`` seconds" (Heat's
    ``resource.PollDelay``; Heat counts the period in its engine's steps,
    which are one second apart, so the figures mean the same).

    A plugin that knows when its wait ends (a cloud API's estimate, a
    timer) spares the API the engine's guesses.  The engine's own
    back-off is left where it was, and the action's deadline still
    applies: a period past it times the action out at the deadline,
    without asking the plugin again."""

    def __init__(self, period):
        period = float(period)
        # NaN and infinity too: a pause must end (the deadline bounds it,
        # but not every action has one).
        if not 0 <= period < float("inf"):
            raise ValueError("PollDelay needs a finite period of 0 seconds "
                             "or more, not %r" % (period,))
        super().__init__("poll again in %g s" % period)
        self.period = period


class ResourceStorage:
    """Where a plugin's persistent bits go.  The engine passes a subclass
    backed by the database; the default keeps them in memory (unit tests of
    plugins, dry runs)."""

    def __init__(self, resource_id=None, data=None, physical_name=None):
        self.resource_id = resource_id
        self._data = dict(data or {})
        self.physical_name = physical_name

    def set_resource_id(self, value):
        self.resource_id = value

    def name_physically(self, name):
        """The incarnation's physical name: the stored one, else ``name``,
        stored now."""
        if not self.physical_name:
            self.physical_name = name
        return self.physical_name

    def data(self):
        return dict(self._data)

    def data_set(self, key, value, redact=False):
        self._data[key] = value

    def data_delete(self, key):
        self._data.pop(key, None)

    def check_held(self):
        """Raise Superseded unless this run may still act on the resource
        (in memory: it always may)."""


class Resource:
    """Base class of every resource type.

    Subclasses declare ``properties_schema`` and ``attributes_schema`` and
    override the ``handle_*`` / ``check_*_complete`` hooks they need; with no
    handler an action completes at once.
    """

    # Heat plugins name actions and statuses through the class
    # (self.CREATE, Resource.ACTIONS ...): class attributes, named as the
    # module's (hence the noqa).
    ACTIONS = states.ACTIONS
    STATUSES = states.STATUSES
    (INIT, CREATE, DELETE, UPDATE,  # noqa: F811
     ROLLBACK, SUSPEND, RESUME,  # noqa: F811
     ADOPT, SNAPSHOT, CHECK) = ACTIONS  # noqa: F811
    (IN_PROGRESS, FAILED, COMPLETE) = STATUSES  # noqa: F811

    properties_schema = {}
    attributes_schema = {}
    update_policy_schema = {}
    #: How well the type is supported (heatflow.support).
    support_status = support.SupportStatus()
    #: Seconds an action may take when the template gives no ``timeout``.
    default_timeout = None
    #: Properties updatable in place whatever their schema says (Heat's
    #: name): as ``update_allowed=True`` in the schema.
    update_allowed_properties = ()
    #: False: accept properties the schema does not name (OS::Heat::None).
    strict_properties = True
    #: False: accept any attribute name, resolving unknown ones to None.
    strict_attributes = True
    #: The client plugin client() and client_plugin() give when not
    #: named (heatflow.clients).
    default_client_name = None
    #: The attribute of the client that manages this type's physical
    #: resources (``"servers"``): with it set, the default handle_delete
    #: and ``show`` use ``client().<entity>``, as in Heat.
    entity = None

    def __init__(self, name, definition, properties, *, storage=None,
                 stack_name="", stack_id="", metadata=None, action=INIT,
                 status=COMPLETE):
        if isinstance(properties, stack_view.StackView):
            # Heat's constructor (make_plugin): the stack view carries
            # what heatflow's takes as arguments.
            stack = properties
            args = dict(stack._init_args or {})
            Resource.__init__(self, name, definition,
                              args.pop("properties", None), **args)
            self.stack = stack
            return
        #: The stack, read-only (heatflow.stack_view); set by make_plugin.
        self.stack = None
        self.name = name
        self.type = TypeName(getattr(definition, "type", None))
        self.properties = properties
        self.metadata = metadata or {}
        #: The definition, its values resolved (Heat's ``self.t``).
        self.t = rsrc_defn.ResourceDefinition.of(
            definition, name, self.type,
            getattr(properties, "given", getattr(properties, "data", None)),
            self.metadata)
        self.stack_name = stack_name
        self.stack_id = stack_id
        self.action = action
        self.status = status
        self._storage = storage if storage is not None else ResourceStorage()

    # -- building an instance without the engine --------------------------

    @classmethod
    def for_test(cls, name, properties=None, resource_id=None, data=None,
                 stack_name="test", type_name=None):
        """An instance with validated properties and in-memory storage.

        For plugin unit tests and tools; the engine never uses it.
        """
        from heatflow import plugin_factory     # it builds on this module
        props = plugin_factory.properties_for(cls, name,
                                              dict(properties or {}))
        storage = ResourceStorage(resource_id, data,
                                  physical_name(stack_name, name))
        inst = plugin_factory.make_plugin(
            cls, name, None, props, stack_view.StackView(stack_name, ""),
            storage=storage)
        inst.type = TypeName(type_name)
        return inst

    # -- persistent state ---------------------------------------------------

    @property
    def resource_id(self):
        return self._storage.resource_id

    def resource_id_set(self, value):
        """Record the physical id; persisted before this call returns, so a
        resumed action finds it instead of creating a second resource."""
        self._storage.set_resource_id(None if value is None else str(value))

    def data(self):
        return self._storage.data()

    def data_set(self, key, value, redact=False):
        self._storage.data_set(key, value, redact=redact)

    def data_delete(self, key):
        self._storage.data_delete(key)

    def physical_resource_name(self):
        """A name unique to this incarnation of the resource, stable across
        retries, resumes and takeovers of its actions: made once per
        incarnation (resource row) and stored with it.  A replacement is a
        new incarnation with a new name (Heat's rule)."""
        name = self._storage.physical_name
        if not name:
            name = self._storage.name_physically(
                physical_name(self.stack_name, self.name))
        return name

    # -- clients (heatflow.clients) -----------------------------------------

    def client(self, name=None, version=None):
        """The client of the client plugin ``name`` (default:
        ``default_client_name``)."""
        return self.client_plugin(name).client(version=version)

    def client_plugin(self, name=None):
        """The client plugin ``name`` (default: ``default_client_name``);
        exception.ClientNotAvailable when none is registered."""
        name = clients.client_name(self, name)
        if getattr(self, "_clients", None) is None:
            # The operation's request context (None if none was given).
            self._clients = clients.Clients(context=self.context)
        return self._clients.client_plugin(name)

    def _default_client_plugin(self):
        """A client plugin even for a type without a client, so that
        ``ignore_not_found`` and the ``is_*`` tests are always there."""
        if self.default_client_name:
            return self.client_plugin()
        return clients.DefaultClientPlugin(None)

    def translation_rules(self, props):
        """Rules rewriting the properties before the plugin sees them
        (heatflow.translation); none by default.  Applied before
        validation, in the dry run and before every action (see
        :func:`heatflow.plugin_factory.properties_for`)."""
        return []

    def translate_properties(self, properties, client_resolve=True,
                             ignore_resolve_error=False):
        """Heat's: ``properties`` translated by this plugin's rules (a new
        Properties; Heat changes them in place)."""
        from heatflow import plugin_factory     # it builds on this module
        return plugin_factory.properties_for(
            type(self), self.name, getattr(properties, "given",
                                           properties.data),
            plugin=self, client_resolve=client_resolve, validate=False,
            strict=properties.strict, ignore_errors=ignore_resolve_error)

    def reparse(self, client_resolve=True):
        """Heat's: the properties again from what the engine resolved for
        this action, translated (``self.properties`` is replaced)."""
        self.properties = self.translate_properties(
            self.properties, client_resolve=client_resolve)

    def rpc_client(self):
        """Heat's engine API as plugins call it: software configs
        (heatflow.rpc_client), kept in the stack's database."""
        configs = getattr(self.stack, "software_configs", None)
        if configs is None:
            # Built without the engine: one store per plugin class, so a
            # plugin's unit test sees what it made.
            configs = _memory_configs.setdefault(type(self),
                                                 rpc_client.MemoryConfigs())
        return rpc_client.EngineClient(configs)

    @property
    def context(self):
        """The request context of the operation's caller
        (:class:`heatflow.context.RequestContext`), or None when the
        caller gave none."""
        return getattr(self.stack, "context", None)

    def frozen_definition(self):
        """Heat's: the definition with the property values this plugin
        was given (as recorded, before translation)."""
        return self.t.freeze(properties=getattr(
            self.properties, "given", self.properties.data))

    # -- lifecycle hooks (all optional) -------------------------------------

    def validate(self):
        """Validation before anything is made.  The default checks the
        properties against the schema (Heat's): a plugin overriding it
        calls ``super().validate()`` to keep that, as in Heat (one that
        does not, such as Heat's ``OS::Heat::None``, takes any
        properties)."""
        if self.properties is not None:
            self.properties.validate()

    def handle_create(self):
        return None

    def check_create_complete(self, token):
        return True

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        # Heat's default: a plugin that does not implement updates must be
        # replaced whenever a property changes.
        if prop_diff:
            raise exception.UpdateReplace(self.name)
        return None

    def check_update_complete(self, token):
        return True

    def handle_delete(self):
        # Heat's default: with ``entity`` set, delete through the client
        # (a missing client plugin fails the delete, naming it: nothing is
        # forgotten silently).
        if self.entity and self.resource_id is not None:
            return clients.delete_entity(self)
        return None

    def check_delete_complete(self, token):
        return True

    # -- replacement policy -------------------------------------------------

    def _needs_update(self, after, before, after_props, before_props,
                      prev_resource, check_init_complete=True):
        """Heat's hook: does converging to ``after`` (the new definition;
        ``after_props`` its translated properties) need an update?  False:
        nothing is done; raise ``UpdateReplace``: replaced.  The engine
        asks it only when a plugin overrides it or ``needs_replace``, and
        only once the state rules (a failed, deleted or never created
        incarnation; flows/convergence.py) have not decided already: what
        remains of Heat's default is this.  ``before``: the definition
        the resource was last converged to (None if not known)."""
        if self.needs_replace(after_props):
            raise exception.UpdateReplace(self.name)
        if before is None or after is None or \
                before.to_dict() != after.to_dict():
            return True
        try:
            return dict(before_props) != dict(after_props)
        except Exception:
            return True         # (Heat's answer when one cannot be read)

    def needs_replace(self, after_props):
        return False

    def needs_replace_with_prop_diff(self, changed_keys, after_props,
                                     before_props):
        return False

    def needs_replace_with_tmpl_diff(self, tmpl_diff):
        return False

    def needs_replace_failed(self):
        return True

    def prepare_for_replace(self):
        """Heat's hook: called on an incarnation about to be replaced,
        before its replacement is created (OS::Nova::KeyPair deletes its
        key pair there, to free the name).  The default does nothing."""

    def handle_metadata_reset(self):
        """Heat's hook: called as ``stack resource mark unhealthy
        --reset`` marks a CHECK_FAILED resource healthy again, before it
        does (a plugin whose metadata may hang in a wrong state resets
        it).  The default does nothing."""

    def restore_prev_rsrc(self, convergence=False):
        """Heat's hook for undoing prepare_for_replace: a rollback calls
        it, ``convergence=True``, on the original of a replacement before
        the replacement is deleted (``self.replaced_by`` names the
        replacement's row; docs/plugins.rst).  The default does
        nothing."""

    # -- intrinsic functions ------------------------------------------------

    def physical_resource_name_or_FnGetRefId(self):
        """Heat's: the physical name, else the reference id."""
        name = self.physical_resource_name()
        if name is not None:
            return str(name)
        return Resource.get_reference_id(self)

    def get_reference_id(self):
        """What ``get_resource`` returns."""
        if self.resource_id is not None:
            return self.resource_id
        return self.name

    def _resolve_attribute(self, name):
        return None

    def _show_resource(self):
        if self.entity:
            return clients.show_entity(self)
        return {}

    def get_attribute(self, name):
        """What ``get_attr`` returns for attribute ``name`` (None: all)."""
        if name is None:
            names = [n for n in self.attributes_schema if n != "show"]
            return {n: self._resolve_attribute(n) for n in names}
        if name == "show":
            return self._show_resource()
        if name not in self.attributes_schema and self.strict_attributes:
            raise exception.StackValidationFailed(
                "unknown attribute %r" % (name,),
                ("resources", self.name, "attributes"))
        return self._resolve_attribute(name)

    FnGetAtt = get_attribute

    def FnGetRefId(self):
        return self.get_reference_id()
