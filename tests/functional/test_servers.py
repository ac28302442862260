"""The real-server fixtures (tests/servers.py) do what the other functional
tests rely on: ZooKeeper sessions really expire, data survives restarts
and PostgreSQL recovers committed data after a crash."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import sqlalchemy as sa

from tests import servers


def _wait_for(predicate, timeout, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# -- ZooKeeper ----------------------------------------------------------------

def test_zookeeper_create_and_read_a_znode(zk_client, zk_path):
    zk_client.create(zk_path + "/a", b"hello", makepath=True)
    data, stat = zk_client.get(zk_path + "/a")
    assert data == b"hello" and stat.version == 0
    assert zk_client.get_children(zk_path) == ["a"]


def test_zookeeper_chroot_isolates(zk_hosts, zk_path, zk_client):
    from kazoo.client import KazooClient
    zk_client.ensure_path(zk_path)
    chrooted = KazooClient(hosts=zk_hosts + zk_path, timeout=10)
    chrooted.start(timeout=15)
    try:
        chrooted.create("/x", b"1")
    finally:
        chrooted.stop()
        chrooted.close()
    assert zk_client.get(zk_path + "/x")[0] == b"1"


def test_zookeeper_config(zookeeper):
    assert zookeeper.hosts == "127.0.0.1:%d" % zookeeper.port
    assert zookeeper.four_letter("ruok") == "imok"
    assert "Mode: standalone" in zookeeper.four_letter("srvr")
    # taskflow's jobboard checks the server version with 'envi'.
    assert "zookeeper.version=3." in zookeeper.four_letter("envi")
    assert "zk_server_state\tstandalone" in zookeeper.four_letter("mntr")
    with open(zookeeper.config_path) as f:
        cfg = dict(line.strip().split("=", 1) for line in f if "=" in line)
    assert cfg["tickTime"] == "500"
    assert cfg["minSessionTimeout"] == "1000"
    assert cfg["maxSessionTimeout"] == "60000"
    assert cfg["admin.enableServer"] == "false"
    assert cfg["dataDir"].startswith(zookeeper.base_dir)
    assert os.path.getsize(zookeeper.log_path) > 0    # it logs


HOLDER = textwrap.dedent("""
    import sys, time
    from kazoo.client import KazooClient
    hosts, path = sys.argv[1:3]
    client = KazooClient(hosts=hosts, timeout=2.0)
    client.add_listener(lambda state: print("STATE", state, flush=True))
    client.start(timeout=15)
    client.create(path, b"mine", ephemeral=True, makepath=True)
    print("READY", client._session_timeout, flush=True)
    while True:
        time.sleep(0.1)
""")


def test_zookeeper_session_expires_while_client_is_frozen(zk_hosts, zk_path,
                                                          zk_client):
    """A client with a 2 s session, SIGSTOPped for 4 s, loses its session
    and its ephemeral node: the server really enforces the timeout."""
    node = zk_path + "/ephemeral"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, zk_hosts, node],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = holder.stdout.readline()
        while line.startswith("STATE"):
            line = holder.stdout.readline()
        assert line.startswith("READY"), line
        assert int(line.split()[1]) == 2000    # negotiated, not clamped
        assert zk_client.exists(node) is not None
        stopped = time.monotonic()
        holder.send_signal(signal.SIGSTOP)
        try:
            gone = _wait_for(lambda: zk_client.exists(node) is None,
                             timeout=3.9)
            frozen_for = time.monotonic() - stopped
            time.sleep(max(0, 4 - frozen_for))
        finally:
            holder.send_signal(signal.SIGCONT)
        assert gone, "the ephemeral node outlived its session"
        # Not before the session timeout (2 s) ...
        assert frozen_for >= 1.9
        # ... and once thawed, the client learns its session is LOST.
        states = []
        end = time.monotonic() + 10
        while "LOST" not in states and time.monotonic() < end:
            states.append(holder.stdout.readline().split()[-1])
        assert "LOST" in states, states
    finally:
        holder.kill()
        holder.wait()


def test_zookeeper_restart_keeps_port_and_data(zookeeper, zk_client,
                                               zk_path):
    port, pid = zookeeper.port, zookeeper.pid
    zk_client.create(zk_path + "/kept", b"data", makepath=True)
    zookeeper.restart()
    assert zookeeper.port == port and zookeeper.pid != pid
    assert zookeeper.start_seconds < 10
    # The client reconnects by itself, its session intact.
    assert _wait_for(lambda: zk_client.connected, 15)
    assert zk_client.get(zk_path + "/kept")[0] == b"data"


def test_zookeeper_stop_is_clean_and_kill_is_not_fatal(zookeeper_factory):
    zk = zookeeper_factory()
    pid = zk.pid
    zk.kill()
    assert not zk.running and not servers._pid_alive(pid)
    zk.start()
    assert zk.is_ok()
    zk.stop()
    assert not zk.running and not zk.is_ok()


# -- PostgreSQL ---------------------------------------------------------------

def test_postgres_connect_and_settings(postgres, pg_url):
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select current_user")).scalar() \
                == "heatflow"
            assert conn.execute(sa.text("show fsync")).scalar() == "on"
            assert conn.execute(
                sa.text("show synchronous_commit")).scalar() == "on"
            assert conn.execute(
                sa.text("show server_version_num")).scalar() >= "150000"
    finally:
        engine.dispose()
    assert pg_url == "postgresql+psycopg2://heatflow@127.0.0.1:%d/%s" % (
        postgres.port, pg_url.rsplit("/", 1)[1])


def test_postgres_databases_are_per_test(postgres, pg_url):
    name = pg_url.rsplit("/", 1)[1]
    assert postgres.execute(
        "select count(*) from pg_database where datname = %s",
        (name,)) == [(1,)]


def _write_rows(url, values):
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "create table if not exists kept (v int primary key)"))
            for v in values:
                conn.execute(sa.text("insert into kept values (:v)"),
                             {"v": v})
    finally:
        engine.dispose()


def _read_rows(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(
                sa.text("select v from kept order by v"))]
    finally:
        engine.dispose()


def test_postgres_restart_keeps_port_and_data(postgres, pg_url):
    _write_rows(pg_url, [1, 2])
    port, pid = postgres.port, postgres.pid
    postgres.restart()
    assert postgres.port == port and postgres.pid != pid
    assert _read_rows(pg_url) == [1, 2]


def test_postgres_pooled_connections_survive_restart(postgres, pg_url):
    """What heatflow's engine (pool_pre_ping) sees across a restart."""
    _write_rows(pg_url, [1])
    engine = sa.create_engine(pg_url, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        postgres.restart()
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from kept")
                                ).scalar() == 1
    finally:
        engine.dispose()


def test_postgres_kill_then_start_recovers_committed_data(postgres, pg_url):
    _write_rows(pg_url, [1, 2, 3])
    # A transaction in flight when the server dies is lost, not half-kept.
    engine = sa.create_engine(pg_url)
    conn = engine.connect()
    try:
        trans = conn.begin()
        conn.execute(sa.text("insert into kept values (4)"))
        pid = postgres.pid
        postgres.kill()
        assert not postgres.running and not servers._pid_alive(pid)
        with pytest.raises(sa.exc.OperationalError):
            conn.execute(sa.text("select 1"))
        trans.rollback()
    finally:
        conn.invalidate()
        conn.close()
        engine.dispose()
    postgres.start()
    assert _read_rows(pg_url) == [1, 2, 3]
    with open(postgres.log_path) as f:
        log = f.read()
    assert "database system was interrupted" in log or \
        "not properly shut down" in log


def test_postgres_private_server(postgres_factory):
    pg = postgres_factory()
    url = pg.create_database("private")
    _write_rows(url, [7])
    pg.kill()
    pg.start()
    assert _read_rows(url) == [7]
    base = pg.base_dir
    pg.close()
    assert not os.path.exists(base)


def test_reap_stale_stops_orphaned_servers(zookeeper_factory):
    """A server whose owner process is gone is stopped and deleted by the
    next run."""
    zk = zookeeper_factory()
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(os.path.join(zk.base_dir, servers.OWNER_FILE), "w") as f:
        f.write(str(dead.pid))
    pid = zk.pid
    assert zk.base_dir in servers.reap_stale()
    assert _wait_for(lambda: zk._proc.poll() is not None, 5)
    assert not servers._pid_alive(pid)
    assert not os.path.exists(zk.base_dir)


# -- a missing server ---------------------------------------------------------

def test_missing_zookeeper_is_unavailable_without_root(monkeypatch):
    monkeypatch.setattr(servers, "is_root", lambda: False)
    with pytest.raises(servers.ServerUnavailable, match="apt-get install"):
        servers.ensure_zookeeper_installed("/nonexistent/zookeeper.jar")


@pytest.mark.parametrize("ci,outcome", [("", pytest.skip.Exception),
                                        ("true", pytest.fail.Exception)])
def test_missing_server_skips_but_fails_in_ci(monkeypatch, ci, outcome):
    from tests.functional import conftest
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="real server unavailable"):
        conftest._unavailable(servers.ServerUnavailable("gone"))


def test_paused_servers_are_thawed_for_the_next_test(zookeeper, postgres):
    zookeeper.pause()
    postgres.pause()
    assert not zookeeper.is_ok()
    zookeeper.ensure_running()
    postgres.ensure_running()
    assert zookeeper.is_ok()
    assert postgres.execute("select 1") == [(1,)]


def test_skips_for_a_missing_server_are_counted_for_the_summary():
    class Report:
        def __init__(self, reason):
            self.longrepr = ("x.py", 1, "Skipped: " + reason)
    gone = servers.UNAVAILABLE + ": no PostgreSQL server binaries"
    reports = [Report(gone), Report(gone), Report("dot is not installed")]
    assert servers.unavailable_skips(reports) == {gone: 2}
