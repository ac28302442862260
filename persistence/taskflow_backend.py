"""TaskFlow's SQLAlchemy persistence backend, wired to heatflow's engine,
and made lean.

TaskFlow records every atom's state in its own tables (logbooks,
flowdetails, atomdetails); heatflow puts them in the same database, on the
same pooled engine, so one connection pool and one file serve both.

The stock backend (taskflow 6.x; what is relied upon is pinned in setup.py)
costs about 10 statements per atom plus, on every change of the *flow's*
state, a read and a rewrite of every atom of the flow:

- ``Connection.__init__`` builds fresh table objects for every connection,
  which defeats SQLAlchemy's statement cache (3-5x per atom, measured
  while heatflow was built): here they are built once per
  backend;
- ``update_atom_details`` reads the row before writing it, to merge what
  another writer may have written.  A flow has one writer here (a run is
  fenced once another run takes over), so the write alone is enough;
- the engine saves an atom's detail for its RUNNING state and for every
  progress report.  Neither matters for resuming: an atom found RUNNING is
  executed again, exactly like one found PENDING, and heatflow's atoms are
  idempotent (they decide from the recorded state of their resource).  Those
  writes are skipped; results, failures, intentions and final states are
  written, each in one statement of the columns that changed -- except for
  atoms named ``volatile:...`` (heatflow's fan-in helpers, pure functions
  of recorded results, and its clean-up atoms, whose resource rows record
  what they did), whose states are not written at all: a resumed flow
  runs them again;
- ``update_flow_details`` re-reads and rewrites every atom detail of the
  flow: here it writes the flow's row and inserts the atom details it has
  not written before.
"""

import sqlalchemy as sa
from taskflow import exceptions as tf_exc

from heatflow import exception
from heatflow import metrics
from heatflow.persistence import prepared
from heatflow.persistence import sealing
from taskflow.persistence import models as tf_models
from taskflow.persistence.backends import impl_sqlalchemy
from taskflow.persistence.backends.sqlalchemy import tables as tf_tables


class Connection(impl_sqlalchemy.Connection):
    def __init__(self, backend, upgrade_lock):
        # Deliberately not calling the parent __init__: it would rebuild the
        # tables.  These are the attributes the parent's methods use.
        self._backend = backend
        self._upgrade_lock = upgrade_lock
        self._engine = backend.engine
        self._metadata, self._tables, self._converter = backend.schema


# Atom states whose write is skipped (see the module docstring).
TRANSIENT = ("RUNNING",)
# Atoms none of whose state changes are written (see the module
# docstring); a resumed flow runs them again.
VOLATILE_PREFIX = "volatile:"


#: The columns of an atom detail's essence (below), in its order.
_ESSENCE_COLUMNS = ("state", "intention", "results", "failure",
                    "revert_results", "revert_failure", "meta", "version")


def _essence(ad_dict):
    """What of an atom detail must reach the database."""
    meta = dict(ad_dict.get("meta") or {})
    meta.pop("progress", None)
    meta.pop("progress_details", None)
    return (ad_dict.get("state"), ad_dict.get("intention"),
            repr(ad_dict.get("results")), repr(ad_dict.get("failure")),
            repr(ad_dict.get("revert_results")),
            repr(ad_dict.get("revert_failure")), repr(meta),
            ad_dict.get("version"))


class LeanConnection(Connection):
    """Writes what resuming a flow needs, in as few statements as that
    takes (see the module docstring)."""

    def update_atom_details(self, atom_detail):
        if atom_detail.name.startswith(VOLATILE_PREFIX):
            return atom_detail
        value = atom_detail.to_dict()
        essence = _essence(value)
        written = self._backend.written
        last = written.get(atom_detail.uuid)
        if last == essence:
            return atom_detail
        if last is not None and value.get("state") in TRANSIENT and \
                last[1:] == essence[1:]:
            return atom_detail
        if last is None:
            columns = sorted(value)
        else:
            # Only what changed: the JSON columns cost a serialisation
            # each (and a seal), and a state change rarely touches more
            # than the state and the results.
            columns = [c for c, was, now in zip(_ESSENCE_COLUMNS, last,
                                                essence) if was != now]
        try:
            stmt = self._backend.atom_update(tuple(columns))
            params = {"v_" + c: value[c] for c in columns}
            params["ad_uuid"] = atom_detail.uuid
            with self._engine.begin() as conn:
                res = self._backend.prepared.run(conn, stmt, params)
                if res.rowcount != 1:
                    raise tf_exc.NotFound("No atom details found with uuid "
                                          "'%s'" % atom_detail.uuid)
        except sa.exc.SQLAlchemyError:
            tf_exc.raise_with_cause(tf_exc.StorageFailure,
                                    "Failed updating atom details with "
                                    "uuid '%s'" % atom_detail.uuid)
        written[atom_detail.uuid] = essence
        return atom_detail

    def update_flow_details(self, flow_detail):
        written = self._backend.written
        try:
            fdt, adt = self._tables.flowdetails, self._tables.atomdetails
            with self._engine.begin() as conn:
                value = flow_detail.to_dict()
                res = conn.execute(sa.update(fdt).where(
                    fdt.c.uuid == flow_detail.uuid).values(value))
                if res.rowcount != 1:
                    raise tf_exc.NotFound("No flow details found with uuid "
                                          "'%s'" % flow_detail.uuid)
                if flow_detail.uuid not in self._backend.loaded_flows:
                    # First touch of this flow here: learn which of its
                    # atom details already exist (a resumed flow).
                    known = self._backend.flow_atoms.setdefault(
                        flow_detail.uuid, set())
                    for (uuid,) in conn.execute(sa.select(adt.c.uuid).where(
                            adt.c.parent_uuid == flow_detail.uuid)):
                        written.setdefault(uuid, None)
                        known.add(uuid)
                    self._backend.loaded_flows.add(flow_detail.uuid)
                new = [ad for ad in flow_detail if ad.uuid not in written]
                rows = []
                for ad in new:
                    row = ad.to_dict()
                    row["parent_uuid"] = flow_detail.uuid
                    row["atom_type"] = tf_models.atom_detail_type(ad)
                    rows.append(row)
                if rows:
                    conn.execute(sa.insert(adt), rows)
            # Remembered once committed: a failed commit is tried again by
            # TaskFlow, which must insert them again.
            known = self._backend.flow_atoms.setdefault(flow_detail.uuid,
                                                        set())
            for ad, row in zip(new, rows):
                written[ad.uuid] = _essence(row)
                known.add(ad.uuid)
        except sa.exc.SQLAlchemyError:
            tf_exc.raise_with_cause(tf_exc.StorageFailure,
                                    "Failed updating flow details with "
                                    "uuid '%s'" % flow_detail.uuid)
        return flow_detail


class FencedConnection(LeanConnection):
    """Refuses every write once its run is fenced: a run that was taken
    over (or whose conductor lost its ZooKeeper session) must not record
    atom states over those of the run that replaced it."""

    def __init__(self, backend, upgrade_lock, is_fenced):
        super().__init__(backend, upgrade_lock)
        self._is_fenced = is_fenced

    def _check(self):
        # Not StorageFailure: TaskFlow's storage retries that (3 x 5 s),
        # which would keep a fenced engine alive for no purpose.
        if self._is_fenced():
            metrics.fenced_write_refused()
            raise exception.Superseded("this run of the operation is "
                                       "fenced; its writes are refused")

    def update_atom_details(self, atom_detail):
        self._check()
        return super().update_atom_details(atom_detail)

    def update_flow_details(self, flow_detail):
        self._check()
        return super().update_flow_details(flow_detail)

    def save_logbook(self, book):
        self._check()
        return super().save_logbook(book)


_SEALED_ATOM_COLUMNS = ("results", "failure", "revert_results",
                        "revert_failure")


class Backend(impl_sqlalchemy.SQLAlchemyBackend):
    """The stock backend with table objects built once."""

    def __init__(self, engine):
        super().__init__({"connection": str(engine.url)}, engine=engine)
        md = sa.MetaData()
        tables = tf_tables.fetch(md)
        # Atom results carry resources' attributes and properties (and
        # failures their messages): sealed like heatflow's own columns.
        for name in _SEALED_ATOM_COLUMNS:
            column = tables.atomdetails.c[name]
            column.type = sealing.Sealed(column.type)
        self.schema = (md, tables, impl_sqlalchemy._Alchemist(tables))
        # Shared by every run view of this backend: atom detail uuid ->
        # the essence last written (None: exists, content unknown), and the
        # flows whose existing atom details have been listed.
        self.written = {}
        self.loaded_flows = set()
        self.flow_atoms = {}
        self.statements = {}
        self.prepared = prepared.Statements(engine.dialect)

    def get_connection(self):
        conn = LeanConnection(self, upgrade_lock=self._upgrade_lock)
        if not self._validated:
            conn.validate(max_retries=self._max_retries)
            self._validated = True
        return conn

    def atom_update(self, columns):
        """The UPDATE of an atom detail, built once (building statements
        costs more than running cached ones) and run prepared."""
        stmt = self.statements.get(columns)
        if stmt is None:
            t = self.schema[1].atomdetails
            stmt = sa.update(t).where(
                t.c.uuid == sa.bindparam("ad_uuid")).values(
                    {c: sa.bindparam("v_" + c) for c in columns})
            self.statements[columns] = stmt
        return stmt

    def forget_flow(self, flow_uuid):
        """Drop what is remembered of a flow that is no longer running
        here (it is listed again if it ever runs here again)."""
        for uuid in self.flow_atoms.pop(flow_uuid, ()):
            self.written.pop(uuid, None)
        self.loaded_flows.discard(flow_uuid)

    def for_run(self, is_fenced):
        """A view of this backend for one run of an operation, whose writes
        stop once ``is_fenced()`` is true."""
        return _RunBackend(self, is_fenced)


class _RunBackend(Backend):
    def __init__(self, parent, is_fenced):
        # Shares the parent's engine and table objects; builds nothing.
        self._conf = parent._conf
        self._engine = parent.engine
        self._owns_engine = False
        self._validated = True
        self._upgrade_lock = parent._upgrade_lock
        self._max_retries = parent._max_retries
        self.schema = parent.schema
        self.written = parent.written
        self.loaded_flows = parent.loaded_flows
        self.flow_atoms = parent.flow_atoms
        self.statements = parent.statements
        self.prepared = parent.prepared
        self._is_fenced = is_fenced

    def get_connection(self):
        return FencedConnection(self, self._upgrade_lock, self._is_fenced)
