"""The watchdog: no stack stays IN_PROGRESS with nobody working on it.

One conductor at a time is elected (a ZooKeeper lock) and, every round,
compares the stacks whose operation is IN_PROGRESS with the jobs on the
board:

- an operation past its deadline whose job nobody holds is failed (and
  rolled back if its stack says so): no conductor will do it, since a
  conductor only checks deadlines while it runs the operation;
- an operation whose job has gone missing (consumed by mistake, lost with
  a ZooKeeper outage) gets its job posted again, after a grace for jobs
  still on their way, and then ever less often if it keeps going missing.

An elected watchdog whose session was suspended stands again: the lock
may have gone with the session.
"""

import datetime
import logging

from kazoo import exceptions as kazoo_exc
from kazoo.protocol import states as kazoo_states
from taskflow import exceptions as tf_exc
from taskflow import states as tf_states

from heatflow import jobs
from heatflow import metrics
from heatflow import states
from heatflow.persistence import store as store_mod

LOG = logging.getLogger(__name__)


class Watchdog:
    #: The longest the watchdog waits before it posts the job of the same
    #: operation again (the wait doubles from ``repost_grace``).
    MAX_REPOST_BACKOFF = 300.0

    def __init__(self, db, board, client, root, name, interval=1.0,
                 repost_grace=5.0, stopping=None, session_epoch=None):
        """``name``: the conductor's (the lock's identifier);
        ``stopping``: an Event that ends :meth:`run`; ``session_epoch()``
        changes each time the ZooKeeper session is suspended or lost."""
        self.db = db
        self.board = board
        self.client = client
        self.root = root
        self.name = name
        self.interval = interval
        self.repost_grace = repost_grace
        self._stopping = stopping
        self._session_epoch = session_epoch or (lambda: 0)
        # traversal -> (re-posts so far, not again before this datetime)
        self._reposts = {}

    def run(self):
        """Stand for election every ``interval`` and, while elected,
        patrol; until ``stopping`` is set."""
        # One lock object throughout: after a failed attempt it finds its
        # own node again rather than queue behind it.
        lock = self.client.Lock(self.root + "/watchdog", self.name)
        epoch = None
        while not self._stopping.wait(self.interval):
            try:
                if self.client.state != kazoo_states.KazooState.CONNECTED:
                    continue
                if lock.is_acquired and epoch != self._session_epoch():
                    # The session was suspended since the lock was taken:
                    # it may have expired, and the lock with it.
                    _release(lock)
                if not lock.is_acquired:
                    epoch = self._session_epoch()
                    if not lock.acquire(blocking=False):
                        continue
                self.patrol()
            except (kazoo_exc.KazooException, tf_exc.JobFailure) as exc:
                # ZooKeeper went away mid-round: expected, said once.
                LOG.warning("watchdog of conductor %s: ZooKeeper "
                            "unavailable (%s); next round in %.1f s",
                            self.name, jobs.cause_text(exc), self.interval)
            except Exception:
                LOG.exception("watchdog of conductor %s", self.name)
        if lock.is_acquired:
            _release(lock)

    def patrol(self):
        """One round of the watchdog (the elected conductor only)."""
        store = self.db.store
        markers = self.board.markers()
        by_traversal = {}
        waiting = 0
        for job in self.board.iterjobs(ensure_fresh=True):
            t = (job.details or {}).get("traversal")
            if t:
                by_traversal[t] = job
            waiting += job.state == tf_states.UNCLAIMED
        metrics.jobs_waiting(waiting)
        now = store_mod.utcnow()
        grace = datetime.timedelta(seconds=self.repost_grace)
        rows = [r for r in store.list_stacks()
                if r.status == states.IN_PROGRESS]
        # Markers listed before the stacks whose operation is not running
        # now: forgotten once their job is gone.
        live = {r.traversal for r in rows}
        self.board.forget([t for t in markers if t not in live],
                          self.repost_grace)
        for row in rows:
            job = by_traversal.get(row.traversal)
            overdue = row.deadline is not None and row.deadline <= now
            if job is not None and not (overdue and
                                        job.state == tf_states.UNCLAIMED):
                continue
            if job is None and now - (row.updated_at or row.created_at) \
                    < grace:
                continue     # just started: its job may be on its way
            if job is None and self.board.has_job(row.traversal):
                continue     # TaskFlow's listing skipped it (unreadable)
            if overdue:
                self._time_out(row)
            else:
                self._repost(row, now)
        # Forget the back-off of operations that have settled.
        for traversal in set(self._reposts) - live:
            del self._reposts[traversal]

    def _repost(self, row, now):
        """Post the missing job of the stack's operation again; if it went
        missing before, only after a wait that doubles each time (a job
        consumed or lost over and over is not re-posted in a loop)."""
        count, not_before = self._reposts.get(row.traversal, (0, None))
        if not_before is not None and now < not_before:
            return
        wait = min(self.repost_grace * 2 ** count, self.MAX_REPOST_BACKOFF)
        if jobs.repost(self.board, self.db, row) is None:
            return       # its job is there after all (one per operation)
        metrics.watchdog_repost()
        LOG.warning("watchdog: no job for %s of stack %s; posted it again "
                    "(%d time%s; not again within %g s)", row.action,
                    row.name, count + 1, "" if count == 0 else "s", wait)
        self._reposts[row.traversal] = (
            count + 1, now + datetime.timedelta(seconds=wait))

    def _time_out(self, row):
        """Fail an overdue operation nobody is running; roll it back if
        rollback is enabled."""
        reason = "Stack %s timed out" % row.action
        LOG.warning("watchdog: %s", reason + " (" + row.name + ")")
        store = self.db.store
        fence = store_mod.Fence(row.id, row.traversal, row.run_token)
        if not store.set_stack_state(fence, row.action, states.FAILED,
                                     reason):
            return
        metrics.watchdog_timeout()
        # An overdue operation that would revert if asked (states.py).
        if not row.disable_rollback and states.rollback_outcome(
                row.action, states.FAILED, row.phase) == states.REVERT:
            if store.request_rollback(row.id, row.traversal, states.FAILED):
                jobs.repost(self.board, self.db,
                            store.get_stack_by_id(row.id))


def _release(lock):
    try:
        lock.release()
    except Exception as exc:
        LOG.debug("releasing %s: %s", lock.path, exc)
