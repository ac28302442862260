"""The commands that read stacks: ``stack list``, ``show``, ``output``,
``resource`` and ``event`` (with ``--follow``)."""

import json
import time

from heatflow import exception
from heatflow.cli import output
from heatflow.cli.context import CommandError
from heatflow.cli.operations import OrphanWatch, show_stack

FOLLOW_POLL_INTERVAL = 0.5


def cmd_stack_list(ctx, args):
    stacks = ctx.orchestrator().list_stacks(nested=args.nested)
    columns = list(output.STACK_LIST_COLUMNS)
    records = [output.stack_record(s, full=False) for s in stacks]
    if args.nested:
        # openstack stack list --nested's column: the parent's id.
        columns.append("parent")
        for rec, stack in zip(records, stacks):
            rec["parent"] = stack.parent
    ctx.show(records, columns)
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
    records = [output.output_record(o) for o in stack.output_details]
    if args.all:
        ctx.show(records, ["output_key", "output_value", "description"])
        return 0
    for rec in records:
        if rec["output_key"] == args.output:
            ctx.show(rec)
            return 0
    raise exception.NotFound("Output %r not found in stack %r"
                             % (args.output, args.name))


def cmd_template_show(ctx, args):
    # A template reads best as YAML; the table format has no other use
    # for one document.
    stack = ctx.orchestrator().get_stack(args.name)
    ctx.print(output.render(stack.template,
                            "yaml" if ctx.fmt == "table" else ctx.fmt))
    return 0


def cmd_environment_show(ctx, args):
    stack = ctx.orchestrator().get_stack(args.name)
    ctx.print(output.render(stack.environment,
                            "yaml" if ctx.fmt == "table" else ctx.fmt))
    return 0


def cmd_resource_list(ctx, args):
    if args.waiting:
        waiting = ctx.orchestrator().waiting_on(args.name)
        ctx.show([output.waiting_record(w) for w in waiting],
                 output.WAITING_COLUMNS)
        return 0
    resources = ctx.orchestrator().list_resources(
        args.name, nested_depth=args.nested_depth)
    ctx.show([output.resource_record(r) for r in resources],
             _with_stack(output.RESOURCE_LIST_COLUMNS, args))
    return 0


def _with_stack(columns, args):
    """``columns``, and the stack each row is of when nested stacks are
    listed too (``openstack stack resource list``'s stack_name)."""
    return list(columns) + (["stack_name"] if args.nested_depth else [])


def cmd_resource_show(ctx, args):
    res = ctx.orchestrator().get_resource(args.name, args.resource)
    ctx.show(output.resource_record(res))
    return 0


def _event_text(ctx, event):
    if ctx.fmt == "table":
        return output.event_line(event)
    if ctx.fmt == "json":
        # one JSON document per line
        return json.dumps(output.plain(output.event_record(event)),
                          ensure_ascii=False)
    text = output.render(output.event_record(event), "yaml")
    return "---\n" + text


def follow_events(ctx, orch, name, interval=None, nested_depth=0):
    """Print the stack's events (and its nested stacks' down to
    ``nested_depth``), then new ones as they happen, until the stack is no
    longer IN_PROGRESS (or is deleted)."""
    interval = FOLLOW_POLL_INTERVAL if interval is None else interval
    after = 0
    first = True
    watch = None
    while True:
        try:
            # status first: the events of the change that settles the
            # stack are written with it, so the next read has them all
            settled = orch.get_stack(name).status != "IN_PROGRESS"
            events = orch.list_events(name, after=after,
                                      nested_depth=nested_depth)
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
        if watch is None or watch.op.done():
            # the operation in progress now (a newer one may follow)
            watch = OrphanWatch(orch.operation(name), name)
        watch.check()
        time.sleep(interval)


def cmd_event_list(ctx, args):
    if args.follow:
        try:
            return follow_events(ctx, ctx.orchestrator(), args.name,
                                 nested_depth=args.nested_depth)
        except KeyboardInterrupt:
            return 130
    events = ctx.orchestrator().list_events(args.name,
                                            nested_depth=args.nested_depth)
    ctx.show([output.event_record(e) for e in events],
             _with_stack(output.EVENT_LIST_COLUMNS, args))
    return 0
