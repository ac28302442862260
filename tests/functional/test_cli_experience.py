"""The terminal experience: ``template graph``, the ``--wait`` progress
bar, ``event list --follow`` and ``resource list --waiting``."""

import dataclasses
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import heatflow
import heatflow.api
from heatflow import cli
from heatflow.cli import output as formatting
from heatflow.cli import graph
from heatflow.cli import stacks

EVENT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \[(?P<res>[^\]]+)\]: "
    r"(?P<status>[A-Z]+_[A-Z_]+)(  .*)?$")

TEMPLATE = """\
heat_template_version: 2018-08-31
resources:
  db:
    type: OS::Heat::RandomString
    properties: {length: 8}
  app:
    type: OS::Heat::Value
    properties:
      value: {get_attr: [db, value]}
  web:
    type: OS::Heat::None
    depends_on: [app]
  broken:
    type: OS::Heat::TestResource
    properties: {fail: {get_param: fail}}
    depends_on: [web]
parameters:
  fail: {type: boolean, default: false}
outputs:
  url: {value: {get_attr: [app, value]}}
"""

GATE_PLUGIN = '''
import os

from heatflow import properties, resource


class Gate(resource.Resource):
    """Its create completes once the file ``path`` exists."""
    properties_schema = {"path": properties.Schema(
        properties.Schema.STRING, "A file to wait for.", required=True)}

    def handle_create(self):
        self.resource_id_set(self.physical_resource_name())

    def check_create_complete(self, token):
        return os.path.exists(self.properties["path"])


def resource_mapping():
    return {"Test::Gate": Gate}
'''

GATED = """\
heat_template_version: 2018-08-31
resources:
  gate:
    type: Test::Gate
    properties: {path: %s}
  free:
    type: OS::Heat::None
  mid:
    type: OS::Heat::None
    depends_on: [gate, free]
  last:
    type: OS::Heat::Value
    properties:
      value: {get_resource: mid}
"""


pytestmark = pytest.mark.usefixtures("isolated_cwd")


@pytest.fixture
def template(tmp_path):
    path = tmp_path / "stack.yaml"
    path.write_text(TEMPLATE)
    return str(path)


def node_lines(dot):
    return {m.group(1): m.group(2) for m in re.finditer(
        r'^  "([^"]+)" \[(.*)\];$', dot, re.M)}


# -- template graph -----------------------------------------------------------

def test_graph_dot_on_stdout_and_in_a_file(run, template, tmp_path):
    code, out, err = run("template", "graph", "-t", template)
    assert code == 0, err
    assert out.startswith("digraph ")
    nodes = node_lines(out)
    assert nodes["db"] == r'label="db\nOS::Heat::RandomString"'
    assert set(nodes) == {"db", "app", "web", "broken"}
    edges = set(re.findall(r'^  "(\w+)" -> "(\w+)";$', out, re.M))
    # dependent -> dependency
    assert edges == {("app", "db"), ("web", "app"), ("broken", "web")}

    path = tmp_path / "g.dot"
    code, out2, err = run("template", "graph", "-t", template, "-o",
                          str(path))
    assert code == 0, err
    assert path.read_text() == out
    assert "g.dot" in out2


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("ext,magic", [(".svg", b"<svg"),
                                       (".png", b"\x89PNG\r\n")])
def test_graph_svg_and_png(run, template, tmp_path, ext, magic):
    path = tmp_path / ("g" + ext)
    code, out, err = run("template", "graph", "-t", template, "-o",
                         str(path))
    assert code == 0, err
    data = path.read_bytes()
    assert magic in data[:400]
    if ext == ".svg":
        assert b"OS::Heat::RandomString" in data


def test_graph_without_graphviz_says_what_to_do(run, template, tmp_path,
                                                monkeypatch):
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    code, out, err = run("template", "graph", "-t", template, "-o",
                         str(tmp_path / "g.svg"))
    assert code == 1
    assert "install graphviz" in err and ".dot" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "g.svg").exists()
    code, out, err = run("template", "graph", "-t", template, "-o",
                         str(tmp_path / "g.jpeg"))
    assert code == 1 and ".svg or .png" in err


def test_graph_coloured_by_stack_status(run, template):
    code, out, err = run("stack", "create", "web", "-t", template,
                         "--parameter", "fail=true", "--wait")
    assert code == 1
    code, out, err = run("template", "graph", "--stack", "web")
    assert code == 0, err
    nodes = node_lines(out)
    assert 'fillcolor="tomato"' in nodes["broken"]
    assert "CREATE_FAILED" in nodes["broken"]
    for name in ("db", "app", "web"):
        assert 'fillcolor="palegreen"' in nodes[name], nodes[name]
    # with a template of its own: resources not in the stack are white
    code, out, err = run("template", "graph", "-t", template, "--stack",
                         "web")
    assert code == 0, err
    assert "fillcolor" in node_lines(out)["db"]


# -- --wait output ------------------------------------------------------------

def test_wait_off_a_terminal_prints_plain_event_lines(run, template):
    code, out, err = run("stack", "create", "web", "-t", template, "--wait")
    assert code == 0, err
    assert "\x1b" not in out and "\r" not in out
    head = out.split("\n+")[0].splitlines()
    assert head and all(EVENT_LINE.match(line) for line in head), head
    assert "CREATE_COMPLETE" in out and "url" in out


def test_progress_line():
    line = formatting.progress_line("CREATE", 3, 6, 7.4, width=10)
    assert line == "CREATE [#####-----] 3/6 resources  0:07"
    assert formatting.progress_line("DELETE", 0, 0, 3725, width=4) == \
        "DELETE [####] 0/0 resources  1:02:05"
    assert formatting.progress_line("UPDATE", 9, 4, 0, width=4) == \
        "UPDATE [####] 4/4 resources  0:00"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a pty")
def test_wait_on_a_terminal_shows_a_progress_bar(db_url, template):
    import pty
    pid, fd = pty.fork()
    if pid == 0:    # pragma: no cover - the child
        try:
            os.execv(sys.executable, [
                sys.executable, "-m", "heatflow", "--db-url", db_url,
                "stack", "create", "web", "-t", template, "--wait"])
        finally:
            os._exit(127)
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = out.decode("utf-8", "replace")
    assert os.WEXITSTATUS(status) == 0, text
    assert "\r\x1b[K" in text
    assert re.search(r"CREATE \[#+\] 4/4 resources  0:\d\d\r\n", text), text
    assert re.search(r"\[web\]: CREATE_COMPLETE", text)
    assert "stack_status" in text and "CREATE_COMPLETE" in text


# -- following a running stack ------------------------------------------------

class Background(threading.Thread):
    def __init__(self, argv):
        super().__init__(daemon=True)
        self.argv = argv
        self.out, self.err = io.StringIO(), io.StringIO()
        self.code = None

    def run(self):
        self.code = cli.main(self.argv, stdout=self.out, stderr=self.err)


def _until(check, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_follow_and_waiting_on_a_running_stack(run, db_url, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "gate.py").write_text(textwrap.dedent(GATE_PLUGIN))
    release = tmp_path / "release"
    tpl = tmp_path / "gated.yaml"
    tpl.write_text(GATED % release)
    common = ["--db-url", db_url, "--plugin-dir", str(plugins)]
    create = Background(common + ["stack", "create", "g", "-t", str(tpl),
                                  "--wait"])
    create.start()
    try:
        def gate_running():
            code, out, err = run("--plugin-dir", str(plugins), "-f",
                                 "json", "stack", "resource", "list", "g")
            return code == 0 and '"CREATE_IN_PROGRESS"' in out and out
        _until(gate_running)

        code, out, err = run("--plugin-dir", str(plugins), "stack",
                             "resource", "list", "g", "--waiting")
        assert code == 0, err
        rows = {c[0]: c[1:] for c in (
            [x.strip() for x in line.split("|")[1:-1]]
            for line in out.splitlines() if line.startswith("| "))}
        assert rows["name"] == ["type", "resource_status", "waiting_on"]
        assert rows["gate"] == ["Test::Gate", "CREATE_IN_PROGRESS",
                                "(running)"]
        assert rows["mid"] == ["OS::Heat::None", "INIT_COMPLETE", "gate"]
        assert rows["last"] == ["OS::Heat::Value", "INIT_COMPLETE", "mid"]
        assert "free" not in rows

        follow = Background(common + ["stack", "event", "list", "g",
                                      "--follow"])
        follow.start()
        time.sleep(1.0)
        assert follow.is_alive(), follow.err.getvalue()
        assert "[gate]: CREATE_IN_PROGRESS" in follow.out.getvalue()
    finally:
        release.write_text("go")
    follow.join(20)
    create.join(20)
    assert not follow.is_alive() and follow.code == 0, follow.err.getvalue()
    assert create.code == 0, create.err.getvalue()
    lines = follow.out.getvalue().splitlines()
    assert all(EVENT_LINE.match(line) for line in lines), lines
    assert lines[-1].endswith("[g]: CREATE_COMPLETE  Stack CREATE completed "
                              "successfully")
    assert any("[last]: CREATE_COMPLETE" in line for line in lines)

    # settled: --follow prints what there is and ends at once
    code, out, err = run("-f", "json", "stack", "event", "list", "g",
                         "--follow")
    assert code == 0, err
    assert len(out.splitlines()) == len(lines)
    code, out, err = run("stack", "resource", "list", "g", "--waiting")
    assert code == 0 and "gate" not in out


def test_follow_ctrl_c_exits_130_quietly(run, template, monkeypatch):
    code, out, err = run("stack", "create", "web", "-t", template, "--wait")
    assert code == 0, err

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    # seen as still running, so it polls; Ctrl-C while it sleeps
    real = heatflow.api.Orchestrator.get_stack
    monkeypatch.setattr(
        heatflow.api.Orchestrator, "get_stack",
        lambda self, name: dataclasses.replace(real(self, name),
                                               status="IN_PROGRESS"))
    monkeypatch.setattr(stacks.time, "sleep", interrupted)
    code, out, err = run("stack", "event", "list", "web", "--follow")
    assert code == 130
    assert err == ""
    assert "[web]: CREATE_COMPLETE" in out


def test_follow_unknown_stack_is_an_error(run):
    code, out, err = run("stack", "event", "list", "nope", "--follow")
    assert code == 1 and "not found" in err


def test_dot_is_really_graphviz_readable(template, tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    drawing = heatflow.dependency_graph(template, name='we"ird')
    recorded = {"db": ("CREATE", "COMPLETE"), "app": ("INIT", "COMPLETE")}
    nodes = tuple(
        dataclasses.replace(node, action=state[0], status=state[1])
        for node in drawing.nodes
        for state in [recorded.get(node.name, (None, None))])
    text = graph.to_dot(dataclasses.replace(drawing, nodes=nodes,
                                            recorded=True))
    proc = subprocess.run(["dot", "-Tplain"], input=text.encode(),
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr
    plain = proc.stdout.decode()
    assert "palegreen" in plain and "lightgrey" in plain
    assert "(not in the stack)" in plain
