"""Logging with the operation it is about: every line a flow's engine or
one of its atoms writes carries the stack, the operation's action and
traversal, and (inside a plugin action) the resource.

The fields live in context variables, bound by :func:`context` where an
operation's flow starts (flows/execution.py) and where a plugin action
starts (flows/driver.py); :class:`ContextPool` carries them from the
engine's thread to the pool threads that run its atoms, and
:class:`ContextFilter` copies them onto each log record.  With
``--log-format json`` (:func:`json_handler`) each record is one JSON
object per line, for log collectors.
"""

import concurrent.futures
import contextlib
import contextvars
import datetime
import json
import logging

#: The fields, in the order a JSON line gives them.
FIELDS = ("stack", "stack_id", "action", "traversal", "resource")

_vars = {name: contextvars.ContextVar("heatflow_log_" + name, default=None)
         for name in FIELDS}


@contextlib.contextmanager
def context(**fields):
    """Bind ``fields`` (some of :data:`FIELDS`) for the log lines written
    in this block, on this thread and on the pool threads it hands work
    to."""
    tokens = [(_vars[name], _vars[name].set(value))
              for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current():
    """The fields bound here, without the unset ones."""
    values = {name: var.get() for name, var in _vars.items()}
    return {k: v for k, v in values.items() if v is not None}


class ContextPool(concurrent.futures.ThreadPoolExecutor):
    """A thread pool whose tasks run in the context of whoever submitted
    them: TaskFlow's engine thread submits a flow's atoms, which then log
    with the operation's fields."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(contextvars.copy_context().run, fn, *args,
                              **kwargs)


class ContextFilter(logging.Filter):
    """Copies the bound fields onto every record (as attributes named
    after them; None where unbound), so any formatter can use them."""

    def filter(self, record):
        for name, var in _vars.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger,
    message, the bound fields that are set, and the traceback if any."""

    def format(self, record):
        data = {"time": datetime.datetime.fromtimestamp(
                    record.created, datetime.timezone.utc).isoformat(
                        timespec="milliseconds"),
                "level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def json_handler(stream):
    """A handler writing JSON lines with the bound fields to ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    return handler
