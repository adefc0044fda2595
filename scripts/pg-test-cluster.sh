#!/usr/bin/env bash
# Starts (or reuses) a throwaway PostgreSQL cluster for the tests and prints its URL.
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` system user
# (created by the Debian package); otherwise as the current user. Data lives in
# $WRIT_TEST_PGDATA (default /tmp/writ-test-pg), the server listens on 127.0.0.1:$WRIT_TEST_PGPORT
# (default 55432) with trust authentication: it is for tests only. fsync is off for speed.
# WRIT_TEST_PG_DURABLE=1 starts it durable instead (fsync, synchronous_commit and full-page writes
# on, PostgreSQL's defaults), for benchmarks that must say what a durable commit costs; give it
# its own WRIT_TEST_PGDATA and WRIT_TEST_PGPORT, as a running cluster is reused as it is.
set -euo pipefail

DATA="${WRIT_TEST_PGDATA:-/tmp/writ-test-pg}"
PORT="${WRIT_TEST_PGPORT:-55432}"
if [[ "${WRIT_TEST_PG_DURABLE:-0}" == 1 ]]; then
    DURABILITY="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
else
    DURABILITY="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi

PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
if [[ -z "$PGBIN" ]]; then
    if ! command -v apt-get >/dev/null; then
        echo "PostgreSQL is not installed and apt-get is unavailable" >&2
        exit 1
    fi
    echo "installing PostgreSQL" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
fi

as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [[ -f "$DATA/PG_VERSION" ]] && as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    :
else
    rm -rf "$DATA"
    mkdir -p "$DATA"
    [[ "$(id -u)" == 0 ]] && chown postgres "$DATA"
    as_owner "$PGBIN/initdb" -D "$DATA" -A trust -U writ --no-sync >/dev/null
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
        -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 $DURABILITY -c max_connections=400" \
        start >/dev/null
fi
echo "postgres://writ@127.0.0.1:$PORT/postgres"
