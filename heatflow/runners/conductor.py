"""The conductor: claims stack operations from the ZooKeeper jobboard and
runs them, so that several processes share the work and survive each
other's death.

- Claiming, releasing and consuming jobs is TaskFlow's conductor
  (``NonBlockingConductor``); what a job means is ours: the job names an
  operation (stack, traversal, flow) and the conductor starts a new *run*
  of it -- ``take_over`` swaps the stack's run token, fencing whatever ran
  it before -- and runs its flow from TaskFlow's persisted state, so
  finished actions are not repeated and one in flight is resumed.
- Each run has an ephemeral znode while it executes: a resource lock held
  by a run without one belongs to a dead conductor and may be broken.
- When the ZooKeeper session is SUSPENDED or LOST, every run here is fenced
  at once: no further plugin action starts, and neither heatflow's nor
  TaskFlow's writes for those runs are accepted (another conductor may hold
  the job by now).  The listener that does it never raises, and such
  expected conditions are logged in one line each, without a traceback.
- A job that duplicates its operation's job (see heatflow/jobs.py) is
  dropped unrun: a run is never taken over by a second job of its own
  operation.
- SIGTERM: in-flight actions finish, the engines stop, and their jobs are
  released so another conductor claims them at once.
- A conductor that lacks the plugin of a resource type an operation needs
  does not run it: it says so in the stack's status reason, releases the
  job for a conductor that has the plugin, and leaves that job alone for a
  while (``DECLINE_SECONDS``).
- Each conductor stands for election as the watchdog
  (heatflow/runners/watchdog.py), which fails operations past their
  deadline that nobody runs and re-posts operations whose job has gone
  missing.
"""

import logging
import os
import socket
import threading
import time
import uuid

import sqlalchemy as sa
from kazoo import exceptions as kazoo_exc
from kazoo.protocol import states as kazoo_states
from taskflow.conductors.backends import impl_nonblocking

from heatflow import child_stacks
from heatflow import exception
from heatflow import logs
from heatflow.flows import polling
from heatflow.flows import execution
from heatflow import jobs
from heatflow import lifecycle
from heatflow import states
from heatflow.runners import base
from heatflow.runners import jobboard
from heatflow.runners import watchdog as watchdog_mod
from heatflow.persistence import database
from heatflow.persistence import store as store_mod
from heatflow.template.loader import DEFAULT_LIMITS

LOG = logging.getLogger(__name__)


def unique_name(prefix="conductor"):
    """TaskFlow tells job owners apart by name only: make it unique."""
    return "%s-%s-%d-%s" % (prefix, socket.gethostname(), os.getpid(),
                            uuid.uuid4().hex[:8])


#: Stack status reasons start so while no conductor with the plugins an
#: operation needs has taken it.
WAITING_FOR_PLUGINS = "Waiting for a conductor with the plugin of "


class _DecliningBoard:
    """The jobboard as TaskFlow's conductor loop sees it: without the jobs
    this conductor declined lately (it lacks a plugin they need), so that
    it does not claim them again at once; everything else is the board."""

    def __init__(self, board):
        self._board = board
        self._declined = {}          # job uuid -> monotonic time to retry
        self._lock = threading.Lock()

    def decline(self, job, seconds):
        now = time.monotonic()
        with self._lock:
            for uuid_, until in list(self._declined.items()):
                if until <= now:
                    del self._declined[uuid_]
            self._declined[job.uuid] = now + seconds

    def _declines(self, job):
        with self._lock:
            until = self._declined.get(job.uuid)
        return until is not None and until > time.monotonic()

    def iterjobs(self, *args, **kwargs):
        return (job for job in self._board.iterjobs(*args, **kwargs)
                if not self._declines(job))

    def __getattr__(self, name):
        return getattr(self._board, name)


class _TaskflowConductor(impl_nonblocking.NonBlockingConductor):
    """TaskFlow's conductor, with job dispatch handed to heatflow."""

    def __init__(self, owner, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._owner = owner

    def _dispatch_job(self, job):
        return self._owner.dispatch(job)


class Conductor:
    #: How long a conductor leaves alone a job it declined for a missing
    #: plugin before it looks at it again.
    DECLINE_SECONDS = 60.0

    def __init__(self, db_url=None, zookeeper=None, name=None, workers=4,
                 max_workers=32, plugin_dirs=(), session_timeout=10.0,
                 root=jobs.DEFAULT_ROOT, watchdog_interval=1.0,
                 repost_grace=5.0, registry=None,
                 poll_interval=polling.POLL_INTERVAL,
                 zookeeper_auth=None, limits=None, encryption_key=None,
                 connect_timeout=None):
        if not zookeeper:
            raise exception.HeatflowError(
                "a conductor needs ZooKeeper (--zookeeper or "
                "HEATFLOW_ZOOKEEPER)")
        self.name = name or unique_name()
        self.root = root
        self._host = base.Host(db_url, plugin_dirs=plugin_dirs,
                               registry=registry,
                               poll_interval=poll_interval, limits=limits,
                               encryption_key=encryption_key,
                               key_prefix="conductor-" + self.name,
                               default=True)
        # Flows this process did not plan name another runtime key: this
        # one (default=True) serves them all.
        self.db = self._host.db
        self.registry = self._host.registry
        self.rt = self._host.runtime
        self._key = self._host.key
        self.pool = logs.ContextPool(
            max_workers, thread_name_prefix="heatflow-atom")
        self.executor = execution.OperationExecutor(self.db, self.rt,
                                                    self._key, self.pool)
        self._runs = {}            # run id -> operation header
        self._mutex = threading.Lock()
        # Bumped each time the session is suspended or lost; with
        # _disconnected, lets a run registered late know it is fenced.
        self._epoch = 0
        self._disconnected = False
        self._stopping = threading.Event()
        self.client = jobs.make_client(zookeeper, session_timeout,
                                       auth=zookeeper_auth)
        self.client.add_listener(self._session_changed)
        try:
            jobs.start_client(self.client, zookeeper, connect_timeout)
            self.client.ensure_path(jobs.runs_path(root))
            self.board = jobs.make_board(self.name, self.client,
                                         self.db.taskflow, root)
        except BaseException:
            # e.g. ZooKeeper unreachable, or NoAuthError: leave nothing
            # behind (the session's thread, the pool, the database, the
            # runtime registered as this process's default).
            self.client.stop()
            self.client.close()
            self.pool.shutdown(wait=False)
            self._host.close()
            raise
        self.rt.use_runs(lambda run: jobs.run_alive(self.client, root, run))
        # Nested stacks' operations, started by resources acting here, go
        # on the board like any other (heatflow/child_stacks.py).
        child_stacks.serve(self.rt, lifecycle.Lifecycle(
            self._host, jobboard.JobboardRunner.on_board(self._host,
                                                         self.board),
            limits or DEFAULT_LIMITS))
        self._claimable = _DecliningBoard(self.board)
        self._tf = _TaskflowConductor(
            self, self.name, self._claimable, persistence=self.db.taskflow,
            engine="parallel", wait_timeout=0.5,
            max_simultaneous_jobs=workers)
        self.watchdog = watchdog_mod.Watchdog(
            self.db, self.board, self.client, root, self.name,
            interval=watchdog_interval, repost_grace=repost_grace,
            stopping=self._stopping, session_epoch=lambda: self._epoch)
        self._watchdog = threading.Thread(target=self.watchdog.run,
                                          name="heatflow-watchdog",
                                          daemon=True)

    # -- running ------------------------------------------------------------

    def run(self):
        """Claim and run jobs until :meth:`stop`."""
        LOG.info("conductor %s started (database %s)", self.name,
                 database.safe_url(self.db.url))
        self._watchdog.start()
        try:
            self._tf.run()
        finally:
            self._stopping.set()
            self._tf.wait()

    def stop(self):
        """Stop claiming; let in-flight actions finish; release the jobs
        being run so that another conductor takes them at once."""
        if self._stopping.is_set():
            return
        LOG.info("conductor %s stopping", self.name)
        self._stopping.set()
        with self._mutex:
            flows = [op.flow_uuid for op in self._runs.values()]
        for flow_uuid in flows:
            self.rt.stop_starting_atoms(flow_uuid)
        self._tf.stop()

    def close(self):
        self.stop()
        self._tf.wait()
        try:
            self.board.close()
        finally:
            self.client.stop()
            self.client.close()
            self.pool.shutdown(wait=True)
            self._host.close()

    def dispatch(self, job):
        """Run the operation a claimed job names.  Returns True to consume
        the job (the operation settled, or was superseded), False to
        release it for another conductor.  Never raises: TaskFlow's
        conductor throws away a job whose dispatch raised (it is then off
        the board until the watchdog posts it again), so any trouble --
        the database away before, during or after the run -- releases
        it."""
        try:
            return self._dispatch(job)
        except Exception as exc:
            failure = _database_away(exc)
            if failure is not None:
                # The database is away (a PostgreSQL restart): expected,
                # said in one line; the job goes back for a conductor to
                # claim once it is back.
                LOG.warning("job %s: the database failed (%s); released",
                            job.uuid, failure)
            else:
                LOG.exception("job %s failed in conductor %s", job.uuid,
                              self.name)
            return False

    def _dispatch(self, job):
        details = job.details or {}
        stack_id, traversal = details.get("stack_id"), details.get(
            "traversal")
        store = self.db.store
        try:
            row = store.get_stack_by_id(stack_id)
        except exception.NotFound:
            return True
        if row.traversal != traversal or row.status != states.IN_PROGRESS:
            LOG.info("job %s: %s of stack %s is no longer current", job.uuid,
                     row.action, row.name)
            return True
        missing = self.rt.unloaded_types(row, row.action)
        if missing:
            self._decline(job, row, missing)
            return False
        run = str(uuid.uuid4())
        node = jobs.runs_path(self.root) + "/" + run
        epoch = self._epoch
        try:
            rival = self.board.rival_of(job)
            if rival is None:
                self.client.create(node, self.name.encode(), ephemeral=True)
        except kazoo_exc.KazooException as exc:
            LOG.warning("job %s: ZooKeeper unavailable (%s); released",
                        job.uuid, jobs.cause_text(exc))
            return False
        if rival is not None:
            LOG.warning("job %s duplicates job %s of %s of stack %s: "
                        "dropped", job.uuid, rival, row.action, row.name)
            return True
        try:
            if not store.take_over(stack_id, traversal, row.run_token, run):
                LOG.info("job %s: stack %s changed hands", job.uuid,
                         row.name)
                return True
            if (row.status_reason or "").startswith(WAITING_FOR_PLUGINS):
                store.set_stack_state(
                    store_mod.Fence(stack_id, traversal, run), row.action,
                    states.IN_PROGRESS,
                    "Stack %s taken by conductor %s, which has the plugins"
                    % (row.action, self.name))
            plan = execution.load_plan(self.db, row.flow_uuid, self._key,
                                       run)
            op = plan.op
            # The line an operator greps for: it names the operation in
            # the JSON fields too, as the lines of the run itself do.
            LOG.info("conductor %s runs job %s: %s of stack %s (run %s)",
                     self.name, job.uuid, op.action, op.stack_name,
                     run, extra={"stack": op.stack_name,
                                 "stack_id": op.stack_id,
                                 "action": op.action,
                                 "traversal": op.traversal})
            with self._mutex:
                self._runs[run] = op
                if self._epoch != epoch or self._disconnected:
                    # The session was suspended since the run's node was
                    # made: fenced like the runs the listener saw.
                    self.rt.fence_run(run)
            try:
                while plan is not None and not self.rt.is_fenced(run):
                    plan = self.executor.run_flow(plan)
                    if plan is None and not self._stopping.is_set():
                        plan = self.executor.pending_rollback(op)
            finally:
                with self._mutex:
                    self._runs.pop(run, None)
        finally:
            try:
                self.client.delete(node)
            except kazoo_exc.KazooException:
                pass
        if self.rt.is_fenced(run):
            return False
        row = store.get_stack_by_id(stack_id)
        if self._stopping.is_set() and row.run_token == run and \
                row.status == states.IN_PROGRESS:
            LOG.info("releasing job %s (stack %s) for another conductor",
                     job.uuid, row.name)
            return False
        return True

    def _decline(self, job, row, missing):
        """Leave the job to a conductor that has the plugins of
        ``missing``: say so on the stack (once), release the job, and do
        not claim it again for a while."""
        types = ", ".join(missing)
        LOG.warning("conductor %s: job %s (%s of stack %s) needs the plugin "
                    "of %s, not loaded here; leaving it to another "
                    "conductor", self.name, job.uuid, row.action, row.name,
                    types)
        reason = "%s%s (not loaded in conductor %s; load it with %s)" % (
            WAITING_FOR_PLUGINS, types, self.name,
            exception.HOW_TO_LOAD_PLUGINS)
        if not (row.status_reason or "").startswith(WAITING_FOR_PLUGINS):
            self.db.store.set_stack_state(
                store_mod.Fence(row.id, row.traversal, row.run_token),
                row.action, states.IN_PROGRESS, reason)
        self._claimable.decline(job, self.DECLINE_SECONDS)

    # -- ZooKeeper session --------------------------------------------------

    def _session_changed(self, state):
        """kazoo's connection state listener.  It runs on kazoo's connection
        thread: it must not block, and must never raise (kazoo would log a
        traceback and skip the rest of the work)."""
        try:
            if state == kazoo_states.KazooState.CONNECTED:
                with self._mutex:
                    was, self._disconnected = self._disconnected, False
                if was:
                    LOG.info("conductor %s: ZooKeeper session restored",
                             self.name)
            else:
                self._fence_every_run(state)
        except Exception as exc:
            LOG.error("conductor %s: handling ZooKeeper state %s: %s: %s",
                      self.name, state, type(exc).__name__, exc)

    def _fence_every_run(self, state):
        """SUSPENDED or LOST: another conductor may hold our jobs by now.
        Every run is fenced before any engine is asked to stop, so no run
        starts a resource action after this."""
        with self._mutex:
            self._disconnected = True
            self._epoch += 1
            runs = dict(self._runs)
            for run in runs:
                self.rt.fence_run(run)
        if runs:
            LOG.warning("conductor %s: ZooKeeper session %s; %d run(s) "
                        "fenced", self.name, state, len(runs))
        elif not self._stopping.is_set():
            # (Stopping closes the session: LOST then says nothing new.)
            LOG.warning("conductor %s: ZooKeeper session %s", self.name,
                        state)
        for run, op in runs.items():
            try:
                self.rt.stop_starting_atoms(op.flow_uuid)
            except Exception as exc:
                LOG.warning("conductor %s: stopping run %s: %s: %s",
                            self.name, run, type(exc).__name__, exc)

    # -- watchdog -----------------------------------------------------------


def _database_away(exc):
    """What the database's going away looks like behind ``exc`` (a restart,
    a lost connection, the store out of patience), or None: an error in
    a statement is a bug, for a traceback."""
    failure = execution.storage_failure(exc)
    cause = getattr(failure, "cause", None)
    if isinstance(cause, (sa.exc.OperationalError, sa.exc.InterfaceError)) \
            or getattr(cause, "connection_invalidated", False):
        return failure
    return None


def serve(conductor, install_signals=True):
    """Run ``conductor`` in this thread until SIGTERM/SIGINT."""
    import signal
    if install_signals:
        def _stop(signum, frame):
            threading.Thread(target=conductor.stop, daemon=True).start()
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    try:
        conductor.run()
    finally:
        conductor.close()
    return 0
