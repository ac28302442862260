"""OS::Heat::TestResource: a resource with knobs, for testing the engine.

It stores ``value`` (the ``output`` attribute) and can be told to take time
(``wait_secs``, ``action_wait_secs``), to fail (``fail``) or to need
replacement on update (``update_replace``).  Waiting is done by polling:
``handle_*`` returns a token holding the wall-clock start time, and
``check_*_complete`` answers "not yet" until the time has passed, so a
worker is never blocked and a resumed action keeps its original start time.
It knows when its wait ends, so it says so (``resource.PollDelay`` for the
time left), as a well-written plugin does: it is polled once more, when
the time has passed, not on the engine's back-off.
"""

import time

from heatflow import attributes, constraints, exception, properties, resource

P = properties.Schema


def _sleep_constraint(value):
    """The ``test_constr`` custom constraint: takes ``value`` seconds, to
    simulate a slow lookup during validation (as Heat's does)."""
    if isinstance(value, (int, float)) and value > 0:
        time.sleep(value)
    return True


constraints.register_custom("test_constr", _sleep_constraint)

# Wall-clock time, not monotonic: a token's start time must mean the same in
# the process that resumes the action.  A module attribute so tests can
# move time forward.
_clock = time.time


class TestResource(resource.Resource):
    """A resource with knobs for testing: it can wait, fail or need
    replacement on update."""

    __test__ = False        # not a pytest test class despite the name

    properties_schema = {
        "value": P(P.STRING, "The input string to be stored.",
                   default="test_string", update_allowed=True),
        "update_replace_value": P(P.STRING, "Some value that can be stored "
                                  "but can not be updated."),
        "fail": P(P.BOOLEAN, "Value which can be set to fail the resource "
                  "operation to test failure scenarios.",
                  default=False, update_allowed=True),
        "update_replace": P(P.BOOLEAN, "Value which can be set to trigger "
                            "update replace for the particular resource.",
                            default=False, update_allowed=True),
        "wait_secs": P(P.NUMBER, "Seconds to wait after an action "
                       "(-1 is infinite).", default=0, update_allowed=True),
        "action_wait_secs": P(
            P.MAP, "Options for simulating waiting.", update_allowed=True,
            schema={
                action: P(P.NUMBER, "Seconds to wait after a %s. Defaults to "
                          "the global wait_secs." % action,
                          update_allowed=True)
                for action in ("create", "update", "delete")
            }),
        "attr_wait_secs": P(P.NUMBER, "Number value for timeout during "
                            "resolving output value.", default=0,
                            update_allowed=True),
        "constraint_prop_secs": P(
            P.NUMBER, "Number value for delay during resolve constraint.",
            default=0, update_allowed=True,
            constraints=[constraints.CustomConstraint("test_constr")]),
        # Heat polls a named client's entity while waiting; heatflow has no
        # clients, so these are accepted and ignored.
        "client_name": P(P.STRING, "Client to poll.", default="",
                         update_allowed=True),
        "entity_name": P(P.STRING, "Client entity to poll.", default="",
                         update_allowed=True),
    }
    attributes_schema = {
        "output": attributes.Schema(
            "The string that was stored. This value is also available by "
            "referencing the resource.", cache_mode=attributes.CACHE_NONE),
    }

    def _wait_secs(self, action, props=None):
        props = props if props is not None else self.properties
        secs = (props["action_wait_secs"] or {}).get(action)
        if secs is None:
            secs = props["wait_secs"]
        return secs

    @staticmethod
    def _token(action, wait_secs, fail):
        # Plain JSON-able values: the engine may persist the token and hand
        # it to check_*_complete in another process after a resume.
        return {"action": action, "started_at": _clock(),
                "wait_secs": wait_secs, "fail": bool(fail)}

    def handle_create(self):
        if not self.properties["fail"]:
            self.data_set("value", self.properties["value"], redact=False)
            self.resource_id_set(self.physical_resource_name())
        return self._token("create", self._wait_secs("create"),
                           self.properties["fail"])

    def needs_replace_with_prop_diff(self, changed_keys, after_props,
                                     before_props):
        # Any change made while update_replace is set (in the new
        # properties) replaces; this covers both Heat generations' triggers
        # (a changed value, or update_replace itself turned on) and agrees
        # with handle_update, so a dry run plans what an update does.
        return bool(changed_keys) and bool(after_props["update_replace"])

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        after = self._after_properties(prop_diff)
        if after["update_replace"] and prop_diff:
            raise exception.UpdateReplace(self.name)
        if "value" in prop_diff:
            if not after["fail"]:
                self.data_set("value", after["value"], redact=False)
            return self._token("update", self._wait_secs("update", after),
                               after["fail"])
        # Nothing to store: completes at once, but still fails if asked to.
        return self._token("update", 0, after["fail"])

    def _after_properties(self, prop_diff):
        """The properties after this update: the current data with the diff
        applied (removed keys -> None -> default)."""
        data = dict(self.properties.data)
        data.update(prop_diff or {})
        return properties.Properties(self.properties_schema, data,
                                     path=("resources", self.name,
                                           "properties"))

    def handle_delete(self):
        # "fail" does not apply to delete (Heat's rule), so a failing test
        # resource can always be cleaned up.
        return self._token("delete", self._wait_secs("delete"), False)

    def _check_complete(self, token):
        if token is None:
            # Resumed by an engine that took over before the token was
            # recorded: the wait is forgotten, the action is done.
            return True
        wait_secs = token["wait_secs"]
        # wait_secs < 0 waits forever (until the engine's timeout).
        if wait_secs < 0:
            return False
        left = wait_secs - (_clock() - token["started_at"])
        if left > 0:
            raise resource.PollDelay(left)
        if token["fail"]:
            raise ValueError("Test Resource failed %s" % self.name)
        return True

    check_create_complete = _check_complete
    check_update_complete = _check_complete
    check_delete_complete = _check_complete

    def _resolve_attribute(self, name):
        secs = self.properties["attr_wait_secs"]
        if secs and secs > 0:
            # No polling protocol exists for attributes; Heat sleeps too.
            time.sleep(secs)
        if name == "output":
            return self.data().get("value")
        return None


def resource_mapping():
    return {"OS::Heat::TestResource": TestResource}
