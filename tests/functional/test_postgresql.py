"""heatflow on PostgreSQL, end to end through the public API.

Each test runs on a fresh database of the session's PostgreSQL server
(``pg_url``).  The lifecycle test also runs on the SQLite default, so that
a failure that is PostgreSQL's alone shows as such.
"""

import sqlalchemy as sa

import pytest

import heatflow
from heatflow import exception
from heatflow.persistence import database
from heatflow.persistence import migrate
from heatflow.persistence import models


def hot(resources, outputs=None):
    t = {"heat_template_version": "2018-08-31", "resources": resources}
    if outputs:
        t["outputs"] = outputs
    return t


def thing(**props):
    return {"type": "Test::Thing", "properties": props}


def template(net_name="net", server_size=1):
    return hot(
        {"net": thing(name=net_name),
         "server": thing(name="srv", size=server_size,
                         ref={"get_resource": "net"}),
         "volume": dict(thing(name="vol"), depends_on=["server"])},
        outputs={"net_name": {"value": {"get_attr": ["net", "name"]}},
                 "server_size": {"value": {"get_attr": ["server",
                                                        "size"]}}})


@pytest.fixture(params=["postgresql", "sqlite"])
def any_url(request):
    if request.param == "sqlite":
        return request.getfixturevalue("db_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def pg_orch(any_url, cloud):
    o = heatflow.Orchestrator(any_url, poll_interval=(0.005, 0.05))
    o.register_plugin("Test::Thing", cloud.Thing)
    yield o
    o.close()


def _ids(orch, name):
    return {r.name: r.physical_resource_id for r in
            orch.list_resources(name)}


def test_stack_lifecycle(pg_orch, cloud, any_url):
    orch = pg_orch
    assert orch.db.engine.url.get_backend_name() == \
        sa.engine.make_url(any_url).get_backend_name()

    # Create, with dependencies.
    stack = orch.create_stack("web", template()).wait(60)
    assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
    assert stack.outputs == {"net_name": "net", "server_size": 1}
    ids = _ids(orch, "web")
    created = [j["id"] for j in cloud.journal() if j["event"] == "create"]
    assert created == [ids["net"], ids["server"], ids["volume"]]
    assert cloud.reality()[ids["server"]]["ref"] == ids["net"]
    assert [s.name for s in orch.list_stacks()] == ["web"]
    assert orch.get_stack("web").outputs == stack.outputs

    # Update in place: the net keeps its physical resource.
    stack = orch.update_stack("web", template(net_name="net2")).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert stack.outputs == {"net_name": "net2", "server_size": 1}
    after = _ids(orch, "web")
    assert after == ids
    assert cloud.reality()[ids["net"]]["name"] == "net2"

    # Replacement: a new server, the old one deleted.
    stack = orch.update_stack("web", template(net_name="net2",
                                              server_size=2)).wait(60)
    assert stack.stack_status == "UPDATE_COMPLETE", stack.status_reason
    assert stack.outputs == {"net_name": "net2", "server_size": 2}
    replaced = _ids(orch, "web")
    assert replaced["net"] == ids["net"]
    assert replaced["server"] != ids["server"]
    reality = cloud.reality()
    assert ids["server"] not in reality
    assert reality[replaced["server"]]["size"] == 2
    assert set(reality) == set(replaced.values())
    # The replacement is a new resource; the untouched volume keeps its
    # state; the net was updated by the first update.
    assert {r.name: r.resource_status for r in orch.list_resources("web")} \
        == {"net": "UPDATE_COMPLETE", "server": "CREATE_COMPLETE",
            "volume": "CREATE_COMPLETE"}

    # Delete.
    stack = orch.delete_stack("web").wait(60)
    assert stack.stack_status == "DELETE_COMPLETE", stack.status_reason
    assert cloud.reality() == {}
    assert orch.list_stacks() == []
    with pytest.raises(exception.StackNotFound):
        orch.get_stack("web")
    # Every physical resource created was deleted exactly once.
    journal = cloud.journal()
    creates = sorted(j["id"] for j in journal if j["event"] == "create")
    deletes = sorted(j["id"] for j in journal if j["event"] == "delete")
    assert creates == deletes


def test_a_second_orchestrator_sees_the_stack(pg_url, cloud):
    """Two Orchestrators on one PostgreSQL database (as two conductors
    would be) share the stacks."""
    with heatflow.Orchestrator(pg_url, poll_interval=(0.005, 0.05)) as a:
        a.register_plugin("Test::Thing", cloud.Thing)
        a.create_stack("shared", hot({"x": thing(name="x")})).wait(60)
        with heatflow.Orchestrator(pg_url) as b:
            b.register_plugin("Test::Thing", cloud.Thing)
            assert b.get_stack("shared").stack_status == "CREATE_COMPLETE"
            assert [r.name for r in b.list_resources("shared")] == ["x"]
        assert a.delete_stack("shared").wait(60).stack_status == \
            "DELETE_COMPLETE"


def test_values_are_sealed_on_postgresql(pg_url, cloud):
    """With a key, PostgreSQL's JSON columns (heatflow's and TaskFlow's)
    hold sealed envelopes, and everything reads back."""
    from heatflow.persistence import sealing
    key = sealing.generate_key()
    with heatflow.Orchestrator(pg_url, encryption_key=key,
                               poll_interval=(0.005, 0.05)) as orch:
        orch.register_plugin("Test::Thing", cloud.Thing)
        stack = orch.create_stack("web", template("pg-secret-net")).wait(60)
        assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
        assert stack.outputs["net_name"] == "pg-secret-net"
        with orch.db.engine.connect() as conn:
            dumped = " ".join(str(v) for (v,) in conn.execute(sa.text(
                "SELECT properties::text FROM hf_resources UNION ALL "
                "SELECT outputs::text FROM hf_stacks UNION ALL "
                "SELECT content::text FROM hf_templates UNION ALL "
                "SELECT results::text FROM atomdetails")))
        assert "pg-secret-net" not in dumped and "$sealed" in dumped
        assert orch.delete_stack("web").wait(60).stack_status == \
            "DELETE_COMPLETE"


def _schema(engine):
    insp = sa.inspect(engine)
    return {t: sorted(c["name"] for c in insp.get_columns(t))
            for t in insp.get_table_names()}


def test_migrations_create_both_schemas_idempotently(pg_url):
    db = database.Database(pg_url)
    try:
        schema = _schema(db.engine)
        # heatflow's tables, at the head revision of its own version table.
        for table in models.metadata.sorted_tables:
            assert table.name in schema, table.name
            assert set(c.name for c in table.columns) <= set(
                schema[table.name]), table.name
        assert migrate.VERSION_TABLE in schema
        heatflow_rev = migrate.current(db.engine)
        assert heatflow_rev is not None
        # TaskFlow's tables, with its own alembic version table.
        for table in ("logbooks", "flowdetails", "atomdetails",
                      "alembic_version"):
            assert table in schema, table
        with db.engine.connect() as conn:
            tf_rev = conn.execute(sa.text(
                "select version_num from alembic_version")).scalar()
        assert tf_rev
        # What an open compares them with, to not run alembic again.
        assert (heatflow_rev, tf_rev) == (migrate.HEAD,
                                          migrate.TASKFLOW_HEAD)
        assert db.schema_is_current()

        # A second upgrade (here and from a new Database) changes nothing.
        db.upgrade()
    finally:
        db.close()
    db2 = database.Database(pg_url)
    try:
        assert _schema(db2.engine) == schema
        assert migrate.current(db2.engine) == heatflow_rev
        with db2.engine.connect() as conn:
            assert conn.execute(sa.text(
                "select version_num from alembic_version")).scalar() \
                == tf_rev
            assert conn.execute(sa.text(
                "select count(*) from %s" % migrate.VERSION_TABLE)
            ).scalar() == 1
    finally:
        db2.close()


def test_migrations_leave_nothing_half_done(pg_url):
    """PostgreSQL has transactional DDL: heatflow's migration runs in one
    transaction (migrate.upgrade uses engine.begin())."""
    db = database.Database(pg_url, upgrade=False)
    try:
        assert _schema(db.engine) == {}
        db.upgrade()
        assert migrate.VERSION_TABLE in _schema(db.engine)
    finally:
        db.close()


def test_parallel_resources_and_rollback(pg_url, cloud):
    """Many resources at once (concurrent transactions on the pool), and a
    failed create rolled back."""
    with heatflow.Orchestrator(pg_url, poll_interval=(0.005, 0.05)) as orch:
        orch.register_plugin("Test::Thing", cloud.Thing)
        wide = hot({"r%d" % i: thing(delay=0.2) for i in range(20)})
        stack = orch.create_stack("wide", wide).wait(60)
        assert stack.stack_status == "CREATE_COMPLETE", stack.status_reason
        assert len(cloud.reality()) == 20

        stack = orch.create_stack(
            "rb", hot({"ok": thing(),
                       "bad": thing(fail=True, ref={"get_resource": "ok"})}),
            disable_rollback=False).wait(60)
        assert stack.stack_status == "ROLLBACK_COMPLETE"
        assert orch.list_resources("rb") == []
        assert len(cloud.reality()) == 20
        assert orch.delete_stack("wide").wait(60).stack_status == \
            "DELETE_COMPLETE"
        assert cloud.reality() == {}


def test_a_pooled_connection_lost_is_said_in_one_line(pg_url, caplog):
    """The server drops a connection (a restart; here its backend is
    terminated) while heatflow holds it: when it goes back to the pool,
    the pool's reset fails.  That is logged as one WARNING line, not as an
    ERROR with a traceback, and the pool goes on with a new connection."""
    import logging
    engine = database.create_engine(pg_url)
    try:
        # A connection as the pool lends it, inside a transaction (what
        # the reset rolls back), as when the restart came mid-statement.
        raw = engine.raw_connection()
        cursor = raw.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
        with engine.connect() as other:
            other.exec_driver_sql("SELECT pg_terminate_backend(%d)" % pid)
        with caplog.at_level(logging.INFO, logger="sqlalchemy.pool"):
            raw.close()                     # back to the pool: reset fails
        (record,) = [r for r in caplog.records
                     if r.name.startswith("sqlalchemy.pool") and
                     (r.exc_info or r.levelno >= logging.WARNING)]
        assert (record.levelname, record.exc_info) == ("WARNING", None)
        assert "connection was lost" in record.getMessage()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
