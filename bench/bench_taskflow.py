"""Raw TaskFlow baseline: the same graph shapes as no-op tasks.

    python bench/bench_taskflow.py --shape layered --n 1000 \
        [--engine parallel|serial] [--workers 32] [--repeat 1] [--sleep 0]

No persistence at all (``backend=None``); ``graph_flow`` derives the edges
from each task's ``requires``/``provides``; the parallel engine gets a
caller-owned ``concurrent.futures.ThreadPoolExecutor`` (so it does not pay
futurist's ~1 s shutdown, docs/architecture.rst's TaskFlow facts).  The time
is taken from nothing to done -- build the tasks and the flow, load (which
compiles and prepares), run -- like a heatflow create, which also builds and
compiles its flow before it runs.  Prints one JSON line per run.
"""

import argparse
import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402


def _task_class():
    from taskflow import task

    class Noop(task.Task):
        def __init__(self, name, requires, sleep):
            super().__init__(name=name, provides="v:" + name,
                             requires=["v:" + r for r in requires])
            self._sleep = sleep

        def execute(self, **inputs):
            if self._sleep:
                time.sleep(self._sleep)
            return True

    return Noop


def build(shape, n, sleep=0.0):
    from taskflow.patterns import graph_flow
    noop = _task_class()
    deps = common.edges(shape, n)
    flow = graph_flow.Flow("bench-%s-%d" % (shape, n))
    # One add() call: graph_flow copies its graph on every add.
    flow.add(*[noop(common.res_name(i), [common.res_name(d) for d in deps[i]],
                    sleep) for i in range(n)])
    return flow


def run_once(shape, n, engine="parallel", executor=None, sleep=0.0):
    """Build, load and run once; returns a dict of timings (seconds)."""
    import taskflow.engines
    common.collect_garbage()
    t0 = time.perf_counter()
    c0 = common.cpu_seconds()
    flow = build(shape, n, sleep)
    t1 = time.perf_counter()
    kw = {"engine": engine}
    if engine == "parallel":
        kw["executor"] = executor
    eng = taskflow.engines.load(flow, store={}, **kw)
    eng.compile()
    eng.prepare()
    t2 = time.perf_counter()
    eng.run()
    t3 = time.perf_counter()
    return {"build_s": t1 - t0, "setup_s": t2 - t1, "run_s": t3 - t2,
            "total_s": t3 - t0, "cpu_s": common.cpu_seconds() - c0}


class Baseline:
    """A raw TaskFlow runner holding its long-lived executor."""

    def __init__(self, workers=32, engine="parallel"):
        self.engine = engine
        self.workers = workers
        self.executor = concurrent.futures.ThreadPoolExecutor(workers) \
            if engine == "parallel" else None

    def run(self, shape, n, sleep=0.0):
        return run_once(shape, n, self.engine, self.executor, sleep)

    def close(self):
        if self.executor is not None:
            self.executor.shutdown(wait=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=common.SHAPES, default="layered")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--engine", choices=("parallel", "serial"),
                    default="parallel")
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--sleep", type=float, default=0.0,
                    help="seconds each task sleeps (0: no-op)")
    ap.add_argument("--machine", action="store_true",
                    help="also print the machine description")
    args = ap.parse_args(argv)
    if args.machine:
        common.print_json({"machine": common.machine()})
    base = Baseline(args.workers, args.engine)
    try:
        for rep in range(args.repeat):
            res = base.run(args.shape, args.n, args.sleep)
            res.update({"bench": "taskflow", "shape": args.shape,
                        "n": args.n, "engine": args.engine,
                        "workers": args.workers, "rep": rep,
                        "sleep": args.sleep,
                        "peak_rss_mb": common.peak_rss_mb()})
            common.print_json(res)
    finally:
        base.close()


if __name__ == "__main__":
    main()
