"""Two conductors share the work; one is killed mid-stack and the other
finishes it.

    python examples/conductor_cluster.py --db-url postgresql+psycopg2://... \
        --zookeeper 127.0.0.1:2181

Needs a running ZooKeeper and a database both conductors reach (PostgreSQL;
see docs/conductors.rst).  The conductors are real ``heatflow conductor``
processes; the one running the stack is SIGKILLed while a resource is
being created, and the other takes the job over once ZooKeeper has expired
the dead one's session, resuming where it stopped.
"""

import argparse
import signal
import subprocess
import sys
import time

from kazoo.client import KazooClient

import heatflow
from heatflow import jobs

SESSION_TIMEOUT = 3

TEMPLATE = {"heat_template_version": "2018-08-31", "resources": {
    "r%d" % i: {"type": "OS::Heat::TestResource",
                "properties": {"value": "step %d" % i,
                               "action_wait_secs": {"create": 1}},
                **({"depends_on": "r%d" % (i - 1)} if i else {})}
    for i in range(4)}}


def conductor(args, name):
    return subprocess.Popen(
        [sys.executable, "-m", "heatflow", "--db-url", args.db_url,
         "--zookeeper", args.zookeeper, "conductor", "--name", name,
         "--session-timeout", str(SESSION_TIMEOUT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def owner(zk, orch, stack):
    run = orch.db.store.find_stack(stack).run_token
    try:
        return zk.get(jobs.runs_path() + "/" + run)[0].decode()
    except Exception:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--zookeeper", required=True)
    args = parser.parse_args(argv)
    procs = {n: conductor(args, n) for n in ("alpha", "beta")}
    zk = KazooClient(args.zookeeper)
    zk.start()
    orch = heatflow.Orchestrator(args.db_url, zookeeper=args.zookeeper)
    try:
        op = orch.create_stack("cluster-demo", TEMPLATE)
        while owner(zk, orch, "cluster-demo") not in procs:
            time.sleep(0.05)
        time.sleep(1.5)
        victim = owner(zk, orch, "cluster-demo")
        print("conductor %s runs the stack; killing it" % victim)
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait()
        stack = op.wait(timeout=120)
        print("finished by %s: %s" % (
            [n for n in procs if n != victim][0], stack.stack_status))
        for r in orch.list_resources("cluster-demo"):
            print("  ", r.name, r.resource_status)
        orch.delete_stack("cluster-demo").wait(timeout=120)
        return stack
    finally:
        orch.close()
        zk.stop()
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.wait()


if __name__ == "__main__":
    main()
