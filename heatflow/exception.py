"""Errors raised by heatflow.

Everything a caller should catch derives from :class:`HeatflowError`.
Validation errors carry the place in the template they refer to as a dotted
path (``resources.web.properties.size``) so that a message always says where
the problem is; ``str(error)`` is ``"<path>: <message>"``.
"""


class HeatflowError(Exception):
    """Base class of every error heatflow raises on purpose."""


def format_path(path):
    """Render a path given as a string or a sequence of keys/indexes.

    ``["resources", "web", "properties", "ports", 0]`` becomes
    ``resources.web.properties.ports[0]``.
    """
    if path is None:
        return ""
    if isinstance(path, str):
        return path
    out = ""
    for part in path:
        if isinstance(part, int):
            out += "[%d]" % part
        else:
            out += ("." if out else "") + str(part)
    return out


class StackValidationFailed(HeatflowError):
    """The template, parameters or files are not acceptable.

    Raised before anything is written or any resource is touched.

    Heat's keywords work too, for ported plugins: ``error`` (a label put
    before the message, or an exception whose text becomes the message)
    and ``resource`` (a plugin: the path is then its place in the
    template).
    """

    def __init__(self, message=None, path=None, error=None, resource=None):
        if isinstance(error, StackValidationFailed):
            message = error.message if message is None else message
            path = error.path if path is None else path
        elif isinstance(error, Exception):
            message = "%s: %s" % (type(error).__name__, error)
        elif error:
            message = "%s: %s" % (error, message) if message else error
        if path is None and resource is not None:
            path = ("resources", resource.name)
        message = "" if message is None else str(message)
        self.message = message
        self.path = format_path(path)
        super().__init__(self.path + ": " + message if self.path else message)


class InvalidTemplateVersion(StackValidationFailed):
    pass


class UnknownResourceType(StackValidationFailed):
    pass


class LimitExceeded(StackValidationFailed):
    """A configured limit (template size, resource count, ...) was exceeded."""


class NotFound(HeatflowError):
    pass


class StackNotFound(NotFound):
    def __init__(self, name):
        self.stack_name = name
        super().__init__("Stack %r not found" % (name,))


class ResourceNotFound(NotFound):
    def __init__(self, stack_name, resource_name):
        super().__init__("Resource %r not found in stack %r"
                         % (resource_name, stack_name))


class StackExists(HeatflowError):
    def __init__(self, name):
        super().__init__("Stack %r already exists" % (name,))


class ActionNotAllowed(HeatflowError):
    """The stack is in a state in which this operation makes no sense."""


class NotAuthorized(HeatflowError):
    """A request whose credentials (a signal's token) do not match."""


class OperationTimeout(HeatflowError):
    """Operation.wait() gave up before the operation settled."""


class UpdateReplace(Exception):
    """Raised by a plugin's handle_update: this change needs a new resource.

    Not a HeatflowError: it is control flow between a plugin and the engine,
    never seen by callers.
    """

    def __init__(self, resource_name=None):
        self.resource_name = resource_name
        super().__init__("The resource %s requires replacement."
                         % (resource_name or "",))


class ResourceFailure(HeatflowError):
    """A resource action failed; carries the plugin's message."""

    def __init__(self, resource_name, action, message):
        self.resource_name = resource_name
        self.action = action
        super().__init__("%s: %s" % (resource_name, message))


class NoActionRequired(HeatflowError):
    """Heat's: a resource's ``handle_signal`` had nothing to do (no event
    is written for the signal)."""


class Timeout(HeatflowError):
    """A resource action or a stack operation ran past its deadline."""


class Superseded(HeatflowError):
    """A newer operation on the stack made this traversal stale.

    Writes that carry a stale traversal id are rejected with this error.
    """


class RollbackRequested(HeatflowError):
    """The stack's operation is to be rolled back (its atoms raise this so
    that TaskFlow reverts what the operation did)."""


class EncryptionKeyError(HeatflowError):
    """An encryption key is malformed, or stored data is encrypted and no
    configured key opens it (see :mod:`heatflow.persistence.sealing`)."""


class PluginError(HeatflowError):
    """A plugin could not be loaded or is malformed."""


class EngineStorageError(HeatflowError):
    """heatflow's own database failed (unreachable past the outage
    patience, disk full, ...): the engine's failure, never a resource's."""

    def __init__(self, cause):
        self.cause = cause
        # SQLAlchemy's message runs on with the SQL and a link: the first
        # line says what happened.
        first = (str(cause) or type(cause).__name__).splitlines()[0]
        super().__init__("engine storage error: %s" % first)


#: How to make a plugin known to a process (every process that runs
#: operations: the API's, workers, conductors).
HOW_TO_LOAD_PLUGINS = (
    "Orchestrator.register_plugin(), an entry point in the group "
    "'heatflow.resources', or a plugin directory (--plugin-dir DIR or "
    "HEATFLOW_PLUGIN_DIRS)")


class DatabaseDriverMissing(HeatflowError):
    """The database URL names a driver that is not installed."""


class PluginNotLoaded(HeatflowError):
    """An operation on an existing stack needs resource types that no
    plugin in this process provides (refused before anything is
    written)."""

    def __init__(self, stack_name, action, types):
        self.stack_name = stack_name
        self.types = list(types)
        super().__init__(
            "stack %s: the %s needs the plugin of resource type%s %s, which "
            "is not loaded in this process; load it with %s. Nothing was "
            "changed." % (stack_name, action.lower(),
                          "s" if len(self.types) > 1 else "",
                          ", ".join(self.types), HOW_TO_LOAD_PLUGINS))


# -- Heat's exception names, for plugins ported from Heat -------------------
#
# A Heat plugin raises and catches these by name (``exception.Error(msg)``,
# ``exception.ResourceInError(resource_status=..., status_reason=...)``), so
# they take Heat's constructor keywords.  They are HeatflowErrors: a plugin
# hook that raises one fails its resource with the message alone, like any
# error heatflow raises on purpose (flows/atoms.py, _message).


class HeatException(HeatflowError):
    """Heat's base class: ``msg_fmt`` is filled in from the constructor's
    keywords (``msg_fmt % kwargs``).  Plugins subclass it with their own
    ``msg_fmt``, as in Heat."""

    msg_fmt = "An unknown error occurred."
    #: The keyword that positional arguments fill, joined with commas
    #: (Heat's ``ResourcePropertyConflict("a", "b")``); None: keywords only.
    joined_keyword = None

    def __init__(self, *args, **kwargs):
        if args:
            if self.joined_keyword is None:
                raise TypeError("%s takes keyword arguments only"
                                % type(self).__name__)
            kwargs[self.joined_keyword] = ", ".join(str(a) for a in args)
        self.kwargs = kwargs
        try:
            self.message = self.msg_fmt % kwargs
        except (KeyError, TypeError, ValueError):
            # Keywords that do not fit the format are the raiser's bug;
            # Heat then loses the details, here they stay in the message.
            self.message = "%s (%s)" % (self.msg_fmt, ", ".join(
                "%s=%r" % item for item in sorted(kwargs.items())))
        super().__init__(self.message)

    def __str__(self):
        return self.message

    def __reduce__(self):
        # Pickled and copied by state: the constructors' signatures vary
        # (Error(msg), EntityNotFound(entity, name), keywords elsewhere).
        return _rebuilt, (type(self), dict(self.__dict__))


def _rebuilt(cls, state):
    exc = cls.__new__(cls)
    Exception.__init__(exc, state.get("message"))
    exc.__dict__.update(state)
    return exc


class Error(HeatException):
    """A plugin's failure in its own words: ``Error("disk full")``."""

    msg_fmt = "%(message)s"

    def __init__(self, msg):
        super().__init__(message=msg)


def _heat_error(name, msg_fmt, joined_keyword=None):
    """A Heat exception class that is no more than its message format."""
    return type(name, (HeatException,), {
        "msg_fmt": msg_fmt, "joined_keyword": joined_keyword,
        "__module__": __name__, "__qualname__": name})


Invalid = _heat_error("Invalid", "Invalid data: %(reason)s")
NotSupported = _heat_error("NotSupported", "%(feature)s is not supported.")
ResourceActionNotSupported = _heat_error(
    "ResourceActionNotSupported",
    "%(action)s is not supported for this resource.")
PhysicalResourceExists = _heat_error(
    "PhysicalResourceExists",
    "The physical resource of %(name)s still exists.")
PhysicalResourceNameAmbiguity = _heat_error(
    "PhysicalResourceNameAmbiguity",
    "More than one physical resource is named %(name)s.")
UserParameterMissing = _heat_error(
    "UserParameterMissing", "The parameter %(key)s was not given a value.")
InvalidTemplateAttribute = _heat_error(
    "InvalidTemplateAttribute",
    "Resource %(resource)s has no attribute %(key)s.")
InvalidTemplateReference = _heat_error(
    "InvalidTemplateReference",
    'The reference "%(resource)s" (in %(key)s) names no resource.')
TemplateOutputError = _heat_error(
    "TemplateOutputError",
    "Output %(attribute)s of %(resource)s failed: %(message)s")
ResourcePropertyConflict = _heat_error(
    "ResourcePropertyConflict",
    "These properties cannot be given together: %(props)s.", "props")
PropertyUnspecifiedError = _heat_error(
    "PropertyUnspecifiedError",
    "One of these properties must be given: %(props)s.", "props")
ResourcePropertyDependency = _heat_error(
    "ResourcePropertyDependency",
    "%(prop1)s cannot be given without %(prop2)s.")
ResourcePropertyValueDependency = _heat_error(
    "ResourcePropertyValueDependency",
    "%(prop1)s may only be given when %(prop2)s is %(value)s.")
ResourceNotAvailable = _heat_error(
    "ResourceNotAvailable", "Resource %(resource_name)s is not available.")
InvalidServiceVersion = _heat_error(
    "InvalidServiceVersion",
    "Version %(version)s of the %(service)s client is not supported.")


class ResourceInError(HeatException):
    """The physical resource reached an error state (a server in ERROR)."""

    msg_fmt = 'The resource went to status %(resource_status)s: ' \
              '"%(status_reason)s"'

    def __init__(self, status_reason="Unknown", **kwargs):
        super().__init__(status_reason=status_reason, **kwargs)


class ResourceUnknownStatus(HeatException):
    """The physical resource reports a status the plugin does not know."""

    msg_fmt = '%(result)s: unknown status %(resource_status)s ' \
              '("%(status_reason)s")'

    def __init__(self, result="Resource failed", status_reason="Unknown",
                 **kwargs):
        super().__init__(result=result, status_reason=status_reason,
                         **kwargs)


class EntityNotFound(HeatException):
    """A named thing does not exist: ``EntityNotFound(entity="Server",
    name="web")``.  Not a :class:`NotFound` (heatflow's stacks and
    resources), as in Heat, where ``except NotFound`` does not catch it."""

    msg_fmt = "%(entity)s %(name)s could not be found."

    def __init__(self, entity=None, name=None, **kwargs):
        self.entity = entity
        self.name = name
        super().__init__(entity=entity, name=name, **kwargs)


class ClientNotAvailable(HeatException):
    """No client plugin is registered under the name a resource asked for
    (``default_client_name`` or ``self.client("name")``)."""

    msg_fmt = ("No client plugin named %(client_name)s is registered in this "
               "process; register one with heatflow.clients."
               "register_client_plugin() or an entry point in the group "
               "'heatflow.clients'.")


class RequestLimitExceeded(LimitExceeded):
    """Heat's name for a size limit a plugin's input broke (a template
    given as a property, say); ``RequestLimitExceeded(message=...)``."""
