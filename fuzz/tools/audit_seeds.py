#!/usr/bin/env python3
"""Writes the signed seeds of the audit fuzz targets (checkpoint, evidence, leaf, proofs).

Signed notes and evidence bundles need an Ed25519 signature, so they are generated rather
than typed. The key is the public test vector of Go's sumdb/note documentation (the one
the targets and service/audit's own tests use). Needs the `cryptography` package.

Run from anywhere: python3 fuzz/tools/audit_seeds.py
"""
import base64
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
KEY = Ed25519PrivateKey.from_private_bytes(base64.b64decode(SKEY.split("+", 4)[4])[1:])
KEY_ID = bytes.fromhex("c74f20a3")
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def signed(text):
    sig = KEY.sign(text.encode())
    return text + "\n\u2014 PeterNeumann " + base64.b64encode(KEY_ID + sig).decode() + "\n"


def checkpoint(size, root):
    return signed(f"PeterNeumann\n{size}\n{base64.b64encode(root).decode()}\n")


def sha(b):
    return hashlib.sha256(b).digest()


def leaf_hash(b):
    return sha(b"\x00" + b)


def node(left, right):
    return sha(b"\x01" + left + right)


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    if len(leaves) <= 1:
        return []
    k = split(len(leaves))
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def compact(v, **kw):
    return json.dumps(v, separators=(",", ":"), **kw)


def main():
    empty = sha(b"")
    # checkpoint: raw notes, `K` (key line + note), `S` (size, root, byte changes).
    write("checkpoint", "note-size-8", checkpoint(8, empty))
    write("checkpoint", "K-key-and-note", "K" + VKEY + "\n" + checkpoint(3, empty))
    write("checkpoint", "note-cosigned",
          checkpoint(5, sha(b"x")) + "\u2014 witness.example/w AAAAAQ" + "A" * 86 + "\n")
    write("checkpoint", "note-extension-line",
          signed(f"PeterNeumann\n2\n{base64.b64encode(empty).decode()}\nextension line\n"))
    write("checkpoint", "S-sign-and-change",
          b"S" + struct.pack("<Q", 1234) + sha(b"root") + bytes([10, ord("9"), 200, ord("A")]))
    write("checkpoint", "S-max-size", b"S" + struct.pack("<Q", 2**64 - 1) + bytes(32))

    # evidence: a valid bundle (decision at index 3 of 5 records) and broken ones; `B` seeds.
    decision = {"model": {"id": "acme/chat-8b"}, "verdict": "review",
                "pack": {"name": "modelgate-default", "version": "0.3.0"}, "findings": []}
    text = compact(decision)
    entry = {"id": "0193a1f2-0000-7000-8000-000000000003", "tenant": "default",
             "model_ref": "hf:acme/chat-8b", "verdict": "review", "pack_digest": "sha256:dddd",
             "decision_digest": "sha256:" + hashlib.sha256(text.encode()).hexdigest(),
             "created_at": "2026-01-01T00:00:00.000000Z", "model_version": 1}
    leaf = ("decision/v1\n" + compact(entry, sort_keys=True)).encode()
    leaves = [leaf_hash(struct.pack("<Q", i)) for i in range(5)]
    leaves[3] = leaf_hash(leaf)
    bundle = {
        "format": "modelgate-evidence/v1", "decision_id": entry["id"], "decision": text,
        "log": {"origin": "PeterNeumann", "verifier_key": VKEY},
        "entry": {"kind": "decision", "index": 3, "leaf": leaf.decode(),
                  "leaf_hash": leaf_hash(leaf).hex(), "tree_size": 5,
                  "inclusion_proof": [h.hex() for h in path(3, leaves)]},
        "checkpoint": checkpoint(5, mth(leaves)),
        "pack": {"name": "modelgate-default", "version": "0.3.0", "digest": "sha256:dddd"},
    }
    write("evidence", "bundle-valid.json", compact(bundle))
    wrong = json.loads(json.dumps(bundle))
    wrong["entry"]["index"] = 2
    write("evidence", "bundle-wrong-index.json", json.dumps(wrong))
    unsigned = json.loads(json.dumps(bundle))
    unsigned["checkpoint"] = "not a note"
    unsigned["entry"]["leaf"] = 'decision/v1\n{"b":1,"a":2}'
    write("evidence", "bundle-unsigned-noncanonical.json", json.dumps(unsigned))
    write("evidence", "B-decision", b"B" + struct.pack("<H", 100) + b"\x03" + text.encode())
    odd = {"verdict": "deny", "model": {"id": "a\u001fb"}, "pack": {"name": "p\u00e9"},
           "x": [1.5e300, -0.0, 9007199254740993]}
    write("evidence", "B-decision-controls",
          b"B" + struct.pack("<H", 7) + b"\x05" + json.dumps(odd).encode())

    # leaf: a decision leaf, an event leaf, JSON that canonicalizes, a bad header.
    write("leaf", "decision-leaf", leaf)
    write("leaf", "event-leaf",
          b'pack_registered/v1\n{"digest":"sha256:ab","n":1e+21,"s":"\\u001f\xc3\xa9","tenant":"default"}')
    write("leaf", "json-numbers",
          b'{"b":[1.0,-0,1e-7,123456789012345678901234567890,0.1],"a":"\\ud83d\\ude00","\\u00e9":null}')
    write("leaf", "bad-header", b"Decision/v2\n{}")

    # proofs: bytes for the structured (`arbitrary`) input.
    write("proofs", "zeros-64", bytes(64))
    write("proofs", "pattern-300", bytes((i * 37 + 11) % 256 for i in range(300)))
    write("proofs", "ones-200", b"\xff" * 200)


if __name__ == "__main__":
    main()
