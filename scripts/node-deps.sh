#!/usr/bin/env bash
# Installs the e2e tests' Node packages (tests/node: @azure/identity, openid-client, oidc-provider,
# axe-core) with `npm ci` from the committed package-lock.json (npm registry), so every machine runs the
# same versions. Idempotent and quick: nothing is done while node_modules matches the lockfile
# (a stamp holds the lockfile's SHA-256). Needs Node.js 20.19 or newer with npm on PATH.
# Prints the path of tests/node.
set -euo pipefail
cd "$(dirname "$0")/../tests/node"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "node-deps: Node.js (20.19 or newer) and npm are needed by the e2e tests;" \
        "install them (e.g. from https://nodejs.org or your distribution) and retry" >&2
    exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    echo "node-deps: Node.js $(node --version) is too old: the e2e tests need 20.19 or newer" >&2
    exit 1
fi
STAMP=node_modules/.writ-lock-sha256
WANT="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
    echo "node-deps: npm ci in tests/node" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
    echo "$WANT" > "$STAMP"
fi
pwd
