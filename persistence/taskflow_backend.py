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
