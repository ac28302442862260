"""The commands that change a stack: ``stack create``, ``update``,
``delete``, ``rollback`` and ``cancel``, with their dry runs and ``--wait``
(events as they happen, and a progress bar on a terminal)."""

import logging
import time

from heatflow import exception
from heatflow.cli import output
from heatflow.cli import request_context
from heatflow.cli.context import CommandError, StoppedWaiting, is_terminal
from heatflow.cli.inputs import Inputs

LOG = logging.getLogger(__name__)

EVENT_POLL_INTERVAL = 0.2


def show_stack(ctx, stack):
    fields = output.STACK_SHOW_FIELDS
    if stack.parent is not None:
        fields = fields + ["parent", "parent_resource"]
    ctx.show(output.stack_record(stack), fields)


def _last_event_id(orch, name):
    events = orch.list_events(name)
    return events[-1].id if events else 0


class ProgressBar:
    """A line at the bottom of a terminal, redrawn in place: resources
    done / total (``Operation.progress()``) and the time elapsed."""

    CLEAR = "\r\x1b[K"

    def __init__(self, stream, op, started=None):
        self.stream = stream
        self.op = op
        self.started = time.monotonic() if started is None else started
        self.total = None
        self.done = 0
        self.shown = False

    def line(self):
        return output.progress_line(
            self.op.action, self.done, self.total or 0,
            time.monotonic() - self.started)

    def update(self):
        try:
            progress = self.op.progress()
            self.done, self.total = progress.done, progress.total
        except Exception:
            # a bar that stops moving is better than a failed --wait
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


def follow(ctx, orch, op, name, after):
    """Wait for ``op``, printing the stack's events as they happen; the
    final stack view.  On a terminal (table format) a progress bar is
    redrawn under the events.  Ctrl-C stops the waiting, not the
    operation (:class:`StoppedWaiting`); an operation nobody runs any
    more is a :class:`CommandError` saying how to continue it."""
    visible = True
    finished = False
    stack = None
    bar = None
    orphan = OrphanWatch(op, name)
    if ctx.fmt == "table" and is_terminal(ctx.out):
        bar = ProgressBar(ctx.out, op)
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
                    ctx.note(output.event_line(event))
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
                orphan.check()
    except KeyboardInterrupt:
        raise StoppedWaiting(
            "Stopped waiting: the %s of stack %s goes on; follow it with: "
            "heatflow stack event list %s --follow" % (op.action, name, name)
            if ctx.detached else
            "Interrupted: the %s of stack %s stopped with this process; "
            "continue it with: heatflow stack continue %s"
            % (op.action, name, name)) from None
    finally:
        if bar is not None:
            bar.clear()


class OrphanWatch:
    """Notices, while a command waits, that nobody runs the operation any
    more (the worker running it was killed): asked every ``interval``,
    said after ``grace`` of it (a run being taken over looks abandoned
    for a moment)."""

    def __init__(self, op, name, interval=1.0, grace=3.0):
        self.op, self.name = op, name
        self.interval, self.grace = interval, grace
        self._next = time.monotonic() + interval
        self._since = None

    def check(self):
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.interval
        if not self.op.orphaned():
            self._since = None
            return
        if self._since is None:
            self._since = now
        elif now - self._since >= self.grace:
            raise CommandError(
                "nobody is running the %s of stack %s any more (the process "
                "running it ended); continue it with: heatflow stack "
                "continue %s"
                % (self.op.action, self.name, self.name))


def _wanted(action, stack):
    return stack.action == action and stack.status == "COMPLETE"


def _finish_operation(ctx, orch, op, name, after, wait):
    """After starting an operation: follow it (``--wait``) or report it
    started.  The exit status."""
    if wait:
        stack = follow(ctx, orch, op, name, after)
        show_stack(ctx, stack)
        if op.superseded():
            # Not this operation's outcome: say what took over.
            newer = "a newer %s (started %s)" % (
                stack.action, output.iso_time(stack.updated_at))
            state = "is still running; follow it with: heatflow stack " \
                "event list %s --follow" % stack.name \
                if stack.status == "IN_PROGRESS" else \
                "ended %s" % stack.stack_status
            ctx.err.write("ERROR: the %s of stack %s was superseded by %s, "
                          "which %s\n" % (op.action, stack.name, newer, state))
            return 1
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
    ctx.show([{k: entry[k] for k in output.PLAN_COLUMNS}
              for entry in plan], output.PLAN_COLUMNS)
    if ctx.fmt == "table":
        ctx.print("Dry run: nothing was changed.")
    return 0


def cmd_stack_create(ctx, args):
    inputs = Inputs(args.template, args.environment, args.parameter)
    if args.dry_run:
        plan = ctx.orchestrator().preview_create(
            args.name, inputs.template_source, **inputs.operation_args())
        return show_plan(ctx, plan)
    caller = request_context.request_context(args)
    orch = ctx.orchestrator(starts_operation=True, detach=True)
    op = orch.create_stack(
        args.name, inputs.template_source, timeout_mins=args.timeout,
        disable_rollback=not args.enable_rollback, context=caller,
        **inputs.operation_args())
    return _finish_operation(ctx, orch, op, args.name, 0, args.wait)


#: ``stack update --rollback``: what the API's disable_rollback takes
#: (None keeps the stack's setting).
_DISABLE_ROLLBACK = {"enabled": False, "disabled": True, "keep": None}


def cmd_stack_update(ctx, args):
    if args.template is None and not args.existing:
        raise CommandError("stack update needs -t/--template FILE "
                           "(or --existing to keep the current template)")
    inputs = Inputs(args.template, args.environment, args.parameter)
    if args.dry_run:
        plan = ctx.orchestrator().preview_update(
            args.name, inputs.template_source, existing=args.existing,
            **inputs.operation_args())
        return show_plan(ctx, plan)
    caller = request_context.request_context(args)
    orch = ctx.orchestrator(starts_operation=True, detach=True)
    after = _last_event_id(orch, args.name)
    op = orch.update_stack(
        args.name, inputs.template_source, existing=args.existing,
        timeout_mins=args.timeout,
        disable_rollback=_DISABLE_ROLLBACK[args.rollback], context=caller,
        **inputs.operation_args())
    return _finish_operation(ctx, orch, op, args.name, after, args.wait)


def cmd_stack_rollback(ctx, args):
    orch = ctx.orchestrator(starts_operation=True, detach=True)
    after = _last_event_id(orch, args.name)
    op = orch.rollback_stack(args.name)
    return _finish_operation(ctx, orch, op, args.name, after, args.wait)


def cmd_stack_cancel(ctx, args):
    orch = ctx.orchestrator(starts_operation=True, detach=True)
    after = _last_event_id(orch, args.name)
    op = orch.cancel_update(args.name, rollback=not args.no_rollback)
    if args.no_rollback:
        # The stack ends <ACTION>_FAILED: that is what was asked for.
        stack = follow(ctx, orch, op, args.name, after) if args.wait \
            else orch.get_stack(args.name)
        show_stack(ctx, stack)
        return 0
    return _finish_operation(ctx, orch, op, args.name, after, args.wait)


def cmd_stack_delete(ctx, args):
    if not args.yes and not ctx.confirm(
            "Are you sure you want to delete this stack(s)"):
        ctx.err.write("Stack delete cancelled.\n")
        return 1
    caller = request_context.request_context(args)
    orch = ctx.orchestrator(starts_operation=True, detach=True)
    started = []
    status = 0
    for name in args.names:
        try:
            after = _last_event_id(orch, name) if args.wait else 0
            started.append((name, after,
                            orch.delete_stack(name, context=caller)))
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


def _act(ctx, args, method):
    """stack check, suspend, resume: ``method`` of the Orchestrator."""
    orch = ctx.orchestrator(starts_operation=True, detach=True)
    after = _last_event_id(orch, args.name)
    op = getattr(orch, method)(args.name)
    return _finish_operation(ctx, orch, op, args.name, after, args.wait)


def cmd_stack_check(ctx, args):
    return _act(ctx, args, "check_stack")


def cmd_stack_suspend(ctx, args):
    return _act(ctx, args, "suspend_stack")


def cmd_stack_resume(ctx, args):
    return _act(ctx, args, "resume_stack")


def cmd_stack_continue(ctx, args):
    orch = ctx.orchestrator(starts_operation=True, detach=True)
    after = _last_event_id(orch, args.name)
    op = orch.continue_stack(args.name)
    if not args.wait:
        ctx.note("Stack %s: its %s goes on." % (args.name, op.action))
        return 0
    return _finish_operation(ctx, orch, op, args.name, after, True)


def cmd_resource_mark(ctx, args):
    ctx.orchestrator().mark_resource_unhealthy(
        args.name, args.resource, mark_unhealthy=not args.reset,
        reason=args.reason)
    return 0
