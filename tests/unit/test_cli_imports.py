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


# -- what a read-only command imports (issue 22) ------------------------------

#: Modules a command that only reads stacks must not import: TaskFlow and
#: what it pulls in, alembic, yaql and heatflow's flow engine.  (Each cost
#: a read-only command part of the ~1.2 s it took to start before.)
HEAVY = ("taskflow", "networkx", "alembic", "yaql", "heatflow.lifecycle",
         "heatflow.flows.atoms", "heatflow.flows.compiler",
         "heatflow.flows.execution", "heatflow.runners.local",
         "heatflow.persistence.taskflow_backend")

READ_ONLY = [
    ["stack", "list"],
    ["stack", "show", "s"],
    ["stack", "output", "list", "s"],
    ["stack", "output", "show", "s", "--all"],
    ["stack", "resource", "list", "s"],
    ["stack", "resource", "show", "s", "r"],
    ["stack", "event", "list", "s"],
    ["stack", "template", "show", "s"],
    ["stack", "environment", "show", "s"],
]

# Run in a fresh interpreter: argv[1] the database URL, argv[2] a JSON list
# of command lines.  Prints the exit statuses and the heavy modules loaded.
SCRIPT = """
import io, json, sys
from heatflow import cli
url, commands, heavy = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
status = [cli.main(["--db-url", url] + argv, stdout=io.StringIO())
          for argv in commands]
print(json.dumps({"status": status,
                  "loaded": [m for m in heavy if m in sys.modules]}))
"""


def run_fresh(url, commands):
    import json
    import subprocess
    import sys
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, json.dumps(commands)] +
        list(HEAVY), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


TEMPLATE = {"heat_template_version": "2018-08-31",
            "resources": {"r": {"type": "OS::Heat::None"}},
            "outputs": {"o": {"value": {"get_resource": "r"}}}}


def test_read_only_commands_import_neither_taskflow_nor_the_engine(
        tmp_path):
    url = "sqlite:///" + str(tmp_path / "ro.db")
    with heatflow.Orchestrator(url) as orch:
        stack = orch.create_stack("s", TEMPLATE).wait(60)
        assert stack.stack_status == "CREATE_COMPLETE"
    result = run_fresh(url, READ_ONLY)
    assert result == {"status": [0] * len(READ_ONLY), "loaded": []}


def test_listing_where_there_is_no_database_imports_none_either(tmp_path):
    """No file: an empty database in memory stands in, made without
    alembic or TaskFlow, and none is left behind."""
    url = "sqlite:///" + str(tmp_path / "none" / "missing.db")
    result = run_fresh(url, [["stack", "list"]])
    assert result == {"status": [0], "loaded": []}
    assert not (tmp_path / "none").exists()


def test_validating_a_template_imports_none_either(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("heat_template_version: 2018-08-31\n"
                    "resources:\n  r: {type: OS::Heat::None}\n")
    result = run_fresh("sqlite://", [["template", "validate", "-t",
                                      str(path)]])
    assert result == {"status": [0], "loaded": []}
