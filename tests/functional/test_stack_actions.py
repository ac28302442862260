"""Heat's stack actions beyond converging, as a user of the API meets
them: ``check_stack`` asks each plugin whether its resource is still what
it should be, ``suspend_stack``/``resume_stack`` put a stack to sleep and
wake it, in the order Heat does, with Heat's outcome when something
fails."""

import time

import pytest

from heatflow import exception
from heatflow import properties
from heatflow import resource

P = properties.Schema

#: What the plugins below were asked, in order: (resource name, action).
CALLS = []
#: Resources whose physical resource drifted: their check fails.
DRIFTED = set()
#: (name, action) pairs whose handler raises.
BROKEN = set()


class Server(resource.Resource):
    """Records its check, suspend and resume."""

    properties_schema = {"ref": P(P.STRING, "Anything.",
                                  update_allowed=True)}

    def handle_create(self):
        self.resource_id_set("phys-" + self.name)

    def _seen(self, action):
        CALLS.append((self.name, action))
        if (self.name, action) in BROKEN:
            raise RuntimeError("%s refused to %s" % (self.name, action))

    def handle_check(self):
        self._seen("CHECK")
        if self.name in DRIFTED:
            raise exception.Error("%s is not ACTIVE" % self.resource_id)

    def handle_suspend(self):
        self._seen("SUSPEND")
        return 2                # polled twice

    def check_suspend_complete(self, remaining):
        return True

    def handle_resume(self):
        self._seen("RESUME")


class Volume(Server):
    """Checks itself by polling, as a slow cloud answers."""

    def handle_check(self):
        self._seen("CHECK")
        return {"polls": 0}

    def check_check_complete(self, token):
        token["polls"] += 1
        if self.name in DRIFTED:
            raise exception.Error("%s is in error" % self.resource_id)
        return token["polls"] >= 3


class Plain(resource.Resource):
    """A plugin with none of the three handlers (Heat's defaults)."""

    def handle_create(self):
        self.resource_id_set("plain-" + self.name)


def hot(resources):
    return {"heat_template_version": "2018-08-31", "resources": resources}


#: net <- server <- app (app depends on server, server on net).
CHAIN = hot({
    "net": {"type": "Act::Volume"},
    "server": {"type": "Act::Server",
               "properties": {"ref": {"get_resource": "net"}}},
    "app": {"type": "Act::Server",
            "properties": {"ref": {"get_resource": "server"}}},
})


@pytest.fixture
def stack(orch):
    CALLS.clear()
    DRIFTED.clear()
    BROKEN.clear()
    for name, cls in (("Act::Server", Server), ("Act::Volume", Volume),
                      ("Act::Plain", Plain)):
        orch.register_plugin(name, cls)

    def create(template=CHAIN, name="s"):
        st = orch.create_stack(name, template).wait(timeout=60)
        assert st.stack_status == "CREATE_COMPLETE", st.status_reason
        CALLS.clear()
        return name
    return create


def statuses(orch, name="s"):
    return {r.name: (r.resource_status, r.status_reason)
            for r in orch.list_resources(name)}


def events(orch, name="s"):
    return [(e.resource_name, e.action + "_" + e.status, e.reason)
            for e in orch.list_events(name)]


# -- check ---------------------------------------------------------------

def test_check_asks_every_plugin_in_dependency_order(orch, stack):
    stack()
    st = orch.check_stack("s").wait(timeout=60)
    assert st.stack_status == "CHECK_COMPLETE"
    assert st.status_reason == "Stack CHECK completed successfully"
    assert CALLS == [("net", "CHECK"), ("server", "CHECK"), ("app", "CHECK")]
    assert {n: s for n, (s, _) in statuses(orch).items()} == {
        "net": "CHECK_COMPLETE", "server": "CHECK_COMPLETE",
        "app": "CHECK_COMPLETE"}
    # The outputs and what get_resource gives are kept: nothing changed.
    assert [r.physical_resource_id for r in orch.list_resources("s")] == \
        ["phys-net", "phys-server", "phys-app"]


def test_a_drifted_resource_fails_the_check_and_says_why(orch, stack):
    stack(hot({"server": {"type": "Act::Server"},
               "other": {"type": "Act::Server"},
               "vol": {"type": "Act::Volume"}}))
    DRIFTED.update({"server", "vol"})
    st = orch.check_stack("s").wait(timeout=60)
    assert st.stack_status == "CHECK_FAILED"
    # Every resource is checked (Heat aggregates the failures) ...
    assert sorted(CALLS) == [("other", "CHECK"), ("server", "CHECK"),
                             ("vol", "CHECK")]
    # ... and each failure is named: on the stack, on the resource, in an
    # event.
    assert "Resource CHECK failed: server: phys-server is not ACTIVE" in \
        st.status_reason
    assert "vol: phys-vol is in error" in st.status_reason
    got = statuses(orch)
    assert got["server"] == ("CHECK_FAILED", "phys-server is not ACTIVE")
    assert got["vol"] == ("CHECK_FAILED", "phys-vol is in error")
    assert got["other"][0] == "CHECK_COMPLETE"
    assert ("server", "CHECK_FAILED", "phys-server is not ACTIVE") in \
        events(orch)


def test_what_depends_on_a_failed_check_is_not_checked(orch, stack):
    stack()
    DRIFTED.add("net")
    st = orch.check_stack("s").wait(timeout=60)
    assert st.stack_status == "CHECK_FAILED"
    assert CALLS == [("net", "CHECK")]
    assert statuses(orch)["app"][0] == "CREATE_COMPLETE"


def test_a_plugin_without_handle_check_is_passed_over_as_heat_does(
        orch, stack):
    stack(hot({"plain": {"type": "Act::Plain"},
               "server": {"type": "Act::Server"}}))
    st = orch.check_stack("s").wait(timeout=60)
    assert st.stack_status == "CHECK_COMPLETE"
    assert st.status_reason == ("Stack CHECK completed successfully. "
                                "'CHECK' not fully supported (see resources)")
    assert statuses(orch)["plain"] == ("CHECK_COMPLETE",
                                       "CHECK not supported for Act::Plain")
    assert CALLS == [("server", "CHECK")]


@pytest.mark.parametrize("request_, done", [
    ("check", "checked"), ("suspend", "suspended"), ("resume", "resumed")])
def test_they_are_refused_while_an_operation_runs(orch, stack, cloud,
                                                  request_, done):
    orch.register_plugin("Test::Thing", cloud.Thing)
    orch.create_stack("busy", hot({"t": {"type": "Test::Thing", "properties":
                                         {"name": "t", "delay": 2}}}))
    # (Heat's stack lock refuses them too: ActionInProgress.)
    with pytest.raises(exception.ActionNotAllowed) as err:
        getattr(orch, request_ + "_stack")("busy")
    assert str(err.value) == (
        "stack busy is CREATE_IN_PROGRESS: it cannot be %s while an "
        "operation is in progress (if nobody runs it any more, heatflow "
        "stack continue busy runs it again)" % done)
    orch.operation("busy").wait(timeout=60)
    assert orch.get_stack("busy").stack_status == "CREATE_COMPLETE"


def test_a_failed_check_is_repaired_by_the_next_update(orch, stack):
    stack()
    DRIFTED.add("app")
    assert orch.check_stack("s").wait(timeout=60).stack_status == \
        "CHECK_FAILED"
    before = {r.name: r.physical_resource_id
              for r in orch.list_resources("s")}
    st = orch.update_stack("s", CHAIN).wait(timeout=60)
    assert st.stack_status == "UPDATE_COMPLETE", st.status_reason
    # The CHECK_FAILED resource is replaced (created again); the healthy
    # ones are left alone.
    rows = orch.list_resources("s")
    assert {r.name: r.resource_status for r in rows} == {
        "net": "CHECK_COMPLETE", "server": "CHECK_COMPLETE",
        "app": "CREATE_COMPLETE"}
    assert {r.name: r.physical_resource_id for r in rows} == before


# -- suspend and resume ----------------------------------------------------

def test_suspend_goes_dependents_first_and_resume_the_other_way(
        orch, stack):
    stack()
    st = orch.suspend_stack("s").wait(timeout=60)
    assert st.stack_status == "SUSPEND_COMPLETE", st.status_reason
    assert CALLS == [("app", "SUSPEND"), ("server", "SUSPEND"),
                     ("net", "SUSPEND")]
    assert {s for s, _ in statuses(orch).values()} == {"SUSPEND_COMPLETE"}
    CALLS.clear()
    st = orch.resume_stack("s").wait(timeout=60)
    assert st.stack_status == "RESUME_COMPLETE", st.status_reason
    assert CALLS == [("net", "RESUME"), ("server", "RESUME"),
                     ("app", "RESUME")]
    assert {s for s, _ in statuses(orch).values()} == {"RESUME_COMPLETE"}
    # The outputs and references are the stack's still: it can be updated
    # (nothing changed: nothing is done) and deleted as ever.
    st = orch.update_stack("s", CHAIN).wait(timeout=60)
    assert st.stack_status == "UPDATE_COMPLETE", st.status_reason


def test_suspending_a_suspended_stack_does_nothing(orch, stack):
    stack()
    orch.suspend_stack("s").wait(timeout=60)
    events_before = len(events(orch))
    CALLS.clear()
    st = orch.suspend_stack("s").wait(timeout=60)
    assert st.stack_status == "SUSPEND_COMPLETE"
    assert CALLS == [] and len(events(orch)) == events_before


def test_plugins_without_the_handlers_are_just_marked(orch, stack):
    stack(hot({"plain": {"type": "Act::Plain"}}))
    assert orch.suspend_stack("s").wait(timeout=60).stack_status == \
        "SUSPEND_COMPLETE"
    assert statuses(orch)["plain"][0] == "SUSPEND_COMPLETE"
    assert orch.resume_stack("s").wait(timeout=60).stack_status == \
        "RESUME_COMPLETE"


def test_a_failed_suspend_stops_there_and_a_retry_goes_on(orch, stack):
    stack()
    BROKEN.add(("server", "SUSPEND"))
    st = orch.suspend_stack("s").wait(timeout=60)
    assert st.stack_status == "SUSPEND_FAILED"
    assert st.status_reason == ("Resource SUSPEND failed: server: "
                                "RuntimeError: server refused to SUSPEND")
    # What it depends on is not suspended: Heat stops at the first failure.
    assert CALLS == [("app", "SUSPEND"), ("server", "SUSPEND")]
    got = statuses(orch)
    assert got["server"] == ("SUSPEND_FAILED",
                             "RuntimeError: server refused to SUSPEND")
    # The plugin's crash keeps its traceback, for its author.
    detail = orch.get_resource("s", "server").status_detail
    assert "in handle_suspend" in detail and \
        detail.endswith("RuntimeError: server refused to SUSPEND")
    assert got["net"][0] == "CREATE_COMPLETE"
    # Suspending again (fixed) suspends what is left; a SUSPEND_FAILED
    # resource is suspended again.
    BROKEN.clear()
    CALLS.clear()
    assert orch.suspend_stack("s").wait(timeout=60).stack_status == \
        "SUSPEND_COMPLETE"
    assert CALLS == [("app", "SUSPEND"), ("server", "SUSPEND"),
                     ("net", "SUSPEND")]


def test_a_suspended_stack_is_not_updated_but_can_be_deleted(orch, stack):
    stack()
    orch.suspend_stack("s").wait(timeout=60)
    with pytest.raises(exception.ActionNotAllowed,
                       match="SUSPEND_COMPLETE: it cannot be updated now "
                             r"\(resume it first\)"):
        orch.update_stack("s", CHAIN)
    assert orch.get_stack("s").stack_status == "SUSPEND_COMPLETE"
    # Resumed, it updates.
    orch.resume_stack("s").wait(timeout=60)
    assert orch.update_stack("s", CHAIN).wait(timeout=60).stack_status == \
        "UPDATE_COMPLETE"
    orch.suspend_stack("s").wait(timeout=60)
    assert orch.delete_stack("s").wait(timeout=60).stack_status == \
        "DELETE_COMPLETE"


def test_resuming_what_is_not_suspended_fails_as_in_heat(orch, stack):
    stack()
    st = orch.resume_stack("s").wait(timeout=60)
    assert st.stack_status == "RESUME_FAILED"
    assert st.status_reason == ("Resource RESUME failed: net: State "
                                "CREATE_COMPLETE invalid for resume")
    # Left as it was: nothing was asked of the plugins.
    assert CALLS == []
    assert {s for s, _ in statuses(orch).values()} == {"CREATE_COMPLETE"}


class Stubborn(Server):
    """Would rather be updated than replaced when it failed."""

    def needs_replace_failed(self):
        return False


def test_a_failed_check_replaces_even_a_plugin_that_would_not(orch, stack):
    orch.register_plugin("Act::Stubborn", Stubborn)
    template = hot({"db": {"type": "Act::Stubborn"}})
    stack(template)
    DRIFTED.add("db")
    orch.check_stack("s").wait(timeout=60)
    st = orch.update_stack("s", template).wait(timeout=60)
    assert st.stack_status == "UPDATE_COMPLETE", st.status_reason
    assert statuses(orch)["db"][0] == "CREATE_COMPLETE"


class Slow(Server):
    """Takes a second to suspend."""

    def check_suspend_complete(self, token):
        time.sleep(1.0)
        return True


def test_progress_counts_what_the_suspend_has_done(orch, stack):
    orch.register_plugin("Act::Slow", Slow)
    stack(hot({"first": {"type": "Act::Server"},
               "then": {"type": "Act::Slow", "depends_on": "first"}}))
    # Dependents first: "then" for a second, "first" waiting for it.
    op = orch.suspend_stack("s")
    end = time.monotonic() + 30
    while ("then", "SUSPEND") not in CALLS and time.monotonic() < end:
        time.sleep(0.01)
    mid = op.progress()
    assert (mid.action, mid.done, mid.total) == ("SUSPEND", 0, 2)
    op.wait(timeout=60)
    assert (op.progress().done, op.progress().total) == (2, 2)


def test_a_failure_stops_what_has_not_started_on_other_branches(orch, stack):
    orch.register_plugin("Act::Slow", Slow)
    # Suspended first: "slow" (then "after", which it depends on) and,
    # on its own, "broken", which fails at once.
    stack(hot({"after": {"type": "Act::Server"},
               "slow": {"type": "Act::Slow",
                        "properties": {"ref": {"get_resource": "after"}}},
               "broken": {"type": "Act::Server"}}))
    BROKEN.add(("broken", "SUSPEND"))
    st = orch.suspend_stack("s").wait(timeout=60)
    assert st.stack_status == "SUSPEND_FAILED"
    # What was in flight finishes (the stack says FAILED at once); what
    # had not started never will.
    end = time.monotonic() + 30
    while statuses(orch)["slow"][0] == "SUSPEND_IN_PROGRESS" and \
            time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.5)
    got = statuses(orch)
    assert got["slow"][0] == "SUSPEND_COMPLETE"
    assert got["after"][0] == "CREATE_COMPLETE"
    assert ("after", "SUSPEND") not in CALLS


class Hanging(Server):
    """A check that never ends."""

    def handle_check(self):
        self._seen("CHECK")

    def check_check_complete(self, token):
        return False


def test_a_check_that_never_ends_times_out_with_the_stack(orch, stack):
    orch.register_plugin("Act::Hanging", Hanging)
    st = orch.create_stack("t", hot({"h": {"type": "Act::Hanging"}}),
                           timeout_mins=0.03).wait(timeout=60)
    assert st.stack_status == "CREATE_COMPLETE"
    started = time.monotonic()
    st = orch.check_stack("t").wait(timeout=60)
    # The stack's timeout (1.8 s) counts from the check's start.
    assert time.monotonic() - started < 30
    assert st.stack_status == "CHECK_FAILED"
    assert st.status_reason == ("Resource CHECK failed: h: Stack CHECK "
                                "timed out")
    assert statuses(orch, "t")["h"] == ("CHECK_FAILED",
                                        "Stack CHECK timed out")


def test_trouble_outside_the_plugin_fails_the_resource_not_the_engine(
        orch, stack, monkeypatch):
    """Whatever goes wrong around a resource's action (here: its plugin
    class cannot be found any more) is that resource's failure, as for
    any action: never an engine error, never a 'rollback'."""
    from heatflow.flows import act
    stack()
    real = act.ActOnResource.class_of

    def class_of(atom, row):
        if row.name == "server":
            raise RuntimeError("no class for server")
        return real(atom, row)
    monkeypatch.setattr(act.ActOnResource, "class_of", class_of)
    st = orch.suspend_stack("s").wait(timeout=60)
    assert st.stack_status == "SUSPEND_FAILED"
    assert st.status_reason == ("Resource SUSPEND failed: server: "
                                "RuntimeError: no class for server")
    assert CALLS == [("app", "SUSPEND")]


def test_an_engine_error_ends_the_action_failed_not_rolled_back(
        orch, stack, monkeypatch):
    from heatflow.flows import act

    def broken(atom, **inputs):
        raise RuntimeError("the last step broke")
    monkeypatch.setattr(act.FinishAction, "execute", broken)
    stack()
    st = orch.check_stack("s").wait(timeout=60)
    assert (st.stack_status, st.status_reason) == (
        "CHECK_FAILED", "Stack CHECK failed: the last step broke")


def test_a_dry_run_of_an_update_of_a_suspended_stack_is_refused_too(
        orch, stack):
    stack()
    orch.suspend_stack("s").wait(timeout=60)
    with pytest.raises(exception.ActionNotAllowed, match="resume it first"):
        orch.preview_update("s", CHAIN)


# -- mark unhealthy --------------------------------------------------------

def test_a_resource_marked_unhealthy_is_replaced_by_the_next_update(
        orch, stack):
    stack()
    orch.mark_resource_unhealthy("s", "server", reason="disk gone")
    assert statuses(orch)["server"] == ("CHECK_FAILED", "disk gone")
    assert ("server", "CHECK_FAILED", "disk gone") in events(orch)
    # The stack's own state is not touched.
    assert orch.get_stack("s").stack_status == "CREATE_COMPLETE"
    st = orch.update_stack("s", CHAIN).wait(timeout=60)
    assert st.stack_status == "UPDATE_COMPLETE", st.status_reason
    got = statuses(orch)
    assert got["server"][0] == "CREATE_COMPLETE"     # a new incarnation
    # Created anew, nothing else acted on, and the unhealthy incarnation
    # gone in clean-up.  (These plugins give a replacement the same
    # physical id: clean-up forgets the original rather than delete it.)
    after = events(orch)
    after = after[after.index(("server", "CHECK_FAILED", "disk gone")):]
    assert [(n, s) for n, s, _ in after if n != "s"][:3] == [
        ("server", "CHECK_FAILED"),
        ("server", "CREATE_IN_PROGRESS"), ("server", "CREATE_COMPLETE")]
    assert {n for n, _, _ in after} == {"s", "server"}
    assert [r.name for r in orch.list_resources("s")].count("server") == 1


def test_the_dry_run_says_the_unhealthy_resource_will_be_replaced(
        orch, stack):
    stack()
    orch.mark_resource_unhealthy("s", "server")
    plan = {e["resource_name"]: e["action"]
            for e in orch.preview_update("s", CHAIN)}
    assert plan["server"] == "replace"
    assert plan["net"] == "unchanged"


def test_reset_marks_it_healthy_and_the_update_leaves_it(orch, stack):
    stack()
    orch.mark_resource_unhealthy("s", "server")
    assert statuses(orch)["server"] == ("CHECK_FAILED", "marked unhealthy")
    orch.mark_resource_unhealthy("s", "server", mark_unhealthy=False)
    assert statuses(orch)["server"] == ("CHECK_COMPLETE",
                                        "marked healthy again")
    # Resetting a healthy resource does nothing (Heat's rule).
    orch.mark_resource_unhealthy("s", "net", mark_unhealthy=False)
    assert statuses(orch)["net"][0] == "CREATE_COMPLETE"
    st = orch.update_stack("s", CHAIN).wait(timeout=60)
    assert st.stack_status == "UPDATE_COMPLETE"
    assert {s for s, _ in statuses(orch).values()} == {"CREATE_COMPLETE",
                                                       "CHECK_COMPLETE"}


def test_marking_names_what_is_wrong(orch, stack):
    stack()
    with pytest.raises(exception.ResourceNotFound, match="'nope'"):
        orch.mark_resource_unhealthy("s", "nope")
    with pytest.raises(exception.StackValidationFailed, match="reason"):
        orch.mark_resource_unhealthy("s", "net", reason=42)
    with pytest.raises(exception.StackNotFound):
        orch.mark_resource_unhealthy("nope", "net")
    assert {s for s, _ in statuses(orch).values()} == {"CREATE_COMPLETE"}


def test_a_resource_in_the_middle_of_an_action_is_not_marked(orch, stack,
                                                             cloud):
    orch.register_plugin("Test::Thing", cloud.Thing)
    orch.create_stack("busy", hot({"t": {"type": "Test::Thing", "properties":
                                         {"name": "t", "delay": 2}}}))
    end = time.monotonic() + 30
    while statuses(orch, "busy").get("t", ("",))[0] != \
            "CREATE_IN_PROGRESS" and time.monotonic() < end:
        time.sleep(0.02)
    with pytest.raises(exception.ActionNotAllowed,
                       match="resource t of stack busy is "
                             "CREATE_IN_PROGRESS: try again once it "
                             "settles"):
        orch.mark_resource_unhealthy("busy", "t")
    st = orch.operation("busy").wait(timeout=60)
    assert st.stack_status == "CREATE_COMPLETE"
    assert statuses(orch, "busy")["t"][0] == "CREATE_COMPLETE"


# -- the command line --------------------------------------------------------

def test_the_commands(run, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "heat_template_version: 2018-08-31\n"
        "resources:\n  a: {type: OS::Heat::None}\n"
        "  b: {type: OS::Heat::None, depends_on: a}\n")
    assert run("stack", "create", "s", "-t", str(path), "--wait")[0] == 0
    code, out, err = run("stack", "check", "s", "--wait")
    assert code == 0, err
    assert "CHECK_COMPLETE" in out and "not fully supported" in out
    code, out, err = run("stack", "suspend", "s", "--wait")
    assert code == 0, err
    assert "SUSPEND_COMPLETE" in out
    code, out, err = run("stack", "update", "s", "-t", str(path))
    assert (code, err.strip()) == (1, "ERROR: stack s is SUSPEND_COMPLETE: "
                                      "it cannot be updated now (resume it "
                                      "first)")
    code, out, err = run("stack", "resume", "s", "--wait")
    assert code == 0, err
    assert "RESUME_COMPLETE" in out
    code, out, err = run("stack", "resource", "mark", "unhealthy", "s", "b",
                         "it smells")
    assert (code, out, err) == (0, "", "")
    code, out, _ = run("-f", "json", "stack", "resource", "show", "s", "b")
    assert '"CHECK_FAILED"' in out and "it smells" in out
    code, out, err = run("stack", "resource", "mark", "unhealthy", "s", "b",
                         "--reset")
    assert code == 0, err
    code, out, _ = run("-f", "json", "stack", "resource", "show", "s", "b")
    assert '"CHECK_COMPLETE"' in out
    code, _, err = run("stack", "continue", "s")
    assert (code, err.strip()) == (1, "ERROR: stack s is RESUME_COMPLETE: "
                                      "no operation is in progress to "
                                      "continue")
