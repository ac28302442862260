"""Reading what a stack is made from off the disk: the template file, the
files its ``get_file`` calls name, the environment files (``-e``) and the
``--parameter`` values.  The library gets text and maps, never paths, so
what the command line may read is decided here."""

import os

import heatflow
from heatflow import exception
from heatflow.cli.context import CommandError


def read_bytes(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise CommandError("cannot read %s %s: %s"
                           % (what, path, exc.strerror or exc))


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
    envs = []
    for path in paths or ():
        data = read_bytes(path, "environment file")
        try:
            envs.append(heatflow.Environment.load(data, where=None))
        except exception.StackValidationFailed as exc:
            raise CommandError("environment file %s: %s" % (path, exc))
    return heatflow.Environment.merge(envs)


def collect_files(source, template_path, files=None):
    """The files map for ``get_file`` and template resources: each file
    referenced read relative to the directory of the template naming it,
    keyed by the name used there; a nested template's own references
    too (a resource type's file, or a ``get_file``'d file that is a
    template, as python-heatclient decides it: by its content)."""
    base = os.path.dirname(os.path.abspath(template_path))
    files = {} if files is None else files
    for path, name in heatflow.get_file_references(source):
        where = exception.format_path(path)
        text = _read_referenced(base, name, where)
        if name in files:
            if files[name] != text:
                raise CommandError(
                    "%s: %r names two different files (the files map keys "
                    "them by name)" % (where, name))
            continue
        files[name] = text
        names_a_type = path[-1] in ("type", "Type")
        if names_a_type or heatflow.is_template(text):
            _collect_nested(text, os.path.join(base, name), files, where)
    return files


def _read_referenced(base, name, where):
    if "://" in name or os.path.isabs(name):
        raise CommandError(
            "%s: %r refused: a file is named by a path relative to the "
            "template's directory" % (where, name))
    rel = os.path.normpath(name)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise CommandError("%s: %r refused: it is outside the template's "
                           "directory" % (where, name))
    try:
        data = read_bytes(os.path.join(base, rel), "file")
    except CommandError as exc:
        raise CommandError("%s: %s" % (where, exc))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("%s: %r is not UTF-8 text" % (where, name))


def _collect_nested(text, path, files, where):
    try:
        collect_files(text, path, files)
    except exception.StackValidationFailed as exc:
        raise CommandError("%s: nested template %s: %s"
                           % (where, path, exc))


def environment_files(paths, files):
    """Add to ``files`` the templates the environment files' type aliases
    map to (``My::Server: server.yaml``), read relative to the
    environment file naming them."""
    for path in paths or ():
        env = heatflow.Environment.load(read_bytes(path, "environment file"),
                                        where=None)
        base = os.path.dirname(os.path.abspath(path))
        for alias, target in sorted(env.resource_registry.items()):
            if not heatflow.is_template_type(target) or target in files:
                continue
            where = "%s: resource_registry.%s" % (path, alias)
            files[target] = text = _read_referenced(base, target, where)
            _collect_nested(text, os.path.join(base, target), files, where)
    return files


class Inputs:
    """A template file (optional for ``update --existing``), its files map,
    the merged environment files (``-e``) and the ``--parameter`` values
    (which win over the environment's)."""

    def __init__(self, template_path, env_paths, parameter_items):
        self.template_source = None
        self.files = None
        self.parameters = parse_parameters(parameter_items)
        self.environment = load_environments(env_paths)
        if template_path is not None:
            self.template_source = read_bytes(template_path,
                                              "template file")
            # parsing it here reports a malformed template before any
            # database is opened
            self.files = collect_files(self.template_source, template_path)
            environment_files(env_paths, self.files)

    def operation_args(self):
        """Keyword arguments for the library's create, update, preview,
        validation and graph calls (after the template)."""
        return {"parameters": self.parameters, "files": self.files,
                "environment": self.environment}
