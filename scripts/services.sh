#!/usr/bin/env bash
# Real PostgreSQL + S3-compatible servers on loopback for the integration tests and the
# load benchmark. Idempotent: installs what is missing, starts what is not running.
#
#   scripts/services.sh up      install if needed, start, print `export …` lines
#   scripts/services.sh env     print the `export …` lines only (eval "$(… env)")
#   scripts/services.sh down    stop both (data is thrown away)
#
# PostgreSQL: Debian's package (postgresql), a throw-away cluster made with initdb in
# $COINCAST_SERVICES_DIR, run as the unprivileged `postgres` user when we are root
# (PostgreSQL refuses to run as root), listening on 127.0.0.1:$COINCAST_PG_PORT only.
# S3: moto's standalone server (`moto_server`, pinned in pyproject's dev extra): a real
# HTTP S3 endpoint speaking the AWS wire protocol, installable from PyPI. MinIO's server
# is not packaged in the registries we may use; moto keeps objects in memory, which is
# what throw-away test services want.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=${COINCAST_SERVICES_DIR:-/tmp/coincast-services}
PG_PORT=${COINCAST_PG_PORT:-55432}
S3_PORT=${COINCAST_S3_PORT:-59000}
PY=${PY:-$ROOT/.venv/bin/python}
PGDATA=$DIR/pg

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

exports() {
  echo "export COINCAST_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "export COINCAST_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
}

install_pg() {
  [ -n "$(pg_bin)" ] && return
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL is not installed; run as root (apt-get install postgresql)" >&2
    return 1
  fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

pg_up() {
  install_pg
  local bin; bin=$(pg_bin)
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" postgres
    chmod 755 "$DIR"
  fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
    # trust on loopback only: a throw-away test cluster, never exposed beyond 127.0.0.1.
    as_pg "$bin/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  fi
  if as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    return
  fi
  as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start \
    -o "-h 127.0.0.1 -p $PG_PORT -k $PGDATA -c max_connections=300 -c fsync=on" >/dev/null
}

pg_down() {
  local bin; bin=$(pg_bin)
  [ -n "$bin" ] && [ -f "$PGDATA/PG_VERSION" ] || return 0
  as_pg "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PGDATA"
}

s3_running() {
  "$PY" - "$S3_PORT" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2)
PY
}

s3_up() {
  [ -x "$ROOT/.venv/bin/moto_server" ] || make -s install >&2
  s3_running && return
  mkdir -p "$DIR"
  nohup "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$DIR/moto.log" 2>&1 &
  echo $! >"$DIR/moto.pid"
  for _ in $(seq 1 100); do
    s3_running && return
    sleep 0.2
  done
  echo "moto_server did not start; see $DIR/moto.log" >&2
  return 1
}

s3_down() {
  if [ -f "$DIR/moto.pid" ]; then
    local pid; pid=$(cat "$DIR/moto.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$DIR/moto.pid"
  fi
}

case "${1:-up}" in
  up) pg_up; s3_up; exports ;;
  env) exports ;;
  down) s3_down; pg_down ;;
  *) echo "usage: $0 up|env|down" >&2; exit 2 ;;
esac
