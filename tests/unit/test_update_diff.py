"""What ``handle_update`` is told changed: ``tmpl_diff`` names the parts
of the resource's definition that changed ("Properties", "Metadata"), as
Heat tells its plugins, and ``prop_diff`` the properties."""

import pytest

import heatflow
from heatflow import properties, resource

#: (tmpl_diff, prop_diff) of every handle_update.
TOLD = []


class Told(resource.Resource):
    properties_schema = {
        "name": properties.Schema(properties.Schema.STRING, "A label.",
                                  default="", update_allowed=True),
    }

    def handle_create(self):
        self.resource_id_set("p-" + self.name)

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        TOLD.append((tmpl_diff, dict(prop_diff)))


@pytest.fixture
def orch(tmp_path):
    del TOLD[:]
    o = heatflow.Orchestrator("sqlite:///" + str(tmp_path / "hf.db"))
    o.register_plugin("Test::Told", Told)
    yield o
    o.close()


def _converge(orch, op, name="st", **resource):
    tmpl = {"heat_template_version": "2018-08-31",
            "resources": {"r": dict(resource, type="Test::Told")}}
    stack = getattr(orch, op + "_stack")(name, tmpl).wait(30)
    assert stack.stack_status == op.upper() + "_COMPLETE", \
        stack.status_reason


def test_metadata_added(orch):
    _converge(orch, "create", properties={"name": "a"})
    _converge(orch, "update", properties={"name": "a"},
              metadata={"v": 1})
    assert TOLD == [({"Metadata": {"v": 1}}, {})]


def test_properties_changed_metadata_not(orch):
    _converge(orch, "create", properties={"name": "a"}, metadata={"v": 1})
    _converge(orch, "update", properties={"name": "b"}, metadata={"v": 1})
    ((tmpl_diff, prop_diff),) = TOLD
    assert "Metadata" not in tmpl_diff
    assert tmpl_diff["Properties"]["name"] == "b"
    assert prop_diff == {"name": "b"}
