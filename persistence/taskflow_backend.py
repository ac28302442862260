"""TaskFlow's SQLAlchemy persistence backend, wired to heatflow's engine.

TaskFlow records every atom's state in its own tables (logbooks,
flowdetails, atomdetails); heatflow puts them in the same database, on the
same pooled engine, so one connection pool and one file serve both.

Pinned TaskFlow behaviour relied upon (taskflow 6.x): the stock
``impl_sqlalchemy.Connection.__init__`` builds a fresh ``MetaData`` and table
set for every connection object, and TaskFlow's storage asks for a
connection on every state change.  Fresh ``Table`` objects defeat
SQLAlchemy's compiled-statement cache, so each statement is compiled again
(measured 3-5x slower per atom, shared/research/taskflow.md section 4.2).
:class:`Connection` builds the tables once per backend instead.
"""

import sqlalchemy as sa
from taskflow import exceptions as tf_exc
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


class FencedConnection(Connection):
    """Refuses every write once its run is fenced: a run that was taken
    over (or whose conductor lost its ZooKeeper session) must not record
    atom states over those of the run that replaced it."""

    def __init__(self, backend, upgrade_lock, is_fenced):
        super().__init__(backend, upgrade_lock)
        self._is_fenced = is_fenced

    def _check(self):
        if self._is_fenced():
            raise tf_exc.StorageFailure("this run of the operation is "
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


class Backend(impl_sqlalchemy.SQLAlchemyBackend):
    """The stock backend with table objects built once."""

    def __init__(self, engine):
        super().__init__({"connection": str(engine.url)}, engine=engine)
        md = sa.MetaData()
        tables = tf_tables.fetch(md)
        self.schema = (md, tables, impl_sqlalchemy._Alchemist(tables))

    def get_connection(self):
        conn = Connection(self, upgrade_lock=self._upgrade_lock)
        if not self._validated:
            conn.validate(max_retries=self._max_retries)
            self._validated = True
        return conn

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
        self._is_fenced = is_fenced

    def get_connection(self):
        return FencedConnection(self, self._upgrade_lock, self._is_fenced)
