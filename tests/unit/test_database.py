"""The embedded SQLite database: heatflow's threads take turns on one held
connection, and the engine still serves anyone else.  Opening a database
whose driver is missing."""

import sys
import threading

import pytest
import sqlalchemy as sa

from heatflow import exception
from heatflow.persistence import database


@pytest.fixture
def db(tmp_path):
    d = database.Database("sqlite:///" + str(tmp_path / "t.db"))
    with d.connections.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (k INTEGER PRIMARY KEY, v)"))
    yield d
    d.close()


def count(db):
    with db.connections.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM t")).scalar()


def test_threads_take_turns_and_every_write_lands(db):
    def write(i):
        for j in range(25):
            with db.connections.begin() as conn:
                conn.execute(sa.text("INSERT INTO t (k, v) VALUES (:k, 1)"),
                             {"k": i * 100 + j})
    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(db) == 16 * 25


def test_a_failed_transaction_leaves_nothing_behind(db):
    with pytest.raises(RuntimeError):
        with db.connections.begin() as conn:
            conn.execute(sa.text("INSERT INTO t (k, v) VALUES (1, 1)"))
            raise RuntimeError("the caller gave up")
    with db.connections.begin() as conn:      # the same key goes in now
        conn.execute(sa.text("INSERT INTO t (k, v) VALUES (1, 2)"))
    assert count(db) == 1


def test_a_failed_commit_leaves_nothing_behind(db):
    def refuse(conn):
        raise sa.exc.OperationalError("COMMIT", {}, Exception("busy"))
    sa.event.listen(db.engine, "commit", refuse)
    with pytest.raises(sa.exc.OperationalError):
        with db.connections.begin() as conn:
            conn.execute(sa.text("INSERT INTO t (k, v) VALUES (1, 1)"))
    sa.event.remove(db.engine, "commit", refuse)
    assert count(db) == 0


def test_a_read_leaves_no_transaction_open(db):
    with db.connections.connect() as conn:
        conn.execute(sa.text("INSERT INTO t (k, v) VALUES (1, 1)"))
    # Not committed: discarded, as on a pooled connection's check-in.
    assert count(db) == 0


def test_the_engine_still_serves_others(db):
    count(db)                     # heatflow's connection is now held
    got = []

    def other_user():
        with db.engine.connect() as conn:
            got.append(conn.execute(sa.text("SELECT count(*) FROM t"))
                       .scalar())
    t = threading.Thread(target=other_user, daemon=True)
    t.start()
    t.join(10)
    assert got == [0]


def test_a_missing_database_driver_is_a_one_line_hint():
    with pytest.raises(exception.DatabaseDriverMissing) as err:
        database.create_engine("mysql://u@h/db")
    assert str(err.value) == ("the database driver of mysql is not "
                              "installed (MySQLdb): install the driver")


def test_postgresql_without_a_driver_gets_the_installed_one(monkeypatch):
    """``postgresql://`` works with the [postgresql] extra (psycopg2),
    whatever SQLAlchemy's own default driver is; with none installed, the
    error says what to install."""
    engine = database.create_engine("postgresql://u@127.0.0.1:1/db")
    assert engine.dialect.driver == "psycopg2"
    monkeypatch.setattr(database, "POSTGRESQL_DRIVERS",
                        (("no_such_module_xyz", "psycopg2"),))
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(exception.DatabaseDriverMissing) as err:
        database.create_engine("postgresql://u@127.0.0.1:1/db")
    # names what pip can install (heatflow is not on an index)
    assert "pip install psycopg2-binary (from a clone of heatflow: pip " \
        "install -e '.[postgresql]')" in str(err.value)
    with pytest.raises(exception.DatabaseDriverMissing) as err:
        database.create_engine("postgresql+psycopg://u@127.0.0.1:1/db")
    assert "(psycopg): pip install 'psycopg[binary]'" in str(err.value)


# -- opening without alembic or TaskFlow (issue 22) ---------------------------

def test_the_heads_opening_checks_for_are_the_scripts_heads():
    """migrate.HEAD and TASKFLOW_HEAD are what an open compares the version
    tables with; a new migration (ours, or the installed TaskFlow's) must
    move them, or every open migrates again."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from taskflow.persistence.backends.sqlalchemy import migration
    from taskflow.persistence.backends.sqlalchemy import tables
    from heatflow.persistence import migrate
    cfg = Config()
    cfg.set_main_option("script_location", migrate.SCRIPTS)
    assert ScriptDirectory.from_config(cfg).get_heads() == [migrate.HEAD]
    theirs = ScriptDirectory.from_config(migration._make_alembic_config())
    assert theirs.get_heads() == [migrate.TASKFLOW_HEAD]
    md = sa.MetaData()
    tables.fetch(md)
    assert sorted(md.tables) == sorted(migrate.TASKFLOW_TABLES)


def test_a_current_schema_is_not_migrated_again(tmp_path, monkeypatch):
    from heatflow.persistence import migrate
    url = "sqlite:///" + str(tmp_path / "c.db")
    database.Database(url).close()
    calls = []
    monkeypatch.setattr(migrate, "upgrade", calls.append)
    d = database.Database(url)
    assert d.schema_is_current() and calls == []
    # An older revision is migrated on open, as before.
    with d.connections.begin() as conn:
        conn.execute(sa.text("UPDATE %s SET version_num = '0001'"
                             % migrate.VERSION_TABLE))
    assert not d.schema_is_current()
    d.close()
    database.Database(url).close()
    assert len(calls) == 1


def test_an_empty_database_is_not_current():
    d = database.Database("sqlite://", upgrade=False)
    try:
        assert not d.schema_is_current()
        d.upgrade()
        assert d.schema_is_current()
    finally:
        d.close()


def _schema(conn):
    insp = sa.inspect(conn)
    return {t: ({c["name"]: (str(c["type"]), c["nullable"])
                 for c in insp.get_columns(t)},
                sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                       for i in insp.get_indexes(t)),
                sorted(tuple(fk["constrained_columns"]) +
                       (fk["referred_table"],)
                       for fk in insp.get_foreign_keys(t)))
            for t in insp.get_table_names()}


def test_the_stand_in_for_a_missing_file_has_the_migrated_schema(tmp_path):
    """A reader of a database file that is not there gets an empty one in
    memory made from the models (no alembic); it must be the schema the
    migrations make, TaskFlow's tables included once its backend is
    built."""
    stand_in = database.Database("sqlite:///" + str(tmp_path / "no.db"),
                                 create=False)
    migrated = database.Database("sqlite://")
    try:
        assert stand_in.stand_in and not migrated.stand_in
        assert not (tmp_path / "no.db").exists()
        assert stand_in.schema_is_current() is False    # no TaskFlow yet
        stand_in.taskflow
        assert stand_in.schema_is_current()
        with stand_in.connections.connect() as a, \
                migrated.connections.connect() as b:
            assert _schema(a) == _schema(b)
    finally:
        stand_in.close()
        migrated.close()
