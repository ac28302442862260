"""Run every budget's benchmarks and print a table per budget.

    python bench/run_all.py                 # K=3 runs, N = 100 and 1,000
    python bench/run_all.py --quick         # 1 run, N = 50 and 200
    python bench/run_all.py --big           # also N = 10,000 (slow)
    python bench/run_all.py --budgets 1,4 --repeat 5
    python bench/run_all.py --db postgresql # budgets 1-3 on PostgreSQL too
    python bench/run_all.py --report bench/results/<stamp>.json

Each configuration runs in a fresh subprocess (bench_engine.py,
bench_resume.py, bench_polling.py) with a time limit, so peak RSS is per
configuration and a stuck run is stopped (SIGTERM, then SIGKILL of its
process group).  Where a budget is a ratio to raw TaskFlow,
bench_engine.py ``--baseline`` alternates raw TaskFlow and heatflow in the
same process, so both share the noise; the ratio is reported as the
median of the per-repetition ratios.  Raw results go to
``bench/results/<timestamp>.json``; ``--report`` prints the tables of a
saved file again.  Tables are reStructuredText, ready for
docs/performance.rst.  Exit status 0 whatever the verdicts (these are
benchmarks, not tests), 2 if a configuration failed to run.
"""

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common  # noqa: E402

STMT_BUDGET = {"create": 10, "update": 8, "replace": 16, "delete": 6}
FLAT_BUDGET = 1.2
RSS_BUDGET_MB = 500
CONC_BUDGET = 1.5
RESUME_BUDGET_S = 2.0
POLL_BUDGET = 12          # checks of an action that completes after 30 s
POLL_SECS = 30.0
OPS4 = "create,update,replace,delete"


def run_config(argv, timeout, log):
    """Run one benchmark subprocess; returns its JSON records."""
    cmd = [sys.executable] + argv
    log("$ " + " ".join(argv))
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    records, timed_out = [], False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(proc)
        out, _ = proc.communicate()
    except BaseException:
        _stop(proc)
        raise
    for line in (out or "").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                pass
    status = {"argv": argv, "returncode": proc.returncode,
              "timed_out": timed_out, "secs": time.monotonic() - t0}
    log("  -> rc=%s%s in %.0f s" % (
        proc.returncode, " (TIMED OUT)" if timed_out else "",
        status["secs"]))
    return status, records


def _stop(proc):
    """SIGTERM the run's process group (the run stops its servers), then
    SIGKILL what is left."""
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def plan(args):
    """[(budget tags, argv)] of the configurations to run."""
    k = str(args.repeat)
    small, mid = (50, 200) if args.quick else (100, 1000)
    sizes = [small, mid] + ([10000] if args.big else [])
    engine = os.path.join(BENCH, "bench_engine.py")
    out = []
    budgets = args.budgets
    dbs = args.db
    for db in dbs:
        if budgets & {1, 2, 3}:
            for shape in args.shapes:
                for n in sizes:
                    if shape != "layered" and not budgets & {3}:
                        continue
                    if n == 10000 and not budgets & {2, 3}:
                        continue
                    # The 10,000 runs are long: create and delete once,
                    # without the statement listener; layered also all four
                    # operations once more, counted (budget 2).
                    big = n == 10000
                    ops = OPS4 if not big or shape == "layered" \
                        else "create,delete"
                    repeat = k
                    if big:
                        repeat = "2" if shape == "layered" else "1"
                    argv = [engine, "--shape", shape, "--n", str(n),
                            "--db", db, "--ops", ops, "--repeat", repeat,
                            "--timeout", str(args.timeout)]
                    if big and shape != "layered":
                        argv += ["--count", "none"]
                    if shape == "layered" and n == mid:
                        argv.append("--baseline")
                    out.append(({1, 2, 3}, argv))
    if 4 in budgets:
        # The plugin left to the engine's back-off, and one that says when
        # its wait ends (resource.PollDelay), as OS::Heat::TestResource
        # does.
        for rtype in ("timed", "timed-delay"):
            out.append(({4}, [engine, "--shape", "independent", "--n",
                              "200", "--db", "sqlite", "--type", rtype,
                              "--create-secs", "0.05", "--workers", "32",
                              "--ops", "create", "--repeat", k,
                              "--baseline", "--timeout",
                              str(args.timeout)]))
    if 5 in budgets:
        out.append(({5}, [os.path.join(BENCH, "bench_resume.py"),
                          "--n", str(mid), "--repeat", k,
                          "--timeout", str(args.timeout)]))
    if 6 in budgets:
        # Once: the actions run side by side, so a run is about 30 s.
        out.append(({6}, [os.path.join(BENCH, "bench_polling.py"),
                          "--secs", str(POLL_SECS), "--n", "3",
                          "--repeat", "1"]))
    return out


# -- tables -------------------------------------------------------------------

def rst_table(header, rows):
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    sep = "  ".join("=" * w for w in widths)
    lines = [sep, "  ".join(c.ljust(w) for c, w in zip(cells[0], widths)),
             sep]
    for r in cells[1:]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    lines.append(sep)
    return "\n".join(lines)


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return "%.2f" % v
    return str(v)


def _verdict(value, budget):
    if value is None:
        return "not run"
    return "PASS" if value <= budget else "FAIL"


def _sel(records, **kw):
    return [r for r in records
            if all(r.get(k) == v for k, v in kw.items())]


def _counted(records):
    """The records whose statements were counted (results written before
    the field existed were all counted)."""
    return [r for r in records if r.get("counted", True)]


def _timing(records):
    """The records to take times from: those run without the statement
    listener (which slows an operation by 5-15%), else all."""
    plain = [r for r in records if not r.get("counted", True)]
    return plain or records


def _med(records, key):
    return common.median([r.get(key) for r in records])


def _range(records, key):
    lo, hi = common.spread([r.get(key) for r in records])
    if lo is None:
        return "-"
    return "%s-%s" % (_fmt(lo), _fmt(hi))


def tables(results):
    recs = [r for run in results["runs"] for r in run["records"]]
    hf = [r for r in recs if r.get("bench") == "heatflow"]
    tf = [r for r in recs if r.get("bench") == "taskflow"]
    out = []
    for db in sorted({r["db"] for r in hf}):
        out += _tables_db(db, [r for r in hf if r["db"] == db], tf)
    out += _table_concurrency(hf, tf)
    out += _table_resume([r for r in recs if r.get("bench") == "resume"])
    out += _table_polling([r for r in recs if r.get("bench") == "polling"])
    skipped = [r for r in recs if "skipped" in r]
    for s in skipped:
        out.append(("Skipped", "%s: %s" % (s.get("db"), s["skipped"])))
    return out


def _tables_db(db, hf, tf):
    out = []
    none = [r for r in hf if r.get("type") == "none"]
    sizes = sorted({r["n"] for r in none})
    if not sizes:
        return out
    mid = 1000 if 1000 in sizes else sizes[min(1, len(sizes) - 1)]
    # Budget 1: the ratio to raw TaskFlow, pairs from the same process.
    lay = _sel(none, shape="layered", n=mid)
    base = [r for r in tf if r["shape"] == "layered" and r["n"] == mid
            and not r.get("sleep")]
    rows = []
    if lay:
        creates = _timing(_sel(lay, op="create"))
        ratios = []
        for c in creates:
            b = [t for t in base if t["rep"] == c["rep"]
                 and t.get("_run") == c.get("_run")]
            if b:
                ratios.append(c["wall_s"] / b[0]["total_s"])
        ratio = common.median(ratios)
        rows.append(("create / raw TaskFlow (ratio)", ratio,
                     _fmt(common.spread(ratios)[0]) + "-" +
                     _fmt(common.spread(ratios)[1]) if ratios else "-",
                     "<= 1.0", _verdict(ratio, 1.0)))
        rows.append(("heatflow create (s)", _med(creates, "wall_s"),
                     _range(creates, "wall_s"), "", ""))
        if base:
            bsel = [t for t in base if any(t.get("_run") == c.get("_run")
                                           for c in creates)]
            rows.append(("raw TaskFlow, no persistence (s)",
                         _med(bsel, "total_s"), _range(bsel, "total_s"),
                         "", ""))
        for op in ("update", "replace", "delete"):
            sel = _timing(_sel(lay, op=op))
            if sel:
                label = {"update": "update in place (s)",
                         "replace": "replacement (s)",
                         "delete": "delete (s)"}[op]
                rows.append((label, _med(sel, "wall_s"),
                             _range(sel, "wall_s"), "report", ""))
        out.append(("Budget 1: %d layered resources, %s" % (mid, db),
                    rst_table(("figure", "median", "range", "budget",
                               "verdict"), rows)))
    # Budget 2: statements per resource.
    rows = []
    for n in sizes:
        for op in ("create", "update", "replace", "delete"):
            sel = _counted(_sel(none, shape="layered", n=n, op=op))
            if not sel:
                continue
            v = _med(sel, "stmts_per_res")
            rows.append((n, op, v, _med(sel, "tf_stmts_per_res"),
                         _med(sel, "hf_stmts_per_res"),
                         _med(sel, "commits_per_res"), STMT_BUDGET[op],
                         _verdict(v, STMT_BUDGET[op])))
    if rows:
        out.append(("Budget 2: SQL statements per resource (layered), %s"
                    % db, rst_table(("N", "op", "stmts/res", "TaskFlow",
                                     "heatflow", "commits/res", "budget",
                                     "verdict"), rows)))
    # Budget 3: per-resource time by N, and the flatness ratio.
    rows = []
    big = max(sizes)
    ref = 1000 if big == 10000 else sizes[-2] if len(sizes) > 1 else big
    for shape in common.SHAPES:
        for op in ("create", "update", "replace", "delete"):
            # Times of runs without the statement listener, at every N.
            per = {n: _med(_timing(_sel(none, shape=shape, n=n, op=op)),
                           "per_res_ms") for n in sizes}
            if all(v is None for v in per.values()):
                continue
            ratio = None
            if per.get(big) is not None and per.get(ref) and big != ref:
                ratio = per[big] / per[ref]
            budgeted = op in ("create", "delete")
            verdict = ""
            if budgeted:
                verdict = _verdict(ratio, FLAT_BUDGET) if big == 10000 \
                    else "(%d/%d; 10,000 not run)" % (big, ref) \
                    if ratio is not None else "not run"
            rows.append([shape, op] + [per[n] for n in sizes] +
                        [ratio, "<= 1.2" if budgeted else "report",
                         verdict])
    if rows:
        out.append(("Budget 3: milliseconds per resource, %s" % db,
                    rst_table(["shape", "op"] + ["N=%d" % n for n in sizes]
                              + ["ratio %d/%d" % (big, ref), "budget",
                                 "verdict"], rows)))
    rows = []
    for shape in common.SHAPES:
        for n in sizes:
            sel = _sel(none, shape=shape, n=n)
            if sel:
                v = max(r["peak_rss_mb"] for r in sel)
                rows.append((shape, n, v,
                             "<= %d" % RSS_BUDGET_MB if n == 10000 else "",
                             _verdict(v, RSS_BUDGET_MB) if n == 10000
                             else ""))
    if rows:
        out.append(("Budget 3: peak RSS (MB) of the run's process, %s" % db,
                    rst_table(("shape", "N", "peak RSS MB", "budget",
                               "verdict"), rows)))
    return out


def _table_concurrency(hf, tf):
    timed = [r for r in hf if r.get("type") in ("timed", "timed-delay")
             and r["op"] == "create"]
    if not timed:
        return []
    n, workers = timed[0]["n"], timed[0]["workers"]
    ideal = common.ideal_time(timed[0]["shape"], n, 0.05, workers)
    rows = []
    for rtype, label in (("timed", "polled on the back-off"),
                         ("timed-delay", "plugin raises PollDelay")):
        sel = _timing([r for r in timed if r["type"] == rtype])
        if not sel:
            continue
        wall = _med(sel, "wall_s")
        rows += [("%s: heatflow wall time (s)" % label, wall,
                  _range(sel, "wall_s"), "", ""),
                 ("%s: heatflow / ideal (%.2f s)" % (label, ideal),
                  wall / ideal, "", "<= %.1f" % CONC_BUDGET,
                  _verdict(wall / ideal, CONC_BUDGET)),
                 ("%s: checks per resource" % label,
                  _med(sel, "checks_per_res"),
                  _range(sel, "checks_per_res"), "report", "")]
        # Raw TaskFlow ran beside each of this type's runs.
        runs = {r.get("_run") for r in sel}
        base = [t for t in tf if t.get("sleep") and t.get("_run") in runs]
        if base:
            rows.append(("%s: raw TaskFlow beside it, sleeping tasks, no "
                         "persistence (s)" % label, _med(base, "total_s"),
                         _range(base, "total_s"), "", ""))
    return [("Budget 4: %d independent x 50 ms creates, %d workers, sqlite"
             % (n, workers),
             rst_table(("figure", "median", "range", "budget", "verdict"),
                       rows))]


def _table_polling(recs):
    if not recs:
        return []
    rows = []
    for rtype, label in (("HeatflowBench::Timed", "polled on the back-off"),
                         ("HeatflowBench::TimedDelay",
                          "plugin raises PollDelay")):
        sel = [r for r in recs if r["type"] == rtype]
        if not sel:
            continue
        worst = max(r["max_checks_per_res"] for r in sel)
        rows += [("%s: checks per resource, most" % label, worst,
                  _range(sel, "max_checks_per_res"),
                  "<= %d" % POLL_BUDGET, _verdict(worst, POLL_BUDGET)),
                 ("%s: completion seen late by (s)" % label,
                  _med(sel, "late_s"), _range(sel, "late_s"), "report",
                  "")]
    r0 = recs[0]
    return [("Budget 6: polls of %d creates of %g s each, side by side"
             % (r0["n"] * len({r["type"] for r in recs}), r0["secs"]),
             rst_table(("figure", "median", "range", "budget", "verdict"),
                       rows))]


def _table_resume(recs):
    # (a repetition that could not kill the create midway measured nothing)
    recs = [r for r in recs if "error" not in r]
    if not recs:
        return []
    v = _med(recs, "first_action_s")
    rows = [("constructor (resume_orphans) (s)", _med(recs, "construct_s"),
             _range(recs, "construct_s"), "", ""),
            ("to first resource action (s)", v,
             _range(recs, "first_action_s"), "<= %.0f" % RESUME_BUDGET_S,
             _verdict(v, RESUME_BUDGET_S)),
            ("to first resource completed (s)",
             _med(recs, "first_complete_s"),
             _range(recs, "first_complete_s"), "", ""),
            ("to CREATE_COMPLETE (s)", _med(recs, "finish_s"),
             _range(recs, "finish_s"), "", ""),
            ("resources done at the kill", _med(recs, "done_at_kill"), "",
             "", "")]
    return [("Budget 5: resume of a killed %d-resource create (sqlite, "
             "in-process)" % recs[0]["n"],
             rst_table(("figure", "median", "range", "budget", "verdict"),
                       rows))]


def print_tables(results):
    m = results.get("machine") or {}
    print("\nMachine: %s, %s cores, Python %s, SQLite %s, %s"
          % (m.get("cpu"), m.get("cores"), m.get("python"), m.get("sqlite"),
             ", ".join("%s %s" % kv for kv in sorted(
                 (m.get("packages") or {}).items()) if kv[1])))
    print("Runs: %s repetition(s); git %s; started %s" % (
        results.get("repeat"), m.get("git"), results.get("started")))
    for title, text in tables(results):
        print("\n" + title + "\n" + "-" * len(title) + "\n\n" + text)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs per configuration (default 3; --quick 1)")
    ap.add_argument("--quick", action="store_true",
                    help="1 run, N = 50 and 200")
    ap.add_argument("--big", action="store_true", help="also N = 10,000")
    ap.add_argument("--budgets", default="1,2,3,4,5,6")
    ap.add_argument("--shapes", default=",".join(common.SHAPES),
                    help="graph shapes of budgets 1-3 (layered is the one "
                    "budgets 1 and 2 use)")
    ap.add_argument("--db", default="sqlite",
                    help="comma-separated: sqlite, default, postgresql")
    ap.add_argument("--timeout", type=float, default=1800,
                    help="seconds per operation (a configuration gets "
                    "this times its runs)")
    ap.add_argument("--report", metavar="JSON",
                    help="print the tables of a saved results file")
    args = ap.parse_args(argv)
    if args.report:
        with open(args.report) as f:
            print_tables(json.load(f))
        return 0
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    args.budgets = {int(b) for b in args.budgets.split(",") if b}
    args.db = [d for d in args.db.split(",") if d]
    args.shapes = [s for s in args.shapes.split(",") if s]
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(BENCH, "results", stamp + ".json")
    results = {"started": stamp, "repeat": args.repeat,
               "argv": sys.argv[1:], "machine": common.machine(),
               "runs": []}

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    failed = False
    for i, (budgets, cfg) in enumerate(plan(args)):
        reps = int(cfg[cfg.index("--repeat") + 1])
        status, records = run_config(cfg, args.timeout * reps * 4 + 120,
                                     log)
        for r in records:
            r["_run"] = i
        status["budgets"] = sorted(budgets)
        status["records"] = records
        results["runs"].append(status)
        failed = failed or status["returncode"] not in (0,) or \
            status["timed_out"]
        with open(path, "w") as f:          # saved after every config
            json.dump(results, f, indent=1, default=str)
    print_tables(results)
    print("\nResults: %s" % os.path.relpath(path))
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
