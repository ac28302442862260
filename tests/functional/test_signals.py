"""Signals as a user meets them: ``signal_resource`` / ``heatflow stack
resource signal`` run the resource's ``handle_signal`` in the caller and
write Heat's ``SIGNAL`` event; a resource that cannot take one (no
handler, never created, suspended, deleted) refuses it and nothing is
written; a signal whose resource is suspended or deleted while its
handler runs records nothing."""

import json
import threading
import time

import pytest

from heatflow import exception
from heatflow import resource

#: What the Listener's handle_signal was given, in order.
HEARD = []
#: Set by handle_signal when it starts; it then waits for GO (if set up).
ENTERED = threading.Event()
GO = {}


class Listener(resource.Resource):
    """Takes signals: keeps each one's details in its data."""

    def handle_create(self):
        self.resource_id_set("listener-" + self.name)

    def handle_signal(self, details=None):
        ENTERED.set()
        if "event" in GO:
            GO["event"].wait(30)
        HEARD.append(details)
        if details == "nothing to do":
            raise resource.NoActionRequired()
        if details == "bad":
            raise ValueError("details must not be 'bad'")
        if details == "noted":
            return "noted"      # writes nothing but the event
        self.data_set("signal%d" % len(self.data()), json.dumps(details))
        if details in ("quiet", None):
            return None
        return "heard %s" % json.dumps(details)


class Crashing(Listener):
    """Takes signals; its create crashes."""

    def handle_create(self):
        raise RuntimeError("boom")


class Deaf(resource.Resource):
    """Takes no signal (no handle_signal)."""


def hot(resources):
    return {"heat_template_version": "2018-08-31", "resources": resources}


@pytest.fixture
def stack(orch):
    HEARD.clear()
    ENTERED.clear()
    GO.clear()
    orch.register_plugin("Sig::Listener", Listener)
    orch.register_plugin("Sig::Deaf", Deaf)
    st = orch.create_stack("s", hot({
        "ear": {"type": "Sig::Listener"}, "deaf": {"type": "Sig::Deaf"}})
    ).wait(timeout=60)
    assert st.stack_status == "CREATE_COMPLETE", st.status_reason
    return "s"


def signal_events(orch, name="s"):
    return [(e.resource_name, e.action + "_" + e.status, e.reason)
            for e in orch.list_events(name) if e.action == "SIGNAL"]


def data_of(orch, name, resource_name):
    store = orch.db.store
    stack = store.find_stack(name)
    row, = [r for r in store.list_resources(stack.id)
            if r.name == resource_name]
    return store.resource_data(row.id)


def test_a_signal_runs_the_plugins_handler_and_is_an_event(orch, stack):
    got = orch.signal_resource("s", "ear", {"status": "SUCCESS"})
    assert got == 'Signal: heard {"status": "SUCCESS"}'
    orch.signal_resource("s", "ear", "quiet")
    orch.signal_resource("s", "ear")
    assert HEARD == [{"status": "SUCCESS"}, "quiet", None]
    # Heat's event: action SIGNAL, the resource's status as it is, the
    # handler's answer, else words for the details.
    assert signal_events(orch) == [
        ("ear", "SIGNAL_COMPLETE", 'Signal: heard {"status": "SUCCESS"}'),
        ("ear", "SIGNAL_COMPLETE", "quiet"),
        ("ear", "SIGNAL_COMPLETE", "No signal details provided")]
    # What the handler wrote is the resource's, persisted.
    assert data_of(orch, "s", "ear") == {
        "signal0": '{"status": "SUCCESS"}', "signal1": '"quiet"',
        "signal2": "null"}
    # The resource's own state is not a signal's to change.
    ear, = [r for r in orch.list_resources("s") if r.name == "ear"]
    assert ear.resource_status == "CREATE_COMPLETE"


def test_nothing_to_do_writes_no_event(orch, stack):
    assert orch.signal_resource("s", "ear", "nothing to do") is None
    assert signal_events(orch) == []


def test_signals_that_cannot_be_taken_are_refused_and_write_nothing(
        orch, stack):
    before = len(orch.list_events("s"))
    with pytest.raises(exception.ActionNotAllowed,
                       match=r"^resource deaf of stack s \(Sig::Deaf\) takes "
                             r"no signal: its plugin has no handle_signal$"):
        orch.signal_resource("s", "deaf", {})
    with pytest.raises(exception.ResourceNotFound):
        orch.signal_resource("s", "nope", {})
    with pytest.raises(exception.StackNotFound):
        orch.signal_resource("nope", "ear", {})
    with pytest.raises(exception.StackValidationFailed,
                       match="a signal's details must be JSON data"):
        orch.signal_resource("s", "ear", {"when": time})
    with pytest.raises(exception.ResourceFailure,
                       match="Signal failed: details must not be 'bad'"):
        orch.signal_resource("s", "ear", "bad")
    assert len(orch.list_events("s")) == before
    assert data_of(orch, "s", "ear") == {}


def test_a_suspended_resource_takes_no_signal(orch, stack):
    assert orch.suspend_stack("s").wait(timeout=60).stack_status == \
        "SUSPEND_COMPLETE"
    with pytest.raises(exception.ActionNotAllowed,
                       match="^resource ear of stack s is SUSPEND_COMPLETE: "
                             "it cannot be signalled during SUSPEND$"):
        orch.signal_resource("s", "ear", "hello")
    assert HEARD == []
    assert orch.resume_stack("s").wait(timeout=60).stack_status == \
        "RESUME_COMPLETE"
    orch.signal_resource("s", "ear", "hello")
    assert signal_events(orch) == [("ear", "SIGNAL_COMPLETE",
                                    'Signal: heard "hello"')]


def test_a_stack_being_deleted_takes_no_signal(orch, stack):
    """Its resources are not deleted yet (slow, which depends on ear, goes
    first), but the stack is on its way out."""
    orch.create_stack("d", hot({
        "ear": {"type": "Sig::Listener"},
        "slow": {"type": "Test::Thing", "depends_on": "ear",
                 "properties": {"delete_delay": 1.5}}})).wait(timeout=60)
    op = orch.delete_stack("d")
    with pytest.raises(exception.ActionNotAllowed,
                       match="^stack d is DELETE_IN_PROGRESS: its resources "
                             "take no signal$"):
        orch.signal_resource("d", "ear", "too late")
    assert HEARD == []
    op.wait(timeout=60)
    with pytest.raises(exception.StackNotFound):
        orch.signal_resource("d", "ear", "too late")


def test_a_resource_never_created_takes_no_signal(orch, cloud):
    orch.register_plugin("Sig::Listener", Listener)
    st = orch.create_stack("f", hot({
        "first": {"type": "Test::Thing", "properties": {"fail": True}},
        "ear": {"type": "Sig::Listener", "depends_on": "first"}})
    ).wait(timeout=60)
    assert st.stack_status == "CREATE_FAILED"
    with pytest.raises(exception.ActionNotAllowed,
                       match="^resource ear of stack f is INIT_COMPLETE: it "
                             "has not been created$"):
        orch.signal_resource("f", "ear", "hello")


@pytest.mark.parametrize("details", ["late", "noted"])
def test_a_signal_whose_resource_is_suspended_meanwhile_records_nothing(
        orch, stack, details):
    """The fence: the handler ran, but the suspend took the resource
    before the handler wrote: its write and the event are refused (the
    event also when the handler writes nothing)."""
    GO["event"] = threading.Event()
    outcome = {}

    def send():
        try:
            orch.signal_resource("s", "ear", details)
        except Exception as exc:
            outcome["error"] = exc
    sender = threading.Thread(target=send)
    sender.start()
    assert ENTERED.wait(30)
    assert orch.suspend_stack("s").wait(timeout=60).stack_status == \
        "SUSPEND_COMPLETE"
    GO["event"].set()
    sender.join(30)
    assert isinstance(outcome.get("error"), exception.ActionNotAllowed)
    assert "the signal was not recorded" in str(outcome["error"])
    assert HEARD == [details]
    assert data_of(orch, "s", "ear") == {}
    assert signal_events(orch) == []


def test_a_signal_keeps_the_traceback_of_the_failure_shown(orch, stack):
    """A resource whose create crashed takes signals; its failure's
    traceback (status_detail) is still the one shown after them."""
    orch.register_plugin("Sig::Crashing", Crashing)
    st = orch.create_stack("c", hot({"crash": {"type": "Sig::Crashing"}})
                           ).wait(timeout=60)
    assert st.stack_status == "CREATE_FAILED"
    orch.signal_resource("c", "crash", "after the crash")
    assert signal_events(orch, "c") == [
        ("crash", "SIGNAL_FAILED", 'Signal: heard "after the crash"')]
    res = orch.get_resource("c", "crash")
    assert res.resource_status == "CREATE_FAILED"
    assert "RuntimeError: boom" in res.status_detail


# -- the command line --------------------------------------------------------

PLUGIN = '''
import json
from heatflow import resource


class Listener(resource.Resource):
    def handle_signal(self, details=None):
        self.data_set("got", json.dumps(details))
        return "got %s" % json.dumps(details)


def resource_mapping():
    return {"Sig::Listener": Listener}
'''


def test_the_command(run, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "listener.py").write_text(PLUGIN)
    path = tmp_path / "t.yaml"
    path.write_text("heat_template_version: 2018-08-31\n"
                    "resources:\n  ear: {type: Sig::Listener}\n"
                    "  deaf: {type: OS::Heat::None}\n")
    with_plugins = ("--plugin-dir", str(plugins))
    assert run(*with_plugins, "stack", "create", "s", "-t", str(path),
               "--wait")[0] == 0
    code, out, err = run(*with_plugins, "stack", "resource", "signal", "s",
                         "ear", "--data", '{"status": "SUCCESS"}')
    assert (code, out, err) == (0, "", "")
    details = tmp_path / "details.json"
    details.write_text('{"data": 42}')
    code, out, err = run(*with_plugins, "stack", "resource", "signal", "s",
                         "ear", "--data-file", str(details))
    assert (code, out, err) == (0, "", "")
    code, out, err = run(*with_plugins, "stack", "resource", "signal", "s",
                         "ear")
    assert (code, out, err) == (0, "", "")
    code, out, _ = run("-f", "json", "stack", "event", "list", "s")
    reasons = [e["resource_status_reason"] for e in json.loads(out)
               if e["resource_action"] == "SIGNAL"] \
        if '"resource_action"' in out else [
            e["reason"] for e in json.loads(out) if e["action"] == "SIGNAL"]
    assert reasons == ['Signal: got {"status": "SUCCESS"}',
                       'Signal: got {"data": 42}', "Signal: got null"]
    code, out, err = run(*with_plugins, "stack", "resource", "signal", "s",
                         "ear", "--data", "{nope")
    assert code == 1 and err.startswith("ERROR: --data is not JSON: ")
    code, out, err = run(*with_plugins, "stack", "resource", "signal", "s",
                         "deaf")
    assert (code, err.strip()) == (
        1, "ERROR: resource deaf of stack s (OS::Heat::None) takes no "
           "signal: its plugin has no handle_signal")
