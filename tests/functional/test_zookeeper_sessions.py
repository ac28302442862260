"""Conductors through ZooKeeper session trouble, with real processes and
a real ZooKeeper and PostgreSQL (private servers, so the shared ones are not
disturbed):

- a suspended or lost session fences every run of the conductor at once:
  no resource action starts while it is disconnected;
- expected conditions (ZooKeeper restarted or paused, a conductor paused
  past its session timeout) are logged as one line each, never as a
  traceback.
"""

import signal
import time

import pytest

from tests.functional import cluster as cluster_mod
from tests.functional.test_conductor import chain, settle

STACKS = ("s1", "s2", "s3")


@pytest.fixture
def servers(zookeeper_factory, postgres_factory):
    return zookeeper_factory(), postgres_factory()


def _cluster(servers, tmp_path, size):
    zk, pg = servers
    return cluster_mod.Cluster(pg.create_database("sessions"), zk.hosts,
                               str(tmp_path), size=size)


@pytest.fixture
def one_conductor(servers, cloud, tmp_path):
    c = _cluster(servers, tmp_path, size=1)
    yield c
    c.close()


@pytest.fixture
def two_conductors(servers, cloud, tmp_path):
    c = _cluster(servers, tmp_path, size=2)
    yield c
    c.close()


def full_logs(cluster):
    out = {}
    for name in cluster.procs:
        with open("%s/%s.log" % (cluster.log_dir, name),
                  errors="replace") as f:
            out[name] = f.read()
    return out


def assert_no_traceback(cluster):
    for name, text in full_logs(cluster).items():
        assert "Traceback" not in text, "%s logged a traceback:\n%s" % (
            name, text)


def check_all_real(cluster, cloud, names):
    """The stacks' resources exist in the cloud exactly once; nothing
    else does."""
    known = set()
    for name in names:
        for r in cluster.orch.list_resources(name):
            assert r.status == "COMPLETE", r
            known.add(r.physical_resource_id)
    assert set(cloud.reality()) == known


def settle_all(cluster, names, expected, timeout=120):
    for name in names:
        final = settle(cluster.orch, name, timeout=timeout)
        assert final.stack_status == expected, (final, cluster.logs())


def start_three(cluster):
    for name in STACKS:
        cluster.orch.create_stack(name, chain(delay=0.6, n=6))
    for name in STACKS:
        cluster.wait_owner(name)


def test_a_lost_session_fences_every_run_at_once(one_conductor, servers,
                                                 cloud):
    """Three stacks on one conductor; ZooKeeper down 2.5 s: no create
    starts while the conductor is disconnected (each run was fenced when
    the session was suspended, not only the first)."""
    zk, _ = servers
    start_three(one_conductor)
    time.sleep(0.3)
    zk.stop()                       # the connection drops now
    down = time.time()
    time.sleep(2.5)
    up = time.time()
    zk.start()
    settle_all(one_conductor, STACKS, "CREATE_COMPLETE")
    # The listener notices the dropped connection within a moment.
    started = [j for j in cloud.journal()
               if j["event"] == "attempt" and down + 0.5 <= j["time"] < up]
    assert started == [], one_conductor.logs()
    check_all_real(one_conductor, cloud, STACKS)
    logs = "\n".join(full_logs(one_conductor).values())
    assert "Error in connection state listener" not in logs, logs


def test_zookeeper_restart_and_pause_log_no_traceback(one_conductor,
                                                      servers, cloud):
    """A ZooKeeper restart, then a pause past the session timeout, while
    three stacks run: the stacks complete and the conductor's log says what
    happened in plain lines, without a traceback."""
    zk, _ = servers
    start_three(one_conductor)
    time.sleep(0.3)
    zk.restart()
    time.sleep(1.0)
    zk.pause()
    time.sleep(cluster_mod.SESSION_TIMEOUT + 1.5)
    zk.resume()
    settle_all(one_conductor, STACKS, "CREATE_COMPLETE")
    time.sleep(2)                   # the watchdog's rounds after the pause
    check_all_real(one_conductor, cloud, STACKS)
    assert_no_traceback(one_conductor)


def test_paused_conductor_logs_no_traceback(two_conductors, cloud):
    """SIGSTOP the owner past its session timeout; the other conductor
    takes over; at SIGCONT the zombie says it was fenced, in plain lines."""
    c = two_conductors
    c.orch.create_stack("z", chain(delay=0.6, n=4))
    owner = c.wait_owner("z")
    time.sleep(0.3)
    c.kill(owner, signal.SIGSTOP)
    end = time.time() + 30
    while time.time() < end and c.owner("z") in (owner, None):
        time.sleep(0.05)
    c.kill(owner, signal.SIGCONT)
    settle_all(c, ["z"], "CREATE_COMPLETE")
    time.sleep(2)
    check_all_real(c, cloud, ["z"])
    assert_no_traceback(c)
