"""The request context (heatflow/context.py): given by the caller, seen by
plugins and client plugins, OS::project_id from it, carried with the
stack to whatever process runs a later operation -- its auth token never
stored in clear."""

import pytest

import heatflow
from heatflow import attributes
from heatflow import clients
from heatflow import context as context_mod
from heatflow import persistence  # noqa: F401 (heatflow.persistence)
from heatflow import resource
from heatflow.persistence import sealing

SEEN = []


class TokenClient(clients.ClientPlugin):
    def _create(self, version=None):
        return {"token": getattr(self.context, "auth_token", None)}


class WhoAsks(resource.Resource):
    """Records the context of every action, and its client's."""

    attributes_schema = {"who": attributes.Schema("The caller.")}

    def _record(self):
        ctx = self.context
        SEEN.append((self.action, None if ctx is None else ctx.to_dict(),
                     self.client("token")["token"]))

    def handle_create(self):
        self._record()

    def handle_delete(self):
        self._record()

    def _resolve_attribute(self, name):
        return self.context.user_id


T = {"heat_template_version": "2018-08-31",
     "resources": {"r": {"type": "Test::WhoAsks"}},
     "outputs": {"who": {"value": {"get_attr": ["r", "who"]}},
                 "project": {"value": {"get_param": "OS::project_id"}}}}

ALICE = {"user_id": "alice", "project_id": "p-1", "region_name": "north",
         "auth_token": "tok-alice-0123456789", "roles": ["member"]}


@pytest.fixture(autouse=True)
def plugins():
    SEEN.clear()
    clients.register_client_plugin("token", TokenClient)
    yield
    clients.unregister_client_plugin("token")


def open_orch(db_url, **kwargs):
    o = heatflow.Orchestrator(db_url, poll_interval=(0.005, 0.05), **kwargs)
    o.register_plugin("Test::WhoAsks", WhoAsks)
    return o


def stored_bytes(db_url):
    with open(db_url[len("sqlite:///"):], "rb") as f:
        return f.read()


def test_plugins_and_clients_see_the_callers_context(db_url):
    orch = open_orch(db_url, context=ALICE)
    try:
        stack = orch.create_stack("s", T).wait(30)
        assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
        assert stack.outputs == {"who": "alice", "project": "p-1"}
        action, ctx, token = SEEN[-1]
        assert action == "CREATE" and token == ALICE["auth_token"]
        assert ctx == dict(ALICE, user_name=None, project_name=None,
                           is_admin=False)
        # One operation's own context wins over the Orchestrator's.
        bob = dict(ALICE, user_id="bob", auth_token="tok-bob")
        stack = orch.delete_stack("s", context=bob).wait(30)
        assert stack.stack_status == "DELETE_COMPLETE", stack.status_reason
        assert SEEN[-1][1]["user_id"] == "bob"
        assert SEEN[-1][2] == "tok-bob"
    finally:
        orch.close()


def test_without_a_key_the_token_stays_in_the_process_that_was_given_it(
        db_url):
    orch = open_orch(db_url)
    try:
        stack = orch.create_stack("s", T, context=ALICE).wait(30)
        assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    finally:
        orch.close()
    assert ALICE["auth_token"].encode() not in stored_bytes(db_url)
    # Another process (a conductor, a worker) runs the delete with the
    # stack's context, less its token.
    other = open_orch(db_url)
    try:
        stack = other.delete_stack("s").wait(30)
        assert stack.stack_status == "DELETE_COMPLETE", stack.status_reason
    finally:
        other.close()
    action, ctx, token = SEEN[-1]
    assert action == "DELETE" and ctx["user_id"] == "alice"
    assert ctx["auth_token"] is None and token is None


def test_with_a_key_the_token_travels_sealed(db_url):
    key = sealing.generate_key()
    orch = open_orch(db_url, encryption_key=key)
    try:
        stack = orch.create_stack("s", T, context=ALICE).wait(30)
        assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    finally:
        orch.close()
    data = stored_bytes(db_url)
    assert ALICE["auth_token"].encode() not in data
    assert b"alice" not in data         # the whole context is sealed
    other = open_orch(db_url, encryption_key=key)
    try:
        stack = other.delete_stack("s").wait(30)
        assert stack.stack_status == "DELETE_COMPLETE", stack.status_reason
    finally:
        other.close()
    assert SEEN[-1][2] == ALICE["auth_token"]


@pytest.mark.parametrize("bad, message", [
    ({"user": "x"}, "unknown field"),
    ({"roles": "admin"}, "list of role names"),
    ("alice", "must be a heatflow.context.RequestContext"),
])
def test_a_bad_context_is_refused_before_anything_is_written(
        db_url, bad, message):
    orch = open_orch(db_url)
    try:
        with pytest.raises(TypeError, match=message):
            orch.create_stack("s", T, context=bad)
        assert orch.list_stacks() == []
    finally:
        orch.close()
    with pytest.raises(TypeError, match=message):
        open_orch(db_url, context=bad)


def test_the_token_is_never_shown():
    ctx = context_mod.RequestContext(**ALICE)
    assert ALICE["auth_token"] not in repr(ctx)
    assert "auth_token" not in ctx.to_dict(secrets=False)
    assert ctx.tenant_id == "p-1" and ctx.region == "north"
    assert context_mod.RequestContext(roles=["admin"]).is_admin


@pytest.mark.parametrize("encrypted", [False, True])
def test_a_detached_worker_runs_with_the_callers_context(
        tmp_path, monkeypatch, cloud, encrypted):
    """The command line without --wait: the operation runs in a worker
    process of its own, which reads the context stored with the stack."""
    import os
    monkeypatch.delenv(sealing.ENV_KEY, raising=False)
    key = sealing.generate_key() if encrypted else None
    url = "sqlite:///" + str(tmp_path / "w.db")
    plugins = os.path.join(os.path.dirname(__file__), "..", "plugins")
    t = {"heat_template_version": "2018-08-31",
         "resources": {"r": {"type": "Test::Caller"}}}
    with heatflow.Orchestrator(url, detach=True, resume=False,
                               plugin_dirs=[plugins], encryption_key=key,
                               context=ALICE) as orch:
        stack = orch.create_stack("s", t).wait(60)
        assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    [seen] = [j for j in cloud.journal() if j["event"] == "caller"]
    assert seen["id"] != os.getpid()        # another process ran it
    assert seen["props"] == {
        "user_id": "alice", "project_id": "p-1",
        "token": ALICE["auth_token"] if encrypted else None}
