/* hello: an in-process service registered by name and called through Sub, Proxy and Promised
 * boxes, with a Timeout guarding each call. Everything runs on one libuv loop.
 *
 *   greeter  <- registered as "greeter" in the context's root registry
 *   Sub("greeter", registry)        what bx_register() hands back: the service's address
 *   Proxy(Sub)                      a stable handle whose delegate can be swapped
 *   Promised -> resolved later      messages sent before resolution wait in its queue
 */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include <bx.h>

/* The service: answers RPCMessage{name:"greet", args:[who]} with "hello, <who>". */
static void greeter(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  (void)data;
  const cJSON *o = bx_msg_object(msg);
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(o, "args");
  const cJSON *who = cJSON_GetArrayItem(args, 0);
  if (!cJSON_IsString(who)) {
    bx_reply_error(msg, BX_EBADARG, "greet(who): who must be a string");
    return;
  }
  char text[256];
  snprintf(text, sizeof text, "hello, %s", who->valuestring);
  cJSON *ret = bx_json_new_object(BX_CLASS_RPC_RETURN);
  cJSON_AddStringToObject(ret, "data", text);
  bx_reply_json(msg, ret);
}

typedef struct {
  int answered;
  int expected;
} hello_state;

/* Prints each reply. */
static void on_reply(bx_box *self, bx_msg *reply, void *data) {
  (void)self;
  hello_state *st = data;
  const char *text = NULL;
  int err = bx_msg_error(reply, &text);
  if (err)
    printf("  error: %s (%s)\n", text ? text : "", bx_err_name(err));
  else
    printf("  reply: %s\n",
           cJSON_GetObjectItemCaseSensitive(bx_msg_object(reply), "data")->valuestring);
  st->answered++;
}

/* Sends greet(who) to box with a reply box. */
static void call_greet(bx_ctx *ctx, bx_box *box, bx_box *reply_box, const char *who) {
  cJSON *rpc = bx_json_new_object(BX_CLASS_RPC_MESSAGE);
  cJSON_AddStringToObject(rpc, "name", "greet");
  cJSON *args = cJSON_AddArrayToObject(rpc, "args");
  cJSON_AddItemToArray(args, cJSON_CreateString(who));
  bx_msg *m = NULL;
  bx_msg_new(rpc, &m);
  bx_msg_set_reply_box(m, reply_box);
  /* Guard each call: a reply, or an error after 1 s, exactly once. */
  bx_box *guarded = NULL;
  bx_timeout_box_new(ctx, box, 1000, &guarded);
  int rc = bx_send(guarded, m);
  if (rc) printf("  send failed: %s\n", bx_strerror(rc));
  bx_box_unref(guarded);
}

int main(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  bx_ctx *ctx;
  bx_ctx_options opts;
  bx_ctx_options_init(&opts);
  opts.name = "/hello";
  if (bx_ctx_new(&loop, &opts, &ctx) != 0) return 1;

  hello_state st = {0, 4};
  bx_box *replies = NULL;
  bx_function_box_new(ctx, on_reply, &st, NULL, &replies);
  bx_box *service = NULL;
  bx_function_box_new(ctx, greeter, NULL, NULL, &service);

  /* Register the service by name; keep the exported Sub box it returns. */
  bx_box *greeter_box = NULL;
  bx_register(bx_ctx_registry(ctx), "greeter", service, &greeter_box);
  printf("registered 'greeter' (%zu name(s) in %s)\n", bx_registry_size(bx_ctx_registry(ctx)),
         bx_ctx_name(ctx));

  printf("call through the Sub box:\n");
  call_greet(ctx, greeter_box, replies, "sub");

  printf("call through a Proxy:\n");
  bx_box *proxy = NULL;
  bx_proxy_box_new(ctx, greeter_box, &proxy);
  call_greet(ctx, proxy, replies, "proxy");

  printf("call through a Promised box resolved afterwards:\n");
  bx_box *promised = NULL;
  bx_promised_box_new(ctx, 0, &promised);
  call_greet(ctx, promised, replies, "promised");
  printf("  (%zu message(s) queued until resolved)\n", bx_promised_queued(promised));
  bx_promised_resolve(promised, greeter_box);

  printf("call a name that is not registered, through its named box:\n");
  bx_box *nobody = NULL;
  bx_named_box(ctx, "/hello/nobody", &nobody);
  call_greet(ctx, nobody, replies, "nobody");

  uv_run(&loop, UV_RUN_DEFAULT);
  printf("%d of %d calls answered\n", st.answered, st.expected);

  bx_box_unref(nobody);
  bx_box_unref(promised);
  bx_box_unref(proxy);
  bx_box_unref(greeter_box);
  bx_box_unref(service);
  bx_box_unref(replies);
  bx_ctx_close(ctx, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop);
  return st.answered == st.expected && rc == 0 ? 0 : 1;
}
