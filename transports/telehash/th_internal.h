/* The telehash transport's private header (never installed): telehash v3's byte-level pieces as
 * pure functions (spec/telehash sections 1-5).
 *
 * Design notes
 * - No I/O and no state here (identity files aside, th_identity.c): each function takes bytes
 *   and keys and gives bytes, so the link/handshake state machine and the UDP/TCP code above
 *   it, the tests and the fuzzer all run the same code. Randomness (ephemeral keys, nonces)
 *   comes from libsodium unless the caller passes it, which is how the vector tests reproduce
 *   the JavaScript reference byte for byte.
 * - Sizes: every length read from a packet is checked against the bytes that are really there
 *   before it is used, and nothing here allocates more than its input's size (the JSON heads
 *   excepted, whose cJSON trees grow with the head's bytes, bounded in depth). Encoders write
 *   into the caller's buffer: a `*_size()` function says how much it needs, and a buffer that
 *   is too small is BX_EMSGSIZE, never a partial write that looks complete.
 * - Errors: BX_EBADMSG a packet that is not what it claims to be (short, lengths that do not
 *   add up, a wrong field); BX_EBADJSON / BX_ETOODEEP / BX_EBADUTF8 a JSON head that is not a
 *   bounded UTF-8 JSON object; BX_ENOTSUP a cipher set other than 3a; BX_EAUTH anything that
 *   fails a cryptographic check (a MAC, a secretbox, a routing token); BX_EINVAL an argument
 *   the caller should not have passed; BX_EMSGSIZE an output buffer too small or a packet over
 *   a caller's limit.
 * - Secrets: keys are plain byte arrays owned by the caller; functions here wipe their own
 *   intermediate secrets (shared keys, MAC keys) with sodium_memzero before they return.
 * - Files: th_lob.c (section 1), th_base32.c and th_hashname.c (2), th_identity.c (identity
 *   files; the public bx/telehash.h), th_cs3a.c and th_cs3a_remote.c (3), th_handshake.c and
 * th_channel.c (4), th_cloak.c and th_chunk.c (5); th_sodium.c libsodium's set-up and a SHA-256
 * helper.
 * - The runtime on top (the section at the end): th_endpoint.c (the endpoint, dispatch of what
 *   arrives, drop counters), th_link.c (the handshake state machine, paths), th_channel_rt.c
 *   (channels, reliability), th_udp.c and th_tcp.c (sockets). It does I/O and keeps state; the
 *   pure functions above stay pure.
 */
#ifndef BX_TRANSPORTS_TH_INTERNAL_H
#define BX_TRANSPORTS_TH_INTERNAL_H

#include "framework.h"

#include <sodium.h>

#define BX__TH_KEY 32   /* a CS3a key, a SHA-256, a channel key */
#define BX__TH_NONCE 24 /* crypto_secretbox_NONCEBYTES */
#define BX__TH_MAC 16   /* crypto_secretbox_MACBYTES, crypto_onetimeauth_BYTES */
#define BX__TH_TOKEN 16 /* a routing token */
#define BX__TH_CSID_3A 0x3a
#define BX__TH_MAX_DEPTH 16 /* nesting allowed in a JSON head */

/* libsodium is ready (sodium_init() once; safe to call from any thread). 0 or BX_ENOTSUP. */
int bx__th_sodium(void);
/* SHA-256 of a[0..an) followed by b[0..bn) (b may be NULL when bn is 0). */
void bx__th_sha256_2(const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
                     uint8_t out[BX__TH_KEY]);

/* ---- section 1: LOB packets (th_lob.c) -------------------------------------------------- */

/* A parsed LOB: head and body point into the packet (borrowed: valid while the packet is);
 * json is the parsed head when head_len >= 7 (owned: bx__th_lob_clear() frees it), else NULL.
 */
typedef struct bx__th_lob {
  const uint8_t *head;
  size_t head_len;
  const uint8_t *body;
  size_t body_len;
  cJSON *json;
} bx__th_lob;

/* Parses p[0..len) (borrowed) into *out, which is zeroed first. Returns 0; BX_EINVAL (NULL
 * arguments); BX_EBADMSG (under 2 bytes, or a head longer than the rest); for a head of 7 or
 * more bytes BX_EBADUTF8, BX_ETOODEEP (nested deeper than BX__TH_MAX_DEPTH), BX_EBADJSON (not
 * one JSON object and nothing else but white space) or BX_ENOMEM. On error out holds nothing
 * to free. */
int bx__th_lob_parse(const uint8_t *p, size_t len, bx__th_lob *out);
/* Frees what a parse made (the json head) and zeroes lob; NULL is allowed. */
void bx__th_lob_clear(bx__th_lob *lob);
/* The bytes a LOB with these parts takes: 2 + head_len + body_len. */
static inline size_t bx__th_lob_size(size_t head_len, size_t body_len) {
  return 2 + head_len + body_len;
}
/* Writes a LOB (head and body borrowed, NULL when empty) into out[0..cap); *len (optional)
 * receives its size. The caller picks the head: 1..6 bytes read as binary, 7 or more must be
 * a JSON object's text (bx__th_lob_append_json() makes those). Returns 0, BX_EINVAL (a NULL
 * argument with a length) or BX_EMSGSIZE (head_len over 65535, or cap too small). */
int bx__th_lob_write(const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len,
                     uint8_t *out, size_t cap, size_t *len);
/* Appends to buf a LOB whose head is the JSON object json (borrowed), written compactly by
 * bx_json_write(), and whose body is body[0..body_len) (borrowed). Returns 0, BX_EINVAL (json
 * not an object, or its text under 7 bytes, which would read as a binary head: "{}"),
 * BX_EMSGSIZE (text over 65535 bytes) or BX_ENOMEM; on error buf->len is as it was. */
int bx__th_lob_append_json(bx_buf *buf, const cJSON *json, const uint8_t *body, size_t body_len);

/* ---- section 2: base32 and hashnames (th_base32.c, th_hashname.c) ----------------------- */

/* Characters for n bytes of base32 without padding: ceil(8n / 5). */
static inline size_t bx__th_b32_len(size_t n) {
  return (n * 8 + 4) / 5;
}
/* Writes in[0..n) as lower-case RFC 4648 base32 without padding, and a NUL, into out (at
 * least bx__th_b32_len(n) + 1 bytes). */
void bx__th_b32_encode(const uint8_t *in, size_t n, char *out);
/* Decodes s[0..n) (either case, no padding, no white space) into out[0..cap); *len receives
 * the byte count (n * 5 / 8). Returns 0, BX_EBADMSG (a character outside the alphabet, a
 * length no encoding has, or unused trailing bits that are not zero: every byte string has one
 * encoding) or BX_EMSGSIZE (cap too small). */
int bx__th_b32_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len);

/* One cipher set's part of a hashname: its CSID and its intermediate (SHA-256 of its key). */
typedef struct bx__th_part {
  uint8_t csid;
  uint8_t hash[BX__TH_KEY];
} bx__th_part;
/* The intermediate of a key: SHA-256(key). */
void bx__th_intermediate(const uint8_t *key, size_t len, uint8_t out[BX__TH_KEY]);
/* Rolls up parts[0..n) (borrowed; any order: sorted here by CSID) into the 32-byte hashname.
 * Returns 0 or BX_EINVAL (n is 0, over 16, a CSID twice or a CSID of 0). */
int bx__th_rollup(const bx__th_part *parts, size_t n, uint8_t out[BX__TH_KEY]);
/* The hashname, as 52 base32 characters and a NUL, of a JSON object of parts: "keys" maps
 * CSIDs ("3a", two lower-case hex digits) to base32 keys, "intermediates" (optional, either
 * may be NULL) maps CSIDs to base32 intermediates; a CSID in both uses its key (and the two
 * must agree). Returns 0, BX_EINVAL (no parts) or BX_EBADMSG (a malformed CSID or base32, an
 * intermediate that is not 32 bytes, a key and intermediate that disagree). */
int bx__th_hashname_of_parts(const cJSON *keys, const cJSON *intermediates,
                             char out[BX_TH_HASHNAME_LEN + 1]);
/* Is s a hashname: exactly 52 lower-case base32 characters that decode to 32 bytes? */
bool bx__th_hashname_valid(const char *s);

/* ---- identities (th_identity.c; the public API is bx/telehash.h) ------------------------- */

/* id's CS3a secret key (owned by id, valid while it lives). */
const uint8_t *bx__th_identity_secret(const bx_th_identity *id);

/* ---- section 3: CS3a messages (th_cs3a.c) ----------------------------------------------- */

/* A message's bytes beyond its inner packet: LOB 2 + CSID 1 + KEY 32 + NONCE 24 + MAC 16 +
 * AUTH 16. */
#define BX__TH_MSG_OVERHEAD 91
/* Seals inner[0..n) (borrowed) as a CS3a message from the key pair whose secret key is
 * from_sk to the public key to_pk, into out[0..cap) (at least n + BX__TH_MSG_OVERHEAD), with
 * *len (optional) the size. eph_sk is the ephemeral secret key (NULL: a fresh one per
 * message; an exchange's handshakes pass the exchange's) and nonce the 24-byte nonce (NULL:
 * random). Returns 0, BX_EINVAL, BX_EMSGSIZE, BX_EAUTH (to_pk is a key no shared secret can
 * be made with) or BX_ENOTSUP (libsodium could not initialise). */
int bx__th_cs3a_seal(const uint8_t *inner, size_t n, const uint8_t to_pk[BX__TH_KEY],
                     const uint8_t from_sk[BX__TH_KEY], const uint8_t *eph_sk, const uint8_t *nonce,
                     uint8_t *out, size_t cap, size_t *len);
/* Opens the message msg[0..len) (borrowed) with the recipient's secret key my_sk into
 * inner[0..cap) (at least len - BX__TH_MSG_OVERHEAD), *inner_len (optional) its size. This
 * does NOT say who sent it: see bx__th_cs3a_verify(). Returns 0, BX_EINVAL, BX_EBADMSG (not a
 * LOB with a 1-byte head, or shorter than a message), BX_ENOTSUP (a CSID other than 3a),
 * BX_EMSGSIZE (cap too small) or BX_EAUTH (not sealed to my_sk, or altered). */
int bx__th_cs3a_open(const uint8_t *msg, size_t len, const uint8_t my_sk[BX__TH_KEY],
                     uint8_t *inner, size_t cap, size_t *inner_len);
/* Checks that msg[0..len) was sealed by the holder of from_pk for the holder of my_sk (its
 * AUTH). Returns 0, BX_EINVAL, BX_EBADMSG, BX_ENOTSUP or BX_EAUTH (another sender, or
 * altered). */
int bx__th_cs3a_verify(const uint8_t *msg, size_t len, const uint8_t my_sk[BX__TH_KEY],
                       const uint8_t from_pk[BX__TH_KEY]);
/* The ephemeral public key (KEY) of a message, checked to be a CS3a message's shape: copied
 * into key. Returns 0, BX_EINVAL, BX_EBADMSG or BX_ENOTSUP. */
int bx__th_cs3a_key(const uint8_t *msg, size_t len, uint8_t key[BX__TH_KEY]);

/* A sender's keys for messages to one recipient (th_cs3a_remote.c), kept as a link keeps
 * them: the ephemeral public key every message carries, beforenm(to_pk, eph_sk) (the
 * secretbox key) and beforenm(to_pk, from_sk) (the AUTH's static secret). Sealing with them
 * makes the same bytes as bx__th_cs3a_seal() with that ephemeral key, without any X25519. */
typedef struct bx__th_cs3a_remote {
  uint8_t eph_pk[BX__TH_KEY];
  uint8_t k_eph[BX__TH_KEY];
  uint8_t k_static[BX__TH_KEY];
} bx__th_cs3a_remote;
/* The static secret of my_sk and peer_pk: beforenm(peer_pk, my_sk), the same on both sides
 * (what a message's AUTH is keyed from). Returns 0, BX_EINVAL or BX_EAUTH (a key no shared
 * secret can be made with). */
int bx__th_cs3a_static(const uint8_t peer_pk[BX__TH_KEY], const uint8_t my_sk[BX__TH_KEY],
                       uint8_t out[BX__TH_KEY]);
/* Fills *out for messages from the key pair of from_sk to to_pk, with the ephemeral secret key
 * eph_sk (NULL: a fresh key pair). Returns 0, BX_EINVAL, BX_EAUTH or BX_ENOTSUP; on error *out
 * is wiped. */
int bx__th_cs3a_remote_init(const uint8_t to_pk[BX__TH_KEY], const uint8_t from_sk[BX__TH_KEY],
                            const uint8_t *eph_sk, bx__th_cs3a_remote *out);
/* Wipes r's secrets (NULL is allowed). */
void bx__th_cs3a_remote_clear(bx__th_cs3a_remote *r);
/* bx__th_cs3a_seal() with r's keys (borrowed): inner[0..n) into out[0..cap), nonce NULL for a
 * random one. Returns 0, BX_EINVAL, BX_EMSGSIZE or BX_ENOTSUP. */
int bx__th_cs3a_seal_to(const bx__th_cs3a_remote *r, const uint8_t *inner, size_t n,
                        const uint8_t *nonce, uint8_t *out, size_t cap, size_t *len);
/* bx__th_cs3a_verify() with the static secret of the recipient's key and the sender's
 * (bx__th_cs3a_static()) kept. Returns 0, BX_EINVAL, BX_EBADMSG, BX_ENOTSUP or BX_EAUTH. */
int bx__th_cs3a_verify_static(const uint8_t *msg, size_t len, const uint8_t k_static[BX__TH_KEY]);

/* ---- section 4: order, handshakes, channels (th_handshake.c, th_channel.c) -------------- */

typedef enum { BX__TH_ODD = 1, BX__TH_EVEN = 2 } bx__th_order;
/* My order against a peer: ODD when my public key is the higher one (bytewise), else EVEN.
 * Returns BX__TH_ODD, BX__TH_EVEN or BX_EINVAL (NULL keys, or the same key twice). */
int bx__th_order_of(const uint8_t my_pk[BX__TH_KEY], const uint8_t their_pk[BX__TH_KEY]);
/* Does at have order's parity (odd for ODD, even for EVEN)? */
static inline bool bx__th_at_fits(bx__th_order order, uint32_t at) {
  return (at & 1u) == (order == BX__TH_ODD ? 1u : 0u);
}

/* A parsed handshake inner packet. */
typedef struct bx__th_handshake {
  uint32_t at;
  uint8_t key[BX__TH_KEY]; /* the sender's CS3a public key */
  cJSON *head; /* the whole JSON head (owned; bx__th_handshake_clear() frees it): the fields
                  a receiver may use beyond type and at, e.g. a box host's "box":[W,C] */
} bx__th_handshake;
/* Appends the inner packet of a link handshake to buf: head {"type":"link","at":at} followed
 * by the items of extra (borrowed, a JSON object or NULL; "type" and "at" in it are
 * BX_EINVAL), body the attached LOB {"3a":true} with key (borrowed). Returns 0, BX_EINVAL
 * (at 0, NULL key, a bad extra) or BX_ENOMEM; on error buf->len is as it was. */
int bx__th_handshake_append(bx_buf *buf, uint32_t at, const uint8_t key[BX__TH_KEY],
                            const cJSON *extra);
/* Parses a handshake's inner packet p[0..len) (borrowed) into *out (zeroed first). Fields of
 * the head other than type and at are kept in out->head and otherwise ignored; the attached
 * packet's head may hold other CSIDs, and any value for "3a" (telehash-js writes null).
 * Returns 0, BX_EINVAL; the LOB errors; BX_EBADMSG (type not "link", at not an integer in
 * 1..2^32-1, a key that is not 32 bytes); BX_ENOTSUP (no "3a" in the attached head); on
 * error out holds nothing to free. */
int bx__th_handshake_parse(const uint8_t *p, size_t len, bx__th_handshake *out);
void bx__th_handshake_clear(bx__th_handshake *hs);

/* The routing token of a message (a handshake) msg[0..len): SHA-256 of the first 16 bytes of
 * its LOB body, cut to 16 bytes. A side expects the token of the handshake it sent at the
 * front of every channel packet sent to it. Returns 0, BX_EINVAL or BX_EBADMSG (not a LOB
 * with a body of at least 16 bytes). */
int bx__th_token_of(const uint8_t *msg, size_t len, uint8_t token[BX__TH_TOKEN]);

/* An exchange's channel keys. */
typedef struct bx__th_chankeys {
  uint8_t enc[BX__TH_KEY]; /* seals what I send */
  uint8_t dec[BX__TH_KEY]; /* opens what I receive */
} bx__th_chankeys;
/* The channel keys from my ephemeral key pair and the peer's ephemeral public key (the KEY of
 * the handshake it sent). Returns 0, BX_EINVAL or BX_EAUTH (a public key no shared secret can
 * be made with). */
int bx__th_channel_keys(const uint8_t my_eph_sk[BX__TH_KEY], const uint8_t my_eph_pk[BX__TH_KEY],
                        const uint8_t their_eph_pk[BX__TH_KEY], bx__th_chankeys *out);

/* A channel packet's bytes beyond its inner packet: LOB 2 + TOKEN 16 + NONCE 24 + MAC 16. */
#define BX__TH_CHAN_OVERHEAD 58
/* Seals inner[0..n) into a channel packet for the peer whose token is token, with my enc key,
 * into out[0..cap) (at least n + BX__TH_CHAN_OVERHEAD); nonce NULL: random. *len (optional)
 * receives the size. Returns 0, BX_EINVAL, BX_EMSGSIZE or BX_ENOTSUP. */
int bx__th_channel_seal(const uint8_t *inner, size_t n, const uint8_t token[BX__TH_TOKEN],
                        const uint8_t enc[BX__TH_KEY], const uint8_t *nonce, uint8_t *out,
                        size_t cap, size_t *len);
/* Opens the channel packet pkt[0..len) addressed to my token (the token of the handshake I
 * sent) with my dec key into inner[0..cap) (at least len - BX__TH_CHAN_OVERHEAD). Returns 0,
 * BX_EINVAL, BX_EBADMSG (not a LOB without head, or too short), BX_EAUTH (another token, or
 * the secretbox does not open) or BX_EMSGSIZE. */
int bx__th_channel_open(const uint8_t *pkt, size_t len, const uint8_t token[BX__TH_TOKEN],
                        const uint8_t dec[BX__TH_KEY], uint8_t *inner, size_t cap,
                        size_t *inner_len);

/* ---- section 5: UDP cloaking, TCP chunking (th_cloak.c, th_chunk.c) --------------------- */

#define BX__TH_CLOAK_NONCE 8 /* bytes each round of cloaking adds */
/* Cloaks pkt[0..n) rounds times (1..16) into out[0..cap) (at least n + rounds * 8); nonces is
 * rounds * 8 bytes (the first byte of each not 0) or NULL for random ones. Each round wraps
 * the previous one: the last nonce is outermost. Returns 0, BX_EINVAL, BX_EMSGSIZE or
 * BX_ENOTSUP. */
int bx__th_cloak(const uint8_t *pkt, size_t n, unsigned rounds, const uint8_t *nonces, uint8_t *out,
                 size_t cap, size_t *len);
/* Uncloaks buf[0..len) in place, as many rounds as there are (a packet starts with 0x00, a
 * cloak with a nonce that does not); *off receives where the packet starts (its length is
 * len - *off). Returns 0, BX_EINVAL or BX_EBADMSG (too short to be a cloaked packet). */
int bx__th_uncloak(uint8_t *buf, size_t len, size_t *off);

/* The bytes pkt takes on a TCP stream: its chunks of at most 255 bytes, each after a length
 * byte, then the 0x00 terminator. */
static inline size_t bx__th_chunk_size(size_t n) {
  return n + (n + 254) / 255 + 1;
}
/* Writes pkt[0..n) (n > 0) as chunks and terminator into out[0..cap). Returns 0, BX_EINVAL or
 * BX_EMSGSIZE. */
int bx__th_chunk_write(const uint8_t *pkt, size_t n, uint8_t *out, size_t cap, size_t *len);
/* Looks for the next packet at the front of a stream's bytes p[0..avail) (borrowed). Returns 1
 * when a whole one is there: *used the stream bytes it takes (chunks and terminator), *size
 * the packet's size (0 for a bare terminator: a keep-alive to skip); 0 when more bytes are
 * needed; BX_EMSGSIZE when the packet grows past max bytes. Allocates nothing: copy it out
 * with bx__th_chunk_gather(). */
int bx__th_chunk_scan(const uint8_t *p, size_t avail, size_t max, size_t *used, size_t *size);
/* Copies the packet of the chunks p[0..used) (as found by bx__th_chunk_scan) into out (at least
 * *size bytes). */
void bx__th_chunk_gather(const uint8_t *p, size_t used, uint8_t *out);

/* ---- the runtime: endpoint, links, channels, sockets (th_endpoint.c, th_link.c,
 * th_channel_rt.c, th_udp.c, th_tcp.c) -------------------------------------------------------
 *
 * Ownership: the endpoint owns its links, a link its channels and paths, the endpoint its
 * sockets (UDP handles, TCP listeners, TCP connections). Nothing is freed before the endpoint's
 * close has finished (its handles closed and its deferred tasks ran), except channels, which
 * are freed by the task that reports their CLOSED event. */

#define BX__TH_MAX_PACKET 65535 /* a packet's bytes, UDP or TCP (before cloaking) */
#define BX__TH_MAX_PATHS 8      /* addresses a link remembers */
#define BX__TH_WINDOW 100       /* reliable channels: packets in flight / buffered ahead */

typedef struct bx__th_tcp bx__th_tcp;

/* Where a packet came from or goes to. */
enum { BX__TH_UDP = 1, BX__TH_TCP = 2 };
typedef struct bx__th_path {
  int kind;                     /* BX__TH_UDP or BX__TH_TCP; 0: unused slot */
  struct sockaddr_storage addr; /* the remote address */
  bx__th_tcp *conn;             /* TCP: the connection, or NULL (dial addr when needed) */
  bool dialable;                /* TCP: addr is the peer's listening address */
  uint64_t heard;               /* loop time of the last packet accepted on it (0: never) */
} bx__th_path;

typedef struct bx__th_handler {
  struct bx__th_handler *next;
  bx_th_open_cb cb;
  void *data;
  char type[];
} bx__th_handler;

struct bx_th_endpoint {
  bx__tracked tracked; /* while open: the context's close closes the endpoint */
  bx_ctx *ctx;
  uint8_t pk[BX__TH_KEY], sk[BX__TH_KEY];
  char hashname[BX_TH_HASHNAME_LEN + 1];
  bx_th_endpoint_opts opts;          /* with defaults filled in; bind[] not kept */
  uv_udp_t *udp[BX_TH_MAX_BINDS];    /* owned; NULL where the bind is not UDP */
  uv_tcp_t *listen[BX_TH_MAX_BINDS]; /* owned; NULL where the bind is not TCP */
  struct sockaddr_storage bound[BX_TH_MAX_BINDS];
  bx__tlink tcps;  /* bx__th_tcp connections */
  bx__tlink links; /* bx_th_link */
  bx__map *by_hn;  /* hashname -> link (borrowed keys) */
  bx__map *by_tok; /* hex of the token a link expects -> link */
  bx__th_handler *handlers;
  uint32_t stranger_links; /* links made by unknown peers' handshakes (not dialed) */
  bx_th_endpoint_stats stats;
  uint8_t *rbuf; /* a packet's plain bytes (BX__TH_MAX_PACKET) */
  uint8_t *wbuf; /* a packet being sealed */
  uint8_t *cbuf; /* a packet being cloaked (UDP) or chunked (TCP) */
  uint8_t *ubuf; /* what a UDP socket reads, or a TCP packet gathered from its chunks */
  int handles;   /* handles not yet closed */
  int tasks;     /* deferred tasks not yet run */
  bool closing, tracked_on, handle_closes_started;
  int close_status; /* BX_ECANCELED, or BX_ECLOSING when the context closes it */
  bx_th_endpoint_close_cb close_cb;
  void *close_data;
  /* Fields added to the head of every handshake we send (a box host's "box":[W,C]): the
   * result is owned by the caller (NULL: none). */
  cJSON *(*hs_extra)(bx_th_link *k, void *data);
  void *hs_extra_data;
  bx_th_box_host *box_host; /* th_box_host.c: the host on this endpoint, or NULL */
  struct bx__thb *boxes;    /* th_box_url.c: th:// boxes on this endpoint, or NULL */
};

struct bx_th_link {
  bx__tlink node; /* in ep->links */
  bx_th_endpoint *ep;
  char hashname[BX_TH_HASHNAME_LEN + 1];
  char tokhex[2 * BX__TH_TOKEN + 1];
  uint8_t key[BX__TH_KEY];                        /* the peer's static CS3a key */
  bx__th_order order;                             /* mine */
  uint8_t eph_pk[BX__TH_KEY], eph_sk[BX__TH_KEY]; /* this exchange's, for the link's life */
  uint8_t their_eph[BX__TH_KEY];
  bool session; /* their_eph, keys and token_out are set */
  bx__th_chankeys keys;
  uint8_t token_in[BX__TH_TOKEN], token_out[BX__TH_TOKEN];
  uint32_t out_at, in_at;
  bool up, synced, awaiting, gave_up;
  bool dialed;   /* made or claimed by bx_th_link_new(): never evicted, not in max_links */
  bool ever_up;  /* came UP once (a callback saw it): never evicted */
  bool had_chan; /* a channel packet was accepted on it: never evicted */
  uint64_t unsynced_since, last_hs_out;
  unsigned resends;
  bx__deadline hs_timer; /* resend, give-up, keep-alive */
  bx__th_path paths[BX__TH_MAX_PATHS];
  bx__tlink chans; /* open channels */
  uint32_t next_cid, max_in_cid;
  bx_th_link_stats stats;
  bool box_adv;          /* the peer advertised boxes ("box":[W,C] in a handshake) */
  uint32_t box_w, box_c; /* its last advertisement */
};

struct bx_th_channel {
  bx__tlink node; /* in link->chans while open */
  bx_th_link *link;
  uint32_t id;
  char *type;
  bool reliable, sent_end, got_end, closed;
  bool accepted;           /* ours, or an incoming one its handler has seen */
  bx__th_handler *handler; /* an incoming one's (NULL: unknown type) */
  int close_status;
  bx_th_chan_cb cb;
  void *data;
  /* reliable: what we sent and wait to see acknowledged, oldest first */
  bx__tlink unacked;
  uint32_t seq_next; /* the seq of our next packet */
  uint32_t in_next;  /* the seq we deliver next */
  bool in_started;
  uint32_t ack_sent;                        /* the last ack we sent */
  bool ack_due;                             /* an ack is owed */
  bool ack_queued;                          /* the ack task is queued */
  struct bx__th_held *ahead[BX__TH_WINDOW]; /* received out of order, by seq - in_next */
  uint64_t last_progress;                   /* loop time of the last ack that moved */
  bx__deadline timer;                       /* resend of the oldest unacked */
};

/* th_endpoint.c: the endpoint's side */
void bx__th_ep_recv(bx_th_endpoint *ep, const bx__th_path *from, uint8_t *pkt, size_t len);
/* Sends pkt[0..len) (a whole packet, plain) on path: cloaked (UDP, unless no_cloak) or chunked
 * (TCP). Returns 0 or an error (nothing sent). */
int bx__th_ep_send(bx_th_endpoint *ep, bx__th_path *path, const uint8_t *pkt, size_t len);
/* Counts a dropped packet: reason points into ep->stats (NULL: none but the total), link may
 * be NULL. */
void bx__th_drop(bx_th_endpoint *ep, bx_th_link *link, uint64_t *reason);
/* Queues fn(a, b) on the context's run queue, counted in ep->tasks (run directly when the
 * queue no longer runs). fn must call bx__th_ep_task_done(ep) at its end. */
void bx__th_ep_defer(bx_th_endpoint *ep, bx__task_fn fn, void *a, void *b);
void bx__th_ep_task_done(bx_th_endpoint *ep);
uint64_t bx__th_now(bx_th_endpoint *ep);

/* Makes room for one more link made by an unknown peer's handshake: 0 when there is room
 * (after freeing the oldest evictable link if the endpoint is at max_links), BX_EQUEUEFULL
 * when every slot holds a link that must stay. */
int bx__th_ep_admit(bx_th_endpoint *ep);

/* th_link.c */
int bx__th_link_make(bx_th_endpoint *ep, const uint8_t key[BX__TH_KEY], bx_th_link **out);
int bx__th_link_add_path(bx_th_link *k, const bx__th_path *p);
void bx__th_link_handshake_in(bx_th_endpoint *ep, const bx__th_path *from, const uint8_t *msg,
                              size_t len);
void bx__th_link_channel_in(bx_th_link *k, const bx__th_path *from, const uint8_t *pkt, size_t len);
/* Sends one more handshake with the same `at` (an UP link only): a box host's changed
 * advertisement. */
void bx__th_link_rehandshake(bx_th_link *k);
/* th_box_host.c: keeps a handshake head's "box":[W,C] (borrowed) in k. */
void bx__th_link_note_advert(bx_th_link *k, const cJSON *head);
/* Seals inner[0..n) for k and sends it on k's best path. 0, BX_ECONNLOST (no session or no
 * path) or an error. */
int bx__th_link_send_inner(bx_th_link *k, const uint8_t *inner, size_t n);
void bx__th_link_start(bx_th_link *k);
void bx__th_link_stop(bx_th_link *k);
void bx__th_link_free(bx_th_link *k);
/* A TCP connection is gone: k forgets it in its paths. */
void bx__th_link_conn_gone(bx_th_link *k, bx__th_tcp *c);

/* th_channel_rt.c */
void bx__th_chan_in(bx_th_link *k, bx__th_lob *lob);
/* Closes every channel of k with status (the endpoint closing, a session reset). */
void bx__th_chans_close_all(bx_th_link *k, int status);
/* The link came up (again): reliable channels send what waits. */
void bx__th_chans_flush(bx_th_link *k);

/* th_udp.c, th_tcp.c */
int bx__th_udp_bind(bx_th_endpoint *ep, unsigned i, const struct sockaddr *sa);
int bx__th_udp_send(bx_th_endpoint *ep, const struct sockaddr *to, const uint8_t *p, size_t n);
int bx__th_tcp_listen(bx_th_endpoint *ep, unsigned i, const struct sockaddr *sa);
/* Writes a framed packet to path (dialling path->addr when it has no connection). */
int bx__th_tcp_send(bx_th_endpoint *ep, bx__th_path *path, const uint8_t *p, size_t n);
void bx__th_tcp_close_all(bx_th_endpoint *ep);
/* A handle the endpoint counted has closed: bx__th_handle_closed() frees a malloc'd handle
 * whose data is the endpoint, bx__th_ep_handle_gone() only counts. */
void bx__th_handle_closed(uv_handle_t *h);
void bx__th_ep_handle_gone(bx_th_endpoint *ep);
bool bx__th_addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* ---- boxes (spec/telehash section 6): the store (th_box_store.c) ---------------------------
 *
 * Messages in memory, keyed (to, from, id). Each message sits in four orders at once: the
 * host's (oldest first: total eviction), its box's (to, from) (per-box eviction, peer-mode
 * delivery), its recipient's (self mode, pick mode) and a min-heap by expiry (expiry pops the
 * due ones: no scan). A persistence layer (th_box_store_sqlite.c) mirrors every change. */

typedef struct bx__bs_rcpt bx__bs_rcpt;
typedef struct bx__bs_box bx__bs_box;
typedef struct bx__bs_msg {
  bx__tlink all, in_box, in_to; /* first: the host's order */
  bx__bs_box *box;
  uint64_t seq;     /* store order */
  uint64_t expires; /* clock ms it expires at; 0: never */
  size_t slot;      /* 1 + its index in the expiry heap; 0: not there */
  char id[BX_TH_BOX_ID_LEN + 1];
  size_t len;
  uint8_t data[];
} bx__bs_msg;
struct bx__bs_box {
  char to[BX_TH_HASHNAME_LEN + 1], from[BX_TH_HASHNAME_LEN + 1];
  char key[2 * BX_TH_HASHNAME_LEN + 2]; /* "to/from" */
  bx__tlink msgs;
  size_t n;
  bx__bs_rcpt *rcpt;
};
struct bx__bs_rcpt {
  char to[BX_TH_HASHNAME_LEN + 1];
  bx__tlink msgs; /* every message to `to`, oldest first (bx__bs_msg.in_to) */
  size_t boxes;   /* boxes with messages */
};
#define BX__BS_IN_TO(n) ((bx__bs_msg *)((char *)(n)-offsetof(bx__bs_msg, in_to)))
#define BX__BS_IN_BOX(n) ((bx__bs_msg *)((char *)(n)-offsetof(bx__bs_msg, in_box)))

typedef enum { BX__BS_EVICTED = 1, BX__BS_EXPIRED, BX__BS_REMOVED } bx__bs_why;

/* A mirror of the store (durable storage). Each returns 0 or an error. */
struct bx__bs;
typedef struct bx__bs_persist {
  int (*begin)(void *p);
  int (*commit)(void *p);
  void (*rollback)(void *p);
  int (*insert)(void *p, const bx__bs_msg *m);
  int (*remove)(void *p, const bx__bs_msg *m);
  int (*key)(void *p, const char *hashname, const uint8_t key[BX__TH_KEY]);
  int (*load)(void *p, struct bx__bs *s); /* every stored message and key into s */
  void (*close)(void *p);
} bx__bs_persist;

typedef struct bx__bs {
  bx__tlink all;
  size_t n;
  uint32_t cap, total;
  bx__map *boxes, *rcpts, *ids, *keys; /* keys: hashname -> 32 bytes (owned) */
  bx__bs_msg **heap;
  size_t heap_n, heap_cap;
  uint64_t seq;
  uint64_t evicted, expired, removed, accepted, duplicate;
  /* a recipient's count of boxes changed (the advertisement) */
  void (*on_boxes)(const char *to, size_t boxes, void *data);
  void *data;
  const bx__bs_persist *persist; /* NULL: memory only */
  void *pdata;
  int persist_rc; /* the first persistence error since bx__bs_begin() */
} bx__bs;

int bx__bs_init(bx__bs *s, uint32_t cap, uint32_t total);
void bx__bs_free(bx__bs *s);
bx__bs_box *bx__bs_box_get(const bx__bs *s, const char *to, const char *from);
bx__bs_rcpt *bx__bs_rcpt_get(const bx__bs *s, const char *to);
/* Stores a copy of data[0..len) to/from with id (64 lower-case hex), evicting the oldest of
 * the box, then of the host, to make room. Returns 0 (stored), 1 (that id is in the box
 * already: nothing changed) or BX_ENOMEM. */
int bx__bs_put(bx__bs *s, const char *to, const char *from, const char *id, const uint8_t *data,
               size_t len, uint64_t expires);
/* Loads a message as it was stored (a restart): no eviction, no persistence. */
int bx__bs_load(bx__bs *s, const char *to, const char *from, const char *id, const uint8_t *data,
                size_t len, uint64_t expires, uint64_t seq);
void bx__bs_del(bx__bs *s, bx__bs_msg *m, bx__bs_why why);
/* Removes the message id of the box to/from (if there); true when one was removed. */
bool bx__bs_remove(bx__bs *s, const char *to, const char *from, const char *id);
/* Removes every message of the box to/from, or every message to `to` (from NULL). */
size_t bx__bs_clear(bx__bs *s, const char *to, const char *from);
/* Removes the messages whose expiry is <= now; returns how many. */
size_t bx__bs_expire(bx__bs *s, uint64_t now);
/* The earliest expiry (0: none). */
uint64_t bx__bs_next_expiry(const bx__bs *s);
/* The key of a hashname (NULL: unknown), and learning one. */
const uint8_t *bx__bs_key_get(const bx__bs *s, const char *hashname);
int bx__bs_key_put(bx__bs *s, const char *hashname, const uint8_t key[BX__TH_KEY]);
/* Persistence around one packet's changes: begin, then end(ok). end returns 0, or the error
 * that made it roll back (the memory side is then reloaded by the caller's reload). */
int bx__bs_begin(bx__bs *s);
/* Drops every message in memory and loads them again from the persistence layer (after a
 * failed transaction). 0 or an error. */
int bx__bs_reload(bx__bs *s);
/* th_box_store_sqlite.c: opens (creating) the SQLite file path as s's persistence and loads
 * what it holds. Returns 0, or UV_EROFS (read-only), UV_ENOSPC (full), UV_EACCES (cannot open),
 * BX_EBADMSG (not a store: corrupt or another file), UV_EIO or BX_ENOMEM; *errmsg (optional)
 * gets SQLite's text (static or owned by the library until the next call). */
int bx__bs_sqlite_open(bx__bs *s, const char *path, const char **errmsg);
/* th_box_url.c: th:// boxes hear of link events and of the endpoint closing. */
void bx__thb_link_event(bx_th_link *k, bx_th_link_event ev);
void bx__thb_closing(bx_th_endpoint *ep);
/* th_box_host.c: the host's store (for tests). */
bx__bs *bx__th_box_host_store(bx_th_box_host *h);
/* The SQLite handle of s's persistence (a sqlite3 *), for tests. */
void *bx__bs_sqlite_db(bx__bs *s);
/* SQLite's text for the last error of s's persistence. */
const char *bx__bs_sqlite_errmsg(bx__bs *s);
/* th_box_msg.c: bx_th_box_unseal() with a bare secret key (the endpoint's). */
int bx__th_box_unseal(const uint8_t *sk, const uint8_t *msg, size_t len, const uint8_t *from_pk,
                      bx_th_box_letter **out);
int bx__bs_end(bx__bs *s);

#endif /* BX_TRANSPORTS_TH_INTERNAL_H */
