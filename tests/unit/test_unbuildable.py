"""A resource whose plugin can no longer be constructed when it is to be
deleted (its configuration gone, say): with a physical resource recorded,
the delete fails and says why, rather than forget what exists; without
one, there is nothing to delete and the delete goes on."""

import pytest

import heatflow
from heatflow import exception, resource

#: "broken": constructing a plugin object fails; "refuse": its create
#: fails before it makes anything.
FLAGS = set()
CLOUD = set()


class Fragile(resource.Resource):

    def __init__(self, *args, **kwargs):
        if "broken" in FLAGS:
            raise exception.HeatflowError("no credentials")
        super().__init__(*args, **kwargs)

    def handle_create(self):
        if "refuse" in FLAGS:
            raise exception.HeatflowError("refused")
        CLOUD.add("p-" + self.name)
        self.resource_id_set("p-" + self.name)

    def handle_delete(self):
        CLOUD.discard(self.resource_id)


@pytest.fixture
def orch(tmp_path):
    FLAGS.clear()
    CLOUD.clear()
    o = heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db"))
    o.register_plugin("Test::Fragile", Fragile)
    yield o
    o.close()


def _template(**resources):
    return {"heat_template_version": "2018-08-31", "resources": resources}


def test_a_recorded_resource_is_not_forgotten(orch):
    stack = orch.create_stack("st", _template(
        r={"type": "Test::Fragile"})).wait(30)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    FLAGS.add("broken")
    stack = orch.delete_stack("st").wait(30)
    assert stack.stack_status == "DELETE_FAILED"
    (r,) = orch.list_resources("st")
    assert r.resource_status == "DELETE_FAILED"
    assert r.physical_resource_id == "p-r"
    assert "p-r cannot be deleted" in r.status_reason
    assert "no credentials" in r.status_reason
    assert CLOUD == {"p-r"}


def test_nothing_recorded_nothing_to_delete(orch):
    FLAGS.add("refuse")
    stack = orch.create_stack("st", _template(
        r={"type": "Test::Fragile"})).wait(30)
    assert stack.stack_status == "CREATE_FAILED"
    FLAGS.add("broken")
    stack = orch.delete_stack("st").wait(30)
    assert stack.stack_status == "DELETE_COMPLETE", stack.status_reason
