"""Signals where the work runs elsewhere: a WaitCondition waiting on a
conductor completes from signals sent while that conductor dies and
another takes its job over (none is lost: the sender wrote it to the
database), and signals sent at once to a handle on PostgreSQL are each
counted."""

import json
import socket

import pytest

import heatflow
from tests.functional import cluster as cluster_mod
from tests.functional.test_conductor import wait_for
from tests.functional.test_signal_receiver import handle_token, post
from tests.functional.test_wait_conditions import (eight_signals_at_once,
                                                   template)


@pytest.fixture
def cluster(pg_url, zk_hosts, zk_path, zk_client, cloud, tmp_path):
    yield from cluster_mod.running(pg_url, zk_hosts, zk_path, zk_client,
                                   tmp_path)


def wait_state(orch):
    return {r.name: r.resource_status for r in orch.list_resources("s")
            }.get("wait")


def test_a_signal_sent_mid_takeover_is_not_lost(cluster):
    orch = cluster.orch
    orch.create_stack("s", template(count=2, timeout=300))
    wait_for(lambda: wait_state(orch) == "CREATE_IN_PROGRESS",
             what="the wait began")
    orch.signal_resource("s", "handle", {"id": "before", "data": 1})
    owner = cluster.wait_owner("s")
    run_before = orch.db.store.find_stack("s").run_token
    cluster.kill(owner)
    # Nobody runs the create now (the dead owner's session has yet to
    # expire): the signal goes to the database all the same.
    orch.signal_resource("s", "handle", {"id": "during", "data": 2})
    cluster.start_conductor()
    wait_for(lambda: orch.get_stack("s").status != "IN_PROGRESS",
             what="the create settled")
    st = orch.get_stack("s")
    assert st.stack_status == "CREATE_COMPLETE", (st, cluster.logs())
    assert orch.db.store.find_stack("s").run_token != run_before
    assert json.loads(st.outputs["data"]) == {"before": 1, "during": 2}


def test_a_conductor_serves_signals_on_request(cluster):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cluster.start_conductor(options=["--signal-port", str(port)])
    token = handle_token(cluster.db_url)
    url = "http://127.0.0.1:%d/signal/s/handle" % port
    wait_for(lambda: _listening(port), what="the conductor's receiver")
    assert post(url, b'{"data": 7}', {"X-Auth-Token": token}) == (
        200, {"reason": "Signal: Signal 1 received"})
    assert post(url, b"{}", {"X-Auth-Token": "x" + token})[0] == 403


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_signals_sent_at_once_each_count_on_postgresql(pg_url, cloud,
                                                       monkeypatch):
    from heatflow.plugins import wait_condition
    monkeypatch.setattr(wait_condition.WaitCondition, "poll_seconds", 0.1)
    with heatflow.Orchestrator(pg_url, poll_interval=(0.005, 0.05)) as orch:
        eight_signals_at_once(orch)
