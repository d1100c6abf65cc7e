#!/usr/bin/env bash
# Local drill of the production topology, without containers:
#
#   load.py (8 threads, Idempotency-Key per request) -> HAProxy -> 3 x modelgate serve
#                                                                   (one shared audit key)
#                                                               -> a private PostgreSQL
#
# Under load it SIGKILLs a replica (and starts it again), SIGKILLs another one, restarts
# PostgreSQL (fast shutdown) and crashes it (immediate stop) and starts it again. Then it
# checks that every acknowledged decision is in the database and in the audit log exactly
# once, that nothing was recorded twice, that no request was lost, and that
# `modelgate audit verify` passes. Exit 0 when every check passes, 1 otherwise.
#
# Usage: deploy/local/drill.sh [path-to-modelgate]   (default target/debug/modelgate,
#        built with `cargo build -p modelgate --locked` when missing)
# Settings (environment): DRILL_DURATION (s of load, default 75), DRILL_THREADS (8),
# DRILL_WORKERS (HTTP workers per replica, 2), DRILL_DB_POOL (5), DRILL_SERVE_ARGS (more
# `serve` flags, split on spaces), DRILL_KEEP=1 (keep the temporary directory with every
# log), DRILL_REPORT=FILE (copy the JSON report there).
#
# It never touches the machine's PostgreSQL: its own cluster lives in a temporary
# directory, listens on 127.0.0.1 on a free port, and is removed on exit (as is every
# process it started), on success and on failure alike.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

DURATION=${DRILL_DURATION:-75}
THREADS=${DRILL_THREADS:-8}
WORKERS=${DRILL_WORKERS:-2}
DB_POOL=${DRILL_DB_POOL:-5}
read -r -a SERVE_ARGS <<<"${DRILL_SERVE_ARGS:-}"

log() { printf '%s drill: %s\n' "$(date +%T)" "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

# ---- the binary -------------------------------------------------------------------------
if [ $# -ge 1 ]; then
    BIN=$(realpath -- "$1")
    [ -x "$BIN" ] || die "$1 is not an executable"
else
    BIN=$ROOT/target/debug/modelgate
    if [ ! -x "$BIN" ]; then
        log "building modelgate (cargo build -p modelgate --locked)"
        (cd "$ROOT" && cargo build -p modelgate --locked)
    fi
fi

# Nothing from the caller's environment configures the servers but what is set below.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(MODELGATE_|DATABASE_URL$)' || true)

# ---- tools: PostgreSQL's binaries, HAProxy, Python ----------------------------------------
apt_install() {
    [ "$(id -u)" = 0 ] || die "$* is missing; install it (apt-get install -y $*)"
    log "installing $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
}
command -v python3 >/dev/null 2>&1 || apt_install python3
pg_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do if [ -x "$d/initdb" ]; then echo "$d"; fi; done | sort -V | tail -1
}
[ -n "$(pg_bin)" ] || apt_install postgresql
PGBIN=$(pg_bin)
[ -x "$PGBIN/initdb" ] || die "no initdb in $PGBIN"
# Installed, never started as a service: the drill runs its own haproxy in the foreground.
command -v haproxy >/dev/null 2>&1 || apt_install haproxy
HAPROXY=$(command -v haproxy)

# ---- temporary directory and cleanup ------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/modelgate-drill.XXXXXX")
chmod 755 "$TMP" # the postgres user must reach its directory inside
PGDIR=$TMP/pg
PGDATA=$PGDIR/data
KEYS=$TMP/keys
declare -a RPID=("" "" "" "")
LB_PID=""
LOAD_PID=""

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# shellcheck disable=SC2329 # run by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    alive "$LOAD_PID" && kill -TERM "$LOAD_PID"
    local pids=()
    for i in 1 2 3; do
        alive "${RPID[$i]}" && kill -TERM "${RPID[$i]}" && pids+=("${RPID[$i]}")
    done
    alive "$LB_PID" && kill -TERM "$LB_PID" && pids+=("$LB_PID")
    for _ in $(seq 1 100); do
        local left=0
        for p in "${pids[@]}"; do alive "$p" && left=1; done
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}" "$LOAD_PID"; do alive "$p" && kill -KILL "$p"; done
    if [ -f "$PGDATA/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 30 stop >/dev/null 2>&1
    fi
    if [ "$rc" != 0 ]; then
        for f in "$TMP"/r1.log "$TMP"/r2.log "$TMP"/r3.log "$TMP"/haproxy.log "$PGDIR"/postgres.log; do
            [ -s "$f" ] || continue
            echo "---- last lines of $(basename "$f")" >&2
            tail -n 25 "$f" >&2
        done
    fi
    if [ "${DRILL_KEEP:-0}" = 1 ]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- free ports: PostgreSQL, three replicas, HAProxy -------------------------------------
read -r PGPORT P1 P2 P3 LB_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
')
declare -a RPORT=("" "$P1" "$P2" "$P3")
DB_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"

# ---- private PostgreSQL -------------------------------------------------------------------
mkdir -p "$PGDIR"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDIR"
chmod 700 "$PGDIR"
log "PostgreSQL $(basename "$(dirname "$PGBIN")"): initdb in $PGDATA, port $PGPORT"
as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-instructions \
    >"$TMP/initdb.log" 2>&1 || {
    cat "$TMP/initdb.log" >&2
    die "initdb failed"
}
cat >>"$PGDATA/postgresql.conf" <<EOF

# modelgate drill: private, local only
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGDIR'
max_connections = 200
EOF

pg_start() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDIR/postgres.log" -w -t 60 start >/dev/null; }
pg_start || die "PostgreSQL did not start"
psql_q() {
    "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres "$@"
}
psql_q -c 'SELECT 1' >/dev/null || die "cannot connect to the private PostgreSQL"

# ---- modelgate: migrate, then three replicas sharing one key directory ------------------
log "modelgate migrate"
(cd "$TMP" && DATABASE_URL=$DB_URL "$BIN" migrate) >"$TMP/migrate.log" 2>&1 || {
    cat "$TMP/migrate.log" >&2
    die "modelgate migrate failed"
}

# Status code of a GET (000 when nothing answers).
http_code() {
    python3 - "$@" <<'EOF'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 2:
    req.add_header("Authorization", "Bearer " + open(sys.argv[2]).read().strip())
try:
    with urllib.request.urlopen(req, timeout=3) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
}

start_replica() {
    local i=$1
    mkdir -p "$TMP/r$i"
    # The working directory is the replica's own: nothing lands in the repository. stdout
    # (where the first start prints the admin key) is kept apart from the log.
    (cd "$TMP/r$i" && exec env DATABASE_URL="$DB_URL" MODELGATE_KEY_DIR="$KEYS" \
        "$BIN" serve --bind "127.0.0.1:${RPORT[$i]}" --workers "$WORKERS" --db-pool "$DB_POOL" \
        ${SERVE_ARGS[@]+"${SERVE_ARGS[@]}"}) \
        >>"$TMP/r$i.out" 2>>"$TMP/r$i.log" &
    RPID[i]=$!
}

wait_ready() {
    local i=$1 limit=${2:-90} start=$SECONDS
    while [ "$(http_code "http://127.0.0.1:${RPORT[$i]}/readyz")" != 200 ]; do
        alive "${RPID[$i]}" || die "replica r$i exited before it was ready (log: r$i.log)"
        [ $((SECONDS - start)) -lt "$limit" ] || die "replica r$i not ready within ${limit}s"
        sleep 0.2
    done
}

# The first start on the empty database makes the audit signing key and admin.key in the
# key directory; the others start after it, with the same directory (the same key), so all
# of them sign checkpoints the others and `audit verify` trust.
start_replica 1
wait_ready 1
[ -s "$KEYS/audit-log.key" ] || die "replica r1 made no audit-log.key in $KEYS"
[ -s "$KEYS/admin.key" ] || die "replica r1 wrote no admin.key in $KEYS"
start_replica 2
start_replica 3
wait_ready 2
wait_ready 3
log "replicas r1 r2 r3 ready on ports $P1 $P2 $P3 (key directory $KEYS)"

# ---- HAProxy -------------------------------------------------------------------------------
sed -e "s|@LB_PORT@|$LB_PORT|" -e "s|@PORT1@|$P1|" -e "s|@PORT2@|$P2|" -e "s|@PORT3@|$P3|" \
    -e "s|@SOCKET@|$TMP/haproxy.sock|" "$HERE/haproxy.cfg.in" >"$TMP/haproxy.cfg"
"$HAPROXY" -c -q -f "$TMP/haproxy.cfg" || die "haproxy refuses $TMP/haproxy.cfg"
"$HAPROXY" -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
LB_PID=$!
LB=http://127.0.0.1:$LB_PORT
start=$SECONDS
until [ "$(http_code "$LB/readyz")" = 200 ]; do
    alive "$LB_PID" || die "haproxy exited (log: haproxy.log)"
    [ $((SECONDS - start)) -lt 30 ] || die "nothing ready behind haproxy within 30s"
    sleep 0.2
done
log "$("$HAPROXY" -v | head -1 | cut -c1-40) on port $LB_PORT"

# ---- load and faults ----------------------------------------------------------------------
python3 "$HERE/load.py" --url "$LB" --key-file "$KEYS/admin.key" --card "$ROOT/examples/acme-chat-8b.md" \
    --threads "$THREADS" --duration "$DURATION" --acked "$TMP/acked.tsv" --summary "$TMP/load.json" \
    2> >(tee "$TMP/load.log" >&2) &
LOAD_PID=$!
T0=$SECONDS
# Waits until T seconds after the load started.
at() {
    local t=$1
    while [ $((SECONDS - T0)) -lt "$t" ]; do
        alive "$LOAD_PID" || die "the load client exited early (load.log)"
        sleep 0.2
    done
}
kill9() {
    local i=$1
    log "fault: kill -9 replica r$i (pid ${RPID[$i]})"
    kill -KILL "${RPID[$i]}"
    wait "${RPID[$i]}" 2>/dev/null || true
}
restart() {
    local i=$1
    log "restarting replica r$i with the same key directory"
    start_replica "$i"
    wait_ready "$i"
    log "replica r$i ready again"
}

# The first victim is the replica leading the audit sequencer (r1 unless another took over).
LEADER=1
for i in 1 2 3; do grep -q "now sequences the audit log" "$TMP/r$i.log" && LEADER=$i && break; done
OTHER=$((LEADER % 3 + 1))

at $((DURATION * 10 / 100))
kill9 "$LEADER"
at $((DURATION * 18 / 100))
restart "$LEADER"
at $((DURATION * 30 / 100))
kill9 "$OTHER"
at $((DURATION * 40 / 100))
log "fault: PostgreSQL restart (pg_ctl restart -m fast) while r$OTHER is down"
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDIR/postgres.log" -m fast -w -t 60 restart >/dev/null ||
    die "PostgreSQL did not restart"
log "PostgreSQL is back"
at $((DURATION * 53 / 100))
restart "$OTHER"
at $((DURATION * 70 / 100))
log "fault: PostgreSQL crash (pg_ctl stop -m immediate), started again after 2 s"
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 60 stop >/dev/null || die "PostgreSQL did not stop"
sleep 2
pg_start || die "PostgreSQL did not start after the crash"
log "PostgreSQL is back (crash recovery)"

log "faults done; waiting for the load to end (${DURATION}s, then retries of unacknowledged requests)"
LOAD_RC=0
wait "$LOAD_PID" || LOAD_RC=$?
LOAD_PID=""
[ "$LOAD_RC" = 0 ] || die "load.py exited with $LOAD_RC"

# ---- after the load: everyone back, the log caught up ------------------------------------
for i in 1 2 3; do
    alive "${RPID[$i]}" || die "replica r$i exited on its own (log: r$i.log)"
    wait_ready "$i" 60
done
log "waiting for the audit log to take in every queued decision and sign a checkpoint of it"
start=$SECONDS
while :; do
    state=$(psql_q -F ' ' -c "SELECT
        (SELECT count(*) FROM log_queue), (SELECT size FROM log_state),
        (SELECT count(*) FROM log_entries), (SELECT COALESCE(max(size), 0) FROM log_checkpoints)" ||
        echo "? ? ? ?")
    read -r queued size entries signed <<<"$state"
    if [ "$queued" = 0 ] && [ "$size" = "$entries" ] && [ "$signed" = "$size" ]; then break; fi
    [ $((SECONDS - start)) -lt 60 ] ||
        die "the audit log did not catch up within 60 s: $queued queued, size $size, $entries entries, checkpoint $signed"
    sleep 0.2
done
log "audit log: $size entries, latest checkpoint signs $signed, queue empty"

log "modelgate audit verify"
VERIFY_RC=0
(cd "$TMP" && DATABASE_URL=$DB_URL MODELGATE_KEY_DIR=$KEYS "$BIN" audit verify) >"$TMP/verify.log" 2>&1 ||
    VERIFY_RC=$?
sed 's/^/    /' "$TMP/verify.log" >&2

# Database figures of the acknowledged decisions.
psql_q >"$TMP/db.json" <<EOF
CREATE TEMP TABLE acked (ikey text, id text, replayed boolean);
\copy acked FROM '$TMP/acked.tsv'
SELECT json_build_object(
  'acked', (SELECT count(*) FROM acked),
  'acked_distinct_ids', (SELECT count(DISTINCT id) FROM acked),
  'acked_found_in_decisions', (SELECT count(*) FROM acked a WHERE EXISTS (SELECT 1 FROM decisions d WHERE d.id = a.id)),
  'acked_id_matches_idempotency_key', (SELECT count(*) FROM acked a JOIN decisions d ON d.id = a.id AND d.idempotency_key = a.ikey),
  'acked_logged_exactly_once', (SELECT count(*) FROM acked a WHERE (SELECT count(*) FROM log_entries e WHERE e.kind = 'decision' AND e.ref_id = a.id) = 1),
  'decisions', (SELECT count(*) FROM decisions),
  'decisions_without_idempotency_key', (SELECT count(*) FROM decisions WHERE idempotency_key IS NULL),
  'duplicate_decisions_same_key', (SELECT count(*) - count(DISTINCT (tenant, idempotency_key)) FROM decisions),
  'duplicate_decisions_same_request', (SELECT count(*) - count(DISTINCT model_ref) FROM decisions),
  'recorded_not_acknowledged', (SELECT count(*) FROM decisions d WHERE NOT EXISTS (SELECT 1 FROM acked a WHERE a.id = d.id)),
  'decision_log_entries', (SELECT count(*) FROM log_entries WHERE kind = 'decision'),
  'log_entries', (SELECT count(*) FROM log_entries),
  'log_max_index_plus_1', (SELECT COALESCE(max(idx) + 1, 0) FROM log_entries),
  'log_size', (SELECT size FROM log_state),
  'checkpoints', (SELECT count(*) FROM log_checkpoints),
  'latest_checkpoint_size', (SELECT COALESCE(max(size), 0) FROM log_checkpoints),
  'queued', (SELECT count(*) FROM log_queue)
);
EOF

REPORT_RC=0
python3 "$HERE/report.py" --load "$TMP/load.json" --db "$TMP/db.json" --acked "$TMP/acked.tsv" \
    --verify-rc "$VERIFY_RC" --verify-log "$TMP/verify.log" --lb "$LB" --key-file "$KEYS/admin.key" \
    --haproxy-socket "$TMP/haproxy.sock" --out "$TMP/report.json" || REPORT_RC=$?
[ -z "${DRILL_REPORT:-}" ] || cp "$TMP/report.json" "$DRILL_REPORT"
exit "$REPORT_RC"
