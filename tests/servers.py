"""Real servers for the functional tests: ZooKeeper and PostgreSQL.

Both run as child processes of the test run, on 127.0.0.1 and a free port,
with every file (configuration, data, logs, sockets) in a private directory
under the system temp dir::

    with ZooKeeperServer() as zk:           # start() ... stop() + cleanup()
        KazooClient(zk.hosts)
    with PostgresServer() as pg:
        url = pg.create_database("mydb")     # a SQLAlchemy URL

``restart()`` keeps the port and the data (for "server restarted
mid-operation" tests), ``kill()`` is a SIGKILL (crash tests), ``pause()``
and ``resume()`` freeze and thaw the server (unresponsive-server tests).

A server that cannot run here (package not installed) raises
:class:`ServerUnavailable`; the fixtures turn that into a skip, or a
failure in CI.  Any other start-up problem raises :class:`ServerError` with
the tail of the server's log.

Nothing may outlive the test run: every started server is stopped by its
fixture, by ``atexit`` as a backstop, and a later run reaps the servers of
an earlier run that was SIGKILLed (:func:`reap_stale`).
"""

import atexit
import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"
JAVA_DIR = "/usr/share/java"
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_OS_USER = "postgres"
PG_SUPERUSER = "heatflow"

# Every server's directory: <tmp>/heatflow-<kind>-XXXX/, holding owner.pid
# (the test process that started it), so a later run can tell orphans.
DIR_PREFIX = "heatflow-"
OWNER_FILE = "owner.pid"


class ServerError(Exception):
    """A server failed to start or stop."""


class ServerUnavailable(ServerError):
    """The server's software is not installed and cannot be installed."""


def in_ci():
    """True when running in CI, where a missing server is a failure."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


#: How a test that needs a missing server says so when it skips.
UNAVAILABLE = "real server unavailable"


def unavailable_skips(skipped):
    """Why the skipped tests among ``skipped`` (pytest reports) skipped for
    want of a real server: reason -> how many."""
    reasons = {}
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else \
            str(longrepr)
        if UNAVAILABLE in reason:
            reason = reason.split("Skipped: ", 1)[-1]
            reasons[reason] = reasons.get(reason, 0) + 1
    return reasons


def is_root():
    return os.geteuid() == 0


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (the server may still lose
    the race for it: starts retry with another port)."""
    with contextlib.closing(socket.socket()) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child not yet reaped) is dead for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _children(pid):
    """Pids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.split("/")[2]))
    return out


def _wait_gone(pids, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(_pid_alive(p) for p in pids):
            return True
        time.sleep(0.02)
    return not any(_pid_alive(p) for p in pids)


def _tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(no log: %s)" % e


def _run(cmd, timeout=120, **kw):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)
    return proc.returncode, proc.stdout.decode(errors="replace")


# -- the live-server registry (atexit backstop) -----------------------------

_live = set()
_live_lock = threading.Lock()


_sigterm_installed = False


def _register(server):
    with _live_lock:
        _live.add(server)
    _install_sigterm_handler()


def _install_sigterm_handler():
    """A SIGTERM (a CI job's timeout, say) kills Python without running
    atexit: stop the servers first, then die of SIGTERM as before.  Only
    where nobody else handles SIGTERM."""
    global _sigterm_installed
    if _sigterm_installed or \
            threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return
    _sigterm_installed = True

    def on_sigterm(signum, frame):
        try:
            stop_all()
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def _unregister(server):
    with _live_lock:
        _live.discard(server)


@atexit.register
def stop_all():
    """Stop every server this process started and has not stopped, and
    delete its files."""
    with _live_lock:
        servers = list(_live)
    for server in servers:
        try:
            server.stop(grace=5)
        except Exception:
            with contextlib.suppress(Exception):
                server.kill()
        with contextlib.suppress(Exception):
            server.cleanup()


def reap_stale(tmpdir=None):
    """Stop the servers left behind by test runs that died without
    cleaning up (their owner process is gone), and delete their
    directories.  Returns the directories reaped."""
    reaped = []
    tmpdir = tmpdir or tempfile.gettempdir()
    for base in glob.glob(os.path.join(tmpdir, DIR_PREFIX + "*")):
        try:
            with open(os.path.join(base, OWNER_FILE)) as f:
                owner = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if owner == os.getpid() or _pid_alive(owner):
            continue
        for pid in _server_pids_in(base):
            # Only a process that really belongs to this directory (pids
            # get reused).
            if base in _cmdline(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone([pid], 5)
        shutil.rmtree(base, ignore_errors=True)
        reaped.append(base)
    return reaped


def _server_pids_in(base):
    pids = []
    for name in ("zookeeper.pid", os.path.join("data", "postmaster.pid")):
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(os.path.join(base, name)) as f:
                pids.append(int(f.readline().strip()))
    return pids


class _Server:
    kind = "server"

    def __init__(self, base_dir=None, port=None):
        self._own_dir = base_dir is None
        if base_dir is None:
            base_dir = tempfile.mkdtemp(prefix=DIR_PREFIX + self.kind + "-")
        else:
            os.makedirs(base_dir, exist_ok=True)
        self.base_dir = base_dir
        with open(os.path.join(base_dir, OWNER_FILE), "w") as f:
            f.write(str(os.getpid()))
        self._fixed_port = port is not None
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.start_seconds = None      # how long the last start() took

    def __repr__(self):
        return "<%s %s:%s pid=%s>" % (type(self).__name__, self.host,
                                      self.port, self.pid)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def ensure_running(self):
        """Start the server if it is stopped, thaw it if it is paused."""
        if self.running:
            self.resume()
        else:
            self.start()
        return self

    def restart(self):
        """Stop and start again: same port, same data."""
        self.stop()
        self.start()

    def close(self):
        """Stop the server and delete its directory."""
        try:
            self.stop()
        finally:
            self.cleanup()

    def cleanup(self):
        if self.running:
            raise ServerError("%r is still running" % self)
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)


class ZooKeeperServer(_Server):
    """A standalone ZooKeeper from Debian's ``zookeeper`` package.

    ``hosts`` is the kazoo connection string.  Session timeouts from 1 s
    to 60 s are honoured (tickTime=500).  The log is ``zookeeper.log`` in
    ``base_dir``.
    """

    kind = "zk"
    FOUR_LETTER_WORDS = ("ruok", "srvr", "stat", "mntr", "envi")

    def __init__(self, base_dir=None, port=None, jar=ZOOKEEPER_JAR,
                 java="java", heap="256m", tick_time=500,
                 start_timeout=60):
        self.jar = jar
        self.java = java
        self.heap = heap
        self.tick_time = tick_time
        self.start_timeout = start_timeout
        self._proc = None
        super().__init__(base_dir, port)
        self.data_dir = os.path.join(self.base_dir, "data")
        self.config_path = os.path.join(self.base_dir, "zoo.cfg")
        self.log_path = os.path.join(self.base_dir, "zookeeper.log")
        self.pid_path = os.path.join(self.base_dir, "zookeeper.pid")
        os.makedirs(self.data_dir, exist_ok=True)

    @property
    def hosts(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def pid(self):
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    # -- command line ---------------------------------------------------

    def classpath(self):
        """zookeeper.jar, the jars its manifest's Class-Path names that
        exist (Debian lists jline.jar, which only the CLI needs and which
        is not installed), and an SLF4J binding so the server logs."""
        if not os.path.exists(self.jar):
            raise ServerUnavailable("%s is missing" % self.jar)
        jars = [self.jar]
        with zipfile.ZipFile(self.jar) as z:
            manifest = z.read("META-INF/MANIFEST.MF").decode()
        # Manifest lines are folded at 72 bytes: continuation lines start
        # with one space.
        manifest = manifest.replace("\r\n", "\n").replace("\n ", "")
        for line in manifest.splitlines():
            if line.startswith("Class-Path:"):
                for entry in line.split(":", 1)[1].split():
                    path = entry if os.path.isabs(entry) else \
                        os.path.join(os.path.dirname(self.jar), entry)
                    if os.path.exists(path):
                        jars.append(path)
        binding = os.path.join(JAVA_DIR, "slf4j-simple.jar")
        if os.path.exists(binding):
            jars.append(binding)
        return ":".join(jars)

    def command(self):
        return [
            self.java, "-Xmx" + self.heap,
            # A test server: start fast, stay small.
            "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
            "-Dzookeeper.log.dir=" + self.base_dir,
            "-cp", self.classpath(),
            "org.apache.zookeeper.server.ZooKeeperServerMain",
            self.config_path]

    def write_config(self):
        settings = [
            ("tickTime", self.tick_time),
            ("minSessionTimeout", 2 * self.tick_time),
            ("maxSessionTimeout", 60000),
            ("dataDir", self.data_dir),
            ("clientPort", self.port),
            ("clientPortAddress", self.host),
            ("admin.enableServer", "false"),
            ("4lw.commands.whitelist", ",".join(self.FOUR_LETTER_WORDS)),
        ]
        with open(self.config_path, "w") as f:
            for key, value in settings:
                f.write("%s=%s\n" % (key, value))

    # -- lifecycle ------------------------------------------------------

    def start(self):
        if self.running:
            return
        if not shutil.which(self.java):
            raise ServerUnavailable("no %r on PATH" % self.java)
        began = time.monotonic()
        attempts = 1 if self._fixed_port else 5
        for attempt in range(attempts):
            self.write_config()
            try:
                self._start_once()
                break
            except ServerError:
                if attempt + 1 < attempts and \
                        "Address already in use" in _tail(self.log_path):
                    self.port = free_port()
                    continue
                raise
        # From now on restart() keeps this port.
        self._fixed_port = True
        self.start_seconds = time.monotonic() - began

    def _start_once(self):
        with open(self.log_path, "ab") as log:
            log.write(b"=== start %s on %s\n" % (
                time.strftime("%H:%M:%S").encode(), self.hosts.encode()))
            log.flush()
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=self.base_dir)
        with open(self.pid_path, "w") as f:
            f.write("%d\n" % self._proc.pid)
        _register(self)
        end = time.monotonic() + self.start_timeout
        while time.monotonic() < end:
            if self._proc.poll() is not None:
                self._proc = None
                _unregister(self)
                raise ServerError("ZooKeeper exited at start-up; log %s:\n%s"
                                  % (self.log_path, _tail(self.log_path)))
            if self.is_ok():
                return
            time.sleep(0.05)
        self.kill()
        raise ServerError("ZooKeeper not ready after %ss; log %s:\n%s"
                          % (self.start_timeout, self.log_path,
                             _tail(self.log_path)))

    def is_ok(self):
        """The server answers ``ruok`` with ``imok`` and serves requests
        (``imok`` comes a moment before the server takes sessions; ``srvr``
        says "not currently serving requests" until then)."""
        try:
            return self.four_letter("ruok", timeout=1) == "imok" and \
                "Mode: " in self.four_letter("srvr", timeout=1)
        except OSError:
            return False

    def four_letter(self, word, timeout=5):
        """Send a four-letter-word command; the server's whole answer."""
        with socket.create_connection((self.host, self.port),
                                      timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode(errors="replace")

    def stop(self, grace=10):
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)    # if paused
                proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self._proc = None
        _unregister(self)

    def kill(self):
        """SIGKILL: the server dies without closing anything."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(10)
        self._proc = None
        _unregister(self)

    def pause(self):
        """SIGSTOP: the server stops answering (sessions then time out
        on the clients' side)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self):
        if self.running:
            os.kill(self.pid, signal.SIGCONT)


def ensure_zookeeper_installed(jar=ZOOKEEPER_JAR):
    """The ZooKeeper jar, installing Debian's package first if it is missing
    and this process may (root).  Raises :class:`ServerUnavailable`."""
    if os.path.exists(jar):
        return jar
    if not is_root() or not shutil.which("apt-get"):
        raise ServerUnavailable(
            "%s is missing and this is not root with apt-get: install it "
            "with 'apt-get install -y zookeeper'" % jar)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"],
                ["apt-get", "install", "-y", "--no-install-recommends",
                 "zookeeper"]):
        code, out = _run(cmd, timeout=900, env=env)
        if code != 0:
            raise ServerUnavailable("%s failed (%d):\n%s"
                                    % (" ".join(cmd), code, out[-2000:]))
    if not os.path.exists(jar):
        raise ServerUnavailable("%s still missing after installing "
                                "the zookeeper package" % jar)
    return jar


def find_pg_bin():
    """PostgreSQL's server binaries: $HEATFLOW_PG_BIN or the newest
    /usr/lib/postgresql/<version>/bin.  Raises :class:`ServerUnavailable`.
    """
    candidates = [os.environ["HEATFLOW_PG_BIN"]] \
        if os.environ.get("HEATFLOW_PG_BIN") else sorted(
            glob.glob(PG_BIN_GLOB),
            key=lambda p: [int(x) for x in re.findall(r"\d+", p)] or [0],
            reverse=True)
    for d in candidates:
        if all(os.access(os.path.join(d, b), os.X_OK)
               for b in ("initdb", "pg_ctl", "postgres")):
            return d
    raise ServerUnavailable("no PostgreSQL server binaries (looked in %s); "
                            "install Debian's postgresql package"
                            % (", ".join(candidates) or PG_BIN_GLOB))


class PostgresServer(_Server):
    """A private PostgreSQL cluster.

    Runs as the ``postgres`` OS user when the tests run as root (PostgreSQL
    refuses to run as root), else as the current user.  Clients connect
    over TCP as the superuser ``heatflow`` without a password (trust).
    Durable like production: fsync and synchronous_commit on.  The log is
    ``postgres.log`` in ``base_dir``.
    """

    kind = "pg"
    SETTINGS = {
        "listen_addresses": "'127.0.0.1'",
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "max_connections": "200",
        "shared_buffers": "32MB",
        "log_line_prefix": "'%m [%p] %d '",
        "log_min_messages": "warning",
    }

    def __init__(self, base_dir=None, port=None, bin_dir=None,
                 superuser=PG_SUPERUSER, settings=None, start_timeout=60):
        self.bin_dir = bin_dir
        self.superuser = superuser
        self.settings = dict(self.SETTINGS, **(settings or {}))
        self.start_timeout = start_timeout
        self._initialized = False
        super().__init__(base_dir, port)
        self.data_dir = os.path.join(self.base_dir, "data")
        self.socket_dir = os.path.join(self.base_dir, "sock")
        self.log_path = os.path.join(self.base_dir, "postgres.log")
        # mkdtemp makes the directory 0700 and ours: the postgres user
        # must be able to enter it (and write its socket and log there).
        os.makedirs(self.socket_dir, exist_ok=True)
        os.chmod(self.base_dir, 0o755)
        if self._as_other_user:
            for path in (self.base_dir, self.socket_dir):
                shutil.chown(path, user=PG_OS_USER, group=PG_OS_USER)

    @property
    def _as_other_user(self):
        return is_root()

    def _cmd(self, *args):
        if self._as_other_user:
            return ["runuser", "-u", PG_OS_USER, "--"] + list(args)
        return list(args)

    def _bin(self, name):
        if self.bin_dir is None:
            self.bin_dir = find_pg_bin()
        return os.path.join(self.bin_dir, name)

    @property
    def pid(self):
        """The postmaster's pid, while it runs."""
        try:
            with open(os.path.join(self.data_dir, "postmaster.pid")) as f:
                pid = int(f.readline().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    @property
    def running(self):
        return self.pid is not None

    def initdb(self):
        if self._initialized or os.path.exists(
                os.path.join(self.data_dir, "PG_VERSION")):
            self._initialized = True
            return
        if self._as_other_user:
            try:
                import pwd
                pwd.getpwnam(PG_OS_USER)
            except KeyError:
                raise ServerUnavailable("no %r OS user to run PostgreSQL as "
                                        "root" % PG_OS_USER)
        code, out = _run(self._cmd(
            self._bin("initdb"), "-D", self.data_dir, "-A", "trust",
            "-U", self.superuser, "-E", "UTF8", "--locale=C",
            # initdb's own final fsync of the new cluster only matters if
            # the machine crashes; the server runs with fsync=on.
            "--no-sync", "--no-instructions"))
        if code != 0:
            raise ServerError("initdb failed (%d):\n%s" % (code, out))
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as f:
            f.write("\n# heatflow test server\n")
            for key, value in self.settings.items():
                f.write("%s = %s\n" % (key, value))
        self._initialized = True

    def start(self):
        if self.running:
            return
        began = time.monotonic()
        self.initdb()
        attempts = 1 if self._fixed_port else 5
        for attempt in range(attempts):
            try:
                self._start_once()
                break
            except ServerError:
                if attempt + 1 < attempts and "could not bind" in \
                        _tail(self.log_path, 20):
                    self.port = free_port()
                    continue
                raise
        self._fixed_port = True
        self.start_seconds = time.monotonic() - began

    def _start_once(self):
        # The log must be writable by the server's user.
        if not os.path.exists(self.log_path):
            open(self.log_path, "a").close()
            if self._as_other_user:
                shutil.chown(self.log_path, user=PG_OS_USER)
        _register(self)
        code, out = _run(self._cmd(
            self._bin("pg_ctl"), "-D", self.data_dir, "-l", self.log_path,
            "-w", "-t", str(self.start_timeout),
            "-o", "-p %d -k %s" % (self.port, self.socket_dir), "start"),
            timeout=self.start_timeout + 30)
        if code != 0 or not self.running:
            _unregister(self)
            raise ServerError("PostgreSQL did not start (pg_ctl %d):\n%s\n"
                              "log %s:\n%s" % (code, out, self.log_path,
                                               _tail(self.log_path)))

    def stop(self, grace=30):
        """``pg_ctl -m fast stop``; ``immediate``, then SIGKILL, if the
        server does not go within ``grace`` seconds."""
        if self.running:
            pids = self._cluster_pids()
            self.resume()
            code, out = _run(self._cmd(
                self._bin("pg_ctl"), "-D", self.data_dir, "-m", "fast", "-w",
                "-t", str(grace), "stop"), timeout=grace + 30)
            if code != 0 and self.running:
                _run(self._cmd(self._bin("pg_ctl"), "-D", self.data_dir,
                               "-m", "immediate", "-w", "-t", "10", "stop"),
                     timeout=40)
            if self.running:
                self.kill()
            _wait_gone(pids, 10)
        _unregister(self)

    def _cluster_pids(self):
        pid = self.pid
        return [pid] + _children(pid) if pid else []

    def kill(self):
        """SIGKILL the postmaster and its processes, as in a crash: the
        next start() recovers from the WAL."""
        pids = self._cluster_pids()
        if pids:
            # Postmaster first: it must not restart its dying children.
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if not _wait_gone(pids, 10):
                raise ServerError("PostgreSQL processes %s survived SIGKILL"
                                  % pids)
            self._remove_stale_lock(pids[0])
        _unregister(self)

    def _remove_stale_lock(self, postmaster):
        """Delete the dead postmaster's postmaster.pid.

        PostgreSQL itself removes a stale lock file at start-up unless
        kill(pid, 0) succeeds, which it does for a zombie: where nothing
        reaps orphans (an init that does not wait(), as in some containers)
        the next start would refuse to run.  All the cluster's processes
        are gone, so the lock protects nothing; crash recovery does not
        need it.  The same goes for the socket's lock file."""
        locks = [os.path.join(self.data_dir, "postmaster.pid")] + \
            glob.glob(os.path.join(self.socket_dir, ".s.PGSQL.*.lock"))
        for path in locks:
            with contextlib.suppress(OSError, ValueError):
                with open(path) as f:
                    if int(f.readline().strip()) == postmaster:
                        os.unlink(path)

    def pause(self):
        """SIGSTOP the postmaster and its processes."""
        for pid in self._cluster_pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self):
        for pid in self._cluster_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    # -- databases ------------------------------------------------------

    def url(self, dbname="postgres"):
        """SQLAlchemy URL of a database."""
        return "postgresql+psycopg2://%s@%s:%d/%s" % (
            self.superuser, self.host, self.port, dbname)

    def connect(self, dbname="postgres", **kw):
        """A psycopg2 connection (autocommit)."""
        import psycopg2
        conn = psycopg2.connect(host=self.host, port=self.port,
                                user=self.superuser, dbname=dbname,
                                connect_timeout=10, **kw)
        conn.autocommit = True
        return conn

    def execute(self, sql, params=None, dbname="postgres"):
        """Run one statement in autocommit; its rows, if any."""
        with contextlib.closing(self.connect(dbname)) as conn:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else None

    @staticmethod
    def _ident(name):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
            raise ValueError("bad database name %r" % name)
        return '"%s"' % name

    def create_database(self, name):
        """Create a database; its SQLAlchemy URL."""
        self.execute("CREATE DATABASE %s" % self._ident(name))
        return self.url(name)

    def drop_database(self, name):
        """Drop a database, disconnecting its clients."""
        self.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)"
                     % self._ident(name))


def main(argv=None):
    """Run a server by hand: ``python -m tests.servers zk|pg``."""
    kind = (argv or sys.argv[1:] or ["zk"])[0]
    if kind == "zk":
        ensure_zookeeper_installed()
        server = ZooKeeperServer()
    else:
        server = PostgresServer()
    with server:
        where = server.hosts if kind == "zk" else server.url()
        print("%s ready in %.2fs: %s (dir %s); Ctrl-C stops it"
              % (server.kind, server.start_seconds, where, server.base_dir),
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while server.running:
                time.sleep(0.5)


if __name__ == "__main__":
    main()
