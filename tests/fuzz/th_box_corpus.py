#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_th_box (tests/fuzz/corpus/th_box): box channel sessions of
the two clients fuzz_th_box.c makes (keys 0x10 x 32 and 0x11 x 32), as its records
[ctl][2-byte length][inner channel packet]. Channel ids come in both parities (which one the
host accepts depends on the key order), so every seed has an accepted open."""
import base64, hashlib, json, os, struct, sys

def hn(key):
    roll = hashlib.sha256(hashlib.sha256(b"\x3a").digest() + hashlib.sha256(key).digest()).digest()
    return base64.b32encode(roll).decode().lower().rstrip("=")

K = [bytes([0x10]) * 32, bytes([0x11]) * 32]
H = [hn(k) for k in K]

def lob(head, body=b""):
    h = json.dumps(head, separators=(",", ":")).encode()
    return struct.pack(">H", len(h)) + h + body

def rec(ctl, pkt):
    return bytes([ctl]) + struct.pack(">H", len(pkt)) + pkt

def session(client, c, box, extra, ops):
    head = {"type": "box", "c": c, "seq": 1}
    if box is not None:
        head["box"] = box
    head.update(extra)
    body = K[client] if "csid" in head else b""
    out = rec(client, lob(head, body))
    seq = 2
    for ctl, h, b in ops:
        h = dict(h, c=c, seq=seq)
        seq += 1
        out += rec(client | ctl, lob(h, b))
    return out

msg = b"\x00\x01\x3a" + bytes(range(100))  # shaped like a CS3a message
key = "ab" * 32
seeds = {}
for c in (1, 2):
    seeds[f"store_{c}"] = session(0, c, H[1], {"csid": "3a"},
        [(0, {}, msg), (0, {"key": key, "expire": 60}, msg), (2, {"clear": True}, msg), (0, {"end": True}, b"")])
    seeds[f"collect_{c}"] = session(0, c, H[1], {"csid": "3a"}, [(0, {}, msg)]) + \
        session(1, c + 2, H[1], {"csid": "3a"}, [(4, {"key": key}, b""), (0, {"end": True}, b"")])
    seeds[f"pick_{c}"] = session(0, c, H[1], {"csid": "3a"}, [(0, {}, msg)]) + \
        session(1, c + 2, None, {"csid": "3a"}, [(0, {"clear": True, "end": True}, b"")])
    seeds[f"keyinfo_{c}"] = session(1, c, H[0], {}, [(0, {"end": True}, b"")])
    seeds[f"errors_{c}"] = session(0, c, "nope", {"csid": "3a"}, []) + \
        session(0, c + 2, H[1], {"csid": "1a"}, []) + \
        session(0, c + 4, H[1], {"csid": "3a"}, [(0, {"key": "zz", "expire": -1}, msg), (0, {}, b"x" * 1100)])
os.makedirs(sys.argv[1], exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(data)
