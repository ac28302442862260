"""How well a resource type, property or attribute is supported: Heat's
``support_status`` vocabulary, which plugins declare on their classes and
schemas (``support_status = support.SupportStatus(version="5.0.0")``).

heatflow keeps what a plugin declares; it does not refuse a type for its
status.
"""

from heatflow import exception

SUPPORT_STATUSES = (UNKNOWN, SUPPORTED, DEPRECATED, UNSUPPORTED, HIDDEN) = (
    "UNKNOWN", "SUPPORTED", "DEPRECATED", "UNSUPPORTED", "HIDDEN")


def is_valid_status(status):
    return status in SUPPORT_STATUSES


class SupportStatus:
    """A status, since which version, why (``message``), what it was
    before (``previous_status``, another SupportStatus: a history), and for
    a deprecated type the class that replaces it (``substitute_class``)."""

    def __init__(self, status=SUPPORTED, message=None, version=None,
                 previous_status=None, substitute_class=None):
        self.status = status
        self.message = message
        self.version = version
        self.previous_status = previous_status
        self.substitute_class = substitute_class
        self.validate()

    def validate(self):
        """As Heat: a status it does not know is UNKNOWN (with a message
        saying so), not an error; a history that is not a SupportStatus
        is the plugin's mistake, found when it is imported."""
        if not is_valid_status(self.status):
            self.message = "Specified status is invalid, defaulting to %s" \
                % UNKNOWN
            self.status = UNKNOWN
            self.version = None
        if self.previous_status is not None and \
                not isinstance(self.previous_status, SupportStatus):
            raise exception.PluginError(
                "previous_status must be a SupportStatus, not %r"
                % (self.previous_status,))

    def to_dict(self):
        previous = self.previous_status
        return {"status": self.status, "message": self.message,
                "version": self.version,
                "previous_status": None if previous is None
                else previous.to_dict()}

    def __repr__(self):
        return "SupportStatus(%r, version=%r)" % (self.status, self.version)
