/* Uses the installed bx: a context, a registered service, a call through the codec. */
#include <stdio.h>
#include <string.h>

#include <bx.h>

int main(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  bx_ctx *ctx;
  if (bx_ctx_new(&ctx, &loop, NULL) != 0) return 1;
  bx_box *null_box = bx_null_box_new(ctx);
  bx_box *exported = NULL;
  int rc = bx_register(bx_ctx_registry(ctx), "svc", null_box, &exported);
  bx_msg *m = bx_msg_new(bx_json_new_object(BX_CLASS_HELLO));
  bx_buf buf = {0};
  rc |= bx_encode(ctx, m, NULL, &buf);
  bool ok = rc == 0 && buf.len > 0 && strstr(buf.base, BX_CLASS_HELLO) != NULL;
  printf("bx %s: %s\n", bx_version_string(), ok ? "ok" : "FAILED");
  bx_buf_free(&buf);
  bx_msg_unref(m);
  bx_box_unref(exported);
  bx_box_unref(null_box);
  bx_ctx_close(ctx, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  return ok && uv_loop_close(&loop) == 0 ? 0 : 1;
}
