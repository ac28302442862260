"""Conductors through ZooKeeper session trouble, with real processes and
a real ZooKeeper and PostgreSQL (private servers, so the shared ones are not
disturbed):

- a suspended or lost session fences every run of the conductor at once:
  no resource action starts while it is disconnected;
- one job per operation: a second posting for a traversal that has a job
  is refused, and a conductor never runs a second job for it;
- expected conditions (ZooKeeper restarted or paused, a conductor paused
  past its session timeout) are logged as one line each, never as a
  traceback.
"""

import json
import signal
import time

import pytest
from kazoo import exceptions as kazoo_exc

from heatflow import jobs
from heatflow.flows import plan as plan_mod
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


# -- one job per operation --------------------------------------------------

def jobs_of(cluster, traversal):
    """The jobs in ZooKeeper for ``traversal``, read directly."""
    zk, path = cluster.zk, jobs.jobs_path()
    out = []
    for child in zk.get_children(path):
        if not child.startswith("job") or child.endswith(".lock"):
            continue
        try:
            data, _ = zk.get(path + "/" + child)
        except kazoo_exc.NoNodeError:
            continue        # consumed between the listing and the read
        if json.loads(data)["details"].get("traversal") == traversal:
            out.append(child)
    return out


def test_a_second_posting_for_a_traversal_is_refused(two_conductors,
                                                     cloud):
    """The client resumes the operation while it runs (a rollback
    request does), and posts its job again as if a listing had missed it
    (TaskFlow's listing skips a job it could not read during a reconnect):
    the operation still has one job, and runs once."""
    c = two_conductors
    orch = c.orch
    orch.create_stack("r", chain(delay=0.8, n=3))
    c.wait_owner("r")
    row = orch.db.store.find_stack("r")
    assert len(jobs_of(c, row.traversal)) == 1
    orch._lifecycle.resume(row)
    jobs.repost(orch._runner.board, orch.db, row)
    assert len(jobs_of(c, row.traversal)) == 1
    settle_all(c, ["r"], "CREATE_COMPLETE")
    creates = [j for j in cloud.journal() if j["event"] == "attempt"]
    assert len(creates) == 3, creates
    check_all_real(c, cloud, ["r"])


def test_a_conductor_never_runs_a_second_job_of_a_traversal(
        two_conductors, cloud):
    """A duplicate job posted straight through TaskFlow (an older client,
    say) while the first runs: no conductor runs it, so the first run is
    never taken over, and each resource is created once."""
    c = two_conductors
    orch = c.orch
    orch.create_stack("d", chain(delay=0.8, n=3))
    owner = c.wait_owner("d")
    first_run = orch.db.store.find_stack("d").run_token
    row = orch.db.store.find_stack("d")
    orch._runner.board.post("create-d", details=jobs.job_details(
        plan_mod.OperationHeader(stack_id=row.id, stack_name=row.name,
                                 traversal=row.traversal, run=row.run_token,
                                 flow_uuid=row.flow_uuid, action=row.action,
                                 template_id=row.template_id)))
    settle_all(c, ["d"], "CREATE_COMPLETE")
    final = orch.db.store.find_stack("d")
    assert final.run_token == first_run, c.logs()
    assert c.procs[owner].poll() is None
    creates = [j for j in cloud.journal() if j["event"] == "attempt"]
    assert len(creates) == 3, creates
    check_all_real(c, cloud, ["d"])
    end = time.time() + 10
    while time.time() < end and jobs_of(c, row.traversal):
        time.sleep(0.1)
    assert jobs_of(c, row.traversal) == [], "the duplicate was left behind"
