#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_stream (tests/fuzz/corpus/stream/). Each file is one cuts byte
(fuzz_stream.c: 0 one read, n reads of 1..n bytes) and then a byte stream: the FOAM captures
under tests/data/spec/foam/captures framed with the 4-byte little-endian length, each alone and
each connection's frames one after another, then truncated prefixes, negative lengths, 2^31 and
2^31 - 1, a length at the frame cap and one past it, and an empty frame.

    tests/fuzz/stream_corpus.py   # from the top of the tree; rewrites the directory
"""
import glob
import json
import os
import shutil
import struct

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(TOP, "tests", "fuzz", "corpus", "stream")
CAP = 8192  # FZ_MAX_FRAME in fuzz_stream.c


def frame(payload):
    return struct.pack("<i", len(payload)) + payload


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    seeds = []
    for path in sorted(glob.glob(os.path.join(TOP, "tests/data/spec/foam/captures/*.jsonl"))):
        name = os.path.basename(path)[: -len(".jsonl")]
        conns = {}
        for i, line in enumerate(open(path, encoding="utf-8")):
            rec = json.loads(line)
            payload = rec["payload"].encode("utf-8")
            seeds.append(("%s-%02d" % (name, i), bytes([i % 3 * 7]) + frame(payload)))
            conns.setdefault((rec["conn"], rec["dir"]), []).append(payload)
        for (conn, direction), payloads in sorted(conns.items()):
            stream = b"".join(frame(p) for p in payloads)
            for cuts in (0, 1, 13):
                seeds.append(("%s-conn%s-%s-cuts%d" % (name, conn, direction, cuts),
                              bytes([cuts]) + stream))
    hello = frame(b'{"class":"foam.box.Message","object":{"class":"foam.box.HelloMessage"}}')
    bad = {
        "prefix-1": b"\x10",
        "prefix-2": b"\x10\x00",
        "prefix-3": b"\x10\x00\x00",
        "frame-then-prefix-3": hello + b"\x10\x00\x00",
        "truncated-body": struct.pack("<i", 40) + b'{"class":"foam.box.Message"',
        "negative-1": hello + struct.pack("<i", -1) + b"{}",
        "negative-min": hello + struct.pack("<I", 0x80000000) + b"{}",  # 2^31 read as int32
        "two-pow-31-minus-1": hello + struct.pack("<i", 0x7FFFFFFF),
        "at-cap-truncated": hello + struct.pack("<i", CAP) + b"{",
        "over-cap": hello + struct.pack("<i", CAP + 1) + b"{}",
        "empty-frame": frame(b"") + hello,
        "not-json": frame(b"\xff\xfe not json") + hello,
    }
    for name, stream in sorted(bad.items()):
        for cuts in (0, 2):
            seeds.append(("%s-cuts%d" % (name, cuts), bytes([cuts]) + stream))
    for name, data in seeds:
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), os.path.relpath(OUT, TOP)))


if __name__ == "__main__":
    main()
