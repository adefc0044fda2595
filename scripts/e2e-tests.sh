#!/usr/bin/env bash
# The end-to-end tests: a real `writ serve` on SQLite and on PostgreSQL, driven by the official
# Microsoft Graph Python SDK (msgraph-sdk) and by the README's quick start (curl + jq).
#
# Builds target/debug/writ, creates or reuses a Python venv in target/e2e-venv with the pinned
# packages of tests/e2e/requirements.txt (from PyPI; scripts/e2e-venv.sh), and runs pytest on tests/e2e; exits with
# pytest's status. Extra arguments go to pytest (e.g. `-k readme`, `-x`).
#
# The PostgreSQL variants need WRIT_TEST_POSTGRES_URL (scripts/test.sh sets it; by hand:
# `export WRIT_TEST_POSTGRES_URL="$(scripts/pg-test-cluster.sh)"`); without it they fail.
# Python: `python3` (3.11), or the interpreter named by $PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -p writ --locked

VENV_PYTHON="$(scripts/e2e-venv.sh)"

if [[ -z "${WRIT_TEST_POSTGRES_URL:-}" ]]; then
    echo "e2e: WRIT_TEST_POSTGRES_URL is not set: the PostgreSQL variants will fail" >&2
fi

export PYTHONDONTWRITEBYTECODE=1
status=0
"$VENV_PYTHON" -m pytest tests/e2e -q "$@" || status=$?
exit "$status"
