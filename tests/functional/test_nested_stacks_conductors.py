"""Nested stacks on conductors (real ZooKeeper and PostgreSQL, real
processes killed): a child stack's operation is a job of its own, claimed
by any conductor; when the conductor running it (or its parent's) dies,
another takes it over and the tree converges, nothing duplicated or
leaked."""

import collections

import pytest
import yaml

from tests.functional import cluster as cluster_mod
from tests.functional.test_conductor import settle, wait_for

CHILD = {
    "heat_template_version": "2018-08-31",
    "parameters": {"label": {"type": "string"}},
    "resources": {
        "c%d" % i: {"type": "Test::Thing", "properties": {
            "name": {"list_join": ["-", [{"get_param": "label"}, str(i)]]},
            "delay": 0.4, "delete_delay": 0.2}}
        for i in range(3)},
    "outputs": {"first": {"value": {"get_attr": ["c0", "name"]}}},
}
FILES = {"child.yaml": yaml.safe_dump(CHILD)}


def tree(labels=("x", "y")):
    resources = {"n_" + label: {"type": "child.yaml",
                                "properties": {"label": label}}
                 for label in labels}
    return {"heat_template_version": "2018-08-31", "resources": resources,
            "outputs": {"firsts": {"value": [
                {"get_attr": ["n_" + label, "first"]}
                for label in labels]}}}


@pytest.fixture
def cluster(pg_url, zk_hosts, zk_path, zk_client, cloud, tmp_path):
    yield from cluster_mod.running(pg_url, zk_hosts, zk_path, zk_client,
                                   tmp_path)


def _children(orch):
    return [s for s in orch.list_stacks(nested=True) if s.parent]


def _exactly_once(cloud, expected):
    names = collections.Counter(p["name"] for p in cloud.reality().values())
    assert names == collections.Counter(expected), names


@pytest.mark.parametrize("victim", ["child", "parent"])
def test_a_killed_conductor_leaves_a_tree_that_converges(cluster, cloud,
                                                         victim):
    orch = cluster.orch
    orch.create_stack("s", tree(), files=FILES)
    # Kill the conductor running a child stack's create (or the parent's)
    # while the child is half made.
    wait_for(lambda: len(_children(orch)) == 2 and any(
        j["event"] == "create" for j in cloud.journal()),
        what="a child stack under way")
    child = _children(orch)[0]
    name = child.name if victim == "child" else "s"
    owner = cluster.wait_owner(name)
    cluster.kill(owner)
    cluster.start_conductor()
    final = settle(orch, "s", timeout=90)
    assert final.stack_status == "CREATE_COMPLETE", (final,
                                                     cluster.logs())
    assert final.outputs == {"firsts": ["x-0", "y-0"]}
    _exactly_once(cloud, ["x-0", "x-1", "x-2", "y-0", "y-1", "y-2"])
    assert all(c.stack_status == "CREATE_COMPLETE"
               for c in _children(orch))
    orch.delete_stack("s")
    assert settle(orch, "s", timeout=90) is None
    assert cloud.reality() == {}
    assert orch.list_stacks(nested=True) == []


def test_child_stacks_run_on_several_conductors(cluster, cloud):
    # Six jobs (the parent and five children, each child about 1.2 s)
    # and four at a time per conductor: the second conductor claims some.
    cluster.audit_writes()
    orch = cluster.orch
    stack = orch.create_stack("s", tree("abcde"), files=FILES).wait(90)
    assert stack.stack_status == "CREATE_COMPLETE", cluster.logs()
    writers = [name for name in cluster.procs
               if any(table == "hf_resources"
                      for _, table, _ in cluster.writes(name))]
    assert len(writers) == 2, writers
