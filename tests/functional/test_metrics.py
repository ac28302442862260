"""Prometheus metrics: what an embedded service and a conductor count, as
a scraper reads them."""

import json
import os
import time
import urllib.error
import urllib.request

from prometheus_client import parser as prometheus_parser
import pytest

from heatflow import exception
from heatflow import metrics
from tests import servers
from tests.functional import cluster as cluster_mod

TEMPLATE = {"heat_template_version": "2018-08-31", "resources": {
    "a": {"type": "OS::Heat::TestResource", "properties": {"value": "x"}},
    "b": {"type": "OS::Heat::TestResource", "properties": {"fail": True},
          "depends_on": "a"}}}


def sample(text_or_registry, name, **labels):
    """The value of one series, 0 when it is not there yet."""
    if isinstance(text_or_registry, str):
        families = prometheus_parser.text_string_to_metric_families(
            text_or_registry)
    else:
        families = text_or_registry.collect()
    for family in families:
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v
                                      for k, v in labels.items()):
                return s.value
    return 0


def test_an_embedded_service_counts_operations(orch):
    def settled(action, outcome):
        return sample(metrics.REGISTRY, "heatflow_operations_total",
                      action=action, outcome=outcome)

    before = {k: settled(*k) for k in [("CREATE", "COMPLETE"),
                                       ("CREATE", "FAILED"),
                                       ("DELETE", "COMPLETE")]}
    good = {"heat_template_version": "2018-08-31", "resources": {
        "a": TEMPLATE["resources"]["a"]}}
    orch.create_stack("ok", good).wait(60)
    orch.create_stack("bad", TEMPLATE).wait(60)
    orch.delete_stack("ok").wait(60)
    assert {k: settled(*k) - v for k, v in before.items()} == {
        ("CREATE", "COMPLETE"): 1, ("CREATE", "FAILED"): 1,
        ("DELETE", "COMPLETE"): 1}


def test_an_embedded_service_counts_resource_actions(orch):
    done = dict(name="heatflow_resource_actions_total",
                type="OS::Heat::TestResource", action="CREATE")
    before_ok = sample(metrics.REGISTRY, outcome="COMPLETE", **done)
    before_failed = sample(metrics.REGISTRY, outcome="FAILED", **done)
    before_timed = sample(metrics.REGISTRY,
                          "heatflow_resource_action_seconds_count",
                          type="OS::Heat::TestResource", action="CREATE")
    stack = orch.create_stack("m", TEMPLATE).wait(60)
    assert stack.status == "FAILED"
    assert sample(metrics.REGISTRY, outcome="COMPLETE", **done) \
        == before_ok + 1
    assert sample(metrics.REGISTRY, outcome="FAILED", **done) \
        == before_failed + 1
    assert sample(metrics.REGISTRY, "heatflow_resource_action_seconds_count",
                  type="OS::Heat::TestResource", action="CREATE") \
        == before_timed + 2


@pytest.fixture
def cluster(pg_url, zk_hosts, zk_path, zk_client, cloud, tmp_path):
    yield from cluster_mod.running(pg_url, zk_hosts, zk_path, zk_client,
                                   tmp_path, size=0)


def test_a_conductor_serves_its_metrics(cluster):
    port = servers.free_port()
    cluster.start_conductor(options=["--metrics-port", str(port)])
    op = cluster.orch.create_stack("m", {
        "heat_template_version": "2018-08-31", "resources": {
            "t": {"type": "Test::Thing", "properties": {"size": 1}}}})
    assert op.wait(60).status == "COMPLETE"
    text = scrape(port)
    assert sample(text, "heatflow_resource_actions_total", type="Test::Thing",
                  action="CREATE", outcome="COMPLETE") == 1
    # the one conductor is the elected watchdog: it reports the board
    # (once elected, every round)
    deadline = time.monotonic() + 30
    while "heatflow_jobs_waiting" not in text and \
            time.monotonic() < deadline:
        time.sleep(0.5)
        text = scrape(port)
    assert sample(text, "heatflow_jobs_waiting") == 0


def test_the_conductor_that_takes_over_counts_it(cluster):
    ports = {}
    for _ in range(2):
        port = servers.free_port()
        ports[cluster.start_conductor(
            options=["--metrics-port", str(port)])] = port
    op = cluster.orch.create_stack("t", {
        "heat_template_version": "2018-08-31", "resources": {
            "t%d" % i: {"type": "Test::Thing",
                        "properties": {"size": i, "delay": 1},
                        **({"depends_on": "t%d" % (i - 1)} if i else {})}
            for i in range(4)}})
    first = cluster.wait_owner("t")
    # killed once its engine has started the flow (a conductor killed
    # before that leaves nothing to take over)
    deadline = time.monotonic() + 30
    while not any(r.status != "INIT" and r.action != "INIT" for r in
                  cluster.orch.list_resources("t")):
        assert time.monotonic() < deadline, "no resource started"
        time.sleep(0.05)
    cluster.kill(first)
    assert op.wait(90).status == "COMPLETE"
    (other,) = [name for name in ports if name != first]
    text = scrape(ports[other])
    assert sample(text, "heatflow_takeovers_total") == 1
    assert sample(text, "heatflow_operations_total", action="CREATE",
                  outcome="COMPLETE") == 1


def test_a_job_nobody_can_run_counts_as_waiting(cluster):
    # A conductor without the test plugins declines the job: it stays on
    # the board, unclaimed.
    port = servers.free_port()
    cluster.start_conductor(plugins=False,
                            options=["--metrics-port", str(port)])
    cluster.orch.create_stack("w", {
        "heat_template_version": "2018-08-31", "resources": {
            "t": {"type": "Test::Thing"}}})
    deadline = time.monotonic() + 30
    while True:
        try:
            if sample(scrape(port), "heatflow_jobs_waiting") == 1:
                break
        except urllib.error.URLError:
            pass                        # not serving yet
        assert time.monotonic() < deadline, "no job counted as waiting"
        time.sleep(0.5)


def test_a_conductor_logs_json_lines_naming_the_operation(cluster):
    name = cluster.start_conductor(options=["--log-format", "json"])
    op = cluster.orch.create_stack("doomed", {
        "heat_template_version": "2018-08-31", "resources": {
            "t": {"type": "OS::Heat::TestResource",
                  "properties": {"fail": True}}}})
    assert op.wait(60).status == "FAILED"
    with open(os.path.join(cluster.log_dir, name + ".log")) as f:
        text = f.read()
    lines = [json.loads(line) for line in text.splitlines()
             if line.startswith("{")]
    about = [line for line in lines if line.get("stack") == "doomed"]
    assert about, text
    assert {line["action"] for line in about} == {"CREATE"}
    assert all(line["traversal"] and line["stack_id"] for line in about)
    # the line that says which conductor took the job names it too
    assert any(line["message"].startswith("conductor %s runs job" % name)
               for line in about), text
    assert any(line.get("resource") == "t" or "t" in line["message"]
               for line in about)


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as reply:
        return reply.read().decode()


class _LostRow:
    """A store that refuses every write: the run lost the row."""

    def update_resource(self, *args, **kwargs):
        return False

    resource_data_set = update_resource

    def resource_data(self, row_id):
        return {}


def test_writes_of_a_fenced_run_are_counted():
    from heatflow.flows import driver
    row = type("Row", (), {"id": 1, "physical_resource_id": None,
                           "physical_name": "x"})()
    storage = driver.DbStorage(_LostRow(), row, fence=None)
    before = sample(metrics.REGISTRY, "heatflow_fenced_writes_refused_total")
    for write in (lambda: storage.set_resource_id("i-1"),
                  lambda: storage.data_set("k", "v")):
        with pytest.raises(exception.Superseded):
            write()
    assert sample(metrics.REGISTRY,
                  "heatflow_fenced_writes_refused_total") == before + 2
