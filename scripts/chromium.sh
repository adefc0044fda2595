#!/usr/bin/env bash
# Ensures Debian's `chromium` and `chromium-driver` are installed (the headless browser of the e2e
# tests' `browser` fixture, tests/e2e/conftest.py), like scripts/pg-test-cluster.sh does for
# PostgreSQL: installed with apt-get when missing, which needs root; otherwise a clear message.
# Prints the path of chromedriver. Idempotent and quick when both are present.
set -euo pipefail

have() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }

if ! have; then
    if [[ "$(id -u)" != 0 ]]; then
        echo "chromium: Debian's chromium and chromium-driver are needed by the browser tests;" \
            "install them as root: apt-get install chromium chromium-driver" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null; then
        echo "chromium: chromium and chromium-driver are not installed and apt-get is unavailable" >&2
        exit 1
    fi
    echo "installing chromium and chromium-driver" >&2
    # Several agents or CI steps may run this at once: apt waits for the dpkg lock.
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
        chromium chromium-driver >&2
fi
command -v chromedriver
