"""What both halves of the store share: the fence, its one spelling in SQL,
the event row and the outage-tolerant base class.

The store is split by what it writes -- ``store.py`` stacks, templates,
events and the operation's compare-and-swap; ``resources.py`` resource
rows, their lock protocol and plugin data -- and both build on this module,
which imports neither (so neither imports the other to reach a helper).

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
#: Who is writing on behalf of a signal (flows/signal.py): no operation, so
#: no traversal or run; the write is fenced on the resource's own state
#: instead (resources._SIGNAL_MAY_WRITE).
SignalFence = collections.namedtuple("SignalFence", "stack_id resource_id")
StackPosition = collections.namedtuple("StackPosition",
                                       "traversal run_token action status")


# -- statements of the hot paths, built once -------------------------------
#
# Building a SQLAlchemy statement (and its cache key) costs more Python than
# executing a cached one; the statements every resource action runs are
# built once (here and in store.py, resources.py), with bind parameters,
# and run as prepared statements (persistence/prepared.py: running a cached
# Core statement costs about as much again as the database's own work).

_B = sa.bindparam
# The fence, the one way it is written: its values go in as parameters
# (_fence_params), in the hot statements and the others alike.
_STACK_IS = (m.stacks.c.id == _B("f_sid"),
             m.stacks.c.traversal == _B("f_trav"),
             m.stacks.c.run_token == _B("f_run"))
_EVENT_COLUMNS = ("stack_id", "resource_name", "physical_resource_id",
                  "action", "status", "reason", "created_at", "detail")
_INSERT_EVENT = m.events.insert().values(
    {c: _B("e_" + c) for c in _EVENT_COLUMNS})


def _fence_params(fence):
    return {"f_sid": fence.stack_id, "f_trav": fence.traversal,
            "f_run": fence.run}


def _set_params(values):
    """Parameters of a built statement's SET clause (see
    resources._resource_update) for ``values`` (column -> value)."""
    return {"v_" + c: v for c, v in values.items()}


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
    """Every public method of a class made with it (each class of the
    hierarchy wraps its own) runs :func:`_through_outages`."""

    def __new__(mcs, name, bases, ns):
        for key, value in list(ns.items()):
            if callable(value) and not key.startswith("_"):
                ns[key] = _through_outages(value)
        return super().__new__(mcs, name, bases, ns)


class Base(metaclass=_OutageTolerant):
    """The connection, the prepared statements and the event row, which
    stack and resource writes alike add in their own transaction."""

    def __init__(self, engine):
        self.engine = engine
        self._statements = prepared.Statements(engine.dialect)

    def _run(self, conn, statement, values):
        """Run one of the statements built once (prepared)."""
        return self._statements.run(conn, statement, values)

    def _event(self, conn, stack_id, resource_name, physical_id, action,
               status, reason, when, detail=None):
        self._run(conn, _INSERT_EVENT, {
            "e_stack_id": stack_id, "e_resource_name": resource_name,
            "e_physical_resource_id": physical_id, "e_action": action,
            "e_status": status, "e_reason": reason or "",
            "e_created_at": when, "e_detail": detail})
