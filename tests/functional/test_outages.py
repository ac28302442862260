"""Conductors through outages: ZooKeeper and PostgreSQL restarted
mid-operation, every conductor dead past a stack's deadline, a job that
went missing.  Private servers, so the shared ones are not disturbed."""

import signal
import time

import pytest

from heatflow import jobs
from tests.functional import cluster as cluster_mod
from tests.functional.test_conductor import chain, check_reality, settle


@pytest.fixture
def servers(zookeeper_factory, postgres_factory):
    zk = zookeeper_factory()
    pg = postgres_factory()
    return zk, pg


@pytest.fixture
def private_cluster(servers, cloud, tmp_path):
    zk, pg = servers
    c = cluster_mod.Cluster(pg.create_database("outage"), zk.hosts,
                            str(tmp_path))
    yield c
    c.close()


def test_zookeeper_restart_mid_operation(private_cluster, servers, cloud):
    zk, _ = servers
    orch = private_cluster.orch
    orch.create_stack("s", chain(delay=0.5, n=4))
    private_cluster.wait_owner("s")
    time.sleep(0.6)
    zk.restart()
    final = settle(orch, "s", timeout=90)
    assert final.stack_status == "CREATE_COMPLETE", private_cluster.logs()
    check_reality(private_cluster, cloud, "s")


def test_postgresql_restart_mid_operation(private_cluster, servers, cloud):
    """The operation completes, or fails cleanly and a retry completes it;
    nothing is lost or leaked either way."""
    _, pg = servers
    orch = private_cluster.orch
    orch.create_stack("s", chain(delay=0.5, n=4))
    private_cluster.wait_owner("s")
    time.sleep(0.6)
    pg.restart()
    final = settle(orch, "s", timeout=90)
    if final.stack_status != "CREATE_COMPLETE":
        assert final.status == "FAILED", private_cluster.logs()
        final = orch.update_stack("s", existing=True).wait(90)
        assert final.stack_status == "UPDATE_COMPLETE", \
            private_cluster.logs()
    check_reality(private_cluster, cloud, "s")


def test_watchdog_fails_a_stack_whose_conductors_all_died(private_cluster,
                                                          cloud):
    orch = private_cluster.orch
    orch.create_stack("late", chain(delay=2, n=3), timeout_mins=0.05)
    private_cluster.wait_owner("late")
    for name in list(private_cluster.procs):
        private_cluster.kill(name)
    time.sleep(3.5)                       # the deadline (3 s) passes
    assert orch.get_stack("late").stack_status == "CREATE_IN_PROGRESS"
    private_cluster.start_conductor()
    final = settle(orch, "late", timeout=60)
    assert final.stack_status == "CREATE_FAILED", private_cluster.logs()
    assert "timed out" in final.status_reason


def test_an_operation_whose_job_vanished_is_posted_again(private_cluster,
                                                         cloud):
    orch = private_cluster.orch
    for name in list(private_cluster.procs):
        private_cluster.kill(name, signal.SIGTERM)
    orch.create_stack("lost", chain(delay=0, n=2))
    zk = private_cluster.zk
    path = jobs.jobs_path()
    for child in zk.get_children(path):
        zk.delete(path + "/" + child, recursive=True)
    private_cluster.start_conductor()
    final = settle(orch, "lost", timeout=60)
    assert final.stack_status == "CREATE_COMPLETE", private_cluster.logs()
    check_reality(private_cluster, cloud, "lost")
