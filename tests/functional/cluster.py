"""A conductor cluster for failure tests: real ``heatflow conductor``
processes against the real ZooKeeper and PostgreSQL of the fixtures, the
test cloud (tests/plugins/cloud.py) shared through HEATFLOW_TEST_CLOUD.

The test asks ZooKeeper which conductor runs a stack right now (the run's
ephemeral znode holds the conductor's name) and kills exactly that process.

Each conductor connects to PostgreSQL with its name as the
``application_name``, so :meth:`Cluster.audit_writes` can tell which
process wrote which row.
"""

import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa
from kazoo import client as kazoo_client

import heatflow
from heatflow import jobs
from tests import conftest

SESSION_TIMEOUT = 2.0


def jobs_for(board, stack_id):
    """The jobs on ``board`` for one stack, as TaskFlow lists them."""
    return [j for j in board.iterjobs(ensure_fresh=True)
            if (j.details or {}).get("stack_id") == stack_id]


class Cluster:
    def __init__(self, db_url, zk_hosts, log_dir, size=2,
                 session_timeout=SESSION_TIMEOUT):
        self.db_url = db_url
        self.zk_hosts = zk_hosts
        self.log_dir = log_dir
        self.session_timeout = session_timeout
        self.procs = {}
        self._seq = 0
        self._board = None
        self.zk = kazoo_client.KazooClient(hosts=zk_hosts)
        self.zk.start()
        self.zk.ensure_path(jobs.runs_path())
        for _ in range(size):
            self.start_conductor()
        self.orch = heatflow.Orchestrator(db_url, zookeeper=zk_hosts)
        self.orch.register_plugin("Test::Thing", self._thing())

    @staticmethod
    def _thing():
        from tests.plugins import cloud
        return cloud.Thing

    def start_conductor(self, plugins=True, options=()):
        """Start a conductor; ``plugins=False``: one without the test
        plugins (no ``--plugin-dir``); ``options``: more of the conductor
        command's options."""
        self._seq += 1
        name = "cond%d" % self._seq
        log = open(os.path.join(self.log_dir, name + ".log"), "ab")
        plugin_dir = ["--plugin-dir", conftest.PLUGIN_DIR] if plugins else []
        db_url = sa.engine.make_url(self.db_url).update_query_dict(
            {"application_name": name}).render_as_string(hide_password=False)
        proc = subprocess.Popen(
            [sys.executable, "-m", "heatflow", "--db-url", db_url,
             "--zookeeper", self.zk_hosts] + plugin_dir +
            ["conductor", "--name", name,
             "--session-timeout", str(self.session_timeout),
             "--watchdog-interval", "0.5"] + list(options),
            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
        log.close()
        self.procs[name] = proc
        return name

    def owner(self, stack_name):
        """The name of the conductor running the stack's operation now."""
        row = self.orch.db.store.find_stack(stack_name)
        path = jobs.runs_path() + "/" + (row.run_token or "")
        try:
            data, _ = self.zk.get(path)
        except Exception:
            return None
        return data.decode()

    def wait_owner(self, stack_name, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            name = self.owner(stack_name)
            if name in self.procs:
                return name
            time.sleep(0.02)
        raise AssertionError("no conductor took stack %s" % stack_name)

    def jobs(self, stack_name):
        """The stack's jobs on the board now: [(job uuid, owner or None)]
        (the owner: the name of the conductor holding the claim)."""
        board = self._observer()
        stack_id = self.orch.db.store.find_stack(stack_name).id
        return [(j.uuid, board.find_owner(j))
                for j in jobs_for(board, stack_id)]

    def trashed(self):
        """The jobs TaskFlow threw away: a job whose dispatch raised goes
        to its trash, said only in TaskFlow's log, which is quiet."""
        path = self._observer().trash_path
        return self.zk.get_children(path) if self.zk.exists(path) else []

    def _observer(self):
        if self._board is None:
            self._board = jobs.make_board("test-observer", self.zk, None)
        return self._board

    def audit_writes(self):
        """From now on, note every row any process inserts, updates or
        deletes in heatflow's and TaskFlow's tables (a write a fence
        rejects changes no row, so it is not noted): see :meth:`writes`.
        """
        engine = sa.create_engine(self.db_url)
        try:
            with engine.begin() as conn:
                tables = [t for (t,) in conn.execute(sa.text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = "
                    "'BASE TABLE' AND table_name <> 'alembic_version'"))]
                conn.execute(sa.text(
                    "CREATE TABLE test_writes (at double precision, "
                    "writer text, tbl text, op text)"))
                conn.execute(sa.text(
                    "CREATE FUNCTION test_note_write() RETURNS trigger AS $$ "
                    "BEGIN INSERT INTO test_writes VALUES (extract(epoch "
                    "FROM clock_timestamp()), current_setting("
                    "'application_name'), TG_TABLE_NAME, TG_OP); "
                    "RETURN NULL; END $$ LANGUAGE plpgsql"))
                for t in tables:
                    conn.execute(sa.text(
                        'CREATE TRIGGER test_note_write AFTER INSERT OR '
                        'UPDATE OR DELETE ON "%s" FOR EACH ROW EXECUTE '
                        'FUNCTION test_note_write()' % t))
        finally:
            engine.dispose()

    def writes(self, writer):
        """[(time.time(), table, operation)] of the rows ``writer`` (a
        conductor's name) wrote since :meth:`audit_writes`."""
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(
                    "SELECT at, tbl, op FROM test_writes WHERE writer = :w "
                    "ORDER BY at"), {"w": writer})]
        finally:
            engine.dispose()

    def kill(self, name, sig=signal.SIGKILL):
        self.procs[name].send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.procs[name].wait(30)

    def close(self):
        try:
            self.orch.close()
        finally:
            for proc in self.procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGCONT)
                    proc.terminate()
            for proc in self.procs.values():
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if self._board is not None:
                self._board.close()
            self.zk.stop()
            self.zk.close()

    def logs(self):
        out = []
        for name in self.procs:
            path = os.path.join(self.log_dir, name + ".log")
            with open(path, errors="replace") as f:
                out.append("== %s ==\n%s" % (name, f.read()[-3000:]))
        return "\n".join(out)


def running(pg_url, zk_hosts, zk_path, zk_client, tmp_path, **kw):
    """A fixture's body: a Cluster under its own ZooKeeper path, closed
    when the test ends."""
    zk_client.ensure_path(zk_path)
    c = Cluster(pg_url, zk_hosts + zk_path, str(tmp_path), **kw)
    yield c
    c.close()
