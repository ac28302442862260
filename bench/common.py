"""Shared pieces of the benchmarks: graph shapes, test plugins, counters.

Only heatflow's public API is used (``heatflow.Orchestrator``, its
``create_stack`` / ``update_stack`` / ``delete_stack`` and ``.wait()``,
``orch.db.engine`` for the statement listener, ``orch.register_plugin``), so
the harness keeps working while the engine's insides change.
"""

import gc
import json
import os
import platform
import re
import resource as rusage
import statistics
import subprocess
import sys
import threading
import time

SHAPES = ("independent", "chain", "layered")
LAYERS = 10

NONE_TYPE = "OS::Heat::None"
# A None-like type under another name: switching a resource's type is
# Heat's unconditional replacement, which OS::Heat::None (never replaced on
# a property change) otherwise cannot show.
ALT_NONE_TYPE = "HeatflowBench::None"
TIMED_TYPE = "HeatflowBench::Timed"
# The same wait, from a plugin that says when it ends (resource.PollDelay).
TIMED_DELAY_TYPE = "HeatflowBench::TimedDelay"

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- graph shapes ---------------------------------------------------------

def edges(shape, n):
    """{index: [indices it depends on]} for ``n`` resources.

    independent: no edges.  chain: r_i depends on r_{i-1}.  layered:
    LAYERS layers of n/LAYERS resources, each resource of a layer depending
    on two resources of the layer before (same column and the next one).
    """
    if shape == "independent":
        return {i: [] for i in range(n)}
    if shape == "chain":
        return {i: ([i - 1] if i else []) for i in range(n)}
    if shape == "layered":
        width = max(1, n // LAYERS)
        deps = {}
        for i in range(n):
            layer, col = divmod(i, width)
            if layer == 0 or i >= width * LAYERS:
                # The remainder (n not a multiple of LAYERS) joins layer 0.
                deps[i] = []
                continue
            prev = (layer - 1) * width
            pair = {prev + col, prev + (col + 1) % width}
            deps[i] = sorted(pair)
        return deps
    raise ValueError("unknown shape %r" % shape)


def res_name(i):
    return "r%05d" % i


def template(shape, n, rtype=NONE_TYPE, properties=None):
    """A HOT template (dict) of ``n`` resources of ``rtype`` in ``shape``.

    ``properties`` (a dict) is given to every resource: changing it between
    two templates makes an in-place update of every resource."""
    resources = {}
    for i, deps in edges(shape, n).items():
        r = {"type": rtype}
        if properties:
            r["properties"] = dict(properties)
        if deps:
            r["depends_on"] = [res_name(d) for d in deps]
        resources[res_name(i)] = r
    return {"heat_template_version": "2018-08-31", "resources": resources}


def ideal_time(shape, n, secs, workers):
    """Lower bound of a run whose every action takes ``secs``: by waves of
    ``workers`` within each level of the graph."""
    deps = edges(shape, n)
    level = {}
    for i in range(n):                       # deps always point backwards
        level[i] = 1 + max((level[d] for d in deps[i]), default=0)
    per_level = {}
    for lv in level.values():
        per_level[lv] = per_level.get(lv, 0) + 1
    return sum(-(-count // workers) * secs for count in per_level.values())


# -- test plugins -----------------------------------------------------------

class CheckCounter:
    """Counts the ``check_create_complete`` calls of the timed types, and
    how late each create's completion was seen (from the time it was done
    to the poll that said so)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self.calls = {}
            self.late = {}
            self.per_res = {}

    def checked(self, rtype, name, done_for):
        """A check of resource ``name`` of ``rtype`` that found its create
        done ``done_for`` seconds ago (negative: not done yet)."""
        with self._lock:
            self.calls[rtype] = self.calls.get(rtype, 0) + 1
            key = (rtype, name)
            self.per_res[key] = self.per_res.get(key, 0) + 1
            if done_for >= 0:
                self.late.setdefault(rtype, []).append(done_for)

    def snapshot(self):
        with self._lock:
            return {t: {"checks": n, "done": len(self.late.get(t, ())),
                        "late_s": list(self.late.get(t, ())),
                        "max_per_res": max(c for (rt, _), c in
                                           self.per_res.items()
                                           if rt == t)}
                    for t, n in self.calls.items()}


CHECKS = CheckCounter()


def register_plugins(orch, create_secs=0.05):
    """Register the bench types on ``orch``:

    - ``HeatflowBench::None``: OS::Heat::None under another type name.
    - ``HeatflowBench::Timed``: its create takes ``create_secs`` of wall
      time, by polling (``handle_create`` returns the start time,
      ``check_create_complete`` is False until the time has passed), so no
      worker sleeps inside the plugin and the engine's back-off decides
      when it is asked; update and delete are instant.
    - ``HeatflowBench::TimedDelay``: the same, but its check raises
      ``resource.PollDelay`` for the time left, as a plugin that knows
      when its wait ends should (registered only where heatflow has
      PollDelay, so the bench can measure older code).

    Their checks are counted in :data:`CHECKS`.
    """
    from heatflow import resource
    from heatflow.plugins import none

    class BenchNone(none.NoneResource):
        pass

    class Timed(none.NoneResource):
        secs = create_secs

        def handle_create(self):
            self.resource_id_set(self.physical_resource_name())
            return {"started_at": time.time(), "secs": self.secs}

        def _left(self, token):
            left = token["started_at"] + token["secs"] - time.time()
            CHECKS.checked(self.type, self.name, -left)
            return left

        def check_create_complete(self, token):
            return self._left(token) <= 0

    class TimedDelay(Timed):
        def check_create_complete(self, token):
            left = self._left(token)
            if left > 0:
                raise resource.PollDelay(left)
            return True

    orch.register_plugin(ALT_NONE_TYPE, BenchNone)
    orch.register_plugin(TIMED_TYPE, Timed)
    if hasattr(resource, "PollDelay"):
        orch.register_plugin(TIMED_DELAY_TYPE, TimedDelay)


# -- statement counter --------------------------------------------------------

TF_TABLES = re.compile(r"\b(logbooks|flowdetails|atomdetails|"
                       r"alembic_version)\b", re.I)


class StatementCounter:
    """Counts SQL statements on an engine with a ``before_cursor_execute``
    listener (executemany counts once per call, as the database sees one
    statement), split into TaskFlow's tables and heatflow's, by verb, and
    whether the thread that issued it was the caller's (the
    ``create_stack`` planning and ``Operation.wait()`` polling)."""

    def __init__(self, engine):
        import sqlalchemy as sa
        self._sa = sa
        self.engine = engine
        self.main = threading.get_ident()
        self._lock = threading.Lock()
        self.reset()
        sa.event.listen(engine, "before_cursor_execute", self._on_execute)
        sa.event.listen(engine, "commit", self._on_commit)

    def reset(self):
        with self._lock:
            self.total = 0
            self.commits = 0
            self.by_kind = {}

    def _on_execute(self, conn, cursor, statement, parameters, context,
                    executemany):
        verb = statement.lstrip().split(None, 1)[0].upper() \
            if statement.strip() else "?"
        owner = "taskflow" if TF_TABLES.search(statement) else "heatflow"
        thread = "caller" if threading.get_ident() == self.main else "engine"
        key = "%s/%s/%s" % (owner, verb, thread)
        with self._lock:
            self.total += 1
            self.by_kind[key] = self.by_kind.get(key, 0) + 1

    def _on_commit(self, conn):
        with self._lock:
            self.commits += 1

    def snapshot(self):
        with self._lock:
            return {"total": self.total, "commits": self.commits,
                    "by_kind": dict(self.by_kind)}

    def close(self):
        self._sa.event.remove(self.engine, "before_cursor_execute",
                              self._on_execute)
        self._sa.event.remove(self.engine, "commit", self._on_commit)


def split_counts(snap, n):
    """Per-resource figures from a counter snapshot."""
    kinds = snap["by_kind"]
    tf = sum(v for k, v in kinds.items() if k.startswith("taskflow/"))
    caller = sum(v for k, v in kinds.items() if k.endswith("/caller"))
    return {"stmts": snap["total"], "stmts_per_res": snap["total"] / n,
            "tf_stmts_per_res": tf / n,
            "hf_stmts_per_res": (snap["total"] - tf) / n,
            "caller_stmts": caller,
            "commits_per_res": snap["commits"] / n,
            "by_kind": kinds}


# -- memory and time -------------------------------------------------------

def peak_rss_mb():
    """Peak resident set size of this process so far, in MB (Linux: KB)."""
    return rusage.getrusage(rusage.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds():
    r = rusage.getrusage(rusage.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def collect_garbage():
    """Collect what earlier measurements left, so that a timed section does
    not pay for it: runs alternate in one process (heatflow beside raw
    TaskFlow), and a full collection of one's cyclic garbage landing in
    the other's timing slowed heatflow's 50 ms creates by ~15%."""
    gc.collect()


class Timer:
    """Wall and CPU time of a section, which starts after a collection."""

    def __enter__(self):
        collect_garbage()
        self.t0 = time.perf_counter()
        self.c0 = cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.secs = time.perf_counter() - self.t0
        self.cpu = cpu_seconds() - self.c0


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values):
    """(min, max) of the values, for showing the noise next to a median."""
    values = [v for v in values if v is not None]
    return (min(values), max(values)) if values else (None, None)


# -- the machine -----------------------------------------------------------

def _version(dist):
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_rev():
    try:
        out = subprocess.run(["git", "-C", REPO, "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True,
                             timeout=10)
        rev = out.stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        return rev + ("+dirty" if dirty.stdout.strip() else "")
    except Exception:
        return None


def machine():
    """A description of where the figures were measured."""
    import sqlite3
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = "%.1f GB" % (int(line.split()[1]) / 1048576.0)
    except OSError:
        pass
    return {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "memory": mem,
        "loadavg": load,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {d: _version(d) for d in (
            "heatflow", "taskflow", "SQLAlchemy", "networkx", "futurist",
            "alembic", "psycopg2-binary")},
        "git": _git_rev(),
    }


def print_json(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
