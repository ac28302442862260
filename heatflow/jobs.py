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
from taskflow.jobs.backends import impl_zookeeper

LOG = logging.getLogger(__name__)

DEFAULT_ROOT = "/heatflow"
JOBS = "stack-jobs"


def make_client(hosts, session_timeout=10.0):
    """A kazoo client; ``session_timeout`` is what ZooKeeper waits after
    losing touch with a conductor before its jobs can be taken over."""
    return kazoo_client.KazooClient(hosts=hosts, timeout=session_timeout)


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


def jobs_for(board, stack_id):
    """The jobs on the board for one stack."""
    return [j for j in board.iterjobs(ensure_fresh=True)
            if (j.details or {}).get("stack_id") == stack_id]


def run_alive(client, root, run):
    """Is a conductor executing ``run``?  (Its ephemeral node exists.)"""
    return client.exists(runs_path(root) + "/" + run) is not None
