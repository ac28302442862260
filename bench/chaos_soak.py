"""Chaos soak: random operations, one fault per trial, invariants checked.

    python bench/chaos_soak.py [--trials 20] [--seed 1] [--conductors 3]
                               [--session-timeout 4] [--max-resources 8]
    python bench/chaos_soak.py --report bench/results/soak-<stamp>.json
    tox -e soak -- --trials 20 --seed 7

A benchmark, not a test (issue 16): it starts its own ZooKeeper and
PostgreSQL (tests/servers.py) and a cluster of real ``heatflow conductor``
processes (tests/functional/cluster.py), then runs trials.  A trial:

- a random template of ``Soak::Thing`` resources (bench/soak_plugin/), with
  dependencies through ``get_resource`` and ``get_attr``; updates change
  labels (in place), sizes (replacement), add and remove resources;
- a random sequence: create, then up to two of update / update during
  update / rollback of a running update / cancel (with or without
  rollback), then a final update, delete, or rollback of a running update;
  each operation through the command line (``python -m heatflow ...``) or
  the library (``heatflow.Orchestrator``), at random;
- one fault at a random moment, preferably on the conductor running the
  stack: SIGKILL (a new conductor is started at once), SIGSTOP past the
  ZooKeeper session timeout then SIGCONT, ZooKeeper restart, PostgreSQL
  restart;
- the checks, once the stack settled and a grace period passed (so a
  zombie's late side effect is seen): a terminal state within the bound;
  exactly the expected template's resources alive in the cloud, once
  each, with the template's properties; nothing alive after a delete; no
  resource created after the operation settled left alive (a zombie's);
  heatflow's rows know the live resources; no traceback in any conductor
  log (nor on the command line).

Prints one line per trial and a summary: violations by kind (with the
trials' seeds) and takeover times (fault to another conductor claiming
the job, and to its first physical action) relative to the session
timeout.  Results go to ``bench/results/soak-<stamp>.json`` with the
machine.  Every trial's seed reruns it alone: ``--trials 1 --seed S``
(the fault's timing against the cluster is not reproducible).  Exit
status 0 whatever was found (a benchmark), 2 if the soak itself broke.
"""

import argparse
import copy
import logging
import datetime
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
PLUGIN_DIR = os.path.join(BENCH, "soak_plugin")
for _p in (PLUGIN_DIR, REPO, BENCH):
    sys.path.insert(0, _p)

import common  # noqa: E402
import soak_cloud  # noqa: E402

TYPE = "Soak::Thing"
FAULTS = ("sigkill", "sigstop", "zk_restart", "pg_restart")
STEPS = ("update", "update_during_update", "rollback", "cancel")
FINALS = ("update", "delete", "rollback")
IFACES = ("cli", "lib")
MAX_FINAL_TRIES = 5
AMBIGUOUS = object()
# Errors that say an operation was refused, nothing changed.
REFUSALS = ("nothing to roll back", "only a running create or update",
            "changed while", "kept changing", "already exists",
            "not found", "StackValidationFailed")


class Interrupted(BaseException):
    """SIGTERM: stop like Ctrl-C, cleaning up."""


# -- templates ---------------------------------------------------------------

def _index(name):
    return int(name[1:])


def _target(ref):
    if isinstance(ref, dict):
        if "get_resource" in ref:
            return ref["get_resource"]
        if "get_attr" in ref:
            return ref["get_attr"][0]
    return None


def _thing(rnd, earlier, delay):
    props = {"label": "l%03d" % rnd.randrange(1000),
             "size": rnd.randint(1, 3), "delay": delay}
    if earlier and rnd.random() < 0.6:
        dep = rnd.choice(earlier)
        props["ref"] = rnd.choice([{"get_resource": dep},
                                   {"get_attr": [dep, "label"]}])
    return {"type": TYPE, "properties": props}


def random_template(rnd, n, delay):
    """``n`` things r0..r{n-1}; a thing refers only to an earlier one."""
    res = {}
    for i in range(n):
        res["r%d" % i] = _thing(rnd, sorted(res, key=_index), delay)
    return {"heat_template_version": "2018-08-31", "resources": res}


def mutate(rnd, tmpl, max_n, delay):
    """The next template: labels changed (in place), sizes changed
    (replacement), maybe a thing removed (its dependents' refs dropped)
    and one added."""
    new = copy.deepcopy(tmpl)
    res = new["resources"]
    for props in (r["properties"] for r in res.values()):
        x = rnd.random()
        if x < 0.3:
            props["label"] = "l%03d" % rnd.randrange(1000)
        elif x < 0.45:
            props["size"] = props["size"] % 3 + 1
    if len(res) > 2 and rnd.random() < 0.3:
        gone = rnd.choice(sorted(res))
        del res[gone]
        for props in (r["properties"] for r in res.values()):
            if _target(props.get("ref")) == gone:
                del props["ref"]
    if len(res) < max_n and rnd.random() < 0.4:
        names = sorted(res, key=_index)
        nxt = "r%d" % (max(_index(n) for n in names) + 1)
        res[nxt] = _thing(rnd, names, delay)
    if new == tmpl:
        props = res[rnd.choice(sorted(res))]["properties"]
        props["label"] += "x"
    return new


def shape(tmpl):
    """What the checks compare of a template: {name: (label, size, ref)}."""
    out = {}
    for name, r in ((tmpl or {}).get("resources") or {}).items():
        p = r.get("properties") or {}
        out[name] = (p.get("label", ""), p.get("size", 1),
                     json.dumps(p.get("ref"), sort_keys=True))
    return out


# -- the invariants ----------------------------------------------------------

def check_resources(tmpl, alive, rows, settled_at, journal, deleted=False):
    """Violations of "exactly the template's resources alive, once each,
    with its properties" (``tmpl`` None: nothing may be alive).

    ``alive``: physical id -> resource of this stack that exists;
    ``rows``: heatflow's resource rows (None if the stack is gone);
    ``settled_at``: when the operation was seen settled: a resource still
    alive that was created after it is a zombie's."""
    out = []
    created = {}
    for j in journal:
        if j["event"] == "create":
            created[j["id"]] = j["time"]
    expected = (tmpl or {}).get("resources") or {}
    by_name = {}
    for pid, r in alive.items():
        by_name.setdefault(r["resource"], []).append(pid)

    def late(pid):
        return created.get(pid, 0) > settled_at

    for name, ids in sorted(by_name.items()):
        zombies = [p for p in ids if late(p)]
        if zombies:
            out.append(violation("zombie_create", name, zombies, journal,
                                 "created %.2f s after the stack settled"
                                 % (max(created[p] for p in zombies) -
                                    settled_at)))
        rest = [p for p in ids if not late(p)]
        if name not in expected and rest:
            out.append(violation(
                "alive_after_delete" if deleted else "leak", name, rest,
                journal, "not in the final template"))
        elif len(rest) > 1:
            out.append(violation("duplicate", name, rest, journal,
                                 "alive %d times" % len(rest)))
    ids_of = {n: [p for p in by_name.get(n, ()) if not late(p)]
              for n in expected}
    for name, r in sorted(expected.items()):
        ids = ids_of[name]
        if not ids:
            out.append(violation("missing", name, [], journal,
                                 "in the template, not in the cloud"))
            continue
        if len(ids) != 1:
            continue
        want = _expected_props(r.get("properties") or {}, expected, ids_of)
        got = {k: alive[ids[0]].get(k) for k in want}
        if want["ref"] is AMBIGUOUS:
            # What it refers to is missing or duplicated: reported there.
            del want["ref"], got["ref"]
        if got != want:
            out.append(violation("wrong_props", name, ids, journal,
                                 "cloud %s, template %s" % (got, want)))
        if rows is not None:
            known = {x.physical_resource_id for x in rows if x.name == name}
            if ids[0] not in known:
                out.append(violation("row_mismatch", name, ids, journal,
                                     "heatflow's rows say %s"
                                     % sorted(map(str, known))))
    return out


def _expected_props(props, resources, ids_of):
    ref = props.get("ref")
    dep = _target(ref)
    if dep is not None:
        if "get_resource" in ref:
            ids = ids_of.get(dep) or []
            ref = ids[0] if len(ids) == 1 else AMBIGUOUS
        else:
            ref = (resources[dep].get("properties") or {}).get("label", "")
    return {"label": props.get("label", ""), "size": props.get("size", 1),
            "ref": ref}


def violation(kind, resource, ids, journal, detail):
    mine = [j for j in journal if j["id"] in ids]
    return {"kind": kind, "resource": resource, "ids": ids,
            "detail": detail, "journal": mine}


# -- the soak ----------------------------------------------------------------

class Soak:
    def __init__(self, args, work, zk, pg):
        from tests.functional import cluster as cluster_mod
        self.args = args
        self.work = work
        self.zk = zk
        self.pg = pg
        self.db_url = pg.create_database("soak")
        self.cluster = cluster_mod.Cluster(
            self.db_url, zk.hosts, work, size=args.conductors,
            session_timeout=args.session_timeout)
        self.orch = self.cluster.orch
        self.pids = {}
        self.conductor_pids()

    # -- conductors

    def conductor_pids(self):
        for name, proc in self.cluster.procs.items():
            self.pids[proc.pid] = name
        return self.pids

    def alive_conductors(self):
        return [n for n, p in self.cluster.procs.items() if p.poll() is None]

    def top_up(self):
        """Start conductors until ``--conductors`` are running again."""
        started = []
        while len(self.alive_conductors()) < self.args.conductors:
            started.append(self.cluster.start_conductor())
        self.conductor_pids()
        return started

    def log_offsets(self):
        out = {}
        for name in self.cluster.procs:
            path = os.path.join(self.work, name + ".log")
            out[name] = os.path.getsize(path) if os.path.exists(path) else 0
        return out

    def tracebacks(self, offsets):
        """The exception lines of the tracebacks logged since ``offsets``."""
        found = []
        for name in self.cluster.procs:
            path = os.path.join(self.work, name + ".log")
            with open(path, errors="replace") as f:
                f.seek(offsets.get(name, 0))
                found += ["%s: %s" % (name, line)
                          for line in traceback_ends(f.read())]
        return found

    # -- operations

    def issue(self, trial, kind, iface, tmpl=None, rollback=True):
        """Start an operation; the record of it (accepted or not)."""
        rec = {"t": round(time.time() - trial["t0"], 2), "kind": kind,
               "iface": iface, "accepted": False}
        if tmpl is not None:
            trial["templates"].append(tmpl)
            rec["template"] = len(trial["templates"]) - 1
        if kind == "cancel":
            rec["rollback"] = rollback
        name = trial["stack"]
        try:
            if iface == "lib":
                self._lib(kind, name, tmpl, rollback)
                rec["accepted"] = True
            else:
                rc, err = self._cli(trial, kind, name, tmpl, rollback)
                rec["accepted"] = rc == 0
                if rc:
                    rec["error"] = err.strip().splitlines()[-1:] or [""]
                    rec["error"] = rec["error"][0][:200]
                if "Traceback" in err:
                    trial["cli_tracebacks"].append(
                        traceback_ends(err)[-1:] or [err[-200:]])
        except Exception as e:
            rec["error"] = ("%s: %s" % (type(e).__name__, e))[:200]
        if not rec["accepted"] and not any(
                r in rec.get("error", "") for r in REFUSALS):
            rec["uncertain"] = True
            trial["notes"].append("%s failed but may have been carried "
                                  "out: %s" % (kind, rec.get("error")))
        trial["ops"].append(rec)
        return rec

    def _lib(self, kind, name, tmpl, rollback):
        orch = self.orch
        if kind == "create":
            orch.create_stack(name, tmpl)
        elif kind == "update":
            orch.update_stack(name, tmpl)
        elif kind == "delete":
            orch.delete_stack(name)
        elif kind == "rollback":
            orch.rollback_stack(name)
        else:
            orch.cancel_update(name, rollback=rollback)

    def _cli(self, trial, kind, name, tmpl, rollback):
        argv = {"create": ["stack", "create", name],
                "update": ["stack", "update", name],
                "delete": ["stack", "delete", name, "-y"],
                "rollback": ["stack", "rollback", name],
                "cancel": ["stack", "cancel", name] +
                ([] if rollback else ["--no-rollback"])}[kind]
        if tmpl is not None:
            path = os.path.join(self.work, "%s-%d.yaml" % (
                name, len(trial["templates"])))
            with open(path, "w") as f:
                json.dump(tmpl, f)          # JSON is YAML
            argv += ["-t", path]
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "heatflow", "--db-url", self.db_url,
                 "--zookeeper", self.zk.hosts] + argv,
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=self.args.cli_timeout)
        except subprocess.TimeoutExpired:
            return 124, "command line timed out after %ss" % \
                self.args.cli_timeout
        return proc.returncode, proc.stderr

    def state(self, name):
        """('gone', None) | ('ok', Stack) | ('error', message)."""
        from heatflow import exception
        try:
            return "ok", self.orch.get_stack(name)
        except exception.NotFound:
            return "gone", None
        except Exception as e:
            return "error", "%s: %s" % (type(e).__name__, e)

    def settle(self, name, bound):
        """(status string or None if gone, time seen settled or None if
        still in progress after ``bound`` seconds)."""
        end = time.time() + bound
        while time.time() < end:
            how, stack = self.state(name)
            if how == "gone":
                return None, time.time()
            if how == "ok" and stack.status != "IN_PROGRESS":
                return stack, time.time()
            time.sleep(0.1)
        return self.state(name)[1], None

    # -- one trial

    def run_trial(self, index, seed, fault):
        args = self.args
        rnd = random.Random(seed)
        name = "soak%d-%d" % (index, seed)
        delay = round(rnd.uniform(0.2, 0.6), 2)
        n = rnd.randint(3, args.max_resources)
        trial = {"index": index, "seed": seed, "stack": name,
                 "fault": {"kind": fault}, "templates": [], "ops": [],
                 "cli_tracebacks": [], "notes": [], "violations": [],
                 "t0": time.time(), "resources": n, "delay": delay}
        offsets = self.log_offsets()
        owners = []
        stop = threading.Event()
        monitor = threading.Thread(target=self._monitor,
                                   args=(name, owners, stop), daemon=True)
        monitor.start()
        # More often than not during the final operation, which nothing
        # supersedes: the takeover can be seen.
        final_issued = threading.Event()
        fault_at = (final_issued, rnd.uniform(0.2, 2.5)) \
            if rnd.random() < 0.6 else (None, rnd.uniform(0.5, 5.0))
        trial["fault"]["during"] = "final" if fault_at[0] else "any"
        chaos = threading.Thread(target=self._fault,
                                 args=(trial, fault, fault_at, owners),
                                 daemon=True)
        chaos.start()
        tmpl = random_template(rnd, n, delay)
        first = self.issue(trial, "create", rnd.choice(IFACES), tmpl)
        if not first["accepted"]:
            self._retry(trial, first, rnd)
        steps = rnd.sample(STEPS, rnd.randint(0, 2))
        final = rnd.choice(FINALS)
        trial["plan"] = steps + ["final_" + final]

        def pause(lo, hi):
            time.sleep(rnd.uniform(lo, hi))

        def update():
            return self.issue(trial, "update", rnd.choice(IFACES),
                              mutate(rnd, trial["templates"][-1],
                                     args.max_resources, delay))

        pause(0.3, 2.5)
        for step in steps:
            update()
            if step == "update_during_update":
                pause(0.2, 1.0)
                update()
            elif step in ("rollback", "cancel"):
                pause(0.2, 1.5)
                self.issue(trial, step, rnd.choice(IFACES),
                           rollback=rnd.random() < 0.5)
            pause(0.3, 2.5)
        final_issued.set()
        if final == "delete":
            last = self.issue(trial, "delete", rnd.choice(IFACES))
        else:
            last = update()
            if not last["accepted"]:
                last = self._retry(trial, last, rnd)
            if final == "rollback":
                pause(0.2, 1.5)
                last = self.issue(trial, "rollback", rnd.choice(IFACES))
        if not last["accepted"] and final != "rollback":
            last = self._retry(trial, last, rnd)
        stack, settled_at = self.settle(name, args.bound)
        chaos.join(args.bound)
        stop.set()
        monitor.join(10)
        trial["final"] = status_of(stack)
        trial["settle_s"] = round((settled_at or time.time()) -
                                  trial["t0"], 2)
        self._judge(trial, stack, settled_at, rnd)
        self._takeover(trial, owners)
        trial["violations"] += [
            {"kind": "traceback", "detail": line}
            for line in sorted(set(self.tracebacks(offsets)))]
        trial["violations"] += [
            {"kind": "cli_traceback", "detail": line}
            for line in trial["cli_tracebacks"]]
        self._clean_up(trial)
        trial["secs"] = round(time.time() - trial["t0"], 1)
        del trial["t0"]
        return trial

    def _retry(self, trial, rec, rnd):
        """A user retries an operation the system refused (during an
        outage, say), a few times."""
        for _ in range(MAX_FINAL_TRIES):
            if rec["accepted"]:
                break
            time.sleep(2)
            tmpl = trial["templates"][rec["template"]] \
                if "template" in rec else None
            rec = self.issue(trial, rec["kind"], rec["iface"], tmpl)
        return rec

    def _expected(self, trial, stack):
        """(template expected alive or None for nothing, whether a delete
        was the last word, the list of violations of the final state).

        An operation that failed with an error other than a refusal (a
        connection lost during an outage, say) may still have been
        recorded and carried out: after the last accepted create, update
        or delete, such operations count as maybe done."""
        accepted = [o for o in trial["ops"] if o["accepted"]]
        shaping = [o for o in accepted if o["kind"] in
                   ("create", "update", "delete")]
        if not shaping:
            return None, False, [{"kind": "final_op_refused",
                                  "detail": str(trial["ops"])}]
        last = shaping[-1]
        after = trial["ops"][trial["ops"].index(last) + 1:]
        maybe = [last] + [o for o in after if o.get("uncertain")]
        status = stack.stack_status if stack is not None else "GONE"
        if stack is None and any(o["kind"] == "delete" for o in maybe):
            return None, True, []
        if last["kind"] == "delete":
            return None, True, [{"kind": "not_deleted",
                                 "detail": status_of(stack)}]
        options = [trial["templates"][o["template"]] for o in maybe
                   if o["kind"] in ("create", "update")]
        tmpl = options[0]
        rolled = [o for o in after if o["kind"] in ("rollback", "cancel")
                  and (o["accepted"] or o.get("uncertain")) and
                  o.get("rollback", True)]
        if status == "ROLLBACK_COMPLETE":
            if not rolled:
                return tmpl, False, [{"kind": "wrong_final_state",
                                      "detail": "%s after %s" % (
                                          status, accepted[-1]["kind"])}]
            # Back to a known-good template: one of the trial's (or none).
            candidates = [None] + [
                trial["templates"][o["template"]] for o in trial["ops"]
                if o["kind"] in ("create", "update") and
                (o["accepted"] or o.get("uncertain"))]
            trial["_candidates"] = candidates
            current = shape(stack.template)
            for c in candidates:
                if shape(c) == current:
                    return c, False, []
            return stack.template, False, [{
                "kind": "wrong_rollback_target",
                "detail": "template %s is none of the trial's" % current}]
        if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            if rolled:
                trial["notes"].append("rollback requested, %s" % status)
            for option in options:
                if shape(stack.template) == shape(option):
                    return option, False, []
            return tmpl, False, [{"kind": "wrong_template",
                                  "detail": "heatflow's %s" % shape(
                                      stack.template)}]
        return tmpl, False, [{"kind": "op_failed",
                              "detail": status_of(stack)}]

    def _judge(self, trial, stack, settled_at, rnd):
        name = trial["stack"]
        if settled_at is None:
            trial["violations"].append({
                "kind": "stuck", "detail": "%s after %ss" % (
                    status_of(stack), self.args.bound)})
        else:
            tmpl, deleted, found = self._expected(trial, stack)
            trial["violations"] += found
            if found and found[0]["kind"] in ("op_failed", "not_deleted"):
                settled_at = None
        if settled_at is None:
            # Stuck or failed: the user tries once more, then we look.
            accepted = [o for o in trial["ops"] if o["accepted"]] or \
                trial["ops"]
            last = accepted[-1]
            kind = last["kind"] if last["kind"] in (
                "delete", "rollback") else "update"
            tmpl = trial["templates"][-1] if kind == "update" else None
            rec = self.issue(trial, kind, "lib", tmpl)
            trial["notes"].append("recovery %s accepted=%s" % (
                kind, rec["accepted"]))
            stack, settled_at = self.settle(name, self.args.bound)
            trial["final_after_recovery"] = status_of(stack)
            if settled_at is None:
                trial["violations"].append({
                    "kind": "stuck", "detail": "recovery: %s" % status_of(
                        stack)})
                return
            tmpl, deleted, found = self._expected(trial, stack)
            if found:
                trial["notes"].append("recovery: %s" % found)
                return
        time.sleep(self.args.grace)
        alive = {p: r for p, r in soak_cloud.reality().items()
                 if r.get("stack") == name}
        journal = [j for j in soak_cloud.journal() if j["stack"] == name]
        rows = None
        if stack is not None:
            try:
                rows = self.orch.list_resources(name)
            except Exception as e:
                trial["notes"].append("list_resources: %s" % e)
        found = check_resources(tmpl, alive, rows, settled_at, journal,
                                deleted=deleted)
        candidates = trial.pop("_candidates", ())
        zombies = [v for v in found if v["kind"] == "zombie_create"]
        for other in candidates if len(found) > len(zombies) else ():
            if shape(other) != shape(tmpl) and not [
                    v for v in check_resources(other, alive, None,
                                               settled_at, journal)
                    if v["kind"] != "zombie_create"]:
                # The cloud is exactly another known-good template (but
                # for a zombie's late creates): the rollback did the
                # right thing or another one, but heatflow reports a
                # template the cloud does not have.
                found = zombies + [{
                    "kind": "rollback_template_mismatch",
                    "detail": "the cloud is template %s, heatflow "
                    "reports %s" % (shape(other), shape(tmpl))}]
                break
        for v in found:
            v["diagnosis"] = self.explain(v, trial, journal)
        trial["violations"] += found
        trial["alive"] = len(alive)
        trial["journal_counts"] = count_events(journal)

    def _clean_up(self, trial):
        """Delete the stack, check again, and remove whatever is left so
        the next trial starts from a clean cloud."""
        name = trial["stack"]
        how, stack = self.state(name)
        if how != "gone":
            try:
                self.orch.delete_stack(name)
            except Exception as e:
                trial["notes"].append("clean-up delete: %s" % e)
            stack, settled_at = self.settle(name, self.args.bound)
            if settled_at is None:
                trial["violations"].append({
                    "kind": "stuck", "detail": "clean-up delete: %s after "
                    "%ss" % (status_of(stack), self.args.bound)})
            elif stack is not None:
                trial["notes"].append("clean-up delete ended %s"
                                      % status_of(stack))
            time.sleep(self.args.grace)
            left = {p: r for p, r in soak_cloud.reality().items()
                    if r.get("stack") == name}
            reported = {i for v in trial["violations"]
                        for i in v.get("ids", ())}
            new = sorted(set(left) - reported)
            if new and stack is None:
                journal = [j for j in soak_cloud.journal()
                           if j["stack"] == name]
                trial["violations"].append(violation(
                    "alive_after_delete", "(clean-up)", new, journal,
                    "the clean-up delete left %d" % len(new)))
        for pid, r in soak_cloud.reality().items():
            if r.get("stack") == name:
                soak_cloud.forget(pid)
        trial["restarted"] = self.top_up()

    def explain(self, v, trial, journal):
        """Who made each physical resource of a violation, when relative
        to the fault, and whether another conductor made the same
        resource again under another name."""
        fault = trial["fault"]
        out = []
        for pid in v.get("ids", ()):
            made = [j for j in journal if j["id"] == pid and
                    j["event"] == "create"]
            if not made:
                continue
            j = made[0]
            who = self.pids.get(j["pid"], "pid %d" % j["pid"])
            line = "%s created by %s" % (pid, who)
            if "at" in fault:
                line += " %+.2f s from the fault" % (j["time"] - fault["at"])
            if j["pid"] == fault.get("victim_pid"):
                line += " (the %s one)" % fault["kind"]
            again = [k for k in journal if k["event"] == "create" and
                     k["resource"] == j["resource"] and k["id"] != pid and
                     k["time"] > j["time"] and k["pid"] != j["pid"]]
            if again:
                line += "; %s then created %s as %s" % (
                    self.pids.get(again[0]["pid"], again[0]["pid"]),
                    j["resource"], again[0]["id"])
            out.append(line)
        return out

    # -- fault injection and takeover

    def _monitor(self, name, owners, stop):
        """Who runs which operation of the stack, every 50 ms:
        [(time, traversal, owner or None)]."""
        last = None
        while not stop.is_set():
            try:
                traversal = self.orch.db.store.find_stack(name).traversal
                who = self.cluster.owner(name)
            except Exception:
                traversal = who = None
            if (traversal, who) != last:
                owners.append((time.time(), traversal, who))
                last = (traversal, who)
            time.sleep(0.05)

    def _fault(self, trial, fault, at, owners):
        rec = trial["fault"]
        try:
            event, after = at
            if event is not None:
                event.wait(self.args.bound)
            time.sleep(after)
            # Prefer the conductor running the stack now.
            end = time.time() + 10
            while time.time() < end and not (owners and owners[-1][2]):
                time.sleep(0.05)
            _, traversal, owner = owners[-1] if owners else (0, None, None)
            rec["mid_operation"] = bool(owner)
            rec["traversal"] = traversal
            rec["at"] = time.time()
            rec["t"] = round(rec["at"] - trial["t0"], 2)
            if fault in ("sigkill", "sigstop"):
                alive = self.alive_conductors()
                victim = owner if owner in alive else random.choice(alive)
                rec["victim"] = victim
                rec["victim_pid"] = self.cluster.procs[victim].pid
                if fault == "sigkill":
                    self.cluster.kill(victim)
                    self.cluster.start_conductor()
                    self.conductor_pids()
                else:
                    self.cluster.kill(victim, signal.SIGSTOP)
                    time.sleep(self.args.session_timeout * 1.5)
                    self.cluster.kill(victim, signal.SIGCONT)
            elif fault == "zk_restart":
                self.zk.restart()
            else:
                self.pg.restart()
            rec["back"] = time.time()
        except Exception as e:
            rec["error"] = "%s: %s" % (type(e).__name__, e)

    def _takeover(self, trial, owners):
        """Seconds from the fault to another conductor claiming the
        stack's job, and to the first physical action after it."""
        rec = trial["fault"]
        if "at" not in rec:
            return
        t = rec["at"]
        victim = rec.get("victim")
        vpid = rec.get("victim_pid")
        journal = [j for j in soak_cloud.journal()
                   if j["stack"] == trial["stack"] and j["time"] > t and
                   j["pid"] != vpid]
        if rec.get("mid_operation"):
            # A claim of the same operation by another conductor: a new
            # operation (the soak's next step) is not a takeover.
            claims = [w for w, trav, who in owners if w > t and who and
                      who != victim]
            same = [w for w, trav, who in owners if w > t and who and
                    who != victim and trav == rec["traversal"]]
            if victim and same and same[0] == claims[0]:
                rec["claim_s"] = round(same[0] - t, 2)
                acts = [j for j in journal if j["time"] >= same[0]]
                if acts:
                    rec["action_s"] = round(acts[0]["time"] - t, 2)
            elif victim:
                rec["superseded_before_takeover"] = True
            elif journal:
                rec["action_s"] = round(journal[0]["time"] - t, 2)
        if "back" in rec:
            rec["outage_s"] = round(rec["back"] - t, 2)
        for key in ("at", "back"):
            if key in rec:
                rec[key + "_t"] = round(rec.pop(key) - trial["t0"], 2)


def status_of(stack):
    if stack is None:
        return "GONE"
    if isinstance(stack, str):
        return stack
    return "%s (%s)" % (stack.stack_status, (stack.status_reason or "")[:160])


STAMP = re.compile(r"^\d{4}-\d\d-\d\d [\d:,.]+ ")
EXC = re.compile(r"^[A-Za-z_][\w.]*(: |$)")
EMBEDDED = re.compile(r"([A-Za-z_][\w.]*: [^'\\]*)\\n'\]")


def traceback_ends(text):
    """One line per traceback in ``text``: the log message it came with
    and the exception it ends with."""
    out = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "Traceback (most recent call last)" not in line:
            continue
        if not line.startswith("Traceback"):
            # Logged as a list inside one line (oslo's excutils).
            head = STAMP.sub("", line.split("Traceback")[0])
            last = EMBEDDED.findall(line)
            out.append(("%s ... %s" % (head[:100], last[-1] if last
                                       else ""))[:240])
            continue
        chained = out and i >= 2 and lines[i - 2].startswith(
            ("During handling", "The above exception"))
        before = ""
        for prev in reversed(lines[max(0, i - 3):i]):
            if STAMP.match(prev):
                before = STAMP.sub("", prev)[:100]
                break
        for nxt in lines[i + 1:]:
            if nxt and not nxt.startswith((" ", "\t")) and \
                    EXC.match(nxt) and not nxt.startswith("Traceback"):
                if chained:     # the same report: its last exception
                    before, cause = out.pop().split(" | ", 1)
                    nxt = "%s (after %s)" % (nxt.strip(), cause)
                out.append(("%s | %s" % (before, nxt.strip()))[:240])
                break
    return out


def count_events(journal):
    out = {}
    for j in journal:
        out[j["event"]] = out.get(j["event"], 0) + 1
    return out


def late_sweep(trials, grace):
    """After the last trial: anything a trial's stack still has alive
    (each trial cleaned its own up) appeared later: a late leak."""
    time.sleep(grace)
    by_stack = {t["stack"]: t for t in trials}
    journal = soak_cloud.journal()
    for pid, r in soak_cloud.reality().items():
        t = by_stack.get(r.get("stack"))
        if t is not None:
            t["violations"].append(violation(
                "late_leak", r["resource"], [pid],
                [j for j in journal if j["stack"] == t["stack"]],
                "alive after the trial's clean-up"))
            print("late_leak in trial %d: %s" % (t["index"], pid))


# -- reporting ---------------------------------------------------------------

def trial_line(t, timeout):
    f = t["fault"]
    fault = f["kind"]
    if f.get("victim"):
        fault += "(%s%s)" % (f["victim"], "" if f.get("mid_operation")
                             else ", idle")
    elif not f.get("mid_operation"):
        fault += "(idle)"
    take = ""
    if "claim_s" in f:
        take = " takeover %.2fx" % (f["claim_s"] / timeout)
    ops = ",".join("%s:%s%s" % (o["iface"], o["kind"],
                                "" if o["accepted"] else
                                "?" if o.get("uncertain") else "!")
                   for o in t["ops"])
    verdict = "ok" if not t["violations"] else "VIOLATIONS " + ", ".join(
        sorted({v["kind"] for v in t["violations"]}))
    return "trial %3d seed %-6d %2d res %-22s %5.1fs %-16s %s%s  %s" % (
        t["index"], t["seed"], t["resources"], fault, t["secs"],
        t["final"].split(" ")[0], ops, take, verdict)


def summarize(trials, timeout):
    kinds = {}
    for t in trials:
        for v in t["violations"]:
            kinds.setdefault(v["kind"], []).append(t["seed"])
    takeover = {}
    for key in ("claim_s", "action_s"):
        for kind in ("sigkill", "sigstop"):
            xs = [t["fault"][key] / timeout for t in trials
                  if t["fault"]["kind"] == kind and key in t["fault"]]
            if xs:
                takeover["%s %s" % (kind, key[:-2])] = {
                    "n": len(xs), "min": round(min(xs), 2),
                    "median": round(statistics.median(xs), 2),
                    "max": round(max(xs), 2)}
    resume = {}
    for kind in ("zk_restart", "pg_restart"):
        xs = [t["fault"]["action_s"] for t in trials
              if t["fault"]["kind"] == kind and "action_s" in t["fault"]]
        if xs:
            resume[kind] = {"n": len(xs), "min_s": min(xs),
                            "median_s": statistics.median(xs),
                            "max_s": max(xs)}
    return {
        "trials": len(trials),
        "clean": sum(1 for t in trials if not t["violations"]),
        "faults": {k: sum(1 for t in trials if t["fault"]["kind"] == k)
                   for k in FAULTS},
        "faults_mid_operation": sum(1 for t in trials
                                    if t["fault"].get("mid_operation")),
        "violations": {k: {"count": len(v), "trials": len(set(v)),
                           "seeds": sorted(set(v))}
                       for k, v in sorted(kinds.items())},
        "tracebacks_by_source": traceback_sources(trials),
        "takeover_x_session_timeout": takeover,
        "first_action_after_fault": resume,
        "ops": count_ops(trials),
    }


def traceback_sources(trials):
    """Seeds of the trials with a traceback, by what logged it (the log
    message without the conductor's name) and the exception."""
    out = {}
    for t in trials:
        for v in t["violations"]:
            if v["kind"] != "traceback":
                continue
            source = re.sub(r"^cond\d+: ", "", v["detail"])
            source = re.sub(r"\bcond\d+\b", "condN", source)
            source = re.sub(r"\(after .*", "", source)[:120].strip()
            out.setdefault(source, set()).add(t["seed"])
    return {k: sorted(v) for k, v in sorted(out.items())}


def count_ops(trials):
    out = {}
    for t in trials:
        for o in t["ops"]:
            key = "%s %s" % (o["iface"], o["kind"])
            ok, no = out.get(key, (0, 0))
            out[key] = (ok + o["accepted"], no + (not o["accepted"]))
    return {k: {"accepted": a, "refused": r} for k, (a, r) in
            sorted(out.items())}


def print_summary(s, secs):
    print("\n%d trials in %.0f s: %d without violations; faults %s "
          "(%d mid-operation)" % (s["trials"], secs, s["clean"],
                                  s["faults"], s["faults_mid_operation"]))
    for kind, v in s["violations"].items():
        print("  %-22s %3d in %3d trials, seeds %s" % (
            kind, v["count"], v["trials"], v["seeds"]))
    for source, seeds in s.get("tracebacks_by_source", {}).items():
        print("    traceback in %2d trials: %s" % (len(seeds), source))
    for kind, v in s["takeover_x_session_timeout"].items():
        print("  takeover %-16s n=%-3d min %.2fx median %.2fx max %.2fx "
              "session timeout" % (kind, v["n"], v["min"], v["median"],
                                   v["max"]))
    for kind, v in s["first_action_after_fault"].items():
        print("  first action after %-10s n=%-3d min %.1f s median %.1f s "
              "max %.1f s" % (kind, v["n"], v["min_s"], v["median_s"],
                              v["max_s"]))


# -- main --------------------------------------------------------------------

def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1,
                    help="trial i uses seed + i")
    ap.add_argument("--conductors", type=int, default=3)
    ap.add_argument("--session-timeout", type=float, default=4.0)
    ap.add_argument("--max-resources", type=int, default=8,
                    help="3 to this many resources per template (<= 15)")
    ap.add_argument("--faults", default=",".join(FAULTS),
                    help="comma-separated subset of " + ",".join(FAULTS))
    ap.add_argument("--bound", type=float, default=120,
                    help="seconds an operation may take to settle")
    ap.add_argument("--grace", type=float, default=3,
                    help="seconds to wait after settling before looking "
                    "(a zombie's late side effect)")
    ap.add_argument("--cli-timeout", type=float, default=90)
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (logs, cloud, journal)")
    ap.add_argument("--report", metavar="JSON",
                    help="print the trials and the summary of a saved "
                    "results file")
    args = ap.parse_args(argv)
    args.faults = [f for f in args.faults.split(",") if f]
    if set(args.faults) - set(FAULTS) or not args.faults:
        ap.error("--faults: choose from %s" % ",".join(FAULTS))
    args.max_resources = max(3, min(15, args.max_resources))
    return args


def _on_sigterm(signum, frame):
    raise Interrupted()


def report(path):
    with open(path) as f:
        results = json.load(f)
    timeout = results["args"]["session_timeout"]
    for trial in results["trials"]:
        print(trial_line(trial, timeout))
    print_summary(summarize(results["trials"], timeout),
                  sum(t["secs"] for t in results["trials"]))
    return 0


def main(argv=None):
    args = parse(argv)
    if args.report:
        return report(args.report)
    signal.signal(signal.SIGTERM, _on_sigterm)
    from tests import servers
    servers.reap_stale()
    work = tempfile.mkdtemp(prefix="heatflow-soak-")
    os.environ[soak_cloud.ENV] = os.path.join(work, "cloud")
    os.environ["HEATFLOW_TEST_CLOUD"] = os.path.join(work, "test-cloud")
    os.environ["HEATFLOW_PLUGIN_DIRS"] = PLUGIN_DIR
    # This process's own logs (kazoo reconnecting, heatflow retrying the
    # database during an outage) go to a file, not between the lines.
    logging.basicConfig(filename=os.path.join(work, "soak.log"),
                        level=logging.INFO)
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(BENCH, "results", "soak-%s.json" % stamp)
    results = {"started": stamp, "argv": sys.argv[1:],
               "args": vars(args), "machine": common.machine(),
               "trials": []}
    master = random.Random(args.seed)
    faults = []
    zk = pg = soak = None
    began = time.time()
    code = 0
    try:
        zk, pg = servers.ZooKeeperServer(), servers.PostgresServer()
        zk.start()
        pg.start()
        soak = Soak(args, work, zk, pg)
        print("ZooKeeper %s, PostgreSQL %s, %d conductors, session "
              "timeout %ss, work dir %s" % (zk.hosts, pg.port,
                                            args.conductors,
                                            args.session_timeout, work),
              flush=True)
        for i in range(args.trials):
            if not faults:              # every fault as often, in turn
                faults = list(args.faults)
                master.shuffle(faults)
            seed = args.seed + i
            try:
                trial = soak.run_trial(i, seed, faults.pop())
            except (KeyboardInterrupt, Interrupted):
                raise
            except Exception:
                traceback.print_exc()
                code = 2
                break
            results["trials"].append(trial)
            print(trial_line(trial, args.session_timeout), flush=True)
            for v in trial["violations"]:
                print("    %s %s %s: %s" % (
                    v["kind"], v.get("resource", ""), v.get("ids", ""),
                    v["detail"][:300]), flush=True)
                for line in v.get("diagnosis", ()):
                    print("      " + line, flush=True)
            results["summary"] = summarize(results["trials"],
                                           args.session_timeout)
            with open(path, "w") as f:      # saved after every trial
                json.dump(results, f, indent=1, default=str)
        late_sweep(results["trials"], args.grace)
        results["summary"] = summarize(results["trials"],
                                       args.session_timeout)
        with open(path, "w") as f:
            json.dump(results, f, indent=1, default=str)
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted: cleaning up", flush=True)
        code = 130
    finally:
        for closing in (soak and soak.cluster, pg, zk):
            if closing is not None:
                try:
                    closing.close()
                except Exception as e:
                    print("clean-up: %s" % e, file=sys.stderr)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if results["trials"]:
        print_summary(summarize(results["trials"], args.session_timeout),
                      time.time() - began)
        print("Results: %s" % os.path.relpath(path))
    return code


if __name__ == "__main__":
    sys.exit(main())
