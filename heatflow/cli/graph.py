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


def to_dot(graph):
    """DOT text of ``graph`` (a :class:`heatflow.Graph`).  A stack's graph
    (``graph.recorded``) has its nodes coloured and showing
    ``ACTION_STATUS`` on a third line."""
    lines = ["digraph %s {" % _quote(graph.name),
             "  // edges point from a resource to what it depends on",
             "  rankdir=BT;",
             '  node [shape=box, style="rounded,filled", fillcolor=white, '
             'fontname="Helvetica"];']
    for node in graph.nodes:
        label = "%s\n%s" % (node.name, node.type)
        attrs = []
        if graph.recorded:
            if node.action is None:
                label += "\n(not in the stack)"
            else:
                label += "\n%s_%s" % (node.action, node.status)
                colour = COLOURS.get(status_key(node.action, node.status))
                if colour:
                    attrs.append("fillcolor=%s" % _quote(colour))
        attrs.insert(0, "label=%s" % _quote(label))
        lines.append("  %s [%s];" % (_quote(node.name), ", ".join(attrs)))
    for node in graph.nodes:
        for dep in node.depends_on:
            lines.append("  %s -> %s;" % (_quote(node.name), _quote(dep)))
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
    import subprocess   # here: most commands never draw
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
