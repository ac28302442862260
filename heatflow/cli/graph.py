"""Pictures of a stack's dependency graph: Graphviz DOT, SVG and PNG.

:func:`to_dot` writes the DOT text itself: one node per resource, labelled
``name\\ntype``, and one edge per dependency drawn **from the dependent to
what it depends on** (``app -> db`` when ``app`` uses ``get_resource: db``,
``get_attr`` or ``depends_on``), the direction of ``depends_on``.  Given the
recorded statuses, nodes are filled by status: COMPLETE green,
IN_PROGRESS yellow, FAILED red, not started (INIT) grey.

SVG and PNG are rendered by Graphviz's ``dot`` program (:func:`render`).
"""

import shutil
import subprocess

from heatflow import exception

#: Output formats by file extension.
FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png"}

#: Fill colour by recorded status.
COLOURS = {"COMPLETE": "palegreen", "IN_PROGRESS": "yellow",
           "FAILED": "tomato", "INIT": "lightgrey"}


class GraphvizMissing(exception.HeatflowError):
    """Graphviz's ``dot`` program is needed and not installed."""


def _quote(text):
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % text.replace("\n", "\\n")


def status_key(action, status):
    """The colour key of a recorded (action, status)."""
    if action == "INIT":
        return "INIT"
    return status


def to_dot(stack_def, statuses=None, name="stack"):
    """DOT text of ``stack_def``'s dependency graph.

    ``statuses``: optional ``{resource name: (action, status)}``; nodes are
    then coloured and show ``ACTION_STATUS`` on a third line.
    """
    lines = ["digraph %s {" % _quote(name),
             "  // edges point from a resource to what it depends on",
             "  rankdir=BT;",
             '  node [shape=box, style="rounded,filled", fillcolor=white, '
             'fontname="Helvetica"];']
    deps = stack_def.dependencies()
    for res, defn in stack_def.resources.items():
        label = "%s\n%s" % (res, defn.type)
        attrs = []
        state = (statuses or {}).get(res)
        if statuses is not None:
            if state is None:
                label += "\n(not in the stack)"
            else:
                label += "\n%s_%s" % state
                colour = COLOURS.get(status_key(*state))
                if colour:
                    attrs.append("fillcolor=%s" % _quote(colour))
        attrs.insert(0, "label=%s" % _quote(label))
        lines.append("  %s [%s];" % (_quote(res), ", ".join(attrs)))
    for res in stack_def.resources:
        for dep in sorted(deps.get(res, ())):
            lines.append("  %s -> %s;" % (_quote(res), _quote(dep)))
    lines.append("}")
    return "\n".join(lines) + "\n"


def output_format(path):
    """``dot``, ``svg`` or ``png`` from the file name; ValueError else."""
    import os
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise ValueError("cannot tell the format of %s: use a .dot, .gv, "
                         ".svg or .png file name" % path)
    return FORMATS[ext]


def render(dot_text, fmt):
    """``dot_text`` rendered by Graphviz as ``fmt`` (svg, png): bytes."""
    if fmt == "dot":
        return dot_text.encode("utf-8")
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing(
            "Graphviz's 'dot' program is needed to write %s: install "
            "graphviz (e.g. apt-get install graphviz) or write a .dot file"
            % fmt.upper())
    proc = subprocess.run([exe, "-T" + fmt], input=dot_text.encode("utf-8"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise exception.HeatflowError(
            "dot failed: %s" % (message.splitlines()[-1] if message
                                else "exit status %d" % proc.returncode))
    return proc.stdout


def write(path, dot_text):
    """Write the graph to ``path`` in the format its extension names."""
    data = render(dot_text, output_format(path))
    with open(path, "wb") as f:
        f.write(data)
