"""Resource rows: their insertion, the row-lock protocol (acquire, resume,
break, finish), fenced writes to a held or idle row, and plugin data.

:class:`Resources` is the base of :class:`store.Store` rather than an object
of its own: a resource's write and its event share one transaction and one
connection, atoms and drivers reach every write through ``db.store``, and
the one instance keeps one cache of prepared statements.  The split is
for the reader -- the lock protocol reads on its own, away from the stack's
compare-and-swap -- not a second thing to pass around.  (The fence and what
both halves share: ``sql.py``.)
"""

import sqlalchemy as sa

from heatflow import states
from heatflow.persistence import models as m
from heatflow.persistence.sql import (
    _B, _STACK_IS, Base, SignalFence, StackPosition, _fence_params,
    _set_params, utcnow)


# -- statements of the hot paths, built once (see sql.py) ------------------

_CURRENT = sa.exists().where(*_STACK_IS)
# Current, and going forward (no rollback of it requested).
_CURRENT_FORWARD = sa.exists().where(*_STACK_IS,
                                     m.stacks.c.action != states.ROLLBACK)
# No other run has taken the operation over.  (A superseded operation's
# in-flight action is still recorded when it ends: it happened.  A run that
# was replaced by another run of the same operation records nothing: that
# run resumes the action.)
_NOT_TAKEN_OVER = ~sa.exists().where(
    m.stacks.c.id == _B("f_sid"), m.stacks.c.traversal == _B("f_trav"),
    m.stacks.c.run_token != _B("f_run"))
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
# (SQLite cannot promise RETURNING in the rows' order; asking SQLAlchemy
# for it makes an INSERT per row.  The names map the ids back instead.)
_INSERT_RESOURCES = m.resources.insert().returning(m.resources.c.name,
                                                   m.resources.c.id)
# What every new row starts as.
_FIXED_NEW_ROW = {"action": states.INIT, "status": states.COMPLETE,
                  "status_reason": ""}
# The fence, locking the stack's row until the transaction ends (PostgreSQL;
# SQLite has no FOR SHARE, and needs none: a writer holds the database).
_FENCE_FOR_SHARE = sa.select(m.stacks.c.id).where(
    *_STACK_IS).with_for_update(read=True)
_built = {}
#: The action of the event a signal writes (Heat's).
SIGNAL = "SIGNAL"


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
    "fresh": (m.resources.c.action == states.INIT,
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

#: The actions during which a resource takes no signal (Heat's
#: no_signal_actions), and INIT: never created, nothing to signal.
NO_SIGNAL_ACTIONS = (states.INIT, states.SUSPEND, states.DELETE)
# What a signal's writes are fenced on (it runs for no operation): the row
# is still its stack's, exists, and is not being (or was not) suspended or
# deleted, and the stack is neither deleted nor being deleted -- checked in
# the write's own statement, so a delete that took the row's lock a moment
# after the signal's checks refuses the signal's late writes.
_SIGNAL_MAY_WRITE = (
    m.resources.c.id == _B("rid"), m.resources.c.stack_id == _B("sid"),
    # (one comparison each: a prepared statement cannot expand NOT IN)
    *[m.resources.c.action != a for a in NO_SIGNAL_ACTIONS],
    sa.exists().where(
        m.stacks.c.id == _B("sid"), m.stacks.c.deleted_marker == "",
        ~sa.and_(m.stacks.c.action == states.DELETE,
                 m.stacks.c.status == states.IN_PROGRESS)))
_SIGNAL_FENCE = m.resources.update().where(*_SIGNAL_MAY_WRITE).values(
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


class Resources(Base):
    """Reads and fenced writes of resource rows and their plugin data."""

    # -- resources ----------------------------------------------------------

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
            Resources._new_row(fence, r, now) for r in rows]).all()
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
        values = Resources._new_row(fence, row, now)
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
                        row.physical_resource_id, action, states.IN_PROGRESS,
                        reason, now)
        return row

    @staticmethod
    def _acquired_values(fence, action, reason, now, fields):
        """What taking a row's lock for ``action`` writes."""
        # A new action starts without the token of an earlier one.
        return dict(lock_traversal=fence.traversal, lock_run=fence.run,
                    traversal=fence.traversal, action=action,
                    status=states.IN_PROGRESS, status_reason=reason,
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
                if held.action == action and \
                        held.status == states.IN_PROGRESS and \
                        not (undoing and held.status_reason != reason):
                    return conn.execute(sa.select(t).where(
                        t.c.id == resource_id)).one(), None
                row = self._run(conn, _resource_update("relock", columns),
                                params).first()
                if row is None:
                    conn.rollback()
                    return None, None
            self._event(conn, fence.stack_id, row.name,
                        row.physical_resource_id, action, states.IN_PROGRESS,
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
                    lock_traversal=None, lock_run=None, status=states.FAILED,
                    status_reason=reason, updated_at=now),
                _fence_params(fence))
            if res.rowcount == 1:
                self._event(conn, fence.stack_id, row.name,
                            row.physical_resource_id, row.action,
                            states.FAILED, reason, now)

    def finish_resource(self, resource_id, fence, action, status, reason="",
                        detail=None, **fields):
        """Record the outcome of an action and release the lock (fenced on
        holding it, and on the run still owning the operation: a run that
        was taken over may not record the action the new run resumes).
        ``detail``: the event's, e.g. a failing plugin's traceback."""
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
                        now, detail)
        return True

    def mark_resource(self, resource_id, stack_id, unhealthy, reason):
        """Heat's resource_mark_unhealthy, as one statement: ``unhealthy``
        sets the resource CHECK_FAILED (unless it is being deleted),
        otherwise a CHECK_FAILED one goes back to CHECK_COMPLETE; with its
        event.  Only while no action is in flight on it (its lock is free:
        the action's own outcome would overwrite the mark).  Not fenced on
        an operation: it is none.  Returns (done, the row as it is)."""
        now = utcnow()
        t = m.resources
        if unhealthy:
            when = (t.c.action != states.DELETE,)
            status = states.FAILED
        else:
            when = (t.c.action == states.CHECK, t.c.status == states.FAILED)
            status = states.COMPLETE
        with self.engine.begin() as conn:
            res = conn.execute(t.update().where(
                t.c.id == resource_id, t.c.stack_id == stack_id,
                t.c.lock_run.is_(None), *when).values(
                    action=states.CHECK, status=status,
                    status_reason=reason, updated_at=now))
            row = conn.execute(sa.select(t).where(
                t.c.id == resource_id)).one_or_none()
            if res.rowcount != 1:
                conn.rollback()
                return False, row
            self._event(conn, stack_id, row.name, row.physical_resource_id,
                        states.CHECK, status, reason, now)
        return True, row

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
                t.c.action == states.INIT, t.c.physical_resource_id.is_(None),
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
                        gone.physical_resource_id, states.DELETE,
                        states.COMPLETE, reason, now)
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
        if isinstance(fence, SignalFence):
            return self._signal_fenced(conn, fence)
        return self._run(conn, _DATA_FENCE, dict(
            rid=resource_id, now=utcnow(),
            **_fence_params(fence))).rowcount == 1

    def _signal_fenced(self, conn, fence):
        return self._run(conn, _SIGNAL_FENCE, dict(
            rid=fence.resource_id, sid=fence.stack_id,
            now=utcnow())).rowcount == 1

    def signal_event(self, fence, status, reason):
        """Record that the resource took a signal (Heat's ``SIGNAL``
        event, with the resource's status as it is), fenced like the
        signal's data (_SIGNAL_MAY_WRITE); False when refused."""
        now = utcnow()
        t = m.resources
        with self.engine.begin() as conn:
            if not self._signal_fenced(conn, fence):
                conn.rollback()
                return False
            row = conn.execute(sa.select(t.c.name, t.c.physical_resource_id)
                               .where(t.c.id == fence.resource_id)).one()
            self._event(conn, fence.stack_id, row.name,
                        row.physical_resource_id, SIGNAL, status, reason,
                        now)
        return True

    def resource_data_add(self, resource_id, fence, key, value,
                          redact=False):
        """Add an item of a plugin's data unless it has one under ``key``
        (fenced as :meth:`resource_data_set`): True if added; False if the
        key was taken (another writer's, say a concurrent signal) or the
        fence refused it -- :meth:`resource_data` tells which."""
        t = m.resource_data
        with self.engine.begin() as conn:
            if not self._data_fenced(conn, resource_id, fence):
                conn.rollback()
                return False
            taken = conn.execute(sa.select(t.c.key).where(
                t.c.resource_id == resource_id, t.c.key == key)).first()
            if taken is not None:
                return False
            conn.execute(t.insert().values(resource_id=resource_id, key=key,
                                           value=value, redact=redact))
        return True

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
