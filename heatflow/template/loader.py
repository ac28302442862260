"""Reading template text safely, and the limits that keep it cheap.

YAML is parsed with a safe loader: tags never build Python objects (a
``!!python/object`` tag is an error).  Aliases are legal YAML but let a tiny
document expand into an enormous one ("billion laughs"), so the composed node
graph is measured -- alias uses and the size it would have once expanded --
before anything is constructed from it.
"""

import dataclasses
import datetime
import json
import os

import yaml

from heatflow import exception

try:  # libyaml is much faster; the pure-Python loader behaves the same.
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _BaseLoader = yaml.SafeLoader


@dataclasses.dataclass(frozen=True)
class Limits:
    """Caps on what a template may cost to load and evaluate."""

    max_template_bytes: int = 512 * 1024
    max_resources: int = 10000
    max_nesting_depth: int = 64
    # nested stacks below a top-level stack (Heat's max_nested_stack_depth)
    max_nested_stack_depth: int = 5
    max_value_bytes: int = 1024 * 1024
    # alias uses in one YAML document, and the node count the document
    # would have with its aliases expanded (billion-laughs guard)
    max_yaml_aliases: int = 1000
    max_yaml_nodes: int = 500000
    # total size of the files map (get_file's sources); with the template
    # that is about Heat's 1 MiB request body
    max_files_bytes: int = 1024 * 1024
    # yaql: Heat's limit_iterators and memory_quota defaults, and what Heat
    # leaves open: the expression's length and one evaluation's time
    max_yaql_chars: int = 10000
    yaql_limit_iterators: int = 200
    yaql_memory_quota: int = 10000
    yaql_seconds: float = 1.0


DEFAULT_LIMITS = Limits()


class _Loader(_BaseLoader):
    """Safe loader that keeps timestamps as the strings they were written as.

    A date in a template is data for a resource, not a Python object; keeping
    the text also keeps the template JSON-serialisable for storage.
    """


def _timestamp_as_text(loader, node):
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _children(node):
    """A composed YAML node's child nodes (a mapping's keys and values)."""
    if isinstance(node, yaml.MappingNode):
        return [c for pair in node.value for c in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return ()


def _check_node_graph(root, limits, what="template"):
    """Count alias uses and the expanded size of a composed YAML graph.

    Shared nodes (from aliases) are visited once; their expanded size is
    memoised, so a bomb is measured in time linear in its *text*.
    """
    sizes = {}
    aliases = 0
    # iterative post-order walk: (node, children_done)
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            total = 1 + sum(sizes[id(c)] for c in _children(node))
            sizes[key] = total
            if total > limits.max_yaml_nodes:
                raise exception.LimitExceeded(
                    what + " expands to more than %d YAML nodes "
                    "(max_yaml_nodes); aliases make it too large"
                    % limits.max_yaml_nodes, what)
            continue
        if key in sizes:
            continue
        stack.append((node, True))
        seen_here = set()
        for child in _children(node):
            ck = id(child)
            if ck in sizes or ck in seen_here:
                aliases += 1
            seen_here.add(ck)
            stack.append((child, False))
        if aliases > limits.max_yaml_aliases:
            raise exception.LimitExceeded(
                what + " uses more than %d YAML aliases (max_yaml_aliases)"
                % limits.max_yaml_aliases, what)


def parse_text(text, limits=DEFAULT_LIMITS, what="template"):
    """Parse YAML or JSON text into plain Python data, within ``limits``;
    ``what`` names the document (and the path) in errors."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > limits.max_template_bytes:
            raise _too_big(len(text), limits, what)
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise exception.StackValidationFailed(
                what + " is not UTF-8 text (binary data?)", what)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_template_bytes:
        raise _too_big(size, limits, what)
    if not text.strip():
        raise exception.StackValidationFailed(what + " is empty", what)
    if "\x00" in text:
        raise exception.StackValidationFailed(
            what + " contains NUL characters (binary data?)", what)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        # JSON is YAML, but JSON texts may contain tabs YAML rejects.
        try:
            data = json.loads(stripped)
        except ValueError:
            data = _parse_yaml(text, limits, what)
    else:
        data = _parse_yaml(text, limits, what)
    return data


def _parse_yaml(text, limits, what="template"):
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise exception.StackValidationFailed(
                what + " is empty", what)
        _check_node_graph(node, limits, what)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise exception.StackValidationFailed(
            what + " is not valid YAML: %s" % (str(exc).replace("\n", " "),),
            what)
    except RecursionError:
        raise exception.LimitExceeded(
            what + " is nested too deeply", what)
    finally:
        loader.dispose()


def _too_big(size, limits, what="template"):
    return exception.LimitExceeded(
        what + " is %d bytes, more than the limit of %d bytes "
        "(max_template_bytes)" % (size, limits.max_template_bytes), what)


def looks_like_path(source):
    """A str names a file when it is one line and such a file exists."""
    if isinstance(source, os.PathLike):
        return True
    return (isinstance(source, str) and "\n" not in source and
            len(source) < 4096 and not source.lstrip().startswith("{") and
            os.path.isfile(source))


def read_path(path, limits):
    try:
        size = os.path.getsize(path)
        if size > limits.max_template_bytes:
            raise _too_big(size, limits)
        with open(path, "rb") as f:
            return f.read(limits.max_template_bytes + 1)
    except OSError as exc:
        raise exception.StackValidationFailed(
            "cannot read template file %s: %s" % (path, exc.strerror),
            "template")


def normalise(data, limits=DEFAULT_LIMITS, path=()):
    """Copy ``data`` into plain JSON types, enforcing the nesting depth.

    Dates become ISO strings (YAML from other loaders, or a dict built by a
    caller), tuples become lists, and non-string keys become strings, so the
    result round-trips through JSON storage unchanged.
    """
    max_depth = limits.max_nesting_depth

    def copy(value, where, depth):
        if depth > max_depth:
            raise exception.LimitExceeded(
                "data nested deeper than %d levels (max_nesting_depth)"
                % max_depth, where)
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    k = _scalar_text(k)
                out[k] = copy(v, where + (k,), depth + 1)
            return out
        if isinstance(value, (list, tuple)):
            return [copy(v, where + (i,), depth + 1)
                    for i, v in enumerate(value)]
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, (bytes, bytearray)):
            try:
                return bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise exception.StackValidationFailed(
                    "binary value is not allowed", where)
        raise exception.StackValidationFailed(
            "value of type %s is not allowed in a template"
            % type(value).__name__, where)

    return copy(data, tuple(path), 0)


def _scalar_text(key):
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, (datetime.date, datetime.datetime)):
        return key.isoformat()
    return str(key)


def value_size(value, limit):
    """Approximate serialised size of ``value``, stopping once over limit."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + 2
        elif isinstance(v, dict):
            total += 2
            for k, item in v.items():
                total += len(k) + 4 if isinstance(k, str) else 8
                stack.append(item)
        elif isinstance(v, (list, tuple)):
            total += 2 + len(v)
            stack.extend(v)
        else:
            total += 8
        if total > limit:
            return total
    return total
