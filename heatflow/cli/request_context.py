"""Who asks for an operation, on the command line: the request context
(``heatflow.RequestContext``) that ``stack create``, ``update`` and ``delete``
hand to the library, as an OpenStack user gives it to the ``openstack``
client -- ``--os-project-id`` and friends, or their ``OS_*`` environment
variables -- or as a file (``--context FILE``).

The auth token is a secret, and a command line is seen by every user of
the machine (``ps``): it comes from ``OS_TOKEN`` or the file, never from
an option.
"""

import os

import heatflow
from heatflow.cli.context import CommandError

#: (option, context field, environment variables, in the order read).
OPTIONS = (
    ("--os-user-id", "user_id", ("OS_USER_ID",)),
    ("--os-username", "user_name", ("OS_USERNAME",)),
    ("--os-project-id", "project_id", ("OS_PROJECT_ID", "OS_TENANT_ID")),
    ("--os-project-name", "project_name",
     ("OS_PROJECT_NAME", "OS_TENANT_NAME")),
    ("--os-region-name", "region_name", ("OS_REGION_NAME",)),
)
#: Where the auth token may come from besides the file.
TOKEN_ENV = "OS_TOKEN"
#: Options that would put the token on the command line: refused.
TOKEN_OPTIONS = ("--os-token", "--os-auth-token")


def dest(field):
    """The argparse destination of a context field's option."""
    return "os_" + field


def add_options(parser):
    """The context options of a command that starts an operation."""
    group = parser.add_argument_group(
        "request context (what plugins see as self.context)")
    group.add_argument(
        "--context", metavar="FILE", dest="context_file",
        help="a JSON or YAML map of the context's fields (%s); the "
             "options and OS_* variables below win over it"
             % ", ".join(heatflow.RequestContext.FIELDS))
    for option, field, env in OPTIONS:
        group.add_argument(option, metavar="VALUE", dest=dest(field),
                           help="the context's %s (env %s)"
                                % (field, " or ".join(env)))
    # Accepted only to say why not and where the token goes instead.
    group.add_argument(*TOKEN_OPTIONS, dest="os_token_given",
                       metavar="TOKEN", help="refused: the token comes "
                       "from the environment variable %s or the --context "
                       "file" % TOKEN_ENV)


def request_context(args, environ=None):
    """The RequestContext the command's options, the ``OS_*`` variables
    and the ``--context`` file give, in that order of precedence; None
    when none of them says anything.  CommandError names what is wrong
    (before anything is written)."""
    environ = os.environ if environ is None else environ
    if getattr(args, "os_token_given", None) is not None:
        raise CommandError(
            "%s refused: a token on the command line is visible to every "
            "user of this machine; put it in the environment variable %s "
            "or in the --context file" % ("/".join(TOKEN_OPTIONS), TOKEN_ENV))
    fields = {}
    path = getattr(args, "context_file", None)
    if path is not None:
        fields.update(_read_file(path))
    for _, field, env in OPTIONS:
        for name in env:
            if environ.get(name):
                fields[field] = environ[name]
                break
    if environ.get(TOKEN_ENV):
        fields["auth_token"] = environ[TOKEN_ENV]
    for _, field, _ in OPTIONS:
        value = getattr(args, dest(field), None)
        if value is not None:
            fields[field] = value
    if not fields:
        return None
    try:
        return heatflow.RequestContext.coerce(
            fields, where="context file %s" % path if path else "context")
    except TypeError as exc:
        raise CommandError(str(exc))


def _read_file(path):
    import yaml     # (only when a file is given)
    from heatflow.cli import inputs
    data = inputs.read_bytes(path, "context file")
    try:
        fields = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise CommandError("context file %s is not JSON or YAML: %s"
                           % (path, exc))
    if not isinstance(fields, dict):
        raise CommandError("context file %s must hold a map of the "
                           "context's fields (%s)"
                           % (path, ", ".join(heatflow.RequestContext.FIELDS)))
    return fields       # (its fields are checked with the others)
