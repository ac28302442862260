"""Environments: what ``-e env.yaml`` adds to a template.

An environment is a mapping of up to three sections:

``parameters``
    values for the template's parameters;
``parameter_defaults``
    new defaults for parameters the template declares (ignored for others,
    so one environment can serve several templates);
``resource_registry``
    type aliases: ``My::Server: OS::Heat::None`` makes resources of type
    ``My::Server`` use the plugin of ``OS::Heat::None``.  An alias may name
    another alias; ``Prefix::*: Other::*`` maps every type of one prefix.

Several environments merge as Heat merges them: later ones win, key by key
within each section.  The merged environment is stored with the stack's
template, so every engine that later works on the stack resolves types the
same way.
"""

from heatflow import exception
from heatflow.template import loader

SECTIONS = ("parameters", "parameter_defaults", "resource_registry")

# Chains longer than this are cycles (or not worth following).
_MAX_ALIAS_DEPTH = 16


class Environment:
    """A validated environment; see the module documentation."""

    def __init__(self, parameters=None, parameter_defaults=None,
                 resource_registry=None):
        self.parameters = dict(parameters or {})
        self.parameter_defaults = dict(parameter_defaults or {})
        self.resource_registry = dict(resource_registry or {})

    # -- reading ------------------------------------------------------------

    @classmethod
    def load(cls, source, where="environment", limits=None):
        """An Environment from a mapping, YAML text (str or bytes), None or
        an Environment.  ``where`` starts the paths errors name (None: the
        sections themselves, for a caller that names the file).  Text is
        read as templates are, within ``limits`` (size, nesting, YAML
        aliases; :class:`heatflow.template.Limits`)."""
        if source is None or isinstance(source, Environment):
            return source or cls()
        limits = limits or loader.DEFAULT_LIMITS
        if isinstance(source, (bytes, bytearray, str)):
            text = source.decode("utf-8", "replace") \
                if isinstance(source, (bytes, bytearray)) else source
            if not text.strip():
                return cls()
            try:
                source = loader.parse_text(source, limits,
                                           what="environment")
            except exception.StackValidationFailed as exc:
                # the message says "environment ..."; the path is the
                # caller's
                raise type(exc)(exc.message, where) from None
            if source is None:
                return cls()
        source = loader.normalise(source, limits,
                                  path=(where,) if where else ())
        if not isinstance(source, dict):
            raise exception.StackValidationFailed(
                "an environment must be a mapping of sections", where)
        sections = {}
        for section, value in source.items():
            path = section if where is None else "%s.%s" % (where, section)
            if section not in SECTIONS:
                raise exception.StackValidationFailed(
                    "unknown or unsupported section %r (supported: %s)"
                    % (section, ", ".join(SECTIONS)), where)
            if value is None:
                continue
            if not isinstance(value, dict):
                raise exception.StackValidationFailed(
                    "must be a mapping", path)
            if section == "resource_registry":
                _check_registry(value, path)
            sections[section] = value
        return cls(**sections)

    @classmethod
    def merge(cls, environments):
        """One environment from several, later ones winning."""
        out = cls()
        for env in environments:
            out = out.merged_with(env)
        return out

    def merged_with(self, other):
        """This environment overlaid with ``other`` (which wins)."""
        other = Environment.load(other)
        merged = Environment(self.parameters, self.parameter_defaults,
                             self.resource_registry)
        merged.parameters.update(other.parameters)
        merged.parameter_defaults.update(other.parameter_defaults)
        merged.resource_registry.update(other.resource_registry)
        return merged

    # -- using --------------------------------------------------------------

    def parameter_values(self, declared, given=None):
        """The values a stack's parameters get: ``parameter_defaults`` of
        the ``declared`` parameters, overridden by ``parameters``,
        overridden by ``given`` (e.g. ``--parameter`` on the command
        line)."""
        values = {k: v for k, v in self.parameter_defaults.items()
                  if k in declared}
        values.update(self.parameters)
        values.update(given or {})
        return values

    def registry(self, base, files=None, limits=None):
        """``base`` seen through this environment's type aliases, where a
        type naming a template file of ``files`` is a template resource
        (heatflow/plugins/template_resource.py).  Every alias must end at
        a type ``base`` knows or a template file."""
        from heatflow.plugins import template_resource
        base = template_resource.TemplateTypes(
            base, files, self.resource_registry, limits=limits)
        if not self.resource_registry:
            return base
        aliased = AliasedRegistry(base, self.resource_registry)
        for alias in self.resource_registry:
            if not alias.endswith("*"):
                aliased.get_class(alias, path=_registry_path(alias))
        return aliased

    def to_dict(self):
        """The sections that are not empty, as stored with a template."""
        out = {}
        for section in SECTIONS:
            value = getattr(self, section)
            if value:
                out[section] = dict(value)
        return out

    def __eq__(self, other):
        return isinstance(other, Environment) and \
            self.to_dict() == other.to_dict()

    def __repr__(self):
        return "<Environment %r>" % (self.to_dict(),)


def _registry_path(alias):
    return "environment.resource_registry.%s" % alias


def _check_registry(registry, path):
    for alias, target in registry.items():
        where = "%s.%s" % (path, alias)
        if alias == "resources":
            raise exception.StackValidationFailed(
                "per-resource registry entries are not supported; map "
                "types instead", where)
        if not isinstance(alias, str) or not alias:
            raise exception.StackValidationFailed(
                "a type alias must be a non-empty string, not %r"
                % (alias,), path)
        if not isinstance(target, str) or not target:
            raise exception.StackValidationFailed(
                "must map to a resource type name, not %r" % (target,),
                where)
        if "://" in target:
            raise exception.StackValidationFailed(
                "%r refused: a type maps to a template of the files map; "
                "heatflow fetches nothing" % target, where)
        if alias.endswith("*") != target.endswith("*"):
            raise exception.StackValidationFailed(
                "a wildcard alias maps a prefix to a prefix: both or "
                "neither must end with '*'", where)
        if "*" in alias[:-1]:
            raise exception.StackValidationFailed(
                "'*' may only end an alias", where)


class AliasedRegistry:
    """A plugin registry seen through type aliases.

    Reading only: looks types up, following aliases (exact ones before
    wildcards, the longest wildcard prefix first) to a type the base
    registry knows.  An alias takes precedence over a registered type of
    the same name, so an environment can swap a plugin out
    (``OS::Nova::Server: OS::Heat::None``)."""

    def __init__(self, base, aliases):
        self.base = base
        self._exact = {k: v for k, v in aliases.items()
                       if not k.endswith("*")}
        self._prefixes = sorted(
            ((k[:-1], v[:-1]) for k, v in aliases.items()
             if k.endswith("*")), key=lambda kv: -len(kv[0]))

    def resolve(self, type_name, path=None):
        """The registered type ``type_name`` stands for."""
        seen = [type_name]
        current = type_name
        while True:
            target = self._target(current)
            if target is None or target == current:
                return current
            if target in seen or len(seen) > _MAX_ALIAS_DEPTH:
                raise exception.StackValidationFailed(
                    "type aliases form a loop: %s" % " -> ".join(
                        seen + [target]), path or _registry_path(type_name))
            seen.append(target)
            current = target

    def _target(self, type_name):
        if not isinstance(type_name, str):
            return None
        target = self._exact.get(type_name)
        if target is not None:
            return target
        for prefix, replacement in self._prefixes:
            if type_name.startswith(prefix):
                return replacement + type_name[len(prefix):]
        return None

    def get_class(self, type_name, path=None):
        resolved = self.resolve(type_name, path)
        if resolved == type_name:
            return self.base.get_class(type_name, path)
        try:
            return self.base.get_class(resolved)
        except exception.UnknownResourceType:
            raise exception.UnknownResourceType(
                "type %s is an alias of unknown resource type %s"
                % (type_name, resolved), path or _registry_path(type_name)
            ) from None

    def __contains__(self, type_name):
        try:
            return self.resolve(type_name) in self.base
        except exception.StackValidationFailed:
            return False

    def types(self):
        return sorted(set(self.base.types()) | set(self._exact))

    def __repr__(self):
        return "<AliasedRegistry %d aliases over %r>" % (
            len(self._exact) + len(self._prefixes), self.base)
