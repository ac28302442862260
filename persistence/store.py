"""Reads and fenced writes of stacks, their templates and events: the
operation's compare-and-swap (begin, roll back, take over, clean up, end).

:class:`Store` is what ``db.store`` is.  It inherits the resource rows,
their lock protocol and plugin data from :class:`resources.Resources`, so
that every caller keeps one object to write through and a resource's
write and its event keep one transaction; this module holds what concerns
the stack row.  The fence and the outage-tolerant base both halves build
on: ``sql.py`` (``Fence`` and ``utcnow`` are re-exported here, where
callers have always found them).
"""

import sqlalchemy as sa

from heatflow import exception
from heatflow import states
from heatflow.persistence import models as m
from heatflow.persistence.resources import Resources
from heatflow.persistence.software_configs import SoftwareConfigs
from heatflow.persistence.sql import (  # noqa: F401 (re-exported)
    _B, _STACK_IS, Fence, _fence_params, new_id, utcnow)


_STACK_POSITION = sa.select(
    m.stacks.c.traversal, m.stacks.c.run_token, m.stacks.c.action,
    m.stacks.c.status).where(m.stacks.c.id == _B("sid"))


class Store(Resources, SoftwareConfigs):
    """``db.store``: stacks, templates and events here; resource rows and
    plugin data, and software configs, inherited (see the module's
    docstring)."""

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
                     timeout_mins, deadline, flow_uuid, project_id=None,
                     context=None, owner_id=None, parent_resource=None,
                     nested_depth=0):
        """Insert a stack and its first template; StackExists if the name
        is taken by a live stack.  ``owner_id``/``parent_resource``: the
        parent stack and its resource, for a nested stack."""
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                tid = self._add_template(conn, stack_id, template, files,
                                         environment)
                conn.execute(m.stacks.insert().values(
                    id=stack_id, name=name, deleted_marker="",
                    action=action, status=states.IN_PROGRESS,
                    phase=states.CONVERGE,
                    status_reason=status_reason, template_id=tid,
                    prev_template_id=None, parameters=parameters,
                    traversal=traversal, run_token=run, flow_uuid=flow_uuid,
                    disable_rollback=disable_rollback,
                    timeout_mins=timeout_mins, deadline=deadline,
                    project_id=project_id, context=context,
                    owner_id=owner_id, parent_resource=parent_resource,
                    nested_depth=nested_depth,
                    created_at=now, updated_at=now))
                self._event(conn, stack_id, "", None, action,
                            states.IN_PROGRESS, status_reason, now)
        except sa.exc.IntegrityError:
            raise exception.StackExists(name)
        return stack_id

    def find_stack(self, name_or_id):
        """The live stack named (or with id) ``name_or_id``; a nested one
        also by its path, ``parent/resource[/resource...]``: the stack the
        resource of its parent holds (the newest, while a replacement has
        two)."""
        if isinstance(name_or_id, str) and "/" in name_or_id:
            return self._find_by_path(name_or_id)
        q = sa.select(m.stacks).where(
            m.stacks.c.deleted_marker == "",
            sa.or_(m.stacks.c.name == name_or_id,
                   m.stacks.c.id == name_or_id))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise exception.StackNotFound(name_or_id)
        return row

    def _find_by_path(self, path):
        top, *resources = path.split("/")
        row = self.find_stack(top)
        with self.engine.connect() as conn:
            for resource in resources:
                row = conn.execute(sa.select(m.stacks).where(
                    m.stacks.c.deleted_marker == "",
                    m.stacks.c.owner_id == row.id,
                    m.stacks.c.parent_resource == resource).order_by(
                        m.stacks.c.created_at.desc())).first()
                if row is None:
                    raise exception.StackNotFound(path)
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

    def list_stacks(self, nested=True):
        """The live stacks; without ``nested``, the top-level ones only."""
        q = sa.select(m.stacks).where(m.stacks.c.deleted_marker == "")
        if not nested:
            q = q.where(m.stacks.c.owner_id.is_(None))
        with self.engine.connect() as conn:
            return conn.execute(q.order_by(m.stacks.c.created_at)).all()

    def tree_resource_count(self, stack_id):
        """How many resource rows the live tree of the stack ``stack_id``
        holds (its own and its nested stacks', all levels): one count per
        level of the tree."""
        total, level = 0, [stack_id]
        with self.engine.connect() as conn:
            while level:
                total += conn.execute(sa.select(sa.func.count()).where(
                    m.resources.c.stack_id.in_(level))).scalar()
                level = list(conn.execute(sa.select(m.stacks.c.id).where(
                    m.stacks.c.deleted_marker == "",
                    m.stacks.c.owner_id.in_(level))).scalars())
        return total

    def list_children(self, owner_id):
        """The live stacks ``owner_id`` owns (its nested stacks)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(m.stacks).where(
                m.stacks.c.deleted_marker == "",
                m.stacks.c.owner_id == owner_id).order_by(
                    m.stacks.c.created_at)).all()

    def begin_operation(self, stack_id, expected_traversal, *, traversal,
                        run, action, status_reason, template=None,
                        files=None, environment=None,
                        status=states.IN_PROGRESS, **fields):
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
                          status=status, phase=states.CONVERGE,
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
                # the lifecycle decided on a revert (states.ROLLBACK_FROM):
                # the stack is still so
                m.stacks.c.action.in_(states.REVERTIBLE_ACTIONS),
                m.stacks.c.phase == states.CONVERGE).values(
                    action=states.ROLLBACK, status=states.IN_PROGRESS,
                    status_reason=reason, updated_at=now))
            if res.rowcount != 1:
                conn.rollback()
                return False
            self._event(conn, stack_id, "", None, states.ROLLBACK,
                        states.IN_PROGRESS, reason, now)
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
                m.stacks.c.action == action).values(phase=states.CLEANUP),
                _fence_params(fence))
            return res.rowcount == 1

    def switch_flow(self, fence, old_flow, new_flow, **fields):
        """Continue the same operation (traversal) with another flow."""
        with self.engine.begin() as conn:
            res = conn.execute(m.stacks.update().where(
                *_STACK_IS,
                m.stacks.c.flow_uuid == old_flow).values(
                    flow_uuid=new_flow, phase=states.CONVERGE, **fields),
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
            final = (states.ROLLBACK, states.IN_PROGRESS) if rollback else \
                (action, states.FAILED)
            res = conn.execute(m.stacks.update().where(
                *_STACK_IS).values(
                    action=final[0], status=final[1], status_reason=reason,
                    updated_at=now), _fence_params(fence))
            if res.rowcount != 1:
                conn.rollback()
                return False
            self._event(conn, stack_id, "", None, action, states.FAILED,
                        reason, now)
            if rollback:
                self._event(conn, stack_id, "", None, states.ROLLBACK,
                            states.IN_PROGRESS, reason, now)
        return True

    def mark_stack_deleted(self, fence):
        """A stack whose delete completed disappears from listings; its
        resource rows and data go with it."""
        now = utcnow()
        stack_id = fence.stack_id
        with self.engine.begin() as conn:
            res = conn.execute(m.stacks.update().where(
                *_STACK_IS).values(
                    action=states.DELETE, status=states.COMPLETE,
                    status_reason="Stack DELETE completed successfully",
                    deleted_marker=stack_id, deleted_at=now, updated_at=now),
                _fence_params(fence))
            if res.rowcount != 1:
                conn.rollback()
                return False
            self._event(conn, stack_id, "", None, states.DELETE,
                        states.COMPLETE, "Stack DELETE completed successfully",
                        now)
            ids = sa.select(m.resources.c.id).where(
                m.resources.c.stack_id == stack_id)
            conn.execute(m.resource_data.delete().where(
                m.resource_data.c.resource_id.in_(ids)))
            conn.execute(m.resources.delete().where(
                m.resources.c.stack_id == stack_id))
        return True

    # -- events (each written with its change: sql.Base._event) --------------

    def orphan_event(self, stack_id, resource_name, physical_id, status,
                     reason):
        """The event of a fenced run that undid what it made but could not
        record (flows/orphans.py): history only, so not fenced on the
        traversal and run (those refuse this run) but written only while
        the stack exists."""
        t = m.events
        values = {"stack_id": stack_id, "resource_name": resource_name,
                  "physical_resource_id": physical_id, "action": states.DELETE,
                  "status": status, "reason": reason, "created_at": utcnow()}
        sel = sa.select(*[sa.literal(v, t.c[c].type)
                          for c, v in values.items()]).where(
            sa.exists().where(m.stacks.c.id == stack_id))
        with self.engine.begin() as conn:
            conn.execute(t.insert().from_select(list(values), sel))

    def list_events(self, stack_id, after_id=0):
        return self.list_events_of([stack_id], after_id)

    def list_events_of(self, stack_ids, after_id=0):
        """The events of the stacks ``stack_ids`` after ``after_id``, in
        the order they happened (one sequence over all stacks)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(m.events).where(
                m.events.c.stack_id.in_(list(stack_ids)),
                m.events.c.id > after_id).order_by(m.events.c.id)).all()

    def last_event(self, stack_id, resource_name):
        """The latest event of one resource of a stack, or None."""
        e = m.events
        with self.engine.connect() as conn:
            return conn.execute(sa.select(e).where(
                e.c.stack_id == stack_id,
                e.c.resource_name == resource_name).order_by(
                    e.c.id.desc()).limit(1)).first()
