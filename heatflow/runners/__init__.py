"""How stack operations get run: one seam, three ways.

A process that starts or resumes operations (an :class:`~heatflow.api.
Orchestrator`, the detached worker) owns a :class:`base.Host` -- the
database, the plugin registry and the runtime the atoms find by key,
assembled once -- and hands every planned operation to a
:class:`base.Runner`:

``local.LocalRunner``
    on threads of this process, the embedded default;
``local.DetachedRunner``
    in a worker process of its own (``python -m heatflow.runners.local``)
    that outlives the caller: the command line without ``--wait``;
``jobboard.JobboardRunner``
    posted as a job on the ZooKeeper jobboard, for conductors to run.

The other side of the jobboard is :mod:`heatflow.runners.conductor`, which
builds the same Host and runs claimed jobs with the same
:class:`heatflow.flows.execution.OperationExecutor` the local runner uses.
"""

from heatflow.runners.base import Host, Runner  # noqa: F401


def for_orchestrator(host, zookeeper=None, zookeeper_auth=None,
                     detach_args=None, max_workers=32,
                     zookeeper_connect_timeout=None):
    """The runner of an Orchestrator with these options."""
    if zookeeper:
        from heatflow.runners import jobboard
        return jobboard.JobboardRunner(
            host, zookeeper, zookeeper_auth,
            connect_timeout=zookeeper_connect_timeout)
    from heatflow.runners import local
    options = dict(lock_dir=host.lock_dir(),
                   locks_decide_ownership=host.db.is_sqlite)
    if detach_args is not None:
        return local.DetachedRunner(host, detach_args, max_workers,
                                    **options)
    return local.LocalRunner(host, max_workers, **options)
