"""heatflow: OpenStack Heat's convergence engine as a library on TaskFlow.

``heatflow.Orchestrator`` is the entry point; plugins subclass
``heatflow.resource.Resource``.  Everything in ``__all__`` is the public
API (the ``heatflow`` command uses nothing else).
"""

from heatflow import exception  # noqa: F401

# Public name -> the module that defines it.  Imported on first use: the
# API pulls in SQLAlchemy (and TaskFlow once it runs an operation), which
# "from heatflow import properties" in a plugin module, or a command that
# only reads a template, should not pay for.
_LAZY = {
    "Orchestrator": "heatflow.api",
    "Operation": "heatflow.operation",
    "Stack": "heatflow.api",
    "Resource": "heatflow.api",
    "Event": "heatflow.api",
    "Output": "heatflow.api",
    "Progress": "heatflow.status",
    "Waiting": "heatflow.status",
    "Graph": "heatflow.status",
    "GraphNode": "heatflow.status",
    "Environment": "heatflow.environment",
    "RequestContext": "heatflow.context",
    "validate_template": "heatflow.standalone",
    "dependency_graph": "heatflow.standalone",
    "get_file_references": "heatflow.standalone",
    "is_template_type": "heatflow.plugins.template_resource",
    "is_template": "heatflow.template_format",
    "resource_types": "heatflow.standalone",
    "resource_type_schema": "heatflow.standalone",
    "upgrade_database": "heatflow.standalone",
    "generate_encryption_key": "heatflow.standalone",
    "ENCRYPTION_KEY_ENV": "heatflow.standalone",
    "Conductor": "heatflow.runners.conductor",
    "serve_conductor": "heatflow.runners.conductor:serve",
    "serve_metrics": "heatflow.metrics:serve",
    "SignalReceiver": "heatflow.signal_receiver",
    "json_log_handler": "heatflow.logs:json_handler",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module, _, attr = _LAZY[name].partition(":")
        return getattr(importlib.import_module(module), attr or name)
    raise AttributeError("module 'heatflow' has no attribute %r" % (name,))


__all__ = sorted(_LAZY) + ["exception"]
