"""Resume benchmark: how soon a killed 1,000-resource create runs again.

    python bench/bench_resume.py [--shape layered] [--n 1000] [--repeat 1]

In-process stand-in for a conductor taking over a job (budget 5), on a
SQLite file:

1. a child process opens the database and starts creating ``n``
   ``OS::Heat::None`` resources;
2. the parent watches (``list_resources``) and SIGKILLs the child once about
   half of them are ``CREATE_COMPLETE`` (``--kill-at``);
3. the parent constructs ``heatflow.Orchestrator(url)``, which resumes the
   orphaned operation (``resume_orphans``), then polls ``list_events`` for
   the first resource event written after the kill.

Reported: ``construct_s`` (the constructor, which includes the resume
call), ``first_action_s`` (constructor start to the first resource event of
the resumed run: "running again"), ``first_complete_s`` (to the first
resource newly completed), ``finish_s`` (to CREATE_COMPLETE) and how many
resources were done at the kill.  Built-in types only: the constructor
resumes before any plugin could be registered.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common  # noqa: E402

NAME = "bench"


def child(url, shape, n):
    import heatflow
    orch = heatflow.Orchestrator(url)
    orch.create_stack(NAME, common.template(shape, n))
    print("started", flush=True)
    while True:                 # killed by the parent
        time.sleep(1)


def _complete(orch):
    return sum(1 for r in orch.list_resources(NAME)
               if r.action == "CREATE" and r.status == "COMPLETE")


def _last_event_id(orch):
    events = orch.list_events(NAME)
    return max((e.id for e in events), default=0)


def _kill_midway(args, url):
    """Start the child's create on ``url`` and SIGKILL it about
    ``--kill-at`` of the way through: (resources done, last event id), or
    None if the create finished first (a small fast create can complete
    between two looks)."""
    import heatflow
    os.makedirs(os.path.dirname(url[len("sqlite:///"):]), exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--child", url,
         "--shape", args.shape, "--n", str(args.n)],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = proc.stdout.readline()
        if line.strip() != "started":
            raise RuntimeError("child did not start: %r" % line)
        watcher = heatflow.Orchestrator(url, resume=False)
        try:
            target = int(args.n * args.kill_at)
            deadline = time.monotonic() + args.timeout
            done = 0
            while done < target:
                if time.monotonic() > deadline:
                    raise RuntimeError("child too slow: %d of %d done"
                                       % (done, args.n))
                if proc.poll() is not None:
                    raise RuntimeError("child exited: %s" % proc.returncode)
                time.sleep(0.05)
                done = _complete(watcher)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            if watcher.get_stack(NAME).status != "IN_PROGRESS":
                return None
            return _complete(watcher), _last_event_id(watcher)
        finally:
            watcher.close()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()


#: Attempts at killing the child midway before a repetition gives up.
ATTEMPTS = 5


def one(args, rep, workdir):
    import heatflow
    for attempt in range(ATTEMPTS):
        url = "sqlite:///" + os.path.join(
            workdir, "rep%d-%d" % (rep, attempt), "hf.db")
        killed = _kill_midway(args, url)
        if killed is not None:
            break
    else:
        return {"bench": "resume", "shape": args.shape, "n": args.n,
                "rep": rep, "ok": False,
                "error": "the create finished before the kill %d times"
                % ATTEMPTS}
    at_kill, last = killed

    t0 = time.perf_counter()
    orch = heatflow.Orchestrator(url)           # resume_orphans()
    construct = time.perf_counter() - t0
    first_action = first_complete = finish = None
    status = None
    try:
        deadline = time.monotonic() + args.timeout
        seen = last
        while first_action is None or first_complete is None:
            if time.monotonic() > deadline:
                break
            events = orch.list_events(NAME, after=seen)
            now = time.perf_counter() - t0
            for e in events:
                seen = max(seen, e.id)
                if e.resource_name == NAME:     # stack events
                    continue
                if first_action is None:
                    first_action = now
                if first_complete is None and e.status == "COMPLETE":
                    first_complete = now
            if not events:
                time.sleep(0.005)
        stack = orch.get_stack(NAME)
        while stack.status == "IN_PROGRESS" and \
                time.monotonic() < deadline:
            time.sleep(0.05)
            stack = orch.get_stack(NAME)
        finish = time.perf_counter() - t0
        status = stack.stack_status
    finally:
        orch.close()
    return {"bench": "resume", "shape": args.shape, "n": args.n,
            "rep": rep, "done_at_kill": at_kill, "construct_s": construct,
            "first_action_s": first_action,
            "first_complete_s": first_complete, "finish_s": finish,
            "status": status, "ok": status == "CREATE_COMPLETE",
            "peak_rss_mb": common.peak_rss_mb()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=common.SHAPES, default="layered")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--kill-at", type=float, default=0.5,
                    help="fraction of resources complete at the kill")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child, args.shape, args.n)
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    common.print_json({"machine": common.machine()})
    workdir = tempfile.mkdtemp(prefix="heatflow-bench-resume-")
    ok = True
    try:
        for rep in range(args.repeat):
            res = one(args, rep, workdir)
            ok = ok and res["ok"]
            common.print_json(res)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
