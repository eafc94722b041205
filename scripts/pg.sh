#!/usr/bin/env bash
# Throwaway PostgreSQL 15 clusters for tests: initdb in a fresh temp
# directory, a server listening only on a unix socket inside that directory
# (no TCP port, so clusters never collide), trust authentication, fsync off.
# Nothing of it outlives pg_stop. The binaries come from Debian's postgresql-15
# package (scripts/setup.sh: setup_postgres installs it when absent).
#
#   source scripts/pg.sh; pg_start; psql "$PGURL" -c 'select 1'; pg_stop
#   bash scripts/pg.sh run -- node --test tests/js/postgres.node-test.mjs
#   bash scripts/pg.sh start         # prints PG_DIR=... and PGURL=... lines
#   bash scripts/pg.sh stop DIR      # stops and removes that cluster
#
# pg_start exports PG_DIR (the cluster's directory, also its socket
# directory), PGURL and DATABASE_URL (the same connection string:
# postgresql://postgres@localhost/postgres?host=PG_DIR), PGHOST, PGPORT, PGUSER
# and PGDATABASE (so psql needs no arguments). `run` stops and removes the
# cluster when the command ends, whatever its outcome, and exits with the
# command's status.
#
# As root, initdb and the server run as the `postgres` user (initdb refuses
# root) through runuser; otherwise as the current user. Each cluster records
# the process that owns it; pg_start first stops and removes clusters whose
# owner is gone (a run that was killed before it could clean up).

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
# Where clusters are made: a directory the postgres user can traverse.
PG_TMP="${PG_TMP:-/tmp}"

pg_log() { echo "pg: $*" >&2; }

# Runs a server binary as the cluster's owner, from / (the caller's working
# directory may be closed to the postgres user; every path given is absolute).
_pg_as_owner() {
  if ((EUID == 0)); then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# "pid starttime" of a running process (the start time tells a reused pid apart).
_pg_identity() {
  local pid="$1" stat
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  # Field 22 counted after the ")" that ends the command name.
  stat="${stat##*) }"
  set -- $stat
  # A zombie (killed, not yet reaped by its parent) runs no more.
  [[ "$1" != Z ]] || return 1
  echo "$pid ${20}"
}

# Stops the server of DIR (if any) and removes DIR.
_pg_remove() {
  local dir="$1"
  [[ -n "$dir" && -d "$dir" ]] || return 0
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    _pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    # A server whose pg_ctl stop failed (its owner changed, a broken data dir):
    # end its postmaster by the pid it recorded, if that is still a postgres.
    local pid
    pid="$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]]; then
      kill -QUIT "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir"
}

# Removes clusters left by owners that no longer run.
_pg_reap_stale() {
  local owner dir recorded pid
  for owner in "$PG_TMP"/credstore-pg.*/owner; do
    [[ -f "$owner" ]] || continue
    dir="${owner%/owner}"
    recorded="$(cat "$owner" 2>/dev/null || true)"
    pid="${recorded%% *}"
    if [[ -n "$pid" && "$(_pg_identity "$pid")" == "$recorded" ]]; then continue; fi
    pg_log "removing a stale cluster of a run that ended without cleanup: $dir"
    _pg_remove "$dir"
  done
}

pg_require() {
  if [[ ! -x "$PG_BIN/initdb" || ! -x "$PG_BIN/pg_ctl" ]]; then
    pg_log "PostgreSQL 15 is not installed ($PG_BIN): run scripts/setup.sh (setup_postgres)"
    return 1
  fi
  if ((EUID == 0)) && ! id postgres >/dev/null 2>&1; then
    pg_log "no postgres user to run the server as (reinstall postgresql-15)"
    return 1
  fi
}

# Starts a cluster owned by process $1 (default: this shell) and exports its
# connection variables.
pg_start() {
  local owner_pid="${1:-$$}"
  pg_require || return 1
  _pg_reap_stale
  local dir
  dir="$(mktemp -d "$PG_TMP/credstore-pg.XXXXXXXX")" || return 1
  # Written whole (rename), so a concurrent pg_start never reads it half-made.
  if ! _pg_identity "$owner_pid" >"$dir/owner.new"; then
    pg_log "the owner process $owner_pid is not running"
    rm -rf "$dir"
    return 1
  fi
  mv "$dir/owner.new" "$dir/owner"
  # The server's user must own the directory: it holds the data directory,
  # the socket and the log.
  if ((EUID == 0)); then chown postgres:postgres "$dir"; fi
  chmod 0755 "$dir"
  if ! _pg_as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust \
    --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
    pg_log "initdb failed:"
    cat "$dir/initdb.log" >&2
    _pg_remove "$dir"
    return 1
  fi
  # Socket only (listen_addresses empty): the port number only names the
  # socket file in this private directory.
  local opts="-c listen_addresses='' -c unix_socket_directories='$dir' -c port=5432"
  opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  opts+=" -c max_connections=200 -c shared_buffers=32MB"
  if ! _pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 60 start >/dev/null; then
    pg_log "the server did not start:"
    cat "$dir/server.log" >&2
    _pg_remove "$dir"
    return 1
  fi
  export PG_DIR="$dir"
  export PGURL="postgresql://postgres@localhost/postgres?host=$dir"
  export DATABASE_URL="$PGURL"
  export PGHOST="$dir" PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
}

# Stops and removes the cluster of PG_DIR (or of the directory given).
pg_stop() {
  local dir="${1:-${PG_DIR:-}}"
  case "$dir" in
    "$PG_TMP"/credstore-pg.*) _pg_remove "$dir" ;;
    "") return 0 ;;
    *)
      pg_log "not a cluster of pg.sh: $dir"
      return 1
      ;;
  esac
  if [[ "$dir" == "${PG_DIR:-}" ]]; then
    unset PG_DIR PGURL DATABASE_URL PGHOST PGPORT PGUSER PGDATABASE
  fi
}

# Run when executed, not when sourced.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    run)
      shift
      [[ "${1:-}" == "--" ]] && shift
      if (($# == 0)); then
        pg_log "usage: pg.sh run -- COMMAND [ARGS...]"
        exit 2
      fi
      pg_start
      trap 'pg_stop' EXIT
      trap 'exit 130' INT
      trap 'exit 143' TERM
      status=0
      "$@" || status=$?
      exit "$status"
      ;;
    start)
      # The caller owns the cluster (the parent of this script): it must call
      # `pg.sh stop DIR`; if it dies first, the next pg_start removes it.
      pg_start "$PPID"
      echo "PG_DIR=$PG_DIR"
      echo "PGURL=$PGURL"
      ;;
    stop)
      pg_stop "${2:?usage: pg.sh stop DIR}"
      ;;
    *)
      echo "usage: pg.sh run -- COMMAND... | pg.sh start | pg.sh stop DIR" >&2
      exit 2
      ;;
  esac
fi
