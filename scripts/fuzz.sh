#!/usr/bin/env bash
# The long fuzzing run (docs/reliability.md): the property tests with many cases and the route
# sweep with many generated requests per route, on SQLite and PostgreSQL, in a debug build (so
# integer overflow panics instead of wrapping). Prints the totals; exits non-zero if anything
# failed. `cargo test` runs the same tests with small counts.
#
#   FUZZ_CASES       cases per pure property test (OData options, skiptokens, durations)  20000
#   FUZZ_HTTP_CASES  cases per property test over HTTP (bodies, token forms, bearers)       2000
#   WRIT_SWEEP_CASES random requests per route and backend on top of one per caller         200
#   WRIT_SWEEP_SEED  the sweep's seed (printed; pass it again to replay a run)       time-based
set -uo pipefail
cd "$(dirname "$0")/.."

CASES="${FUZZ_CASES:-20000}"
HTTP_CASES="${FUZZ_HTTP_CASES:-2000}"
SWEEP_CASES="${WRIT_SWEEP_CASES:-200}"
SEED="${WRIT_SWEEP_SEED:-$(date +%s)}"
export WRIT_SWEEP_CASES="$SWEEP_CASES" WRIT_SWEEP_SEED="$SEED" RUST_BACKTRACE=0
if [[ -z "${WRIT_TEST_POSTGRES_URL:-}" ]]; then
    WRIT_TEST_POSTGRES_URL="$(scripts/pg-test-cluster.sh)"
fi
export WRIT_TEST_POSTGRES_URL

LOGS="$(mktemp -d)"
STARTED=$(date +%s)
FAILED=0

# run NAME CASES cargo-args…: one suite, its output kept in $LOGS/NAME.
run() {
    local name="$1" cases="$2"
    shift 2
    echo "== $name (PROPTEST_CASES=$cases): cargo test $*"
    if ! PROPTEST_CASES="$cases" cargo test --locked "$@" -- --nocapture >"$LOGS/$name" 2>&1; then
        FAILED=1
        grep -E '^test .* FAILED$|minimal failing input|Test failed|requests failed|^  [0-9]+×' \
            "$LOGS/$name" | cut -c1-400
    fi
    grep -E '^test result' "$LOGS/$name"
}

passed() { grep -cE '^test .* \.\.\. ok$' "$LOGS/$1" || true; }

# The integration tests (and writ-store's) are modules of one binary, `-p writ --test suite`.
cargo build --locked -q -p writ-odata -p writ-domain -p writ --tests
run odata "$CASES" -p writ-odata --lib proptests
run skiptoken "$CASES" -p writ --test suite store_units::skiptokens
run domain "$CASES" -p writ-domain --lib
run time "$CASES" -p writ --test suite time_properties::
run http "$HTTP_CASES" -p writ --test suite fuzz_inputs
run sweep "$HTTP_CASES" -p writ --test suite route_sweep

ELAPSED=$(($(date +%s) - STARTED))
ODATA=$(passed odata)
SKIP=$(passed skiptoken)
HTTP=$(passed http)
echo
echo "== totals ($((ELAPSED / 60)) min $((ELAPSED % 60)) s; logs in $LOGS)"
echo "OData property tests passed:     $ODATA x $CASES cases"
echo "skiptoken property tests passed: $SKIP x $CASES cases"
echo "writ-domain tests passed:        $(($(passed domain) + $(passed time))) (property tests at $CASES cases)"
echo "HTTP property tests passed:      $HTTP x $HTTP_CASES cases (4 properties x 2 backends)"
grep -hE '^route sweep \(' "$LOGS/sweep" || echo "route sweep: no result (see $LOGS/sweep)"
FIVES=$(grep -hoE '\(5, [0-9]+\)' "$LOGS/sweep" | tr -dc '0-9 \n' | awk '{ n += $2 } END { print n + 0 }')
echo "route sweep responses >= 500:    $FIVES"
echo "failed tests:                    $(cat "$LOGS"/* | grep -cE '^test .* FAILED$' || true)"
echo "(a panic in a parser fails its property test; a panic in a handler is a 500)"
exit "$FAILED"
