"""Stack operations as jobs on a TaskFlow jobboard in ZooKeeper.

A job names only the stack, the operation (traversal) and its flow: the plan
and everything else live in the database (job details sit in a znode,
limited in size and readable by anyone with access to ZooKeeper, so no
parameters, no templates, no secrets go there).

Layout under the root path (default ``/heatflow``)::

    /heatflow/stack-jobs/job0000000042        TaskFlow's jobs (and .lock)
    /heatflow/.trash, /heatflow/.entities     TaskFlow's bookkeeping
    /heatflow/runs/<run id>                   ephemeral: a live run
    /heatflow/operations/<traversal>          the job of an operation
    /heatflow/watchdog                        the watchdog's election lock

(TaskFlow derives its trash and entity paths by replacing the last path
component everywhere in the path, so that component must occur only once.)

One job per operation: a job is posted in one ZooKeeper transaction with
its operation's marker, ``operations/<traversal>``, which names the job.
A second posting for the traversal finds the marker and, if the job it
names still exists, posts nothing; a job the marker does not name is a
duplicate, which conductors drop without running it.  Reads go straight to
ZooKeeper and fail loudly: TaskFlow's job listing skips a job it could not
read (during a reconnect, say), which is how an operation once got two.
"""

import json
import logging
import time
import uuid

from kazoo import client as kazoo_client
from kazoo import exceptions as kazoo_exc
from kazoo import security as kazoo_security
from kazoo.handlers import threading as kazoo_handlers
from taskflow.jobs import base as tf_jobs
from taskflow.jobs.backends import impl_zookeeper

from heatflow import exception

LOG = logging.getLogger(__name__)

DEFAULT_ROOT = "/heatflow"
JOBS = "stack-jobs"
OPERATIONS = "operations"


def make_client(hosts, session_timeout=10.0, auth=None):
    """A kazoo client; ``session_timeout`` is what ZooKeeper waits after
    losing touch with a conductor before its jobs can be taken over.

    ``auth``: ``"user:password"`` for ZooKeeper digest authentication.
    The client then authenticates with it, and every znode it creates
    (jobs, locks, run markers, the watchdog's election) carries an ACL
    that grants all permissions to that identity only: clients without
    the credentials can neither read job details nor take locks.
    """
    kwargs = {}
    if auth:
        user, sep, password = auth.partition(":")
        if not sep or not user:
            raise exception.HeatflowError(
                "ZooKeeper auth must be given as user:password")
        kwargs["auth_data"] = [("digest", auth)]
        kwargs["default_acl"] = [kazoo_security.make_digest_acl(
            user, password, all=True)]
    return kazoo_client.KazooClient(hosts=hosts, timeout=session_timeout,
                                    **kwargs)


#: Seconds to reach ZooKeeper before saying it is unreachable, by default
#: (kazoo tries the ensemble's members in turn, so a member that is down
#: must not fail a healthy ensemble).
CONNECT_TIMEOUT = 15.0


def start_client(client, hosts, timeout=None):
    """Connect ``client`` to ZooKeeper at ``hosts``; a HeatflowError that
    says where it looked when nothing answers within ``timeout`` seconds
    (the client is then stopped and closed)."""
    timeout = timeout or CONNECT_TIMEOUT
    try:
        client.start(timeout=timeout)
    except kazoo_handlers.KazooTimeoutError:
        client.stop()
        client.close()
        raise exception.HeatflowError(
            "ZooKeeper at %s did not answer within %g s: is it running, "
            "and is that its address?" % (hosts, timeout)) from None


def jobs_path(root=DEFAULT_ROOT):
    return root.rstrip("/") + "/" + JOBS


def runs_path(root=DEFAULT_ROOT):
    return root.rstrip("/") + "/runs"


def operations_path(root=DEFAULT_ROOT):
    return root.rstrip("/") + "/" + OPERATIONS


class Board(impl_zookeeper.ZookeeperJobBoard):
    """TaskFlow's ZooKeeper jobboard that posts at most one job per
    operation (see the module docstring)."""

    def __init__(self, name, conf, client, persistence, root):
        super().__init__(name, conf, client=client, persistence=persistence)
        self.operations = operations_path(root)

    def connect(self, timeout=10.0):
        super().connect(timeout=timeout)
        self._client.ensure_path(self.operations)

    def _marker(self, traversal):
        """The traversal's marker: ``({"job": uuid, "path": ...}, stat)``,
        or ``(None, None)``."""
        try:
            raw, stat = self._client.get(self.operations + "/" + traversal)
        except kazoo_exc.NoNodeError:
            return None, None
        try:
            data = json.loads(raw.decode())
        except ValueError:
            data = {}
        return (data if isinstance(data, dict) else {}), stat

    def _job_exists(self, marker):
        if marker.get("path"):
            return self._client.exists(marker["path"]) is not None
        # Its poster has not recorded the path (yet): look for the uuid.
        for child in self._client.get_children(self.path):
            if not child.startswith(self.JOB_PREFIX) or \
                    child.endswith(self.LOCK_POSTFIX):
                continue
            try:
                raw, _ = self._client.get(self.path + "/" + child)
            except kazoo_exc.NoNodeError:
                continue
            try:
                if json.loads(raw.decode()).get("uuid") == marker.get("job"):
                    return True
            except ValueError:
                continue
        return False

    def post_operation(self, book, op, attempts=5):
        """Post the job of ``op`` (an OperationHeader) unless its traversal
        has one; the new job's uuid, or None if it had one."""
        traversal = op.traversal
        path = self.operations + "/" + traversal
        for _ in range(attempts):
            marker, stat = self._marker(traversal)
            if stat is not None and self._job_exists(marker):
                LOG.debug("%s of stack %s already has job %s",
                          op.action, op.stack_name, marker.get("job"))
                return None
            job_uuid = str(uuid.uuid4())
            posting = tf_jobs.format_posting(
                job_uuid, "%s-%s" % (op.action.lower(), op.stack_name),
                book=book, details=job_details(op))
            txn = self._client.transaction()
            value = json.dumps({"job": job_uuid}).encode()
            if stat is None:
                txn.create(path, value)
            else:
                txn.set_data(path, value, version=stat.version)
            txn.create(self.path + "/" + self.JOB_PREFIX,
                       json.dumps(posting).encode(), sequence=True)
            results = txn.commit()
            if any(isinstance(r, Exception) for r in results):
                continue           # another poster got there: look again
            value = json.dumps({"job": job_uuid, "path": results[-1]})
            try:
                self._client.set(path, value.encode(), version=0
                                 if stat is None else stat.version + 1)
            except (kazoo_exc.NoNodeError, kazoo_exc.BadVersionError):
                pass               # moved on already
            LOG.info("posted job %s for %s of stack %s", job_uuid,
                     op.action, op.stack_name)
            return job_uuid
        raise exception.HeatflowError(
            "could not post the job of %s of stack %s: its marker kept "
            "changing" % (op.action, op.stack_name))

    def has_job(self, traversal):
        """Does the operation ``traversal`` have a job (read directly)?"""
        marker, stat = self._marker(traversal)
        return stat is not None and self._job_exists(marker)

    def rival_of(self, job):
        """The uuid of the job its traversal's marker names, if that is
        another job and it exists: ``job`` is then a duplicate."""
        traversal = (job.details or {}).get("traversal")
        if not traversal:
            return None
        marker, stat = self._marker(traversal)
        if stat is None or marker.get("job") in (None, job.uuid):
            return None
        return marker["job"] if self._job_exists(marker) else None

    def markers(self):
        """The traversals that have a marker."""
        try:
            return self._client.get_children(self.operations)
        except kazoo_exc.NoNodeError:
            return []

    def forget(self, traversals, grace):
        """Delete the markers of ``traversals`` (operations that settled or
        were superseded, listed after ``markers()``) untouched for
        ``grace`` seconds, whose job is gone."""
        for traversal in traversals:
            marker, stat = self._marker(traversal)
            if stat is None or \
                    time.time() - stat.last_modified < grace or \
                    self._job_exists(marker):
                continue
            try:
                self._client.delete(self.operations + "/" + traversal,
                                    version=stat.version)
            except (kazoo_exc.NoNodeError, kazoo_exc.BadVersionError):
                pass               # changed meanwhile: kept


def make_board(name, client, persistence, root=DEFAULT_ROOT):
    conf = {"board": "zookeeper", "path": jobs_path(root),
            # The server version check needs the 'envi' four-letter word,
            # which ZooKeeper >= 3.5 does not allow by default.
            "check_compatible": False}
    board = Board(name, conf, client, persistence, root)
    board.connect()
    return board


def job_details(op):
    return {"stack_id": op.stack_id, "traversal": op.traversal,
            "flow_uuid": op.flow_uuid}


def post(board, book, op):
    """Post the operation ``op`` (already saved with its flow), unless it
    has a job already; the job's uuid, or None."""
    return board.post_operation(book, op)


def repost(board, db, row):
    """Post a job again for the stack's current operation (``row``: its
    stack row), whose flow was saved when it started, unless its job still
    exists."""
    from heatflow.flows import execution
    from heatflow.flows import plan as plan_mod
    from taskflow.persistence import models as tf_models
    book = tf_models.LogBook("stack-%s" % row.id, uuid=row.flow_uuid)
    book.add(execution.load_operation(db, row.flow_uuid))
    # From the row, not the saved plan: the job is named after what the
    # stack does now (a requested rollback reverts a CREATE or UPDATE
    # flow).  Posting reads only the identity, action and name.
    return post(board, book, plan_mod.OperationHeader(
        stack_id=row.id, stack_name=row.name, traversal=row.traversal,
        run=row.run_token, flow_uuid=row.flow_uuid, action=row.action,
        template_id=row.template_id))


def run_alive(client, root, run):
    """Is a conductor executing ``run``?  (Its ephemeral node exists.)"""
    return client.exists(runs_path(root) + "/" + run) is not None


def cause_text(exc):
    """What went wrong, in a few words: TaskFlow's job failures wrap
    kazoo's."""
    cause = getattr(exc, "cause", None) or exc.__cause__
    if cause is not None and cause is not exc:
        return "%s: %s" % (type(exc).__name__, cause_text(cause))
    return str(exc) or type(exc).__name__
