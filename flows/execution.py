"""Running one operation's flows to the end, wherever that happens.

Shared by the in-process runner (heatflow.runners.local) and the ZooKeeper
conductor (heatflow.runners.conductor): given a plan whose run owns the
operation, build the flow, run it in a TaskFlow parallel engine on a
long-lived pool, and handle what TaskFlow's outcome means for the stack:

- the flow ended (SUCCESS, or SUSPENDED because the operation failed with
  rollback disabled or was superseded): the atoms recorded everything;
- engine.run() raised after TaskFlow reverted the flow: the rollback is
  complete, or continues by converging to the last known-good template when
  the reverted operation had started from a state that never settled (a
  check, suspend or resume, which has nothing to revert, fails instead);
- a rollback was requested after the engine stopped: resume the flow,
  which now reverts;
- heatflow's database failed under the engine (disk full, unreachable past
  the store's patience): the stack's failure, said as such, with no
  rollback (the engine could not record one).
"""

import collections
import contextlib
import dataclasses
import logging
import threading
import uuid

import sqlalchemy as sa
from taskflow import states as tf_states
from taskflow.persistence import models as tf_models

from heatflow import exception
from heatflow import logs
from heatflow import metrics
from heatflow import states
from heatflow.flows import compiler
from heatflow.flows import engine as flow_engine
from heatflow.flows import plan as plan_mod

LOG = logging.getLogger(__name__)

FACTORY = "heatflow.flows.compiler.build_flow"


def save_operation(db, plan):
    """Create the TaskFlow logbook and flow detail of an operation, with
    the plan its flow is rebuilt from."""
    op = plan.op
    book = tf_models.LogBook("stack-%s" % op.stack_id, uuid=op.flow_uuid)
    fd = tf_models.FlowDetail("%s-%s" % (op.action.lower(), op.stack_name),
                              uuid=op.flow_uuid)
    fd.meta = {"factory": {"name": FACTORY, "args": [],
                           "kwargs": {"plan": plan.to_json()}},
               "stack_id": op.stack_id}
    book.add(fd)
    with contextlib.closing(db.taskflow.get_connection()) as conn:
        conn.save_logbook(book)
    return book, fd


def load_operation(db, flow_uuid):
    with contextlib.closing(db.taskflow.get_connection()) as conn:
        return conn.get_flow_details(flow_uuid)


def load_plan(db, flow_uuid, runtime_key, run):
    """The plan of a saved flow, for a new run of it in this process."""
    saved = load_operation(db, flow_uuid).meta["factory"]["kwargs"]["plan"]
    return plan_mod.Plan.from_json(saved).for_run(runtime_key, run)


def storage_failure(exc):
    """The :class:`exception.EngineStorageError` behind ``exc`` when what
    stopped an engine was heatflow's database (TaskFlow wraps the errors of
    its writes in StorageFailure), else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, exception.EngineStorageError):
            return exc
        if isinstance(exc, sa.exc.SQLAlchemyError):
            return exception.EngineStorageError(exc)
        exc = getattr(exc, "cause", None) or exc.__cause__
    return None


class RecentlySeen:
    """A set that forgets its oldest members beyond ``size``: what a
    long-lived process remembers of the runs it has seen, without
    growing for ever.  Thread-safe."""

    def __init__(self, size=4096):
        self.size = size
        self._seen = collections.OrderedDict()
        self._lock = threading.Lock()

    def add(self, key):
        """Remember ``key``; True if it was not remembered already."""
        with self._lock:
            new = key not in self._seen
            self._seen[key] = True
            self._seen.move_to_end(key)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return new

    def __contains__(self, key):
        with self._lock:
            return key in self._seen


class OperationExecutor:
    def __init__(self, db, runtime, runtime_key, executor):
        self.db = db
        self.rt = runtime
        self.runtime_key = runtime_key
        self.executor = executor
        # The runs of flows this process has run lately (a flow another
        # run started is a takeover), the oldest forgotten first.
        self._ran = RecentlySeen()

    def run_flow(self, plan):
        """Run one flow to its end; returns the plan of the flow that
        continues the same operation (a rollback), if any."""
        op = plan.op
        with logs.context(stack=op.stack_name, stack_id=op.stack_id,
                          action=op.action, traversal=op.traversal):
            following = self._run_flow(plan)
        if following is None:
            self._count_outcome(plan.op)
        return following

    def _run_flow(self, plan):
        op = plan.op
        run = op.run
        fd = load_operation(self.db, op.flow_uuid)
        if self._ran.add((op.flow_uuid, run)) and \
                fd.state not in (None, tf_states.PENDING):
            metrics.takeover()      # another run had started it
        # What an earlier run of this flow in this process remembered
        # writing may be stale (another process may have run it since).
        self.db.taskflow.forget_flow(op.flow_uuid)
        engine = flow_engine.load(
            compiler.build_flow(plan), fd,
            self.db.taskflow.for_run(lambda: self.rt.is_fenced(run)),
            self.executor, self.rt.waits)
        self.rt.engine_started(op.flow_uuid, engine)
        try:
            engine.run()
            if self.rt.is_fenced(run):
                LOG.info("run %s of stack %s was fenced; it stopped", run,
                         op.stack_name)
        except Exception as exc:
            if self.rt.is_fenced(run):
                LOG.info("run %s of stack %s was fenced: %s", run,
                         op.stack_name, exc)
                return None
            failure = storage_failure(exc)
            if failure is not None:
                self.fail(op, "Stack %s failed: %s" % (op.action, failure))
                return None
            if op.action in states.RESOURCE_ACTIONS:
                # A check, suspend or resume has nothing to revert: what
                # stopped it is its failure.
                LOG.warning("the %s of stack %s stopped: %s", op.action,
                            op.stack_name, exc)
                self.fail(op, "Stack %s failed: %s" % (op.action, exc))
                return None
            return self._after_revert(op, engine, exc)
        finally:
            self.rt.engine_finished(op.flow_uuid)
            self.db.taskflow.forget_flow(op.flow_uuid)
        return None

    def _count_outcome(self, op):
        """Count how the operation settled (one read of the stack, only
        when metrics are on)."""
        if not metrics.enabled() or self.rt.is_fenced(op.run):
            return
        row = self.db.store.get_stack_by_id(op.stack_id)
        if row.traversal != op.traversal:
            metrics.operation_finished(op.action, metrics.SUPERSEDED)
        elif row.status != states.IN_PROGRESS:
            metrics.operation_finished(row.action, row.status)

    def pending_rollback(self, op):
        """The plan to run again if a rollback of this operation was
        requested after its engine stopped (a failure with rollback
        disabled suspends the flow; resuming it reverts)."""
        row = self.db.store.get_stack_by_id(op.stack_id)
        if (row.traversal, row.run_token) != (op.traversal, op.run) \
                or row.action != states.ROLLBACK or \
                row.status != states.IN_PROGRESS:
            return None
        if load_operation(self.db, row.flow_uuid).state != \
                tf_states.SUSPENDED:
            return None
        return load_plan(self.db, row.flow_uuid, self.runtime_key, op.run)

    def fail(self, op, reason):
        """Record the operation's failure on the stack; if the database
        will not take even that, say so in one line: the stack stays
        IN_PROGRESS until an Orchestrator or conductor resumes it."""
        try:
            self.db.store.set_stack_state(op.fence(), op.action, "FAILED",
                                          reason)
        except exception.EngineStorageError as exc:
            LOG.error("stack %s: could not record '%s': %s",
                      op.stack_name, reason, exc)

    def _after_revert(self, op, engine, exc):
        """engine.run() raised: TaskFlow has reverted the flow (rollback)
        as far as it could."""
        LOG.info("operation %s of stack %s is rolled back: %s",
                 op.action, op.stack_name, exc)
        store, fence = self.db.store, op.fence()
        if engine.storage.get_flow_state() != tf_states.REVERTED:
            LOG.warning("rollback of %s failed: %s", op.stack_name, exc)
            store.set_stack_state(fence, "ROLLBACK", "FAILED",
                                  "Stack ROLLBACK failed: %s" % (exc,))
            return None
        store.purge_unstarted(fence)
        if op.base_settled:
            # The revert restored the state the operation started from,
            # which was the last known-good one.
            # Its template too: None when the stack had none (a create, or
            # a stack rolled back to empty), which shows as empty.
            fields = {"template_id": op.base_template_id}
            store.set_stack_state(fence, "ROLLBACK", "COMPLETE",
                                  "Stack ROLLBACK completed successfully",
                                  **fields)
            return None
        # The operation had superseded (or followed) one that never
        # settled: undoing it is not enough.  Converge to the last
        # known-good template, still as this rollback.
        return self._chain_rollback(op)

    def _chain_rollback(self, op):
        store = self.db.store
        stack = store.get_stack_by_id(op.stack_id)
        good = stack.prev_template_id
        new = dataclasses.replace(
            op, flow_uuid=str(uuid.uuid4()), action="ROLLBACK",
            template_id=good, rollback=False, base_settled=True,
            base_template_id=good)
        if not store.switch_flow(op.fence(), op.flow_uuid, new.flow_uuid,
                                 template_id=good):
            return None
        stack_def = None if good is None else self.rt.definition(
            good, op.stack_name, op.stack_id)
        plan = compiler.plan_operation(
            store, new, stack_def, prev_template_id=good,
            definition_of=lambda tid: self.rt.definition(
                tid, op.stack_name, op.stack_id))
        save_operation(self.db, plan)
        return plan
