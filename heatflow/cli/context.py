"""What every command works with: the parsed options, the output streams
and, opened on first use, the Orchestrator."""

import inspect
import sys

import heatflow
from heatflow.cli import output


class CommandError(Exception):
    """A user error detected by the command line itself."""


class StoppedWaiting(Exception):
    """Ctrl-C while following an operation: the command stops waiting,
    the operation goes on (in its worker or on a conductor); the message
    says how to follow it again.  Exit status 130, no "ERROR"."""


class Context:
    """The parsed global options, the output streams and the Orchestrator
    (opened by the first command that asks for it)."""

    def __init__(self, args, stdout, stderr):
        self.args = args
        self.out = stdout
        self.err = stderr
        self.fmt = args.format
        self._orch = None
        self.detached = False

    @property
    def plugin_dirs(self):
        return list(self.args.plugin_dir or ()) + \
            list(getattr(self.args, "late_plugin_dir", None) or ())

    def orchestrator(self, starts_operation=False, detach=False,
                     serves=False):
        """The Orchestrator.  ``starts_operation``: the command changes a
        stack.  A read-only command only reads the database: it resumes
        no orphaned operation, creates no database where there is none (it
        reads an empty one) and does not connect to ZooKeeper.
        ``detach``: operations must outlive this process, when the
        Orchestrator supports it (see :attr:`detached`).  ``serves``: a
        server that starts no operation (the signal receiver): as a
        read-only command, but the database is created where there is
        none."""
        if self._orch is None:
            zookeeper = (self.args.zookeeper or None) if starts_operation \
                else None
            kwargs = {"db_url": self.args.db_url, "zookeeper": zookeeper,
                      "plugin_dirs": self.plugin_dirs}
            if self.args.zookeeper_auth and zookeeper:
                kwargs["zookeeper_auth"] = self.args.zookeeper_auth
            if zookeeper:
                # A command should not hang on a mistyped address; a
                # member that is down costs its share (kazoo tries the
                # members in turn).
                kwargs["zookeeper_connect_timeout"] = 2.0 * len(
                    zookeeper.split("/")[0].split(","))
            if not starts_operation:
                kwargs["resume"] = False
                # A server (the signal receiver) outlives this moment: it
                # must see the database once it exists, not an empty one.
                kwargs["create_database"] = serves
            if zookeeper:
                self.detached = True    # conductors run the operations
            elif detach and _supports_detach(heatflow.Orchestrator):
                kwargs["detach"] = True
                self.detached = True
            try:
                self._orch = heatflow.Orchestrator(**kwargs)
            except Exception as exc:
                if zookeeper and type(exc).__module__.startswith("kazoo"):
                    raise CommandError(
                        "cannot connect to ZooKeeper at %s: %s"
                        % (zookeeper, str(exc) or type(exc).__name__))
                raise
        return self._orch

    def print(self, text=""):
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, data, columns=None):
        self.print(output.render(data, self.fmt, columns))

    def note(self, text):
        """A progress line: on stdout in table format, on stderr otherwise
        so that stdout stays one JSON/YAML document."""
        stream = self.out if self.fmt == "table" else self.err
        stream.write(text + "\n")
        stream.flush()

    def confirm(self, question):
        """Ask on a terminal; anything but a terminal says yes (scripts)."""
        stdin = sys.stdin
        if stdin is None or not stdin.isatty():
            return True
        self.err.write(question + " [y/N]? ")
        self.err.flush()
        answer = stdin.readline()
        return answer.strip().lower() in ("y", "yes")

    def close(self):
        if self._orch is not None:
            orch, self._orch = self._orch, None
            orch.close()


def _supports_detach(cls):
    try:
        return "detach" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
