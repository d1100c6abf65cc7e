#!/usr/bin/env bash
# The reliability suite: Schemathesis (every check, every phase: examples, coverage,
# fuzzing, stateful) against the real server on SQLite and on a fresh PostgreSQL database.
# Fails on any server error or contract failure.
#
#   tests/schemathesis/run.sh                 # both backends, 100 examples per operation
#   EXAMPLES=20 BACKENDS=sqlite tests/schemathesis/run.sh
#
# Env: EXAMPLES (100), BACKENDS ("sqlite postgres"), BIN (modelgate binary; default
# target/debug/modelgate, built when missing), PORT (18990), PGHOST/PGPORT/PGUSER for the
# PostgreSQL run (127.0.0.1, 5432, postgres). Needs `st` (pip install schemathesis==4.32.5),
# curl and psql.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
EXAMPLES=${EXAMPLES:-100}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PORT=${PORT:-18990}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
BIN=${BIN:-"$ROOT/target/debug/modelgate"}
[[ -x "$BIN" ]] || cargo build --locked -p modelgate
command -v st >/dev/null || { echo "missing st (pip install schemathesis==4.32.5)" >&2; exit 1; }

TMP=$(mktemp -d)
PID=""
DB=""
cleanup() {
    [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [[ -n "$DB" ]] && psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc "DROP DATABASE IF EXISTS $DB" || true
    rm -rf "$TMP"
}
trap cleanup EXIT

status=0
for backend in $BACKENDS; do
    dir="$TMP/$backend"
    mkdir -p "$dir"
    env=(MODELGATE_LOG=warn MODELGATE_RATE_LIMIT=0)
    if [[ "$backend" == postgres ]]; then
        DB="mg_schemathesis_$$"
        psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc "CREATE DATABASE $DB"
        env+=("DATABASE_URL=postgres://$PGUSER@$PGHOST:$PGPORT/$DB" "MODELGATE_KEY_DIR=$dir/keys")
    else
        env+=("MODELGATE_DATA_DIR=$dir/data")
    fi
    (cd "$dir" && exec env "${env[@]}" "$BIN" serve --bind "127.0.0.1:$PORT" --hf-endpoint off >"$dir/stdout" 2>"$dir/stderr") &
    PID=$!
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    key=$(grep -ho 'mg_[0-9a-f]\{16\}_[A-Za-z0-9_-]\{43\}' "$dir/stdout" | head -1)
    [[ -n "$key" ]] || { echo "no admin key from the $backend server:"; cat "$dir/stderr"; exit 1; }
    echo "== schemathesis on $backend ($EXAMPLES examples per operation)"
    if ! st --config-file "$ROOT/tests/schemathesis/schemathesis.toml" run "$ROOT/openapi.yaml" \
            --url "http://127.0.0.1:$PORT" -H "Authorization: Bearer $key" \
            --checks all --max-examples "$EXAMPLES" --workers 2 --seed 1 --no-color; then
        status=1
    fi
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    if [[ "$backend" == postgres ]]; then
        psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc "DROP DATABASE IF EXISTS $DB"
        DB=""
    fi
done
exit $status
