"""An update arriving while the create is still running.

    python examples/update_during_update.py [DB_URL]

The create of a three-tier stack is under way (each tier takes a second)
when an update changes the web tier and adds a cache.  The update does not
wait for the create, and does not interrupt it either: the action in flight
finishes and is recorded, no new action starts for the old operation, and
the update continues from what is recorded.  At the end exactly the
update's resources exist, each once.
"""

import os
import sys
import tempfile
import time

import heatflow


def tier(value, after=None):
    res = {"type": "OS::Heat::TestResource",
           "properties": {"value": value,
                          "action_wait_secs": {"create": 1, "update": 1}}}
    if after:
        res["depends_on"] = after
    return res


CREATE = {"heat_template_version": "2018-08-31",
          "resources": {"db": tier("db v1"),
                        "app": tier("app v1", "db"),
                        "web": tier("web v1", "app")}}

UPDATE = {"heat_template_version": "2018-08-31",
          "resources": {"db": tier("db v1"),
                        "app": tier("app v1", "db"),
                        "web": tier("web v2", "app"),
                        "cache": tier("cache v1", "db")}}


def main(db_url=None):
    if db_url is None:
        db_url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "uu.db")
    with heatflow.Orchestrator(db_url) as orch:
        orch.create_stack("tiers", CREATE)
        time.sleep(1.5)          # the create is half way: db done, app busy
        print("before the update:", orch.get_stack("tiers").stack_status)
        for r in orch.list_resources("tiers"):
            print("  ", r.name, r.resource_status)

        stack = orch.update_stack("tiers", UPDATE).wait(timeout=60)
        print("after the update: ", stack.stack_status)
        for r in orch.list_resources("tiers"):
            print("  ", r.name, r.resource_status, r.physical_resource_id)
        print("events:")
        for e in orch.list_events("tiers"):
            print("  ", e.resource_name, e.resource_status, e.reason)
        orch.delete_stack("tiers").wait(timeout=60)
        return stack


if __name__ == "__main__":
    main(*sys.argv[1:])
