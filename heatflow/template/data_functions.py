"""Functions that compute data: joining, replacing, splitting, merging.

Each class checks what it can of its arguments when parsed (with the path
of the call) and the rest when it runs.
"""

import hashlib
import itertools
import json
import urllib.parse

from heatflow import exception
from heatflow.template import loader
from heatflow.template.functions import (
    FixedList, Function, _fail, _kind, resolve)


def _join_item(item, multi, fail):
    if isinstance(item, str):
        return item
    if item is None:
        return ""
    if isinstance(item, (dict, list)):
        if multi:
            return json.dumps(item)
        fail("items to join must be strings, got %s" % _kind(item))
    if isinstance(item, bool):
        return "true" if item else "false"
    return str(item)


class ListJoin(Function):
    name = "list_join"

    def parse(self, parser, args):
        multi = parser.version.multi_list_join
        if not isinstance(args, list) or len(args) < 2 or \
                (len(args) > 2 and not multi):
            self.fail("argument must be a list [delimiter, list%s]"
                      % (", list..." if multi else ""))
        if not isinstance(args[0], (str, dict)):
            self.fail("delimiter must be a string")
        for i, lst in enumerate(args[1:], 1):
            if not isinstance(lst, (list, dict)) and lst is not None:
                _fail("must be a list, got %s" % _kind(lst), self.path + (i,))
        self.multi = multi
        self.args = parser.parse(args, self.path)

    def result(self, ctx):
        values = resolve(self.args, ctx)
        delim = values[0]
        if not isinstance(delim, str):
            self.fail("delimiter must be a string, got %s" % _kind(delim))
        items = []
        for lst in values[1:]:
            if lst is None:
                continue
            if not isinstance(lst, list):
                self.fail("arguments to join must be lists, got %s"
                          % _kind(lst))
            items.extend(_join_item(i, self.multi, self.fail) for i in lst)
        return delim.join(items)


class StrReplace(Function):
    name = "str_replace"
    strict = False
    very_strict = False

    def parse(self, parser, args):
        if not isinstance(args, dict) or set(args) != {"template", "params"}:
            self.fail('argument must be a map with "template" and "params"')
        if not isinstance(args["params"], dict):
            self.fail('"params" must be a map')
        if isinstance(args["params"], dict) and \
                parser.is_call(args["params"]) is None:
            for key in args["params"]:
                if not isinstance(key, str):
                    self.fail("param names must be strings")
        if not isinstance(args["template"], (str, dict)):
            self.fail('"template" must be a string')
        self.json = parser.version.json_replace
        self.args = parser.parse(args, self.path)

    def _text(self, key, value):
        if isinstance(value, str):
            return value
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            if self.json:
                return json.dumps(value)
            self.fail("value of param %r must be a string or number, got %s"
                      % (key, _kind(value)))
        return str(value)

    def result(self, ctx):
        values = resolve(self.args, ctx)
        template, params = values["template"], values["params"]
        if not isinstance(template, str):
            self.fail('"template" must be a string, got %s' % _kind(template))
        if not isinstance(params, dict):
            self.fail('"params" must be a map, got %s' % _kind(params))
        mapping = {str(k): self._text(k, v) for k, v in params.items()}
        if self.strict:
            missing = sorted(k for k in mapping if k not in template)
            if missing:
                self.fail("params not found in the template: %s"
                          % ", ".join(missing))
        if self.very_strict:
            # judged on the value, not its text: {} and [] are empty too
            empty = sorted(str(k) for k, v in params.items()
                           if v is None or v in ("", {}, []))
            if empty:
                self.fail("params with empty values: %s" % ", ".join(empty))
        # Longest placeholder first, and replaced text is never scanned
        # again, so one placeholder that contains another works.
        keys = sorted(sorted(k for k in mapping if k), key=len, reverse=True)
        return _replace_all(template, keys, mapping)


def _replace_all(text, keys, mapping):
    if not keys:
        return text
    key, rest = keys[0], keys[1:]
    return mapping[key].join(_replace_all(part, rest, mapping)
                             for part in text.split(key))


class StrReplaceStrict(StrReplace):
    name = "str_replace_strict"
    strict = True


class StrReplaceVeryStrict(StrReplace):
    name = "str_replace_vstrict"
    strict = True
    very_strict = True


class StrSplit(Function):
    name = "str_split"

    def parse(self, parser, args):
        if not isinstance(args, list) or len(args) not in (2, 3):
            self.fail("argument must be a list [delimiter, string, index?]")
        self.args = parser.parse(args, self.path)

    def result(self, ctx):
        values = resolve(self.args, ctx)
        delim, text = values[0], values[1]
        # Heat: nothing to split gives null (an unset attribute, say), and
        # a null delimiter splits on runs of whitespace.
        if text is None:
            return None
        if delim is not None and (not isinstance(delim, str) or not delim):
            self.fail("delimiter must be a non-empty string or null")
        if not isinstance(text, str):
            self.fail("second argument must be a string, got %s"
                      % _kind(text))
        parts = text.split(delim)
        if len(values) == 2:
            return parts
        index = values[2]
        try:
            if isinstance(index, bool):
                raise ValueError
            index = int(index)
        except (TypeError, ValueError):
            self.fail("index must be an integer, got %r" % (index,))
        # Heat indexes the Python list, so -1 is the last item
        if not -len(parts) <= index < len(parts):
            self.fail("index %d is out of range (%d items)"
                      % (index, len(parts)))
        return parts[index]


class MapMerge(Function):
    name = "map_merge"

    def parse(self, parser, args):
        # Heat resolves the whole argument before looking at it, so a
        # function yielding the list (get_param, repeat, ...) is fine.
        if not isinstance(args, list) and parser.is_call(args) is None:
            self.fail("argument must be a list of maps")
        self.args = parser.parse(args, self.path)

    def result(self, ctx):
        out = {}
        items = resolve(self.args, ctx)
        if not isinstance(items, list):
            self.fail("argument must be a list of maps, got %s"
                      % _kind(items))
        for i, item in enumerate(items):
            if item is None:
                continue
            if not isinstance(item, dict):
                self.fail("item %d must be a map, got %s" % (i, _kind(item)))
            out.update(item)
        return out


class MapReplace(Function):
    name = "map_replace"

    def parse(self, parser, args):
        if not isinstance(args, list) or len(args) != 2:
            self.fail(
                "argument must be a list [map, {keys: ..., values: ...}]")
        spec = args[1]
        if isinstance(spec, dict) and parser.is_call(spec) is None:
            if set(spec) - {"keys", "values"}:
                self.fail('second argument may only have "keys" and "values"')
        elif not isinstance(spec, dict):
            self.fail("second argument must be a map")
        self.args = parser.parse(args, self.path)

    def result(self, ctx):
        source, spec = resolve(self.args, ctx)
        if not isinstance(source, dict):
            self.fail("first argument must be a map, got %s" % _kind(source))
        if not isinstance(spec, dict):
            self.fail("second argument must be a map")
        keys = spec.get("keys") or {}
        vals = spec.get("values") or {}
        if not isinstance(keys, dict) or not isinstance(vals, dict):
            self.fail('"keys" and "values" must be maps')
        out = {}
        for key, value in source.items():
            new_key = keys.get(key, key)
            if new_key in out:
                self.fail("key %r is duplicated after replacement"
                          % (new_key,))
            try:
                value = vals.get(value, value)
            except TypeError:  # unhashable values are never replaced
                pass
            out[new_key] = value
        return out


class Repeat(Function):
    name = "repeat"

    def parse(self, parser, args):
        version = parser.version
        if not isinstance(args, dict) or "for_each" not in args or \
                "template" not in args:
            self.fail('argument must be a map with "for_each" and "template"'
                      + (' (and optional "permutations")'
                         if version.repeat_permutations else ""))
        # Heat ignores unknown keys here; we name them, so a misspelt or
        # too-new key is not silently dropped (docs/templates.rst).
        if "permutations" in args and not version.repeat_permutations:
            self.fail('"permutations" needs heat_template_version '
                      '2017-09-01 or later')
        unknown = sorted(set(args) - {"for_each", "template",
                                      "permutations"})
        if unknown:
            self.fail("unknown key(s) %s" % ", ".join(map(str, unknown)))
        for_each = args["for_each"]
        if parser.is_call(for_each) is None and \
                (not isinstance(for_each, dict) or not for_each):
            self.fail('"for_each" must be a non-empty map of '
                      'placeholder: list')
        perms = args.get("permutations", True)
        if not isinstance(perms, (bool, dict)):
            self.fail('"permutations" must be a boolean')
        self.maps = version.repeat_maps
        self.args = parser.parse(args, self.path)

    def _values(self, name, lst, perms):
        if lst is None:  # Heat: an empty list (typically an empty param)
            return []
        if isinstance(lst, dict) and self.maps:
            if not perms:
                # without permutations lists are zipped, and a map's
                # order is no order to zip by (Heat refuses it too)
                self.fail("for_each value of %r must be a list, got a map "
                          "(maps only with permutations)" % (name,))
            lst = list(lst)
        if not isinstance(lst, list):
            self.fail("for_each value of %r must be a list, got %s"
                      % (name, _kind(lst)))
        return [_join_item(v, True, self.fail) for v in lst]

    def result(self, ctx):
        values = resolve(self.args, ctx)
        for_each = values["for_each"]
        if not isinstance(for_each, dict) or not for_each:
            self.fail('"for_each" must be a non-empty map of '
                      'placeholder: list, got %s' % _kind(for_each))
        perms = values.get("permutations", True)
        if not isinstance(perms, bool):
            self.fail('"permutations" must be a boolean')
        names = list(for_each)
        lists = [self._values(name, for_each[name], perms)
                 for name in names]
        if perms:
            combos = itertools.product(*lists)
        else:
            # Heat compares the lengths of the non-null values only.
            lengths = {len(lst) for name, lst in zip(names, lists)
                       if for_each[name] is not None}
            if len(lengths) > 1:
                self.fail("with permutations false, all for_each lists "
                          "must have the same length")
            combos = zip(*lists)
        template = values["template"]
        limit = ctx.limits.max_value_bytes
        size = loader.value_size(template, limit)
        out = []
        for combo in combos:
            out.append(_substitute(template, list(zip(names, combo))))
            if size * len(out) > limit:
                raise exception.LimitExceeded(
                    "result is larger than %d bytes (max_value_bytes)"
                    % limit, self.path)
        return out


def _substitute(template, pairs):
    if isinstance(template, str):
        for key, value in pairs:
            template = template.replace(key, value)
        return template
    if isinstance(template, list):
        return [_substitute(v, pairs) for v in template]
    if isinstance(template, dict):
        return {_substitute(k, pairs): _substitute(v, pairs)
                for k, v in template.items()}
    return template


class Digest(Function):
    name = "digest"
    ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")

    def parse(self, parser, args):
        if not isinstance(args, list) or len(args) != 2:
            self.fail("argument must be a list [algorithm, value]")
        if isinstance(args[0], str) and args[0] not in self.ALGORITHMS:
            self.fail("unknown algorithm %r (allowed: %s)"
                      % (args[0], ", ".join(self.ALGORITHMS)))
        self.args = parser.parse(args, self.path)

    def result(self, ctx):
        algorithm, value = resolve(self.args, ctx)
        if algorithm not in self.ALGORITHMS:
            self.fail("unknown algorithm %r (allowed: %s)"
                      % (algorithm, ", ".join(self.ALGORITHMS)))
        if not isinstance(value, str):
            self.fail("value to digest must be a string, got %s"
                      % _kind(value))
        return hashlib.new(algorithm, value.encode("utf-8")).hexdigest()


class ListConcat(Function):
    name = "list_concat"
    unique = False

    def parse(self, parser, args):
        # As map_merge: a function may yield the whole list of lists.
        if not isinstance(args, list) and parser.is_call(args) is None:
            self.fail("argument must be a list of lists")
        self.args = parser.parse(args, self.path)

    def result(self, ctx):
        out = []
        items = resolve(self.args, ctx)
        if not isinstance(items, list):
            self.fail("argument must be a list of lists, got %s"
                      % _kind(items))
        for i, item in enumerate(items):
            if item is None:
                continue
            if not isinstance(item, list):
                self.fail("item %d must be a list, got %s" % (i, _kind(item)))
            for value in item:
                if self.unique and value in out:
                    continue
                out.append(value)
        return out


class ListConcatUnique(ListConcat):
    name = "list_concat_unique"
    unique = True


class Contains(FixedList):
    name = "contains"
    size, usage = 2, "[value, sequence]"

    def result(self, ctx):
        value, sequence = resolve(self.args, ctx)
        if not isinstance(sequence, (list, str)):
            self.fail("second argument must be a list, got %s"
                      % _kind(sequence))
        if isinstance(sequence, str):
            return isinstance(value, str) and value in sequence
        return value in sequence


class Filter(FixedList):
    name = "filter"
    size, usage = 2, "[values_to_remove, list]"

    def result(self, ctx):
        remove, sequence = resolve(self.args, ctx)
        if remove is None:
            remove = []
        if not isinstance(remove, list):
            self.fail("values to remove must be a list, got %s"
                      % _kind(remove))
        if not isinstance(sequence, list):
            self.fail("second argument must be a list, got %s"
                      % _kind(sequence))
        return [v for v in sequence if v not in remove]


class MakeURL(Function):
    name = "make_url"
    KEYS = ("scheme", "username", "password", "host", "port", "path",
            "query", "fragment")

    def parse(self, parser, args):
        if not isinstance(args, dict) or parser.is_call(args) is not None:
            self.fail("argument must be a map of URL parts")
        unknown = sorted(set(args) - set(self.KEYS))
        if unknown:
            self.fail("unknown key(s) %s (allowed: %s)"
                      % (", ".join(unknown), ", ".join(self.KEYS)))
        self.args = parser.parse(args, self.path)

    def result(self, ctx):
        parts = resolve(self.args, ctx)
        for key, value in parts.items():
            if key != "query" and value is not None and \
                    not isinstance(value, (str, int)):
                self.fail("%s must be a string, got %s" % (key, _kind(value)))
        scheme = str(parts.get("scheme") or "")
        if ":" in scheme or "/" in scheme:
            self.fail("invalid scheme %r" % (scheme,))
        # as Heat's MakeURL: the host quoted (':' kept), an IPv6 literal
        # bracketed, and a password kept even without a username
        host = str(parts.get("host") or "")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        host = urllib.parse.quote(host, safe=":")
        if ":" in host:
            host = "[%s]" % host
        netloc = host
        user = urllib.parse.quote(str(parts.get("username") or ""), safe="")
        password = urllib.parse.quote(str(parts.get("password") or ""),
                                      safe="")
        if user or password:
            netloc = user + (":" + password if password else "") + "@" + host
        port = parts.get("port")
        if port is not None and port != "":
            try:
                if isinstance(port, bool):
                    raise ValueError
                port = int(port)
            except (TypeError, ValueError):
                self.fail("port must be an integer, got %r" % (port,))
            if not 1 <= port <= 65535:
                self.fail("port %d is out of range 1..65535" % port)
            netloc += ":%d" % port
        path = urllib.parse.quote(str(parts.get("path") or ""))
        query = parts.get("query") or {}
        if not isinstance(query, dict):
            self.fail("query must be a map, got %s" % _kind(query))
        # '/' is left readable in the query, as Heat's make_url does
        query = urllib.parse.urlencode(
            [(k, "" if v is None else v) for k, v in query.items()],
            safe="/")
        fragment = urllib.parse.quote(str(parts.get("fragment") or ""))
        return urllib.parse.urlunsplit(
            (scheme, netloc, path, query, fragment))
