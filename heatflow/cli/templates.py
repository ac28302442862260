"""The commands on a template and what it may use: ``template validate``,
``template graph`` and ``resource type list/show``.  None opens the
database unless ``graph --stack`` asks for a stack."""

import heatflow
from heatflow.cli import graph
from heatflow.cli import output
from heatflow.cli.context import CommandError
from heatflow.cli.inputs import Inputs


def cmd_template_validate(ctx, args):
    inputs = Inputs(args.template, args.environment, args.parameter)
    info = heatflow.validate_template(
        inputs.template_source, plugin_dirs=ctx.plugin_dirs,
        **inputs.operation_args())
    for warning in info.pop("Warnings", ()):
        # valid, but probably not what was meant
        ctx.err.write("WARNING: %s\n" % warning)
    if ctx.fmt == "table":
        ctx.print("Template is valid.")
        return 0
    ctx.show(info)
    return 0


def cmd_template_graph(ctx, args):
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
    if args.stack is not None:
        orch = ctx.orchestrator()
        if inputs.template_source is None:
            stack = orch.get_stack(args.stack)
            if not stack.template:
                raise CommandError("stack %s has no template to draw; give "
                                   "-t FILE" % stack.name)
        drawing = orch.stack_graph(args.stack, inputs.template_source,
                                   **inputs.operation_args())
    else:
        drawing = heatflow.dependency_graph(
            inputs.template_source, plugin_dirs=ctx.plugin_dirs,
            **inputs.operation_args())
    text = graph.to_dot(drawing)
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


def cmd_resource_type_list(ctx, args):
    types = heatflow.resource_types(plugin_dirs=ctx.plugin_dirs,
                                    with_description=args.long)
    if args.long:
        ctx.show(types, ["resource_type", "description"])
    else:
        ctx.show([{"resource_type": t} for t in types], ["resource_type"])
    return 0


def cmd_resource_type_show(ctx, args):
    schema = heatflow.resource_type_schema(args.type_name,
                                           plugin_dirs=ctx.plugin_dirs)
    # nested schemas read best as YAML, as the openstack client prints them
    ctx.print(output.render(schema, "yaml" if ctx.fmt == "table"
                            else ctx.fmt))
    return 0
