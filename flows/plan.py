"""The recipe of one stack operation's flow, typed: the header every atom
carries (:class:`OperationHeader`) and the plan the compiler builds the flow
from (:class:`Plan`).

Both are immutable once made: a plan is saved as JSON in its TaskFlow flow
detail (``flows/execution.py`` ``save_operation``) and any process may
rebuild the same flow from it, so a new run gets a new header
(:meth:`OperationHeader.for_run`) rather than a changed one.

``to_json`` gives the dict form saved since the first release, key for
key, and ``from_json`` reads it back, including plans saved before a key
existed (the defaults below are what the code used to read for a missing
key).  "Plan" here is the flow recipe, not the dry run
(``heatflow/preview.py``).
"""

import dataclasses
from typing import Optional, Sequence

from heatflow.persistence import store as store_mod


@dataclasses.dataclass(frozen=True)
class OperationHeader:
    """Who an operation is and what it asks: its fence, action and
    template, and how it ends (rollback, deadline)."""

    #: The stack's id.
    stack_id: str
    #: The stack's name: log lines, job names, physical resource names.
    stack_name: str
    #: The operation's id; the stack row names its current one.
    traversal: str
    #: The run executing the operation (new on every resume or takeover).
    run: Optional[str]
    #: The TaskFlow logbook and flow detail uuid of this flow.
    flow_uuid: str
    #: CREATE, UPDATE, DELETE or ROLLBACK (converging), or CHECK, SUSPEND
    #: or RESUME (acting on each resource: flows/act.py).
    action: str
    #: The template converged to; None converges to nothing.
    template_id: Optional[int]
    #: Key of this process's Runtime (flows/runtime.py); set for each run.
    runtime: Optional[str] = None
    #: Whether a failure reverts the operation (not disable_rollback).
    rollback: bool = False
    #: When the operation times out, epoch seconds; None for never.
    deadline: Optional[float] = None
    #: Whether the stack had settled (COMPLETE) where the operation began.
    base_settled: bool = True
    #: The template the stack was at when the operation began.
    base_template_id: Optional[int] = None

    def fence(self):
        """The fence every write of this run carries."""
        return store_mod.Fence(self.stack_id, self.traversal, self.run)

    def for_run(self, runtime_key, run):
        """This operation as the run ``run`` in the process whose Runtime
        is registered under ``runtime_key`` executes it."""
        return dataclasses.replace(self, runtime=runtime_key, run=run)

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data):
        # Keys this version does not know are ignored, as the dict form
        # ignored them.
        return cls(**{f.name: data[f.name]
                      for f in dataclasses.fields(cls) if f.name in data})


@dataclasses.dataclass(frozen=True)
class Plan:
    """What :func:`heatflow.flows.compiler.build_flow` makes the flow of
    (see ``compiler.plan_operation``).  The lists are JSON-shaped, as
    saved, and never changed after planning."""

    #: The header every atom of the flow carries.
    op: OperationHeader
    #: [name, row id, sorted names it depends on] per target resource.
    converge: Sequence
    #: [row id, sorted ids of rows to go first] per row that existed.
    cleanup: Sequence
    #: Resources the outputs read; None (saved before it): all of them.
    output_refs: Optional[Sequence] = None
    #: Rows this planning inserted: their atoms lock them without reading.
    fresh: Sequence = ()
    #: A resource action's (CHECK, SUSPEND, RESUME; converge and cleanup
    #: are then empty): [name, row id, sorted names to act on first] per
    #: resource of the stack.
    act: Sequence = ()

    def for_run(self, runtime_key, run):
        """This plan as the run ``run`` executes it (see
        :meth:`OperationHeader.for_run`)."""
        return dataclasses.replace(self, op=self.op.for_run(runtime_key,
                                                            run))

    def to_json(self):
        data = {"op": self.op.to_json(), "converge": self.converge,
                "cleanup": self.cleanup, "fresh": list(self.fresh)}
        # Absent rather than null, as plans without it were saved: a
        # reader of the dict form defaults a missing key only.
        if self.output_refs is not None:
            data["output_refs"] = self.output_refs
        if self.act:
            data["act"] = self.act
        return data

    @classmethod
    def from_json(cls, data):
        return cls(op=OperationHeader.from_json(data["op"]),
                   converge=data["converge"], cleanup=data["cleanup"],
                   output_refs=data.get("output_refs"),
                   fresh=data.get("fresh", ()), act=data.get("act", ()))
