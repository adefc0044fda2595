#!/usr/bin/env bash
# The crash loop of issue 14: `scripts/chaos.sh N [--seed S] [--postgres URL] [--workdir DIR]
# [--verify-every K] [--json FILE]`.
#
# Builds target/debug/writ (`cargo build -p writ`; set WRIT_TEST_BINARY to run another binary, e.g.
# a release build), creates or reuses the e2e venv (scripts/e2e-venv.sh) and runs
# tests/e2e/chaos.py: a seeded mixed workload against a real `writ serve`, SIGKILLed at random
# moments N times and restarted, with DESIGN section 5's invariants, lost and duplicated changes
# checked after every restart and at the end, and `writ audit verify`. Prints a summary and exits
# non-zero on any violation. SQLite by default (a fresh database file in the work directory);
# `--postgres URL` runs on a fresh database created on that server (dropped afterwards unless a
# violation was found). Without --seed a random seed is drawn and printed. See docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    sed -n '2,3p' "$0" | sed 's/^# //' >&2
}

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
    usage
    exit 2
fi
iterations="$1"
shift
if ! [[ "$iterations" =~ ^[1-9][0-9]*$ ]]; then
    echo "chaos: N must be a positive integer, not '$iterations'" >&2
    exit 2
fi
args=(--backend sqlite)
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seed | --workdir | --verify-every | --json)
            [[ $# -ge 2 ]] || { echo "chaos: $1 needs a value" >&2; exit 2; }
            args+=("$1" "$2")
            shift 2
            ;;
        --postgres)
            [[ $# -ge 2 ]] || { echo "chaos: --postgres needs a URL" >&2; exit 2; }
            args+=(--backend postgres)
            export WRIT_TEST_POSTGRES_URL="$2"
            shift 2
            ;;
        *)
            echo "chaos: unknown argument '$1'" >&2
            usage
            exit 2
            ;;
    esac
done

if [[ -z "${WRIT_TEST_BINARY:-}" ]]; then
    cargo build -p writ --locked
fi
VENV_PYTHON="$(scripts/e2e-venv.sh)"
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV_PYTHON" tests/e2e/chaos.py "$iterations" "${args[@]}"
