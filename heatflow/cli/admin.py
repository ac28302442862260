"""The operator's commands: ``conductor``, ``signal-receiver``, ``db
upgrade`` and ``db generate-key``."""

import logging
import signal
import threading

import heatflow
from heatflow.cli.context import CommandError


def cmd_conductor(ctx, args):
    if not ctx.args.zookeeper:
        raise CommandError("a conductor needs ZooKeeper: --zookeeper HOSTS "
                           "or HEATFLOW_ZOOKEEPER")
    cond = heatflow.Conductor(
        ctx.args.db_url, ctx.args.zookeeper,
        zookeeper_auth=ctx.args.zookeeper_auth, name=args.name,
        workers=args.workers, plugin_dirs=ctx.plugin_dirs,
        session_timeout=args.session_timeout,
        watchdog_interval=args.watchdog_interval)
    # An operator reads a conductor's log: say which job and which stack.
    logging.getLogger("heatflow").setLevel(
        logging.DEBUG if ctx.args.debug else logging.INFO)
    if args.metrics_port is not None:
        try:
            heatflow.serve_metrics(args.metrics_port)
        except (RuntimeError, OSError) as exc:
            cond.close()
            raise CommandError("--metrics-port %d: %s"
                               % (args.metrics_port, exc))
    receiver = None
    if args.signal_port is not None:
        try:
            receiver = _receiver(ctx, args.signal_host, args.signal_port)
        except CommandError:
            cond.close()
            raise
        receiver.start()
        ctx.note("signal receiver at %s" % receiver.url)
    ctx.note("conductor %s running (stop with SIGTERM)" % cond.name)
    try:
        return heatflow.serve_conductor(cond)
    finally:
        if receiver is not None:
            receiver.close()


def _receiver(ctx, host, port):
    """A signal receiver on the database's stacks (through an
    Orchestrator that only writes signals: it runs no operation)."""
    try:
        return heatflow.SignalReceiver(ctx.orchestrator(serves=True), host,
                                       port)
    except OSError as exc:
        raise CommandError("cannot listen on %s:%d: %s"
                           % (host, port, exc.strerror or exc))


def cmd_signal_receiver(ctx, args):
    receiver = _receiver(ctx, args.host, args.port)
    logging.getLogger("heatflow").setLevel(
        logging.DEBUG if ctx.args.debug else logging.INFO)
    # SIGTERM stops it as Ctrl-C does (shutdown must come from another
    # thread than the one serving).
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(
        target=receiver.stop).start())
    ctx.note("signal receiver at %s (set HEATFLOW_SIGNAL_URL=%s where "
             "stacks are created; stop with SIGTERM)"
             % (receiver.url, receiver.url))
    try:
        receiver.serve_forever()
    finally:
        receiver.close()
    return 0


def cmd_db_upgrade(ctx, args):
    url = heatflow.upgrade_database(args.db_url)
    ctx.print("Database %s is up to date." % url)
    return 0


def cmd_db_generate_key(ctx, args):
    # the key alone on stdout (KEY=$(heatflow db generate-key)); the
    # advice on stderr
    ctx.out.write(heatflow.generate_encryption_key() + "\n")
    ctx.err.write("Set it as %s for every heatflow process using the "
                  "database, and keep a copy: without it encrypted stacks "
                  "cannot be read.\n" % heatflow.ENCRYPTION_KEY_ENV)
    return 0
