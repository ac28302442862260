"""Heat's own plugins, from the openstack-heat wheel, on heatflow: only
their import lines rewritten (tests/heat_wheel.py), nothing else touched
(issue 18).

Each runs through a create, an update Heat makes in place, an update
Heat makes by replacement (or, for a type Heat never replaces, in place
again), ``get_attr`` outputs at every step and a delete; what it made
outside the stack (software configs in heatflow's database, key pairs and
networks in the fake cloud of tests/plugins/fake_openstack.py) must be
gone at the end, and a replaced one gone after its replacement.

Without the wheel (no network) the tests skip; in CI (``CI=true``) that is
a failure.
"""

import importlib
import os

import pytest
import sqlalchemy as sa

from tests import heat_wheel
from tests.plugins import fake_openstack


@pytest.fixture(scope="module")
def ported():
    try:
        return heat_wheel.ported()
    except heat_wheel.WheelUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture
def heat(ported, orch):
    """``orch`` with every ported module's resource types registered, and
    the fake cloud's client plugins."""
    for module in heat_wheel.MODULES:
        if module in UNPORTABLE:
            continue
        mod = importlib.import_module("%s.%s" % (heat_wheel.PACKAGE, module))
        for name, cls in getattr(mod, "resource_mapping", dict)().items():
            orch.register_plugin(name, cls)
    fake_openstack.CLOUD.reset()
    fake_openstack.register()
    yield orch
    fake_openstack.unregister()


#: Modules that cannot be imported yet, and why: both subclass, when the
#: module is imported, Heat classes of features heatflow does not have.
UNPORTABLE = {
    "structured_config": "StructuredDeployment(s) subclass "
                         "software_deployment's classes (signals)",
    "generic_resource": "SignalResource, StackUserResource and "
                        "StackResourceType subclass signal_responder, "
                        "stack_user and stack_resource",
}


def hot(resources, outputs):
    return {"heat_template_version": "2018-08-31", "resources": resources,
            "outputs": outputs}


def configs(orch):
    with orch.db.engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT id FROM hf_software_configs")).scalars().all()


def cloud(orch):
    """What exists outside the stack: configs, key pairs, networks."""
    c = fake_openstack.CLOUD
    return sorted(configs(orch)) + sorted(c.keypairs) + sorted(c.networks)


def any_text(value):
    return isinstance(value, str) and value


class Case:
    """One plugin's run: the properties (and metadata) at each step and
    the outputs Heat gives then (a value, or a predicate)."""

    def __init__(self, type_name, create, in_place, replace, outputs,
                 replaced=True, others=None, external=True, metadata=None,
                 stored=None):
        self.type = type_name
        self.steps = [create, in_place, replace]
        self.outputs = outputs
        self.replaced = replaced        # Heat's outcome of the third step
        self.others = others or {}
        self.external = external        # makes something outside
        self.metadata = metadata        # the in-place step's, if any
        self.stored = stored            # a software config's, per step

    def template(self, step):
        rsrc = {"type": self.type, "properties": self.steps[step]}
        if step >= 1 and self.metadata:
            rsrc["metadata"] = self.metadata
        outs = {name: {"value": {"get_attr": ["r", name]}}
                for name in self.outputs}
        return hot(dict(self.others, r=rsrc), outs)


SCRIPT = "#!/bin/sh\necho %s\n"
ONE_INPUT = [{"name": "x"}]

CASES = {
    # Heat never replaces None (its _needs_update is False), whatever the
    # properties, and takes any.
    "none": Case("OS::Heat::None", {"a": 1}, {"a": 2}, {"b": [3]},
                 {"anything": [None] * 3}, replaced=False, external=False),
    "ha_restarter": Case("OS::Heat::HARestarter", {"InstanceId": "i-1"},
                         {"InstanceId": "i-2"}, {"Other": 1}, {},
                         replaced=False, external=False),
    "value": Case("OS::Heat::Value", {"value": 42, "type": "number"},
                  {"value": [1, 2], "type": "comma_delimited_list"},
                  {"value": {"k": "v"}, "type": "json"},
                  {"value": [42, [1, 2], {"k": "v"}]}, replaced=False,
                  external=False),
    "random_string": Case(
        "OS::Heat::RandomString", {"length": 12},
        {"length": 12}, {"length": 20, "sequence": "digits"},
        {"value": [lambda v: len(v) == 12, lambda v: len(v) == 12,
                   lambda v: len(v) == 20 and v.isdigit()]},
        external=False, metadata={"note": "metadata only: in place"}),
    "test_resource": Case(
        "OS::Heat::TestResource", {"value": "a"}, {"value": "b"},
        {"value": "c", "update_replace": True},
        {"output": ["a", "b", "c"]}, external=False),
    # Delay has no handle_update: Heat's default replaces it on any
    # property change, update_allowed or not.
    "delay": Case("OS::Heat::Delay", {"min_wait": 0, "actions": ["CREATE"]},
                  {"min_wait": 0, "actions": ["CREATE"]},
                  {"min_wait": 0.1, "actions": ["CREATE", "DELETE"]}, {},
                  external=False, metadata={"m": 1}),
    "access_policy": Case(
        "OS::Heat::AccessPolicy", {"AllowedResources": ["a"]},
        {"AllowedResources": ["a"]}, {"AllowedResources": ["a", "b"]}, {},
        others={"a": {"type": "OS::Heat::None"},
                "b": {"type": "OS::Heat::None"}},
        external=False, metadata={"m": 1}),
    "software_config": Case(
        "OS::Heat::SoftwareConfig",
        {"config": SCRIPT % 1, "inputs": ONE_INPUT},
        {"config": SCRIPT % 1, "inputs": ONE_INPUT},
        {"config": SCRIPT % 2, "group": "script"},
        {"config": [SCRIPT % 1, SCRIPT % 1, SCRIPT % 2]},
        metadata={"m": 1}, stored=[SCRIPT % 1] * 2 + [SCRIPT % 2]),
    "cloud_config": Case(
        "OS::Heat::CloudConfig", {"cloud_config": {"runcmd": ["a"]}},
        {"cloud_config": {"runcmd": ["a"]}},
        {"cloud_config": {"runcmd": ["b"]}},
        {"config": ["#cloud-config\nruncmd:\n- a\n"] * 2 +
         ["#cloud-config\nruncmd:\n- b\n"]},
        metadata={"m": 1}),
    "multipart_mime": Case(
        "OS::Heat::MultipartMime", {"parts": [{"config": SCRIPT % 1}]},
        {"parts": [{"config": SCRIPT % 1}]},
        {"parts": [{"config": SCRIPT % 2, "subtype": "x-shellscript"}]},
        {"config": [lambda v: SCRIPT % 1 in v and "multipart" in v] * 2 +
         [lambda v: SCRIPT % 2 in v and "x-shellscript" in v]},
        metadata={"m": 1}),
    "software_component": Case(
        "OS::Heat::SoftwareComponent",
        {"configs": [{"actions": ["CREATE"], "config": "c1",
                      "tool": "script"}]},
        {"configs": [{"actions": ["CREATE"], "config": "c1",
                      "tool": "script"}]},
        {"configs": [{"actions": ["DELETE"], "config": "c2",
                      "tool": "script"}]},
        # Its own attribute, configs, is not in the schema it inherits:
        # Heat refuses get_attr of it, and its config is None.
        {"config": [None] * 3}, metadata={"m": 1},
        stored=[{"configs": [{"actions": ["CREATE"], "config": "c1",
                              "tool": "script"}]}] * 2 +
        [{"configs": [{"actions": ["DELETE"], "config": "c2",
                       "tool": "script"}]}]),
    "nova_keypair": Case(
        "OS::Nova::KeyPair", {"name": "k1", "save_private_key": True},
        {"name": "k1", "save_private_key": True}, {"name": "k2"},
        {"public_key": [any_text] * 3,
         "private_key": [any_text, any_text, ""]},
        metadata={"m": 1}),
    # Replaced under the same name: its prepare_for_replace() deletes the
    # key pair first, as Heat has it do (names are unique in Nova).
    "nova_keypair_same_name": Case(
        "OS::Nova::KeyPair", {"name": "k1", "save_private_key": True},
        {"name": "k1", "save_private_key": True},
        {"name": "k1", "save_private_key": False},
        {"public_key": [any_text] * 3,
         "private_key": [any_text, any_text, ""]},
        metadata={"m": 1}),
    "neutron_net": Case(
        "OS::Neutron::Net", {"name": "n1"},
        {"name": "n2", "admin_state_up": False},
        {"name": "n2", "tenant_id": "other-project"},
        {"name": ["n1", "n2", "n2"], "status": ["ACTIVE"] * 3,
         "admin_state_up": [True, False, True]}),
}


def incarnation(orch, stack):
    """The resource row of ``r`` (a replacement is a new row) and its
    physical id."""
    sid = orch.db.store.find_stack(stack).id
    row = max((r for r in orch.db.store.list_resources(sid)
               if r.name == "r"), key=lambda r: r.id)
    return row.id, row.physical_resource_id


def check_outputs(orch, case, stack, step):
    if case.stored is not None:
        config_id = incarnation(orch, stack.name)[1]
        shown = orch.db.store.get_software_config(config_id, project=None)
        assert shown["config"]["config"] == case.stored[step]
    for name, expected in case.outputs.items():
        want = expected[step]
        got = stack.outputs[name]
        if callable(want):
            assert want(got), (name, step, got)
        else:
            assert got == want, (name, step)


@pytest.mark.parametrize("case", sorted(CASES))
def test_heat_plugin_runs_unchanged(heat, case):
    case = CASES[case]
    name = "s"
    stack = heat.create_stack(name, case.template(0)).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    check_outputs(heat, case, stack, 0)
    first = incarnation(heat, name)
    outside = cloud(heat)
    if case.external:
        # What it made is what it recorded as its physical id.
        assert outside == [first[1]]

    stack = heat.update_stack(name, case.template(1)).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert incarnation(heat, name) == first, "replaced; Heat updates in place"
    check_outputs(heat, case, stack, 1)
    assert cloud(heat) == outside

    stack = heat.update_stack(name, case.template(2)).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    after = incarnation(heat, name)
    assert (after != first) == case.replaced
    check_outputs(heat, case, stack, 2)
    if case.external:
        # The replaced one is gone, its replacement alone remains.
        assert cloud(heat) == [after[1]]

    stack = heat.delete_stack(name).wait(60)
    assert stack.stack_status == "DELETE_COMPLETE", stack.status_reason
    assert cloud(heat) == []


@pytest.mark.parametrize("module", sorted(UNPORTABLE))
@pytest.mark.xfail(strict=True, reason="needs signals and nested stacks "
                   "(their issues): see UNPORTABLE")
def test_modules_needing_signals_and_nested_stacks(ported, module):
    importlib.import_module("%s.%s" % (heat_wheel.PACKAGE, module))


def test_rewriter_touches_only_import_lines():
    source = ("from heat.engine import resource\n"
              "    from heat.common.i18n import _\n"
              "from heat.rpc import api as rpc_api\n"
              "from heat.engine.resources.openstack.heat import none_resource"
              "\n"
              "from oslo_log import log as logging\n"
              "x = 'from heat.engine import resource'\n")
    assert heat_wheel.rewrite_imports(source) == (
        "from heatflow import resource\n"
        "    from heatflow.i18n import _\n"
        "from heatflow import rpc_api as rpc_api\n"
        "from heat_ported import none_resource\n"
        "import logging\n"
        "x = 'from heat.engine import resource'\n")


@pytest.mark.parametrize("rsrc, message", [
    # Value's reparse() retypes its value (Heat's test_value).
    ({"type": "OS::Heat::Value",
      "properties": {"value": {"a": 1}, "type": "number"}},
     "resources.r.properties.value: "),
    # AccessPolicy's validate() looks the names up in self.stack.
    ({"type": "OS::Heat::AccessPolicy",
      "properties": {"AllowedResources": ["nope"]}},
     "AccessPolicy resource nope not in stack"),
    # Delay's validate() compares with the stack's timeout.
    ({"type": "OS::Heat::Delay", "properties": {"min_wait": 120}},
     "maximum delay 120"),
])
def test_heat_plugins_own_checks_refuse_before_anything_is_written(
        heat, rsrc, message):
    with pytest.raises(Exception, match=message):
        heat.create_stack("bad", hot({"r": rsrc}, {}), timeout_mins=1)
    assert heat.list_stacks() == []
