"""Opening a heatflow database: engine, schema, TaskFlow backend.

Opening one imports neither TaskFlow nor alembic unless it must: the
schema is checked by reading the version tables, migrated (alembic) only
if it is not current, and TaskFlow's backend is built when something first
runs a flow (:attr:`Database.taskflow`).  A read-only command needs only
SQLAlchemy and the store (issue 22: ``heatflow stack list`` spent 1.2 s
importing).

The embedded default is a SQLite file, configured for one process with many
threads: one long-lived connection that the threads take turns on, held
outside SQLAlchemy's pool (``SerialEngine``; SQLite has one writer anyway;
several connections made writer threads sleep in SQLite's busy handler,
and TaskFlow's own NullPool engine would reconnect and checkpoint the WAL,
an fsync, on every write), WAL journal with
``synchronous=NORMAL`` (a commit survives the death of the process, which
is the failure heatflow's resume handles), and ``BEGIN IMMEDIATE`` so that
writers in other processes queue on the busy timeout instead of failing.
PostgreSQL is the database for several conductors.
"""

import contextlib
import importlib.util
import logging
import os
import threading

import sqlalchemy as sa

from heatflow import exception

from heatflow.persistence import migrate
from heatflow.persistence import sealing
from heatflow.persistence import store as store_mod

LOG = logging.getLogger(__name__)

DEFAULT_DB_PATH = os.path.join(".heatflow", "heatflow.db")


def default_url():
    """HEATFLOW_DB_URL, else a SQLite file under ./.heatflow/."""
    url = os.environ.get("HEATFLOW_DB_URL")
    if url:
        return url
    return "sqlite:///" + os.path.abspath(DEFAULT_DB_PATH)


def safe_url(url):
    """The URL with any password masked, for logs and messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def _sqlite_connect(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class SerialEngine:
    """SQLite: one connection that the threads of this process take in
    turn, held open for the life of the database.

    Stands in for the engine where heatflow and its TaskFlow backend begin
    transactions and read (``begin()``, ``connect()``; the rest is the
    engine's).  Checking a connection out of SQLAlchemy's pool and back in
    costs two to three times what the statement does (88 against 25-38 us
    for a one-row UPDATE and its commit, measured on one thread), and under
    load every check-in woke the next of up to 33 waiting threads; a lock
    around a held connection costs neither.  Other users of the engine
    (tests, tools) get connections of its own pool.
    """

    #: As long as a pool would have let a caller wait for a connection.
    TIMEOUT = 300

    def __init__(self, engine):
        self.engine = engine
        self._lock = threading.Lock()
        self._conn = None

    def __getattr__(self, name):
        return getattr(self.engine, name)

    @contextlib.contextmanager
    def _turn(self):
        if not self._lock.acquire(timeout=self.TIMEOUT):
            raise sa.exc.TimeoutError(
                "waited %d s for the database connection" % self.TIMEOUT)
        try:
            if self._conn is None or self._conn.closed or \
                    self._conn.invalidated:
                self._conn = self.engine.connect()
            try:
                yield self._conn
            except BaseException:
                self._reset()
                raise
        finally:
            self._lock.release()

    def _reset(self):
        """After an error: nothing of the failed transaction may stay on
        the connection (a COMMIT that failed leaves it open in sqlite3), as
        a pooled connection's reset on check-in ensures."""
        conn = self._conn
        try:
            if conn.in_transaction():
                conn.rollback()
            conn.connection.dbapi_connection.rollback()
        except Exception:
            conn.invalidate()

    @contextlib.contextmanager
    def begin(self):
        """A transaction, committed at the end (rolled back on error)."""
        with self._turn() as conn:
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def connect(self):
        """The connection; what is left uncommitted at the end is rolled
        back, as a pooled connection's is when it goes back."""
        with self._turn() as conn:
            try:
                yield conn
            finally:
                if conn.in_transaction():
                    conn.rollback()

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


#: The drivers of PostgreSQL heatflow knows, preferred first: a URL
#: without one (``postgresql://``) gets the first that is installed.
POSTGRESQL_DRIVERS = (("psycopg2", "psycopg2"), ("psycopg", "psycopg"))


def _with_driver(u):
    """``u`` with an installed driver when it names none (SQLAlchemy's own
    default for ``postgresql://`` may not be the one installed: heatflow's
    ``[postgresql]`` extra installs psycopg2)."""
    if u.drivername != "postgresql":
        return u
    for module, driver in POSTGRESQL_DRIVERS:
        if importlib.util.find_spec(module) is not None:
            return u.set(drivername="postgresql+" + driver)
    return u


def create_engine(url, pool_size=20, create=True):
    """``pool_size``: connections for a server database (SQLite: one).
    ``create``: a SQLite file (and its directory) may be created; if not
    and there is none, an empty database in memory stands for it: a reader
    sees no stacks and leaves nothing behind a mistyped path."""
    u = _with_driver(sa.engine.make_url(url))
    if u.drivername.startswith("sqlite") and \
            u.database not in (None, "", ":memory:"):
        if create:
            os.makedirs(os.path.dirname(os.path.abspath(u.database)),
                        exist_ok=True)
        elif not os.path.exists(u.database):
            u = sa.engine.make_url(u.drivername + "://")
    try:
        return _create_engine(u, pool_size)
    except ModuleNotFoundError as exc:
        hint = _driver_hint(u)
        raise exception.DatabaseDriverMissing(
            "the database driver of %s is not installed (%s): %s"
            % (u.drivername, exc.name, hint)) from None


def _driver_hint(u):
    # Package names pip finds: heatflow itself is installed from a clone,
    # so 'heatflow[postgresql]' is no name to give a user.
    if u.get_backend_name() != "postgresql":
        return "install the driver"
    if u.drivername == "postgresql+psycopg":     # named by the user
        return "pip install 'psycopg[binary]'"
    return ("pip install psycopg2-binary (from a clone of heatflow: "
            "pip install -e '.[postgresql]')")


def _create_engine(u, pool_size):
    if u.drivername.startswith("sqlite"):
        in_memory = u.database in (None, "", ":memory:")
        engine = sa.create_engine(
            # heatflow's own connection is held by its SerialEngine; a few
            # more serve other users of the engine (a connection to an
            # in-memory database would be another database).
            u, poolclass=sa.pool.QueuePool, pool_size=1,
            max_overflow=0 if in_memory else 2, pool_timeout=300,
            # The sqlite3 module opens "BEGIN IMMEDIATE" before the first
            # write of a transaction: writers wait for each other (busy
            # timeout) rather than dead-locking on a lock upgrade.
            connect_args={"check_same_thread": False, "timeout": 60,
                          "isolation_level": "IMMEDIATE"})
        sa.event.listen(engine, "connect", _sqlite_connect)
        return engine
    engine = sa.create_engine(u, pool_size=pool_size,
                              max_overflow=pool_size, pool_pre_ping=True)
    _LostConnections.watch(engine)
    return engine


class _LostConnections(logging.Filter):
    """SQLAlchemy's pool resets a connection on its way back to the pool,
    and logs a failure there at ERROR with a traceback.  While the database
    restarts that failure is expected: the connection is lost, the pool
    discards it and the next checkout makes a new one.  This filter on the
    pool's logger says such a disconnect in one WARNING line (a chaos soak
    trial counted the traceback as a failure); any other error is left as
    it is."""

    _watched = set()
    _lock = threading.Lock()

    def __init__(self, dialect):
        super().__init__()
        self._dialect = dialect

    @classmethod
    def watch(cls, engine):
        logger = engine.pool.logger
        key = (id(logger), type(engine.dialect))
        with cls._lock:
            if key not in cls._watched and isinstance(logger,
                                                      logging.Logger):
                cls._watched.add(key)
                logger.addFilter(cls(engine.dialect))

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and record.msg.startswith(
                "Exception during reset") and self._lost(exc):
            record.msg = "a pooled connection was lost (%s); discarded"
            record.args = (str(exc).strip().partition("\n")[0],)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True

    def _lost(self, exc):
        try:
            return isinstance(exc, self._dialect.loaded_dbapi.Error) and \
                self._dialect.is_disconnect(exc, None, None)
        except Exception:
            return False


class Database:
    """One database: heatflow's store plus TaskFlow's backend on it."""

    _upgrade_lock = threading.Lock()

    def __init__(self, url=None, upgrade=True, encryption_key=None,
                 create=True):
        """``encryption_key``: a key (or keys, comma-separated) sealing
        users' values at rest; default ``HEATFLOW_ENCRYPTION_KEY``, else
        none (see ``sealing.py``).  ``create``: see create_engine."""
        self.url = url or default_url()
        self.encryption_key = encryption_key    # for detached workers
        self.cipher = sealing.configured_cipher(encryption_key)
        self.engine = create_engine(self.url, create=create)
        sealing.attach(self.engine, self.cipher)
        # Where heatflow's statements go (see SerialEngine).
        self.connections = SerialEngine(self.engine) if self.is_sqlite \
            else self.engine
        self.store = store_mod.Store(self.connections)
        self._taskflow = None
        self._taskflow_lock = threading.Lock()
        # An empty database in memory standing in for a SQLite file that
        # is not there (create=False: see create_engine).
        self.stand_in = not create and self.is_sqlite and \
            self.engine.url.database in (None, "", ":memory:") and \
            sa.engine.make_url(self.url).database not in (None, "",
                                                          ":memory:")
        if upgrade and not self.schema_is_current():
            if self.stand_in:
                self._create_stand_in()
            else:
                self.upgrade()

    @property
    def taskflow(self):
        """TaskFlow's persistence backend on this database, built on first
        use: importing it imports TaskFlow (and alembic, networkx...), which
        a process that only reads stacks has no use for."""
        backend = self._taskflow
        if backend is None:
            with self._taskflow_lock:
                if self._taskflow is None:
                    from heatflow.persistence import taskflow_backend
                    backend = taskflow_backend.Backend(self.connections)
                    if self.stand_in:
                        # Its tables, which _create_stand_in left out.
                        with contextlib.closing(
                                backend.get_connection()) as conn:
                            conn.upgrade()
                    self._taskflow = backend
                backend = self._taskflow
        return backend

    @property
    def is_sqlite(self):
        return self.engine.url.drivername.startswith("sqlite")

    # Any constant: conductors starting together on one PostgreSQL database
    # take it in turn to migrate (concurrent migrations would collide).
    PG_MIGRATION_LOCK = 0x6865617466

    def schema_is_current(self):
        """Whether heatflow's and TaskFlow's tables are there and at the
        revisions this heatflow migrates them to, asked of the version
        tables in plain SQL (no alembic, no TaskFlow).  If not,
        :meth:`upgrade` makes them so, as every open did before."""
        want = {migrate.VERSION_TABLE, *migrate.TASKFLOW_TABLES}
        if not self.is_sqlite:
            want.add(migrate.TASKFLOW_VERSION_TABLE)
        with self.connections.connect() as conn:
            if not want <= set(sa.inspect(conn).get_table_names()):
                return False
            if _versions(conn, migrate.VERSION_TABLE) != [migrate.HEAD]:
                return False
            return self.is_sqlite or \
                _versions(conn, migrate.TASKFLOW_VERSION_TABLE) == \
                [migrate.TASKFLOW_HEAD]

    def _create_stand_in(self):
        """The stand-in's tables: heatflow's made from its models (what
        the store reads) and stamped as migrated to the head, without
        alembic; TaskFlow's when its backend is built (on SQLite TaskFlow
        makes them from its metadata anyway).  A read-only command on a
        missing database file then imports neither.  A unit test holds
        the models to the migrations."""
        from heatflow.persistence import models
        md = sa.MetaData()
        version = sa.Table(migrate.VERSION_TABLE, md, sa.Column(
            "version_num", sa.String(32), primary_key=True))
        with self.connections.begin() as conn:
            models.metadata.create_all(conn)
            md.create_all(conn)
            conn.execute(version.insert().values(version_num=migrate.HEAD))

    def upgrade(self):
        """Create or migrate heatflow's and TaskFlow's tables."""
        with self._upgrade_lock, self._migration_lock():
            migrate.upgrade(self.connections)
            with contextlib.closing(self.taskflow.get_connection()) as conn:
                conn.upgrade()

    @contextlib.contextmanager
    def _migration_lock(self):
        if self.engine.url.get_backend_name() != "postgresql":
            yield
            return
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"),
                         {"k": self.PG_MIGRATION_LOCK})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"),
                             {"k": self.PG_MIGRATION_LOCK})
                conn.commit()

    def close(self):
        if self._taskflow is not None:
            self._taskflow.close()
        if self.connections is not self.engine:
            self.connections.close()
        self.engine.dispose()


def _versions(conn, table):
    return conn.execute(sa.text("SELECT version_num FROM %s" % table)) \
        .scalars().all()
