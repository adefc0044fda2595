#!/usr/bin/env bash
# The whole test suite, on SQLite and PostgreSQL: starts a test PostgreSQL cluster, runs the Rust
# tests (every storage test on both backends; the email tests against a real aiosmtpd), then the end-to-end tests that drive a real
# `writ serve` with the official Microsoft Graph Python SDK and the README's quick start.
set -euo pipefail
cd "$(dirname "$0")/.."

WRIT_TEST_POSTGRES_URL="$(scripts/pg-test-cluster.sh)"
export WRIT_TEST_POSTGRES_URL
echo "test PostgreSQL: $WRIT_TEST_POSTGRES_URL"

# The Rust email tests deliver to aiosmtpd from this venv (without one they skip, saying so, or
# fail when CI is set).
WRIT_TEST_AIOSMTPD_PYTHON="$(scripts/e2e-venv.sh)"
export WRIT_TEST_AIOSMTPD_PYTHON

cargo build --workspace --all-targets --locked
cargo test --workspace --locked
scripts/e2e-tests.sh
