"""heatflow's own database fails under a running operation (the SQLite
file's disk fills up): that is the stack's failure, said as such, never a
resource's; and the next operation, once there is room again, finishes
what the failed one left (clean-up included).

The disk is a real one: a 3 MiB tmpfs (needs root, as CI has)."""

import logging
import os
import subprocess
import threading
import time

import pytest

import heatflow
from heatflow.persistence import sql
from tests import conftest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a small tmpfs needs root")


def hot(resources):
    return {"heat_template_version": "2018-08-31", "resources": resources}


def thing(**props):
    return {"type": "Test::Thing", "properties": props}


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs",
                    str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


class _Seen(logging.Handler):
    """Sets ``event`` when a record's message contains ``text``."""

    def __init__(self, text):
        super().__init__()
        self.text, self.event = text, threading.Event()

    def emit(self, record):
        if self.text in record.getMessage():
            self.event.set()


def test_a_full_disk_fails_the_stack_not_a_resource(small_disk, cloud,
                                                    monkeypatch):
    monkeypatch.setattr(sql, "OUTAGE_PATIENCE", 5.0)
    orch = heatflow.Orchestrator("sqlite:///%s/hf.db" % small_disk,
                                 plugin_dirs=[conftest.PLUGIN_DIR])
    seen = _Seen("database unavailable")
    logging.getLogger("heatflow").addHandler(seen)
    try:
        orch.create_stack("s", hot({
            "a": thing(name="a"),
            "b": thing(name="b", ref={"get_resource": "a"})})).wait(30)
        (old_a,) = [i for i, p in cloud.reality().items()
                    if p["name"] == "a"]
        # a is replaced; while b is being updated to point at the new a,
        # the disk fills up.
        target = hot({"a": thing(name="a", size=2),
                      "b": thing(name="b", delay=1,
                                 ref={"get_resource": "a"})})
        orch.update_stack("s", target)
        while not any(j["event"] == "update" for j in cloud.journal()):
            time.sleep(0.01)
        filler = small_disk / "filler"
        subprocess.run("dd if=/dev/zero of=%s bs=64k" % filler, shell=True,
                       stderr=subprocess.DEVNULL)
        assert seen.event.wait(60), "the engine never hit the full disk"
        # The store rides out an outage for OUTAGE_PATIENCE seconds, then
        # gives up; room comes back a moment after.
        time.sleep(sql.OUTAGE_PATIENCE + 1)
        filler.unlink()

        end = time.time() + 60
        while orch.get_stack("s").status == "IN_PROGRESS" and \
                time.time() < end:
            time.sleep(0.05)
        stack = orch.get_stack("s")
        assert stack.stack_status == "UPDATE_FAILED"
        assert stack.status_reason.startswith(
            "Stack UPDATE failed: engine storage error:")
        assert "disk is full" in stack.status_reason
        assert "\n" not in stack.status_reason
        for res in orch.list_resources("s"):
            assert "OperationalError" not in res.status_reason
            assert "storage" not in res.status_reason

        # Room again: the next operation completes, the replaced original
        # is cleaned up, nothing leaks.
        done = orch.update_stack("s", target).wait(60)
        assert done.stack_status == "UPDATE_COMPLETE"
        reality = cloud.reality()
        assert old_a not in reality
        assert sorted(p["name"] for p in reality.values()) == ["a", "b"]
        assert sorted(r.physical_resource_id
                      for r in orch.list_resources("s")) == sorted(reality)
    finally:
        logging.getLogger("heatflow").removeHandler(seen)
        orch.close()
