"""What nesting costs: N resources as one nested stack (a template
resource, or an ``OS::Heat::ResourceGroup`` of N members when that type is
registered) against the same N resources at the top level.

    python bench/bench_nested.py                  # N = 1,000, K = 3
    python bench/bench_nested.py -n 200 -k 5 --kind template

Both run in this process, alternating, on one Orchestrator (SQLite file
in a temporary directory), so they share the machine's noise; each
repetition creates and then deletes its stack.  Issue 19's budget: the
nested create within 1.5 times the top-level one.  Prints one JSON record
per measurement and a summary (medians, the median of the per-repetition
ratios), and writes them under bench/results/.
"""

import argparse
import datetime
import json
import os
import sys
import tempfile
import time

import yaml

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common  # noqa: E402


def flat(n):
    return common.template("independent", n)


def nested(n, kind):
    """The stack holding the N resources one level down, and its files."""
    if kind == "group":
        return ({"heat_template_version": "2018-08-31", "resources": {
            "group": {"type": "OS::Heat::ResourceGroup", "properties": {
                "count": n, "resource_def": {"type": common.NONE_TYPE}}}}},
                {})
    return ({"heat_template_version": "2018-08-31", "resources": {
        "members": {"type": "members.yaml"}}},
        {"members.yaml": yaml.safe_dump(flat(n))})


def timed(orch, name, template, files):
    t0 = time.perf_counter()
    stack = orch.create_stack(name, template, files=files).wait(3600)
    create = time.perf_counter() - t0
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    t0 = time.perf_counter()
    orch.delete_stack(name).wait(3600)
    delete = time.perf_counter() - t0
    return create, delete


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--kind", choices=("auto", "group", "template"),
                        default="auto")
    args = parser.parse_args(argv)
    import heatflow
    tmp = tempfile.mkdtemp(prefix="heatflow-bench-nested-")
    orch = heatflow.Orchestrator("sqlite:///" + os.path.join(tmp, "b.db"))
    kind = args.kind
    if kind == "auto":
        kind = "group" if "OS::Heat::ResourceGroup" in \
            orch.registry.types() else "template"
    records = []
    try:
        for rep in range(args.k):
            top = timed(orch, "top%d" % rep, flat(args.n), {})
            tmpl, files = nested(args.n, kind)
            low = timed(orch, "nested%d" % rep, tmpl, files)
            for shape, (create, delete) in (("top", top), (kind, low)):
                rec = {"bench": "nested", "n": args.n, "rep": rep,
                       "shape": shape, "create_s": round(create, 3),
                       "delete_s": round(delete, 3)}
                records.append(rec)
                common.print_json(rec)
    finally:
        orch.close()

    def med(shape, key):
        return common.median([r[key] for r in records
                              if r["shape"] == shape])
    ratios = {}
    for key in ("create_s", "delete_s"):
        tops = [r[key] for r in records if r["shape"] == "top"]
        lows = [r[key] for r in records if r["shape"] == kind]
        ratios[key] = round(common.median(
            [b / a for a, b in zip(tops, lows)]), 3)
    summary = {"bench": "nested-summary", "n": args.n, "k": args.k,
               "kind": kind,
               "top_create_s": med("top", "create_s"),
               "nested_create_s": med(kind, "create_s"),
               "top_delete_s": med("top", "delete_s"),
               "nested_delete_s": med(kind, "delete_s"),
               "ratio_create": ratios["create_s"],
               "ratio_delete": ratios["delete_s"],
               "budget_create": 1.5, "machine": common.machine()}
    common.print_json(summary)
    out = os.path.join(BENCH, "results", "nested-%s.json" % (
        datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y%m%d-%H%M%S")))
    with open(out, "w") as f:
        json.dump({"records": records, "summary": summary}, f, indent=1,
                  default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
