#!/usr/bin/env bash
# Load test for POST /v1/evaluations: recorded on SQLite, recorded on Postgres, dry runs.
#
#   bench/load/run.sh                      # all three scenarios
#   SCENARIOS="pg dry" DURATION=30 CONNECTIONS=32 bench/load/run.sh
#
# Env: DURATION (s, default 20), CONNECTIONS (32), THREADS (wrk threads, 2), PORT (18480),
#      WORKERS (modelgate --workers; default: the service's own default),
#      SCENARIOS (any of: sqlite pg pg-nolog dry; default: sqlite pg dry; pg-nolog is
#      Postgres with decisions not queued for the audit log), SKIP_BUILD=1, BIN (binary),
#      RATE_LIMIT (requests/s per API key; default 0 = off, so the limit is not measured),
#      PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres), CARD (document to post).
# Needs: wrk, curl, psql (for the Postgres scenario). Run from anywhere inside the repo.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18480}
SCENARIOS=${SCENARIOS:-"sqlite pg dry"}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export CARD=${CARD:-examples/acme-chat-8b.md}
export MODELGATE_LOG=${MODELGATE_LOG:-warn}
BIN=${BIN:-"$ROOT/target/release/modelgate"}
LUA="$ROOT/bench/load/evaluate.lua"
URL="http://127.0.0.1:$PORT"

for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y $tool)" >&2; exit 1; }
done
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cargo build --release -p modelgate
fi

TMP=$(mktemp -d)
SERVER_PID=""
DB=""
cleanup() {
  stop_server
  if [[ -n "$DB" ]]; then
    psql -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -c "DROP DATABASE IF EXISTS \"$DB\"" >/dev/null || true
    DB=""
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

# start_server LOGNAME DATADIR [env...]; exports MODELGATE_KEY (the first admin key, for wrk)
start_server() {
  local name=$1; shift
  local data=$1; shift
  local workers=()
  [[ -n "${WORKERS:-}" ]] && workers=(--workers "$WORKERS")
  env "$@" MODELGATE_DATA_DIR="$data" MODELGATE_RATE_LIMIT="${RATE_LIMIT:-0}" "$BIN" serve --bind "127.0.0.1:$PORT" "${workers[@]}" "${SERVE_ARGS[@]}" \
    >"$TMP/$name.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if curl -fsS "$URL/readyz" >/dev/null 2>&1; then
      export MODELGATE_KEY
      MODELGATE_KEY=$(cat "$data/admin.key" 2>/dev/null || true)
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not become ready; log:" >&2
  cat "$TMP/$name.log" >&2
  exit 1
}

declare -A RESULT
run_wrk() {
  local name=$1; shift
  echo "== $name: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s $*" >&2
  # 2 s warm-up on one connection; stop if it sees any error (bad request, server down)
  local warm
  warm=$(wrk -t1 -c1 -d2s -s "$LUA" "$URL" -- "$@")
  if ! awk '/^RESULT/ { exit !($5 == 0 && $6 > 0) }' <<<"$warm"; then
    echo "warm-up failed:" >&2; echo "$warm" >&2; exit 1
  fi
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$LUA" "$URL" -- "$@" \
    | tee "$TMP/$name.wrk" >&2
  RESULT[$name]=$(awk '/^RESULT/ {print $2, $3, $4, $5, $6}' "$TMP/$name.wrk")
}

SERVE_ARGS=()
for s in $SCENARIOS; do
  case $s in
    sqlite)
      SERVE_ARGS=()
      start_server sqlite "$TMP/data-sqlite" -u DATABASE_URL
      run_wrk "recorded, SQLite"
      stop_server
      ;;
    pg|pg-nolog)
      DB="modelgate_load_$$_$(date +%s)"
      psql -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
      SERVE_ARGS=()
      start_server pg "$TMP/data-pg" "DATABASE_URL=postgres://$PGUSER@$PGHOST:$PGPORT/$DB"
      if [[ $s == pg-nolog ]]; then
        # The audit log's cost, measured with the same binary: decisions are no longer
        # queued for the log, so the sequencer has nothing to do. (The service still
        # computes each decision's leaf hash, about 10 us of CPU.)
        psql -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$DB" \
          -c "ALTER TABLE decisions DISABLE TRIGGER decisions_queue" >/dev/null
        run_wrk "recorded, PG, no log"
      else
        run_wrk "recorded, Postgres"
      fi
      stop_server
      psql -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -c "DROP DATABASE IF EXISTS \"$DB\"" >/dev/null
      DB=""
      ;;
    dry)
      SERVE_ARGS=()
      start_server dry "$TMP/data-dry" -u DATABASE_URL
      run_wrk "dry run (SQLite)" dry
      stop_server
      ;;
    *) echo "unknown scenario $s (sqlite pg pg-nolog dry)" >&2; exit 2 ;;
  esac
done

echo
echo "POST /v1/evaluations, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $(nproc) cores, $(date -u +%Y-%m-%d)"
printf '| %-20s | %8s | %8s | %8s | %6s | %9s |\n' scenario "req/s" "p50 ms" "p99 ms" errors requests
printf '|%s|%s|%s|%s|%s|%s|\n' ---------------------- ---------: ---------: ---------: -------: ----------:
for s in "recorded, SQLite" "recorded, Postgres" "recorded, PG, no log" "dry run (SQLite)"; do
  [[ -n "${RESULT[$s]:-}" ]] || continue
  read -r rps p50 p99 err req <<<"${RESULT[$s]}"
  printf '| %-20s | %8s | %8s | %8s | %6s | %9s |\n' "$s" "$rps" "$p50" "$p99" "$err" "$req"
done
