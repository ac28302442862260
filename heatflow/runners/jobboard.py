"""Running operations through ZooKeeper: each is posted as a job on the
jobboard, and conductors (heatflow/runners/conductor.py) claim and run it;
their watchdog resumes or fails what nobody runs, so this process runs nothing
itself."""

import uuid


from heatflow.flows import execution
from heatflow import jobs
from heatflow.runners import base


class JobboardRunner(base.Runner):

    def __init__(self, host, zookeeper, zookeeper_auth=None,
                 root=jobs.DEFAULT_ROOT, connect_timeout=None):
        self.db = host.db
        self.root = root
        self._owns_board = True
        self.client = jobs.make_client(zookeeper, auth=zookeeper_auth)
        jobs.start_client(self.client, zookeeper, connect_timeout)
        try:
            self.board = jobs.make_board("orchestrator-" + str(uuid.uuid4()),
                                         self.client, host.db.taskflow, root)
        except BaseException:
            self._stop_client()
            raise

    @classmethod
    def on_board(cls, host, board):
        """A runner posting on ``board``, which its caller owns: a
        conductor posts the operations of the nested stacks its
        resources start on its own board (for any conductor to claim)."""
        runner = cls.__new__(cls)
        runner.db, runner.board, runner._owns_board = host.db, board, False
        return runner

    def start(self, plan):
        book, _ = execution.save_operation(self.db, plan)
        jobs.post(self.board, book, plan.op)

    def resume(self, stack_row):
        # Posts nothing if the operation's job still exists (one job per
        # operation: heatflow/jobs.py).
        jobs.repost(self.board, self.db, stack_row)
        return True

    def close(self):
        if not self._owns_board:
            return
        try:
            self.board.close()
        finally:
            self._stop_client()

    def _stop_client(self):
        self.client.stop()
        self.client.close()
