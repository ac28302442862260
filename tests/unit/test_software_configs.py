"""``rpc_client()``'s software configs as Heat's config resources use
them, on heatflow's database and on memory alike."""

import types

import pytest

from heatflow import exception
from heatflow import rpc_client
from heatflow.persistence import database
from heatflow.persistence import sealing


def ctx(project, admin=False):
    return types.SimpleNamespace(project_id=project, is_admin=admin)


@pytest.fixture(params=["database", "memory"])
def client(request, tmp_path):
    if request.param == "memory":
        yield rpc_client.EngineClient(rpc_client.MemoryConfigs())
        return
    db = database.Database("sqlite:///" + str(tmp_path / "t.db"))
    yield rpc_client.EngineClient(db.store)
    db.close()


def test_create_show_list_delete(client):
    made = client.create_software_config(
        ctx("p1"), group="script", name="cfg", config="echo hi",
        inputs=[{"name": "x"}, {"name": "y", "type": "Number",
                                "replace_on_change": True}],
        outputs=[{"name": "out"}])
    shown = client.show_software_config(ctx("p1"), made["id"])
    assert shown == made
    assert shown["config"] == "echo hi" and shown["group"] == "script"
    # Defaults filled in as Heat stores them; replace_on_change only
    # when true.
    assert shown["inputs"] == [
        {"name": "x", "type": "String"},
        {"name": "y", "type": "Number", "replace_on_change": True}]
    assert shown["outputs"] == [{"name": "out", "type": "String",
                                 "error_output": False}]
    assert shown["options"] == {}
    listed = client.list_software_configs(ctx("p1"))
    assert [c["id"] for c in listed] == [made["id"]]
    assert "config" not in listed[0]
    client.delete_software_config(ctx("p1"), made["id"])
    with pytest.raises(exception.NotFound):
        client.show_software_config(ctx("p1"), made["id"])


def test_another_projects_config_is_not_found_except_by_an_admin(client):
    made = client.create_software_config(ctx("p1"), "g", "n", "c")
    for op in (client.show_software_config, client.delete_software_config):
        with pytest.raises(exception.NotFound, match="not found"):
            op(ctx("p2"), made["id"])
        with pytest.raises(exception.NotFound):
            op(None, made["id"])        # no context: no project
    assert client.list_software_configs(ctx("p2")) == []
    listed = client.list_software_configs(ctx("p2", admin=True))
    assert listed[0]["project"] == "p1"
    client.delete_software_config(ctx("admin", admin=True), made["id"])
    assert client.list_software_configs(ctx("p1")) == []


def test_paging_with_limit_and_marker(client):
    ids = [client.create_software_config(ctx("p"), "g", str(i), "c")["id"]
           for i in range(5)]
    page = client.list_software_configs(ctx("p"), limit=2)
    assert [c["name"] for c in page] == ["0", "1"]
    rest = client.list_software_configs(ctx("p"), marker=page[-1]["id"])
    assert [c["id"] for c in rest] == ids[2:]


def test_bad_inputs_are_refused_naming_the_place(client):
    with pytest.raises(ValueError, match=r"inputs\[0\]\.type"):
        client.create_software_config(ctx("p"), "g", "n", "c",
                                      inputs=[{"name": "x", "type": "Int"}])
    with pytest.raises(TypeError, match="must be in a list"):
        client.create_software_config(ctx("p"), "g", "n", "c",
                                      outputs={"name": "x"})
    assert client.list_software_configs(ctx("p")) == []


def test_ignore_error_by_name(client):
    with client.ignore_error_by_name("NotFound"):
        client.delete_software_config(ctx("p"), "no-such-config")
    with pytest.raises(KeyError):
        with client.ignore_error_by_name("NotFound"):
            raise KeyError("other")


def test_the_script_is_sealed_at_rest(tmp_path):
    key = sealing.generate_key()
    db = database.Database("sqlite:///" + str(tmp_path / "s.db"),
                           encryption_key=key)
    try:
        client = rpc_client.EngineClient(db.store)
        client.create_software_config(ctx("p"), "g", "n", "password=s3cret")
    finally:
        db.close()
    assert b"s3cret" not in (tmp_path / "s.db").read_bytes()
