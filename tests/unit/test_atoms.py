"""The atoms' argument mappings: read from each class's signatures once, and
the same as TaskFlow works them out for every atom."""

import pytest
from taskflow import task

from heatflow.flows import atoms
from heatflow.flows import cleanup
from heatflow.flows import converge
from heatflow.flows import plan

OP = plan.OperationHeader(runtime="r", stack_id="s", stack_name="n",
                          traversal="t", run="u", flow_uuid="f",
                          action="CREATE", template_id=1)

KINDS = {
    "converge": lambda: converge.ConvergeResource(OP, "server", 7,
                                                  ["net", "port"]),
    "converge-alone": lambda: converge.ConvergeResource(OP, "lone", 8, []),
    "gather": lambda: atoms.Gather(OP, "g1", ["ref:a", "ref:b"]),
    "converged": lambda: atoms.Converged(OP, ["ref:server", "g1"]),
    "cleanup": lambda: cleanup.CleanupResource(OP, 3, [1, 2]),
    "finish": lambda: atoms.FinishStack(OP, ["gone:3"], ["server"]),
}

MAPPINGS = ("rebind", "requires", "optional", "revert_rebind",
            "revert_optional")


def mappings(atom):
    return {k: list(getattr(atom, k).items()) if k.endswith("rebind")
            else list(getattr(atom, k)) for k in MAPPINGS}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_mapping_is_what_taskflow_makes_of_it(monkeypatch, kind):
    ours = mappings(KINDS[kind]())
    ours_again = mappings(KINDS[kind]())          # from the cache
    monkeypatch.setattr(atoms._Atom, "_build_arg_mapping",
                        task.Task._build_arg_mapping)
    assert ours == ours_again == mappings(KINDS[kind]())


def test_signature_is_read_once_per_class(monkeypatch):
    calls = []
    real = task.Task._build_arg_mapping

    def counting(self, executor, *args, **kwargs):
        calls.append(executor.__name__)
        return real(self, executor, *args, **kwargs)

    monkeypatch.setattr(task.Task, "_build_arg_mapping", counting)
    monkeypatch.setattr(atoms._Atom, "_signature_args", {})
    for i in range(5):
        converge.ConvergeResource(OP, "r%d" % i, i, ["x%d" % i])
    assert sorted(calls) == ["execute", "revert"]


def test_a_row_gone_under_a_converge_atom_stops_its_run(monkeypatch):
    """A conductor frozen between its first read of a row and its
    decision wakes up to find the row removed (by the run that took over,
    or a newer operation): its run stops, as a superseded one does; it
    does not fail with an AttributeError (seen in a chaos soak trial)."""
    atom = converge.ConvergeResource(OP, "r", 7, [])
    halted = []
    monkeypatch.setattr(atom, "first_read", lambda row_id: object())
    monkeypatch.setattr(atom, "wait_idle", lambda row_id, row: None)
    monkeypatch.setattr(atom, "_current_row", lambda row=None: row)
    monkeypatch.setattr(atom, "halt", lambda: halted.append(True))
    assert atom.execute() == atoms.SUPERSEDED
    assert halted == [True]


@pytest.mark.parametrize("linked, new_row", [(True, None), (False, "row")])
def test_a_replacement_row_gone_at_once_stops_its_run(monkeypatch, linked,
                                                      new_row):
    """The replacement's row is inserted, then found gone (or the original
    could not be linked to it): the operation moved on in between, and
    the run stops as a superseded one -- no AttributeError on a None row
    (a chaos soak trial)."""
    import types

    atom = converge.ConvergeResource(OP, "r", 7, [])

    class Store:
        def insert_resources(self, fence, rows):
            return [8]

        def set_resource_fields(self, row_id, fence, **fields):
            return linked

        def get_resource(self, row_id):
            return new_row

    monkeypatch.setattr(atoms._Atom, "store", property(lambda self: Store()))
    row = types.SimpleNamespace(id=7, requires=[])
    defn = types.SimpleNamespace(name="r", type="T")
    with pytest.raises(atoms._Superseded):
        atom._replacement_row(row, defn)
