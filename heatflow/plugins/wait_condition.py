"""OS::Heat::WaitConditionHandle and OS::Heat::WaitCondition (Heat's).

A handle takes signals (``signal_resource``, ``heatflow stack resource
signal``, or heatflow's HTTP signal receiver with the handle's secret
``token``): ``{"status": "SUCCESS" | "FAILURE", "reason", "data", "id"}``,
every key optional (status SUCCESS, id the signal's number, reason
"Signal N received"); a signal with an id the handle has is counted once
(the later one wins).  Each is kept in the handle's plugin data, so it
survives the engine's death and is gone with the handle.

A WaitCondition's create waits until its handle has ``count`` SUCCESS
signals; a FAILURE signal fails it (with the signals' reasons), and so
does ``timeout`` seconds passing first ("0 of 1 received").  The wait's
end is an absolute time kept in the action's token, which the engine
stores: a create resumed after a crash or a takeover waits for what is
left, not ``timeout`` again.
"""

import json
import os
import secrets
import time

from heatflow import attributes, constraints, exception, properties, resource

P = properties.Schema

#: The statuses a signal may have (Heat's).
STATUSES = (SUCCESS, FAILURE) = ("SUCCESS", "FAILURE")
#: The keys a signal may have (Heat's).
KEYS = ("data", "reason", "status", "id")
#: Where a handle keeps each signal in its data: this, then its id.
SIGNAL_KEY = "signal:"
#: The base URL of heatflow's HTTP signal receiver (``heatflow
#: signal-receiver``), for the handles' ``endpoint`` and ``curl_cli``: read
#: by the process that creates the handle.
RECEIVER_URL = "HEATFLOW_SIGNAL_URL"


def signals_of(data):
    """``{id: {"status", "reason", "data"}}`` of the signals a handle's
    plugin data holds, in id order (numbers as numbers)."""
    found = {k[len(SIGNAL_KEY):]: json.loads(v) for k, v in data.items()
             if k.startswith(SIGNAL_KEY)}
    return dict(sorted(found.items(), key=lambda kv: (
        not kv[0].isdigit(), int(kv[0]) if kv[0].isdigit() else 0, kv[0])))


class WaitConditionHandle(resource.Resource):
    """Takes the signals a WaitCondition waits for."""

    properties_schema = {
        "signal_transport": P(
            P.STRING,
            "How the signals come: TOKEN_SIGNAL, an HTTP POST to heatflow's "
            "signal receiver with the handle's token (and the API); "
            "HEAT_SIGNAL, heatflow's API or command line only (no token: "
            "the receiver refuses every signal).  (Heat's other transports "
            "need services heatflow does not have.)",
            default="TOKEN_SIGNAL",
            constraints=[constraints.AllowedValues(["TOKEN_SIGNAL",
                                                    "HEAT_SIGNAL"])]),
    }
    attributes_schema = {
        "token": attributes.Schema(
            "The handle's secret: the signal receiver takes a signal for "
            "this handle only with it (X-Auth-Token header or ?token=).",
            type=attributes.Schema.STRING),
        "endpoint": attributes.Schema(
            "Where to POST a signal: heatflow's signal receiver (None when "
            "HEATFLOW_SIGNAL_URL was not set where the handle was created).",
            type=attributes.Schema.STRING),
        "curl_cli": attributes.Schema(
            "A curl command prefix signalling the handle: add "
            "--data-binary '{\"status\": \"SUCCESS\"}' (None without an "
            "endpoint).", type=attributes.Schema.STRING),
        "signal": attributes.Schema(
            "JSON map of what a signaller needs: endpoint and token, or "
            "the stack and resource to name to heatflow's API.",
            type=attributes.Schema.STRING),
    }

    def handle_create(self):
        self.resource_id_set(self.physical_resource_name())
        if self.properties["signal_transport"] != "TOKEN_SIGNAL":
            return              # (HEAT_SIGNAL: the API only, no token)
        self.data_set("token", secrets.token_urlsafe(24), redact=True)
        base = os.environ.get(RECEIVER_URL)
        if base:
            self.data_set("endpoint", "%s/signal/%s/%s" % (
                base.rstrip("/"), self.stack_id, self.name))

    def handle_signal(self, details=None):
        """Check and keep one signal; returns "Signal ID received"."""
        if details is None:
            details = {}
        if not isinstance(details, dict) or set(details) - set(KEYS) or \
                details.get("status", SUCCESS) not in STATUSES:
            raise ValueError(
                "a wait condition signal is a JSON object with the keys "
                "status (SUCCESS or FAILURE), reason, data and id, each "
                "optional; got %s" % json.dumps(details)[:200])
        if "id" in details:
            signal_id = str(details["id"])
            self.data_set(SIGNAL_KEY + signal_id,
                          self._entry(details, signal_id))
            return "Signal %s received" % signal_id
        number = len(signals_of(self.data())) + 1
        while True:
            # (Another signal may take the number first: the next one.)
            signal_id = str(number)
            if self.data_add(SIGNAL_KEY + signal_id,
                             self._entry(details, signal_id)):
                return "Signal %s received" % signal_id
            number += 1

    @staticmethod
    def _entry(details, signal_id):
        return json.dumps({
            "status": details.get("status", SUCCESS),
            "reason": details.get("reason",
                                  "Signal %s received" % signal_id),
            "data": details.get("data")})

    def _resolve_attribute(self, name):
        data = self.data()
        token, endpoint = data.get("token"), data.get("endpoint")
        if name == "token":
            return token
        if name == "endpoint":
            return endpoint
        if name == "curl_cli":
            if endpoint is None or token is None:
                return None
            return ("curl -i -X POST -H 'X-Auth-Token: %s' "
                    "-H 'Content-Type: application/json' "
                    "-H 'Accept: application/json' %s" % (token, endpoint))
        if name == "signal":
            if endpoint is not None:
                return json.dumps({"endpoint": endpoint, "token": token})
            return json.dumps({"stack": self.stack_name,
                               "resource": self.name})
        return None


class WaitConditionFailure(exception.Error):
    """A FAILURE signal reached the handle (its reasons, ``;``-joined)."""


class WaitConditionTimeout(exception.Error):
    """The timeout passed before ``count`` SUCCESS signals came."""


class WaitCondition(resource.Resource):
    """Waits, in its create (or update), for its handle's signals."""

    properties_schema = {
        "handle": P(P.STRING, "A reference to the wait condition handle "
                    "used to signal this wait condition.", required=True),
        "timeout": P(P.NUMBER, "The number of seconds to wait for the "
                     "correct number of signals to arrive.", required=True,
                     constraints=[constraints.Range(1, 43200)]),
        "count": P(P.INTEGER, "The number of success signals that must be "
                   "received before the stack creation process continues.",
                   default=1, update_allowed=True,
                   constraints=[constraints.Range(min=1)]),
    }
    attributes_schema = {
        "data": attributes.Schema(
            "JSON string of the data of the signals the handle had when "
            "the wait ended: {id: data}.", type=attributes.Schema.STRING),
    }
    #: Seconds between two looks at the handle's signals.
    poll_seconds = 1.0

    def _handle(self):
        ref = self.properties["handle"]
        handle = self.stack.resource_by_refid(ref)
        registry = getattr(self.stack.definition, "registry", None)
        cls = registry.get_class(handle.type) \
            if handle is not None and registry is not None else None
        if cls is None or not issubclass(cls, WaitConditionHandle):
            raise ValueError("%s is not a valid wait condition handle."
                             % (handle.name if handle is not None else ref))
        return handle

    def _start(self):
        return {"handle": self._handle().name,
                "until": time.time() + float(self.properties["timeout"])}

    def _wait(self, token):
        """True once ``count`` SUCCESS signals came; raises on a FAILURE
        one or past the timeout; else asks to be polled again soon."""
        if token is None:
            # (A create resumed whose token was never stored: its engine
            # died right after the handler.  The wait starts again, once.)
            if getattr(self, "_restarted", None) is None:
                self._restarted = self._start()
            token = self._restarted
        signals = self._signals(token)
        failed = [s["reason"] for s in signals.values()
                  if s["status"] != SUCCESS]
        if failed:
            raise WaitConditionFailure(";".join(failed))
        if len(signals) >= self.properties["count"]:
            return True
        left = token["until"] - time.time()
        if left <= 0:
            message = "%d of %d received" % (len(signals),
                                             self.properties["count"])
            if signals:
                message += " - " + ";".join(s["reason"]
                                            for s in signals.values())
            raise WaitConditionTimeout(message)
        raise resource.PollDelay(min(self.poll_seconds, left))

    def _signals(self, token):
        return signals_of(self.stack[token["handle"]].data())

    handle_create = _start
    check_create_complete = _wait

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        # Heat's: an update waits again (a new count, say), from now.
        return self._start()

    check_update_complete = _wait

    def _resolve_attribute(self, name):
        if name != "data":
            return None
        try:
            handle = self._handle()
        except ValueError:
            return None
        return json.dumps({k: s["data"] for k, s in signals_of(
            handle.data()).items()})


def resource_mapping():
    return {"OS::Heat::WaitConditionHandle": WaitConditionHandle,
            "OS::Heat::WaitCondition": WaitCondition}
