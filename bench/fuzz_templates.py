"""The long fuzz run of the template pipeline.

    python bench/fuzz_templates.py --examples 20000 [--seed N] [-k EXPR]

Runs the properties of tests/unit/test_fuzz.py with ``--examples`` examples
per property (randomised unless ``--seed`` is given) instead of the small
CI budget.  Every input must load/bind/validate or raise
StackValidationFailed; any other exception or a hang fails the run, and
hypothesis prints the shrunk example that caused it.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TEST_FILE = os.path.join(ROOT, "tests", "unit", "test_fuzz.py")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20000,
                        help="examples per property (default 20000)")
    parser.add_argument("--seed", type=int, default=None,
                        help="a fixed hypothesis seed (default: random)")
    parser.add_argument("-k", dest="keyword", default=None,
                        help="only the properties matching this pytest "
                             "expression")
    args = parser.parse_args(argv)
    env = dict(os.environ, HEATFLOW_FUZZ_EXAMPLES=str(args.examples))
    env.pop("HEATFLOW_FUZZ_RANDOM", None)
    cmd = [sys.executable, "-m", "pytest", TEST_FILE, "-q",
           "-p", "no:cacheprovider"]
    if args.seed is None:
        env["HEATFLOW_FUZZ_RANDOM"] = "1"
    else:
        cmd.append("--hypothesis-seed=%d" % args.seed)
    if args.keyword:
        cmd += ["-k", args.keyword]
    start = time.monotonic()
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    print("fuzz_templates: %d examples per property, %.0f s, %s"
          % (args.examples, time.monotonic() - start,
             "OK" if rc == 0 else "FAILED"))
    return rc


if __name__ == "__main__":
    sys.exit(main())
