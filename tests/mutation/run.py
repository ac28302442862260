"""Mutation testing: does a planted bug make a test fail?

cosmic-ray (from PyPI) plants one small bug at a time (a comparison turned
round, a condition negated, a constant changed, ...) in the modules whose
bugs matter most, and runs the tests meant to catch them; a mutant no test
notices *survived*.  ``docs/mutation.rst`` has the score and what survived,
with why each survivor is equivalent or accepted.

    tox -e mutation                         # every target (hours)
    tox -e mutation -- flows/driver.py      # one target
    tox -e mutation -- --report             # what the sessions hold
    tox -e mutation -- --sample 30 --seed 1 flows/atoms.py   # a sample

On demand, never in CI.  Each target's session is kept in
``.mutation/<target>.sqlite``: a run that is interrupted goes on where it
stopped, and ``--fresh`` starts it again.

cosmic-ray mutates the file *in place* (the editable install imports it
from the tree): the runner refuses a target with uncommitted changes, and
checks that it is restored afterwards.  A run killed with SIGKILL may leave
a mutant behind: ``git checkout -- <target>`` restores it.

``--sample N --seed S`` runs only N mutants drawn at random (reproducibly:
the same N, seed and source give the same mutants); the report then gives
the score with its 95% confidence interval, since a sample estimates the
score of all the target's mutants rather than measuring it.
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SESSIONS = os.path.join(ROOT, ".mutation")

UNIT = "tests/unit"
SCENARIOS = "tests/scenarios"
RESUME = ["tests/functional/test_resume.py"]
CONDUCTORS = ["tests/functional/test_conductor.py",
              "tests/functional/test_outages.py",
              "tests/functional/test_zombies.py"]

# What the atoms' modules (flows/atoms.py, converge.py, undo.py, guard.py,
# cleanup.py:
# one file until the split of issue 17) are tested by.  The API tests and
# the timeout tests are where a failure's reason is checked word for word
# (fast: in-process, seconds).
ATOM_TESTS = [UNIT, SCENARIOS] + RESUME + [
    "tests/functional/test_api.py", "tests/functional/test_timeouts.py"]

#: target -> the tests meant to catch its bugs, fastest first (the run
#: stops at the first failure: a mutant killed early costs little).
TARGETS = {
    "flows/driver.py": ["tests/unit/test_driver.py", UNIT, SCENARIOS],
    "flows/atoms.py": ATOM_TESTS,
    "flows/converge.py": ["tests/unit/test_convergence.py"] + ATOM_TESTS,
    "flows/undo.py": ATOM_TESTS,
    "flows/cleanup.py": ATOM_TESTS,
    "flows/guard.py": ATOM_TESTS,
    "flows/convergence.py": ["tests/unit/test_convergence.py", UNIT,
                             SCENARIOS],
    "flows/compiler.py": ["tests/unit/test_compiler.py", UNIT, SCENARIOS],
    # (which plugins an operation needs: checked by the plugin trouble
    # tests, in-process and fast)
    "flows/runtime.py": ["tests/unit/test_runtime.py", UNIT, SCENARIOS,
                         "tests/functional/test_plugin_trouble.py"],
    "flows/engine.py": ["tests/unit/test_engine.py", UNIT, SCENARIOS]
    + RESUME,
    # (check, suspend, resume: their stories in-process first, then on
    # conductors, a conductor killed mid-action)
    "flows/act.py": ["tests/functional/test_stack_actions.py",
                     "tests/unit/test_states.py",
                     "tests/functional/test_stack_actions_conductors.py"],
    "flows/orphans.py": ["tests/unit/test_orphans.py",
                         "tests/functional/test_zombies.py"],
    "persistence/store.py": ["tests/unit/test_store.py", UNIT, SCENARIOS]
    + RESUME,
    "persistence/resources.py": ["tests/unit/test_store.py", UNIT,
                                 SCENARIOS] + RESUME,
    "flows/execution.py": ["tests/unit/test_execution.py", UNIT,
                           SCENARIOS] + RESUME +
    ["tests/functional/test_disk_full.py"],
    # (declining a job for a missing plugin: only the plugin tests do it)
    "heatflow/runners/conductor.py": CONDUCTORS + [
        "tests/functional/test_conductor_plugins.py"],
    "heatflow/runners/watchdog.py": ["tests/unit/test_watchdog.py"] +
    CONDUCTORS + ["tests/functional/test_conductor_plugins.py",
                  "tests/functional/test_metrics.py"],
}

CONFIG = """\
[cosmic-ray]
module-path = "{target}"
timeout = {timeout}
excluded-modules = []
test-command = "{python} -m pytest -x -q -p no:cacheprovider {tests}"

[cosmic-ray.distributor]
name = "local"
"""


#: The result marking a mutant left out of a sample (cosmic-ray skips any
#: work item that already has a result, as it does for the pragma).
NOT_SAMPLED = "not in the sample"


def _session(target):
    return os.path.join(SESSIONS, target.replace("/", "_") + ".sqlite")


def _dirty(target):
    out = subprocess.run(["git", "status", "--porcelain", "--", target],
                         cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return bool(out.strip())


def _test_command(target):
    # Unique test paths, in order (a file given before its directory runs
    # first, and pytest does not run it twice).
    return " ".join(dict.fromkeys(TARGETS[target]))


def _baseline(target):
    """Seconds the target's tests take unmutated (they must pass)."""
    started = time.monotonic()
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p",
           "no:cacheprovider"] + list(dict.fromkeys(TARGETS[target]))
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        sys.exit("the tests of %s fail without any mutant: fix them first"
                 % target)
    return time.monotonic() - started


def _keep_sample(session, size, seed):
    """Mark all but ``size`` random mutants of a new session as skipped."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult
    with use_db(session, WorkDB.Mode.open) as db:
        skipped = {job_id for job_id, _ in db.results}  # the pragma's
        # Job ids are random UUIDs, new at each init: order the mutants by
        # where they are and what they do so a seed draws the same ones.
        candidates = sorted(
            (w for w in db.work_items if w.job_id not in skipped),
            key=lambda w: [(str(m.module_path), m.start_pos, m.end_pos,
                            m.operator_name, m.occurrence)
                           for m in w.mutations])
        kept = random.Random(seed).sample(candidates,
                                          min(size, len(candidates)))
        left_out = set(w.job_id for w in candidates) - set(
            w.job_id for w in kept)
        db.set_multiple_results(left_out, WorkResult(
            worker_outcome=WorkerOutcome.SKIPPED, output=NOT_SAMPLED))


def run(target, fresh=False, sample=None, seed=0):
    if _dirty(target):
        sys.exit("%s has uncommitted changes; cosmic-ray mutates it in "
                 "place: commit or stash them first" % target)
    os.makedirs(SESSIONS, exist_ok=True)
    session = _session(target)
    config = session[:-len(".sqlite")] + ".toml"
    if fresh or not os.path.exists(session):
        # A mutant that hangs costs a few baselines, then counts as
        # killed by the timeout.
        timeout = max(60, round(3 * _baseline(target)))
        with open(config, "w") as f:
            f.write(CONFIG.format(target=target, timeout=timeout,
                                  python=sys.executable,
                                  tests=_test_command(target)))
        subprocess.run(["cosmic-ray", "init", config, session], cwd=ROOT,
                       check=True)
        # '# pragma: no mutate' on a line skips it (docs/mutation.rst says
        # which and why).
        subprocess.run(["cr-filter-pragma", session], cwd=ROOT, check=True)
        if sample:
            _keep_sample(session, sample, seed)
    elif sample:
        print("%s: resuming its session as it was drawn; --fresh draws a "
              "new sample" % target, file=sys.stderr)
    try:
        subprocess.run(["cosmic-ray", "exec", config, session], cwd=ROOT,
                       check=True)
    finally:
        if _dirty(target):
            print("WARNING: %s was left mutated; restore it with "
                  "'git checkout -- %s'" % (target, target), file=sys.stderr)


def wilson(killed, decided, z=1.96):
    """95% confidence interval of a score measured on a random sample.

    Wilson's interval, not p +- z*sqrt(p(1-p)/n): that one collapses to a
    single point when every sampled mutant was killed, and small samples
    with scores near 100% are exactly what we have.
    """
    if not decided:
        return None
    p = killed / decided
    centre = (p + z * z / (2 * decided)) / (1 + z * z / decided)
    half = (z / (1 + z * z / decided)) * math.sqrt(
        p * (1 - p) / decided + z * z / (4 * decided * decided))
    return round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)


def summary(target):
    """Counts and survivors of a target's session (None if it has none)."""
    from cosmic_ray.work_db import WorkDB, use_db
    session = _session(target)
    if not os.path.exists(session):
        return None
    counts = {"total": 0, "killed": 0, "survived": 0, "incompetent": 0,
              "skipped": 0, "not_sampled": 0, "pending": 0}
    survivors = []
    with use_db(session, WorkDB.Mode.open) as db:
        items = {w.job_id: w for w in db.work_items}
        counts["total"] = len(items)
        done = set()
        for job_id, result in db.results:
            done.add(job_id)
            outcome = result.test_outcome
            if outcome is None:
                counts["not_sampled" if result.output == NOT_SAMPLED
                       else "skipped"] += 1
                continue
            counts[outcome.value] += 1
            if outcome.value == "survived":
                m = items[job_id].mutations[0]
                survivors.append({
                    "line": m.start_pos[0],
                    "operator": m.operator_name.rsplit("/", 1)[-1],
                    "diff": [ln for ln in (result.diff or "").splitlines()
                             if ln[:1] in "+-" and ln[:3] not in ("+++",
                                                                  "---")]})
        counts["pending"] = counts["total"] - len(done)
    decided = counts["killed"] + counts["survived"]
    counts["score"] = round(counts["killed"] / decided, 3) if decided \
        else None
    # Only a sample estimates something larger than itself.
    counts["ci95"] = wilson(counts["killed"], decided) \
        if counts["not_sampled"] else None
    return {"counts": counts,
            "survivors": sorted(survivors, key=lambda s: s["line"])}


def report(targets, as_json=False):
    rows = {t: summary(t) for t in targets}
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    killed = survived = 0
    for target, got in rows.items():
        if got is None:
            print("%-24s no session" % target)
            continue
        c = got["counts"]
        killed += c["killed"]
        survived += c["survived"]
        sampled = ""
        if c["not_sampled"]:
            sampled = "  (a random sample of %d of them; 95%% CI %s-%s)" % (
                c["total"] - c["not_sampled"] - c["skipped"], *c["ci95"]) \
                if c["ci95"] else "  (a sample, nothing decided yet)"
        print("%-24s %4d mutants  %4d killed  %4d survived  %3d "
              "incompetent  %4d pending  score %s%s"
              % (target, c["total"], c["killed"], c["survived"],
                 c["incompetent"], c["pending"], c["score"], sampled))
        for s in got["survivors"]:
            print("    %s:%d %s  %s"
                  % (target, s["line"], s["operator"], " | ".join(s["diff"])))
    if killed + survived:
        print("overall: %d killed of %d decided: %.1f%%"
              % (killed, killed + survived,
                 100.0 * killed / (killed + survived)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", help="default: all of "
                        + ", ".join(TARGETS))
    parser.add_argument("--report", action="store_true",
                        help="only report what the sessions hold")
    parser.add_argument("--json", action="store_true",
                        help="the report as JSON")
    parser.add_argument("--fresh", action="store_true",
                        help="start the targets' sessions again")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="a new session runs only N random mutants")
    parser.add_argument("--seed", type=int, default=0,
                        help="the sample's random seed (default 0)")
    args = parser.parse_args(argv)
    targets = args.targets or list(TARGETS)
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        parser.error("unknown target(s) %s; known: %s"
                     % (", ".join(unknown), ", ".join(TARGETS)))
    if not args.report:
        for target in targets:
            run(target, fresh=args.fresh, sample=args.sample,
                seed=args.seed)
    report(targets, as_json=args.json)


if __name__ == "__main__":
    main()
