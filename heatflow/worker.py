"""``python -m heatflow.worker [--db-url URL] [--plugin-dir DIR]... STACK``

Runs (or resumes) the current operation of one stack from what the database
records, and exits when it settles.  Started detached by
``Orchestrator(detach=True)`` so that an operation begun by a short-lived
process, such as ``heatflow stack create`` without ``--wait``, completes
after that process has exited.
"""

import argparse
import logging
import sys

from heatflow import api


def main(argv=None):
    parser = argparse.ArgumentParser(prog="heatflow-worker")
    parser.add_argument("--db-url")
    parser.add_argument("--plugin-dir", action="append", default=[])
    parser.add_argument("stack_id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    orch = api.Orchestrator(args.db_url, plugin_dirs=args.plugin_dir,
                            resume=False)
    try:
        row = orch.db.store.get_stack_by_id(args.stack_id)
        if row.status != "IN_PROGRESS" or not row.flow_uuid:
            return 0
        if orch._runner.resume(row):
            orch._runner.done_event(row.flow_uuid).wait()
    finally:
        orch.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
