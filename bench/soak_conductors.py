"""Soak: kill conductors at random moments, many times, and tally.

    python bench/soak_conductors.py [--trials 200] [--conductors 3] [--seed 1]

Starts its own ZooKeeper and PostgreSQL (tests/servers.py), then for each
trial: a stack operation (create, update with replacement, rollback of a
failed update, delete) on a cluster of real ``heatflow conductor``
processes, SIGKILL of the conductor running it after a random delay, a
replacement conductor, and a check of the test cloud: the final state is
the expected one, no physical resource leaked, none duplicated.  Prints one
line per trial and the tally; exits 1 if any trial went wrong.
"""

import argparse
import os
import random
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from tests import servers  # noqa: E402
from tests.functional import cluster as cluster_mod  # noqa: E402
from tests.functional import test_conductor as tc  # noqa: E402


def trial(cluster, cloud, kind, rnd, name):
    orch = cluster.orch
    expected = {"create": "CREATE_COMPLETE", "replace": "UPDATE_COMPLETE",
                "rollback": "ROLLBACK_COMPLETE", "delete": None}[kind]
    if kind == "create":
        orch.create_stack(name, tc.chain())
    else:
        orch.create_stack(name, tc.chain(delay=0)).wait(120)
        if kind == "replace":
            orch.update_stack(name, tc.chain(size=2))
        elif kind == "delete":
            orch.delete_stack(name)
        else:
            bad = tc.chain(size=2)
            bad["resources"]["a3"]["properties"]["fail"] = True
            orch.update_stack(name, bad, disable_rollback=False)
    owner = cluster.wait_owner(name)
    time.sleep(rnd.uniform(0.05, 1.2))
    cluster.kill(owner)
    cluster.start_conductor()
    final = tc.settle(orch, name, timeout=120)
    if expected is None:
        assert final is None, "not deleted: %s" % (final,)
    else:
        assert final.stack_status == expected, final.stack_status
        tc.check_reality(cluster, cloud, name)
        orch.delete_stack(name).wait(120)
    assert cloud.reality() == {}, "left behind: %s" % cloud.reality()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--conductors", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="heatflow-soak-")
    os.environ["HEATFLOW_TEST_CLOUD"] = os.path.join(work, "cloud")
    from tests.plugins import cloud
    zk, pg = servers.ZooKeeperServer(), servers.PostgresServer()
    zk.start()
    pg.start()
    rnd = random.Random(args.seed)
    tally = {"ok": 0, "wrong": 0}
    started = time.time()
    cluster = cluster_mod.Cluster(pg.create_database("soak"), zk.hosts,
                                  work, size=args.conductors)
    try:
        for i in range(args.trials):
            kind = ["create", "replace", "rollback", "delete"][i % 4]
            t0 = time.time()
            try:
                trial(cluster, cloud, kind, rnd, "soak%d" % i)
                tally["ok"] += 1
                verdict = "ok"
            except Exception as exc:
                tally["wrong"] += 1
                verdict = "WRONG: %s" % (exc,)
                traceback.print_exc()
            print("trial %3d %-8s %5.1f s  %s" % (i, kind, time.time() - t0,
                                                  verdict), flush=True)
    finally:
        cluster.close()
        pg.close()
        zk.close()
    print("%d trials in %.0f s: %d ok, %d wrong (leaks or duplicates "
          "included)" % (args.trials, time.time() - started, tally["ok"],
                         tally["wrong"]))
    return 1 if tally["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
