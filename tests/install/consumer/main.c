/* Uses the installed bx: a context, a registered service, a call through the codec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bx.h>
#ifdef CONSUMER_HAS_GREET
#include "greet_skeleton.h"
#include "greet_stub.h"

static int hello(void *impl, bx_rpc_call *call, const char *who, char **text) {
  (void)impl, (void)call;
  size_t n = strlen(who) + 8;
  *text = malloc(n);
  if (*text == NULL) return BX_ENOMEM;
  snprintf(*text, n, "hello %s", who);
  return 0;
}

/* A generated stub calls a generated skeleton through the registry. */
static bool greet_round_trip(bx_ctx *ctx) {
  static const greet_ops ops = {.hello = hello};
  bx_box *skel = NULL, *svc = NULL;
  if (greet_skeleton_new(ctx, &ops, NULL, &skel) != 0) return false;
  bx_register(bx_ctx_registry(ctx), "greet", skel, &svc);
  bx_stub stub;
  greet_stub_init(&stub, svc);
  char *text = NULL;
  bool ok = greet_hello_sync(&stub, "world", &text) == 0 && strcmp(text, "hello world") == 0;
  free(text);
  bx_stub_reset(&stub);
  bx_box_unref(svc);
  bx_box_unref(skel);
  return ok;
}
#else
static bool greet_round_trip(bx_ctx *ctx) {
  (void)ctx;
  return true; /* the pkg-config build has no generator */
}
#endif

int main(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  bx_ctx *ctx;
  if (bx_ctx_new(&loop, NULL, &ctx) != 0) return 1;
  bx_box *null_box = NULL;
  bx_null_box_new(ctx, &null_box);
  bx_box *exported = NULL;
  int rc = bx_register(bx_ctx_registry(ctx), "svc", null_box, &exported);
  bx_msg *m = NULL;
  bx_msg_new(bx_json_new_object(BX_CLASS_HELLO), &m);
  bx_buf buf = {0};
  rc |= bx_encode(ctx, m, NULL, &buf);
  bool ok =
      rc == 0 && buf.len > 0 && strstr(buf.base, BX_CLASS_HELLO) != NULL && greet_round_trip(ctx);
  printf("bx %s: %s\n", bx_version_string(), ok ? "ok" : "FAILED");
  bx_buf_free(&buf);
  bx_msg_unref(m);
  bx_box_unref(exported);
  bx_box_unref(null_box);
  bx_ctx_close(ctx, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  return ok && uv_loop_close(&loop) == 0 ? 0 : 1;
}
