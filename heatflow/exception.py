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
    """

    def __init__(self, message, path=None):
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
