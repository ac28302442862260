"""heatflow.clients and Resource.client()/client_plugin(), Heat's entity
based delete and show (issue 18)."""

import importlib.metadata
import types

import pytest

import heatflow
from heatflow import clients, exception, resource


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


class FakeBuckets:
    def __init__(self):
        self.items = {"b1": {"id": "b1", "size": 3}}
        self.deleted = []

    def delete(self, bucket_id):
        if bucket_id not in self.items:
            raise NotFound(bucket_id)
        self.deleted.append(bucket_id)
        del self.items[bucket_id]

    def get(self, bucket_id):
        if bucket_id not in self.items:
            raise NotFound(bucket_id)
        return types.SimpleNamespace(to_dict=lambda: self.items[bucket_id])


CLOUD = types.SimpleNamespace(buckets=FakeBuckets())
MADE = []


class BucketClientPlugin(clients.ClientPlugin):
    exceptions_module = types.SimpleNamespace(NotFound=NotFound,
                                              Conflict=Conflict)
    supported_versions = ["2"]

    def _create(self, version=None):
        MADE.append((version, self.context))
        return CLOUD

    def is_not_found(self, ex):
        return isinstance(ex, NotFound)

    def is_conflict(self, ex):
        return isinstance(ex, Conflict)


class Bucket(resource.Resource):
    default_client_name = "bucket"
    entity = "buckets"


@pytest.fixture(autouse=True)
def registered():
    CLOUD.buckets = FakeBuckets()
    del MADE[:]
    clients.register_client_plugin("bucket", BucketClientPlugin)
    yield
    clients.unregister_client_plugin("bucket")


def test_client_and_client_plugin_use_default_client_name():
    res = Bucket.for_test("b")
    assert isinstance(res.client_plugin(), BucketClientPlugin)
    assert res.client() is CLOUD
    assert res.client("bucket") is CLOUD
    res.client()
    assert MADE == [(None, None)]       # made once; no context yet
    res.client(version="2")
    with pytest.raises(exception.InvalidServiceVersion, match="3"):
        res.client(version="3")


def test_a_resource_without_a_client_name():
    res = resource.Resource.for_test("r")
    with pytest.raises(exception.PluginError, match="default_client_name"):
        res.client()
    # ... still has a client plugin to ignore not-found with.
    with res._default_client_plugin().ignore_not_found:
        raise exception.EntityNotFound(entity="Thing", name="t")


def test_ignore_not_found_as_context_manager_and_as_function():
    plugin = BucketClientPlugin()
    with plugin.ignore_not_found:
        raise NotFound("x")
    with pytest.raises(Conflict):
        with plugin.ignore_not_found:
            raise Conflict("x")
    try:
        raise NotFound("x")
    except Exception as ex:
        plugin.ignore_not_found(ex)             # returns: ignored
    with pytest.raises(ValueError):
        try:
            raise ValueError("x")
        except Exception as ex:
            plugin.ignore_not_found(ex)
    with plugin.ignore_conflict_and_not_found:
        raise Conflict("x")
    with plugin.ignore_conflict_and_not_found:
        raise NotFound("x")
    assert plugin.is_client_exception(Conflict())
    assert not plugin.is_client_exception(ValueError())
    assert not plugin.is_over_limit(Conflict())


def test_the_default_delete_uses_the_entity_and_ignores_not_found():
    res = Bucket.for_test("b", resource_id="b1")
    assert res.handle_delete() == "b1"
    assert CLOUD.buckets.deleted == ["b1"]
    assert res.handle_delete() is None          # gone already: fine
    assert Bucket.for_test("b").handle_delete() is None  # no id: no call


def test_the_default_delete_raises_other_errors():
    class Refusing(FakeBuckets):
        def delete(self, bucket_id):
            raise Conflict("in use")

    CLOUD.buckets = Refusing()
    with pytest.raises(Conflict):
        Bucket.for_test("b", resource_id="b1").handle_delete()


def test_show_uses_the_entity():
    assert Bucket.for_test("b", resource_id="b1").get_attribute("show") == \
        {"id": "b1", "size": 3}
    CLOUD.buckets = types.SimpleNamespace()     # no get(): no show
    assert Bucket.for_test("b", resource_id="b1").get_attribute("show") \
        is None
    assert resource.Resource.for_test("r").get_attribute("show") == {}


def test_an_unregistered_client_names_itself():
    class Orphan(resource.Resource):
        default_client_name = "nova"
        entity = "servers"

    with pytest.raises(exception.ClientNotAvailable,
                       match="No client plugin named nova"):
        Orphan.for_test("o", resource_id="x").handle_delete()


def test_registration_is_checked():
    with pytest.raises(exception.PluginError, match="not a subclass"):
        clients.register_client_plugin("x", object)
    with pytest.raises(exception.PluginError, match="non-empty string"):
        clients.register_client_plugin("", BucketClientPlugin)


def test_entry_points_are_found_and_registration_wins(monkeypatch):
    ep = importlib.metadata.EntryPoint(
        "ep_bucket", "tests.unit.test_clients:BucketClientPlugin",
        clients.ENTRY_POINT_GROUP)
    bad = importlib.metadata.EntryPoint(
        "ep_bad", "tests.unit.test_clients:Bucket", clients.ENTRY_POINT_GROUP)
    monkeypatch.setattr(clients, "_entry_points",
                        {"ep_bucket": ep, "ep_bad": bad})
    assert clients.client_plugin_class("ep_bucket") is BucketClientPlugin
    with pytest.raises(exception.PluginError, match="entry point ep_bad"):
        clients.client_plugin_class("ep_bad")

    class Other(BucketClientPlugin):
        pass

    clients.register_client_plugin("ep_bucket", Other)
    try:
        assert clients.client_plugin_class("ep_bucket") is Other
    finally:
        clients.unregister_client_plugin("ep_bucket")


def test_entry_points_are_read_from_the_group(monkeypatch):
    seen = []

    def entry_points(group):
        seen.append(group)
        return []

    monkeypatch.setattr(clients, "_entry_points", None)
    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    with pytest.raises(exception.ClientNotAvailable):
        clients.client_plugin_class("nothing")
    assert seen == ["heatflow.clients"]


class Server(resource.Resource):
    default_client_name = "nova"
    entity = "servers"

    def handle_create(self):
        self.resource_id_set("srv-1")


def test_an_entity_without_its_client_fails_the_delete(tmp_path):
    orch = heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db"),
                                 poll_interval=(0.005, 0.05))
    try:
        orch.register_plugin("Test::Server", Server)
        tmpl = {"heat_template_version": "2018-08-31",
                "resources": {"s": {"type": "Test::Server"}}}
        assert orch.create_stack("st", tmpl).wait(30).stack_status == \
            "CREATE_COMPLETE"
        stack = orch.delete_stack("st").wait(30)
        assert stack.stack_status == "DELETE_FAILED"
        (res,) = orch.list_resources("st")
        assert (res.action, res.status) == ("DELETE", "FAILED")
        assert "No client plugin named nova" in res.status_reason
    finally:
        orch.close()
