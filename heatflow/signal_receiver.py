"""heatflow's HTTP signal receiver (``heatflow signal-receiver``): what a
booted machine ``curl``\\ s to signal a wait condition handle.

``POST /signal/<stack name or id>/<resource>`` with the resource's secret
token in an ``X-Auth-Token`` header (the handle's ``curl_cli`` sends it
so) or a ``?token=`` query, and Heat's signal as a JSON body (``{"status",
"reason", "data", "id"}``; an empty body is a signal without details).
The signal is :meth:`heatflow.Orchestrator.signal_resource`'s, token
checked first: nothing is written for a request that is refused.

Answers: 200 ``{"reason": ...}``; 400 a body that is not JSON or a signal
the resource refuses; 403 no token, or one that no such resource has
(unknown stacks and resources read the same); 404 another path; 405
another method; 409 a resource that takes no signal now (being deleted,
never created, ...); 413 a body over 64 KiB; 500 anything else (logged).

The standard library's threading HTTP server: each request on a thread
of its own, the signal written before the answer is sent.
"""

import http.server
import json
import logging
import threading
import urllib.parse

from heatflow import exception

LOG = logging.getLogger(__name__)

#: The largest body taken (a signal's data is small; this bounds memory).
MAX_BODY = 64 * 1024

#: What an exception of the signal answers, most specific first.
_STATUS = ((exception.NotAuthorized, 403), (exception.NotFound, 404),
           (exception.ActionNotAllowed, 409),
           (exception.StackValidationFailed, 400),
           (exception.ResourceFailure, 400))


class SignalReceiver:
    """Serves signals for ``orchestrator``'s stacks on ``host``:``port``
    (0: any free port; :attr:`url` says which)."""

    def __init__(self, orchestrator, host="127.0.0.1", port=0):
        self.orchestrator = orchestrator
        handler = type("Handler", (_Handler,), {"receiver": self})
        self._server = http.server.ThreadingHTTPServer((host, port),
                                                       handler)
        self._server.daemon_threads = True
        self._thread = None

    @property
    def url(self):
        """Where it listens: the value for ``HEATFLOW_SIGNAL_URL``."""
        host, port = self._server.server_address[:2]
        return "http://%s:%d" % (host, port)

    def serve_forever(self):
        self._server.serve_forever()

    def start(self):
        """Serve on a thread of its own; returns self."""
        self._thread = threading.Thread(target=self.serve_forever,
                                        name="signal-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving (from another thread than serve_forever's)."""
        self._server.shutdown()

    def close(self):
        if self._thread is not None:
            self.stop()
            self._thread.join()
        self._server.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    receiver = None             # set on the subclass each receiver makes

    def do_POST(self):
        where = urllib.parse.urlsplit(self.path)
        parts = where.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "signal" or not all(parts):
            return self._reply(404, "no such endpoint: signals go to POST "
                               "/signal/<stack>/<resource>")
        stack, resource = (urllib.parse.unquote(p) for p in parts[1:])
        token = self.headers.get("X-Auth-Token") or \
            urllib.parse.parse_qs(where.query).get("token", [None])[0]
        if not token:
            return self._reply(403, "a signal needs the resource's token "
                               "(X-Auth-Token header or ?token=)")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._reply(400, "Content-Length is not a number")
        if length > MAX_BODY:
            return self._reply(413, "a signal's body is %d bytes at most"
                               % MAX_BODY)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            details = json.loads(body) if body.strip() else None
        except ValueError as exc:
            return self._reply(400, "the body is not JSON: %s" % exc)
        try:
            reason = self.receiver.orchestrator.signal_resource(
                stack, resource, details, token=token)
        except exception.HeatflowError as exc:
            for kind, status in _STATUS:
                if isinstance(exc, kind):
                    return self._reply(status, str(exc))
            LOG.exception("signal to %s of stack %s failed", resource, stack)
            return self._reply(500, "the signal could not be recorded: %s"
                               % exc)
        except Exception:
            LOG.exception("signal to %s of stack %s failed", resource, stack)
            return self._reply(500, "internal error: see the receiver's log")
        return self._reply(200, reason=reason)

    def _refuse_method(self):
        self._reply(405, "signals are POSTed", allow="POST")

    do_GET = do_PUT = do_DELETE = do_PATCH = _refuse_method

    def _reply(self, status, error=None, allow=None, **fields):
        if error is not None:
            fields["error"] = error
        body = json.dumps(fields).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if allow:
            self.send_header("Allow", allow)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        # (to the log, not stderr; tokens travel in headers, not here,
        # unless sent as ?token=: the path is not logged)
        LOG.info("%s %s -> %s", self.address_string(), self.command,
                 args[1] if len(args) > 1 else "")
