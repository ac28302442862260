"""The runtime's cache of bound stack definitions: each is bound once per
process however many atoms ask for it at once; the registry of runtimes."""

import threading

import pytest

import heatflow
from heatflow import resource as resource_mod
from heatflow.flows import runtime as runtime_mod
from heatflow.template import template as template_mod

TEMPLATE = {"heat_template_version": "2018-08-31",
            "resources": {"a": {"type": "OS::Heat::None"}}}


def at_once(func, n):
    """Run ``func`` in ``n`` threads and wait for them all."""
    threads = [threading.Thread(target=func) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_atoms_asking_at_once_share_one_bind(orch, monkeypatch):
    orch.create_stack("s", TEMPLATE).wait(30)
    row = orch.db.store.find_stack("s")
    binds = []
    real_bind = template_mod.Template.bind
    started = threading.Barrier(8)

    def slow_bind(self, *args, **kwargs):
        binds.append(1)
        threading.Event().wait(0.2)     # long enough for all to pile up
        return real_bind(self, *args, **kwargs)
    monkeypatch.setattr(template_mod.Template, "bind", slow_bind)
    got = []

    def ask():
        started.wait()
        got.append(orch.runtime.definition(row.template_id, "s", "other"))
    at_once(ask, 8)
    assert len(binds) == 1
    assert len(got) == 8 and all(d is got[0] for d in got)


def test_an_operation_binds_its_definition_once_more_than_the_api(
        orch, monkeypatch):
    binds = []
    real_bind = template_mod.Template.bind

    def counting_bind(self, *args, **kwargs):
        binds.append(1)
        return real_bind(self, *args, **kwargs)
    monkeypatch.setattr(template_mod.Template, "bind", counting_bind)
    many = {"heat_template_version": "2018-08-31",
            "resources": {"r%d" % i: {"type": "OS::Heat::None"}
                          for i in range(40)}}
    orch.create_stack("s", many).wait(30)
    assert orch.get_stack("s").stack_status == "CREATE_COMPLETE"
    # The API's (to validate), then the atoms' from the stored template:
    # the API's own is not reused, its parameters are not normalised.
    assert len(binds) == 2


def test_a_failed_bind_fails_every_waiter_and_leaves_nothing_behind(
        orch, monkeypatch):
    orch.create_stack("s", TEMPLATE).wait(30)
    row = orch.db.store.find_stack("s")

    def broken_bind(self, *args, **kwargs):
        threading.Event().wait(0.1)
        raise ValueError("cannot bind")
    monkeypatch.setattr(template_mod.Template, "bind", broken_bind)
    errors = []

    def ask():
        try:
            orch.runtime.definition(row.template_id, "s", "other")
        except ValueError as exc:
            errors.append(exc)
    at_once(ask, 4)
    assert len(errors) == 4
    assert orch.runtime._building == {}


def test_parameters_given_as_python_values_converge_as_stored(orch):
    """A json parameter passed with a tuple is stored as a list; the atoms
    bind what was stored, so an update with the same input changes
    nothing."""
    tmpl = {"heat_template_version": "2018-08-31",
            "parameters": {"j": {"type": "json"}},
            "resources": {"a": {"type": "OS::Heat::None",
                                "properties": {"v": {"get_param": "j"}}}}}
    params = {"j": {"ports": (80, 443)}}
    orch.create_stack("s", tmpl, parameters=params).wait(30)
    orch.update_stack("s", tmpl, parameters=params).wait(30)
    assert orch.get_stack("s").stack_status == "UPDATE_COMPLETE"
    actions = {(e.resource_name, e.resource_status)
               for e in orch.list_events("s")}
    assert ("a", "UPDATE_IN_PROGRESS") not in actions


def test_a_run_whose_liveness_cannot_be_told_counts_as_alive(orch):
    """ZooKeeper reconnecting: the caller waits and asks again; it neither
    breaks the run's lock nor fails its own resource (a chaos soak trial
    failed a resource with ConnectionLoss)."""
    from kazoo import exceptions as kazoo_exc

    def liveness(run):
        if run == "dead":
            return False
        raise kazoo_exc.ConnectionLoss()

    rt = orch.runtime
    rt.use_runs(liveness)
    assert rt.run_alive("dead") is False
    assert rt.run_alive("unknown") is True


def test_unregistering_the_default_runtime_makes_another_the_default(
        monkeypatch):
    # (A process whose first Orchestrator closed while a second one runs:
    # an atom of an operation planned elsewhere gets the live runtime.)
    monkeypatch.setattr(runtime_mod, "_runtimes", {})
    monkeypatch.setattr(runtime_mod, "_default", None)
    first, second = object(), object()
    runtime_mod.register("first", first)
    runtime_mod.register("second", second)
    assert runtime_mod.get("elsewhere") is first
    runtime_mod.unregister("first")
    assert runtime_mod.get("elsewhere") is second
    runtime_mod.unregister("second")
    with pytest.raises(RuntimeError):
        runtime_mod.get("elsewhere")


class NeverDone(resource_mod.Resource):
    """A create the cloud never finishes."""
    checks = 0

    def check_create_complete(self, token):
        NeverDone.checks += 1
        return False


def test_a_fenced_run_lets_go_of_its_threads_without_waiting_out_a_pause(
        db_url):
    # A conductor that lost its ZooKeeper session fences its runs; their
    # actions, between two polls up to 10 s apart (here 300), stop there
    # and then, without asking the plugin again.
    orch = heatflow.Orchestrator(db_url, poll_interval=(300, 300))
    try:
        orch.register_plugin("T::NeverDone", NeverDone)
        NeverDone.checks = 0
        orch.create_stack("s", {"heat_template_version": "2018-08-31",
                                "resources": {"a": {"type": "T::NeverDone"}}})
        while not NeverDone.checks:     # polled once: now in its pause
            threading.Event().wait(0.01)
        (run,) = orch._runner.running()
        orch.runtime.fence_run(orch.db.store.find_stack("s").run_token)
        run.join(60)                    # not 300 s: the pause ended
        assert not run.is_alive()
        assert NeverDone.checks == 1
        stack = orch.db.store.find_stack("s")
        (row,) = orch.db.store.list_resources(stack.id)
        # A fenced run records nothing: the run that takes over finds it
        # as it was.
        assert (stack.status, row.action, row.status) == (
            "IN_PROGRESS", "CREATE", "IN_PROGRESS")
    finally:
        orch.close()
