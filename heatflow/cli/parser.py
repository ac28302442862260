"""The ``heatflow`` command's arguments: global options (accepted before
the command and after it), the command groups and each command's options.

Each command names its function as ``"module.function"`` in
``heatflow.cli``; :func:`heatflow.cli.main` imports that module only when
the command runs, so ``--help`` and a mistyped command start fast.
"""

import argparse

from heatflow.cli import output
from heatflow.cli import request_context

ENV_DB_URL = "HEATFLOW_DB_URL"
ENV_ZOOKEEPER = "HEATFLOW_ZOOKEEPER"


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
        "-f", "--format", choices=output.FORMATS,
        default=default if late else "table",
        help="output format (default: table)")
    parser.add_argument(
        "--log-format", choices=("text", "json"),
        default=default if late else "text",
        help="log lines as text (default) or one JSON object each, with "
             "the stack, operation and resource they are about")
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


def _flag(parser, *names, help):
    parser.add_argument(*names, action="store_true", help=help)


def _wait_option(parser, action):
    parser.add_argument("--wait", action="store_true",
                        help="wait for the %s to finish, showing events"
                        % action)


def _timeout_option(parser):
    parser.add_argument("--timeout", metavar="MIN", type=_positive_int,
                        help="stack operation timeout in minutes")


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
        # func: "module.function" in heatflow.cli, imported only when its
        # command runs
        p = subparsers.add_parser(name, help=help, description=help)
        _add_global_options(p.add_argument_group("global options"),
                            late=True)
        p.set_defaults(func=func)
        return p

    def stack_command(subparsers, name, func, help):
        """A command on one stack, named by its first argument."""
        p = command(subparsers, name, func, help)
        p.add_argument("name", metavar="NAME")
        return p

    stack = group(groups, "stack", "stacks")

    p = stack_command(stack, "create", "operations.cmd_stack_create",
                      "create a stack")
    _template_options(p)
    _timeout_option(p)
    _flag(p, "--enable-rollback", help="roll back if the create fails")
    _wait_option(p, "create")
    request_context.add_options(p)
    _flag(p, "--dry-run", help="show what the create would do; change nothing")

    p = stack_command(stack, "update", "operations.cmd_stack_update",
                      "update a stack")
    _template_options(p, required=False)
    _flag(p, "--existing",
          help="start from the current template and parameters")
    p.add_argument("--rollback", choices=("enabled", "disabled", "keep"),
                   default="keep",
                   help="roll back if the update fails: enabled, disabled "
                        "or keep the stack's setting (default)")
    _timeout_option(p)
    _wait_option(p, "update")
    _flag(p, "--dry-run",
          help="show what the update would do (create, update, replace, "
               "delete, unchanged); change nothing")
    request_context.add_options(p)

    p = command(stack, "delete", "operations.cmd_stack_delete",
                "delete stacks")
    p.add_argument("names", metavar="NAME", nargs="+")
    _wait_option(p, "delete")
    _flag(p, "-y", "--yes", help="do not ask for confirmation")
    request_context.add_options(p)

    p = stack_command(stack, "rollback", "operations.cmd_stack_rollback",
                      "roll a stack back to its last known-good state")
    _wait_option(p, "rollback")

    p = stack_command(stack, "continue", "operations.cmd_stack_continue",
                      "run a stack's operation again where it stopped, if "
                      "nobody runs it any more (its process died)")
    _wait_option(p, "operation")

    p = stack_command(stack, "check", "operations.cmd_stack_check",
                      "check that a stack's resources are as their plugins "
                      "expect")
    _wait_option(p, "check")

    p = stack_command(stack, "suspend", "operations.cmd_stack_suspend",
                      "suspend a stack")
    _wait_option(p, "suspend")

    p = stack_command(stack, "resume", "operations.cmd_stack_resume",
                      "resume a suspended stack")
    _wait_option(p, "resume")

    p = stack_command(stack, "cancel", "operations.cmd_stack_cancel",
                      "cancel a stack's running create or update")
    _flag(p, "--no-rollback",
          help="leave the stack FAILED instead of rolling back")
    _flag(p, "--wait", help="wait until the stack settles, showing events")

    p = command(stack, "list", "stacks.cmd_stack_list", "list stacks")
    _flag(p, "--nested", help="list nested stacks too, with their parent")

    stack_command(stack, "show", "stacks.cmd_stack_show", "show a stack")

    outputs = group(stack, "output", "stack outputs")
    stack_command(outputs, "list", "stacks.cmd_output_list",
                  "list a stack's outputs")
    p = stack_command(outputs, "show", "stacks.cmd_output_show",
                      "show stack outputs")
    p.add_argument("output", metavar="OUTPUT", nargs="?")
    _flag(p, "--all", help="show all outputs")

    resources = group(stack, "resource", "stack resources")
    p = stack_command(resources, "list", "stacks.cmd_resource_list",
                      "list a stack's resources")
    _flag(p, "--waiting",
          help="only the running and pending resources, with the resources "
               "each waits for")
    _nested_depth_option(p, "resources")
    p = stack_command(resources, "show", "stacks.cmd_resource_show",
                      "show a resource")
    p.add_argument("resource", metavar="RESOURCE")
    mark = group(resources, "mark", "mark a resource")
    p = stack_command(mark, "unhealthy", "operations.cmd_resource_mark",
                      "mark a resource unhealthy (CHECK_FAILED): the next "
                      "update replaces it")
    p.add_argument("resource", metavar="RESOURCE")
    p.add_argument("reason", metavar="REASON", nargs="?",
                   help="why (its status reason)")
    _flag(p, "--reset", help="mark it healthy again (CHECK_COMPLETE)")

    stack_template = group(stack, "template", "a stack's template")
    stack_command(stack_template, "show", "stacks.cmd_template_show",
                  "show the template a stack was last created or updated "
                  "with")
    stack_environment = group(stack, "environment", "a stack's environment")
    stack_command(stack_environment, "show", "stacks.cmd_environment_show",
                  "show the environment a stack was last created or "
                  "updated with (hidden parameters masked)")

    events = group(stack, "event", "stack events")  # Heat's "show": not yet
    p = stack_command(events, "list", "stacks.cmd_event_list",
                      "list a stack's events")
    _flag(p, "--follow",
          help="keep printing new events until the stack is no longer "
               "IN_PROGRESS")
    _nested_depth_option(p, "events")

    template = group(groups, "template", "templates")
    p = command(template, "validate", "templates.cmd_template_validate",
                "validate a template")
    _template_options(p)
    p = command(template, "graph", "templates.cmd_template_graph",
                "draw a template's dependency graph (DOT, SVG or PNG)")
    _template_options(p, required=False)
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE; .dot/.gv, .svg or .png chooses the "
                        "format (SVG and PNG need Graphviz's dot); "
                        "default: DOT on stdout")
    p.add_argument("--stack", metavar="NAME",
                   help="colour resources by this stack's recorded status "
                        "(its current template unless -t is given)")

    resource = group(groups, "resource", "resource types")
    resource_type = group(resource, "type", "the resource types plugins "
                          "provide")
    p = command(resource_type, "list", "templates.cmd_resource_type_list",
                "list the resource types a template may use")
    _flag(p, "--long", help="with each type's description")
    p = command(resource_type, "show", "templates.cmd_resource_type_show",
                "show a resource type's properties, attributes and support "
                "status")
    p.add_argument("type_name", metavar="TYPE")

    db = group(groups, "db", "the database")
    command(db, "upgrade", "admin.cmd_db_upgrade",
            "create or upgrade the database tables")
    command(db, "generate-key", "admin.cmd_db_generate_key",
            "print a new key for encrypting values at rest "
            "(HEATFLOW_ENCRYPTION_KEY)")
    p = command(groups, "conductor", "admin.cmd_conductor",
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
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve Prometheus metrics on this port (needs "
                        "prometheus_client: pip install prometheus-client)")
    p.add_argument("--watchdog-interval", type=float, default=1.0,
                   metavar="S", help=argparse.SUPPRESS)

    return parser


def _nested_depth_option(p, what):
    p.add_argument("--nested-depth", type=_depth, default=0, metavar="N",
                   help="also the %s of nested stacks, N levels down" % what)


def _depth(text):
    try:
        depth = int(text)
    except ValueError:
        depth = -1
    if depth < 0:
        raise argparse.ArgumentTypeError(
            "must be a whole number, 0 or more, not %r" % text)
    return depth
