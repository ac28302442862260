"""``physical_resource_name()``: one name per incarnation (resource row),
stored with the row, the same for every plugin object, retry, resume and
takeover of it; a replacement incarnation gets a new one (Heat's rule)."""

import pytest

import heatflow
from heatflow import exception, properties, resource
from heatflow.flows import driver
from heatflow.persistence import database
from tests.unit.test_store import new_stack

#: (action, physical_resource_name()) as each plugin object saw it.
SEEN = []


class Named(resource.Resource):
    """Names its physical resource with physical_resource_name() and finds
    it again by that name (the documented idempotency key)."""

    properties_schema = {
        "size": properties.Schema(properties.Schema.INTEGER, "Replaces.",
                                  default=1),
        "fail_first": properties.Schema(properties.Schema.INTEGER,
                                        "Failed create attempts first.",
                                        default=0),
    }

    def handle_create(self):
        name = self.physical_resource_name()
        SEEN.append(("CREATE", name))
        if sum(1 for a, _ in SEEN if a == "CREATE") <= \
                self.properties["fail_first"]:
            raise exception.HeatflowError("attempt failed")
        self.resource_id_set(name)

    def check_create_complete(self, token):
        SEEN.append(("CHECK", self.physical_resource_name()))
        return True

    def handle_delete(self):
        SEEN.append(("DELETE", self.physical_resource_name()))


@pytest.fixture
def store(tmp_path):
    db = database.Database("sqlite:///" + str(tmp_path / "t.db"))
    yield db.store
    db.close()


@pytest.fixture
def orch(tmp_path):
    del SEEN[:]
    o = heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db"),
                              poll_interval=(0.005, 0.05))
    o.register_plugin("Test::Named", Named)
    yield o
    o.close()


def _plugin(store, rid, fence):
    return resource.Resource("x", None, {}, stack_name="s",
                             storage=driver.DbStorage(
                                 store, store.get_resource(rid), fence))


def test_the_name_is_stored_with_the_row_and_survives_a_takeover(store):
    f = new_stack(store)
    (rid,) = store.insert_resources(f, [{"name": "x", "type": "T"}])
    assert store.acquire_resource(rid, f, "CREATE") is not None
    name = _plugin(store, rid, f).physical_resource_name()
    assert name.startswith("s-x-")
    assert store.get_resource(rid).physical_name == name
    # Another plugin object, another run of the operation: the same name.
    assert _plugin(store, rid, f).physical_resource_name() == name
    assert store.take_over(f.stack_id, f.traversal, f.run, "run2")
    assert _plugin(store, rid, f._replace(run="run2")) \
        .physical_resource_name() == name


def test_a_fenced_run_gets_no_name_it_could_not_store(store):
    f = new_stack(store)
    (rid,) = store.insert_resources(f, [{"name": "x", "type": "T"}])
    assert store.acquire_resource(rid, f, "CREATE") is not None
    zombie = _plugin(store, rid, f)
    assert store.take_over(f.stack_id, f.traversal, f.run, "run2")
    with pytest.raises(exception.Superseded):
        zombie.physical_resource_name()
    assert store.get_resource(rid).physical_name is None
    # What the current run stores (once it has taken the row over) is what
    # the fenced one then reads.
    f2 = f._replace(run="run2")
    assert store.acquire_resource(rid, f2, "CREATE") is not None
    name = _plugin(store, rid, f2).physical_resource_name()
    assert _plugin(store, rid, f).physical_resource_name() == name


def _names(action):
    return [n for a, n in SEEN if a == action]


def test_every_plugin_object_of_an_incarnation_sees_one_name(orch):
    tmpl = {"heat_template_version": "2018-08-31", "resources": {
        "r": {"type": "Test::Named", "retries": 1,
              "properties": {"fail_first": 1}}}}
    stack = orch.create_stack("st", tmpl).wait(30)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    (row,) = orch.db.store.list_resources(stack.id)
    first = row.physical_name
    assert first.startswith("st-r-")
    # The failed attempt, its discarding, the retry and the polls: one
    # name, the stored one.
    assert set(_names("CREATE")) | set(_names("CHECK")) == {first}
    assert _names("DELETE") == [first]
    assert row.physical_resource_id == first
    # A replacement is a new incarnation: a new name; the original is
    # deleted by its own name (a new plugin object, in clean-up).
    tmpl["resources"]["r"]["properties"]["size"] = 2
    stack = orch.update_stack("st", tmpl).wait(30)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    (row,) = orch.db.store.list_resources(stack.id)
    assert row.physical_name not in (None, first)
    assert _names("DELETE") == [first, first]
    assert orch.delete_stack("st").wait(30).stack_status == "DELETE_COMPLETE"
    assert _names("DELETE") == [first, first, row.physical_name]
