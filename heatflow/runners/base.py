"""The runner seam: what a process running stack operations is made of."""

import hashlib
import os
import tempfile
import uuid

from heatflow import registry as registry_mod
from heatflow.flows import polling
from heatflow.flows import runtime as runtime_mod
from heatflow.persistence import database


class Host:
    """The services every process that runs operations needs, built once:
    the database, the plugin registry, and the :class:`Runtime` the atoms
    of flows run here find under :attr:`key` (a flow carries only plain
    data; see flows/runtime.py).  ``default``: this runtime also serves
    flows planned under another process's key (a conductor runs those)."""

    def __init__(self, db_url=None, plugin_dirs=(), registry=None,
                 poll_interval=polling.POLL_INTERVAL, limits=None,
                 encryption_key=None,
                 key_prefix="orchestrator", default=False,
                 create_database=True):
        self.db = database.Database(db_url, encryption_key=encryption_key,
                                    create=create_database)
        try:
            self.registry = registry or registry_mod.Registry.default(
                plugin_dirs=plugin_dirs)
            self.runtime = runtime_mod.Runtime(self.db, self.registry,
                                               poll_interval=poll_interval,
                                               limits=limits)
        except BaseException:
            self.db.close()         # e.g. a plugin directory that fails
            raise
        self.key = "%s-%s" % (key_prefix, uuid.uuid4())
        runtime_mod.register(self.key, self.runtime, default=default)

    def lock_dir(self):
        """Where runs in this process hold their lock files: beside a
        SQLite file; for another database, under the temp dir, per
        database.  (So crash resume works between processes of one host;
        processes on several hosts sharing a database need conductors.)"""
        url = self.db.engine.url
        if self.db.is_sqlite:
            if url.database in (None, "", ":memory:"):
                return None
            return os.path.abspath(url.database) + ".locks"
        key = hashlib.sha256(database.safe_url(self.db.url).encode())
        return os.path.join(tempfile.gettempdir(), "heatflow-locks",
                            key.hexdigest()[:16])

    def log_dir(self):
        """Where detached workers write their logs: beside a SQLite file
        (``<file>.logs``); for another database, under the temp dir, per
        database.  None for an in-memory database."""
        locks = self.lock_dir()
        if locks is None:
            return None
        return locks[:-len(".locks")] + ".logs" if locks.endswith(
            ".locks") else locks.replace("heatflow-locks", "heatflow-logs")

    def close(self):
        runtime_mod.unregister(self.key)
        self.db.close()


class Runner:
    """Where an Orchestrator's operations run.  A planned operation is
    handed over with :meth:`start`; :meth:`resume` makes sure someone runs
    a stack's current operation (after a crash, or to carry out a rollback
    requested of a stopped one)."""

    def start(self, plan):
        """Record a freshly planned operation and have it run."""
        raise NotImplementedError

    def resume(self, stack_row):
        """Have the stack's current operation run unless someone runs it;
        False if it could not be taken (another live process has it)."""
        raise NotImplementedError

    def run_alive(self, run):
        """Is some process executing ``run``?  (True if it cannot tell.)"""
        return True

    def abandoned(self, stack_row):
        """Is the stack's operation IN_PROGRESS with nobody left to run
        it (its process died), as far as this runner can tell?  (Never,
        where it cannot: conductors' watchdog looks after theirs.)"""
        return False

    def resume_orphans(self):
        """Resume the operations nobody runs that this runner may take;
        their stacks' names."""
        return []

    def done_event(self, flow_uuid):
        """A threading.Event set when this process's run of the flow ends,
        or None if the flow does not run here."""
        return None

    def close(self):
        """Let what runs here settle (the caller has asked the engines to
        stop starting atoms)."""
