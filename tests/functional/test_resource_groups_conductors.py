"""A rolling update of an OS::Heat::ResourceGroup on conductors (real
ZooKeeper and PostgreSQL) whose owner is killed half way: the group's
batches carry on from where they were on another conductor, and every
member ends on the new definition, updated once in place, with nothing
duplicated or leaked."""

import collections
import time

import pytest

from tests.functional import cluster as cluster_mod
from tests.functional import test_conductor
from tests.functional import test_resource_groups as groups


@pytest.fixture
def cluster(pg_url, zk_hosts, zk_path, zk_client, cloud, tmp_path):
    yield from cluster_mod.running(pg_url, zk_hosts, zk_path, zk_client,
                                   tmp_path)


@pytest.mark.parametrize("victim", ["parent", "child"])
def test_rolling_update_survives_its_conductor(cluster, cloud, victim):
    orch = cluster.orch
    stack = orch.create_stack("s", groups.hot(
        {"g": groups.group(4)}, groups.OUTPUTS)).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", cluster.logs()
    refs = stack.outputs["refs"]
    rolled = dict(groups.group(4, name="v2-%index%"),
                  update_policy={"rolling_update": {"max_batch_size": 1}})
    rolled["properties"]["resource_def"]["properties"]["delay"] = 0.3
    orch.update_stack("s", groups.hot({"g": rolled}, groups.OUTPUTS))

    def updated():
        return [j for j in cloud.journal() if j["event"] == "update"]
    end = time.time() + 30
    while len(updated()) < 1 and time.time() < end:
        time.sleep(0.02)
    child = orch.db.store.get_stack_by_id(groups.child_of(orch, "s", "g"))
    owner = cluster.wait_owner("s" if victim == "parent" else child.name)
    cluster.kill(owner)
    assert len(updated()) < 4, "the update ended before the kill"
    cluster.start_conductor()

    stack = test_conductor.settle(orch, "s", timeout=90)
    assert stack.stack_status == "UPDATE_COMPLETE", cluster.logs()
    assert stack.outputs["refs"] == refs
    assert stack.outputs["names"] == ["v2-%d" % i for i in range(4)]
    assert groups.living(cloud) == {
        ref: "v2-%d" % i for i, ref in enumerate(refs)}
    # Each member was brought to v2 by one update (a batch resumed is
    # the same template again: nothing is changed twice).
    times = collections.Counter(j["id"] for j in updated())
    assert set(times) == set(refs) and max(times.values()) == 1, times
