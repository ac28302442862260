"""ZooKeeper digest authentication and ACLs on heatflow's znodes, against
the real ZooKeeper of the fixtures.

With ``zookeeper_auth="user:password"`` an Orchestrator and a Conductor
authenticate, and every znode heatflow creates is readable and writable
with those credentials only: a client without them (or with others) can
neither read job details, nor list the jobs, nor take a job's lock."""

import threading
import time

import pytest
from kazoo import client as kazoo_client
from kazoo import exceptions as kazoo_exc
from kazoo import security as kazoo_security

import heatflow
from heatflow.runners import conductor as conductor_mod
from heatflow import exception
from heatflow import jobs

AUTH = "heatflow:s3cret-zk-pass"
TEMPLATE = {"heat_template_version": "2021-04-16",
            "resources": {"a": {"type": "OS::Heat::Value",
                                "properties": {"value": "x"}},
                          "b": {"type": "OS::Heat::Value",
                                "properties": {"value": {
                                    "get_attr": ["a", "value"]}}}},
            "outputs": {"v": {"value": {"get_attr": ["b", "value"]}}}}


def _client(hosts, auth=None):
    kw = {}
    if auth:
        kw["auth_data"] = [("digest", auth)]
    client = kazoo_client.KazooClient(hosts=hosts, timeout=10, **kw)
    client.start(timeout=15)
    return client


@pytest.fixture
def chroot(zk_hosts, zk_path, zk_client):
    # the test's own chroot stays open (the fixtures' client cleans up);
    # heatflow's root under it is what must be protected
    zk_client.ensure_path(zk_path)
    return zk_hosts + zk_path


@pytest.fixture
def db_url(tmp_path):
    return "sqlite:///%s" % (tmp_path / "heatflow.db")


def _wait_for_jobs(client, timeout=10):
    path = jobs.jobs_path()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if client.exists(path):
            names = [n for n in client.get_children(path)
                     if n.startswith("job") and not n.endswith(".lock")]
            if names:
                return path, sorted(names)
        time.sleep(0.05)
    raise AssertionError("no job was posted")


def test_make_client_rejects_malformed_auth():
    with pytest.raises(exception.HeatflowError):
        jobs.make_client("127.0.0.1:1", auth="no-colon")
    with pytest.raises(exception.HeatflowError):
        jobs.make_client("127.0.0.1:1", auth=":password")


def test_make_client_sets_auth_data_and_default_acl():
    client = jobs.make_client("127.0.0.1:1", auth=AUTH)
    try:
        assert ("digest", AUTH) in client.auth_data
        assert client.default_acl == [kazoo_security.make_digest_acl(
            "heatflow", "s3cret-zk-pass", all=True)]
    finally:
        client.close()
    plain = jobs.make_client("127.0.0.1:1")
    try:
        assert not plain.auth_data
        assert plain.default_acl is None
    finally:
        plain.close()


def test_auth_end_to_end_and_acls(chroot, db_url):
    orch = heatflow.Orchestrator(db_url=db_url, zookeeper=chroot,
                                 zookeeper_auth=AUTH)
    authed = _client(chroot, AUTH)
    anon = _client(chroot)
    other = _client(chroot, "intruder:guess")
    cond = thread = None
    try:
        # No conductor yet: the job waits on the board.
        op = orch.create_stack("s", TEMPLATE)
        path, names = _wait_for_jobs(authed)
        job = path + "/" + names[0]
        data, _ = authed.get(job)
        assert op.stack_id.encode() in data

        # heatflow's nodes carry only the digest ACL
        for node in (jobs.DEFAULT_ROOT, path, job):
            acls, _ = authed.get_acls(node)
            assert acls == [kazoo_security.make_digest_acl(
                "heatflow", "s3cret-zk-pass", all=True)], (node, acls)

        for client in (anon, other):
            with pytest.raises(kazoo_exc.NoAuthError):
                client.get(job)
            with pytest.raises(kazoo_exc.NoAuthError):
                client.get_children(path)
            with pytest.raises(kazoo_exc.NoAuthError):
                client.create(job + ".lock", b"thief", ephemeral=True)
            with pytest.raises(kazoo_exc.NoAuthError):
                client.create(path + "/job9999999999", b"{}")
            with pytest.raises(kazoo_exc.NoAuthError):
                client.delete(job)
        assert authed.exists(job + ".lock") is None

        # A conductor with the credentials claims it and runs it.
        cond = conductor_mod.Conductor(
            db_url, chroot, name="auth-conductor", workers=2,
            zookeeper_auth=AUTH, watchdog_interval=0.2)
        thread = threading.Thread(target=cond.run, daemon=True)
        thread.start()
        stack = op.wait(timeout=60)
        assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
        assert stack.outputs == {"v": "x"}

        # the conductor's own nodes (runs, watchdog) are protected too
        acls, _ = authed.get_acls(jobs.runs_path())
        assert [a.id.scheme for a in acls] == ["digest"]
        with pytest.raises(kazoo_exc.NoAuthError):
            anon.get_children(jobs.runs_path())

        stack = orch.delete_stack("s").wait(timeout=60)
        assert stack.stack_status == "DELETE_COMPLETE"
    finally:
        if cond is not None:
            cond.stop()
            thread.join(30)
            cond.close()
        orch.close()
        for client in (authed, anon, other):
            client.stop()
            client.close()


def test_conductor_without_credentials_cannot_use_the_board(chroot, db_url):
    """Once heatflow's root is protected, a conductor without the
    credentials fails at start instead of running anything."""
    orch = heatflow.Orchestrator(db_url=db_url, zookeeper=chroot,
                                 zookeeper_auth=AUTH)
    try:
        orch.create_stack("s", TEMPLATE)
        with pytest.raises(kazoo_exc.NoAuthError):
            cond = conductor_mod.Conductor(db_url, chroot, name="anon",
                                           watchdog_interval=0.2)
            cond.close()
        assert orch.get_stack("s").stack_status == "CREATE_IN_PROGRESS"
    finally:
        orch.close()
