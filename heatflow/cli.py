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
    heatflow stack list | stack show NAME
    heatflow stack output list NAME | stack output show NAME (OUTPUT | --all)
    heatflow stack resource list NAME [--waiting]
    heatflow stack resource show NAME RESOURCE
    heatflow stack event list NAME [--follow]
    heatflow template validate -t FILE [-e ENV]... [--parameter K=V]...
    heatflow template graph [-t FILE] [-e ENV]... [--parameter K=V]...
                            [-o FILE.dot|.svg|.png] [--stack NAME]
    heatflow db upgrade

Each command is a function ``cmd_*(ctx, args)`` returning the exit status,
attached to its argparse sub-parser in :func:`build_parser`; adding a command
is adding one function and one ``command(...)`` line there (``group(...)``
for a new noun).  Global options are accepted before the command and after
it.

Errors are one ``ERROR: ...`` line on stderr and exit status 1 (2 for usage
errors, 130 when interrupted); ``--debug`` adds the traceback.
"""

import argparse
import inspect
import json
import logging
import os
import sys
import time
import traceback

import yaml

from heatflow import exception
from heatflow import formatting

LOG = logging.getLogger(__name__)

ENV_DB_URL = "HEATFLOW_DB_URL"
ENV_ZOOKEEPER = "HEATFLOW_ZOOKEEPER"

EVENT_POLL_INTERVAL = 0.2
FOLLOW_POLL_INTERVAL = 0.5


class CommandError(Exception):
    """A user error detected by the command line itself."""


# -- the Orchestrator, opened on demand ---------------------------------------

class Context:
    """What a command works with: the parsed global options, the output
    streams and, opened on first use, the Orchestrator."""

    def __init__(self, args, stdout, stderr):
        self.args = args
        self.out = stdout
        self.err = stderr
        self.fmt = args.format
        self._orch = None
        self.detached = False

    @property
    def plugin_dirs(self):
        return list(self.args.plugin_dir or ()) + \
            list(getattr(self.args, "late_plugin_dir", None) or ())

    def orchestrator(self, starts_operation=False, detach=False):
        """The Orchestrator.  ``starts_operation``: the command changes a
        stack (read-only commands do not resume orphaned operations).
        ``detach``: operations must outlive this process, when the
        Orchestrator supports it (see :attr:`detached`)."""
        if self._orch is None:
            import heatflow
            zookeeper = self.args.zookeeper or None
            kwargs = {"db_url": self.args.db_url, "zookeeper": zookeeper,
                      "plugin_dirs": self.plugin_dirs}
            if self.args.zookeeper_auth:
                kwargs["zookeeper_auth"] = self.args.zookeeper_auth
            if not starts_operation:
                kwargs["resume"] = False
            if zookeeper:
                self.detached = True    # conductors run the operations
            elif detach and _supports_detach(heatflow.Orchestrator):
                kwargs["detach"] = True
                self.detached = True
            try:
                self._orch = heatflow.Orchestrator(**kwargs)
            except Exception as exc:
                if zookeeper and type(exc).__module__.startswith("kazoo"):
                    raise CommandError(
                        "cannot connect to ZooKeeper at %s: %s"
                        % (zookeeper, str(exc) or type(exc).__name__))
                raise
        return self._orch

    def print(self, text=""):
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, data, columns=None):
        self.print(formatting.render(data, self.fmt, columns))

    def note(self, text):
        """A progress line: on stdout in table format, on stderr otherwise
        so that stdout stays one JSON/YAML document."""
        stream = self.out if self.fmt == "table" else self.err
        stream.write(text + "\n")
        stream.flush()

    def close(self):
        if self._orch is not None:
            orch, self._orch = self._orch, None
            orch.close()


def _supports_detach(cls):
    try:
        return "detach" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


# -- reading templates, environments and parameters ---------------------------

def _read_bytes(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise CommandError("cannot read %s %s: %s"
                           % (what, path, exc.strerror or exc))


def _yaml_problem(exc):
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return "%s (line %d, column %d)" % (
            problem, mark.line + 1, mark.column + 1)
    return problem


def parse_parameters(items):
    """``["k=v", ...]`` -> ``{"k": "v"}``; values stay strings."""
    params = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CommandError("malformed parameter %r: expected KEY=VALUE"
                               % (item,))
        params[key.strip()] = value
    return params


def load_environments(paths):
    """The environment files merged as Heat merges them (later files
    win)."""
    from heatflow.environment import Environment
    envs = []
    for path in paths or ():
        data = _read_bytes(path, "environment file")
        try:
            envs.append(Environment.load(data, where=None))
        except exception.StackValidationFailed as exc:
            raise CommandError("environment file %s: %s" % (path, exc))
    return Environment.merge(envs)


def find_get_files(data, path=()):
    """``[(path, file_name)]`` for every ``{get_file: name}`` in ``data``."""
    found = []
    if isinstance(data, dict):
        if len(data) == 1 and "get_file" in data and \
                isinstance(data["get_file"], str):
            found.append((path + ("get_file",), data["get_file"]))
        else:
            for key, value in data.items():
                found += find_get_files(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += find_get_files(value, path + (i,))
    return found


def collect_files(raw, template_path):
    """The files map for ``get_file``: each referenced file read relative to
    the template's directory, keyed by the name used in the template."""
    base = os.path.dirname(os.path.abspath(template_path))
    files = {}
    for path, name in find_get_files(raw):
        if name in files:
            continue
        where = exception.format_path(path)
        if "://" in name or os.path.isabs(name):
            raise CommandError(
                "%s: %r refused: get_file takes a path relative to the "
                "template's directory" % (where, name))
        rel = os.path.normpath(name)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise CommandError("%s: %r refused: it is outside the template's "
                               "directory" % (where, name))
        data = _read_bytes(os.path.join(base, rel), "file")
        try:
            files[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError("%s: %r is not UTF-8 text" % (where, name))
    return files


class Inputs:
    """A template file (optional for ``update --existing``), its files map,
    the merged environment files (``-e``) and the ``--parameter`` values
    (which win over the environment's)."""

    def __init__(self, template_path, env_paths, parameter_items):
        from heatflow.template import Template
        self.template_source = None
        self.template = None
        self.files = None
        self.parameters = parse_parameters(parameter_items)
        self.environment = load_environments(env_paths)
        if template_path is not None:
            self.template_source = _read_bytes(template_path,
                                               "template file")
            self.template = Template.load(self.template_source)
            self.files = collect_files(self.template.to_dict(),
                                       template_path)
            self.template = Template.load(self.template_source,
                                          files=self.files)

    def bind(self, registry, **names):
        """The template bound to the environment and parameters, checked
        against ``registry`` seen through the environment's aliases."""
        registry = self.environment.registry(registry)
        values = self.environment.parameter_values(
            self.template.parameter_schemas, self.parameters)
        return self.template.bind(values, registry=registry, **names)

    def operation_args(self):
        """Keyword arguments for the Orchestrator's create, update and
        preview calls."""
        return {"parameters": self.parameters, "files": self.files,
                "environment": self.environment}


# -- operations and views -----------------------------------------------------

def show_stack(ctx, stack):
    rec = formatting.stack_record(stack)
    ctx.show(rec, formatting.STACK_SHOW_FIELDS)


def _last_event_id(orch, name):
    events = orch.list_events(name)
    return events[-1].id if events else 0


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class ProgressBar:
    """A line at the bottom of a terminal, redrawn in place: resources
    done / total and the time elapsed (``formatting.progress_line``).

    Done means converged to the operation's template (its row records
    that template and is COMPLETE); for a delete, gone."""

    CLEAR = "\r\x1b[K"

    def __init__(self, stream, orch, stack_id, action, started=None):
        self.stream = stream
        self.orch = orch
        self.stack_id = stack_id
        self.action = action
        self.started = time.monotonic() if started is None else started
        self.total = None
        self.done = 0
        self.shown = False
        self._names = None      # (template id, its resource names)

    def counts(self):
        from heatflow import preview
        store = self.orch.db.store
        try:
            row = store.get_stack_by_id(self.stack_id)
        except exception.NotFound:
            row = None
        rows = store.list_resources(self.stack_id)
        if row is None or self.action == "DELETE":
            alive = {r.name for r in rows
                     if not (r.action == "DELETE" and
                             r.status == "COMPLETE")}
            if self.total is None:
                self.total = len(alive)
            return max(0, self.total - len(alive)), self.total
        names = []
        if row.template_id is not None:
            if self._names is None or self._names[0] != row.template_id:
                self._names = (row.template_id, list(
                    current_definition(self.orch, row).resources))
            names = self._names[1]
        chosen = preview.choose_rows(rows, names, row.template_id)
        done = sum(1 for r in chosen.values()
                   if r.status == "COMPLETE" and r.action != "INIT" and
                   r.template_id == row.template_id)
        return done, len(names)

    def line(self):
        return formatting.progress_line(
            self.action, self.done, self.total or 0,
            time.monotonic() - self.started)

    def update(self):
        try:
            self.done, self.total = self.counts()
        except Exception:
            LOG.debug("progress: cannot count resources", exc_info=True)
        self.draw()

    def draw(self):
        self.stream.write(self.CLEAR + self.line())
        self.stream.flush()
        self.shown = True

    def clear(self):
        if self.shown:
            self.stream.write(self.CLEAR)
            self.stream.flush()
            self.shown = False

    def finish(self):
        """Leave the last state of the bar on its own line."""
        self.update()
        self.stream.write("\n")
        self.stream.flush()
        self.shown = False


def current_definition(orch, row):
    """The stack's current template bound to its parameters, for reading
    its resources and dependencies (no plugin classes needed)."""
    from heatflow.template import Template
    tmpl_row = orch.db.store.get_template(row.template_id)
    params = (tmpl_row.environment or {}).get("parameters") or {}
    return Template.from_dict(tmpl_row.content, files=tmpl_row.files).bind(
        params, stack_name=row.name, stack_id=row.id)


def follow(ctx, orch, op, name, after):
    """Wait for ``op``, printing the stack's events as they happen; the
    final stack view.  On a terminal (table format) a progress bar is
    redrawn under the events."""
    visible = True
    finished = False
    stack = None
    bar = None
    if ctx.fmt == "table" and _is_terminal(ctx.out):
        bar = ProgressBar(ctx.out, orch, op.stack_id, op.action)
    try:
        while True:
            if visible:
                try:
                    events = orch.list_events(name, after=after)
                except exception.StackNotFound:
                    events = []
                    visible = False     # deleted: its events went with it
                if events and bar is not None:
                    bar.clear()
                for event in events:
                    ctx.note(formatting.event_line(event))
                    after = event.id
            if finished:
                if bar is not None:
                    bar.finish()
                return stack
            if bar is not None:
                bar.update()
            try:
                stack = op.wait(timeout=EVENT_POLL_INTERVAL)
                finished = True
            except exception.OperationTimeout:
                pass
    finally:
        if bar is not None:
            bar.clear()


def _wanted(action, stack):
    return stack.action == action and stack.status == "COMPLETE"


def _finish_operation(ctx, orch, op, name, after, wait):
    """After starting an operation: follow it (``--wait``) or report it
    started.  The exit status."""
    if wait:
        stack = follow(ctx, orch, op, name, after)
        show_stack(ctx, stack)
        if _wanted(op.action, stack):
            return 0
        ctx.err.write("ERROR: stack %s %s: %s\n"
                      % (stack.name, stack.stack_status,
                         stack.status_reason))
        return 1
    show_stack(ctx, orch.get_stack(name))
    if not ctx.detached:
        # No detached worker: the operation runs in this process, so it
        # must settle before the process exits.
        LOG.debug("Orchestrator has no detach option; waiting for the "
                  "operation to finish")
        op.wait()
    return 0


def show_plan(ctx, plan):
    ctx.show([{k: entry[k] for k in formatting.PLAN_COLUMNS}
              for entry in plan], formatting.PLAN_COLUMNS)
    if ctx.fmt == "table":
        ctx.print("Dry run: nothing was changed.")
    return 0


def cmd_stack_create(ctx, args):
    inputs = Inputs(args.template, args.environment, args.parameter)
    if args.dry_run:
        plan = ctx.orchestrator().preview_create(
            args.name, inputs.template_source, **inputs.operation_args())
        return show_plan(ctx, plan)
    orch = ctx.orchestrator(starts_operation=True, detach=not args.wait)
    op = orch.create_stack(
        args.name, inputs.template_source, timeout_mins=args.timeout,
        disable_rollback=not args.enable_rollback,
        **inputs.operation_args())
    return _finish_operation(ctx, orch, op, args.name, 0, args.wait)


def cmd_stack_update(ctx, args):
    if args.template is None and not args.existing:
        raise CommandError("stack update needs -t/--template FILE "
                           "(or --existing to keep the current template)")
    inputs = Inputs(args.template, args.environment, args.parameter)
    if args.dry_run:
        orch = ctx.orchestrator()
    else:
        orch = ctx.orchestrator(starts_operation=True,
                                detach=not args.wait)
    if args.dry_run:
        plan = orch.preview_update(
            args.name, inputs.template_source, existing=args.existing,
            **inputs.operation_args())
        return show_plan(ctx, plan)
    after = _last_event_id(orch, args.name)
    op = orch.update_stack(
        args.name, inputs.template_source, existing=args.existing,
        timeout_mins=args.timeout, **inputs.operation_args())
    return _finish_operation(ctx, orch, op, args.name, after, args.wait)


def cmd_stack_rollback(ctx, args):
    orch = ctx.orchestrator(starts_operation=True, detach=not args.wait)
    after = _last_event_id(orch, args.name)
    op = orch.rollback_stack(args.name)
    return _finish_operation(ctx, orch, op, args.name, after, args.wait)


def cmd_stack_cancel(ctx, args):
    orch = ctx.orchestrator(starts_operation=True, detach=not args.wait)
    after = _last_event_id(orch, args.name)
    op = orch.cancel_update(args.name, rollback=not args.no_rollback)
    if args.no_rollback:
        # The stack ends <ACTION>_FAILED: that is what was asked for.
        stack = follow(ctx, orch, op, args.name, after) if args.wait \
            else orch.get_stack(args.name)
        show_stack(ctx, stack)
        return 0
    return _finish_operation(ctx, orch, op, args.name, after, args.wait)


def cmd_conductor(ctx, args):
    from heatflow import conductor
    if not ctx.args.zookeeper:
        raise CommandError("a conductor needs ZooKeeper: --zookeeper HOSTS "
                           "or HEATFLOW_ZOOKEEPER")
    cond = conductor.Conductor(
        ctx.args.db_url, ctx.args.zookeeper,
        zookeeper_auth=ctx.args.zookeeper_auth, name=args.name,
        workers=args.workers, plugin_dirs=ctx.plugin_dirs,
        session_timeout=args.session_timeout,
        watchdog_interval=args.watchdog_interval)
    # An operator reads a conductor's log: say which job and which stack.
    logging.getLogger("heatflow").setLevel(
        logging.DEBUG if ctx.args.debug else logging.INFO)
    ctx.note("conductor %s running (stop with SIGTERM)" % cond.name)
    return conductor.serve(cond)


def _confirm(ctx, question):
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        return True
    ctx.err.write(question + " [y/N]? ")
    ctx.err.flush()
    answer = stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def cmd_stack_delete(ctx, args):
    if not args.yes and not _confirm(
            ctx, "Are you sure you want to delete this stack(s)"):
        ctx.err.write("Stack delete cancelled.\n")
        return 1
    orch = ctx.orchestrator(starts_operation=True, detach=not args.wait)
    started = []
    status = 0
    for name in args.names:
        try:
            after = _last_event_id(orch, name) if args.wait else 0
            started.append((name, after, orch.delete_stack(name)))
        except exception.HeatflowError as exc:
            if len(args.names) == 1:
                raise
            # the other stacks are still deleted
            ctx.err.write("ERROR: %s\n" % (exc,))
            status = 1
    for name, after, op in started:
        if not args.wait:
            if not ctx.detached:
                op.wait()
            continue
        stack = follow(ctx, orch, op, name, after)
        if _wanted("DELETE", stack):
            ctx.print("Stack %s DELETE_COMPLETE" % name)
        else:
            ctx.err.write("ERROR: stack %s %s: %s\n"
                          % (name, stack.stack_status, stack.status_reason))
            status = 1
    return status


def cmd_stack_list(ctx, args):
    stacks = ctx.orchestrator().list_stacks()
    ctx.show([formatting.stack_record(s, full=False) for s in stacks],
             formatting.STACK_LIST_COLUMNS)
    return 0


def cmd_stack_show(ctx, args):
    show_stack(ctx, ctx.orchestrator().get_stack(args.name))
    return 0


def cmd_output_list(ctx, args):
    stack = ctx.orchestrator().get_stack(args.name)
    ctx.show([{"output_key": o.key, "description": o.description}
              for o in stack.output_details],
             ["output_key", "description"])
    return 0


def cmd_output_show(ctx, args):
    if args.output is None and not args.all:
        raise CommandError("give an OUTPUT name or --all")
    if args.output is not None and args.all:
        raise CommandError("give either an OUTPUT name or --all, not both")
    stack = ctx.orchestrator().get_stack(args.name)
    records = [formatting.output_record(o) for o in stack.output_details]
    if args.all:
        ctx.show(records, ["output_key", "output_value", "description"])
        return 0
    for rec in records:
        if rec["output_key"] == args.output:
            ctx.show(rec)
            return 0
    raise exception.NotFound("Output %r not found in stack %r"
                             % (args.output, args.name))


def waiting_records(orch, name):
    """What each started (IN_PROGRESS) or pending resource of the stack's
    current operation waits for: the resources it depends on (in the
    stack's current template) that have not converged to that template
    (COMPLETE) yet.  Pending: not started yet (INIT), or, while the stack
    is IN_PROGRESS, not converged to its template."""
    from heatflow import preview
    store = orch.db.store
    row = store.find_stack(name)
    rows = store.list_resources(row.id)
    if row.template_id is None:
        return []
    stack_def = current_definition(orch, row)
    deps = stack_def.dependencies()
    chosen = preview.choose_rows(rows, list(stack_def.resources),
                                 row.template_id)

    def converged(res):
        r = chosen.get(res)
        return r is not None and r.status == "COMPLETE" and \
            r.action != "INIT" and r.template_id == row.template_id

    out = []
    for res, defn in stack_def.resources.items():
        r = chosen.get(res)
        if r is None:
            continue
        running = r.status == "IN_PROGRESS"
        pending = r.action == "INIT" or (
            row.status == "IN_PROGRESS" and not converged(res))
        if not (running or pending):
            continue
        blockers = [d for d in stack_def.resources
                    if d in deps.get(res, ()) and not converged(d)]
        out.append({"name": res, "type": r.type,
                    "resource_status": "%s_%s" % (r.action, r.status),
                    "waiting_on": "(running)" if running and not blockers
                    else ", ".join(blockers)})
    return out


def cmd_resource_list(ctx, args):
    if args.waiting:
        ctx.show(waiting_records(ctx.orchestrator(), args.name),
                 formatting.WAITING_COLUMNS)
        return 0
    resources = ctx.orchestrator().list_resources(args.name)
    ctx.show([formatting.resource_record(r) for r in resources],
             formatting.RESOURCE_LIST_COLUMNS)
    return 0


def cmd_resource_show(ctx, args):
    for res in ctx.orchestrator().list_resources(args.name):
        if res.name == args.resource:
            ctx.show(formatting.resource_record(res))
            return 0
    raise exception.ResourceNotFound(args.name, args.resource)


def _event_text(ctx, event):
    if ctx.fmt == "table":
        return formatting.event_line(event)
    if ctx.fmt == "json":
        # one JSON document per line
        return json.dumps(formatting._plain(formatting.event_record(event)),
                          ensure_ascii=False)
    text = formatting.render(formatting.event_record(event), "yaml")
    return "---\n" + text


def follow_events(ctx, orch, name, interval=None):
    """Print the stack's events, then new ones as they happen, until the
    stack is no longer IN_PROGRESS (or is deleted)."""
    interval = FOLLOW_POLL_INTERVAL if interval is None else interval
    after = 0
    first = True
    while True:
        try:
            # status first: the events of the change that settles the
            # stack are written with it, so the next read has them all
            settled = orch.get_stack(name).status != "IN_PROGRESS"
            events = orch.list_events(name, after=after)
        except exception.StackNotFound:
            if first:
                raise
            return 0
        first = False
        for event in events:
            ctx.print(_event_text(ctx, event))
            after = event.id
        if settled:
            return 0
        time.sleep(interval)


def cmd_event_list(ctx, args):
    if args.follow:
        try:
            return follow_events(ctx, ctx.orchestrator(), args.name)
        except KeyboardInterrupt:
            return 130
    events = ctx.orchestrator().list_events(args.name)
    ctx.show([formatting.event_record(e) for e in events],
             formatting.EVENT_LIST_COLUMNS)
    return 0


def cmd_template_validate(ctx, args):
    from heatflow import registry
    inputs = Inputs(args.template, args.environment, args.parameter)
    reg = registry.Registry.default(plugin_dirs=ctx.plugin_dirs)
    tmpl = inputs.template
    stack_def = inputs.bind(reg)
    stack_def.validate(stack_def.registry)
    for warning in tmpl.warnings:  # valid, but probably not what was meant
        ctx.err.write("WARNING: %s\n" % warning)
    if ctx.fmt == "table":
        ctx.print("Template is valid.")
        return 0
    params = {}
    for name, schema in tmpl.parameter_schemas.items():
        info = {"Type": schema.type, "Label": schema.label or name,
                "Description": schema.description or "",
                "NoEcho": "true" if schema.hidden else "false"}
        if schema.has_default:
            info["Default"] = "******" if schema.hidden else schema.default
        params[name] = info
    ctx.show({"Description": tmpl.description, "Parameters": params})
    return 0


def cmd_template_graph(ctx, args):
    from heatflow import graph
    from heatflow import preview
    from heatflow import registry
    if args.template is None and args.stack is None:
        raise CommandError("template graph needs -t/--template FILE (or "
                           "--stack NAME to draw the stack's template)")
    fmt = "dot"
    if args.output is not None:
        try:
            fmt = graph.output_format(args.output)
        except ValueError as exc:
            raise CommandError(str(exc))
    inputs = Inputs(args.template, args.environment, args.parameter)
    statuses = None
    title = "stack"
    if args.stack is not None:
        orch = ctx.orchestrator()
        store = orch.db.store
        row = store.find_stack(args.stack)
        title = row.name
        if inputs.template is not None:
            stack_def = inputs.bind(orch.registry, stack_name=row.name,
                                    stack_id=row.id)
        elif row.template_id is not None:
            stack_def = orch.runtime.definition(row.template_id, row.name,
                                                row.id)
        else:
            raise CommandError("stack %s has no template to draw; give "
                               "-t FILE" % row.name)
        chosen = preview.choose_rows(store.list_resources(row.id),
                                     list(stack_def.resources),
                                     row.template_id)
        statuses = {n: (r.action, r.status) for n, r in chosen.items()}
    else:
        reg = registry.Registry.default(plugin_dirs=ctx.plugin_dirs)
        stack_def = inputs.bind(reg)
    text = graph.to_dot(stack_def, statuses, name=title)
    if args.output is None:
        ctx.out.write(text)
        ctx.out.flush()
        return 0
    data = graph.render(text, fmt)
    try:
        with open(args.output, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise CommandError("cannot write %s: %s"
                           % (args.output, exc.strerror or exc))
    ctx.note("Graph written to %s (%s)." % (args.output, fmt.upper()))
    return 0


def cmd_db_upgrade(ctx, args):
    from heatflow.persistence import database
    url = args.db_url or database.default_url()
    db = database.Database(url, upgrade=False)
    try:
        db.upgrade()
    finally:
        db.close()
    ctx.print("Database %s is up to date." % database.safe_url(url))
    return 0


def cmd_db_generate_key(ctx, args):
    from heatflow.persistence import sealing
    # the key alone on stdout (KEY=$(heatflow db generate-key)); the
    # advice on stderr
    ctx.out.write(sealing.generate_key() + "\n")
    ctx.err.write("Set it as %s for every heatflow process using the "
                  "database, and keep a copy: without it encrypted stacks "
                  "cannot be read.\n" % sealing.ENV_KEY)
    return 0


# -- the parser ---------------------------------------------------------------

def _add_global_options(parser, late=False):
    """The global options; ``late``: the copies accepted after the command,
    which leave the values given before it alone unless repeated."""
    default = argparse.SUPPRESS if late else None
    parser.add_argument(
        "--db-url", metavar="URL", default=default,
        help="SQLAlchemy database URL (env %s; default: a SQLite file "
             "./.heatflow/heatflow.db)" % ENV_DB_URL)
    parser.add_argument(
        "--zookeeper", metavar="HOSTS", default=default,
        help="ZooKeeper hosts for distributed execution (env %s)"
             % ENV_ZOOKEEPER)
    parser.add_argument(
        "--zookeeper-auth", metavar="USER:PASSWORD", default=default,
        help="ZooKeeper digest credentials; heatflow's znodes get an ACL "
             "for this user only (env HEATFLOW_ZOOKEEPER_AUTH)")
    parser.add_argument(
        "--plugin-dir", metavar="DIR", action="append",
        dest="late_plugin_dir" if late else "plugin_dir",
        default=default,
        help="directory of resource plugin modules (repeatable; env "
             "HEATFLOW_PLUGIN_DIRS, colon-separated)")
    parser.add_argument(
        "-f", "--format", choices=formatting.FORMATS,
        default=default if late else "table",
        help="output format (default: table)")
    parser.add_argument(
        "--debug", action="store_true",
        default=default if late else False,
        help="show tracebacks and debug logging")


def _template_options(parser, required=True):
    parser.add_argument("-t", "--template", metavar="FILE",
                        required=required, help="HOT template file")
    parser.add_argument("-e", "--environment", metavar="ENV",
                        action="append", default=[],
                        help="environment file (repeatable; later files "
                             "win)")
    parser.add_argument("--parameter", metavar="KEY=VALUE", action="append",
                        default=[],
                        help="template parameter (repeatable; wins over "
                             "environment files)")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an integer" % (text,))
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of "
                                         "minutes")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="heatflow",
        description="Create, update and delete stacks of resources described "
                    "by HOT templates.")
    _add_global_options(parser)
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")
    groups.required = True

    def group(subparsers, name, help):
        p = subparsers.add_parser(name, help=help, description=help)
        sub = p.add_subparsers(dest=name + "_command", metavar="COMMAND")
        sub.required = True
        return sub

    def command(subparsers, name, func, help):
        p = subparsers.add_parser(name, help=help, description=help)
        _add_global_options(p.add_argument_group("global options"),
                            late=True)
        p.set_defaults(func=func)
        return p

    stack = group(groups, "stack", "stacks")

    p = command(stack, "create", cmd_stack_create, "create a stack")
    p.add_argument("name", metavar="NAME")
    _template_options(p)
    p.add_argument("--timeout", metavar="MIN", type=_positive_int,
                   help="stack operation timeout in minutes")
    p.add_argument("--enable-rollback", action="store_true",
                   help="roll back if the create fails")
    p.add_argument("--wait", action="store_true",
                   help="wait for the create to finish, showing events")
    p.add_argument("--dry-run", action="store_true",
                   help="show what the create would do; change nothing")

    p = command(stack, "update", cmd_stack_update, "update a stack")
    p.add_argument("name", metavar="NAME")
    _template_options(p, required=False)
    p.add_argument("--existing", action="store_true",
                   help="start from the current template and parameters")
    p.add_argument("--timeout", metavar="MIN", type=_positive_int,
                   help="stack operation timeout in minutes")
    p.add_argument("--wait", action="store_true",
                   help="wait for the update to finish, showing events")
    p.add_argument("--dry-run", action="store_true",
                   help="show what the update would do (create, update, "
                        "replace, delete, unchanged); change nothing")

    p = command(stack, "delete", cmd_stack_delete, "delete stacks")
    p.add_argument("names", metavar="NAME", nargs="+")
    p.add_argument("--wait", action="store_true",
                   help="wait for the delete to finish, showing events")
    p.add_argument("-y", "--yes", action="store_true",
                   help="do not ask for confirmation")

    p = command(stack, "rollback", cmd_stack_rollback,
                "roll a stack back to its last known-good state")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--wait", action="store_true",
                   help="wait for the rollback to finish, showing events")

    p = command(stack, "cancel", cmd_stack_cancel,
                "cancel a stack's running create or update")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--no-rollback", action="store_true",
                   help="leave the stack FAILED instead of rolling back")
    p.add_argument("--wait", action="store_true",
                   help="wait until the stack settles, showing events")

    command(stack, "list", cmd_stack_list, "list stacks")

    p = command(stack, "show", cmd_stack_show, "show a stack")
    p.add_argument("name", metavar="NAME")

    output = group(stack, "output", "stack outputs")
    p = command(output, "list", cmd_output_list, "list a stack's outputs")
    p.add_argument("name", metavar="NAME")
    p = command(output, "show", cmd_output_show, "show stack outputs")
    p.add_argument("name", metavar="NAME")
    p.add_argument("output", metavar="OUTPUT", nargs="?")
    p.add_argument("--all", action="store_true", help="show all outputs")

    resource = group(stack, "resource", "stack resources")
    p = command(resource, "list", cmd_resource_list,
                "list a stack's resources")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--waiting", action="store_true",
                   help="only the running and pending resources, with the "
                        "resources each waits for")
    p = command(resource, "show", cmd_resource_show, "show a resource")
    p.add_argument("name", metavar="NAME")
    p.add_argument("resource", metavar="RESOURCE")

    event = group(stack, "event", "stack events")
    p = command(event, "list", cmd_event_list, "list a stack's events")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--follow", action="store_true",
                   help="keep printing new events until the stack is no "
                        "longer IN_PROGRESS")

    template = group(groups, "template", "templates")
    p = command(template, "validate", cmd_template_validate,
                "validate a template")
    _template_options(p)
    p = command(template, "graph", cmd_template_graph,
                "draw a template's dependency graph (DOT, SVG or PNG)")
    _template_options(p, required=False)
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE; .dot/.gv, .svg or .png chooses the "
                        "format (SVG and PNG need Graphviz's dot); "
                        "default: DOT on stdout")
    p.add_argument("--stack", metavar="NAME",
                   help="colour resources by this stack's recorded status "
                        "(its current template unless -t is given)")

    db = group(groups, "db", "the database")
    command(db, "upgrade", cmd_db_upgrade,
            "create or upgrade the database tables")
    command(db, "generate-key", cmd_db_generate_key,
            "print a new key for encrypting values at rest "
            "(HEATFLOW_ENCRYPTION_KEY)")
    p = command(groups, "conductor", cmd_conductor,
                "run a conductor: claim stack operations from ZooKeeper "
                "and run them")
    p.add_argument("--name", help="a unique name (default: host, pid and "
                   "a random part)")
    p.add_argument("--workers", type=int, default=4, metavar="N",
                   help="operations run at the same time (default 4)")
    p.add_argument("--session-timeout", type=float, default=10.0,
                   metavar="S", help="ZooKeeper session timeout: how soon "
                   "another conductor takes over if this one dies "
                   "(default 10 s)")
    p.add_argument("--watchdog-interval", type=float, default=1.0,
                   metavar="S", help=argparse.SUPPRESS)

    return parser


# -- running ------------------------------------------------------------------

# Libraries whose log lines are noise to a command line user.  TaskFlow logs
# a failed flow (a resource failure, which the events already show) at
# ERROR with a traceback; kazoo warns on every failed connection attempt
# before the one error line says it could not connect.
QUIET_LOGGERS = {"alembic": logging.WARNING, "stevedore": logging.WARNING,
                 "kazoo": logging.ERROR, "taskflow": logging.CRITICAL}


def _setup_logging(debug):
    """Quiet logging on stderr (everything with ``debug``); returns a
    function that puts the previous configuration back, for callers that
    run :func:`main` in their own process."""
    root = logging.getLogger()
    names = [None] + list(QUIET_LOGGERS)
    saved = {name: logging.getLogger(name).level for name in names}
    handler = None
    if not root.handlers:
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
    restore_logging = _setup_logging(args.debug)
    try:
        return _run(args, Context(args, stdout, stderr))
    finally:
        restore_logging()


def _run(args, ctx):
    stderr = ctx.err
    try:
        try:
            return args.func(ctx, args)
        finally:
            ctx.close()
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


if __name__ == "__main__":
    sys.exit(main())
