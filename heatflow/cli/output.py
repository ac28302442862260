"""Rendering command output: aligned text tables, JSON and YAML.

Commands turn the API's views into plain records (``stack_record`` etc.:
dicts of strings, numbers, lists; datetimes as ISO 8601 strings) and hand
them to :func:`render` with the chosen format.  ``table`` draws a list of
records as one row per record and a single record as a two-column
Field/Value table::

    +-------+-----------------+
    | Field | Value           |
    +-------+-----------------+
    | name  | web             |
    +-------+-----------------+
"""

import datetime
import json
import textwrap

import yaml

FORMATS = ("table", "json", "yaml")


class _Dumper(yaml.SafeDumper):
    """safe_dump, with multi-line strings as literal blocks."""


def _represent_str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                   style=style)


_Dumper.add_representer(str, _represent_str)


def _yaml(value):
    return yaml.dump(plain(value), Dumper=_Dumper, default_flow_style=False,
                     sort_keys=False, allow_unicode=True).rstrip()


def _utc(dt):
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return dt.replace(microsecond=0)


def iso_time(dt):
    """``2026-11-22T15:09:08Z`` (naive datetimes are taken as UTC)."""
    if dt is None:
        return None
    return _utc(dt).isoformat() + "Z"


def event_time(dt):
    """``2026-11-22 15:09:08Z``, the form used in event lines."""
    if dt is None:
        return ""
    return _utc(dt).isoformat(sep=" ") + "Z"


# -- records: what the commands show of the API's views -----------------------

def stack_record(stack, full=True):
    rec = {
        "id": stack.id,
        "name": stack.name,
        "description": (stack.template or {}).get("description") or "",
        "action": stack.action,
        "status": stack.status,
        "stack_status": stack.stack_status,
        "status_reason": stack.status_reason,
        "creation_time": iso_time(stack.created_at),
        "updated_time": iso_time(stack.updated_at),
    }
    if full:
        if stack.parent is not None:
            rec["parent"] = stack.parent
            rec["parent_resource"] = stack.parent_resource
        rec.update({
            "timeout_mins": stack.timeout_mins,
            "disable_rollback": stack.disable_rollback,
            "parameters": dict(stack.parameters or {}),
            "outputs": [output_record(o) for o in stack.output_details],
        })
    return rec


def output_record(output):
    rec = {"output_key": output.key, "output_value": output.value,
           "description": output.description}
    if output.error:
        rec["output_error"] = output.error
    return rec


def resource_record(res):
    record = {
        "name": res.name,
        "type": res.type,
        "physical_resource_id": res.physical_resource_id,
        "action": res.action,
        "status": res.status,
        "resource_status": res.resource_status,
        "status_reason": res.status_reason,
        "attributes": dict(res.attributes or {}),
        "updated_time": iso_time(res.updated_at),
    }
    if res.status_detail:
        record["status_detail"] = res.status_detail
    if res.stack_name is not None:
        record["stack_name"] = res.stack_name
    return record


def event_record(event):
    record = {
        "id": event.id,
        "time": iso_time(event.time),
        "resource_name": event.resource_name,
        "action": event.action,
        "status": event.status,
        "resource_status": event.resource_status,
        "reason": event.reason,
        "physical_resource_id": event.physical_resource_id,
    }
    if event.detail:
        record["detail"] = event.detail
    if event.stack_name is not None:
        record["stack_name"] = event.stack_name
    return record


def waiting_record(waiting):
    """A row of ``resource list --waiting``: a running resource waiting on
    nothing shows ``(running)``."""
    return {
        "name": waiting.name,
        "type": waiting.type,
        "resource_status": waiting.resource_status,
        "waiting_on": "(running)" if waiting.running and
        not waiting.waiting_on else ", ".join(waiting.waiting_on),
    }


def event_line(event):
    return ("%s [%s]: %s  %s" % (event_time(event.time),
                                 event.resource_name, event.resource_status,
                                 event.reason or "")).rstrip()


STACK_SHOW_FIELDS = ["id", "name", "description", "stack_status",
                     "status_reason", "creation_time", "updated_time",
                     "timeout_mins", "disable_rollback", "parameters",
                     "outputs"]
STACK_LIST_COLUMNS = ["id", "name", "stack_status", "creation_time",
                      "updated_time"]
RESOURCE_LIST_COLUMNS = ["name", "physical_resource_id", "type",
                         "resource_status", "updated_time"]
EVENT_LIST_COLUMNS = ["time", "resource_name", "resource_status", "reason"]


# -- rendering ----------------------------------------------------------------

def cell_text(value):
    """The text of one table cell; maps and lists are shown as YAML."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        if not value:
            return "{}" if isinstance(value, dict) else "[]"
        return _yaml(value)
    return str(value)


# Longer lines of text in a table cell are wrapped at spaces.
CELL_WIDTH = 72


def _lines(text):
    out = []
    for line in text.splitlines() or [""]:
        if len(line) <= CELL_WIDTH:
            out.append(line)
            continue
        indent = len(line) - len(line.lstrip(" "))
        out += textwrap.wrap(line, CELL_WIDTH, break_long_words=False,
                             break_on_hyphens=False,
                             subsequent_indent=" " * indent) or [""]
    return out


def table(headers, rows):
    """An aligned text table with ``+---+`` borders; cells may span several
    lines."""
    cells = [[_lines(cell_text(v)) for v in row] for row in rows]
    head = [[str(h)] for h in headers]
    widths = [max(len(line) for line in h) for h in head]
    for row in cells:
        for i, lines in enumerate(row):
            widths[i] = max(widths[i], max(len(line) for line in lines))
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def draw(row):
        height = max(len(lines) for lines in row)
        out = []
        for n in range(height):
            parts = [(lines[n] if n < len(lines) else "").ljust(w)
                     for lines, w in zip(row, widths)]
            out.append("| " + " | ".join(parts) + " |")
        return out

    lines = [rule] + draw(head) + [rule]
    for row in cells:
        lines += draw(row)
    if cells:
        lines.append(rule)
    return "\n".join(lines)


def plain(value):
    """Data that json and yaml.safe_dump accept (tuples -> lists,
    datetimes -> ISO strings, anything else odd -> str)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return iso_time(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def render(data, fmt, columns=None):
    """Text for ``data`` (a record or a list of records) in ``fmt``.

    ``columns`` selects and orders the keys shown in a ``table`` (all keys
    of the first record by default); json and yaml always get everything.
    """
    if fmt == "json":
        return json.dumps(plain(data), indent=2, ensure_ascii=False)
    if fmt == "yaml":
        return _yaml(data)
    if fmt != "table":
        raise ValueError("unknown output format %r" % (fmt,))
    if isinstance(data, dict):
        keys = columns or list(data)
        return table(["Field", "Value"], [(k, data.get(k)) for k in keys])
    if columns is None:
        columns = list(data[0]) if data else []
    return table(columns, [[rec.get(c) for c in columns] for rec in data])


# -- dry runs and progress ----------------------------------------------------

PLAN_COLUMNS = ["resource_name", "resource_type", "action", "reason"]
WAITING_COLUMNS = ["name", "type", "resource_status", "waiting_on"]


def elapsed_text(seconds):
    """``0:07``, ``12:34``, ``1:02:03``."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return "%d:%02d:%02d" % (hours, minutes, secs)
    return "%d:%02d" % (minutes, secs)


def progress_line(action, done, total, elapsed, width=30):
    """One progress bar line, e.g.
    ``CREATE [##########----------] 3/6 resources  0:07``."""
    total = max(0, total)
    done = max(0, min(done, total))
    filled = width if total == 0 else (width * done) // total
    return "%s [%s%s] %d/%d resources  %s" % (
        action, "#" * filled, "-" * (width - filled), done, total,
        elapsed_text(elapsed))
