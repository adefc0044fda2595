#!/usr/bin/env bash
# Regenerates the portal's screenshots, docs/screenshots/portal-*.png (docs/portal.md): starts
# `writ serve` on a throwaway SQLite database, seeds the portal's world through the Graph API
# (tests/e2e/portal_support.py: sponsors, approvers, agents, packages, a pending and a decided
# request), signs each person in through Writ's sign-in page in Debian's headless chromium, and
# saves every page of the portal's URL scheme at desktop (1280) and phone (390) width
# (scripts/portal_screenshots.py). A page not served yet is reported and skipped; the script then
# exits 1 after taking the others. Needs target/debug/writ (cargo build -p writ), the e2e venv,
# the Node packages (axe-core, for the accessibility report) and scripts/chromium.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x target/debug/writ ]] || { echo "portal-screenshots: build first: cargo build -p writ" >&2; exit 1; }
VENV_PYTHON="$(scripts/e2e-venv.sh)"
scripts/node-deps.sh >/dev/null
scripts/chromium.sh >/dev/null
export PYTHONDONTWRITEBYTECODE=1
"$VENV_PYTHON" scripts/portal_screenshots.py "${1:-docs/screenshots}"
