"""heatflow's lean TaskFlow persistence: what it skips writing never
loses what a resumed flow reads back."""

import contextlib
import uuid

import pytest
import sqlalchemy as sa
from taskflow import exceptions as tf_exc
from taskflow.persistence import models

from heatflow.persistence import database


@pytest.fixture
def db(tmp_path):
    d = database.Database("sqlite:///" + str(tmp_path / "t.db"))
    yield d
    d.close()


def new_flow(db, atoms=2):
    book = models.LogBook("b")
    fd = models.FlowDetail("f", str(uuid.uuid4()))
    book.add(fd)
    with contextlib.closing(db.taskflow.get_connection()) as conn:
        conn.save_logbook(book)
    for i in range(atoms):
        fd.add(models.TaskDetail("t%d" % i, str(uuid.uuid4())))
    return fd


def read_back(db, fd):
    """The flow's atom details as a fresh process would load them."""
    db.taskflow.forget_flow(fd.uuid)
    with contextlib.closing(db.taskflow.get_connection()) as conn:
        return {ad.name: ad for ad in conn.get_flow_details(fd.uuid)}


def test_atoms_of_a_failed_commit_are_inserted_when_tried_again(db):
    fd = new_flow(db)
    fail = [True]

    def refuse(conn):
        if fail:
            fail.pop()
            raise sa.exc.OperationalError("COMMIT", {}, Exception("busy"))
    sa.event.listen(db.engine, "commit", refuse)
    with contextlib.closing(db.taskflow.get_connection()) as conn:
        with pytest.raises(tf_exc.StorageFailure):
            conn.update_flow_details(fd)
        conn.update_flow_details(fd)          # TaskFlow tries again
    sa.event.remove(db.engine, "commit", refuse)
    assert sorted(read_back(db, fd)) == ["t0", "t1"]


def test_a_state_change_keeps_what_did_not_change(db):
    fd = new_flow(db, atoms=1)
    ad = next(iter(fd))
    with contextlib.closing(db.taskflow.get_connection()) as conn:
        conn.update_flow_details(fd)
        ad.intention = "EXECUTE"
        ad.meta = {"kept": 1}
        conn.update_atom_details(ad)
        ad.put("SUCCESS", {"ref": "r1"})
        conn.update_atom_details(ad)          # state and results only
        ad.put("SUCCESS", {"ref": "r2"})
        conn.update_atom_details(ad)
    got = read_back(db, fd)["t0"]
    assert (got.state, got.intention, got.results, got.meta) == \
        ("SUCCESS", "EXECUTE", {"ref": "r2"}, {"kept": 1})


def test_a_row_not_known_here_is_written_whole(db):
    fd = new_flow(db, atoms=1)
    ad = next(iter(fd))
    with contextlib.closing(db.taskflow.get_connection()) as conn:
        conn.update_flow_details(fd)
    # Another process wrote the row since (simulated behind our back).
    t = db.taskflow.schema[1].atomdetails
    with db.engine.begin() as c:
        c.execute(t.update().where(t.c.uuid == ad.uuid).values(
            intention="REVERT"))
    db.taskflow.forget_flow(fd.uuid)
    with contextlib.closing(db.taskflow.get_connection()) as conn:
        conn.update_flow_details(fd)
        ad.put("SUCCESS", {"ref": "r"})
        conn.update_atom_details(ad)
    got = read_back(db, fd)["t0"]
    assert (got.state, got.intention, got.results) == \
        ("SUCCESS", "EXECUTE", {"ref": "r"})
