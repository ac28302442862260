"""How often a slow resource action is polled: one configuration per
process.

    python bench/bench_polling.py [--secs 30] [--n 3] [--repeat 1]

A real resource action is seconds of waiting on a cloud API, and every
``check_<action>_complete`` is a request to it.  One stack of ``2n``
independent resources whose creates each complete ``--secs`` after their
handler (wall time; no worker sleeps in a plugin): ``n`` of
``HeatflowBench::Timed``, polled on the engine's back-off, and ``n`` of
``HeatflowBench::TimedDelay``, which raises ``resource.PollDelay`` for the
time left (left out on code without PollDelay).  They run side by side, so
the run takes about ``--secs``.

Prints JSON lines: ``{"machine": ...}``, then per repetition and type
``{"bench": "polling", "type", "n", "secs", "checks_per_res",
"max_checks_per_res", "late_s" (median time from a create being done to
the poll that saw it), "wall_s", "ok"}``.  Exits 2 when the create did
not end CREATE_COMPLETE.
"""

import argparse
import os
import shutil
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(1, os.path.dirname(BENCH))

import common  # noqa: E402


def run_rep(args, rep, workdir):
    import heatflow
    from heatflow import resource
    types = [common.TIMED_TYPE]
    if hasattr(resource, "PollDelay"):
        types.append(common.TIMED_DELAY_TYPE)
    url = "sqlite:///" + os.path.join(workdir, "rep%d.db" % rep)
    resources = {}
    for t in types:
        for i in range(args.n):
            resources["%s_%d" % (t.split("::")[-1].lower(), i)] = {
                "type": t}
    tmpl = {"heat_template_version": "2018-08-31", "resources": resources}
    out = []
    with heatflow.Orchestrator(url, max_workers=args.workers) as orch:
        common.register_plugins(orch, create_secs=args.secs)
        common.CHECKS.reset()
        with common.Timer() as t:
            stack = orch.create_stack("polling", tmpl).wait(
                timeout=args.secs * 3 + 60)
        ok = stack.stack_status == "CREATE_COMPLETE"
        checks = common.CHECKS.snapshot()
        for rtype in types:
            c = checks.get(rtype, {"checks": 0, "late_s": [],
                                   "max_per_res": 0})
            res = {"bench": "polling", "type": rtype, "n": args.n,
                   "secs": args.secs, "rep": rep, "wall_s": t.secs,
                   "checks_per_res": c["checks"] / args.n,
                   "max_checks_per_res": c["max_per_res"],
                   "late_s": common.median(c["late_s"]),
                   "status": stack.stack_status, "ok": ok}
            common.print_json(res)
            out.append(res)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--secs", type=float, default=30.0,
                    help="seconds each create takes")
    ap.add_argument("--n", type=int, default=3,
                    help="resources of each type")
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    common.print_json({"machine": common.machine()})
    workdir = tempfile.mkdtemp(prefix="heatflow-bench-polling-")
    ok = True
    try:
        for rep in range(args.repeat):
            for res in run_rep(args, rep, workdir):
                ok = ok and res["ok"]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
