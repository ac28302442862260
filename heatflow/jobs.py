"""Stack operations as jobs on a TaskFlow jobboard in ZooKeeper.

A job names only the stack, the operation (traversal) and its flow: the plan
and everything else live in the database (job details sit in a znode,
limited in size and readable by anyone with access to ZooKeeper, so no
parameters, no templates, no secrets go there).

Layout under the root path (default ``/heatflow``)::

    /heatflow/stack-jobs/job0000000042        TaskFlow's jobs (and .lock)
    /heatflow/.trash, /heatflow/.entities     TaskFlow's bookkeeping
    /heatflow/runs/<run id>                   ephemeral: a live run
    /heatflow/watchdog                        the watchdog's election lock

(TaskFlow derives its trash and entity paths by replacing the last path
component everywhere in the path, so that component must occur only once.)
"""

import logging

from kazoo import client as kazoo_client
from kazoo import security as kazoo_security
from taskflow.jobs.backends import impl_zookeeper

from heatflow import exception

LOG = logging.getLogger(__name__)

DEFAULT_ROOT = "/heatflow"
JOBS = "stack-jobs"


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


def jobs_path(root=DEFAULT_ROOT):
    return root.rstrip("/") + "/" + JOBS


def runs_path(root=DEFAULT_ROOT):
    return root.rstrip("/") + "/runs"


def make_board(name, client, persistence, root=DEFAULT_ROOT):
    conf = {"board": "zookeeper", "path": jobs_path(root),
            # The server version check needs the 'envi' four-letter word,
            # which ZooKeeper >= 3.5 does not allow by default.
            "check_compatible": False}
    board = impl_zookeeper.ZookeeperJobBoard(name, conf, client=client,
                                             persistence=persistence)
    board.connect()
    return board


def job_details(op):
    return {"stack_id": op["stack_id"], "traversal": op["traversal"],
            "flow_uuid": op["flow_uuid"]}


def post(board, book, op):
    """Post the operation ``op`` (already saved with its flow)."""
    job = board.post("%s-%s" % (op["action"].lower(), op["stack_name"]),
                     book=book, details=job_details(op))
    LOG.info("posted job %s for %s of stack %s", job.uuid, op["action"],
             op["stack_name"])
    return job


def repost(board, db, row):
    """Post a job again for the stack's current operation (``row``: its
    stack row), whose flow was saved when it started."""
    from heatflow import execution
    from taskflow.persistence import models as tf_models
    book = tf_models.LogBook("stack-%s" % row.id, uuid=row.flow_uuid)
    book.add(execution.load_operation(db, row.flow_uuid))
    return post(board, book, {
        "stack_id": row.id, "traversal": row.traversal,
        "flow_uuid": row.flow_uuid, "action": row.action,
        "stack_name": row.name})


def jobs_for(board, stack_id):
    """The jobs on the board for one stack."""
    return [j for j in board.iterjobs(ensure_fresh=True)
            if (j.details or {}).get("stack_id") == stack_id]


def run_alive(client, root, run):
    """Is a conductor executing ``run``?  (Its ephemeral node exists.)"""
    return client.exists(runs_path(root) + "/" + run) is not None
