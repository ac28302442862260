"""Statements compiled once per engine and run on the driver's cursor.

Running an already-cached SQLAlchemy Core statement costs about as much
Python again as SQLite takes to run it: per execution SQLAlchemy derives the
statement's cache key, looks the compiled form up, builds its parameters and
wraps the cursor in a result through generic machinery.  Measured on one
thread (SQLite file, held connection): the read of a resource row and its
stack's position took 37-46 us through ``Connection.execute`` and 20-30 us
here; a fenced one-row UPDATE with its commit 110-130 us through the store
as it was, about half that here.  An operation runs a handful of statements
per resource, so this was the largest single cost of a resource action.

:class:`Prepared` compiles a statement for one engine's dialect, once, and
remembers what executing it needs: the SQL text, the order of its
parameters, and the conversions of its parameters, Python-side column
defaults and returned columns (JSON, sealed values, SQLite's datetimes),
taken from the columns' types as SQLAlchemy applies them.  It runs on the
cursor of the caller's connection, inside the caller's transaction, and
keeps what callers and tools rely on from SQLAlchemy's execution: cursor
events fire (listeners such as the benchmarks' statement counter see every
statement; listeners that rewrite statements are not supported), driver
errors are raised as SQLAlchemy's (callers ride out ``OperationalError``)
and so are values a type cannot convert (``StatementError``), and a
connection the error says is gone is invalidated -- that connection only:
SQLAlchemy would also invalidate the rest of the pool, which its
pre-ping finds instead.  SQLAlchemy's echo logging and ``handle_error``
events do not see these statements.
"""

import collections

import sqlalchemy as sa


class Result:
    """What a prepared statement returned: ``rowcount`` and its rows."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rowcount, rows):
        self.rowcount = rowcount
        self.rows = rows

    def first(self):
        return self.rows[0] if self.rows else None

    def one(self):
        if not self.rows:
            raise sa.exc.NoResultFound("expected one row, got none")
        if len(self.rows) > 1:
            raise sa.exc.MultipleResultsFound("expected one row")
        return self.rows[0]

    def one_or_none(self):
        if len(self.rows) > 1:
            raise sa.exc.MultipleResultsFound("expected at most one row")
        return self.first()

    def all(self):
        return list(self.rows)


def _bind_processor(type_, dialect):
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _result_processor(type_, dialect):
    return type_.dialect_impl(dialect).result_processor(dialect, None)


def _python_default(default):
    """A zero-argument function computing a column default (a value, or a
    function SQLAlchemy would call with the execution context: it is given
    None, which the defaults used here ignore)."""
    if default.is_scalar:
        return lambda: default.arg
    if default.is_callable:
        return lambda: default.arg(None)
    raise ValueError("column default %r is not computed in Python" % default)


class Prepared:
    """``statement`` compiled for ``dialect``; see the module docstring.

    ``column_keys``: for an INSERT or UPDATE without explicit values, the
    columns given (as SQLAlchemy compiles for the keys of the parameters).
    Statements whose SQL depends on the parameters (expanding IN lists,
    literal-rendered parameters) are refused: they cannot be compiled once.
    """

    def __init__(self, statement, dialect, column_keys=None):
        compiled = statement.compile(dialect=dialect,
                                     column_keys=column_keys)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("statement cannot be compiled once: %s"
                             % compiled.string)
        self.sql = compiled.string
        self._dialect = dialect
        self._dbapi_error = dialect.loaded_dbapi.Error
        # Column defaults computed in Python (e.g. TaskFlow's updated_at),
        # which SQLAlchemy would compute for each execution.
        self._defaults = [
            (column.key, _python_default(
                column.onupdate if column in compiled.update_prefetch
                else column.default))
            for column in (list(compiled.insert_prefetch) +
                           list(compiled.update_prefetch))]
        # The driver's parameters, in its paramstyle: a tuple in the order
        # of the SQL, or a dict by (escaped) name; each with its type's
        # conversion, if any.
        # (The parameters the SQL uses: ``compiled.binds`` may also hold
        # internal aliases of them.)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        convert = {name: _bind_processor(bind.type, dialect)
                   for name, bind in binds.items()}
        # Values written into the statement (``column == "INIT"``).
        computed = {name for name, _ in self._defaults}
        self._fixed = {name: bind.effective_value
                       for name, bind in binds.items()
                       if not bind.required and name not in computed}
        self._positional = compiled.positional
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        self._slots = [
            (name, escaped.get(name, name), convert.get(name))
            for name in (compiled.positiontup if compiled.positional
                         else binds)]
        # What it returns (a SELECT's columns, or RETURNING's), as rows
        # with attribute access like SQLAlchemy's.
        columns = list(statement.exported_columns)
        self._row = collections.namedtuple(
            "Row", [c.key for c in columns]) if columns else None
        self._results = [_result_processor(c.type, dialect)
                         for c in columns]
        self._processed = any(p is not None for p in self._results)

    def parameters(self, values):
        """The driver's parameters for ``values`` (bind name -> value)."""
        if self._fixed or self._defaults:
            values = dict(self._fixed, **values)
            for name, default in self._defaults:
                if name not in values:
                    values[name] = default()
        if self._positional:
            return tuple([values[name] if convert is None
                          else convert(values[name])
                          for name, _, convert in self._slots])
        return {key: values[name] if convert is None
                else convert(values[name])
                for name, key, convert in self._slots}

    def execute(self, conn, values):
        """Run on ``conn`` (a SQLAlchemy Connection, in its transaction)
        with ``values``."""
        try:
            params = self.parameters(values)
        except Exception as err:
            # As SQLAlchemy reports a value its type cannot convert.
            raise sa.exc.StatementError(
                "(in converting the parameters) %s: %s"
                % (type(err).__name__, err), self.sql, values, err) from err
        dispatch = conn.dispatch
        before, after = (dispatch.before_cursor_execute,
                         dispatch.after_cursor_execute)
        cursor = None
        try:
            cursor = conn.connection.cursor()
            if before:
                before(conn, cursor, self.sql, params, None, False)
            cursor.execute(self.sql, params)
            if after:
                after(conn, cursor, self.sql, params, None, False)
            raw = cursor.fetchall() if self._row is not None else ()
            rowcount = cursor.rowcount
        except self._dbapi_error as err:
            self._raise(conn, cursor, params, err)
        finally:
            try:
                if cursor is not None:
                    cursor.close()
            except self._dbapi_error:
                pass
        if not raw:
            return Result(rowcount, ())
        row = self._row._make
        if self._processed:
            procs = self._results
            rows = [row([v if p is None else p(v)
                         for p, v in zip(procs, r)]) for r in raw]
        else:
            rows = [row(r) for r in raw]
        return Result(rowcount, rows)

    def _raise(self, conn, cursor, params, err):
        """The driver's error as SQLAlchemy raises it (OperationalError and
        so on: callers that ride out outages catch those), and a connection
        the error says is gone is invalidated, as SQLAlchemy does."""
        dialect = self._dialect
        gone = dialect.is_disconnect(err, conn.connection.dbapi_connection,
                                     cursor)
        wrapped = sa.exc.DBAPIError.instance(
            self.sql, params, err, self._dbapi_error, dialect=dialect,
            connection_invalidated=gone)
        if gone:
            conn.invalidate(err)
        raise wrapped from err


class Statements:
    """Prepared statements of one engine, made on first use."""

    def __init__(self, dialect):
        self._dialect = dialect
        self._prepared = {}

    def run(self, conn, statement, values, column_keys=None):
        """Run ``statement`` (one built once and kept: it is remembered
        by identity) on ``conn``."""
        key = (id(statement),
               None if column_keys is None else tuple(column_keys))
        prepared = self._prepared.get(key)
        if prepared is None or prepared[0] is not statement:
            prepared = (statement, Prepared(statement, self._dialect,
                                            column_keys))
            self._prepared[key] = prepared
        return prepared[1].execute(conn, values)
