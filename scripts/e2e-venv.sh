#!/usr/bin/env bash
# Creates or reuses the Python venv target/e2e-venv with the pinned packages of
# tests/e2e/requirements.txt (from PyPI) and prints its python. Used by scripts/e2e-tests.sh, and
# by scripts/test.sh before the Rust tests, whose email tests start that venv's aiosmtpd.
# Python: `python3` (3.11), or the interpreter named by $PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=target/e2e-venv
if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV" >&2; then
        echo "e2e: '$PYTHON -m venv' failed; a Python 3.11 with the venv module is needed" >&2
        exit 1
    fi
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r tests/e2e/requirements.txt >&2
echo "$PWD/$VENV/bin/python"
