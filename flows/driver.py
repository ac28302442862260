"""Driving one plugin action: ``handle_<action>`` then polling
``check_<action>_complete`` at intervals that double up to a cap, or when
the plugin says (``resource.PollDelay``), within a deadline,
with the plugin's persistent bits going to the database.
"""

import logging
import time
import traceback

from heatflow import exception
from heatflow import logs
from heatflow import metrics
from heatflow import resource as resource_mod
from heatflow.flows import polling

LOG = logging.getLogger(__name__)


class DbStorage(resource_mod.ResourceStorage):
    """A plugin's resource id and data, written through at once.

    Writes are fenced on the row's action lock: a plugin running for an
    operation that has lost the row changes nothing (its write raises
    :class:`exception.Superseded`, as the run has been)."""

    def __init__(self, store, row, fence):
        super().__init__(row.physical_resource_id, None, row.physical_name)
        self._store = store
        self._row_id = row.id
        self._fence = fence
        self._loaded = False
        #: A physical id the plugin learned but this run may not record.
        self.refused_id = None

    def set_resource_id(self, value):
        if not self._store.update_resource(self._row_id, self._fence,
                                           physical_resource_id=value):
            if value is not None:
                # Made, and not recordable: flows/orphans.py undoes it.
                self.refused_id = value
            raise _refused()
        self.resource_id = value

    def name_physically(self, name):
        """The row's physical name, ``name`` stored (fenced) if it has
        none; a run that may not store it gets none."""
        if not self.physical_name:
            stored = self._store.name_resource(self._row_id, self._fence,
                                               name)
            if stored is None:
                raise _refused()
            self.physical_name = stored
        return self.physical_name

    def _load(self):
        if not self._loaded:
            self._data = self._store.resource_data(self._row_id)
            self._loaded = True

    def data(self):
        self._load()
        return dict(self._data)

    def check_held(self):
        """A fenced touch of the row: Superseded once this run lost it (a
        nested stack resource asks before it starts an operation on its
        child: a zombie must not)."""
        if not self._store.update_resource(self._row_id, self._fence):
            raise _refused()

    def data_set(self, key, value, redact=False):
        self._load()
        if not self._store.resource_data_set(self._row_id, self._fence,
                                             key, value, redact):
            raise _refused()
        self._data[key] = value

    def data_delete(self, key):
        self._load()
        if not self._store.resource_data_delete(self._row_id, self._fence,
                                                key):
            raise _refused()
        self._data.pop(key, None)


def _refused():
    """The error a plugin's write gets when its run lost the row, counted
    (an operator wants to see zombies being stopped)."""
    metrics.fenced_write_refused()
    return exception.Superseded("resource lock lost")


def _serialisable(token):
    if token is None or isinstance(token, (bool, int, float, str)):
        return True
    if isinstance(token, (list, tuple)):
        return all(_serialisable(t) for t in token)
    if isinstance(token, dict):
        return all(isinstance(k, str) and _serialisable(v)
                   for k, v in token.items())
    return False


# The default pauses and their growth (flows/polling.py says why).
POLL_INTERVAL = polling.POLL_INTERVAL
BACKOFF = polling.BACKOFF


def failure_detail(exc):
    """What a failure's event keeps beyond its one-line reason: the
    traceback of an exception that is not one of heatflow's (those a
    plugin raises on purpose, and their message says it all); else None.
    Its author needs it to find the bug."""
    if isinstance(exc, exception.HeatflowError):
        return None
    return "".join(traceback.format_exception(exc)).rstrip()


def run(plugin, action, args=(), **options):
    """Run ``action`` of ``plugin`` (see :func:`_run`), counted in the
    metrics by its outcome and duration."""
    started = time.monotonic()
    outcome = metrics.FAILED
    try:
        with logs.context(resource=getattr(plugin, "name", None)):
            token = _run(plugin, action, args, **options)
        outcome = metrics.COMPLETE
        return token
    except exception.Timeout:
        outcome = metrics.TIMED_OUT
        raise
    except exception.Superseded:
        outcome = metrics.SUPERSEDED
        raise
    except exception.UpdateReplace:
        outcome = metrics.REPLACED
        raise
    except exception.HeatflowError:
        raise
    except Exception:
        # Not one of the errors a plugin raises on purpose: its author
        # needs the traceback, which the status reason (one line) drops.
        # In the conductor's or the worker's log.
        LOG.info("the %s of resource %s raised", action,
                 getattr(plugin, "name", None), exc_info=True)
        raise
    finally:
        metrics.resource_action(getattr(plugin, "type", None), action,
                                outcome, time.monotonic() - started)


def _run(plugin, action, args=(), *, deadline=None, poll=POLL_INTERVAL,
         save_token=None, resume_token=None, resuming=False,
         timeout_message=None, taken_over=None, sleep=None):
    """Run ``action`` (CREATE, UPDATE, DELETE, CHECK, ...) of ``plugin`` to
    completion.

    ``deadline`` is an absolute ``time.time()``; past it the action fails
    with :class:`exception.Timeout` (the plugin is not interrupted while in
    a handler).  ``save_token`` is called with the handler's token when it
    serialises, and ``resuming`` with ``resume_token`` skips the handler:
    the action was started by an engine that died, so it is polled to
    completion rather than started twice.  ``taken_over()`` is asked
    before every poll but the first (a conductor frozen past its session
    must not call the plugin once another run owns the operation; asking
    less often was tried and let such a zombie poll on), and before the
    handler: then this run
    must not touch the resource again (it raises
    :class:`exception.Superseded`).  A merely superseded operation's action
    is not interrupted.

    ``poll`` is (first, longest): the action is polled as soon as the
    handler returns, then after ``first`` seconds, then after pauses that
    double (BACKOFF) up to ``longest``.  ``check`` may instead raise
    :class:`resource.PollDelay`: the next poll is then that many seconds
    later (never sooner than ``first``: the shortest pause there is), and
    the back-off resumes where it was after it.  ``sleep(seconds)``
    pauses; it may end early (when the run is fenced: Runtime.pause).
    """
    name = action.lower()
    # Heat's _do_action: a plugin without the handler or the poll of an
    # action (a suspend, say) has nothing to do for it, or to wait for.
    check = getattr(plugin, "check_%s_complete" % name, None) or \
        (lambda token: True)
    handle = getattr(plugin, "handle_" + name, None) or (lambda *a: None)
    sleep = sleep or time.sleep
    # The deadline is wall-clock time (it was computed by whichever
    # process started the operation); pauses are counted, not timed.
    if resuming:
        token = resume_token
    else:
        # Asked once more right before the handler acts: a conductor
        # frozen (SIGSTOP, a long pause) between taking the row's lock and
        # this call wakes up to find the operation taken over -- or rolled
        # back -- and must not act on the cloud (a chaos soak trial saw
        # such a zombie update a resource after the rollback restored it).
        if taken_over is not None and taken_over():
            raise exception.Superseded("another run took the operation "
                                       "over")
        token = handle(*args)
        if save_token is not None and token is not None and \
                _serialisable(token):
            save_token(token)
    first_delay, max_delay = poll
    # (Not from 0: a doubling zero would poll without pause for ever.)
    backoff = min(max(first_delay, 0.001), max_delay)
    while True:
        try:
            if check(token):
                break
            pause, asked = backoff, False
            backoff = min(backoff * BACKOFF, max_delay)
        except resource_mod.PollDelay as delay:
            # The plugin's own estimate; it does not move the back-off (a
            # plugin that stops raising it is polled as before).
            pause, asked = max(delay.period, first_delay), True
        now = time.time()
        if deadline is not None and now >= deadline:
            raise _timed_out(plugin, name, token,
                             timeout_message or "%s timed out" % action)
        late = deadline is not None and now + pause >= deadline
        if late:
            pause = deadline - now
        sleep(max(pause, 0))
        if taken_over is not None and taken_over():
            raise exception.Superseded("another run took the operation "
                                       "over")
        if late and asked:
            # The plugin said it would not be done before a time past the
            # deadline: the action times out now, without a poll it
            # asked not to have.
            raise _timed_out(plugin, name, token,
                             timeout_message or "%s timed out" % action)
    return token


def _timed_out(plugin, name, token, message):
    """The Timeout an action that ran past its deadline ends with, once
    the plugin's ``handle_<action>_cancel(token)`` (Heat's hook: a nested
    stack stops its child's operation) has been called, if it has one.
    Its failure is logged, not raised: the action has timed out either
    way."""
    cancel = getattr(plugin, "handle_%s_cancel" % name, None)
    if callable(cancel):
        try:
            cancel(token)
        except Exception:
            LOG.warning("the %s cancel of resource %s failed", name,
                        getattr(plugin, "name", None), exc_info=True)
    return exception.Timeout(message)
