#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and benches, on 127.0.0.1 and a free port, in a temporary directory.
#
#   eval "$(bash scripts/postgres.sh start)"   # exports TEST_POSTGRES_URL and TEST_POSTGRES_DIR
#   bash scripts/postgres.sh createdb "$TEST_POSTGRES_URL" NAME   # prints the new database's URL
#   bash scripts/postgres.sh stop "$TEST_POSTGRES_DIR"
#
# Uses Debian's `postgresql` (installed by .ci/run when absent). `initdb` refuses root, so as root the
# server runs as the `postgres` user. Trust authentication on the loopback only; nothing is synced to
# disk (fsync off): a test server, never a store.
set -euo pipefail

bin_dir() {
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [[ -n "$found" ]]; then echo "$found"; return; fi
  dirname "$(command -v initdb)"
}

as_server() {
  if [[ "$(id -u)" == "0" ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local bin dir port
  bin="$(bin_dir)"
  dir="$(mktemp -d /tmp/speckit-postgres.XXXXXX)"
  [[ "$(id -u)" == "0" ]] && chown postgres "$dir"
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  as_server "$bin/initdb" -D "$dir/data" -A trust -U speckit --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "export TEST_POSTGRES_URL=postgres://speckit@127.0.0.1:$port/postgres"
  echo "export TEST_POSTGRES_DIR=$dir"
}

createdb() {
  local url="${1:?usage: postgres.sh createdb URL NAME}" name="${2:?usage: postgres.sh createdb URL NAME}"
  [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "postgres.sh: bad database name $name" >&2; exit 2; }
  "$(bin_dir)/psql" "$url" -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE $name" >/dev/null
  echo "${url%/*}/$name"
}

stop() {
  local dir="${1:?usage: postgres.sh stop DIR}"
  as_server "$(bin_dir)/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  createdb) createdb "${2:-}" "${3:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: postgres.sh start | createdb URL NAME | stop DIR" >&2; exit 2 ;;
esac
