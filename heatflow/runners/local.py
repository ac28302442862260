"""Running operations in this process: the embedded default, and the
detached worker process that runs one stack's operation on its own.

Each operation's flow runs in a TaskFlow parallel engine on its own engine
thread; the atoms of every operation share one long-lived worker pool (an
engine that creates its own pool pays ~1 s to shut it down: the TaskFlow
facts in docs/architecture.rst).

A process that executes a run of an operation holds an exclusive lock on a
file named after the run, next to the SQLite database.  So any process
opening the database can tell a stack that is IN_PROGRESS because someone is
working on it from one whose runner died, and resume the latter, as a new
run, from TaskFlow's persisted state (the dead run's writes are fenced).

``python -m heatflow.runners.local [--db-url URL] [--plugin-dir DIR]...
STACK`` is the detached worker: it runs (or resumes) the stack's current
operation and exits when it settles.
"""

import argparse
import logging
import os
import subprocess
import sys
import threading
import uuid

from heatflow import logs
from heatflow import states
from heatflow.flows import execution
from heatflow.persistence import sealing
from heatflow.runners import base
from heatflow.runners import locks
from heatflow.runners.locks import RunLock

# Named, not __name__: run as the worker, this module is __main__.
LOG = logging.getLogger("heatflow.runners.local")


def spawn_worker(stack_id, args, db_url, encryption_key=None,
                 log_dir=None):
    """Start the worker (this module's main) detached from this process
    (own session, no terminal), to run the stack's current operation.
    Secrets (the URL may hold a password) go in its environment, which
    other users cannot read, not on its command line.  Its output is
    appended to ``<log_dir>/worker-<stack id>.log``: a plugin's traceback
    must be somewhere."""
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
        log = open(os.path.join(log_dir, "worker-%s.log" % stack_id), "ab")
    else:
        log = open(os.devnull, "wb")
    env = dict(os.environ, HEATFLOW_DB_URL=db_url)
    if encryption_key:
        env[sealing.ENV_KEY] = encryption_key
    subprocess.Popen([sys.executable, "-m", __name__] + list(args)
                     + [stack_id], stdin=subprocess.DEVNULL, stdout=log,
                     stderr=log, start_new_session=True, close_fds=True,
                     env=env)
    log.close()


class LocalRunner(base.Runner):
    """Runs operations on threads of this process."""

    def __init__(self, host, max_workers=32, lock_dir=None,
                 locks_decide_ownership=False):
        """``locks_decide_ownership``: another process can take a run
        over only by finding its lock file unlocked (true where the lock
        files sit beside a SQLite database: only this host's processes
        run its operations).  Then a run whose lock this process holds
        cannot have been taken over, and its atoms' polls do not ask the
        database (two of the ten statements of a 50 ms create)."""
        self.db = host.db
        self.rt = host.runtime
        self.pool = logs.ContextPool(
            max_workers, thread_name_prefix="heatflow-atom")
        self.executor = execution.OperationExecutor(host.db, host.runtime,
                                                    host.key, self.pool)
        self.runtime_key = host.key
        self.lock_dir = lock_dir
        self.rt.use_runs(self.run_alive, self.holds if lock_dir and
                         locks_decide_ownership else None)
        # traversal -> the thread running that operation here.
        self._threads = {}
        self._runs = set()
        # run -> its lock, while this process executes it.
        self._locks = {}
        self._done = {}
        self._mutex = threading.RLock()

    def start(self, plan):
        """Run a freshly planned operation on a thread of this process."""
        execution.save_operation(self.db, plan)
        self._launch(plan)

    def run_alive(self, run):
        """Is some process executing ``run``?  (It holds its lock file.)"""
        if run is None:
            return False
        if run in self._runs:
            return True
        if not self.lock_dir:
            return True      # cannot tell: assume it is
        probe = RunLock(self.lock_dir, run)
        if probe.acquire(blocking=False):
            probe.release()
            return False
        return True

    def abandoned(self, stack_row):
        return stack_row.status == states.IN_PROGRESS and \
            stack_row.flow_uuid is not None and \
            stack_row.run_token not in self._runs and \
            locks.abandoned(self.lock_dir, stack_row.run_token)

    def holds(self, run):
        """Does this process hold ``run``'s lock file, still in place?"""
        lock = self._locks.get(run)
        return lock is not None and lock.intact()

    def resume(self, stack_row):
        """Resume the stack's current operation as a new run, unless it is
        running here or in another live process (then False)."""
        with self._mutex:
            if stack_row.traversal in self._threads:
                # Running here: its thread looks at the stack again before
                # it ends (see _run), so it sees whatever changed.
                return True
            if self.run_alive(stack_row.run_token):
                return False
            run = str(uuid.uuid4())
            plan = execution.load_plan(self.db, stack_row.flow_uuid,
                                       self.runtime_key, run)
            if not self.db.store.take_over(stack_row.id, stack_row.traversal,
                                           stack_row.run_token, run):
                return False
            return self._launch(plan)

    def resume_orphans(self):
        """Resume every IN_PROGRESS operation nobody is running (whose
        plugins this process has)."""
        resumed = []
        for row in self.db.store.list_stacks():
            if row.status != states.IN_PROGRESS or not row.flow_uuid:
                continue
            if self.rt.is_running(row.flow_uuid):
                continue
            try:
                missing = [] if self.run_alive(row.run_token) \
                    else self.rt.unloaded_types(row, row.action)
                if missing:
                    LOG.warning("not resuming the %s of stack %s: it needs "
                                "the plugin of %s, not loaded here",
                                row.action, row.name, ", ".join(missing))
                    continue
                if self.resume(row):
                    resumed.append(row.name)
            except Exception:
                LOG.exception("could not resume stack %s", row.name)
        return resumed

    def done_event(self, flow_uuid):
        with self._mutex:
            return self._done.get(flow_uuid)

    def _launch(self, plan):
        op = plan.op
        lock = None
        if self.lock_dir:
            lock = RunLock(self.lock_dir, op.run)
            if not lock.acquire(blocking=False):
                return False
        done = threading.Event()
        t = threading.Thread(target=self._run, args=(plan, lock, done),
                             name="heatflow-engine-%s" % op.stack_name,
                             daemon=True)
        with self._mutex:
            self._done[op.flow_uuid] = done
            self._threads[op.traversal] = t
            self._runs.add(op.run)
            if lock is not None:
                self._locks[op.run] = lock
        t.start()
        return True

    def _run(self, plan, lock, done):
        op = plan.op
        try:
            while plan is not None:
                plan = self.executor.run_flow(plan)
                if plan is None:
                    # Decided under the mutex, against resume(): either
                    # this thread sees a rollback requested meanwhile and
                    # carries it out, or it is gone before resume() looks.
                    with self._mutex:
                        plan = self.executor.pending_rollback(op)
                        if plan is None:
                            self._threads.pop(op.traversal, None)
        except Exception as exc:
            failure = execution.storage_failure(exc)
            if failure is None:
                LOG.exception("operation %s of stack %s crashed",
                              op.action, op.stack_name)
            self.executor.fail(op, "Stack %s failed: %s" % (
                op.action, failure or "internal error: see the engine "
                "log"))
        finally:
            with self._mutex:
                self._threads.pop(op.traversal, None)
                self._runs.discard(op.run)
                self._locks.pop(op.run, None)
                if self._done.get(op.flow_uuid) is done:
                    del self._done[op.flow_uuid]
            if lock is not None:
                lock.release()
            done.set()

    def running(self):
        with self._mutex:
            return list(self._threads.values())

    def close(self, timeout=None):
        """Wait for the engines to settle (the caller has asked them to
        stop starting atoms)."""
        for t in self.running():
            t.join(timeout)
        self.pool.shutdown(wait=True)


class DetachedRunner(LocalRunner):
    """Starts each operation in a worker process of its own that outlives
    this one (``detach_args``: the worker's command line options), and
    resumes operations the same way: an orphan found by a short-lived
    process (a command) is finished by one worker, never half run by
    whichever command happens to open the database next."""

    def __init__(self, host, detach_args, max_workers=32, **options):
        super().__init__(host, max_workers, **options)
        self.detach_args = list(detach_args)
        self.log_dir = host.log_dir()
        # The runs this process has asked a worker to take over: one
        # worker each (resume_orphans at open, then continue_stack, would
        # start two; the second would find the run taken and exit).
        self._asked = execution.RecentlySeen()

    def start(self, plan):
        execution.save_operation(self.db, plan)
        self._spawn(plan.op.stack_id)

    def resume(self, stack_row):
        """A worker resumes the stack's operation unless a live process
        runs it.  Single flight: the worker takes the operation over only
        by a compare-and-swap of its run token and holds the new run's
        lock, so of two workers started at once one runs it and the other
        finds it taken and exits."""
        if self.run_alive(stack_row.run_token):
            return False
        if not self._asked.add(stack_row.run_token):
            return True
        self._spawn(stack_row.id)
        return True

    def _spawn(self, stack_id):
        spawn_worker(stack_id, self.detach_args, self.db.url,
                     self.db.encryption_key, self.log_dir)


def main(argv=None):
    """The detached worker: run (or resume) one stack's current operation
    from what the database records; exit when it settles."""
    parser = argparse.ArgumentParser(prog="heatflow-worker")
    parser.add_argument("--db-url")
    parser.add_argument("--plugin-dir", action="append", default=[])
    parser.add_argument("stack_id")
    args = parser.parse_args(argv)
    # Its output is the worker's log file (spawn_worker): say what it ran.
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    logging.getLogger("heatflow").setLevel(logging.INFO)
    host = base.Host(args.db_url, plugin_dirs=args.plugin_dir,
                     key_prefix="worker")
    try:
        runner = LocalRunner(host, lock_dir=host.lock_dir(),
                             locks_decide_ownership=host.db.is_sqlite)
        # The nested stacks its resources start run here too.
        from heatflow import child_stacks, lifecycle
        from heatflow.template.loader import DEFAULT_LIMITS
        child_stacks.serve(host.runtime, lifecycle.Lifecycle(
            host, runner, DEFAULT_LIMITS))
        try:
            row = host.db.store.get_stack_by_id(args.stack_id)
            if row.status == states.IN_PROGRESS and row.flow_uuid:
                if runner.resume(row):
                    LOG.info("worker %d runs the %s of stack %s",
                             os.getpid(), row.action, row.name)
                else:
                    LOG.info("worker %d: the %s of stack %s is run by "
                             "another process", os.getpid(), row.action,
                             row.name)
        finally:
            runner.close()          # waits for the run to end
    finally:
        host.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
