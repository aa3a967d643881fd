#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_ws (tests/fuzz/corpus/ws): a mode byte, then bytes for a
WebSocket listener. Mode 1: after a valid upgrade request (frames); mode 0: the whole
conversation (handshakes); mode | 2: sent in small pieces. Rerun to regenerate."""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "ws")
MSG = (b'{"class":"foam.box.Message","attributes":{"replyBox":{"class":"foam.box.SubBox",'
       b'"name":"1","delegate":{"class":"foam.box.ReturnBox"}}},"object":{"class":'
       b'"foam.box.SubBoxMessage","name":"calc","object":{"class":"foam.box.RPCMessage",'
       b'"name":"add","args":[1,2]}}}')


def frame(op, payload, fin=True, mask=True, declared=None):
    n = len(payload) if declared is None else declared
    b0 = (0x80 if fin else 0) | op
    m = 0x80 if mask else 0
    if n < 126:
        hdr = bytes([b0, m | n])
    elif n < 65536:
        hdr = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return hdr + payload
    key = b"\x11\x22\x33\x44"
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def upgrade(version=b"13", extra=b""):
    return (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: " + version +
            b"\r\n" + extra + b"\r\n")


SEEDS = {
    "text-call": b"\x01" + frame(1, MSG),
    "text-call-pieces": b"\x13" + frame(1, MSG),
    "binary-call": b"\x01" + frame(2, MSG),
    "fragmented": b"\x01" + frame(1, MSG[:50], fin=False) + frame(0, MSG[50:]),
    "fragmented-empty-last": b"\x01" + frame(1, b'"\xc3', fin=False) + frame(0, b""),
    "unmasked": b"\x01" + frame(1, MSG, mask=False),
    "close-then-text": b"\x01" + frame(8, b"\x03\xe8bye") + frame(1, MSG),
    "ping": b"\x01" + frame(9, b"hi") + frame(1, MSG),
    "pong": b"\x01" + frame(10, b"") + frame(1, MSG),
    "bad-utf8": b"\x01" + frame(1, b'{"a":"\xff\xfe"}'),
    "bad-json": b"\x01" + frame(1, b'{"class":'),
    "deep-json": b"\x01" + frame(1, b"[" * 5000),
    "unknown-class": b"\x01" + frame(1, b'{"class":"no.Such","x":1}'),
    "length-2^63": b"\x01" + frame(2, b"", declared=(1 << 63) - 1)[:14],
    "length-over-limit": b"\x01" + frame(2, b"x" * 16, declared=70000)[:10] + b"x" * 16,
    "bad-opcode": b"\x01" + frame(3, b"abc"),
    "long-control": b"\x01" + frame(9, b"p" * 200),
    "rsv-bits": b"\x01" + bytes([0xF1, 0x80]) + b"\0\0\0\0",
    "continuation-first": b"\x01" + frame(0, b"abc"),
    "handshake-only": b"\x00" + upgrade() + frame(1, MSG),
    "handshake-version-8": b"\x00" + upgrade(b"8") + frame(1, MSG),
    "handshake-no-key": b"\x00" + b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "handshake-deflate": b"\x00" + upgrade(extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n"),
    "http-get": b"\x00GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
    "http-garbage": b"\x00\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    "handshake-pieces": b"\x02" + upgrade() + frame(1, MSG),
}

os.makedirs(HERE, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
print(f"{len(SEEDS)} seeds in {HERE}")
