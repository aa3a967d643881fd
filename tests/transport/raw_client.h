/* A raw stream client for tests: a libuv socket on the test's loop that writes arbitrary bytes
 * and splits what it reads into 4-byte little-endian length-prefixed frames, with no bx in
 * between. Header-only; include after <cmocka.h>. */
#ifndef BXT_RAW_CLIENT_H
#define BXT_RAW_CLIENT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bx.h"

#define BXT_RAW_MAX_FRAMES 64

typedef struct bxt_raw {
  union {
    uv_handle_t h;
    uv_stream_t s;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } u;
  uv_connect_t creq;
  int connected; /* 1, or a negative error */
  bx_buf in;
  int nframes;
  char *frames[BXT_RAW_MAX_FRAMES]; /* NUL-terminated copies */
  int eof;                          /* 1 at EOF or a read error */
  int closed;
} bxt_raw;

typedef struct bxt_raw_write {
  uv_write_t req;
  char data[];
} bxt_raw_write;

static inline void bxt_raw_parse(bxt_raw *r) {
  size_t off = 0;
  while (r->in.len - off >= 4) {
    const unsigned char *p = (const unsigned char *)r->in.base + off;
    uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (r->in.len - off - 4 < n) break;
    assert_true(r->nframes < BXT_RAW_MAX_FRAMES);
    char *f = malloc(n + 1);
    assert_non_null(f);
    memcpy(f, p + 4, n);
    f[n] = '\0';
    r->frames[r->nframes++] = f;
    off += 4 + n;
  }
  memmove(r->in.base, r->in.base + off, r->in.len - off);
  r->in.len -= off;
}

static inline void bxt_raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  bxt_raw *r = h->data;
  assert_int_equal(bx_buf_reserve(&r->in, suggested), 0);
  *buf = uv_buf_init(r->in.base + r->in.len, (unsigned)(r->in.cap - r->in.len));
}

static inline void bxt_raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  bxt_raw *r = s->data;
  if (nread < 0) {
    r->eof = 1;
    uv_read_stop(s);
    return;
  }
  r->in.len += (size_t)nread;
  bxt_raw_parse(r);
}

static inline void bxt_raw_connected(uv_connect_t *req, int status) {
  bxt_raw *r = req->handle->data;
  r->connected = status == 0 ? 1 : status;
  if (status == 0) uv_read_start(&r->u.s, bxt_raw_alloc, bxt_raw_read);
}

/* Runs the loop until *flag is non-zero. */
static inline void bxt_raw_wait(uv_loop_t *loop, const int *flag) {
  while (*flag == 0)
    if (!uv_run(loop, UV_RUN_ONCE) && *flag == 0) fail_msg("the loop went idle");
}

/* Connects to a bx URL (unix:///path, tcp://127.0.0.1:port or tcp://[::1]:port). */
static inline void bxt_raw_open(bxt_raw *r, uv_loop_t *loop, const char *url) {
  memset(r, 0, sizeof *r);
  if (strncmp(url, "unix://", 7) == 0) {
    uv_pipe_init(loop, &r->u.pipe, 0);
    r->u.h.data = r;
    uv_pipe_connect(&r->creq, &r->u.pipe, url + 7, bxt_raw_connected);
  } else {
    assert_true(strncmp(url, "tcp://", 6) == 0);
    char host[64];
    const char *hp = url + 6, *colon = strrchr(hp, ':');
    struct sockaddr_storage ss;
    if (*hp == '[') {
      snprintf(host, sizeof host, "%.*s", (int)(colon - hp - 2), hp + 1);
      assert_int_equal(uv_ip6_addr(host, atoi(colon + 1), (struct sockaddr_in6 *)&ss), 0);
    } else {
      snprintf(host, sizeof host, "%.*s", (int)(colon - hp), hp);
      assert_int_equal(uv_ip4_addr(host, atoi(colon + 1), (struct sockaddr_in *)&ss), 0);
    }
    uv_tcp_init(loop, &r->u.tcp);
    r->u.h.data = r;
    assert_int_equal(uv_tcp_connect(&r->creq, &r->u.tcp, (struct sockaddr *)&ss, bxt_raw_connected),
                     0);
  }
  bxt_raw_wait(loop, &r->connected);
  assert_int_equal(r->connected, 1);
}

static inline void bxt_raw_write_cb(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

/* Writes len bytes as they are (one write). */
static inline void bxt_raw_send(bxt_raw *r, const void *data, size_t len) {
  bxt_raw_write *w = malloc(sizeof *w + len);
  assert_non_null(w);
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  assert_int_equal(uv_write(&w->req, &r->u.s, &b, 1, bxt_raw_write_cb), 0);
}

/* Appends one frame (length prefix + text) to buf. */
static inline void bxt_frame(bx_buf *buf, const char *json, size_t len) {
  unsigned char p[4] = {(unsigned char)(len & 0xff), (unsigned char)((len >> 8) & 0xff),
                        (unsigned char)((len >> 16) & 0xff), (unsigned char)((len >> 24) & 0xff)};
  assert_int_equal(bx_buf_append(buf, p, 4), 0);
  if (len) assert_int_equal(bx_buf_append(buf, json, len), 0);
}

/* Sends one frame holding json. */
static inline void bxt_raw_frame(bxt_raw *r, const char *json) {
  bx_buf b = {0};
  bxt_frame(&b, json, strlen(json));
  bxt_raw_send(r, b.base, b.len);
  bx_buf_free(&b);
}

/* Runs the loop until n frames (in all) have arrived. */
static inline void bxt_raw_wait_frames(uv_loop_t *loop, bxt_raw *r, int n) {
  while (r->nframes < n) {
    if (r->eof) fail_msg("EOF with %d of %d frames", r->nframes, n);
    if (!uv_run(loop, UV_RUN_ONCE) && r->nframes < n) fail_msg("the loop went idle");
  }
}

static inline void bxt_raw_closed(uv_handle_t *h) {
  ((bxt_raw *)h->data)->closed = 1;
}

/* Closes (with a TCP reset when reset is set) and waits; frees everything. */
static inline void bxt_raw_close(bxt_raw *r, uv_loop_t *loop, bool reset) {
  if (reset && r->u.h.type == UV_TCP)
    uv_tcp_close_reset(&r->u.tcp, bxt_raw_closed);
  else
    uv_close(&r->u.h, bxt_raw_closed);
  bxt_raw_wait(loop, &r->closed);
  for (int i = 0; i < r->nframes; i++)
    free(r->frames[i]);
  bx_buf_free(&r->in);
}

#endif /* BXT_RAW_CLIENT_H */
