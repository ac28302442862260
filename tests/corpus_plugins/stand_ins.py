"""Stand-ins for the OpenStack types of the HOT corpus (tests only).

A stand-in takes any properties, answers any attribute with None and
appends each create, update and delete it does to a journal file, one
line each: ``ACTION TYPE PHYSICAL_ID``.  In a test's own process a
registry builds them with :func:`stand_in`; as a plugin directory (the
command line, and the worker it detaches) :func:`resource_mapping` gives
one for each type named in ``HEATFLOW_CORPUS_STAND_INS`` (comma
separated), journaling to ``HEATFLOW_CORPUS_JOURNAL``.
"""

import os

from heatflow import resource

ENV_TYPES = "HEATFLOW_CORPUS_STAND_INS"
ENV_JOURNAL = "HEATFLOW_CORPUS_JOURNAL"


class StandIn(resource.Resource):
    """A service resource that exists only in the journal."""

    strict_properties = False
    strict_attributes = False
    journal_path = None     # None: the HEATFLOW_CORPUS_JOURNAL file

    def _note(self, action):
        path = self.journal_path or os.environ[ENV_JOURNAL]
        with open(path, "a") as f:
            f.write("%s %s %s\n" % (action, self.type(), self.resource_id))

    def handle_create(self):
        self.resource_id_set(self.physical_resource_name())
        self._note("create")

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        self._note("update")

    def handle_delete(self):
        self._note("delete")


def stand_in(type_name, journal_path=None):
    """A stand-in class for ``type_name`` (its own name in logs)."""
    return type("StandIn[%s]" % type_name, (StandIn,),
                {"journal_path": journal_path, "__module__": __name__})


def read_journal(path):
    """``[(action, type, physical id)]`` in the order they were done."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [tuple(line.split()) for line in f if line.strip()]


def never_deleted(entries):
    """What was created and not deleted exactly once (the physical ids),
    or deleted without being created."""
    made = sorted(e[2] for e in entries if e[0] == "create")
    gone = sorted(e[2] for e in entries if e[0] == "delete")
    return [] if made == gone else sorted(set(made) ^ set(gone)) or \
        ["(deleted twice)"]


def resource_mapping():
    names = os.environ.get(ENV_TYPES, "")
    return {name: stand_in(name) for name in names.split(",") if name}
