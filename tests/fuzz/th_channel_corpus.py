#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_th_channel (tests/fuzz/corpus/th_channel/). Each file is the
options byte (fuzz_th_channel.c: bit 0 we are ODD, bit 1 our channels end at the end) and inner
packets, each after a 2-byte big-endian length: the channel packets of vectors.json (an open of
an unknown type, an ack with "cap"), then opens of the echoed type "a", reliable with packets out
of order, duplicated, missing and past the window, unreliable, ended and failed; acks and misses
for the channel the target opened; "err"; the refused type "f"; heads that are not JSON.

    tests/fuzz/th_channel_corpus.py   # from the top of the tree; rewrites the directory
"""
import json
import os
import shutil
import struct

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(TOP, "tests", "fuzz", "corpus", "th_channel")
VECTORS = os.path.join(TOP, "tests", "data", "spec", "telehash", "vectors.json")


def lob(head, body=b""):
    h = json.dumps(head, separators=(",", ":")).encode() if isinstance(head, dict) else head
    return struct.pack(">H", len(h)) + h + body


def seed(how, *packets):
    return bytes([how]) + b"".join(struct.pack(">H", len(p)) + p for p in packets)


def main():
    v = json.load(open(VECTORS))
    a_to_b = bytes.fromhex(v["channel"]["A_to_B"]["inner_hex"])
    b_to_a = bytes.fromhex(v["channel"]["B_to_A"]["inner_hex"])
    # we are ODD (how bit 0): ours 1, 3; theirs 2, 4 ...; EVEN: ours 2, 4; theirs 1, 3 ...
    seeds = {
        "vectors-open-unknown-type": seed(0, a_to_b),
        "vectors-ack-with-cap": seed(1, b_to_a),
        "vectors-both-ended": seed(3, b_to_a, a_to_b),
        "reliable-in-order": seed(
            1,
            lob({"c": 2, "seq": 0, "type": "a"}, b"open"),
            lob({"c": 2, "seq": 1, "ack": 0}, b"one"),
            lob({"c": 2, "seq": 2, "ack": 1, "end": True}, b"two"),
        ),
        "reliable-out-of-order": seed(
            3,
            lob({"c": 2, "seq": 1, "type": "a"}, b"open"),
            lob({"c": 2, "seq": 4}, b"four"),
            lob({"c": 2, "seq": 3}, b"three"),
            lob({"c": 2, "seq": 3}, b"three again"),
            lob({"c": 2, "seq": 2}, b"two"),
            lob({"c": 2, "seq": 1}, b"one again"),
            lob({"c": 2, "seq": 150}, b"past the window"),
            lob({"c": 2, "seq": 5, "end": True}),
        ),
        "acks-and-misses": seed(
            1,
            lob({"c": 1, "ack": 1, "miss": [1, 2, 100]}),
            lob({"c": 1, "ack": 3, "miss": [2, 99]}),
            lob({"c": 1, "ack": 4294967295}),
            lob({"c": 1, "ack": 6, "seq": 1, "end": True}),
        ),
        "bad-acks": seed(
            0,
            lob({"c": 2, "ack": -1, "miss": [0, -5, 1e9, "x"]}),
            lob({"c": 2, "ack": 1.5, "miss": {}}),
            lob({"c": 2, "ack": 2, "miss": [1, 1, 1, 1, 1, 1, 1, 1]}),
        ),
        "err-on-ours": seed(1, lob({"c": 1, "err": "boom"}), lob({"c": 3, "err": 7})),
        "unreliable-echo": seed(
            0,
            lob({"c": 1, "type": "a"}, b"hello"),
            lob({"c": 1}, b"again"),
            lob({"c": 1, "end": True}),
            lob({"c": 4, "end": True}),
        ),
        "refused-and-unknown": seed(
            1,
            lob({"c": 2, "type": "f", "seq": 1}),
            lob({"c": 4, "type": "nope"}),
            lob({"c": 4, "type": "a"}),  # a late copy of an old id: not reopened
            lob({"c": 3, "type": "a"}),  # our parity
            lob({"c": 0, "type": "a"}),
            lob({"c": "6", "type": "a"}),
        ),
        "not-json": seed(0, b"\x00\x03abc", b"\x00\x08not json", b"\x00", lob({"x": 1})),
    }
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
