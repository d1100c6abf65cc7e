#!/usr/bin/env python3
"""Load for the local drill: THREADS clients posting evaluations through the load balancer.

Standard library only. Every logical request has its own Idempotency-Key and a fixed body;
a failed attempt (connection error, timeout, 5xx, 429) is retried with the SAME key and the
SAME bytes, so that a request is recorded at most once however often it is sent, and is
only "lost" if no attempt is ever acknowledged (201 with a decision id) before the grace
period after the drill ends.

Writes:
  --acked FILE    one line per acknowledged request: idempotency key, decision id, replayed
                  (tab-separated), for the database checks of drill.sh
  --summary FILE  the figures, as JSON
Prints progress every 5 s on stderr. Exit code 0 whatever the figures: drill.sh judges them.
"""

import argparse
import collections
import http.client
import json
import os
import random
import sys
import threading
import time
import uuid

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.started = 0  # logical requests begun
        self.attempts = 0  # HTTP attempts
        self.acked = 0
        self.replayed = 0  # 201 with Idempotent-Replayed: true
        self.retried_requests = 0  # logical requests that needed more than one attempt
        self.retries = 0  # attempts beyond the first
        self.lost = []  # idempotency keys never acknowledged
        self.rejected = []  # (key, status, body) of a non-retryable answer
        self.errors = collections.Counter()  # failed attempts by kind
        self.bad_ack = []  # 201 without a usable id, or Location not matching it
        self.latencies = []  # seconds from first attempt to acknowledgement
        self.acks = []  # (key, id, replayed)
        # For each replayed acknowledgement: what the client saw before it (the first
        # failed attempt's kind; "first_attempt" when HAProxy retried on its own).
        self.replayed_after = collections.Counter()
        self.replay_samples = []  # the first replays: key, id, the failed attempts before

    def add_error(self, kind):
        with self.lock:
            self.errors[kind] += 1


def classify_status(status, headers, body):
    """A failed attempt's kind, telling HAProxy's own answers from the service's."""
    ctype = (headers.get("content-type") or "").lower()
    if status == 503:
        if "problem+json" in ctype:
            return "http_503_service"  # the service: database unreachable (e.g. PG restart)
        return "http_503_proxy"  # HAProxy: no server available
    if status in (502, 504):
        return f"http_{status}_proxy" if "problem+json" not in ctype else f"http_{status}_service"
    return f"http_{status}"


def classify_exception(e):
    if isinstance(e, (TimeoutError,)) or "timed out" in str(e):
        return "timeout"
    if isinstance(e, ConnectionRefusedError):
        return "conn_refused"
    if isinstance(e, (ConnectionResetError, BrokenPipeError)):
        return "conn_reset"
    if isinstance(e, http.client.RemoteDisconnected):
        return "conn_closed_no_response"
    if isinstance(e, (http.client.IncompleteRead, http.client.BadStatusLine)):
        return "incomplete_response"
    if isinstance(e, OSError):
        return f"os_error_{type(e).__name__}"
    return f"exception_{type(e).__name__}"


def worker(tid, args, card, key, stats, counter, t0, deadline, give_up, run_id):
    conn = None

    def connect():
        return http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)

    while time.monotonic() < deadline:
        with stats.lock:
            n = next(counter)
            stats.started += 1
        ikey = f"drill-{run_id}-{n}"
        body = json.dumps(
            {"document": {"content": card}, "model_ref": f"org/drill-{n}"}
        ).encode()
        headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": ikey,
        }
        first = time.monotonic()
        attempt = 0
        first_failure = None
        failures = []  # (seconds since the drill started, kind) of this request's failed attempts
        while True:
            attempt += 1
            if attempt > 1:
                with stats.lock:
                    stats.retries += 1
                    if attempt == 2:
                        stats.retried_requests += 1
            with stats.lock:
                stats.attempts += 1
            wait = None
            try:
                if conn is None:
                    conn = connect()
                conn.request("POST", "/v1/evaluations", body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                status = r.status
                rh = {k.lower(): v for k, v in r.getheaders()}
                if rh.get("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:  # noqa: BLE001 - every failure is counted by kind
                kind = classify_exception(e)
                first_failure = first_failure or kind
                failures.append((round(time.monotonic() - t0, 2), kind))
                stats.add_error(kind)
                if conn is not None:
                    conn.close()
                conn = None
                status = None
            if status == 201:
                try:
                    v = json.loads(data)
                    did = v["id"]
                except Exception:  # noqa: BLE001
                    did = None
                loc = rh.get("location", "")
                replayed = rh.get("idempotent-replayed", "") == "true"
                with stats.lock:
                    if not did or loc != f"/v1/decisions/{did}":
                        stats.bad_ack.append({"key": ikey, "location": loc, "body": data[:300].decode("utf-8", "replace")})
                    else:
                        stats.acked += 1
                        stats.replayed += int(replayed)
                        if replayed:
                            stats.replayed_after[first_failure or "first_attempt"] += 1
                            if len(stats.replay_samples) < 20:
                                stats.replay_samples.append({"key": ikey, "id": did, "failures": failures,
                                                             "acked_at": round(time.monotonic() - t0, 2)})
                        stats.acks.append((ikey, did, replayed))
                        stats.latencies.append(time.monotonic() - first)
                break
            if status is not None:
                kind = classify_status(status, rh, data)
                first_failure = first_failure or kind
                failures.append((round(time.monotonic() - t0, 2), kind))
                stats.add_error(kind)
                if status not in RETRYABLE_STATUS:
                    with stats.lock:
                        stats.rejected.append(
                            {"key": ikey, "status": status, "body": data[:500].decode("utf-8", "replace")}
                        )
                    break
                ra = rh.get("retry-after")
                if ra and ra.isdigit():
                    wait = min(float(ra), 2.0)
            if time.monotonic() > give_up:
                with stats.lock:
                    stats.lost.append(ikey)
                break
            if wait is None:
                wait = min(0.05 * (2 ** min(attempt - 1, 5)), 1.0)
            time.sleep(wait * (0.5 + random.random()))
    if conn is not None:
        conn.close()


def percentile(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="http://HOST:PORT of the load balancer")
    ap.add_argument("--key-file", required=True, help="file holding the API key (admin.key)")
    ap.add_argument("--card", required=True, help="model card to evaluate")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--duration", type=float, default=75.0, help="seconds during which new requests start")
    ap.add_argument("--grace", type=float, default=60.0,
                    help="seconds after --duration during which unacknowledged requests are still retried")
    ap.add_argument("--timeout", type=float, default=15.0, help="socket timeout of one attempt")
    ap.add_argument("--acked", required=True)
    ap.add_argument("--summary", required=True)
    args = ap.parse_args()

    hostport = args.url.split("://", 1)[-1].rstrip("/")
    args.host, _, port = hostport.rpartition(":")
    args.port = int(port)
    with open(args.key_file) as f:
        key = f.read().strip()
    with open(args.card) as f:
        card = f.read()
    run_id = uuid.uuid4().hex[:12]

    stats = Stats()
    counter = iter(range(1, 1 << 62))
    t0 = time.monotonic()
    deadline = t0 + args.duration
    give_up = deadline + args.grace
    threads = [
        threading.Thread(
            target=worker, args=(i, args, card, key, stats, counter, t0, deadline, give_up, run_id), daemon=True
        )
        for i in range(args.threads)
    ]
    for t in threads:
        t.start()

    done = threading.Event()

    def progress():
        while not done.wait(5.0):
            with stats.lock:
                errs = sum(stats.errors.values())
                line = (f"load: t={time.monotonic() - t0:5.1f}s started={stats.started} acked={stats.acked} "
                        f"retries={stats.retries} failed_attempts={errs} lost={len(stats.lost)}")
            print(line, file=sys.stderr, flush=True)

    reporter = threading.Thread(target=progress, daemon=True)
    reporter.start()
    for t in threads:
        t.join()
    done.set()
    elapsed = time.monotonic() - t0

    with open(args.acked + ".tmp", "w") as f:
        for k, did, rep in stats.acks:
            f.write(f"{k}\t{did}\t{'t' if rep else 'f'}\n")
    os.replace(args.acked + ".tmp", args.acked)
    ids = [a[1] for a in stats.acks]
    summary = {
        "run_id": run_id,
        "threads": args.threads,
        "elapsed_s": round(elapsed, 1),
        "requests_started": stats.started,
        "attempts": stats.attempts,
        "acknowledged": stats.acked,
        "acknowledged_replayed": stats.replayed,
        "acknowledged_replayed_after": dict(sorted(stats.replayed_after.items())),
        "replay_samples": stats.replay_samples,
        "acknowledged_per_s": round(stats.acked / elapsed, 1) if elapsed else None,
        "retries": stats.retries,
        "requests_retried": stats.retried_requests,
        "failed_attempts_by_kind": dict(sorted(stats.errors.items())),
        "lost": len(stats.lost),
        "lost_keys": stats.lost[:20],
        "rejected": len(stats.rejected),
        "rejected_samples": stats.rejected[:5],
        "bad_acks": len(stats.bad_ack),
        "bad_ack_samples": stats.bad_ack[:5],
        "duplicate_ids_acknowledged": len(ids) - len(set(ids)),
        "latency_s": {
            "p50": round(percentile(stats.latencies, 50) or 0, 4),
            "p99": round(percentile(stats.latencies, 99) or 0, 4),
            "max": round(max(stats.latencies) if stats.latencies else 0, 4),
        },
    }
    with open(args.summary + ".tmp", "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    os.replace(args.summary + ".tmp", args.summary)
    print(json.dumps(summary), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
