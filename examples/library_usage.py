"""heatflow as a library: register a plugin, create a stack, read it back,
delete it.

    python examples/library_usage.py [DB_URL]

Uses a throw-away SQLite file unless a database URL is given.
"""

import os
import sys
import tempfile

import heatflow

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "plugins"))
import widget  # noqa: E402  (the example plugin next to this script)

TEMPLATE = """
heat_template_version: 2018-08-31
parameters:
  size:
    type: number
    default: 3
resources:
  small:
    type: Acme::Widget
    properties: {size: 1}
  big:
    type: Acme::Widget
    properties:
      size: {get_param: size}
      colour: red
    depends_on: small
outputs:
  big_url:
    description: Where the big widget lives.
    value: {get_attr: [big, url]}
"""


def main(db_url=None):
    if db_url is None:
        db_url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "demo.db")
    with heatflow.Orchestrator(db_url) as orch:
        orch.register_plugin("Acme::Widget", widget.Widget)

        # Returns at once; the stack is created in the background.
        op = orch.create_stack("widgets", TEMPLATE, parameters={"size": 5})
        stack = op.wait(timeout=60)
        print("stack", stack.name, stack.stack_status)
        print("outputs", stack.outputs)
        for res in orch.list_resources("widgets"):
            print(" ", res.name, res.type, res.physical_resource_id,
                  res.resource_status)
        print("widgets in the cloud:", dict(widget.WIDGETS))

        # Bad input is refused before anything is touched.
        try:
            orch.create_stack("broken", TEMPLATE, parameters={"size": 40})
        except heatflow.exception.StackValidationFailed as exc:
            print("refused:", exc)

        stack = orch.delete_stack("widgets").wait(timeout=60)
        print("stack", stack.name, stack.stack_status)
        print("widgets in the cloud:", dict(widget.WIDGETS))
        return stack


if __name__ == "__main__":
    main(*sys.argv[1:])
