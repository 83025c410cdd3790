#!/usr/bin/env bash
# Mutation testing of the files the "tests that prove what they claim" issue
# names, with cargo-mutants (`cargo install --locked cargo-mutants`): unit
# tests plus the end-to-end tests that exercise each file (the SQLite
# variants, and PostgreSQL where the file has a PostgreSQL-only path).
# Not run by .ci/run: it takes hours on two cores (one build per mutant).
# It mutates files in place: run it on a clean worktree of its own, e.g.
#   git worktree add --detach ../mut HEAD && (cd ../mut && bash .ci/mutants.sh auth)
# Reports land in mutants-<file>/mutants.out (caught.txt, missed.txt, ...).
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# The attachment tests need moto's S3 server (.ci/run installs it); without
# it they fail for every mutant, which would count every mutant as caught.
export TIKETHET_TEST_MOTO_SERVER="${TIKETHET_TEST_MOTO_SERVER:-${CARGO_TARGET_DIR:-/var/cache/tikethet-target}/moto-venv/bin/moto_server}"
[ -x "$TIKETHET_TEST_MOTO_SERVER" ] || { echo "moto_server not found at $TIKETHET_TEST_MOTO_SERVER: run .ci/run once or set TIKETHET_TEST_MOTO_SERVER" >&2; exit 2; }
pg='!test(/::postgres::/)'
run() { # file packages filter
    local file=$1 pkgs=$2 filter=$3 name args=() unit
    name=$(basename "$file" .rs)
    for p in $pkgs; do args+=(--test-package "$p"); done
    # Two passes: the unit tests alone first (seconds per mutant), then the
    # end-to-end tests only for what survived (--iterate skips the caught),
    # since relinking the e2e binary costs a minute or more per mutant.
    unit=${filter%% | (binary(e2e)*}
    cargo mutants --in-place --file "$file" --test-package "${pkgs%% *}" --test-tool nextest --baseline skip -t 120 \
        -o "mutants-$name" --cargo-test-arg=--no-fail-fast --cargo-test-arg=-E --cargo-test-arg="$unit"
    git checkout -- "$file"
    # Fail fast: one failing test catches the mutant, and a mutant that
    # breaks intake would otherwise keep every test waiting to its deadline.
    # The unmutated tree runs the filter first (--baseline run): a test that
    # fails anyway would otherwise "catch" every mutant.
    cargo mutants --in-place --iterate --file "$file" "${args[@]}" --test-tool nextest --baseline run -t 240 \
        -o "mutants-$name" --cargo-test-arg=--fail-fast --cargo-test-arg=-E --cargo-test-arg="$filter"
    git checkout -- "$file"
}
for f in ${@:-secrets auth intake sender}; do
    case $f in
    secrets) run platform/src/secrets.rs "tikethet-platform tikethet-tests" \
        "package(tikethet-platform) | (binary(e2e) & $pg & test(/provisioning_registers|replacing_the_bot_token|production_refuses|cli_manages|configuration_file/))" ;;
    auth) run tenant-runtime/src/auth/mod.rs "tikethet-runtime tikethet-tests" \
        "(package(tikethet-runtime) & test(/^auth::/)) | (binary(e2e) & $pg & test(/tokens_and_init_data|sign_ins|refresh_tokens|logout_revokes|denylist|helpers_see|arbitrary_webhook|new_owner_demotes/))" ;;
    intake) run tenant-runtime/src/inbound/intake.rs "tikethet-runtime tikethet-tests" \
        "(package(tikethet-runtime) & test(/^intake::/)) | (binary(e2e) & (test(/postgres::(customer_message_becomes|one_tenants_broken|malformed_and_unhandled|a_customer_message_with_a_nul)/) | test(/postgres_tenants_stay_isolated/) | ($pg & test(/webhook_refuses|malformed_and_unhandled|over_one_mebibyte|nul_character|suspended_tenant|customer_message_becomes|acknowledged_updates_left|one_tenants_broken|replacing_the_bot_token|arbitrary_webhook|buttons_reach|provisioning_registers/))))" ;;
    sender) run tenant-runtime/src/outbound/sender.rs "tikethet-runtime tikethet-tests" \
        "(package(tikethet-runtime) & test(/^(sender|telegram|limiter)::/)) | (binary(e2e) & (test(/postgres_with_redis_rate_limits|redis_limiter_is_shared|no_more_than_30|retry_after_holds/) | ($pg & test(/customer_message_becomes|sender_|longer_than_telegram|blocked_the_bot|keyword_plugin_uploaded|buttons_reach|acknowledged_updates_left|attachments::/))))" ;;
    *) echo "unknown file $f (secrets, auth, intake, sender)" >&2; exit 2 ;;
    esac
done
