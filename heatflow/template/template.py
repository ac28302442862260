"""Template (the parsed text) and StackDefinition (a template bound to values).

``Template`` checks everything that the text alone decides: sections, keys,
parameter schemas, function names and argument shapes.  ``Template.bind``
adds parameter values, evaluates conditions, drops disabled resources and
checks references, attributes (with a registry) and cycles, producing a
``StackDefinition`` that the engine works from.
"""

import collections
import copy
import json
import numbers
import os

from heatflow import exception
from heatflow.template import dependencies as deps
from heatflow.template import cfn, functions, loader, parameters, versions
from heatflow.template.conditions import Conditions, evaluate_condition
from heatflow.template.parser import Parser


def _fail(message, path):
    raise exception.StackValidationFailed(message, path)


# Marker for run-time values while bind() evaluates what it can statically.
_RUNTIME = functions._Marker("RUNTIME")


class _ResourceSnippet:
    """One entry of the resources section, parsed."""

    def __init__(self, name, data, parser, version):
        path = ("resources", name)
        self.name = name
        self.raw = data
        if not isinstance(data, dict):
            _fail("a resource must be a map with a type, got %s"
                  % functions._kind(data), path)
        unknown = sorted(set(data) - version.resource_keys)
        if unknown:
            hint = ""
            if set(unknown) & {"condition", "external_id"}:
                hint = " (condition needs heat_template_version 2016-10-14 " \
                       "or later)"
            _fail("unknown key(s) %s in resource (allowed: %s)%s"
                  % (", ".join(repr(k) for k in unknown),
                     ", ".join(sorted(version.resource_keys)), hint), path)
        if "type" not in data:
            _fail("missing type", path)
        if not isinstance(data["type"], str) or not data["type"]:
            _fail("must be a non-empty string", path + ("type",))
        self.type = data["type"]
        if "external_id" in data:
            _fail("external_id is not supported by heatflow",
                  path + ("external_id",))
        for key in ("properties", "metadata", "update_policy"):
            value = data.get(key)
            if value is not None and not isinstance(value, dict):
                _fail("must be a map, got %s" % functions._kind(value),
                      path + (key,))
        self.properties = parser.parse(data.get("properties"),
                                       path + ("properties",))
        self.metadata = parser.parse(data.get("metadata"),
                                     path + ("metadata",))
        self.update_policy = parser.parse(data.get("update_policy"),
                                          path + ("update_policy",))
        self.deletion_policy = parser.parse(data.get("deletion_policy"),
                                            path + ("deletion_policy",))
        depends = data.get("depends_on")
        if depends is None:
            depends = []
        elif isinstance(depends, str):
            depends = [depends]
        if not isinstance(depends, list) or \
                not all(isinstance(d, str) for d in depends):
            _fail("must be a resource name or a list of resource names",
                  path + ("depends_on",))
        self.depends_on = list(dict.fromkeys(depends))
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            _fail("must be a string", path + ("description",))
        self.description = description or ""
        self.condition = None
        if "condition" in data:
            self.condition = parser.parse_condition(data["condition"],
                                                    path + ("condition",))
        self.timeout = data.get("timeout")
        if self.timeout is not None and (
                not isinstance(self.timeout, numbers.Real) or
                isinstance(self.timeout, bool) or self.timeout <= 0):
            _fail("must be a positive number of seconds", path + ("timeout",))
        self.retries = data.get("retries", 0)
        if self.retries is None:
            self.retries = 0
        if not isinstance(self.retries, int) or \
                isinstance(self.retries, bool) or self.retries < 0:
            _fail("must be a non-negative integer", path + ("retries",))


class _OutputSnippet:
    def __init__(self, name, data, parser, version):
        path = ("outputs", name)
        self.name = name
        self.raw = data
        if not isinstance(data, dict):
            _fail("an output must be a map with a value", path)
        unknown = sorted(set(data) - version.output_keys)
        if unknown:
            _fail("unknown key(s) %s in output (allowed: %s)"
                  % (", ".join(repr(k) for k in unknown),
                     ", ".join(sorted(version.output_keys))), path)
        if "value" not in data:
            _fail("missing value", path)
        self.value = parser.parse(data["value"], path + ("value",))
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            _fail("must be a string", path + ("description",))
        self.description = description or ""
        self.condition = None
        if "condition" in data:
            self.condition = parser.parse_condition(data["condition"],
                                                    path + ("condition",))


def _check_files(files, limits):
    total = 0
    for name, content in files.items():
        if isinstance(content, str):
            total += len(content.encode("utf-8", "surrogatepass"))
        elif isinstance(content, (bytes, bytearray)):
            total += len(content)
        if total > limits.max_files_bytes:
            raise exception.LimitExceeded(
                "the files map holds more than %d bytes (max_files_bytes)"
                % limits.max_files_bytes, "files")


class Template:
    """A parsed HOT template.  Build with :meth:`load` or :meth:`from_dict`."""

    def __init__(self, data, files=None, limits=None):
        self.limits = limits or loader.DEFAULT_LIMITS
        if not isinstance(data, dict):
            _fail("template must be a map of sections, got %s"
                  % functions._kind(data), "template")
        resources = data.get("resources")
        if isinstance(resources, dict):
            for name in resources:
                if not isinstance(name, str):
                    _fail("resource name %r must be a string" % (name,),
                          "resources")
        self._data = loader.normalise(data, self.limits)
        # kept as given (any Mapping): the caller owns the files map
        self.files = files if files is not None else {}
        if isinstance(self.files, dict):
            _check_files(self.files, self.limits)
        data = self._data
        cfn_format = cfn.format_of(data)
        mappings = {}
        if cfn_format is not None:
            # read through its HOT equivalent; self._data stays as written
            self._version = cfn.CfnVersion(*cfn_format)
            mappings = cfn.mappings(data)
            data = cfn.translate(data, cfn_format[0])
        elif "heat_template_version" not in data:
            _fail("missing heat_template_version (not a HOT template, nor "
                  "a CloudFormation one with AWSTemplateFormatVersion?)",
                  "template")
        else:
            self._version = versions.get(data["heat_template_version"])
        self.version = self._version.date
        unknown = sorted(set(data) - self._version.sections)
        if unknown:
            hint = ""
            if "conditions" in unknown:
                hint = " (conditions need heat_template_version " \
                       "2016-10-14 or later)"
            _fail("unknown section(s) %s (allowed: %s)%s"
                  % (", ".join(repr(s) for s in unknown),
                     ", ".join(sorted(self._version.sections)), hint),
                  unknown[0])
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            _fail("must be a string", "description")
        self.description = description or ""
        self.parameter_schemas = parameters.parse_schemas(
            data.get("parameters"), self._version)
        parameters.validate_groups(data.get("parameter_groups"),
                                   self.parameter_schemas)
        self.hidden_parameters = frozenset(
            n for n, s in self.parameter_schemas.items() if s.hidden)
        # Store hidden/immutable as the booleans they were read as
        # ("yes", 1, "on" ...): readers of the stored template (stack
        # show masks hidden parameters) must see what the parser saw.
        for name, schema in self.parameter_schemas.items():
            for key in ("hidden", "immutable"):
                if key in data["parameters"][name]:
                    data["parameters"][name][key] = bool(
                        getattr(schema, key))
            if cfn_format is not None and \
                    "NoEcho" in self._data["Parameters"][name]:
                self._data["Parameters"][name]["NoEcho"] = schema.hidden

        cond_data = data.get("conditions") or {}
        if not isinstance(cond_data, dict):
            _fail("must be a map of condition definitions", "conditions")
        res_names = data.get("resources")
        parser = Parser(self._version, self.parameter_schemas,
                        cond_data, self.limits,
                        resource_names=res_names if isinstance(
                            res_names, dict) else (),
                        mappings=mappings)
        self._parser = parser
        for name, expr in cond_data.items():
            # Heat's Conditions take a boolean or a function as the whole
            # definition; a name is only an argument of not/and/or/if.
            if isinstance(expr, str):
                _fail("the definition of a condition must be a boolean or "
                      "a condition function, not the name %r" % (expr,),
                      ("conditions", name))
        self._conditions = {
            name: parser.parse_condition(expr, ("conditions", name))
            for name, expr in cond_data.items()}

        res_data = data.get("resources") or {}
        if not isinstance(res_data, dict):
            _fail("must be a map of resource definitions", "resources")
        if len(res_data) > self.limits.max_resources:
            raise exception.LimitExceeded(
                "template has %d resources, more than the limit of %d "
                "(max_resources)" % (len(res_data), self.limits.max_resources),
                "resources")
        self._resources = collections.OrderedDict(
            (name, _ResourceSnippet(name, snippet, parser, self._version))
            for name, snippet in res_data.items())

        out_data = data.get("outputs") or {}
        if not isinstance(out_data, dict):
            _fail("must be a map of output definitions", "outputs")
        self._outputs = collections.OrderedDict(
            (name, _OutputSnippet(name, snippet, parser, self._version))
            for name, snippet in out_data.items())
        # What Heat would accept silently but is likely a mistake (a
        # function too new for the version, kept as data): for validate.
        self.warnings = tuple(parser.warnings)

    # -- construction ---------------------------------------------------------
    @classmethod
    def load(cls, source, files=None, limits=None):
        """Load from a dict, YAML/JSON text (str/bytes) or a file path."""
        limits = limits or loader.DEFAULT_LIMITS
        if isinstance(source, Template):
            return cls.from_dict(source.to_dict(), files or source.files,
                                 limits)
        if isinstance(source, dict):
            return cls(source, files, limits)
        if loader.looks_like_path(source):
            source = loader.read_path(os.fspath(source), limits)
        if isinstance(source, (str, bytes, bytearray)):
            return cls(loader.parse_text(source, limits), files, limits)
        _fail("template must be a map, YAML/JSON text or a file path, got %s"
              % type(source).__name__, "template")

    @classmethod
    def from_dict(cls, data, files=None, limits=None):
        return cls(data, files, limits)

    @property
    def outputs(self):
        """The output declarations, by name (each with a ``description``):
        a template resource's attributes."""
        return dict(self._outputs)

    def to_dict(self):
        """The raw template as JSON-serialisable data (a deep copy)."""
        return copy.deepcopy(self._data)

    def __repr__(self):
        return "<Template %s: %d resources>" % (self.version,
                                                len(self._resources))

    # -- binding ------------------------------------------------------------
    def bind(self, parameters=None, *, stack_name="stack", stack_id="",
             project_id="", registry=None):
        values = _bind_parameters(self, parameters, stack_name, stack_id,
                                  project_id)
        with _hiding(self, values, parameters):
            return StackDefinition(self, values, stack_name, stack_id,
                                   registry)


class _hiding:
    """Mask the values of hidden parameters in validation errors raised in
    the block: a function or a property check may quote the value it
    was given, which may come from a hidden parameter."""

    def __init__(self, template, values, given=None):
        self.secrets = _secret_texts(
            [values.get(n) for n in template.hidden_parameters] +
            [(given or {}).get(n) for n in template.hidden_parameters])

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None and self.secrets and \
                isinstance(exc, exception.StackValidationFailed):
            _redact(exc, self.secrets)
        return False


def _secret_texts(values):
    texts = set()
    for value in values:
        if value is None or isinstance(value, bool):
            continue
        forms = {str(value), repr(value)}
        try:
            forms.add(json.dumps(value))
            forms.add(json.dumps(value, ensure_ascii=False))
        except (TypeError, ValueError):
            pass
        if isinstance(value, (list, dict)):
            forms.update(_secret_texts(
                value if isinstance(value, list) else value.values()))
        for text in forms:
            if len(text) >= 3:
                texts.add(text)
            elif text:
                # too short to mask everywhere: only where quoted
                texts.update(q + text + q for q in ("'", '"'))
    # longest first, so that a value's JSON form is masked before its
    # bare text
    return sorted(texts, key=len, reverse=True)


def _redact(exc, secrets):
    message = exc.message
    for text in secrets:
        message = message.replace(text, HIDDEN)
    if message != exc.message:
        exc.message = message
        exc.args = ((exc.path + ": " + message) if exc.path else message,)


HIDDEN = "******"


def _bind_parameters(template, given, stack_name, stack_id, project_id):
    return parameters.bind(template.parameter_schemas, given, stack_name,
                           stack_id, project_id)


class StackDefinition:
    """A template with its parameter values: what a stack should be."""

    def __init__(self, template, values, stack_name, stack_id, registry=None):
        self.template = template
        self.parameters = values
        self.stack_name = stack_name
        self.stack_id = stack_id
        # The registry types were checked against (the environment's type
        # aliases included): the one to find this definition's plugins in.
        self.registry = registry
        self.conditions = Conditions(template._conditions, values)
        self.conditions.evaluate_all()
        self._static = self.context(deferred=_RUNTIME)

        self.resources = collections.OrderedDict()
        disabled = set()
        for name, snip in template._resources.items():
            if snip.condition is not None and not evaluate_condition(
                    snip.condition, self._static,
                    ("resources", name, "condition")):
                disabled.add(name)
                continue
            self.resources[name] = ResourceDefinition(self, snip)
        self._disabled = disabled

        # Heat shows an output its condition disables, with value None
        # (and never evaluates its value, which may name disabled things).
        self.outputs = collections.OrderedDict()
        for name, snip in template._outputs.items():
            enabled = snip.condition is None or evaluate_condition(
                snip.condition, self._static, ("outputs", name, "condition"))
            self.outputs[name] = OutputDefinition(self, snip, enabled)

        classes = {}
        if registry is not None:
            for name, defn in self.resources.items():
                classes[name] = registry.get_class(
                    defn.type, path="resources.%s.type" % name)
        self._check_references(classes if registry is not None else None)
        deps.check_acyclic(self.dependencies(), list(self.resources))

    # -- evaluation helpers -------------------------------------------------
    def context(self, refs=None, attrs=None, deferred=None,
                deferred_ref=None):
        return functions.Context(
            self.parameters, condition=self.conditions.is_enabled,
            refs=refs, attrs=attrs, files=self.template.files,
            limits=self.template.limits, deferred=deferred,
            deferred_ref=deferred_ref)

    def _check_target(self, target, path):
        if target in self.resources:
            return
        if target in self._disabled:
            _fail("resource %r is disabled by its condition" % (target,), path)
        _fail("unknown resource %r" % (target,), path)

    def _check_references(self, classes):
        ctx = self._static

        def check(tree):
            for f in functions.walk(tree, ctx):
                if isinstance(f, functions.GetResource):
                    self._check_target(f.resource, f.path)
                elif isinstance(f, functions.GetAttr):
                    self._check_target(f.resource, f.path)
                    attr = f.attribute_name(ctx)
                    if classes is not None and attr is not None:
                        _check_attribute(classes[f.resource], f.resource,
                                         attr, f.path)
                elif isinstance(f, functions.GetFile):
                    f.content(self.template.files)
            # evaluate what can be evaluated now: argument errors surface
            # here, before any resource is touched
            functions.resolve(tree, ctx)

        for name, defn in self.resources.items():
            for target in defn.depends_on:
                # Heat lets depends_on name a resource its condition
                # disabled, and drops the edge (required_resources does).
                if target not in self._disabled:
                    self._check_target(target,
                                       ("resources", name, "depends_on"))
            check(defn._snippet.properties)
            check(defn._snippet.metadata)
        for out in self.outputs.values():
            check(out._value)

    # -- public ---------------------------------------------------------------
    def dependencies(self):
        return {name: defn.required_resources()
                for name, defn in self.resources.items()}

    def attribute_refs(self, name):
        """The attributes of ``name`` that other resources and the outputs
        read (indexed once for the whole stack: asked once per resource,
        a scan each time would be quadratic)."""
        index = self.__dict__.get("_attr_index")
        if index is None:
            index = {}
            for other, defn in self.resources.items():
                for r, a in defn.attribute_refs():
                    if r != other:
                        index.setdefault(r, set()).add(a)
            for out in self.outputs.values():
                for r, a in out.attribute_refs():
                    index.setdefault(r, set()).add(a)
            self._attr_index = index
        return frozenset(index.get(name, ()))

    def validate(self, registry, timeout_mins=None, context=None):
        """Full validation, properties included, against ``registry``;
        ``timeout_mins``: the stack's timeout, for plugins' validate()."""
        with _hiding(self.template, self.parameters):
            self._validate(registry, timeout_mins, context)

    def _validate(self, registry, timeout_mins, context):
        from heatflow import plugin_factory
        from heatflow import properties as props_mod  # written in parallel
        from heatflow import stack_view
        view = stack_view.StackView(self.stack_name, self.stack_id,
                                    definition=self,
                                    timeout_mins=timeout_mins,
                                    context=context)
        for name, defn in self.resources.items():
            cls = registry.get_class(defn.type,
                                     path="resources.%s.type" % name)
            # (What another resource gives is not known yet: the
            # plugin's validate() reads it as in Heat's validation.)
            values = defn._resolve(defn._snippet.properties,
                                   self.context(
                                       deferred=props_mod.DEFERRED,
                                       deferred_ref=props_mod.PendingRef),
                                   "properties")
            # Translated first, as Heat validates: a deprecated property
            # its rules move elsewhere is checked where it lands.  (No
            # client is asked before anything is created.)
            props = plugin_factory.properties_for(
                cls, name, values, client_resolve=False, validate=False)
            plugin_factory.validate_plugin(cls, name, defn, props, view)

    def resolve_outputs(self, refs, attrs):
        out = {}
        for name, defn in self.outputs.items():
            try:
                out[name] = {"value": defn.resolve(refs, attrs),
                             "description": defn.description}
            except Exception as exc:  # an output must never fail the stack
                out[name] = {"value": None, "description": defn.description,
                             "error": str(exc)}
        return out


def _check_attribute(cls, resource, attr, path):
    from heatflow import resource as resource_mod  # (layering: below)
    if not getattr(cls, "strict_attributes", True):
        return
    own = getattr(cls, "get_attribute", None)
    if own is not None and isinstance(cls, type) and \
            issubclass(cls, resource_mod.Resource) and \
            own is not resource_mod.Resource.get_attribute:
        # Heat's rule: a plugin resolving attributes itself (OS::Heat::None
        # answers any name) is not held to its schema.
        return
    schema = getattr(cls, "attributes_schema", None) or {}
    if attr not in schema and attr != "show":
        _fail("unknown attribute %r of resource %r" % (attr, resource), path)


def _refs_of(trees, ctx):
    resources, attributes = set(), set()
    for tree in trees:
        for f in functions.walk(tree, ctx):
            if isinstance(f, functions.GetResource):
                resources.add(f.resource)
            elif isinstance(f, functions.GetAttr):
                resources.add(f.resource)
                attributes.add((f.resource, f.attribute_name(ctx)))
    return resources, attributes


class ResourceDefinition:
    """One enabled resource of a :class:`StackDefinition`."""

    def __init__(self, stack, snippet):
        self._stack = stack
        self._snippet = snippet
        static = stack._static
        path = ("resources", snippet.name)
        self.name = snippet.name
        self.type = snippet.type
        self.description = snippet.description
        self.condition = snippet.raw.get("condition")
        self.depends_on = list(snippet.depends_on)
        self.timeout = float(snippet.timeout) \
            if snippet.timeout is not None else None
        self.retries = snippet.retries

        policy = functions.resolve(snippet.deletion_policy, static)
        if policy is None:
            policy = "Delete"
        version = stack.template._version
        if policy not in version.deletion_policies:
            _fail("invalid deletion policy %r (allowed: %s)"
                  % (policy, ", ".join(sorted(set(
                      version.deletion_policies.values())))),
                  path + ("deletion_policy",))
        self.deletion_policy = version.deletion_policies[policy]

        update_policy = functions.resolve(snippet.update_policy, static)
        if functions.contains_deferred(update_policy, _RUNTIME):
            _fail("must not depend on resources", path + ("update_policy",))
        if update_policy is not None and not isinstance(update_policy, dict):
            _fail("must be a map", path + ("update_policy",))
        self.update_policy = update_policy or {}

        self._required, self._attrs = _refs_of(
            (snippet.properties, snippet.metadata), static)
        self._required.update(self.depends_on)

    @property
    def stack_definition(self):
        """The :class:`StackDefinition` this resource belongs to."""
        return self._stack

    def required_resources(self):
        return frozenset(r for r in self._required
                         if r in self._stack.resources)

    def attribute_refs(self):
        return frozenset(self._attrs)

    def _resolve(self, tree, ctx, what):
        value = functions.resolve(tree, ctx)
        if value is None or value is functions.OMIT:
            return {}
        if not isinstance(value, dict):
            _fail("must be a map, got %s" % functions._kind(value),
                  ("resources", self.name, what))
        return value

    def resolve_properties(self, refs, attrs):
        return self._resolve(self._snippet.properties,
                             self._stack.context(refs, attrs), "properties")

    def resolve_metadata(self, refs, attrs):
        return self._resolve(self._snippet.metadata,
                             self._stack.context(refs, attrs), "metadata")

    def to_dict(self):
        return copy.deepcopy(self._snippet.raw)

    def __repr__(self):
        return "<ResourceDefinition %s (%s)>" % (self.name, self.type)


class OutputDefinition:
    """One enabled output of a :class:`StackDefinition`."""

    def __init__(self, stack, snippet, enabled=True):
        self._stack = stack
        self._snippet = snippet
        self.name = snippet.name
        self.description = snippet.description
        self.condition = snippet.raw.get("condition")
        self.enabled = enabled
        self._value = snippet.value if enabled else None
        self._required, self._attrs = _refs_of((self._value,),
                                               stack._static)

    def required_resources(self):
        return frozenset(self._required)

    def attribute_refs(self):
        return frozenset(self._attrs)

    def resolve(self, refs, attrs):
        value = functions.resolve(self._value,
                                  self._stack.context(refs, attrs))
        return None if value is functions.OMIT else value

    def __repr__(self):
        return "<OutputDefinition %s>" % self.name
