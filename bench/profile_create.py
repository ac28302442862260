"""Where a create's time goes: sample every thread during one create.

    python bench/profile_create.py [--shape layered] [--n 1000] [--top 15]

cProfile sees only the thread that enables it, and heatflow runs an
operation on its own threads, so this samples the stacks of all threads
(``sys._current_frames()``) every ``--interval`` seconds while the create
runs.  Samples of idle threads (waiting on a lock, a queue or in
``Operation.wait``) are dropped, so the figures are busy thread time.
Prints the top entries by inclusive ("cumulative") share, each tagged
heatflow / taskflow / sqlalchemy / other, and the self-time share per group.
"""

import argparse
import collections
import os
import shutil
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common  # noqa: E402

IDLE_FILES = ("threading.py", "queue.py",
              os.path.join("futures", "thread.py"))


def group(filename):
    f = filename.replace(os.sep, "/")
    for key, name in (("/taskflow/", "taskflow"),
                      ("/sqlalchemy/", "sqlalchemy"),
                      ("/networkx/", "networkx"),
                      ("/futurist/", "futurist"), ("/heatflow/", "heatflow"),
                      ("/flows/", "heatflow"), ("/persistence/", "heatflow"),
                      ("/sqlite3/", "sqlite3"), ("/yaml/", "yaml")):
        if key in f:
            return name
    return "other"


class Sampler:
    def __init__(self, interval=0.002):
        self.interval = interval
        self.inclusive = collections.Counter()
        self.selftime = collections.Counter()
        self.busy = 0
        self.idle = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _run(self):
        me = threading.get_ident()
        while not self._stop.wait(self.interval):
            for tid, frame in sys._current_frames().items():
                if tid == me:
                    continue
                leaf = frame.f_code
                if leaf.co_filename.endswith(IDLE_FILES) or (
                        leaf.co_name == "wait" and
                        leaf.co_filename.endswith("api.py")):
                    self.idle += 1
                    continue
                self.busy += 1
                self.selftime[(leaf.co_filename, leaf.co_firstlineno,
                               leaf.co_name)] += 1
                seen = set()
                f = frame
                while f is not None:
                    c = f.f_code
                    key = (c.co_filename, c.co_firstlineno, c.co_name)
                    if key not in seen:
                        seen.add(key)
                        self.inclusive[key] += 1
                    f = f.f_back

    def report(self, top=15, out=sys.stdout):
        total = max(1, self.busy)
        out.write("busy samples: %d (idle dropped: %d)\n"
                  % (self.busy, self.idle))
        out.write("\nTop %d by inclusive share of busy thread time:\n"
                  % top)
        skip = ("threading.py", "thread.py", "bench_engine.py",
                "profile_create.py")
        rows = [(n, k) for k, n in self.inclusive.most_common()
                if not k[0].endswith(skip)]
        for n, (fn, line, name) in rows[:top]:
            out.write("  %5.1f%%  %-10s %s:%d %s\n" % (
                100.0 * n / total, group(fn), _short(fn), line, name))
        groups = collections.Counter()
        for (fn, _line, _name), n in self.selftime.items():
            groups[group(fn)] += n
        out.write("\nSelf time by package:\n")
        for g, n in groups.most_common():
            out.write("  %5.1f%%  %s\n" % (100.0 * n / total, g))


def _short(fn):
    parts = fn.replace(os.sep, "/").split("/")
    for anchor in ("site-packages", "main", "lib"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[i + 1:])
    return "/".join(parts[-3:])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=common.SHAPES, default="layered")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--interval", type=float, default=0.002)
    ap.add_argument("--op", choices=("create", "delete"), default="create",
                    help="the operation sampled (a delete's stack is "
                    "created first, unsampled)")
    args = ap.parse_args(argv)
    import heatflow
    workdir = tempfile.mkdtemp(prefix="heatflow-bench-prof-")
    try:
        orch = heatflow.Orchestrator(
            "sqlite:///" + os.path.join(workdir, "hf.db"))
        try:
            tmpl = common.template(args.shape, args.n)
            sampler = Sampler(args.interval)
            if args.op == "delete":
                orch.create_stack("bench", tmpl).wait(900)
                common.collect_garbage()
            t0 = time.perf_counter()
            sampler.start()
            try:
                if args.op == "delete":
                    stack = orch.delete_stack("bench").wait(900)
                else:
                    stack = orch.create_stack("bench", tmpl).wait(900)
            finally:
                sampler.stop()
            secs = time.perf_counter() - t0
        finally:
            orch.close()
        print("%s of %d %s resources: %.2f s, %s"
              % (args.op, args.n, args.shape, secs, stack.stack_status))
        sampler.report(args.top)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
