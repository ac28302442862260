"""heatflow engine benchmark: one configuration per process.

    python bench/bench_engine.py --shape layered --n 1000 --db sqlite \
        --ops create,update,replace,delete [--repeat K] [--baseline]

For each repetition: a fresh database and Orchestrator, then the operations
in order on one stack of ``n`` resources:

- ``create``: the stack (``OS::Heat::None``, or ``--type timed``: a create
  that polls until ``--create-secs`` have passed; ``--type timed-delay``:
  the same from a plugin that raises ``resource.PollDelay`` for the time
  left);
- ``update``: every resource's properties change: an update in place;
- ``replace``: every resource's type changes (to a None-like type of
  another name): a replacement, originals deleted in clean-up;
- ``delete``: the stack.

Each operation is timed from the API call to ``.wait()`` returning
(validate, plan, build and compile the flow, run, record).  The SQL
statements it issued are counted on ``orch.db.engine`` by a
``before_cursor_execute`` listener (TaskFlow's persistence shares that
engine, so its statements are included) in the first repetition only
(``"counted": true``): the listener costs 5-15% of a create's time, so the
other repetitions run without it and are the ones to quote times from.
With ``--repeat 1`` the one repetition is counted and timed (``--count
none``: only timed).

``--baseline`` runs raw TaskFlow on the same graph (bench_taskflow.py)
before every heatflow create in the same process, so that the two share
the machine's noise.

Databases: ``sqlite`` is a SQLite file in a temporary directory (durable:
heatflow's WAL + synchronous=NORMAL); ``default`` is the embedded default
(``Orchestrator()`` with no URL, run in a temporary working directory);
``postgresql`` starts a private server (tests/servers.py) and is skipped
with a message when PostgreSQL is not installed.

Prints JSON lines: ``{"machine": ...}``, one line per operation and
repetition (``bench: heatflow``), one per baseline run (``bench:
taskflow``), and a ``{"peak_rss_mb": ...}`` summary.  The timed types'
records also give ``checks_per_res``, the ``check_create_complete`` calls
per resource, and ``late_ms``, how long after each create was done the
poll that saw it came (median).  Exits 2 when an
operation did not end ``*_COMPLETE``.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(1, os.path.dirname(BENCH))

import bench_taskflow  # noqa: E402
import common  # noqa: E402

OPS = ("create", "update", "replace", "delete")


class Skip(Exception):
    pass


class Databases:
    """Hands out a fresh database URL per repetition; cleans up."""

    def __init__(self, kind, workdir):
        self.kind = kind
        self.workdir = workdir
        self.pg = None
        self._old_cwd = None
        if kind == "postgresql":
            from tests import servers
            try:
                servers.find_pg_bin()
                self.pg = servers.PostgresServer(
                    base_dir=os.path.join(workdir, "pg"))
                self.pg.start()
            except servers.ServerUnavailable as e:
                self.close()
                raise Skip("PostgreSQL unavailable: %s" % e)

    def url(self, rep):
        if self.kind == "sqlite":
            return "sqlite:///" + os.path.join(self.workdir,
                                               "rep%d" % rep, "hf.db")
        if self.kind == "default":
            d = os.path.join(self.workdir, "rep%d" % rep)
            os.makedirs(d, exist_ok=True)
            if self._old_cwd is None:
                self._old_cwd = os.getcwd()
            os.chdir(d)
            return None
        if self.kind == "memory":
            return "sqlite://"
        name = "bench_%d_%s" % (rep, uuid.uuid4().hex[:8])
        return self.pg.create_database(name)

    def close(self):
        if self._old_cwd is not None:
            os.chdir(self._old_cwd)
        if self.pg is not None:
            self.pg.close()
            self.pg = None


TYPES = {"none": common.NONE_TYPE, "timed": common.TIMED_TYPE,
         "timed-delay": common.TIMED_DELAY_TYPE}


def _templates(args):
    base_type = TYPES[args.type]
    return {
        "create": common.template(args.shape, args.n, base_type,
                                  {"rev": 0}),
        "update": common.template(args.shape, args.n, base_type,
                                  {"rev": 1}),
        "replace": common.template(args.shape, args.n,
                                   common.ALT_NONE_TYPE, {"rev": 1}),
    }


EXPECT = {"create": "CREATE_COMPLETE", "update": "UPDATE_COMPLETE",
          "replace": "UPDATE_COMPLETE", "delete": "DELETE_COMPLETE"}


def _start(orch, op, tmpls, name):
    if op == "create":
        return orch.create_stack(name, tmpls["create"])
    if op in ("update", "replace"):
        return orch.update_stack(name, tmpls[op])
    if op == "delete":
        return orch.delete_stack(name)
    raise ValueError(op)


def _status(orch, name, op, stack):
    if stack is not None and getattr(stack, "stack_status", None):
        return stack.stack_status
    try:
        return orch.get_stack(name).stack_status
    except Exception as e:          # a deleted stack may be gone
        return "DELETE_COMPLETE" if op == "delete" else repr(e)


def run_rep(args, rep, dbs, baseline):
    import heatflow
    tmpls = _templates(args)
    ops = args.ops
    # create must come first; update/replace/delete need the stack.
    if ops and ops[0] != "create":
        ops = ["create"] + ops
    url = dbs.url(rep)
    results = []
    if baseline is not None:
        sleep = args.create_secs if args.type != "none" else 0
        res = baseline.run(args.shape, args.n, sleep)
        res.update(bench="taskflow", shape=args.shape, n=args.n,
                   engine=baseline.engine, workers=baseline.workers,
                   rep=rep, op="create", sleep=sleep)
        common.print_json(res)
        results.append(res)
    t0 = time.perf_counter()
    orch = heatflow.Orchestrator(url, max_workers=args.workers)
    open_s = time.perf_counter() - t0
    try:
        common.register_plugins(orch, create_secs=args.create_secs)
        counted = rep == 0 and args.count == "first"
        counter = common.StatementCounter(orch.db.engine) if counted \
            else None
        name = "bench"
        for op in ops:
            if counter is not None:
                counter.reset()
            common.CHECKS.reset()
            stack = None
            with common.Timer() as t:
                stack = _start(orch, op, tmpls, name).wait(
                    timeout=args.timeout)
            status = _status(orch, name, op, stack)
            res = {"bench": "heatflow", "db": args.db, "shape": args.shape,
                   "n": args.n, "type": args.type, "op": op, "rep": rep,
                   "workers": args.workers, "wall_s": t.secs,
                   "cpu_s": t.cpu, "per_res_ms": 1000.0 * t.secs / args.n,
                   "status": status, "ok": status == EXPECT[op],
                   "peak_rss_mb": common.peak_rss_mb(),
                   "open_s": open_s, "counted": counted}
            if counter is not None:
                res.update(common.split_counts(counter.snapshot(), args.n))
            checks = common.CHECKS.snapshot().get(TYPES[args.type])
            if checks and op == "create":
                res["checks_per_res"] = checks["checks"] / args.n
                res["late_ms"] = 1000 * common.median(checks["late_s"])
            common.print_json(res)
            results.append(res)
            if not res["ok"]:
                break
        if counter is not None:
            counter.close()
    finally:
        orch.close()
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=common.SHAPES, default="layered")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--db", choices=("sqlite", "default", "postgresql",
                                     "memory"), default="sqlite")
    ap.add_argument("--ops", default="create,update,replace,delete",
                    help="comma-separated, from %s" % ",".join(OPS))
    ap.add_argument("--type", choices=sorted(TYPES), default="none")
    ap.add_argument("--create-secs", type=float, default=0.05)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1,
                    help="repetitions, each on a fresh database")
    ap.add_argument("--count", choices=("first", "none"), default="first",
                    help="count statements in the first repetition, or in "
                    "none")
    ap.add_argument("--baseline", action="store_true",
                    help="raw TaskFlow before every heatflow create")
    ap.add_argument("--baseline-engine", choices=("parallel", "serial"),
                    default="parallel")
    ap.add_argument("--timeout", type=float, default=900,
                    help="seconds an operation may take")
    args = ap.parse_args(argv)
    args.ops = [o for o in args.ops.split(",") if o]
    bad = [o for o in args.ops if o not in OPS]
    if bad:
        ap.error("unknown ops: %s" % ", ".join(bad))
    # SIGTERM (the driver's timeout) stops us like Ctrl-C: servers stop.
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    common.print_json({"machine": common.machine()})
    workdir = tempfile.mkdtemp(prefix="heatflow-bench-")
    dbs = baseline = None
    ok = True
    try:
        try:
            dbs = Databases(args.db, workdir)
        except Skip as e:
            common.print_json({"skipped": str(e), "db": args.db})
            return 0
        from heatflow import resource
        if args.type == "timed-delay" and \
                not hasattr(resource, "PollDelay"):
            common.print_json({"skipped": "this heatflow has no "
                               "resource.PollDelay", "db": args.db})
            return 0
        if args.baseline:
            baseline = bench_taskflow.Baseline(args.workers,
                                               args.baseline_engine)
        for rep in range(args.repeat):
            for res in run_rep(args, rep, dbs, baseline):
                ok = ok and res.get("ok", True)
    finally:
        if baseline is not None:
            baseline.close()
        if dbs is not None:
            dbs.close()
        shutil.rmtree(workdir, ignore_errors=True)
    common.print_json({"peak_rss_mb": common.peak_rss_mb(), "ok": ok})
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
