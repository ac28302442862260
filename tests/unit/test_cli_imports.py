"""The command line is a client of the public API: every module of
``heatflow/cli/`` imports only ``heatflow`` (the names in its
``__all__``), ``heatflow.api``, ``heatflow.exception`` and its own
modules.  Anything the CLI needs from the engine becomes an API method
first, so services that import heatflow get it too."""

import ast
import os

import pytest

import heatflow

CLI_DIR = os.path.join(os.path.dirname(heatflow.__file__), "cli")
PUBLIC_MODULES = {"heatflow", "heatflow.api", "heatflow.exception"}


def cli_modules():
    return sorted(name for name in os.listdir(CLI_DIR)
                  if name.endswith(".py"))


def internal_imports(source):
    """``[(line, what)]`` for every reach past the public API in
    ``source``: an import of another heatflow module, a ``from heatflow
    import`` of a name that is not public, or ``heatflow.<name>`` used as
    an attribute when ``<name>`` is not public."""
    public = set(heatflow.__all__) | {"api", "exception", "cli"}
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _internal(alias.name):
                    bad.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                continue            # relative: inside heatflow/cli
            if module == "heatflow":
                bad += [(node.lineno, "heatflow." + a.name)
                        for a in node.names if a.name not in public]
            elif _internal(module):
                bad.append((node.lineno, module))
        elif isinstance(node, ast.Attribute) and \
                isinstance(node.value, ast.Name) and \
                node.value.id == "heatflow" and node.attr not in public:
            bad.append((node.lineno, "heatflow." + node.attr))
    return bad


def _internal(module):
    if module != "heatflow" and not module.startswith("heatflow."):
        return False
    return module not in PUBLIC_MODULES and module != "heatflow.cli" and \
        not module.startswith("heatflow.cli.")


@pytest.mark.parametrize("name", cli_modules())
def test_cli_module_uses_only_the_public_api(name):
    with open(os.path.join(CLI_DIR, name), encoding="utf-8") as f:
        source = f.read()
    assert internal_imports(source) == [], name


def test_the_check_catches_each_way_of_reaching_in():
    source = "\n".join([
        "import heatflow.flows.runtime",
        "from heatflow.persistence import database",
        "from heatflow import preview, exception",
        "import heatflow",
        "heatflow.registry.Registry",
        "heatflow.Orchestrator",
        "from heatflow.cli import output",
        "from heatflow import api",
    ])
    assert sorted(internal_imports(source)) == [
        (1, "heatflow.flows.runtime"), (2, "heatflow.persistence"),
        (3, "heatflow.preview"), (5, "heatflow.registry")]


def test_every_public_name_resolves():
    for name in heatflow.__all__:
        assert getattr(heatflow, name) is not None, name
