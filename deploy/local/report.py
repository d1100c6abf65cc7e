#!/usr/bin/env python3
"""The drill's verdict: prints the figures, writes them as JSON, exits 1 if a check fails.

Reads the load client's summary (load.py), the database figures (drill.sh's psql query),
the result of `modelgate audit verify`; asks the load balancer for the signed checkpoint and
for a sample of the acknowledged decisions; and reads HAProxy's counters from its stats
socket. Standard library only.
"""

import argparse
import json
import random
import socket
import sys
import urllib.error
import urllib.request


def get(url, key):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except Exception as e:  # noqa: BLE001
        return None, str(e)


def haproxy_stats(path):
    """Backend and server rows of `show stat`, keyed by server name."""
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(path)
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
    except OSError as e:
        return {"error": str(e)}
    lines = data.decode().splitlines()
    if not lines or not lines[0].startswith("# "):
        return {"error": "unexpected answer"}
    cols = lines[0][2:].split(",")
    out = {}
    for line in lines[1:]:
        if not line:
            continue
        row = dict(zip(cols, line.split(",")))
        if row.get("pxname") != "be_modelgate":
            continue
        out[row["svname"]] = {
            k: row.get(k)
            for k in ("status", "stot", "wretr", "wredis", "econ", "eresp", "chkdown", "downtime", "hrsp_5xx")
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--load", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--acked", required=True)
    ap.add_argument("--verify-rc", type=int, required=True)
    ap.add_argument("--verify-log", required=True)
    ap.add_argument("--lb", required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--haproxy-socket", required=True)
    ap.add_argument("--sample", type=int, default=50, help="acknowledged decisions read back through the API")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    load = json.load(open(a.load))
    db = json.loads(open(a.db).read().strip().splitlines()[-1])
    key = open(a.key_file).read().strip()
    acked = [line.rstrip("\n").split("\t") for line in open(a.acked) if line.strip()]
    verify_out = open(a.verify_log).read().strip()

    # The signed checkpoint as served through the load balancer: its second line is the size.
    code, note = get(f"{a.lb}/v1/log/checkpoint", key)
    served_size = None
    if code == 200 and len(note.splitlines()) >= 2 and note.splitlines()[1].isdigit():
        served_size = int(note.splitlines()[1])

    # A sample of acknowledged decisions read back through the API.
    sample = random.sample(acked, min(a.sample, len(acked)))
    api_ok = 0
    api_bad = []
    for ikey, did, _ in sample:
        c, body = get(f"{a.lb}/v1/decisions/{did}", key)
        try:
            ok = c == 200 and json.loads(body).get("id") == did
        except ValueError:
            ok = False
        if ok:
            api_ok += 1
        else:
            api_bad.append({"id": did, "status": c, "body": body[:200]})

    stats = haproxy_stats(a.haproxy_socket)
    backend = stats.get("BACKEND", {}) if isinstance(stats, dict) else {}

    n = load["acknowledged"]
    checks = [
        ("some load went through (> 100 acknowledged)", n > 100),
        ("no request lost (unacknowledged after retries)", load["lost"] == 0),
        ("no request rejected (non-retryable answer)", load["rejected"] == 0),
        ("every 201 names its decision (id and Location)", load["bad_acks"] == 0),
        ("no decision id acknowledged twice", load["duplicate_ids_acknowledged"] == 0),
        ("acknowledged file matches the summary", len(acked) == n == db["acked"]),
        ("every acknowledged decision is in the database", db["acked_found_in_decisions"] == n),
        ("each under its own Idempotency-Key", db["acked_id_matches_idempotency_key"] == n),
        ("no request recorded twice (per key)", db["duplicate_decisions_same_key"] == 0),
        ("no request recorded twice (per request body)", db["duplicate_decisions_same_request"] == 0),
        ("nothing recorded that was not acknowledged", db["recorded_not_acknowledged"] == 0),
        ("every decision row carries its Idempotency-Key", db["decisions_without_idempotency_key"] == 0),
        ("every acknowledged decision is in the audit log exactly once", db["acked_logged_exactly_once"] == n),
        ("every decision row is logged", db["decision_log_entries"] == db["decisions"]),
        ("log indices are contiguous", db["log_max_index_plus_1"] == db["log_entries"] == db["log_size"]),
        ("the latest checkpoint signs the whole log, queue empty",
         db["latest_checkpoint_size"] == db["log_size"] and db["queued"] == 0),
        ("the checkpoint served through HAProxy signs the whole log", served_size == db["log_size"]),
        (f"{len(sample)} sampled decisions read back through the API", api_ok == len(sample)),
        ("modelgate audit verify exits 0", a.verify_rc == 0),
    ]
    failed = [name for name, ok in checks if not ok]

    report = {
        "ok": not failed,
        "failed_checks": failed,
        "load": load,
        "database": db,
        "served_checkpoint_size": served_size,
        "api_sample": {"read": len(sample), "ok": api_ok, "bad": api_bad[:5]},
        "audit_verify": {"exit_code": a.verify_rc, "output": verify_out},
        "haproxy": stats,
    }
    with open(a.out, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    errs = load["failed_attempts_by_kind"]
    p = print
    p("")
    p("== modelgate local drill: figures")
    p(f"  requests sent (logical)          {load['requests_started']}")
    p(f"  HTTP attempts                    {load['attempts']}")
    p(f"  acknowledged (201)               {n}  ({load['acknowledged_per_s']}/s over {load['elapsed_s']} s; "
      f"{load['acknowledged_replayed']} replayed by Idempotency-Key)")
    if load.get("acknowledged_replayed_after"):
        p(f"  replays, by what came before     "
          f"{', '.join(f'{k} {v}' for k, v in load['acknowledged_replayed_after'].items())}")
    p(f"  client retries                   {load['retries']}  ({load['requests_retried']} requests retried)")
    p(f"  failed attempts by kind          {', '.join(f'{k} {v}' for k, v in errs.items()) or 'none'}")
    p(f"  lost / rejected                  {load['lost']} / {load['rejected']}")
    p(f"  latency to ack p50 / p99 / max   {load['latency_s']['p50']} / {load['latency_s']['p99']} / "
      f"{load['latency_s']['max']} s")
    p(f"  found in database                {db['acked_found_in_decisions']} of {n}  "
      f"(decisions in the database: {db['decisions']})")
    p(f"  duplicates                       {db['duplicate_decisions_same_key']} (same key), "
      f"{db['duplicate_decisions_same_request']} (same request)")
    p(f"  in the audit log exactly once    {db['acked_logged_exactly_once']} of {n}  (log size {db['log_size']}, "
      f"{db['checkpoints']} checkpoints)")
    p(f"  served checkpoint size           {served_size}")
    p(f"  API read-back sample             {api_ok} of {len(sample)}")
    if backend:
        downs = {k: v.get("chkdown") for k, v in stats.items() if k not in ("BACKEND",)}
        p(f"  haproxy retries / redispatches   {backend.get('wretr')} / {backend.get('wredis')}  "
          f"(conn errors {backend.get('econ')}, response errors {backend.get('eresp')}, "
          f"5xx sent {backend.get('hrsp_5xx')}; times marked down {downs})")
    p(f"  audit verify                     exit {a.verify_rc}: {verify_out.splitlines()[-1] if verify_out else ''}")
    p("")
    for name, ok in checks:
        p(f"  [{'ok' if ok else 'FAIL'}] {name}")
    if load["lost_keys"]:
        p(f"  lost keys (first 20): {load['lost_keys']}")
    for r in load["rejected_samples"]:
        p(f"  rejected: {r}")
    for r in api_bad[:5]:
        p(f"  API read-back failed: {r}")
    p("")
    p("drill: PASSED" if not failed else f"drill: FAILED ({len(failed)} checks)")
    sys.exit(0 if not failed else 1)


if __name__ == "__main__":
    main()
