"""The ``heatflow`` command.

::

    heatflow [--db-url URL] [--zookeeper HOSTS] [--plugin-dir DIR]...
             [-f table|json|yaml] [--debug] COMMAND ...

    heatflow stack create NAME -t FILE [-e ENV]... [--parameter K=V]...
                          [--timeout MIN] [--enable-rollback] [--wait]
                          [--dry-run]
    heatflow stack update NAME [-t FILE] [-e ENV]... [--parameter K=V]...
                          [--existing] [--timeout MIN] [--wait] [--dry-run]
    heatflow stack delete NAME... [--wait] [-y]
    heatflow stack rollback NAME [--wait] | stack cancel NAME [--no-rollback]
    heatflow stack list | stack show NAME
    heatflow stack output list NAME | stack output show NAME (OUTPUT | --all)
    heatflow stack resource list NAME [--waiting]
    heatflow stack resource show NAME RESOURCE
    heatflow stack event list NAME [--follow]
    heatflow template validate -t FILE [-e ENV]... [--parameter K=V]...
    heatflow template graph [-t FILE] [-e ENV]... [--parameter K=V]...
                            [-o FILE.dot|.svg|.png] [--stack NAME]
    heatflow conductor [--name NAME] [--workers N]
    heatflow db upgrade | db generate-key

The package uses only heatflow's public API (``heatflow``,
``heatflow.api``, ``heatflow.exception``; a test holds it to that):

- ``parser``: the arguments; each command names its function
  ``"module.cmd_*"``, imported when the command runs;
- ``operations``: create, update, delete, rollback, cancel; ``--wait`` and
  the progress bar;
- ``stacks``: list, show, outputs, resources, events (``--follow``);
- ``templates``: validate and graph; ``graph``: DOT, SVG and PNG;
- ``admin``: conductor and db;
- ``inputs``: template, ``get_file`` files, environment files and
  parameters read from disk; ``context``: options, streams and the
  Orchestrator; ``output``: tables, JSON and YAML.

Adding a command is one ``cmd_*(ctx, args)`` function returning the exit
status, in the module of its group, and one ``command(...)`` line in
:func:`heatflow.cli.parser.build_parser` (``group(...)`` for a new noun).

Errors are one ``ERROR: ...`` line on stderr and exit status 1 (2 for usage
errors, 130 when interrupted); ``--debug`` adds the traceback.
"""

import importlib
import logging
import os
import sys
import traceback

import yaml

import heatflow
from heatflow import exception
from heatflow.cli.context import CommandError, Context, StoppedWaiting
from heatflow.cli.parser import ENV_DB_URL, ENV_ZOOKEEPER, build_parser


def _command(name):
    """The function ``"module.function"`` names in this package."""
    module, _, func = name.rpartition(".")
    return getattr(importlib.import_module("heatflow.cli." + module), func)


def _yaml_problem(exc):
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return "%s (line %d, column %d)" % (
            problem, mark.line + 1, mark.column + 1)
    return problem


# Libraries whose log lines are noise to a command line user.  TaskFlow logs
# a failed flow (a resource failure, which the events already show) at
# ERROR with a traceback; kazoo warns on every failed connection attempt
# before the one error line says it could not connect.
QUIET_LOGGERS = {"alembic": logging.WARNING, "stevedore": logging.WARNING,
                 "kazoo": logging.ERROR, "taskflow": logging.CRITICAL}


def _setup_logging(debug, log_format="text"):
    """Quiet logging on stderr (everything with ``debug``), as text or
    JSON lines; returns a function that puts the previous configuration
    back, for callers that run :func:`main` in their own process."""
    root = logging.getLogger()
    names = [None] + list(QUIET_LOGGERS)
    saved = {name: logging.getLogger(name).level for name in names}
    handler = None
    if not root.handlers:
        if log_format == "json":
            handler = heatflow.json_log_handler(sys.stderr)
        else:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(logging.INFO if debug else level)

    def restore():
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
        if handler is not None:
            root.removeHandler(handler)
    return restore


def _message(exc):
    if isinstance(exc, yaml.YAMLError):
        return "invalid YAML: %s" % _yaml_problem(exc)
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename
        return "%s: %s" % (name, exc.strerror) if name else exc.strerror
    if type(exc).__module__.startswith("sqlalchemy") and \
            getattr(exc, "orig", None) is not None:
        return "database error: %s" % (exc.orig,)
    text = str(exc).strip()
    if isinstance(exc, (CommandError, exception.HeatflowError,
                        NotImplementedError)):
        return text or type(exc).__name__
    return "%s: %s" % (type(exc).__name__, text) if text \
        else type(exc).__name__


def main(argv=None, stdout=None, stderr=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); the exit
    status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.db_url is None:
        args.db_url = os.environ.get(ENV_DB_URL) or None
    if args.zookeeper is None:
        args.zookeeper = os.environ.get(ENV_ZOOKEEPER) or None
    if getattr(args, "zookeeper_auth", None) is None:
        args.zookeeper_auth = os.environ.get(
            "HEATFLOW_ZOOKEEPER_AUTH") or None
    restore_logging = _setup_logging(args.debug, args.log_format)
    try:
        return _run(args, Context(args, stdout, stderr))
    finally:
        restore_logging()


def _run(args, ctx):
    stderr = ctx.err
    try:
        try:
            return _command(args.func)(ctx, args)
        finally:
            ctx.close()
    except StoppedWaiting as exc:
        stderr.write("%s\n" % exc)
        return 130
    except KeyboardInterrupt:
        stderr.write("ERROR: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:
        if args.debug:
            traceback.print_exc(file=stderr)
        expected = isinstance(exc, (CommandError, exception.HeatflowError,
                                    NotImplementedError, OSError,
                                    yaml.YAMLError))
        line = "ERROR: " + _message(exc).replace("\n", " ")
        if not expected and not args.debug:
            line += " (run with --debug for details)"
        stderr.write(line + "\n")
        stderr.flush()
        return 1
