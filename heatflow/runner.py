"""Running operations in this process: the embedded default.

Each operation's flow runs in a TaskFlow parallel engine on its own engine
thread; the atoms of every operation share one long-lived worker pool (an
engine that creates its own pool pays ~1 s to shut it down, see
shared/research/taskflow.md section 4.1).

A process that runs an operation holds an exclusive lock on a file named
after its traversal next to the SQLite database, for as long as it runs it.
So any process opening the database can tell a stack that is IN_PROGRESS
because someone is working on it from one whose runner died, and resume the
latter from TaskFlow's persisted state.
"""

import concurrent.futures
import contextlib
import fcntl
import logging
import os
import subprocess
import sys
import threading
import uuid

import taskflow.engines
from taskflow import states as tf_states
from taskflow.persistence import models as tf_models

from heatflow.flows import compiler

LOG = logging.getLogger(__name__)

FACTORY = "heatflow.flows.compiler.build_flow"


def save_operation(db, plan):
    """Create the TaskFlow logbook and flow detail of an operation, with
    the plan its flow is rebuilt from."""
    op = plan["op"]
    book = tf_models.LogBook("stack-%s" % op["stack_id"],
                             uuid=op["traversal"])
    fd = tf_models.FlowDetail("%s-%s" % (op["action"].lower(),
                                         op["stack_name"]),
                              uuid=op["flow_uuid"])
    fd.meta = {"factory": {"name": FACTORY, "args": [],
                           "kwargs": {"plan": plan}},
               "stack_id": op["stack_id"]}
    book.add(fd)
    with contextlib.closing(db.taskflow.get_connection()) as conn:
        conn.save_logbook(book)
    return book, fd


def load_operation(db, flow_uuid):
    with contextlib.closing(db.taskflow.get_connection()) as conn:
        fd = conn.get_flow_details(flow_uuid)
    return fd


def spawn_worker(stack_id, args):
    """Start ``python -m heatflow.worker`` detached from this process (own
    session, no terminal), to run the stack's current operation."""
    log = open(os.devnull, "wb")
    subprocess.Popen([sys.executable, "-m", "heatflow.worker"] + list(args)
                     + [stack_id], stdin=subprocess.DEVNULL, stdout=log,
                     stderr=log, start_new_session=True, close_fds=True)
    log.close()


class StackLock:
    """An exclusive, process-lifetime lock on one stack (flock)."""

    def __init__(self, directory, stack_id):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, stack_id + ".lock")
        self._fd = None

    def acquire(self, blocking=True):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else
                                             fcntl.LOCK_NB))
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self):
        if self._fd is not None:
            # The traversal is over here; its lock file is not needed again
            # (whoever still waits on it then finds the operation settled).
            try:
                os.unlink(self.path)
            except OSError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class LocalRunner:
    def __init__(self, db, runtime, runtime_key, max_workers=32,
                 lock_dir=None):
        self.db = db
        self.rt = runtime
        self.runtime_key = runtime_key
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers, thread_name_prefix="heatflow-atom")
        self.lock_dir = lock_dir
        # traversal -> the thread running that operation here.
        self._threads = {}
        self._done = {}
        self._mutex = threading.RLock()

    def start(self, plan, detach_args=None):
        """Run a freshly planned operation in the background: on a thread
        of this process, or (``detach_args``: the worker's command line
        options) in a detached worker process that outlives this one."""
        save_operation(self.db, plan)
        if detach_args is not None:
            spawn_worker(plan["op"]["stack_id"], detach_args)
        else:
            self._launch(plan["op"], plan)

    def _plan_of(self, flow_uuid):
        plan = load_operation(self.db, flow_uuid).meta["factory"][
            "kwargs"]["plan"]
        # This process's runtime serves the resumed atoms.
        plan["op"]["runtime"] = self.runtime_key
        return plan

    def resume(self, stack_row, wait_for_lock=False):
        """Resume the stack's current operation unless it is running here
        already.  Returns False when another live process runs it (unless
        ``wait_for_lock``, which waits for it to let go)."""
        with self._mutex:
            if stack_row.traversal in self._threads:
                # Running here: its thread looks at the stack again before
                # it ends (see _run), so it sees whatever changed.
                return True
            plan = self._plan_of(stack_row.flow_uuid)
            return self._launch(plan["op"], plan, resume=not wait_for_lock)

    def done_event(self, flow_uuid):
        with self._mutex:
            return self._done.setdefault(flow_uuid, threading.Event())

    def _launch(self, op, plan, resume=False):
        lock = None
        if self.lock_dir:
            lock = StackLock(self.lock_dir, op["traversal"])
            # A resume never steals an operation a live process runs; a
            # detached worker waits for whoever holds it to let go.
            if not lock.acquire(blocking=not resume):
                return False
        done = self.done_event(op["flow_uuid"])
        t = threading.Thread(target=self._run, args=(op, plan, lock, done),
                             name="heatflow-engine-%s" % op["stack_name"],
                             daemon=True)
        with self._mutex:
            self._threads[op["traversal"]] = t
        t.start()
        return True

    def _run(self, op, plan, lock, done):
        try:
            while plan is not None:
                plan = self._run_flow(plan)
                if plan is None:
                    # Decided under the mutex, against resume(): either
                    # this thread sees a rollback requested meanwhile and
                    # carries it out, or it is gone before resume() looks.
                    with self._mutex:
                        plan = self._pending_rollback(op)
                        if plan is None:
                            self._threads.pop(op["traversal"], None)
        except Exception:
            LOG.exception("operation %s of stack %s crashed", op["action"],
                          op["stack_name"])
            self.db.store.set_stack_state(
                op["stack_id"], op["traversal"], op["action"], "FAILED",
                "Internal error: see the engine log")
        finally:
            with self._mutex:
                self._threads.pop(op["traversal"], None)
            if lock is not None:
                lock.release()
            done.set()

    def _pending_rollback(self, op):
        """The plan to run again if a rollback of this operation was
        requested after its engine stopped (a failure with rollback
        disabled suspends the flow; resuming it reverts)."""
        row = self.db.store.get_stack_by_id(op["stack_id"])
        if row.traversal != op["traversal"] or row.action != "ROLLBACK" \
                or row.status != "IN_PROGRESS":
            return None
        if load_operation(self.db, row.flow_uuid).state != \
                tf_states.SUSPENDED:
            return None
        return self._plan_of(row.flow_uuid)

    def _run_flow(self, plan):
        """Run one flow to its end; returns the plan of the flow that
        continues the same operation, if any."""
        op = plan["op"]
        fd = load_operation(self.db, op["flow_uuid"])
        flow = compiler.build_flow(plan)
        engine = taskflow.engines.load(
            flow, flow_detail=fd, backend=self.db.taskflow,
            engine="parallel", executor=self.executor)
        self.rt.engine_started(op["flow_uuid"], engine)
        try:
            engine.run()
        except Exception as exc:
            return self._after_revert(op, engine, exc)
        finally:
            self.rt.engine_finished(op["flow_uuid"])
        return None

    def _after_revert(self, op, engine, exc):
        """engine.run() raised: TaskFlow has reverted the flow (rollback)
        as far as it could."""
        LOG.info("operation %s of stack %s is rolled back: %s",
                 op["action"], op["stack_name"], exc)
        store = self.db.store
        if engine.storage.get_flow_state() != tf_states.REVERTED:
            LOG.warning("rollback of %s failed: %s", op["stack_name"], exc)
            store.set_stack_state(op["stack_id"], op["traversal"],
                                  "ROLLBACK", "FAILED",
                                  "Stack ROLLBACK failed: %s" % (exc,))
            return None
        store.purge_unstarted(op["stack_id"], op["traversal"])
        if op.get("base_settled", True):
            # The revert restored the state the operation started from,
            # which was the last known-good one.
            fields = {}
            if op.get("base_template_id") is not None:
                fields["template_id"] = op["base_template_id"]
            store.set_stack_state(op["stack_id"], op["traversal"],
                                  "ROLLBACK", "COMPLETE",
                                  "Stack ROLLBACK completed successfully",
                                  **fields)
            return None
        # The operation had superseded (or followed) one that never
        # settled: undoing it is not enough.  Converge to the last
        # known-good template, still as this rollback.
        return self.chain_rollback(op)

    def chain_rollback(self, op):
        store = self.db.store
        stack = store.get_stack_by_id(op["stack_id"])
        good = stack.prev_template_id
        new = dict(op, flow_uuid=str(uuid.uuid4()), action="ROLLBACK",
                   template_id=good, rollback=False, base_settled=True,
                   base_template_id=good)
        if not store.switch_flow(op["stack_id"], op["traversal"],
                                 op["flow_uuid"], new["flow_uuid"],
                                 template_id=good):
            return None
        stack_def = None if good is None else self.rt.definition(
            good, op["stack_name"], op["stack_id"])
        plan = compiler.plan_operation(store, new, stack_def,
                                       prev_template_id=good)
        save_operation(self.db, plan)
        return plan

    def running(self):
        with self._mutex:
            return list(self._threads.values())

    def close(self, timeout=None):
        """Stop starting atoms and wait for the engines to settle."""
        for t in self.running():
            t.join(timeout)
        self.executor.shutdown(wait=True)
