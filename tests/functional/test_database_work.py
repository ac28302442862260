"""The database work of an operation grows linearly with the stack: each
resource added costs the same statements, whatever the stack's size (the
budgets of docs/performance.rst, counted rather than timed).  A clean-up
that read the whole stack for each replaced resource once made a 1,000
resource replacement take 44 s instead of 4."""

import sqlalchemy as sa

import heatflow
from heatflow.plugins import none


class OtherNone(none.NoneResource):
    """OS::Heat::None under another name: a type change replaces."""


def _template(n, rtype):
    return {"heat_template_version": "2018-08-31", "resources": {
        "r%d" % i: {"type": rtype,
                    **({"depends_on": "r%d" % (i - 1)} if i % 4 else {})}
        for i in range(n)}}


def _statements(tmp_path, n):
    """Statements of a create, and of a replacement of every resource."""
    counts = {}
    with heatflow.Orchestrator("sqlite:///%s/%d.db" % (tmp_path, n)) as orch:
        orch.register_plugin("Test::OtherNone", OtherNone)
        seen = []
        sa.event.listen(orch.db.engine, "before_cursor_execute",
                        lambda *args: seen.append(1))
        for op, rtype in (("create", "OS::Heat::None"),
                          ("replace", "Test::OtherNone")):
            del seen[:]
            if op == "create":
                stack = orch.create_stack("s", _template(n, rtype))
            else:
                stack = orch.update_stack("s", _template(n, rtype))
            assert stack.wait(60).status == "COMPLETE"
            counts[op] = len(seen)
    return counts


def test_each_resource_costs_the_same_statements_at_any_size(tmp_path):
    small, large = _statements(tmp_path, 20), _statements(tmp_path, 60)
    per_resource = {op: (large[op] - small[op]) / 40 for op in small}
    # docs/performance.rst, budget 2: 6 to create, 15 to replace (the
    # replacement's create and the original's clean-up).
    assert per_resource["create"] <= 6.0, per_resource
    assert per_resource["replace"] <= 15.0, per_resource
