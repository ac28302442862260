"""heatflow's TaskFlow engine: the near-successor selector schedules a
flow exactly as TaskFlow's own would, for flows without deciders."""

import collections
import contextlib
import concurrent.futures
import threading

import pytest
from taskflow import task
from taskflow.patterns import graph_flow
from taskflow.persistence import backends, models

from heatflow.flows import engine


class Step(task.Task):
    def __init__(self, name, requires, log, lock, fail=False):
        super().__init__(name=name, provides="v:" + name,
                         requires=["v:" + r for r in requires])
        self._log, self._lock, self._fail = log, lock, fail

    def execute(self, **inputs):
        with self._lock:
            self._log.append(("run", self.name, sorted(inputs)))
        if self._fail:
            raise RuntimeError("boom")
        return self.name

    def revert(self, **kwargs):
        with self._lock:
            self._log.append(("revert", self.name))


def run(graph, fail=None):
    log, lock = [], threading.Lock()
    flow = graph_flow.Flow("g")
    flow.add(*[Step(n, deps, log, lock, fail=(n == fail))
               for n, deps in graph.items()])
    be = backends.fetch({"connection": "memory://"})
    book = models.LogBook("b")
    fd = models.FlowDetail("f", "fd-uuid")
    book.add(fd)
    with contextlib.closing(be.get_connection()) as conn:
        conn.save_logbook(book)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        eng = engine.load(flow, fd, be, pool)
        assert isinstance(eng._runtime.selector, engine.NearSelector)
        try:
            eng.run()
        except RuntimeError:
            pass
    return log, eng.storage.get_flow_state()


# A barrier fed by every resource, then work after it: the shape heatflow's
# flows have.
GRAPH = collections.OrderedDict([
    ("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"]),
    ("barrier", ["a", "b", "c", "d"]), ("x", ["barrier"]),
    ("y", ["barrier", "x"]), ("end", ["x", "y"]),
])


def test_every_atom_runs_once_after_all_its_predecessors():
    log, state = run(GRAPH)
    assert state == "SUCCESS"
    order = [e[1] for e in log]
    assert sorted(order) == sorted(GRAPH)
    for name, deps in GRAPH.items():
        for d in deps:
            assert order.index(d) < order.index(name), (d, name)


@pytest.mark.parametrize("failing", ["d", "y"])
def test_revert_undoes_what_ran_in_reverse_order(failing):
    log, state = run(GRAPH, fail=failing)
    assert state == "REVERTED"
    ran = [e[1] for e in log if e[0] == "run"]
    reverted = [e[1] for e in log if e[0] == "revert"]
    assert sorted(reverted) == sorted(ran)
    for name, deps in GRAPH.items():
        for d in deps:
            if name in reverted and d in reverted:
                assert reverted.index(name) < reverted.index(d), (name, d)
