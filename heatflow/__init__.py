"""heatflow: OpenStack Heat's convergence engine as a library on TaskFlow.

``heatflow.Orchestrator`` is the entry point; plugins subclass
``heatflow.resource.Resource``.
"""

from heatflow import exception  # noqa: F401


def __getattr__(name):
    # The API pulls in TaskFlow and SQLAlchemy; importing it lazily keeps
    # "from heatflow import properties" cheap for plugin modules.
    if name in ("Orchestrator", "Operation", "Stack", "Resource", "Event",
                "Output"):
        from heatflow import api
        return getattr(api, name)
    raise AttributeError("module 'heatflow' has no attribute %r" % (name,))


__all__ = ["Orchestrator", "Operation", "Stack", "Resource", "Event",
           "Output", "exception"]
