"""Prometheus metrics for operators: what conductors and embedded
services did, for dashboards and alerts.

Optional: with ``prometheus_client`` installed (``pip install
prometheus-client``, or the ``[metrics]`` extra) the recorders below count
into :data:`REGISTRY`, a registry of heatflow's own (a service mounts it
beside its own metrics, or serves it with :func:`serve`; ``heatflow
conductor --metrics-port`` does); without it every recorder does nothing,
so the engine calls them unconditionally and costs nothing extra.

Names follow Prometheus' conventions (``heatflow_`` prefix, ``_total``
counters, ``_seconds`` histograms); label values are few (actions,
outcomes, resource types), never stack names or ids.
"""

import threading

try:
    import prometheus_client
except ImportError:         # the optional extra is not installed
    prometheus_client = None

#: Outcomes of a resource action (REPLACED: ``handle_update`` asked for
#: a replacement).
COMPLETE, FAILED, TIMED_OUT, SUPERSEDED, REPLACED = (
    "COMPLETE", "FAILED", "TIMED_OUT", "SUPERSEDED", "REPLACED")

#: Resource actions take from milliseconds (in-process plugins) to many
#: minutes (a server booting).
ACTION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                  30, 60, 120, 300, 600, 1800)

REGISTRY = None
_metrics = {}
_lock = threading.Lock()


def enabled():
    return prometheus_client is not None


def _get(kind, name, doc, labels=(), **kwargs):
    """The metric ``name``, made on first use in :data:`REGISTRY`."""
    metric = _metrics.get(name)
    if metric is None:
        with _lock:
            metric = _metrics.get(name)
            if metric is None:
                metric = getattr(prometheus_client, kind)(
                    name, doc, labels, registry=REGISTRY, **kwargs)
                _metrics[name] = metric
    return metric


if prometheus_client is not None:
    REGISTRY = prometheus_client.CollectorRegistry(auto_describe=True)


def operation_finished(action, outcome):
    """A stack operation settled: ``outcome`` is its stack status
    (COMPLETE, FAILED) or SUPERSEDED."""
    if prometheus_client is None:
        return
    _get("Counter", "heatflow_operations_total",
         "Stack operations that settled, by action and outcome",
         ("action", "outcome")).labels(action, outcome).inc()


def resource_action(type_name, action, outcome, seconds):
    """One plugin action ended (``seconds``: as this process saw it; a
    resumed action counts from its resumption)."""
    if prometheus_client is None:
        return
    type_name = type_name or "unknown"
    _get("Counter", "heatflow_resource_actions_total",
         "Resource actions run by plugins, by type, action and outcome",
         ("type", "action", "outcome")).labels(
             type_name, action, outcome).inc()
    _get("Histogram", "heatflow_resource_action_seconds",
         "How long resource actions took, by type and action",
         ("type", "action"), buckets=ACTION_BUCKETS).labels(
             type_name, action).observe(seconds)


def takeover():
    """A run took an operation over from a dead or lost one."""
    _count("heatflow_takeovers_total",
           "Operations taken over from a run that died or lost its "
           "session")


def fenced_write_refused():
    """A write of a run that no longer owns its operation was refused."""
    _count("heatflow_fenced_writes_refused_total",
           "Writes refused because their run had been fenced off")


def watchdog_repost():
    _count("heatflow_watchdog_reposts_total",
           "Jobs the watchdog posted again because they had gone missing")


def watchdog_timeout():
    _count("heatflow_watchdog_timeouts_total",
           "Operations the watchdog failed past their deadline")


def jobs_waiting(count):
    """Jobs on the board that no conductor has claimed (the watchdog's
    view, refreshed every round)."""
    if prometheus_client is None:
        return
    _get("Gauge", "heatflow_jobs_waiting",
         "Jobs on the jobboard that no conductor has claimed").set(count)


def _count(name, doc):
    if prometheus_client is not None:
        _get("Counter", name, doc).inc()


def serve(port, addr="0.0.0.0"):
    """Serve :data:`REGISTRY` over HTTP on ``port`` (``/metrics``) from a
    daemon thread; raises RuntimeError without prometheus_client."""
    if prometheus_client is None:
        raise RuntimeError("metrics need prometheus_client: pip install "
                           "prometheus-client (from a clone of heatflow: "
                           "pip install -e '.[metrics]')")
    prometheus_client.start_http_server(port, addr=addr, registry=REGISTRY)
