#!/usr/bin/env bash
# Starts, on loopback: PgBouncer (>= 1.21, built by pgbouncer.sh) in front of
# the local PostgreSQL, three `tikethet serve` nodes behind it sharing Redis,
# and HAProxy balancing round-robin over the nodes with /readyz checks.
# Waits until the balancer answers /readyz through at least one node, then
# prints the URLs. Everything runs in the background with pid files and logs
# in the run folder; down.sh stops it. No systemd needed; works as root.
#
#   deploy/cluster/up.sh                   # everything
#   deploy/cluster/up.sh --pgbouncer-only  # just PgBouncer (tests); prints its URL
#
# Run again while (part of) a run is up, it starts only what is not running
# (a node you killed), with the run's saved settings.
#
# Environment (defaults in brackets):
#   CLUSTER_RUN_DIR     run folder [${CARGO_TARGET_DIR:-/var/cache/tikethet-target}/cluster]
#   TIKETHET_BIN        [${CARGO_TARGET_DIR:-/var/cache/tikethet-target}/debug/tikethet]
#   TIKETHET_DATABASE_SCHEMA  control schema; tenants are {schema}_{slug} [tikethet_cluster]
#   PG_HOST PG_PORT PG_USER PG_DATABASE  the PostgreSQL behind PgBouncer [127.0.0.1 5432 postgres test]
#   PG_SSLMODE          PgBouncer's server_tls_sslmode [disable on loopback, prefer otherwise]
#   PGBOUNCER_PORT [6432]   BOUNCER_DB: the database name the nodes use at PgBouncer [tikethet]
#   NODE_PORTS ["8081 8082 8083"]   HAPROXY_PORT [8080]   HAPROXY_STATS_PORT [8404]
#   TIKETHET_REDIS_URL [redis://127.0.0.1:6379]   TIKETHET_REDIS_PREFIX [{schema}:]
#   TIKETHET_MASTER_KEY, TIKETHET_JWT_SECRET, TIKETHET_OPERATOR_TOKEN
#                       [generated once into $CLUSTER_RUN_DIR/secrets.env]
#   TIKETHET_PUBLIC_URL [http://127.0.0.1:$HAPROXY_PORT]   TIKETHET_FILES_URL [file://$RUN_DIR/files]
#   Any other TIKETHET_* variable set here (TIKETHET_TELEGRAM_API_URL, TIKETHET_LOG, ...)
#   reaches every node unchanged.
#   UP_TIMEOUT          seconds to wait for the balancer [90]
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGET=${CARGO_TARGET_DIR:-/var/cache/tikethet-target}
RUN_DIR=${CLUSTER_RUN_DIR:-$TARGET/cluster}
UP_TIMEOUT=${UP_TIMEOUT:-90}

ONLY_PGBOUNCER=0
case ${1:-} in
    "") ;;
    --pgbouncer-only) ONLY_PGBOUNCER=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--pgbouncer-only]" >&2; exit 2 ;;
esac

die() { echo "up.sh: $*" >&2; exit 1; }
say() { echo "up.sh: $*" >&2; }
alive() { [[ -s $RUN_DIR/pids/$1.pid ]] && kill -0 "$(cat "$RUN_DIR/pids/$1.pid")" 2>/dev/null; }

# --- settings: the running run's, or from the environment ---------------------
running=()
if compgen -G "$RUN_DIR/pids/*.pid" >/dev/null; then
    for f in "$RUN_DIR"/pids/*.pid; do
        name=$(basename "$f" .pid)
        if alive "$name"; then running+=("$name"); else rm -f "$f"; fi
    done
fi
if ((${#running[@]})); then
    [[ -f $RUN_DIR/cluster.env ]] || die "processes of $RUN_DIR are running (${running[*]}) but its cluster.env is gone; stop them with $HERE/down.sh"
    say "already running in $RUN_DIR: ${running[*]}; starting what is not, with the run's settings"
    # shellcheck source=/dev/null
    . "$RUN_DIR/cluster.env"
else
    SCHEMA=${TIKETHET_DATABASE_SCHEMA:-tikethet_cluster}
    PG_HOST=${PG_HOST:-127.0.0.1}
    PG_PORT=${PG_PORT:-5432}
    PG_USER=${PG_USER:-postgres}
    PG_DATABASE=${PG_DATABASE:-test}
    case $PG_HOST in 127.* | localhost | ::1) PG_SSLMODE=${PG_SSLMODE:-disable} ;; *) PG_SSLMODE=${PG_SSLMODE:-prefer} ;; esac
    PGBOUNCER_PORT=${PGBOUNCER_PORT:-6432}
    BOUNCER_DB=${BOUNCER_DB:-tikethet}
    NODE_PORTS=${NODE_PORTS:-8081 8082 8083}
    HAPROXY_PORT=${HAPROXY_PORT:-8080}
    HAPROXY_STATS_PORT=${HAPROXY_STATS_PORT:-8404}
    TIKETHET_BIN=${TIKETHET_BIN:-$TARGET/debug/tikethet}
    REDIS_URL=${TIKETHET_REDIS_URL:-redis://127.0.0.1:6379}
    REDIS_PREFIX=${TIKETHET_REDIS_PREFIX:-$SCHEMA:}
fi
read -r -a node_ports <<<"$NODE_PORTS"

[[ $SCHEMA =~ ^[a-z][a-z0-9_]{0,19}$ ]] \
    || die "TIKETHET_DATABASE_SCHEMA must be 1 to 20 lowercase letters, digits or underscores, starting with a letter (got '$SCHEMA')"
[[ $BOUNCER_DB =~ ^[a-z][a-z0-9_]*$ && $PG_DATABASE =~ ^[A-Za-z0-9_]+$ && $PG_USER =~ ^[A-Za-z0-9_]+$ ]] \
    || die "BOUNCER_DB, PG_DATABASE and PG_USER must be plain identifiers"
((${#node_ports[@]} >= 1)) || die "NODE_PORTS names no port"
command -v psql >/dev/null || die "psql is needed (apt-get install postgresql-client)"

mkdir -p "$RUN_DIR"/{pids,logs,pgbouncer}
chmod 755 "$RUN_DIR" "$RUN_DIR/pgbouncer"
{
    for v in SCHEMA PG_HOST PG_PORT PG_USER PG_DATABASE PG_SSLMODE PGBOUNCER_PORT BOUNCER_DB NODE_PORTS \
        HAPROXY_PORT HAPROXY_STATS_PORT TIKETHET_BIN REDIS_URL REDIS_PREFIX; do
        printf '%s=%q\n' "$v" "${!v}"
    done
} >"$RUN_DIR/cluster.env"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# render TEMPLATE OUTPUT NAME=VALUE...: fills in each @NAME@; none may be left.
render() {
    local tpl=$1 out=$2 text kv
    shift 2
    text=$(<"$tpl")
    for kv in "$@"; do text=${text//@${kv%%=*}@/${kv#*=}}; done
    if [[ $text =~ @[A-Z_]+@ ]]; then die "$tpl: no value for ${BASH_REMATCH[0]}"; fi
    printf '%s\n' "$text" >"$out"
}

# start NAME PORT DIR CMD...: runs CMD in DIR in its own session, in the
# background, logging to logs/NAME.log, its pid (CMD's own, via exec) in
# pids/NAME.pid.
start() {
    local name=$1 port=$2 dir=$3 log="$RUN_DIR/logs/$1.log"
    shift 3
    port_free "$port" || die "cannot start $name: 127.0.0.1:$port is already in use (a run in another CLUSTER_RUN_DIR?)"
    rm -f "$RUN_DIR/pids/$name.pid"
    echo "--- $(date -u '+%F %T') up.sh starts $name" >>"$log"
    (cd "$dir" && exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN_DIR/pids/$name.pid" "$@" </dev/null >>"$log" 2>&1) &
    local _
    for _ in $(seq 50); do [[ -s $RUN_DIR/pids/$name.pid ]] && return 0; sleep 0.1; done
    die "$name did not start (log: $log)"
}

# --- PostgreSQL -----------------------------------------------------------------
psql -X -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DATABASE" -Atc 'SELECT 1' >/dev/null 2>"$RUN_DIR/logs/psql.err" \
    || die "PostgreSQL at $PG_HOST:$PG_PORT (user $PG_USER, database $PG_DATABASE) does not answer: $(cat "$RUN_DIR/logs/psql.err")"

# --- PgBouncer --------------------------------------------------------------
PGBOUNCER_BIN=$("$HERE/pgbouncer.sh") || die "no PgBouncer (pgbouncer.sh failed)"
if ! alive pgbouncer; then
    if [[ $(id -u) == 0 ]]; then
        # PgBouncer refuses to run as root: it switches to this user after startup.
        id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user for PgBouncer to switch to"
        unix_user_line="user = postgres"
    else
        unix_user_line=";; (not started as root: runs as $(id -un))"
    fi
    printf '"%s" ""\n' "$PG_USER" >"$RUN_DIR/pgbouncer/userlist.txt"
    render "$HERE/pgbouncer.ini.template" "$RUN_DIR/pgbouncer/pgbouncer.ini" \
        BOUNCER_DB="$BOUNCER_DB" PG_HOST="$PG_HOST" PG_PORT="$PG_PORT" PG_DATABASE="$PG_DATABASE" PG_USER="$PG_USER" \
        PG_SSLMODE="$PG_SSLMODE" SCHEMA="$SCHEMA" PGBOUNCER_PORT="$PGBOUNCER_PORT" RUN_DIR="$RUN_DIR" \
        PGBOUNCER_UNIX_USER_LINE="$unix_user_line"
    chmod 644 "$RUN_DIR/pgbouncer/pgbouncer.ini" "$RUN_DIR/pgbouncer/userlist.txt"
    start pgbouncer "$PGBOUNCER_PORT" "$RUN_DIR/pgbouncer" "$PGBOUNCER_BIN" "$RUN_DIR/pgbouncer/pgbouncer.ini"
fi
got=""
for _ in $(seq 100); do
    alive pgbouncer || { tail -n 20 "$RUN_DIR/logs/pgbouncer.log" >&2; die "PgBouncer exited (log: $RUN_DIR/logs/pgbouncer.log)"; }
    got=$(psql -X -q -h 127.0.0.1 -p "$PGBOUNCER_PORT" -U "$PG_USER" -d "$BOUNCER_DB" -Atc 'SELECT 41 + 1' 2>/dev/null) && break
    sleep 0.1
done
[[ $got == "42" ]] \
    || die "PgBouncer on port $PGBOUNCER_PORT does not answer as expected (got '$got'; log: $RUN_DIR/logs/pgbouncer.log)"
DATABASE_URL="postgres://$PG_USER@127.0.0.1:$PGBOUNCER_PORT/$BOUNCER_DB"

if ((ONLY_PGBOUNCER)); then
    say "PgBouncer $("$PGBOUNCER_BIN" --version | head -n1 | cut -d' ' -f2) up on 127.0.0.1:$PGBOUNCER_PORT; stop it with $HERE/down.sh"
    echo "$DATABASE_URL"
    exit 0
fi

# --- the nodes --------------------------------------------------------------
[[ -x $TIKETHET_BIN ]] \
    || die "no tikethet binary at $TIKETHET_BIN (build it: cargo build -p tikethet-platform --bin tikethet, or set TIKETHET_BIN); PgBouncer is up, stop it with $HERE/down.sh"

redis_hostport=${REDIS_URL#*://}
redis_hostport=${redis_hostport%%/*}
if [[ $redis_hostport =~ ^([0-9.]+|localhost):([0-9]+)$ ]]; then
    reply=$( { exec 3<>"/dev/tcp/${BASH_REMATCH[1]}/${BASH_REMATCH[2]}" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3; } 2>/dev/null || true)
    [[ $reply == "+PONG" ]] || die "Redis at $REDIS_URL does not answer PING; PgBouncer is up, stop it with $HERE/down.sh"
fi

# Secrets shared by every node: the same master key (bot tokens at rest), JWT
# secret and operator token. Generated once per run folder unless given.
if [[ ! -f $RUN_DIR/secrets.env ]]; then
    (
        umask 077
        printf 'MASTER_KEY=%s\nJWT_SECRET=%s\nOPERATOR_TOKEN=%s\n' \
            "$(head -c 32 /dev/urandom | base64)" "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
            "op_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$RUN_DIR/secrets.env"
    )
fi
# shellcheck source=/dev/null
. "$RUN_DIR/secrets.env"
export TIKETHET_MASTER_KEY=${TIKETHET_MASTER_KEY:-$MASTER_KEY}
export TIKETHET_JWT_SECRET=${TIKETHET_JWT_SECRET:-$JWT_SECRET}
export TIKETHET_OPERATOR_TOKEN=${TIKETHET_OPERATOR_TOKEN:-$OPERATOR_TOKEN}
export TIKETHET_DATABASE_URL=$DATABASE_URL
export TIKETHET_DATABASE_SCHEMA=$SCHEMA
export TIKETHET_REDIS_URL=$REDIS_URL
export TIKETHET_REDIS_PREFIX=$REDIS_PREFIX
export TIKETHET_PUBLIC_URL=${TIKETHET_PUBLIC_URL:-http://127.0.0.1:$HAPROXY_PORT}
# Attachments: one folder every node reaches.
mkdir -p "$RUN_DIR/files"
export TIKETHET_FILES_URL=${TIKETHET_FILES_URL:-file://$RUN_DIR/files}
unset TIKETHET_CONFIG TIKETHET_LISTEN TIKETHET_DATA_DIR

# The control plane is migrated once here, before any node starts, so that
# the nodes do not race on it (idempotent; quick when nothing is to do).
nodes_down=()
for i in "${!node_ports[@]}"; do alive "node$((i + 1))" || nodes_down+=("$i"); done
if ((${#nodes_down[@]} == ${#node_ports[@]})); then
    if ! (cd "$RUN_DIR" && TIKETHET_DATA_DIR="$RUN_DIR/migrate-data" "$TIKETHET_BIN" migrate) >"$RUN_DIR/logs/migrate.log" 2>&1; then
        tail -n 20 "$RUN_DIR/logs/migrate.log" >&2
        die "tikethet migrate failed (log: $RUN_DIR/logs/migrate.log); PgBouncer is up, stop it with $HERE/down.sh"
    fi
fi
for i in "${nodes_down[@]}"; do
    n=$((i + 1))
    mkdir -p "$RUN_DIR/node$n/data"
    TIKETHET_LISTEN="127.0.0.1:${node_ports[$i]}" TIKETHET_DATA_DIR="$RUN_DIR/node$n/data" \
        start "node$n" "${node_ports[$i]}" "$RUN_DIR/node$n" "$TIKETHET_BIN" serve
done

# --- HAProxy ----------------------------------------------------------------
if ! alive haproxy; then
    if ! command -v haproxy >/dev/null; then
        [[ $(id -u) == 0 ]] || die "haproxy is not installed (apt-get install haproxy)"
        say "installing haproxy (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 haproxy \
            >"$RUN_DIR/logs/apt-haproxy.log" 2>&1 || die "apt-get install haproxy failed (log: $RUN_DIR/logs/apt-haproxy.log)"
    fi
    user_lines=""
    if [[ $(id -u) == 0 ]] && id haproxy >/dev/null 2>&1; then
        user_lines=$'    user haproxy\n    group haproxy'
    fi
    servers=""
    for i in "${!node_ports[@]}"; do
        servers+="    server node$((i + 1)) 127.0.0.1:${node_ports[$i]} check"$'\n'
    done
    mkdir -p "$RUN_DIR/haproxy"
    render "$HERE/haproxy.cfg.template" "$RUN_DIR/haproxy/haproxy.cfg" \
        RUN_DIR="$RUN_DIR" HAPROXY_PORT="$HAPROXY_PORT" HAPROXY_STATS_PORT="$HAPROXY_STATS_PORT" \
        HAPROXY_USER_LINES="$user_lines" HAPROXY_SERVERS="${servers%$'\n'}"
    haproxy -c -q -f "$RUN_DIR/haproxy/haproxy.cfg" >"$RUN_DIR/logs/haproxy-check.log" 2>&1 \
        || { cat "$RUN_DIR/logs/haproxy-check.log" >&2; die "the rendered haproxy.cfg does not check"; }
    port_free "$HAPROXY_STATS_PORT" || die "cannot start haproxy: 127.0.0.1:$HAPROXY_STATS_PORT is already in use"
    start haproxy "$HAPROXY_PORT" "$RUN_DIR/haproxy" haproxy -db -f "$RUN_DIR/haproxy/haproxy.cfg"
fi

# --- wait for the balancer ----------------------------------------------------
BASE="http://127.0.0.1:$HAPROXY_PORT"
deadline=$((SECONDS + UP_TIMEOUT))
until curl -fsS -m 2 -o /dev/null "$BASE/readyz" 2>/dev/null; do
    for name in haproxy $(seq -f 'node%g' "${#node_ports[@]}"); do
        if ! alive "$name"; then
            tail -n 20 "$RUN_DIR/logs/$name.log" >&2
            die "$name exited (log: $RUN_DIR/logs/$name.log); stop the rest with $HERE/down.sh"
        fi
    done
    ((SECONDS < deadline)) || die "the balancer did not answer /readyz within ${UP_TIMEOUT}s (logs: $RUN_DIR/logs); stop everything with $HERE/down.sh"
    sleep 0.5
done

echo "TiketHet cluster up (run folder $RUN_DIR)"
echo "  balancer      $BASE/   (operator dashboard $BASE/operator/, API docs $BASE/api/docs)"
echo "  HAProxy stats http://127.0.0.1:$HAPROXY_STATS_PORT/   (balancer health: /health)"
for i in "${!node_ports[@]}"; do
    n=$((i + 1))
    state=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${node_ports[$i]}/readyz" || true)
    [[ $state == 200 ]] && state=ready || state="not ready yet ($state)"
    echo "  node$n         http://127.0.0.1:${node_ports[$i]}/   pid $(cat "$RUN_DIR/pids/node$n.pid"), $state"
done
echo "  PgBouncer     $DATABASE_URL   (admin console: psql -h 127.0.0.1 -p $PGBOUNCER_PORT -U $PG_USER pgbouncer)"
echo "  schema        $SCHEMA (tenants ${SCHEMA}_{slug}); Redis $REDIS_URL, prefix $REDIS_PREFIX"
echo "  operator token: OPERATOR_TOKEN in $RUN_DIR/secrets.env"
echo "  logs          $RUN_DIR/logs/"
echo "  stop          $HERE/down.sh   (--purge also drops the schemas, the Redis keys and the run folder)"
