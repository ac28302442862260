"""Fixtures for real servers: ZooKeeper and PostgreSQL (tests/servers.py).

Session-scoped servers, started on first use and stopped at the end of the
run (also if it fails; ``atexit`` is the backstop):

- ``zookeeper``: a :class:`tests.servers.ZooKeeperServer`
- ``postgres``: a :class:`tests.servers.PostgresServer`

Per test:

- ``zk_hosts``: the connection string, "127.0.0.1:PORT"
- ``zk_path``: a root path of the test's own, "/t/<test>-<uuid>": use it as
  a chroot (``zk_hosts + zk_path``) or as the parent of the test's nodes
- ``zk_client``: a started KazooClient on ``zk_hosts`` (stopped after)
- ``pg_url``: a SQLAlchemy URL of a fresh, empty database (dropped after)
- ``zookeeper_factory`` / ``postgres_factory``: private servers for tests
  that must not disturb the shared ones; stopped and deleted after the test

For the embedded default (``db_url`` and ``orch`` come from tests/conftest.py):

- ``isolated_cwd``: ``tmp_path`` as the working directory, no HEATFLOW_*
  variables from the outside
- ``run``: ``run(*argv, db=True) -> (exit status, stdout, stderr)`` of the
  command line (with ``--db-url`` unless ``db=False``), in ``isolated_cwd``

The per-test fixtures start the shared server again if an earlier test
left it stopped (restart and crash tests).

Where a server's software is missing the tests that need it are skipped,
except in CI (``CI=true``), where that is a failure.
"""

import os
import re
import uuid

import pytest

from heatflow import cli
from tests import servers


@pytest.fixture
def isolated_cwd(monkeypatch, tmp_path):
    """``tmp_path`` as the working directory and no HEATFLOW_* variables
    from outside: nothing may fall back on ./.heatflow/heatflow.db in the
    source tree, or on a developer's own settings."""
    monkeypatch.chdir(tmp_path)
    for var in ("HEATFLOW_DB_URL", "HEATFLOW_ZOOKEEPER",
                "HEATFLOW_PLUGIN_DIRS", "HEATFLOW_ENCRYPTION_KEY"):
        monkeypatch.delenv(var, raising=False)
    # (nor an OpenStack user's OS_* request context)
    for var in list(os.environ):
        if var.startswith("OS_"):
            monkeypatch.delenv(var)


@pytest.fixture
def run(capsys, db_url, isolated_cwd):
    def run(*argv, db=True):
        capsys.readouterr()
        code = cli.main((["--db-url", db_url] if db else []) + list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    return run


def _unavailable(exc):
    msg = "%s: %s" % (servers.UNAVAILABLE, exc)
    if servers.in_ci():
        pytest.fail(msg + " (CI=true: a missing server is a failure)",
                    pytrace=False)
    pytest.skip(msg)


def _session_server(make):
    """Start a server, yield it, always stop it and delete its files."""
    server = None
    try:
        server = make()
        server.start()
    except BaseException as e:
        if server is not None:
            server.close()
        if isinstance(e, servers.ServerUnavailable):
            _unavailable(e)
        raise
    try:
        yield server
    finally:
        server.close()


def _make_zookeeper(**kw):
    servers.ensure_zookeeper_installed()
    return servers.ZooKeeperServer(**kw)


def _make_postgres(**kw):
    servers.find_pg_bin()
    return servers.PostgresServer(**kw)


@pytest.fixture(scope="session")
def _reaped():
    """Servers of an earlier run that was killed are stopped first."""
    servers.reap_stale()


@pytest.fixture(scope="session")
def zookeeper(_reaped):
    yield from _session_server(_make_zookeeper)


@pytest.fixture(scope="session")
def postgres(_reaped):
    yield from _session_server(_make_postgres)


@pytest.fixture
def zk_hosts(zookeeper):
    return zookeeper.ensure_running().hosts


@pytest.fixture
def zk_path(request):
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    return "/t/%s-%s" % (name, uuid.uuid4().hex[:8])


@pytest.fixture
def zk_client(zk_hosts):
    from kazoo.client import KazooClient
    client = KazooClient(hosts=zk_hosts, timeout=10)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def pg_url(postgres):
    postgres.ensure_running()
    name = "t_" + uuid.uuid4().hex[:16]
    url = postgres.create_database(name)
    yield url
    if postgres.running:
        # WITH (FORCE): a test's leftover connections must not keep it.
        postgres.drop_database(name)


def _factory(make):
    made = []

    def factory(**kw):
        try:
            server = make(**kw)
        except servers.ServerUnavailable as e:
            _unavailable(e)
        made.append(server)
        try:
            server.start()
        except servers.ServerUnavailable as e:
            _unavailable(e)
        return server

    return made, factory


@pytest.fixture
def zookeeper_factory():
    """``zookeeper_factory(**kw)``: a started private ZooKeeperServer."""
    made, factory = _factory(_make_zookeeper)
    try:
        yield factory
    finally:
        for server in made:
            server.close()


@pytest.fixture
def postgres_factory():
    """``postgres_factory(**kw)``: a started private PostgresServer."""
    made, factory = _factory(_make_postgres)
    try:
        yield factory
    finally:
        for server in made:
            server.close()
