"""Reads and fenced writes of heatflow's tables.

Every write made on behalf of a running operation carries a :class:`Fence`:
the operation's traversal and the id of the *run* executing it (a new run
each time an operation is resumed or taken over by another conductor).
Each write is conditional on both still being the stack's current ones (a
compare-and-swap in the statement itself), so the late writes of a
superseded operation, or of a conductor that lost its ZooKeeper session
while another took its job over, change nothing.  A state change of a
resource and the event that reports it go in one transaction.
"""

import collections
import datetime
import functools
import logging
import time
import uuid

import sqlalchemy as sa

from heatflow import exception
from heatflow.persistence import models as m
from heatflow.persistence import prepared


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def new_id():
    return str(uuid.uuid4())


LOG = logging.getLogger(__name__)

#: Who is writing: the stack, its operation (traversal) and the run of it.
Fence = collections.namedtuple("Fence", "stack_id traversal run")
StackPosition = collections.namedtuple("StackPosition",
                                       "traversal run_token action status")


# -- statements of the hot paths, built once -------------------------------
#
# Building a SQLAlchemy statement (and its cache key) costs more Python than
# executing a cached one; the statements every resource action runs are
# built once here, with bind parameters, and run as prepared statements
# (persistence/prepared.py: running a cached Core statement costs about as
# much again as the database's own work).

_B = sa.bindparam
# The fence, the one way it is written: its values go in as parameters
# (_fence_params), in the hot statements and the others alike.
_STACK_IS = (m.stacks.c.id == _B("f_sid"),
             m.stacks.c.traversal == _B("f_trav"),
             m.stacks.c.run_token == _B("f_run"))
_CURRENT = sa.exists().where(*_STACK_IS)
# Current, and going forward (no rollback of it requested).
_CURRENT_FORWARD = sa.exists().where(*_STACK_IS,
                                     m.stacks.c.action != "ROLLBACK")
# No other run has taken the operation over.  (A superseded operation's
# in-flight action is still recorded when it ends: it happened.  A run that
# was replaced by another run of the same operation records nothing: that
# run resumes the action.)
_NOT_TAKEN_OVER = ~sa.exists().where(
    m.stacks.c.id == _B("f_sid"), m.stacks.c.traversal == _B("f_trav"),
    m.stacks.c.run_token != _B("f_run"))
_STACK_POSITION = sa.select(
    m.stacks.c.traversal, m.stacks.c.run_token, m.stacks.c.action,
    m.stacks.c.status).where(m.stacks.c.id == _B("sid"))
_GET_RESOURCE = sa.select(m.resources).where(m.resources.c.id == _B("rid"))
# A resource row and its stack's position in one round trip: what an atom
# reads first (is the operation still current? what state is the row in?).
_RESOURCE_AT_POSITION = sa.select(
    m.stacks.c.traversal.label("pos_traversal"),
    m.stacks.c.run_token.label("pos_run_token"),
    m.stacks.c.action.label("pos_action"),
    m.stacks.c.status.label("pos_status"),
    *m.resources.c).select_from(m.stacks.outerjoin(
        m.resources, sa.and_(m.resources.c.id == _B("rid"),
                             m.resources.c.stack_id == m.stacks.c.id))
).where(m.stacks.c.id == _B("sid"))
_EVENT_COLUMNS = ("stack_id", "resource_name", "physical_resource_id",
                  "action", "status", "reason", "created_at")
_INSERT_EVENT = m.events.insert().values(
    {c: _B("e_" + c) for c in _EVENT_COLUMNS})
# (SQLite cannot promise RETURNING in the rows' order; asking SQLAlchemy
# for it makes an INSERT per row.  The names map the ids back instead.)
_INSERT_RESOURCES = m.resources.insert().returning(m.resources.c.name,
                                                   m.resources.c.id)
# What every new row starts as.
_FIXED_NEW_ROW = {"action": "INIT", "status": "COMPLETE",
                  "status_reason": ""}
# The fence, locking the stack's row until the transaction ends (PostgreSQL;
# SQLite has no FOR SHARE, and needs none: a writer holds the database).
_FENCE_FOR_SHARE = sa.select(m.stacks.c.id).where(
    *_STACK_IS).with_for_update(read=True)
_built = {}


def _fence_params(fence):
    return {"f_sid": fence.stack_id, "f_trav": fence.traversal,
            "f_run": fence.run}


def _set_params(values):
    """Parameters of a built statement's SET clause (see _resource_update)
    for ``values`` (column -> value)."""
    return {"v_" + c: v for c, v in values.items()}


#: The conditions of each kind of resource UPDATE (besides its row id):
#: taking an idle row's lock, taking it over from an earlier run of the same
#: operation, and writing to (or finishing) an action this run holds.
_HELD = m.resources.c.lock_run == _B("f_run")
_RESOURCE_UPDATE_WHERE = {
    "acquire": (m.resources.c.lock_run.is_(None), _CURRENT),
    "relock": (_HELD, _CURRENT),
    "finish": (_HELD, _NOT_TAKEN_OVER),
    "update": (_HELD, _NOT_TAKEN_OVER),
    "idle": (_CURRENT,),
    # a row its operation planned and nothing has touched since (taking
    # its lock sets the action)
    "fresh": (m.resources.c.action == "INIT",
              m.resources.c.physical_resource_id.is_(None),
              m.resources.c.traversal == _B("f_trav"), _CURRENT_FORWARD),
}
# A delete this run holds the lock for is done; a row whose physical
# resource is gone is forgotten, with its plugin data.
_FINISH_DELETE = m.resources.delete().where(
    m.resources.c.id == _B("rid"), _HELD, _NOT_TAKEN_OVER).returning(
        m.resources.c.name, m.resources.c.physical_resource_id)
_PURGE_RESOURCE = m.resources.delete().where(
    m.resources.c.id == _B("rid"), m.resources.c.lock_run.is_(None),
    _CURRENT)
_PURGE_RESOURCE_DATA = m.resource_data.delete().where(
    m.resource_data.c.resource_id == _B("rid"))
# What a plugin's run may write to its row besides the action's outcome
# (plugin data, the physical name): the run holds the row's lock (during an
# action) and was not taken over, or the row is idle and the operation
# current.
_PLUGIN_MAY_WRITE = sa.or_(
    sa.and_(_HELD, _NOT_TAKEN_OVER),
    sa.and_(m.resources.c.lock_run.is_(None), _CURRENT))
# Touching the row takes its row lock until the data write commits, so the
# write cannot interleave with another run's taking the row over.
_DATA_FENCE = m.resources.update().where(
    m.resources.c.id == _B("rid"), _PLUGIN_MAY_WRITE).values(
        updated_at=_B("now"))


def _resource_update(kind, columns):
    """An UPDATE of hf_resources, built once per (kind, columns)."""
    key = (kind, columns)
    stmt = _built.get(key)
    if stmt is None:
        t = m.resources
        stmt = t.update().where(
            t.c.id == _B("rid"), *_RESOURCE_UPDATE_WHERE[kind]).values(
                {c: _B("v_" + c) for c in columns})
        if kind in ("acquire", "relock", "fresh"):
            stmt = stmt.returning(*t.c)
        elif kind == "finish":
            stmt = stmt.returning(t.c.name, t.c.physical_resource_id)
        _built[key] = stmt
    return stmt


#: How long a call waits for the database to come back (a PostgreSQL
#: restart, a failover) before the error reaches the caller.
OUTAGE_PATIENCE = 60.0


def _through_outages(func):
    """Retry a whole transaction when the database cannot be reached (or
    SQLite is busy, or its disk full), backing off, for up to
    OUTAGE_PATIENCE seconds.  An operation rides out a database restart
    instead of failing resources (or worse, reverting them) for a reason
    that has nothing to do with them.  Past that, the error is raised as
    :class:`exception.EngineStorageError`: the engine's, not a
    resource's."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        end = time.monotonic() + OUTAGE_PATIENCE
        delay = 0.05
        while True:
            try:
                return func(*args, **kwargs)
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                if time.monotonic() >= end:
                    raise exception.EngineStorageError(exc) from exc
                LOG.warning("database unavailable (%s); retrying %s",
                            str(exc).splitlines()[0], func.__name__)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
    return wrapper


class _OutageTolerant(type):
    def __new__(mcs, name, bases, ns):
        for key, value in list(ns.items()):
            if callable(value) and not key.startswith("_"):
                ns[key] = _through_outages(value)
        return super().__new__(mcs, name, bases, ns)


class Store(metaclass=_OutageTolerant):
    def __init__(self, engine):
        self.engine = engine
        self._statements = prepared.Statements(engine.dialect)

    def _run(self, conn, statement, values):
        """Run one of the statements built once above (prepared)."""
        return self._statements.run(conn, statement, values)

    # -- templates ----------------------------------------------------------

    def _add_template(self, conn, stack_id, content, files, environment):
        res = conn.execute(m.templates.insert().values(
            stack_id=stack_id, content=content, files=files or {},
            environment=environment or {}, created_at=utcnow()))
        return res.inserted_primary_key[0]

    def get_template(self, template_id):
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(m.templates).where(
                m.templates.c.id == template_id)).one_or_none()
        if row is None:
            raise exception.NotFound("template %s not found" % template_id)
        return row

    # -- stacks -------------------------------------------------------------

    def create_stack(self, *, stack_id, name, template, files, environment,
                     parameters, action,
                     traversal, run, status_reason, disable_rollback,
                     timeout_mins, deadline, flow_uuid):
        """Insert a stack and its first template; StackExists if the name
        is taken by a live stack."""
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                tid = self._add_template(conn, stack_id, template, files,
                                         environment)
                conn.execute(m.stacks.insert().values(
                    id=stack_id, name=name, deleted_marker="",
                    action=action, status="IN_PROGRESS", phase="converge",
                    status_reason=status_reason, template_id=tid,
                    prev_template_id=None, parameters=parameters,
                    traversal=traversal, run_token=run, flow_uuid=flow_uuid,
                    disable_rollback=disable_rollback,
                    timeout_mins=timeout_mins, deadline=deadline,
                    created_at=now, updated_at=now))
                self._event(conn, stack_id, "", None, action, "IN_PROGRESS",
                            status_reason, now)
        except sa.exc.IntegrityError:
            raise exception.StackExists(name)
        return stack_id

    def find_stack(self, name_or_id):
        """The live stack named (or with id) ``name_or_id``."""
        q = sa.select(m.stacks).where(
            m.stacks.c.deleted_marker == "",
            sa.or_(m.stacks.c.name == name_or_id,
                   m.stacks.c.id == name_or_id))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise exception.StackNotFound(name_or_id)
        return row

    def get_stack_by_id(self, stack_id):
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(m.stacks).where(
                m.stacks.c.id == stack_id)).one_or_none()
        if row is None:
            raise exception.StackNotFound(stack_id)
        return row

    def stack_position(self, stack_id):
        """(traversal, run_token, action, status) of a stack: what an atom
        checks before it acts, read without the stack's JSON columns."""
        with self.engine.connect() as conn:
            return self._run(conn, _STACK_POSITION, {"sid": stack_id}).one()

    def resource_and_position(self, resource_id, stack_id):
        """``(resource row or None, stack position)``, read together (see
        :meth:`get_resource` and :meth:`stack_position`)."""
        with self.engine.connect() as conn:
            r = self._run(conn, _RESOURCE_AT_POSITION,
                          {"rid": resource_id, "sid": stack_id}).one()
        position = StackPosition(r.pos_traversal, r.pos_run_token,
                                 r.pos_action, r.pos_status)
        # the row carries the pos_* columns too; nothing reads them there
        return (None if r.id is None else r), position

    def list_stacks(self):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(m.stacks).where(
                m.stacks.c.deleted_marker == "").order_by(
                    m.stacks.c.created_at)).all()

    def begin_operation(self, stack_id, expected_traversal, *, traversal,
                        run, action, status_reason, template=None,
                        files=None, environment=None, status="IN_PROGRESS",
                        **fields):
        """Start a new operation: swap in a new traversal (superseding the
        running one, if any) and optionally a new target template.

        Returns False when ``expected_traversal`` is no longer current
        (someone else started an operation first)."""
        now = utcnow()
        with self.engine.begin() as conn:
            if template is not None:
                fields["template_id"] = self._add_template(
                    conn, stack_id, template, files, environment)
            values = dict(traversal=traversal, run_token=run, action=action,
                          status=status, phase="converge",
                          status_reason=status_reason, updated_at=now)
            values.update(fields)
            res = conn.execute(m.stacks.update().where(
                m.stacks.c.id == stack_id,
                m.stacks.c.traversal == expected_traversal).values(
                    **values))
            if res.rowcount != 1:
                conn.rollback()
                return False
            self._event(conn, stack_id, "", None, action, status,
                        status_reason, now)
        return True

    def request_rollback(self, stack_id, traversal, from_status):
        """Turn the operation of ``traversal`` into its own rollback (same
        traversal: its atoms see it and TaskFlow reverts the flow).  Only
        while it is still converging, so everything a revert needs still
        exists."""
        now = utcnow()
        reason = "Stack ROLLBACK started"
        with self.engine.begin() as conn:
            res = conn.execute(m.stacks.update().where(
                m.stacks.c.id == stack_id, m.stacks.c.traversal == traversal,
                m.stacks.c.status == from_status,
                m.stacks.c.action.in_(("CREATE", "UPDATE")),
                m.stacks.c.phase == "converge").values(
                    action="ROLLBACK", status="IN_PROGRESS",
                    status_reason=reason, updated_at=now))
            if res.rowcount != 1:
                conn.rollback()
                return False
            self._event(conn, stack_id, "", None, "ROLLBACK", "IN_PROGRESS",
                        reason, now)
        return True

    def take_over(self, stack_id, traversal, old_run, new_run):
        """A new run of the operation ``traversal`` replaces ``old_run``
        (resume after a crash, takeover by another conductor).  From now on
        the writes of ``old_run`` are rejected."""
        with self.engine.begin() as conn:
            res = conn.execute(m.stacks.update().where(
                m.stacks.c.id == stack_id, m.stacks.c.traversal == traversal,
                m.stacks.c.run_token == old_run).values(run_token=new_run))
            return res.rowcount == 1

    def enter_cleanup(self, fence, action):
        """The operation's resources have converged: from here on it runs
        to its end (clean-up is never reverted).  False if the operation was
        superseded or a rollback was requested first."""
        with self.engine.begin() as conn:
            res = conn.execute(m.stacks.update().where(
                *_STACK_IS,
                m.stacks.c.action == action).values(phase="cleanup"),
                _fence_params(fence))
            return res.rowcount == 1

    def switch_flow(self, fence, old_flow, new_flow, **fields):
        """Continue the same operation (traversal) with another flow."""
        with self.engine.begin() as conn:
            res = conn.execute(m.stacks.update().where(
                *_STACK_IS,
                m.stacks.c.flow_uuid == old_flow).values(
                    flow_uuid=new_flow, phase="converge", **fields),
                _fence_params(fence))
            return res.rowcount == 1

    def set_stack_state(self, fence, action, status, reason, **fields):
        """Fenced: True if ``fence`` was current and the write landed."""
        now = utcnow()
        stack_id = fence.stack_id
        with self.engine.begin() as conn:
            res = conn.execute(m.stacks.update().where(
                *_STACK_IS).values(
                    action=action, status=status, status_reason=reason,
                    updated_at=now, **fields), _fence_params(fence))
            if res.rowcount != 1:
                conn.rollback()
                return False
            self._event(conn, stack_id, "", None, action, status, reason, now)
        return True

    def fail_operation(self, fence, action, reason, rollback):
        """The operation failed: ``<action>_FAILED``, and with ``rollback``
        at once ``ROLLBACK_IN_PROGRESS`` -- both events, one transaction, so
        that a crash between them cannot leave a failed operation whose
        rollback nobody will carry out."""
        now = utcnow()
        stack_id = fence.stack_id
        with self.engine.begin() as conn:
            final = ("ROLLBACK", "IN_PROGRESS") if rollback else \
                (action, "FAILED")
            res = conn.execute(m.stacks.update().where(
                *_STACK_IS).values(
                    action=final[0], status=final[1], status_reason=reason,
                    updated_at=now), _fence_params(fence))
            if res.rowcount != 1:
                conn.rollback()
                return False
            self._event(conn, stack_id, "", None, action, "FAILED", reason,
                        now)
            if rollback:
                self._event(conn, stack_id, "", None, "ROLLBACK",
                            "IN_PROGRESS", reason, now)
        return True

    def mark_stack_deleted(self, fence):
        """A stack whose delete completed disappears from listings; its
        resource rows and data go with it."""
        now = utcnow()
        stack_id = fence.stack_id
        with self.engine.begin() as conn:
            res = conn.execute(m.stacks.update().where(
                *_STACK_IS).values(
                    action="DELETE", status="COMPLETE",
                    status_reason="Stack DELETE completed successfully",
                    deleted_marker=stack_id, deleted_at=now, updated_at=now),
                _fence_params(fence))
            if res.rowcount != 1:
                conn.rollback()
                return False
            self._event(conn, stack_id, "", None, "DELETE", "COMPLETE",
                        "Stack DELETE completed successfully", now)
            ids = sa.select(m.resources.c.id).where(
                m.resources.c.stack_id == stack_id)
            conn.execute(m.resource_data.delete().where(
                m.resource_data.c.resource_id.in_(ids)))
            conn.execute(m.resources.delete().where(
                m.resources.c.stack_id == stack_id))
        return True

    # -- resources ----------------------------------------------------------

    def list_resources(self, stack_id):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(m.resources).where(
                m.resources.c.stack_id == stack_id).order_by(
                    m.resources.c.id)).all()

    def get_resource(self, resource_id):
        with self.engine.connect() as conn:
            return self._run(conn, _GET_RESOURCE,
                             {"rid": resource_id}).one_or_none()

    def insert_resources(self, fence, rows):
        """Insert INIT rows for resources new to the stack (fenced: all of
        them or, if the fence is stale, none).

        ``rows`` are dicts with name, type, requires; returns their ids in
        order, or None if the fence is stale."""
        now = utcnow()
        with self.engine.begin() as conn:
            if len({r["name"] for r in rows}) == len(rows) > 1:
                ids = self._insert_many(conn, fence, rows, now)
            else:
                # One row (a replacement's), or incarnations of one name.
                ids = []
                for r in rows:
                    got = self._insert_one(conn, fence, r, now)
                    if got is None:
                        ids = None
                        break
                    ids.extend(got)
            if ids is None:
                conn.rollback()
        return ids

    @staticmethod
    def _insert_many(conn, fence, rows, now):
        """One INSERT ... VALUES of many rows per 1,000 or so (SQLAlchemy's
        "insertmanyvalues": compiled once, not per row count as a VALUES
        of literal rows would be, which cost 17-29 ms at 200 rows and
        90-200 ms at 1,000), RETURNING the ids by name (``rows`` have
        distinct names); then the fence, read once the rows are in: on
        SQLite the INSERT took the database's write lock, on PostgreSQL
        the read locks the stack's row (FOR SHARE) against a takeover
        until the commit."""
        got = conn.execute(_INSERT_RESOURCES, [
            Store._new_row(fence, r, now) for r in rows]).all()
        if conn.execute(_FENCE_FOR_SHARE, _fence_params(fence)).first() \
                is None:
            return None
        ids = dict(got)
        return [ids[r["name"]] for r in rows]

    @staticmethod
    def _new_row(fence, row, now):
        """The columns of a new INIT row for ``row`` (see insert_resources)."""
        return dict(_FIXED_NEW_ROW, stack_id=fence.stack_id, created_at=now,
                    name=row["name"], type=row["type"],
                    requires=row.get("requires", []),
                    replaces=row.get("replaces"),
                    traversal=row.get("traversal"),
                    physical_name=row.get("physical_name"))

    @staticmethod
    def _insert_one(conn, fence, row, now):
        """One fenced INSERT ... SELECT ... RETURNING: the check is in the
        statement (a replacement's row, one statement not two)."""
        t = m.resources
        values = Store._new_row(fence, row, now)
        sel = sa.select(*[sa.literal(v, t.c[c].type)
                          for c, v in values.items()]).where(_CURRENT)
        got = conn.execute(t.insert().from_select(
            list(values), sel).returning(t.c.id),
            _fence_params(fence)).first()
        return None if got is None else [got.id]

    def acquire_resource(self, resource_id, fence, action, reason="",
                         is_alive=None, undoing=False, **fields):
        """Take the row's action lock for ``fence`` and set it
        ``<action>_IN_PROGRESS``, with its event.

        The lock is free, or held by an earlier run of the same operation
        (resumed after a crash or taken over): then, if it was the same
        action, the row is returned as it is (the action is resumed, no
        second IN_PROGRESS event) -- unless ``undoing`` and what is in
        flight is not itself an undo (its reason is not ``reason``): an
        update being rolled back must be updated back, not finished, so
        the lock is taken afresh, without the dead run's token.  A lock of
        another operation's run that
        ``is_alive(run)`` says is dead is broken: the row is marked FAILED
        (its action was interrupted) and released, to be decided on afresh.
        Returns the row, or None when it is held by a live run of another
        operation, or the fence is stale."""
        row, foreign = self._acquire(resource_id, fence, action, reason,
                                     fields, undoing)
        # Asked outside the transaction: it may be a ZooKeeper round trip.
        if foreign is not None and is_alive is not None and \
                not is_alive(foreign.lock_run):
            self.break_lock(foreign, fence)
        return row

    def acquire_fresh(self, resource_id, fence, action, reason="",
                      **fields):
        """Take the lock of a row ``fence``'s operation planned (INIT) and
        nothing has touched since, as :meth:`acquire_resource` does, in one
        statement that also checks the operation is current and going
        forward (no rollback requested): an atom need not read the row and
        the stack first.  None when any of that is not so (the caller then
        reads and decides)."""
        now = utcnow()
        values = self._acquired_values(fence, action, reason, now, fields)
        params = dict(_set_params(values), rid=resource_id,
                      **_fence_params(fence))
        with self.engine.begin() as conn:
            row = self._run(conn, _resource_update(
                "fresh", tuple(sorted(values))), params).first()
            if row is None:
                conn.rollback()
                return None
            self._event(conn, fence.stack_id, row.name,
                        row.physical_resource_id, action, "IN_PROGRESS",
                        reason, now)
        return row

    @staticmethod
    def _acquired_values(fence, action, reason, now, fields):
        """What taking a row's lock for ``action`` writes."""
        # A new action starts without the token of an earlier one.
        return dict(lock_traversal=fence.traversal, lock_run=fence.run,
                    traversal=fence.traversal, action=action,
                    status="IN_PROGRESS", status_reason=reason,
                    updated_at=now, action_token=None, **fields)

    def _acquire(self, resource_id, fence, action, reason, fields,
                 undoing=False):
        """(the acquired row or None, the row if another operation holds
        it)."""
        now = utcnow()
        t = m.resources
        values = self._acquired_values(fence, action, reason, now, fields)
        columns = tuple(sorted(values))
        params = dict(_set_params(values), rid=resource_id,
                      **_fence_params(fence))
        with self.engine.begin() as conn:
            # The common case in one statement: the row was idle.
            row = self._run(conn, _resource_update("acquire", columns),
                            params).first()
            if row is None:
                held = conn.execute(sa.select(t).where(
                    t.c.id == resource_id)).one_or_none()
                if held is None or held.lock_run is None:
                    conn.rollback()
                    return None, None
                if held.lock_traversal != fence.traversal:
                    conn.rollback()
                    return None, held
                if held.lock_run != fence.run:
                    # An earlier run of this operation died holding it.
                    res = conn.execute(t.update().where(
                        t.c.id == resource_id,
                        t.c.lock_run == held.lock_run,
                        _CURRENT).values(lock_run=fence.run),
                        _fence_params(fence))
                    if res.rowcount != 1:
                        conn.rollback()
                        return None, None
                if held.action == action and held.status == "IN_PROGRESS" \
                        and not (undoing and held.status_reason != reason):
                    return conn.execute(sa.select(t).where(
                        t.c.id == resource_id)).one(), None
                row = self._run(conn, _resource_update("relock", columns),
                                params).first()
                if row is None:
                    conn.rollback()
                    return None, None
            self._event(conn, fence.stack_id, row.name,
                        row.physical_resource_id, action, "IN_PROGRESS",
                        reason, now)
        return row, None

    def break_lock(self, row, fence):
        """Release the lock of a dead run of a superseded operation and
        mark what it was doing FAILED (Heat: "Worker went down")."""
        now = utcnow()
        t = m.resources
        reason = "the engine running %s died during it" % row.action
        with self.engine.begin() as conn:
            res = conn.execute(t.update().where(
                t.c.id == row.id, t.c.lock_run == row.lock_run,
                _CURRENT).values(
                    lock_traversal=None, lock_run=None, status="FAILED",
                    status_reason=reason, updated_at=now),
                _fence_params(fence))
            if res.rowcount == 1:
                self._event(conn, fence.stack_id, row.name,
                            row.physical_resource_id, row.action, "FAILED",
                            reason, now)

    def finish_resource(self, resource_id, fence, action, status, reason="",
                        **fields):
        """Record the outcome of an action and release the lock (fenced on
        holding it, and on the run still owning the operation: a run that
        was taken over may not record the action the new run resumes)."""
        now = utcnow()
        values = dict(lock_traversal=None, lock_run=None, action=action,
                      status=status, status_reason=reason, updated_at=now,
                      action_token=None, **fields)
        stmt = _resource_update("finish", tuple(sorted(values)))
        params = dict(_set_params(values), rid=resource_id,
                      **_fence_params(fence))
        with self.engine.begin() as conn:
            done = self._run(conn, stmt, params).first()
            if done is None:
                conn.rollback()
                return False
            self._event(conn, fence.stack_id, done.name,
                        done.physical_resource_id, action, status, reason,
                        now)
        return True

    def update_resource(self, resource_id, fence, **fields):
        """A fenced write of a few columns of a row this run holds."""
        fields["updated_at"] = utcnow()
        stmt = _resource_update("update", tuple(sorted(fields)))
        params = dict(_set_params(fields), rid=resource_id,
                      **_fence_params(fence))
        with self.engine.begin() as conn:
            return self._run(conn, stmt, params).rowcount == 1

    def name_resource(self, resource_id, fence, name):
        """Give a row its physical name unless it has one; returns the
        row's name (``name`` or the one it had), or None when it has none
        and ``fence`` may not write to it (a run that holds the row's lock
        and was not taken over, or any current run while the row is
        idle)."""
        t = m.resources
        with self.engine.begin() as conn:
            conn.execute(t.update().where(
                t.c.id == resource_id, t.c.physical_name.is_(None),
                _PLUGIN_MAY_WRITE).values(
                    physical_name=name), _fence_params(fence))
            return conn.execute(sa.select(t.c.physical_name).where(
                t.c.id == resource_id)).scalar()

    def set_resource_fields(self, resource_id, fence, **fields):
        """A fenced write to an idle row (links between incarnations)."""
        stmt = _resource_update("idle", tuple(sorted(fields)))
        params = dict(_set_params(fields), rid=resource_id,
                      **_fence_params(fence))
        with self.engine.begin() as conn:
            return self._run(conn, stmt, params).rowcount == 1

    def purge_unstarted(self, fence):
        """Forget the INIT rows the operation planned but never started."""
        t = m.resources
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(
                t.c.stack_id == fence.stack_id,
                t.c.traversal == fence.traversal,
                t.c.action == "INIT", t.c.physical_resource_id.is_(None),
                t.c.lock_run.is_(None), _CURRENT), _fence_params(fence))

    def finish_delete(self, resource_id, fence, reason="state changed"):
        """A delete this run holds the lock for has completed: the row (and
        its plugin data, by cascade) goes, and the event says so.  Fenced
        like finish_resource: a superseded operation's in-flight delete is
        still recorded -- the resource is gone."""
        now = utcnow()
        with self.engine.begin() as conn:
            gone = self._run(conn, _FINISH_DELETE, dict(
                rid=resource_id, **_fence_params(fence))).first()
            if gone is None:
                conn.rollback()
                return False
            self._event(conn, fence.stack_id, gone.name,
                        gone.physical_resource_id, "DELETE", "COMPLETE",
                        reason, now)
        return True

    def purge_resource(self, resource_id, fence):
        """Forget a row whose physical resource is gone (fenced)."""
        with self.engine.begin() as conn:
            res = self._run(conn, _PURGE_RESOURCE, dict(
                rid=resource_id, **_fence_params(fence)))
            if res.rowcount != 1:
                conn.rollback()
                return False
            self._run(conn, _PURGE_RESOURCE_DATA, {"rid": resource_id})
        return True

    # -- plugin data --------------------------------------------------------

    def resource_data(self, resource_id):
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(
                m.resource_data.c.key, m.resource_data.c.value).where(
                    m.resource_data.c.resource_id == resource_id)).all()
        return {k: v for k, v in rows}

    def _data_fenced(self, conn, resource_id, fence):
        return self._run(conn, _DATA_FENCE, dict(
            rid=resource_id, now=utcnow(),
            **_fence_params(fence))).rowcount == 1

    def resource_data_set(self, resource_id, fence, key, value,
                          redact=False):
        """Set one item of a plugin's data (fenced, see _DATA_FENCE);
        False when the fence refused it."""
        t = m.resource_data
        with self.engine.begin() as conn:
            if not self._data_fenced(conn, resource_id, fence):
                conn.rollback()
                return False
            res = conn.execute(t.update().where(
                t.c.resource_id == resource_id, t.c.key == key).values(
                    value=value, redact=redact))
            if res.rowcount == 0:
                conn.execute(t.insert().values(resource_id=resource_id,
                                               key=key, value=value,
                                               redact=redact))
        return True

    def resource_data_delete(self, resource_id, fence, key):
        """Delete one item of a plugin's data (fenced, see _DATA_FENCE);
        False when the fence refused it."""
        with self.engine.begin() as conn:
            if not self._data_fenced(conn, resource_id, fence):
                conn.rollback()
                return False
            conn.execute(m.resource_data.delete().where(
                m.resource_data.c.resource_id == resource_id,
                m.resource_data.c.key == key))
        return True

    # -- events -------------------------------------------------------------

    def _event(self, conn, stack_id, resource_name, physical_id, action,
               status, reason, when):
        self._run(conn, _INSERT_EVENT, {
            "e_stack_id": stack_id, "e_resource_name": resource_name,
            "e_physical_resource_id": physical_id, "e_action": action,
            "e_status": status, "e_reason": reason or "",
            "e_created_at": when})

    def orphan_event(self, stack_id, resource_name, physical_id, status,
                     reason):
        """The event of a fenced run that undid what it made but could not
        record (flows/orphans.py): history only, so not fenced on the
        traversal and run (those refuse this run) but written only while
        the stack exists."""
        t = m.events
        values = {"stack_id": stack_id, "resource_name": resource_name,
                  "physical_resource_id": physical_id, "action": "DELETE",
                  "status": status, "reason": reason, "created_at": utcnow()}
        sel = sa.select(*[sa.literal(v, t.c[c].type)
                          for c, v in values.items()]).where(
            sa.exists().where(m.stacks.c.id == stack_id))
        with self.engine.begin() as conn:
            conn.execute(t.insert().from_select(list(values), sel))

    def list_events(self, stack_id, after_id=0):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(m.events).where(
                m.events.c.stack_id == stack_id,
                m.events.c.id > after_id).order_by(m.events.c.id)).all()
