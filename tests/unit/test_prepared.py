"""Prepared statements read and write what SQLAlchemy's own execution of the
same statement reads and writes, and stay visible to its event listeners."""

import datetime
import itertools
import uuid

import pytest
import sqlalchemy as sa

from heatflow.persistence import database
from heatflow.persistence import prepared
from heatflow.persistence import resources
from heatflow.persistence import sealing
from heatflow.persistence import store as store_mod

B = sa.bindparam
md = sa.MetaData()
things = sa.Table(
    "things", md,
    sa.Column("k", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20)),
    sa.Column("secret", sealing.Sealed()),
    sa.Column("doc", sa.JSON),
    sa.Column("flag", sa.Boolean),
    sa.Column("at", sa.DateTime),
    sa.Column("touched", sa.Integer, onupdate=itertools.count(1).__next__))
INSERT = things.insert().values(k=B("p_k"), name=B("p_name"),
                                secret=B("p_secret"), doc=B("p_doc"),
                                flag=B("p_flag"), at=B("p_at"))
SELECT = sa.select(things).where(things.c.k == B("p_k"))
TOUCH = things.update().where(things.c.k == B("p_k")).values(
    name=B("p_name")).returning(things.c.name, things.c.touched)
ROW = {"p_k": 1, "p_name": "one", "p_secret": {"password": "s3cret"},
       "p_doc": {"list": [1, 2]}, "p_flag": True,
       "p_at": datetime.datetime(2026, 11, 23, 1, 2, 3, 456789)}


@pytest.fixture
def engine():
    e = sa.create_engine("sqlite://")
    sealing.attach(e, sealing.Cipher(sealing.generate_key()))
    md.create_all(e)
    yield e
    e.dispose()


def test_what_is_written_reads_back_as_sqlalchemy_reads_it(engine):
    stmts = prepared.Statements(engine.dialect)
    with engine.begin() as conn:
        stmts.run(conn, INSERT, ROW)
        ours = stmts.run(conn, SELECT, {"p_k": 1}).one()
        theirs = conn.execute(SELECT, {"p_k": 1}).one()
        stored = conn.execute(sa.text("SELECT secret FROM things")).scalar()
    assert tuple(ours) == tuple(theirs)
    assert ours.secret == {"password": "s3cret"}
    assert ours.at == ROW["p_at"] and ours.flag is True
    assert "s3cret" not in stored          # sealed, as the column says


def test_python_defaults_are_computed_for_each_execution(engine):
    stmts = prepared.Statements(engine.dialect)
    with engine.begin() as conn:
        stmts.run(conn, INSERT, ROW)
        first = stmts.run(conn, TOUCH, {"p_k": 1, "p_name": "uno"}).one()
        second = stmts.run(conn, TOUCH, {"p_k": 1, "p_name": "eins"}).one()
    assert first.name == "uno" and second.name == "eins"
    assert second.touched == first.touched + 1


def test_values_written_into_the_statement_are_sent_with_it(engine):
    stmts = prepared.Statements(engine.dialect)
    named = sa.select(things.c.k).where(things.c.k == B("p_k"),
                                        things.c.name == "one")
    with engine.begin() as conn:
        stmts.run(conn, INSERT, ROW)
        assert stmts.run(conn, named, {"p_k": 1}).one().k == 1


def test_rowcount_and_missing_rows(engine):
    stmts = prepared.Statements(engine.dialect)
    with engine.begin() as conn:
        res = stmts.run(conn, TOUCH, {"p_k": 9, "p_name": "none"})
        assert res.rowcount == 0 and res.first() is None
        assert stmts.run(conn, SELECT, {"p_k": 9}).one_or_none() is None
        with pytest.raises(sa.exc.NoResultFound):
            stmts.run(conn, SELECT, {"p_k": 9}).one()


def test_every_statement_reaches_cursor_event_listeners(engine):
    seen = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *a: seen.append(
                        statement.split()[0]))
    stmts = prepared.Statements(engine.dialect)
    with engine.begin() as conn:
        stmts.run(conn, INSERT, ROW)
        stmts.run(conn, SELECT, {"p_k": 1})
    assert seen == ["INSERT", "SELECT"]


def test_database_errors_are_sqlalchemys(engine):
    # (callers that ride out outages catch SQLAlchemy's exceptions)
    stmts = prepared.Statements(engine.dialect)
    with engine.begin() as conn:
        stmts.run(conn, INSERT, ROW)
        with pytest.raises(sa.exc.IntegrityError):
            stmts.run(conn, INSERT, ROW)


def test_a_value_its_type_cannot_convert_is_reported_as_sqlalchemy_does(
        engine):
    stmts = prepared.Statements(engine.dialect)
    with engine.begin() as conn:
        with pytest.raises(sa.exc.StatementError):
            stmts.run(conn, INSERT, dict(ROW, p_doc={"set": {1, 2}}))


def test_statements_whose_sql_depends_on_the_parameters_are_refused(engine):
    stmt = sa.select(things).where(things.c.k.in_(B("ks", expanding=True)))
    with pytest.raises(ValueError):
        prepared.Prepared(stmt, engine.dialect)


def test_the_stores_reads_match_sqlalchemys(tmp_path):
    db = database.Database("sqlite:///" + str(tmp_path / "t.db"),
                           encryption_key=sealing.generate_key())
    st = db.store
    sid, trav, run = (str(uuid.uuid4()) for _ in range(3))
    st.create_stack(stack_id=sid, name="s", template={}, files={},
                    environment={}, parameters={}, action="CREATE",
                    traversal=trav, run=run, status_reason="",
                    disable_rollback=True, timeout_mins=None,
                    deadline=None, flow_uuid=str(uuid.uuid4()))
    fence = store_mod.Fence(sid, trav, run)
    rid, = st.insert_resources(fence, [{"name": "a", "type": "T",
                                        "requires": [7]}])
    st.acquire_resource(rid, fence, "CREATE")
    st.finish_resource(rid, fence, "CREATE", "COMPLETE",
                       properties={"p": "v"}, attributes={"a": [1]})
    for stmt, params in [
            (resources._GET_RESOURCE, {"rid": rid}),
            (resources._RESOURCE_AT_POSITION, {"rid": rid, "sid": sid}),
            (store_mod._STACK_POSITION, {"sid": sid})]:
        with db.connections.connect() as conn:
            theirs = conn.execute(stmt, params).one()
            ours = st._run(conn, stmt, params).one()
        assert tuple(ours) == tuple(theirs)
    row = st.get_resource(rid)
    assert (row.properties, row.attributes, row.requires) == \
        ({"p": "v"}, {"a": [1]}, [7])
    assert isinstance(row.created_at, datetime.datetime)
    db.close()


def test_a_connection_the_error_says_is_gone_is_invalidated(engine,
                                                            monkeypatch):
    stmts = prepared.Statements(engine.dialect)
    with engine.connect() as conn:
        stmts.run(conn, INSERT, ROW)
        monkeypatch.setattr(engine.dialect, "is_disconnect",
                            lambda *args: True)
        with pytest.raises(sa.exc.DBAPIError) as err:
            stmts.run(conn, INSERT, ROW)
        assert err.value.connection_invalidated and conn.invalidated
