"""How long a ``heatflow`` command takes to start, in fresh processes.

    python bench/bench_startup.py                  # 15 runs of each
    python bench/bench_startup.py --runs 30
    python bench/bench_startup.py --python /before/bin/python \
        --python /after/bin/python             # a before and after

Each command is run ``--runs`` times as ``python -m heatflow ...`` in a new
process (after one uncounted warm-up run each, which also writes the
bytecode caches); the runs of the commands are interleaved, so that all
share the machine's noise.  Wall time from fork to exit, median and
minimum.  The floor is ``python -c "import sqlalchemy"``: a command that
reads the database imports at least that.

Commands: ``--help``; ``stack list`` on an empty SQLite database (the file
migrated, no stacks), on a database file that is not there (an empty one
stands in, in memory), and on one with 20 stacks; ``stack show`` of one of
those; ``template validate`` (no database).

``--python`` (repeatable): the interpreters to measure (default: this
one), e.g. virtualenvs with two versions of heatflow installed; their runs
are interleaved too, and the table gives each one's medians and, for two,
the ratio of the second's to the first's.  Results go to
``bench/results/startup-<timestamp>.json``.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common  # noqa: E402

STACKS = 20

TEMPLATE = """heat_template_version: 2018-08-31
parameters:
  size: {type: number, default: 3}
resources:
  a: {type: OS::Heat::None}
  b: {type: OS::Heat::None, depends_on: a}
outputs:
  first: {value: {get_resource: a}}
"""

# Run by the measured interpreter: make the databases it will read.
SETUP = """
import sys
import heatflow
empty, full, template, n = sys.argv[1:5]
heatflow.upgrade_database(empty)
with heatflow.Orchestrator(full) as orch:
    ops = [orch.create_stack("s%02d" % i, template) for i in range(int(n))]
    for op in ops:
        assert op.wait(300).stack_status == "CREATE_COMPLETE"
"""


def commands(python, tmp):
    """(label, argv) of every command measured."""
    empty = "sqlite:///" + os.path.join(tmp, "empty.db")
    missing = "sqlite:///" + os.path.join(tmp, "missing", "none.db")
    full = "sqlite:///" + os.path.join(tmp, "full.db")
    template = os.path.join(tmp, "t.yaml")
    hf = [python, "-m", "heatflow"]
    return [
        ('python -c "import sqlalchemy" (floor)',
         [python, "-c", "import sqlalchemy"]),
        ("heatflow --help", hf + ["--help"]),
        ("stack list, empty database", hf + ["--db-url", empty, "stack",
                                             "list"]),
        ("stack list, no database file", hf + ["--db-url", missing,
                                               "stack", "list"]),
        ("stack list, %d stacks" % STACKS, hf + ["--db-url", full, "stack",
                                                 "list"]),
        ("stack show, %d stacks" % STACKS, hf + ["--db-url", full, "stack",
                                                 "show", "s07"]),
        ("template validate", hf + ["template", "validate", "-t", template]),
    ], (empty, full, template)


def run_once(argv, env, cwd):
    """Seconds ``argv`` took.  ``cwd``: not a source tree (``python -m``
    would import heatflow from it)."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env=env,
                          timeout=120, cwd=cwd)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError("%s: exit status %d: %s" % (
            " ".join(argv), proc.returncode, proc.stderr.strip()))
    return took


def table(pythons, rows):
    """reStructuredText, as docs/performance.rst quotes it: per command,
    each interpreter's median and minimum, its median over its floor's,
    and for two interpreters the second's median over the first's."""
    head = ["command"]
    for i, _ in enumerate(pythons):
        tag = " [%d]" % (i + 1) if len(pythons) > 1 else ""
        head += ["median s" + tag, "min s" + tag, "/ floor" + tag]
    if len(pythons) == 2:
        head.append("[2] / [1]")
    body = []
    for label in dict.fromkeys(r["label"] for r in rows):
        mine = [r for r in rows if r["label"] == label]
        line = [label]
        for r in mine:
            floor = next(f for f in rows if f["python"] == r["python"])
            line += ["%.3f" % r["median"], "%.3f" % r["min"],
                     "%.2f" % (r["median"] / floor["median"])]
        if len(pythons) == 2:
            line.append("%.2f" % (mine[1]["median"] / mine[0]["median"]))
        body.append(line)
    widths = [max(len(x[i]) for x in [head] + body)
              for i in range(len(head))]
    rule = "  ".join("=" * w for w in widths)

    def fmt(row):
        return "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
    return "\n".join([rule, fmt(head), rule] + [fmt(r) for r in body] +
                     [rule])


def heatflow_from(python):
    return subprocess.run(
        [python, "-c", "import heatflow, os; "
         "print(os.path.dirname(os.path.dirname(heatflow.__file__)))"],
        capture_output=True, text=True, cwd="/").stdout.strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", action="append",
                        help="an interpreter to measure (repeatable; "
                             "default: this one)")
    args = parser.parse_args(argv)
    pythons = args.python or [sys.executable]
    started = datetime.datetime.now(datetime.timezone.utc)
    env = dict(os.environ)
    # Nothing of the caller's may steer the commands.
    for name in ("HEATFLOW_DB_URL", "HEATFLOW_ZOOKEEPER",
                 "HEATFLOW_ENCRYPTION_KEY", "PYTHONPROFILEIMPORTTIME"):
        env.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="heatflow-startup-") as top:
        cmds = []               # (python, label, argv)
        for i, python in enumerate(pythons):
            tmp = os.path.join(top, str(i))
            os.mkdir(tmp)
            mine, (empty, full, template) = commands(python, tmp)
            with open(template, "w") as f:
                f.write(TEMPLATE)
            subprocess.run([python, "-c", SETUP, empty, full, template,
                            str(STACKS)], check=True, env=env, timeout=600,
                           cwd=tmp)
            cmds += [(python, label, a) for label, a in mine]
        times = {(p, label): [] for p, label, _ in cmds}
        for _, _, a in cmds:                # warm-up: bytecode, disk cache
            run_once(a, env, top)
        for _ in range(args.runs):
            for p, label, a in cmds:
                times[p, label].append(run_once(a, env, top))
    rows = [{"python": p, "label": label, "argv": a[1:],
             "times": times[p, label],
             "median": common.median(times[p, label]),
             "min": min(times[p, label])} for p, label, a in cmds]
    results = {"started": started.isoformat(), "runs": args.runs,
               "pythons": [{"python": p, "heatflow_from": heatflow_from(p)}
                           for p in pythons],
               "machine": common.machine(), "rows": rows}
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    path = os.path.join(BENCH, "results", "startup-%s.json" %
                        started.strftime("%Y%m%dT%H%M%SZ"))
    with open(path, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True, default=str)
    m = results["machine"]
    print("heatflow start-up, %d runs each; %s cores, load %s, git %s"
          % (args.runs, m.get("cores"), m.get("loadavg"), m.get("git")))
    for i, p in enumerate(results["pythons"]):
        print("[%d] %s: heatflow from %s" % (i + 1, p["python"],
                                             p["heatflow_from"]))
    print()
    print(table(pythons, rows))
    print()
    print("raw results: %s" % os.path.relpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
