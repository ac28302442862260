#!/usr/bin/env bash
# A heatflow cluster on one machine for trying conductors out: ZooKeeper,
# PostgreSQL and N `heatflow conductor` processes, all from Debian's
# packages, all files under one directory.  Not for production: the
# servers listen on 127.0.0.1 only and are tuned to start fast.
#
#   examples/dev_cluster.sh up [--dir DIR] [--conductors N]
#   source DIR/env            # HEATFLOW_DB_URL and HEATFLOW_ZOOKEEPER
#   heatflow stack create demo -t examples/templates/demo.yaml --wait
#   examples/dev_cluster.sh status [--dir DIR]
#   examples/dev_cluster.sh down [--dir DIR] [--purge]
#
# DIR defaults to ./.heatflow/dev-cluster.  Needs: apt-get install -y
# zookeeper postgresql (Java 11+ for ZooKeeper) and heatflow installed with
# its PostgreSQL driver (pip install -e '.[postgresql]').  `up` on a
# directory whose cluster is down starts it again with its data; `down
# --purge` deletes the directory.  HEATFLOW (default: heatflow) is the
# command that runs heatflow, e.g. HEATFLOW="python -m heatflow".

set -euo pipefail

DIR=./.heatflow/dev-cluster
CONDUCTORS=2
PURGE=0
HEATFLOW=${HEATFLOW:-heatflow}
ZK_JAR=/usr/share/java/zookeeper.jar

die() { echo "dev_cluster: $*" >&2; exit 1; }

usage() {
    sed -n '7,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -ge 1 ] || usage
COMMAND=$1; shift
while [ $# -gt 0 ]; do
    case $1 in
        --dir) DIR=$2; shift 2 ;;
        --conductors) CONDUCTORS=$2; shift 2 ;;
        --purge) PURGE=1; shift ;;
        *) usage ;;
    esac
done
[ "$COMMAND" = up ] && mkdir -p "$DIR"
[ -d "$DIR" ] || { echo "no dev cluster in $DIR"; exit 0; }
DIR=$(cd "$DIR" && pwd)

pg_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$bin" ] || die "PostgreSQL is not installed: apt-get install -y postgresql"
    echo "$bin"
}

# PostgreSQL refuses to run as root: its files and processes belong to
# the postgres user then.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

zk_ok() {
    python3 - "$1" <<'EOF'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1) as s:
        s.sendall(b"srvr")
        sys.exit(0 if b"Mode: " in s.recv(1024) else 1)
except OSError:
    sys.exit(1)
EOF
}

# Where PostgreSQL keeps its files: in DIR, unless we are root and the
# postgres user cannot reach DIR (under /root, say); then in a directory of
# its own under /var/tmp, which `down --purge` deletes too.
pg_data_dir() {
    if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$DIR"; then
        echo "$DIR/postgresql"
    else
        mktemp -d /var/tmp/heatflow-dev-cluster-pg.XXXXXX
    fi
}

# Ports and the password are chosen once and kept in DIR/settings, so that
# `up` after `down` finds the same cluster.
settings() {
    if [ ! -f "$DIR/settings" ]; then
        umask 077
        cat > "$DIR/settings" <<EOF
ZK_PORT=$(free_port)
PG_PORT=$(free_port)
PG_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
PG_DATA=$(pg_data_dir)
EOF
    fi
    # shellcheck disable=SC1091
    . "$DIR/settings"
    DB_URL="postgresql+psycopg2://heatflow:$PG_PASSWORD@127.0.0.1:$PG_PORT/heatflow"
    ZK_HOSTS="127.0.0.1:$ZK_PORT"
}

zk_up() {
    alive "$DIR/zookeeper.pid" && return
    [ -f "$ZK_JAR" ] || die "ZooKeeper is not installed: apt-get install -y zookeeper"
    command -v java >/dev/null || die "ZooKeeper needs Java on PATH"
    mkdir -p "$DIR/zookeeper"
    cat > "$DIR/zookeeper/zoo.cfg" <<EOF
tickTime=500
maxSessionTimeout=60000
dataDir=$DIR/zookeeper
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr,envi
EOF
    # zookeeper.jar's manifest names the jars it needs (the JVM follows
    # it); a logging binding is the one thing to add.
    local cp=$ZK_JAR
    [ -f /usr/share/java/slf4j-simple.jar ] && cp=$cp:/usr/share/java/slf4j-simple.jar
    nohup java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$cp" \
        org.apache.zookeeper.server.ZooKeeperServerMain "$DIR/zookeeper/zoo.cfg" \
        > "$DIR/zookeeper.log" 2>&1 < /dev/null &
    echo $! > "$DIR/zookeeper.pid"
    for _ in $(seq 300); do
        zk_ok "$ZK_PORT" && return
        alive "$DIR/zookeeper.pid" || break
        sleep 0.2
    done
    tail -20 "$DIR/zookeeper.log" >&2
    die "ZooKeeper did not start (log: $DIR/zookeeper.log)"
}

pg_up() {
    local bin
    bin=$(pg_bin)
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        mkdir -p "$PG_DATA"
        [ "$(id -u)" = 0 ] && chown postgres: "$PG_DATA"
        # initdb reads the superuser's password from a file only it reads
        local pwfile
        pwfile=$(mktemp)
        echo "$PG_PASSWORD" > "$pwfile"
        [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
        as_pg "$bin/initdb" -D "$PG_DATA" -U postgres \
            -A scram-sha-256 --pwfile="$pwfile" --no-sync \
            > "$DIR/initdb.log" 2>&1 || { rm -f "$pwfile"; cat "$DIR/initdb.log" >&2; die "initdb failed"; }
        rm -f "$pwfile"
    fi
    if ! as_pg "$bin/pg_ctl" -D "$PG_DATA" status > /dev/null 2>&1; then
        [ "$(id -u)" = 0 ] && touch "$PG_DATA.log" && chown postgres: "$PG_DATA.log"
        as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_DATA.log" -w \
            -o "-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1" \
            start > /dev/null || { tail -20 "$PG_DATA.log" >&2; die "PostgreSQL did not start"; }
    fi
    # The heatflow user and database, once.
    PGPASSWORD=$PG_PASSWORD "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres \
        -d postgres -qtA -v ON_ERROR_STOP=1 <<EOF > /dev/null
SELECT 'CREATE ROLE heatflow LOGIN PASSWORD ''$PG_PASSWORD'''
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'heatflow')\gexec
SELECT 'CREATE DATABASE heatflow OWNER heatflow'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'heatflow')\gexec
EOF
}

conductors_up() {
    local i
    for i in $(seq "$CONDUCTORS"); do
        alive "$DIR/conductor-$i.pid" && continue
        # The URL holds a password: it goes in the environment, which `ps`
        # does not show to other users, not on the command line.
        HEATFLOW_DB_URL=$DB_URL HEATFLOW_ZOOKEEPER=$ZK_HOSTS nohup $HEATFLOW \
            conductor --name "dev-$i" --session-timeout 10 \
            > "$DIR/conductor-$i.log" 2>&1 < /dev/null &
        echo $! > "$DIR/conductor-$i.pid"
    done
}

up() {
    settings
    zk_up
    pg_up
    HEATFLOW_DB_URL=$DB_URL $HEATFLOW db upgrade > /dev/null
    conductors_up
    umask 077
    cat > "$DIR/env" <<EOF
export HEATFLOW_DB_URL='$DB_URL'
export HEATFLOW_ZOOKEEPER='$ZK_HOSTS'
EOF
    status
    echo
    echo "Use it with:  source $DIR/env"
}

status() {
    [ -f "$DIR/settings" ] || { echo "no dev cluster in $DIR"; return; }
    settings
    local pidfile
    if alive "$DIR/zookeeper.pid" && zk_ok "$ZK_PORT"; then
        echo "zookeeper   running on $ZK_HOSTS (log $DIR/zookeeper.log)"
    else
        echo "zookeeper   stopped"
    fi
    if as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" status > /dev/null 2>&1; then
        echo "postgresql  running on 127.0.0.1:$PG_PORT (log $PG_DATA.log)"
    else
        echo "postgresql  stopped"
    fi
    for pidfile in "$DIR"/conductor-*.pid; do
        [ -e "$pidfile" ] || continue
        local name=${pidfile##*/}
        name=${name%.pid}
        if alive "$pidfile"; then
            echo "$name running, pid $(cat "$pidfile") (log $DIR/$name.log)"
        else
            echo "$name stopped"
        fi
    done
}

stop_pid() {
    local pidfile=$1
    if alive "$pidfile"; then
        local pid
        pid=$(cat "$pidfile")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

down() {
    local pidfile
    [ -f "$DIR/settings" ] || { echo "no dev cluster in $DIR"; return; }
    settings
    # Conductors first: SIGTERM releases their jobs; then the servers.
    for pidfile in "$DIR"/conductor-*.pid; do
        [ -e "$pidfile" ] && stop_pid "$pidfile"
    done
    if [ -f "$PG_DATA/PG_VERSION" ]; then
        as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" -m fast -w stop \
            > /dev/null 2>&1 || true
    fi
    stop_pid "$DIR/zookeeper.pid"
    if [ "$PURGE" = 1 ]; then
        rm -rf "$DIR" "$PG_DATA" "$PG_DATA.log"
        echo "dev cluster stopped; $DIR deleted"
    else
        echo "dev cluster stopped; its data stays in $DIR (--purge deletes it)"
    fi
}

case $COMMAND in
    up) up ;;
    status) status ;;
    down) down ;;
    *) usage ;;
esac
