"""The layers of docs/architecture.rst hold: no module imports from a layer
above its own (the command line uses the API, the API the runners, the
runners the flows, the flows the store and the plugin contract -- never
the other way round).  Read from the source with ``ast``: an import
inside a function counts the same as one at the top."""

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PACKAGES = {"heatflow": "heatflow", "flows": "heatflow.flows",
            "persistence": "heatflow.persistence"}

#: Lowest first; a module's layer is that of the longest prefix listed.
LAYERS = [
    ("foundation", ["heatflow.exception", "heatflow.states", "heatflow.logs",
                    "heatflow.metrics", "heatflow.support",
                    "heatflow.attributes", "heatflow.password_gen",
                    "heatflow.i18n", "heatflow.context"]),
    ("plugin contract and templates", [
        "heatflow.constraints", "heatflow.properties",
        "heatflow.translation", "heatflow.clients", "heatflow.resource",
        "heatflow.plugin_factory", "heatflow.stack_resource",
        "heatflow.stack_view", "heatflow.rsrc_defn", "heatflow.rpc_api",
        "heatflow.rpc_client", "heatflow.software_config_io",
        "heatflow.plugins", "heatflow.registry", "heatflow.template",
        "heatflow.environment", "heatflow.template_format"]),
    ("persistence", ["heatflow.persistence"]),
    ("flows", ["heatflow.flows"]),
    ("services", ["heatflow.lifecycle", "heatflow.child_stacks",
                  "heatflow.preview",
                  "heatflow.status", "heatflow.standalone",
                  "heatflow.views"]),
    ("runners", ["heatflow.runners", "heatflow.jobs"]),
    ("API", ["heatflow.api", "heatflow.operation",
             "heatflow.signal_receiver"]),
    ("command line", ["heatflow.cli", "heatflow.worker",
                      "heatflow.__main__"]),
]


def layer_of(module):
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    return None if best is None else best[0]


def modules():
    found = {}
    for top, package in PACKAGES.items():
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            if "migrations" in folder or "__pycache__" in folder:
                continue
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, os.path.join(ROOT, top))
                parts = [package] + rel[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts.pop()
                found[".".join(parts)] = path
    return found


def imported(path, known):
    """The modules of heatflow that ``path`` imports."""
    with open(path) as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(node.module + "." + alias.name
                         for alias in node.names)
    # "from heatflow import x" names the package too: only x counts.
    return {n for n in names if n in known and n != "heatflow"}


MODULES = modules()


def test_every_module_has_a_layer():
    assert [m for m in MODULES if m != "heatflow" and
            layer_of(m) is None] == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES
                                          if m != "heatflow"))
def test_imports_go_down(module):
    mine = layer_of(module)
    upward = sorted(
        "%s (%s)" % (dep, LAYERS[layer_of(dep)][0])
        for dep in imported(MODULES[module], MODULES)
        if layer_of(dep) is not None and layer_of(dep) > mine)
    assert upward == [], "%s (%s) imports from above: %s" % (
        module, LAYERS[mine][0], ", ".join(upward))
