"""The request context: who asks for an operation, and with what
credentials (Heat's ``heat.common.context.RequestContext``).

Given by the caller, ``Orchestrator(context=...)`` for every operation or
``create_stack(..., context=...)`` for one, it reaches plugins as
``self.context`` and client plugins as their ``context`` (a client plugin
authenticates with its token and region), and binds ``OS::project_id``.

It travels with the operation: it is stored with the stack, sealed, so a
conductor or a detached worker running the operation has it too.  The
auth token is a secret: it is stored only when the database has an
encryption key (never in clear); without one, only the process that was
given it has the token, and an operation run elsewhere sees the context
without it (its client plugins then authenticate from their own
configuration).
"""

import collections.abc

FIELDS = ("user_id", "user_name", "project_id", "project_name",
          "region_name", "auth_token", "roles", "is_admin")
SECRETS = ("auth_token",)


class RequestContext:
    """``user_id``, ``user_name``, ``project_id``, ``project_name``,
    ``region_name``, ``auth_token``, ``roles`` (a list of names) and
    ``is_admin`` (default: ``"admin"`` among the roles).  Heat's names
    ``tenant_id``, ``tenant``, ``username`` and ``region`` are
    read-only aliases."""

    #: The field names (what ``coerce`` takes from a mapping).
    FIELDS = FIELDS

    def __init__(self, user_id=None, user_name=None, project_id=None,
                 project_name=None, region_name=None, auth_token=None,
                 roles=(), is_admin=None):
        if isinstance(roles, str) or not isinstance(
                roles, collections.abc.Iterable):
            raise TypeError("context roles must be a list of role names, "
                            "not %r" % (roles,))
        self.user_id = user_id
        self.user_name = user_name
        self.project_id = project_id
        self.project_name = project_name
        self.region_name = region_name
        self.auth_token = auth_token
        self.roles = [str(r) for r in roles]
        self.is_admin = ("admin" in self.roles) if is_admin is None \
            else bool(is_admin)

    tenant_id = property(lambda self: self.project_id)
    tenant = property(lambda self: self.project_name)
    username = property(lambda self: self.user_name)
    region = property(lambda self: self.region_name)

    @classmethod
    def coerce(cls, value, where="context"):
        """``value`` as a RequestContext: one already, or a mapping of its
        fields; None stays None.  TypeError naming ``where`` otherwise."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, collections.abc.Mapping):
            unknown = sorted(set(value) - set(FIELDS))
            if unknown:
                raise TypeError("%s: unknown field(s) %s (known: %s)" % (
                    where, ", ".join(unknown), ", ".join(FIELDS)))
            return cls(**value)
        raise TypeError("%s must be a heatflow.context.RequestContext or a "
                        "mapping of its fields, not %s"
                        % (where, type(value).__name__))

    def to_dict(self, secrets=True):
        """Its fields; without the auth token unless ``secrets``."""
        return {f: getattr(self, f) for f in FIELDS
                if secrets or f not in SECRETS}

    def __eq__(self, other):
        return isinstance(other, RequestContext) and \
            self.to_dict() == other.to_dict()

    def __repr__(self):
        shown = self.to_dict(secrets=False)
        if self.auth_token is not None:
            shown["auth_token"] = "***"
        return "RequestContext(%s)" % ", ".join(
            "%s=%r" % kv for kv in shown.items() if kv[1] not in (None, []))
