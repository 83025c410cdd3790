#!/usr/bin/env bash
# Stops what up.sh started, by the pid files in the run folder: HAProxy, then
# the nodes (SIGTERM: they finish what they are doing; SIGKILL after
# DOWN_TIMEOUT seconds), then PgBouncer.
#
#   deploy/cluster/down.sh           # stop
#   deploy/cluster/down.sh --purge   # stop, then drop the control schema and
#                                    # every {schema}_* schema (tenants, spares),
#                                    # delete the Redis keys under the run's
#                                    # prefix and remove the run folder
#
# CLUSTER_RUN_DIR as for up.sh [${CARGO_TARGET_DIR:-/var/cache/tikethet-target}/cluster].
set -euo pipefail

RUN_DIR=${CLUSTER_RUN_DIR:-${CARGO_TARGET_DIR:-/var/cache/tikethet-target}/cluster}
DOWN_TIMEOUT=${DOWN_TIMEOUT:-20}
PURGE=0
case ${1:-} in
    "") ;;
    --purge) PURGE=1 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac
die() { echo "down.sh: $*" >&2; exit 1; }

[[ -f $RUN_DIR/cluster.env ]] || { echo "down.sh: nothing started in $RUN_DIR"; exit 0; }

# The pid of NAME if that process is alive and is ours: started by up.sh in a
# folder of the run (a pid file outliving its process may name another one).
pid_of() {
    local f="$RUN_DIR/pids/$1.pid" pid cwd
    [[ -s $f ]] || return 1
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || { rm -f "$f"; return 1; }
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
    if [[ -n $cwd && $cwd != "$RUN_DIR"/* ]]; then
        echo "down.sh: pid $pid of $1 is not ours (cwd $cwd); leaving it alone" >&2
        rm -f "$f"
        return 1
    fi
    echo "$pid"
}

# stop NAME...: SIGTERM to all, wait, SIGKILL what is left.
stop() {
    local name pid pids=() names=()
    for name in "$@"; do
        if pid=$(pid_of "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$name")
        fi
    done
    ((${#pids[@]})) || return 0
    local deadline=$((SECONDS + DOWN_TIMEOUT)) i left
    while :; do
        left=0
        for i in "${!pids[@]}"; do kill -0 "${pids[$i]}" 2>/dev/null && left=1; done
        ((left)) || break
        if ((SECONDS >= deadline)); then
            for i in "${!pids[@]}"; do
                if kill -0 "${pids[$i]}" 2>/dev/null; then
                    echo "down.sh: ${names[$i]} (pid ${pids[$i]}) did not stop in ${DOWN_TIMEOUT}s; killing it" >&2
                    kill -KILL "${pids[$i]}" 2>/dev/null || true
                fi
            done
            sleep 0.2
            break
        fi
        sleep 0.2
    done
    for i in "${!names[@]}"; do
        rm -f "$RUN_DIR/pids/${names[$i]}.pid"
        echo "stopped ${names[$i]} (pid ${pids[$i]})"
    done
}

nodes=()
for f in "$RUN_DIR"/pids/node*.pid; do
    [[ -e $f ]] && nodes+=("$(basename "$f" .pid)")
done
stop haproxy
((${#nodes[@]} == 0)) || stop "${nodes[@]}"
stop pgbouncer

((PURGE)) || exit 0

# shellcheck source=/dev/null
. "$RUN_DIR/cluster.env"
[[ $SCHEMA =~ ^[a-z][a-z0-9_]*$ ]] || die "bad schema name '$SCHEMA' in $RUN_DIR/cluster.env"
# Drop the control schema and everything named {schema}_... (tenants
# {schema}_{slug}, spare schemas {schema}__spare_...), straight on PostgreSQL.
dropped=$(psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DATABASE" -v s="$SCHEMA" -At <<'SQL'
SET client_min_messages = warning;
SELECT format('DROP SCHEMA %I CASCADE', nspname) FROM pg_namespace
 WHERE nspname = :'s' OR left(nspname, length(:'s') + 1) = :'s' || '_'
 ORDER BY nspname = :'s', nspname \gexec
SELECT count(*) FROM pg_namespace WHERE nspname = :'s' OR left(nspname, length(:'s') + 1) = :'s' || '_';
SQL
) || die "dropping the schemas of $SCHEMA failed"
echo "dropped schema $SCHEMA and its ${SCHEMA}_* schemas (left: ${dropped##*$'\n'})"

if command -v redis-cli >/dev/null; then
    pattern=$(printf '%s' "$REDIS_PREFIX" | sed 's/[][*?\\]/\\&/g')'*'
    keys=$(redis-cli -u "$REDIS_URL" --scan --pattern "$pattern") || die "cannot list the Redis keys under $REDIS_PREFIX"
    n=0
    if [[ -n $keys ]]; then
        n=$(wc -l <<<"$keys")
        xargs -r -d '\n' -n 100 redis-cli -u "$REDIS_URL" unlink <<<"$keys" >/dev/null
    fi
    echo "deleted $n Redis keys under $REDIS_PREFIX"
else
    echo "down.sh: redis-cli not installed; Redis keys under $REDIS_PREFIX left (most expire)" >&2
fi

rm -rf "$RUN_DIR"
echo "removed $RUN_DIR"
