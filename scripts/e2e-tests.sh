#!/usr/bin/env bash
# The end-to-end tests: a real `writ serve` on SQLite and on PostgreSQL, driven by the official
# Microsoft Graph Python SDK (msgraph-sdk) and by the README's quick start (curl + jq).
#
# Builds target/debug/writ, creates or reuses a Python venv in target/e2e-venv with the pinned
# packages of tests/e2e/requirements.txt (from PyPI; scripts/e2e-venv.sh), installs the Node
# packages of tests/node from their lockfile (scripts/node-deps.sh) and Debian's chromium and
# chromium-driver when missing (scripts/chromium.sh, as root), and runs pytest on tests/e2e; exits
# with pytest's status. Extra arguments go to pytest (e.g. `-k readme`, `-x`).
#
# The tests run on WRIT_E2E_WORKERS pytest-xdist workers (default 4; 0 runs them in this process):
# most of a test's time is real seconds waited for expiries, notices and restarts, so four workers
# on two cores take about a third of the serial time (docs/benchmarks.md, "Test build"). Each
# test starts its own servers on free ports and fresh databases, so workers share nothing.
#
# The PostgreSQL variants need WRIT_TEST_POSTGRES_URL (scripts/test.sh sets it; by hand:
# `export WRIT_TEST_POSTGRES_URL="$(scripts/pg-test-cluster.sh)"`); without it they fail.
# Python: `python3` (3.11), or the interpreter named by $PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -p writ --locked

VENV_PYTHON="$(scripts/e2e-venv.sh)"
scripts/node-deps.sh >/dev/null
scripts/chromium.sh >/dev/null

if [[ -z "${WRIT_TEST_POSTGRES_URL:-}" ]]; then
    echo "e2e: WRIT_TEST_POSTGRES_URL is not set: the PostgreSQL variants will fail" >&2
fi

export PYTHONDONTWRITEBYTECODE=1
status=0
"$VENV_PYTHON" -m pytest tests/e2e -q -n "${WRIT_E2E_WORKERS:-4}" "$@" || status=$?
exit "$status"
