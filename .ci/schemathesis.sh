#!/usr/bin/env bash
# Generated API tests: schemathesis throws arbitrary paths, query strings,
# headers and bodies at every operation of /api/openapi.json, on SQLite and
# on PostgreSQL, and checks that nothing answers 5xx, that every status and
# every body is the one the document declares, and that the server is still
# up afterwards. Needs PostgreSQL on 127.0.0.1:5432 (user postgres, db test,
# trust), as .ci/run sets up.
#
# In functions called as `f || …` bash ignores `set -e`, so run_backend
# checks its own steps.
# Knobs: ST_SEED (default 20261122), ST_MAX_EXAMPLES (generated cases per
# operation in the fuzzing phase, default 50; the coverage phase adds its
# own fixed set), ST_BACKENDS (default "sqlite postgres"), ST_EXTRA_ARGS
# (more `st run` options, e.g. "--report har").
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/tikethet-target}"
export CARGO_TERM_COLOR=never
SEED="${ST_SEED:-20261122}"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-50}"
BACKENDS="${ST_BACKENDS:-sqlite postgres}"
ST_VERSION=4.32.5
PG_URL="postgres://postgres@127.0.0.1:5432/test"

BIN="$CARGO_TARGET_DIR/debug"
# The test run builds both binaries (`tikethet-under-test` is the `tikethet`
# command built inside the tests package): .ci/run says so with
# ST_PREBUILT=1, which saves a second build of the dependencies with the
# features of one package.
if [ "${ST_PREBUILT:-0}" = 1 ] && [ -x "$BIN/tikethet-under-test" ] && [ -x "$BIN/fake-telegram" ]; then
    echo "== schemathesis: using the binaries the test run built"
else
    echo "== schemathesis: building tikethet and the Telegram stand-in"
    cargo build -q -p tikethet-tests --bin tikethet-under-test --bin fake-telegram
fi

VENV="$CARGO_TARGET_DIR/schemathesis-venv"
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
    echo "== installing schemathesis $ST_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

WORK=$(mktemp -d)
PIDS=()
PG_SCHEMA=""
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    if [ -n "$PG_SCHEMA" ]; then drop_pg_schema "$PG_SCHEMA"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

drop_pg_schema() {
    # The control plane lives in $1, the tenants in $1_<slug>.
    psql -h 127.0.0.1 -U postgres -d test -qAt -c \
        "SELECT format('DROP SCHEMA IF EXISTS %I CASCADE;', nspname) FROM pg_namespace
         WHERE nspname = '$1' OR nspname LIKE '$1\_%'" |
        psql -h 127.0.0.1 -U postgres -d test -q >/dev/null
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() { # URL LOGFILE
    for _ in $(seq 1 120); do
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
        sleep 0.25
    done
    echo "$1 did not answer; log:" >&2
    tail -n 50 "$2" >&2
    return 1
}

# Telegram Mini App initData signed the way Telegram does it
# (https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app).
init_data() { # BOT_TOKEN USER_ID
    python3 - "$1" "$2" <<'PY'
import hashlib, hmac, json, sys, time, urllib.parse
token, uid = sys.argv[1], int(sys.argv[2])
fields = {
    "auth_date": str(int(time.time())),
    "query_id": "AAHst",
    "user": json.dumps({"id": uid, "first_name": "Owner", "username": "owner"}, separators=(",", ":")),
}
check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
print(urllib.parse.urlencode(fields))
PY
}

json_field() { # FIELD (reads JSON on stdin)
    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

run_backend() { # sqlite|postgres
    local backend=$1
    local dir="$WORK/$backend"
    mkdir -p "$dir"
    local tg_port api_port base
    tg_port=$(free_port)
    api_port=$(free_port)
    base="http://127.0.0.1:$api_port"
    local bot_token="7000001:AAF-schemathesis-bot-token-0123456789"
    local beta_token="7000002:AAF-schemathesis-bot-token-9876543210"
    local owner_id=424242
    local op_token="op_schemathesis_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

    echo "== schemathesis on $backend"
    "$BIN/fake-telegram" --listen "127.0.0.1:$tg_port" --bot "$bot_token=acme_bot" --bot "$beta_token=beta_bot" >"$dir/fake-telegram.log" 2>&1 &
    PIDS+=($!)

    local db_url="sqlite://$dir/tikethet.db" schema="tikethet"
    if [ "$backend" = postgres ]; then
        PG_SCHEMA="st_$(date +%s)_$$"
        db_url="$PG_URL"
        schema="$PG_SCHEMA"
    fi
    # Rate limits off: thousands of generated requests come from one address
    # and must reach the handlers (the suite tests the limits themselves).
    # Domain checks ask a DNS address where nothing listens: they fail at
    # once (200 with the reason), whatever resolver the machine has.
    TIKETHET_LISTEN="127.0.0.1:$api_port" \
        TIKETHET_PUBLIC_URL="$base" \
        TIKETHET_TELEGRAM_API_URL="http://127.0.0.1:$tg_port" \
        TIKETHET_OPERATOR_TOKEN="$op_token" \
        TIKETHET_DATA_DIR="$dir/data" \
        TIKETHET_DATABASE_URL="$db_url" \
        TIKETHET_DATABASE_SCHEMA="$schema" \
        TIKETHET_LOG="warn" \
        TIKETHET_RATE_LIMITS="off" \
        TIKETHET_DNS_SERVERS="127.0.0.1:9" \
        "$BIN/tikethet-under-test" serve >"$dir/tikethet.log" 2>&1 &
    local server_pid=$!
    PIDS+=($server_pid)
    wait_for "$base/readyz" "$dir/tikethet.log" || return 1

    # `acme` is the desk the tenant routes aim at; `beta` takes the operator's
    # changes (suspend, owner, bot token, deletion) so that `acme` stays
    # active with the same owner throughout.
    local slug token
    for slug in acme beta; do
        token=$bot_token
        [ "$slug" = beta ] && token=$beta_token
        curl -fsS -X POST "$base/api/platform/v1/tenants" \
            -H "Authorization: Bearer $op_token" -H 'Content-Type: application/json' \
            -d "{\"slug\":\"$slug\",\"name\":\"$slug\",\"bot_token\":\"$token\",\"owner_telegram_id\":$owner_id}" >/dev/null || return 1
    done
    local tenant_token
    tenant_token=$(python3 -c 'import json,sys; print(json.dumps({"init_data": sys.argv[1]}))' "$(init_data "$bot_token" $owner_id)" |
        curl -fsS -X POST "$base/t/acme/api/v1/auth/telegram" -H 'Content-Type: application/json' -d @- |
        json_field access_token) || return 1
    # A ticket, so that ticket routes with id 1 reach real rows.
    curl -fsS -X POST "$base/t/acme/api/v1/tickets" -H "Authorization: Bearer $tenant_token" \
        -H 'Content-Type: application/json' -d '{"title":"First","description":"Seeded by schemathesis.sh"}' >/dev/null || return 1

    # Operator routes get the operator token, tenant routes the owner's
    # token (matched by security scheme name). `slug` is mostly a real
    # tenant, so that requests reach real handlers, and anything otherwise.
    # Deleting a tenant is aimed at `beta`: `confirm` must repeat the slug,
    # which generated values do not, so it meets the confirmation check.
    cat >"$dir/schemathesis.toml" <<EOF
request-timeout = 10.0
suppress-health-check = ["all"]

[auth.openapi.OperatorAuth]
bearer = "$op_token"

[auth.openapi.TenantAuth]
bearer = "$tenant_token"

[dictionaries.acme]
values = ["acme"]

[dictionaries.ids]
values = [1]

[[operations]]
include-path-regex = '^/t/'
parameters = { "path.slug" = { dictionary = "acme", probability = 0.85 }, "path.id" = { dictionary = "ids", probability = 0.5 } }

[[operations]]
include-name-regex = '^GET /api/platform/v1/tenants/\{slug\}(/queues)?$'
parameters = { "path.slug" = { dictionary = "acme", probability = 0.8 } }

[[operations]]
include-name-regex = '^(PATCH|POST|PUT) /api/platform/v1/tenants/\{slug\}'
parameters = { "path.slug" = "beta" }

[[operations]]
include-name = "DELETE /api/platform/v1/tenants/{slug}"
parameters = { "path.slug" = "beta" }
EOF
    local rc=0
    (cd "$dir" && "$VENV/bin/st" --no-color --config-file "$dir/schemathesis.toml" run "$base/api/openapi.json" \
        --checks not_a_server_error,status_code_conformance,response_schema_conformance \
        --phases examples,coverage,fuzzing ${ST_EXTRA_ARGS:-} --seed "$SEED" --max-examples "$MAX_EXAMPLES" --workers 1) || rc=$?

    # The server must have survived, and the number probe must be refused.
    local fail=0
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "FAIL ($backend): the server exited during the run" >&2
        fail=1
    fi
    local health probe
    health=$(curl -sS -o /dev/null -w '%{http_code}' "$base/healthz" || true)
    if [ "$health" != 200 ]; then
        echo "FAIL ($backend): /healthz answered $health after the run" >&2
        fail=1
    fi
    probe=$(curl -sS -o "$dir/probe.json" -w '%{http_code}' -H "Authorization: Bearer $tenant_token" \
        "$base/t/acme/api/v1/tickets?category=9223372036854775808" || true)
    if [ "$probe" != 400 ]; then
        echo "FAIL ($backend): the number probe answered $probe (want 400): $(cat "$dir/probe.json" 2>/dev/null)" >&2
        fail=1
    fi
    # Strings PostgreSQL cannot store (U+0000) are refused, not a 500.
    local probe want method path who body code bearer
    local -a data
    for probe in \
        "404 GET /api/platform/v1/tenants/a%00b op" \
        "404 DELETE /t/acme/api/v1/plugins/a%00b tenant" \
        "400 POST /t/acme/api/v1/tickets/1/messages tenant {\"text\":\"a\\u0000b\"}" \
        "400 POST /t/acme/api/v1/tickets tenant {\"title\":\"a\\u0000b\",\"description\":\"x\"}"; do
        read -r want method path who body <<<"$probe"
        bearer=$tenant_token
        [ "$who" = op ] && bearer=$op_token
        data=()
        [ -n "$body" ] && data=(-H 'Content-Type: application/json' -d "$body")
        code=$(curl -sS -o "$dir/probe.json" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $bearer" \
            "${data[@]}" "$base$path" || true)
        if [ "$code" != "$want" ]; then
            echo "FAIL ($backend): $method $path answered $code (want $want): $(cat "$dir/probe.json" 2>/dev/null)" >&2
            fail=1
        fi
    done
    if grep -q "panicked" "$dir/tikethet.log"; then
        echo "FAIL ($backend): a handler panicked:" >&2
        grep -A3 "panicked" "$dir/tikethet.log" | head -n 40 >&2
        fail=1
    fi
    if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ]; then
        local keep="${ST_LOG_DIR:-$CARGO_TARGET_DIR/schemathesis-logs}/$backend"
        mkdir -p "$keep" && cp "$dir"/*.log "$dir/schemathesis.toml" "$keep"/ 2>/dev/null || true
        echo "== schemathesis on $backend FAILED (schemathesis exit $rc); logs kept in $keep; server errors:" >&2
        grep -E "ERROR|panicked" "$dir/tikethet.log" | tail -n 30 >&2 || true
        return 1
    fi

    kill "$server_pid" 2>/dev/null || true
    cleanup_backend
    echo "== schemathesis on $backend: passed"
}

cleanup_backend() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    if [ -n "$PG_SCHEMA" ]; then
        drop_pg_schema "$PG_SCHEMA"
        PG_SCHEMA=""
    fi
}

status=0
for b in $BACKENDS; do
    run_backend "$b" || status=1
    cleanup_backend
done
exit $status
