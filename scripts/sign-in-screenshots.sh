#!/usr/bin/env bash
# Regenerates docs/screenshots/ (docs/sign-in-pages.md): starts `writ serve` on a throwaway SQLite
# database with single sign-on configured (not contacted), creates a person, and drives Debian's
# headless chromium through the sign-in, device code, sign-out and authorize pages at desktop and
# phone width. Needs target/debug/writ (cargo build -p writ), the e2e venv and scripts/chromium.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_PYTHON="$(scripts/e2e-venv.sh)"
scripts/chromium.sh >/dev/null
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=18088
WRIT_SSO_ISSUER=http://127.0.0.1:9/idp WRIT_SSO_CLIENT_ID=writ WRIT_SSO_DISPLAY_NAME="Contoso ID" \
    target/debug/writ serve --listen "127.0.0.1:$port" --database "sqlite://$work/writ.db" \
    >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
"$VENV_PYTHON" scripts/sign_in_screenshots.py "http://127.0.0.1:$port" "$work/serve.log" docs/screenshots
