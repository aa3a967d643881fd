/* Registries: FOAM dispatch (SubBoxMessage, HelloMessage, NoSuchName), the register / doLookup /
 * unregister skeleton with remote permissions, one-shot exports, the broadcast registry, the
 * same requests answered alike by every kind of registry, and named/lookup boxes resolving
 * paths through nested registries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "registry_internal.h"
#include "testutil.h"

/* SubBoxMessage{name, RPCMessage{method, args}} with reply box. */
static bx_msg *sub_call(const char *name, const char *method, bx_box *reply) {
  char json[256];
  snprintf(json, sizeof json,
           "{\"class\":\"foam.box.SubBoxMessage\",\"name\":\"%s\",\"object\":"
           "{\"class\":\"foam.box.RPCMessage\",\"name\":\"%s\",\"args\":[]}}",
           name, method);
  bx_msg *m = bxt_msg(json);
  bx_msg_set_reply_box(m, reply);
  return m;
}

/* A bare RPCMessage to a registry: args given as JSON, plus an optional box appended. */
static bx_msg *reg_call(const char *method, const char *args, bx_box *box_arg, bx_box *reply,
                        bx_box *origin) {
  char json[256];
  snprintf(json, sizeof json, "{\"class\":\"foam.box.RPCMessage\",\"name\":\"%s\",\"args\":%s}",
           method, args);
  bx_msg *m = bxt_msg(json);
  if (box_arg)
    cJSON_AddItemToArray(cJSON_GetObjectItem(bx_msg_object(m), "args"), bx_msg_box_ref(m, box_arg));
  bx_msg_set_reply_box(m, reply);
  bx_msg_set_origin(m, origin);
  return m;
}

static void test_register_lookup_dispatch(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *root = bx_ctx_registry(e->ctx);
  bxt_sink svc, replies;
  bxt_sink_init(&svc, e->ctx);
  bxt_sink_init(&replies, e->ctx);

  bx_box *exported = NULL;
  assert_int_equal(bx_register(root, "calc", svc.box, &exported), 0);
  assert_string_equal(bx_box_type(exported), "sub");
  assert_string_equal(bx_sub_box_name(exported), "calc");
  assert_ptr_equal(bx_lookup(root, "calc"), svc.box);
  assert_int_equal(bx_register(root, "calc", svc.box, NULL), BX_EEXIST);
  assert_int_equal(bx_register(root, "", svc.box, NULL), BX_EINVAL);

  /* Through the exported Sub box: the service gets the unwrapped payload. */
  bx_msg *m = bxt_msg("{\"class\":\"foam.box.RPCMessage\",\"name\":\"add\",\"args\":[1,2]}");
  assert_int_equal(bx_send(exported, m), 0);
  bxt_run(e);
  assert_int_equal(svc.n, 1);
  assert_true(bx_msg_is(svc.msgs[0], BX_CLASS_RPC_MESSAGE));

  /* Unknown name: NoSuchNameException to the reply box, exactly once. */
  assert_int_equal(bx_send(root, sub_call("nosuch", "add", replies.box)), 0);
  bxt_run(e);
  assert_int_equal(replies.n, 1);
  const char *text;
  assert_int_equal(bx_msg_error(replies.msgs[0], &text), BX_ENOSERVICE);
  assert_string_equal(text, "nosuch");
  /* ... and without a reply box the send reports it. */
  assert_int_equal(bx_send(root, sub_call("nosuch", "add", NULL)), BX_ENOSERVICE);

  /* HelloMessage: accepted, nothing delivered. */
  assert_int_equal(bx_send(root, bxt_msg("{\"class\":\"foam.box.HelloMessage\"}")), 0);
  bxt_run(e);
  assert_int_equal(svc.n, 1);
  assert_int_equal(replies.n, 1);

  /* Generated names are unique. */
  bx_box *a = NULL, *b = NULL;
  assert_int_equal(bx_register(root, NULL, svc.box, &a), 0);
  assert_int_equal(bx_register(root, NULL, svc.box, &b), 0);
  assert_string_not_equal(bx_sub_box_name(a), bx_sub_box_name(b));
  assert_int_equal(bx_registry_size(root), 3);
  assert_int_equal(bx_unregister(root, bx_sub_box_name(a)), 0);
  assert_int_equal(bx_unregister(root, bx_sub_box_name(a)), BX_ENOSERVICE);
  assert_int_equal(bx_unregister_box(root, svc.box), 0); /* "calc" and b's name */
  assert_int_equal(bx_registry_size(root), 0);
  assert_int_equal(bx_unregister_box(root, svc.box), BX_ENOSERVICE);

  bx_box_unref(a);
  bx_box_unref(b);
  bx_box_unref(exported);
  bxt_sink_free(&svc);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_registry_rpc(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *root = bx_ctx_registry(e->ctx);
  bxt_sink svc, replies;
  bxt_sink_init(&svc, e->ctx);
  bxt_sink_init(&replies, e->ctx);

  /* register("fromClient", null, box) answers with the exported box as data. */
  assert_int_equal(
      bx_send(root, reg_call("register", "[\"fromClient\",null]", svc.box, replies.box, NULL)), 0);
  bxt_run(e);
  assert_int_equal(replies.n, 1);
  bx_msg *r = replies.msgs[0];
  assert_true(bx_msg_is(r, BX_CLASS_RPC_RETURN));
  bx_box *got = bx_msg_box_at(r, cJSON_GetObjectItem(bx_msg_object(r), "data"));
  assert_non_null(got);
  assert_string_equal(bx_sub_box_name(got), "fromClient");
  assert_ptr_equal(bx_lookup(root, "fromClient"), svc.box);

  /* doLookup finds it, and answers NoSuchName for what is not there. */
  assert_int_equal(bx_send(root, reg_call("doLookup", "[\"fromClient\"]", NULL, replies.box, NULL)),
                   0);
  assert_int_equal(bx_send(root, reg_call("doLookup", "[\"absent\"]", NULL, replies.box, NULL)), 0);
  bxt_run(e);
  assert_int_equal(replies.n, 3);
  r = replies.msgs[1];
  got = bx_msg_box_at(r, cJSON_GetObjectItem(bx_msg_object(r), "data"));
  assert_string_equal(bx_sub_box_name(got), "fromClient");
  assert_int_equal(bx_msg_error(replies.msgs[2], NULL), BX_ENOSERVICE);

  /* Unknown method and bad arguments are errors that say what was wrong. */
  const char *text;
  assert_int_equal(bx_send(root, reg_call("frobnicate", "[]", NULL, replies.box, NULL)), 0);
  assert_int_equal(bx_send(root, reg_call("register", "[5,null]", svc.box, replies.box, NULL)), 0);
  assert_int_equal(bx_send(root, reg_call("doLookup", "[]", NULL, replies.box, NULL)), 0);
  bxt_run(e);
  assert_int_equal(replies.n, 6);
  assert_int_equal(bx_msg_error(replies.msgs[3], &text), BX_ENOMETHOD);
  assert_non_null(strstr(text, "frobnicate"));
  assert_int_equal(bx_msg_error(replies.msgs[4], &text), BX_EBADARG);
  assert_int_equal(bx_msg_error(replies.msgs[5], &text), BX_EBADARG);

  /* unregister(name) */
  assert_int_equal(
      bx_send(root, reg_call("unregister", "[\"fromClient\"]", NULL, replies.box, NULL)), 0);
  bxt_run(e);
  assert_int_equal(replies.n, 7);
  assert_int_equal(bx_msg_error(replies.msgs[6], NULL), 0);
  assert_null(bx_lookup(root, "fromClient"));

  /* No reply box: no reply, no crash. */
  assert_int_equal(bx_send(root, reg_call("doLookup", "[\"x\"]", NULL, NULL, NULL)), 0);
  bxt_run(e);
  assert_int_equal(replies.n, 7);

  bxt_sink_free(&svc);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_extension_methods(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *root = bx_ctx_registry(e->ctx);
  bxt_sink ext, replies;
  bxt_sink_init(&ext, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  assert_int_equal(bx_registry_add_method(root, "register", ext.box), BX_EEXIST);
  assert_int_equal(bx_registry_add_method(root, "list", ext.box), 0);
  assert_int_equal(bx_send(root, reg_call("list", "[]", NULL, replies.box, NULL)), 0);
  bxt_run(e);
  assert_int_equal(ext.n, 1); /* the extension got the call, reply box and all */
  assert_ptr_equal(bx_msg_reply_box(ext.msgs[0]), replies.box);
  assert_int_equal(bx_registry_add_method(root, "list", NULL), 0);
  assert_int_equal(bx_send(root, reg_call("list", "[]", NULL, replies.box, NULL)), 0);
  bxt_run(e);
  assert_int_equal(ext.n, 1);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), BX_ENOMETHOD);
  bxt_sink_free(&ext);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static int token_policy(void *data, const bx_msg *msg, const char *method) {
  (void)data, (void)method;
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(bx_msg_attrs(msg), "token");
  return cJSON_IsString(t) && strcmp(t->valuestring, "s3cret") == 0 ? 0 : BX_EPERM;
}

static void test_remote_register_permissions(void **state) {
  (void)state;
  /* Refused unless the context allows it. */
  bxt_env *e = bxt_env_new(NULL);
  bx_box *root = bx_ctx_registry(e->ctx);
  bxt_sink svc, replies;
  bxt_sink_init(&svc, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  bx_box *peer_a = NULL;
  bx_null_box_new(e->ctx, &peer_a);
  const char *text;
  assert_int_equal(
      bx_send(root, reg_call("register", "[\"svc\",null]", svc.box, replies.box, peer_a)), 0);
  bxt_run(e);
  assert_int_equal(bx_msg_error(replies.msgs[0], &text), BX_EPERM);
  assert_null(bx_lookup(root, "svc"));
  /* Lookups stay open to peers. */
  bx_register(root, "local", svc.box, NULL);
  assert_int_equal(bx_send(root, reg_call("doLookup", "[\"local\"]", NULL, replies.box, peer_a)),
                   0);
  assert_int_equal(bx_send(root, reg_call("unregister", "[\"local\"]", NULL, replies.box, peer_a)),
                   0);
  bxt_run(e);
  assert_int_equal(bx_msg_error(replies.msgs[1], NULL), 0);
  assert_int_equal(bx_msg_error(replies.msgs[2], NULL), BX_EPERM);
  assert_non_null(bx_lookup(root, "local"));
  bxt_sink_free(&svc);
  bxt_sink_free(&replies);
  bx_box_unref(peer_a);
  bxt_env_free(e);

  /* Allowed: a peer registers, may re-register and unregister its own names, not others'. */
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.allow_remote_register = true;
  e = bxt_env_new(&o);
  root = bx_ctx_registry(e->ctx);
  bxt_sink_init(&svc, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  bx_null_box_new(e->ctx, &peer_a);
  bx_box *peer_b = NULL;
  bx_null_box_new(e->ctx, &peer_b);
  bx_send(root, reg_call("register", "[\"svc\",null]", svc.box, replies.box, peer_a));
  bx_send(root, reg_call("register", "[\"svc\",null]", svc.box, replies.box, peer_b));
  bx_send(root, reg_call("unregister", "[\"svc\"]", NULL, replies.box, peer_b));
  bx_send(root, reg_call("register", "[\"svc\",null]", svc.box, replies.box, peer_a));
  bx_register(root, "local", svc.box, NULL);
  bx_send(root, reg_call("unregister", "[\"local\"]", NULL, replies.box, peer_a));
  bxt_run(e);
  assert_int_equal(replies.n, 5);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), 0);
  assert_int_equal(bx_msg_error(replies.msgs[1], NULL), BX_EEXIST);
  assert_int_equal(bx_msg_error(replies.msgs[2], NULL), BX_EPERM);
  assert_int_equal(bx_msg_error(replies.msgs[3], NULL), 0); /* same owner may re-register */
  assert_int_equal(bx_msg_error(replies.msgs[4], NULL), BX_EPERM);
  assert_non_null(bx_lookup(root, "svc"));
  /* The owner's connection goes away: its names go with it. */
  assert_int_equal(bx__registry_drop_owner(root, peer_a), 1);
  assert_null(bx_lookup(root, "svc"));
  assert_non_null(bx_lookup(root, "local"));
  bx_box_unref(peer_a);
  bx_box_unref(peer_b);
  bxt_sink_free(&svc);
  bxt_sink_free(&replies);
  bxt_env_free(e);

  /* A policy decides per request: here, a "token" attribute must say "s3cret". */
  o.authorize = token_policy;
  e = bxt_env_new(&o);
  root = bx_ctx_registry(e->ctx);
  bxt_sink_init(&svc, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  bx_null_box_new(e->ctx, &peer_a);
  bx_send(root, reg_call("register", "[\"svc\",null]", svc.box, replies.box, peer_a));
  bx_msg *m = reg_call("register", "[\"svc\",null]", svc.box, replies.box, peer_a);
  bx_msg_set_attr(m, "token", cJSON_CreateString("s3cret"));
  bx_send(root, m);
  bxt_run(e);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), BX_EPERM);
  assert_int_equal(bx_msg_error(replies.msgs[1], NULL), 0);
  bx_box_unref(peer_a);
  bxt_sink_free(&svc);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_one_shot_export(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *root = bx_ctx_registry(e->ctx);
  bxt_sink svc, replies;
  bxt_sink_init(&svc, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  const char *name = NULL;
  bx__reg_opts opts = {.one_shot = true};
  assert_int_equal(bx__registry_add(root, NULL, svc.box, &opts, &name), 0);
  char saved[32];
  snprintf(saved, sizeof saved, "%s", name);
  assert_int_equal(bx_send(root, sub_call(saved, "x", replies.box)), 0);
  assert_null(bx_lookup(root, saved)); /* removed before delivery */
  assert_int_equal(bx_send(root, sub_call(saved, "x", replies.box)), 0);
  bxt_run(e);
  assert_int_equal(svc.n, 1);
  assert_int_equal(replies.n, 1);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), BX_ENOSERVICE);
  /* A lost connection fails the replies still waiting on it, and drops its other exports. */
  bx_box *conn = NULL;
  bx_null_box_new(e->ctx, &conn);
  bx__reg_opts waiting = {.one_shot = true, .owner = conn}, plain = {.owner = conn};
  assert_int_equal(bx__registry_add(root, NULL, replies.box, &waiting, NULL), 0);
  assert_int_equal(bx__registry_add(root, NULL, svc.box, &plain, NULL), 0);
  size_t before = bx_registry_size(root);
  assert_int_equal(bx__registry_fail_owner(root, conn, BX_ECONNLOST), 2);
  assert_int_equal(bx_registry_size(root), before - 2);
  bxt_run(e);
  assert_int_equal(replies.n, 2);
  assert_int_equal(bx_msg_error(replies.msgs[1], NULL), BX_ECONNLOST);
  assert_int_equal(svc.n, 1); /* unchanged: plain exports are dropped, not answered */
  /* ... and entries that relay back over it (a peer's box re-exported to someone else). */
  bx_box *back, *relayed;
  assert_int_equal(bx_return_box_new(e->ctx, conn, &back), 0);
  assert_int_equal(bx_sub_box_new(e->ctx, "7", back, &relayed), 0);
  bx_box *other = NULL;
  bx_null_box_new(e->ctx, &other);
  bx__reg_opts theirs = {.owner = other};
  assert_int_equal(bx__registry_add(root, "relay", relayed, &theirs, NULL), 0);
  assert_int_equal(bx__registry_drop_routes_via(root, other), 0);
  assert_int_equal(bx__registry_drop_routes_via(root, conn), 1);
  assert_null(bx_lookup(root, "relay"));
  bx_box_unref(relayed);
  bx_box_unref(back);
  bx_box_unref(other);
  bx_box_unref(conn);
  bxt_sink_free(&svc);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_broadcast_registry(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *regs[3];
  bxt_sink sinks[3], svc, replies;
  for (int i = 0; i < 3; i++) {
    bx_registry_new(e->ctx, &regs[i]);
    bxt_sink_init(&sinks[i], e->ctx);
  }
  bxt_sink_init(&svc, e->ctx);
  bxt_sink_init(&replies, e->ctx);
  bx_box *br = NULL;
  bx_broadcast_registry_new(e->ctx, regs, 3, &br);
  assert_non_null(br);

  bx_box *rr = NULL;
  assert_int_equal(bx_register(br, "svc", svc.box, &rr), 0);
  assert_string_equal(bx_box_type(rr), "roundrobin");
  for (int i = 0; i < 3; i++)
    assert_ptr_equal(bx_lookup(regs[i], "svc"), svc.box);
  /* Swap in a distinct service per registry to see where each message lands. */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(bx_unregister(regs[i], "svc"), 0);
    assert_int_equal(bx_register(regs[i], "svc", sinks[i].box, NULL), 0);
  }
  char json[64];
  for (int i = 0; i < 9; i++) {
    snprintf(json, sizeof json, "{\"i\":%d}", i);
    assert_int_equal(bx_send(rr, bxt_msg(json)), 0);
  }
  bxt_run(e);
  for (int r = 0; r < 3; r++) {
    assert_int_equal(sinks[r].n, 3);
    for (int k = 0; k < 3; k++)
      assert_int_equal(cJSON_GetObjectItem(bx_msg_object(sinks[r].msgs[k]), "i")->valueint,
                       3 * k + r);
  }
  /* A name taken in one delegate fails the whole registration and leaves no trace. */
  assert_int_equal(bx_register(regs[1], "taken", svc.box, NULL), 0);
  assert_int_equal(bx_register(br, "taken", svc.box, NULL), BX_EEXIST);
  assert_null(bx_lookup(regs[0], "taken"));
  /* Registering through an RPC message works the same, and unregister reaches every delegate. */
  bx_send(br, reg_call("register", "[\"viaRpc\",null]", svc.box, replies.box, NULL));
  bxt_run(e);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), 0);
  for (int i = 0; i < 3; i++)
    assert_non_null(bx_lookup(regs[i], "viaRpc"));
  assert_int_equal(bx_unregister(br, "viaRpc"), 0);
  for (int i = 0; i < 3; i++)
    assert_null(bx_lookup(regs[i], "viaRpc"));

  bx_box_unref(rr);
  bx_box_unref(br);
  for (int i = 0; i < 3; i++) {
    bx_box_unref(regs[i]);
    bxt_sink_free(&sinks[i]);
  }
  bxt_sink_free(&svc);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

/* The registry skeleton's requests in order, each with the answer it must get. `who` is the
 * sender: 0 local code, 1 peer a, 2 peer b; `box` appends the service as the last argument. */
static const struct {
  const char *method, *args;
  bool box;
  int who, want;
} kind_script[] = {
    {"register", "[\"a\",null]", true, 1, 0},
    {"register", "[\"a\",null]", true, 2, BX_EEXIST},
    {"register", "[\"a\",null]", true, 1, 0}, /* its owner may re-register it */
    {"register", "[null,null]", true, 0, 0},  /* a generated name */
    {"doLookup", "[\"a\"]", false, 2, 0},
    {"doLookup", "[\"absent\"]", false, 2, BX_ENOSERVICE},
    {"unregister", "[\"a\"]", false, 2, BX_EPERM},
    {"unregister", "[]", true, 2, BX_EPERM}, /* by box: every match is someone else's */
    {"unregister", "[\"a\"]", false, 1, 0},
    {"unregister", "[\"a\"]", false, 1, 0}, /* not there: not an error (FOAM) */
    {"unregister", "[]", true, 0, 0},       /* by box: the generated name */
    {"doLookup", "[\"a\"]", false, 0, BX_ENOSERVICE},
    {"unregister", "[5]", false, 0, BX_EBADARG},
};

/* Runs kind_script on reg; register and doLookup answer with a box of type `exported`. */
static void run_kind_script(bxt_env *e, bx_box *reg, const char *exported, bx_box *svc,
                            bx_box *peers[2]) {
  bxt_sink replies;
  bxt_sink_init(&replies, e->ctx);
  size_t n = sizeof kind_script / sizeof kind_script[0];
  for (size_t i = 0; i < n; i++) {
    bx_box *origin = kind_script[i].who ? peers[kind_script[i].who - 1] : NULL;
    bx_box *arg = kind_script[i].box ? svc : NULL;
    bx_send(reg, reg_call(kind_script[i].method, kind_script[i].args, arg, replies.box, origin));
  }
  bxt_run(e);
  assert_int_equal(replies.n, n);
  for (size_t i = 0; i < n; i++) {
    bx_msg *r = replies.msgs[i];
    assert_int_equal(bx_msg_error(r, NULL), kind_script[i].want);
    bool answers_box = kind_script[i].want == 0 && strcmp(kind_script[i].method, "unregister");
    if (!answers_box) continue;
    bx_box *got = bx_msg_box_at(r, cJSON_GetObjectItem(bx_msg_object(r), "data"));
    assert_non_null(got);
    assert_string_equal(bx_box_type(got), exported);
  }
  assert_null(bx_lookup(reg, "a"));
  bxt_sink_free(&replies);
}

/* Every kind of registry answers the same requests the same way, through the public API and
 * through its skeleton: a local registry, a broadcast one, and a broadcast one nesting it. */
static void test_registry_kinds(void **state) {
  (void)state;
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.allow_remote_register = true;
  bxt_env *e = bxt_env_new(&o);
  bxt_sink svc;
  bxt_sink_init(&svc, e->ctx);
  bx_box *peers[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(bx_null_box_new(e->ctx, &peers[i]), 0);
  bx_box *local = NULL;
  bx_registry_new(e->ctx, &local);
  bx_box *regs[3];
  for (int i = 0; i < 3; i++)
    assert_int_equal(bx_registry_new(e->ctx, &regs[i]), 0);
  bx_box *br = NULL;
  bx_broadcast_registry_new(e->ctx, regs, 2, &br);
  bx_box *outer[2] = {br, regs[2]};
  bx_box *nested = NULL;
  bx_broadcast_registry_new(e->ctx, outer, 2, &nested);
  assert_non_null(nested);
  bxt_refused(bx_broadcast_registry_new(e->ctx, peers, 2, &bxt_none),
              BX_EINVAL); /* delegates must be registries */

  run_kind_script(e, local, "sub", svc.box, peers);
  run_kind_script(e, br, "roundrobin", svc.box, peers);
  run_kind_script(e, nested, "roundrobin", svc.box, peers);
  for (int i = 0; i < 3; i++)
    assert_int_equal(bx_registry_size(regs[i]), 0);

  /* A generated name is the next decimal id no delegate has; unregistering by box reaches all. */
  char taken[32], next[32];
  uint64_t id = bx__ctx_next_id(e->ctx);
  snprintf(taken, sizeof taken, "%" PRIu64, id + 1);
  snprintf(next, sizeof next, "%" PRIu64, id + 2);
  assert_int_equal(bx_register(regs[2], taken, svc.box, NULL), 0);
  assert_int_equal(bx_register(nested, NULL, svc.box, NULL), 0);
  for (int i = 0; i < 3; i++)
    assert_ptr_equal(bx_lookup(regs[i], next), svc.box);
  assert_ptr_equal(bx_lookup(nested, taken), svc.box);
  assert_int_equal(bx_unregister_box(nested, svc.box), 0);
  assert_int_equal(bx_unregister_box(nested, svc.box), BX_ENOSERVICE);
  for (int i = 0; i < 3; i++)
    assert_int_equal(bx_registry_size(regs[i]), 0);
  /* Not a registry: the public API says so. */
  assert_int_equal(bx_register(svc.box, "x", svc.box, NULL), BX_ENOTSUP);
  assert_int_equal(bx_unregister(svc.box, "x"), BX_ENOTSUP);
  assert_int_equal(bx_unregister_box(svc.box, svc.box), BX_ENOTSUP);
  assert_null(bx_lookup(svc.box, "x"));

  bx_box_unref(nested);
  bx_box_unref(br);
  bx_box_unref(local);
  for (int i = 0; i < 3; i++)
    bx_box_unref(regs[i]);
  bx_box_unref(peers[0]);
  bx_box_unref(peers[1]);
  bxt_sink_free(&svc);
  bxt_env_free(e);
}

static void test_named_paths(void **state) {
  (void)state;
  bx_ctx_options o;
  bx_ctx_options_init(&o);
  o.name = "/me";
  bxt_env *e = bxt_env_new(&o);
  bx_box *root = bx_ctx_registry(e->ctx);
  bxt_sink svc, replies;
  bxt_sink_init(&svc, e->ctx);
  bxt_sink_init(&replies, e->ctx);

  bxt_refused(bx_named_box(e->ctx, "relative", &bxt_none), BX_EINVAL);
  bxt_refused(bx_named_box(e->ctx, "/a//b", &bxt_none), BX_EINVAL);
  bxt_refused(bx_named_box(e->ctx, "/a/", &bxt_none), BX_EINVAL);
  bxt_refused(bx_named_box(e->ctx, "/", &bxt_none), BX_EINVAL);
  bx_box *n1, *n2;
  assert_int_equal(bx_named_box(e->ctx, "/a/b/c", &n1), 0);
  assert_int_equal(bx_named_box(e->ctx, "/a/b/c", &n2), 0);
  assert_ptr_equal(n1, n2); /* one shared box per path */
  bx_box_unref(n2);
  /* Unbound paths are not kept once unused (a peer cannot grow the table). */
  size_t before = bx__map_size(bx__named_map(e->ctx));
  char path[32];
  for (int i = 0; i < 100; i++) {
    snprintf(path, sizeof path, "/peer/%d", i);
    bx_box *unbound;
    assert_int_equal(bx_named_box(e->ctx, path, &unbound), 0);
    bx_box_unref(unbound);
  }
  assert_int_equal(bx__map_size(bx__named_map(e->ctx)), before);

  /* /a/b/c through nested registries: root["a"] = A, A["b"] = B, B["c"] = service. */
  bx_box *ra, *rb;
  assert_int_equal(bx_registry_new(e->ctx, &ra), 0);
  assert_int_equal(bx_registry_new(e->ctx, &rb), 0);
  bx_register(root, "a", ra, NULL);
  bx_register(ra, "b", rb, NULL);
  bx_msg *m = bxt_msg("{\"class\":\"foam.box.RPCMessage\",\"name\":\"ping\"}");
  bx_msg_set_reply_box(m, replies.box);
  assert_int_equal(bx_send(n1, m), 0); /* "c" is not registered yet */
  bxt_run(e);
  assert_int_equal(replies.n, 1);
  assert_int_equal(bx_msg_error(replies.msgs[0], NULL), BX_ENOSERVICE);
  assert_int_equal(svc.n, 0);
  /* Once registered, the next message looks it up again and gets through. */
  bx_register(rb, "c", svc.box, NULL);
  for (int i = 0; i < 2; i++) {
    m = bxt_msg("{\"class\":\"foam.box.RPCMessage\",\"name\":\"ping\"}");
    assert_int_equal(bx_send(n1, m), 0);
  }
  bxt_run(e);
  assert_int_equal(svc.n, 2);
  assert_true(bx_msg_is(svc.msgs[0], BX_CLASS_RPC_MESSAGE));

  /* `me` is bound to the root registry; /me/x resolves x there. */
  bx_register(root, "x", svc.box, NULL);
  bx_box *mx = NULL;
  bx_named_box(e->ctx, "/me/x", &mx);
  assert_int_equal(bx_send(mx, bxt_msg("{\"v\":1}")), 0);
  bxt_run(e);
  assert_int_equal(svc.n, 3);

  /* A bound path forwards to its binding. */
  assert_int_equal(bx_named_bind(e->ctx, "/bound", svc.box), 0);
  bx_box *bound = NULL;
  bx_named_box(e->ctx, "/bound", &bound);
  assert_ptr_equal(bx__named_binding(bound), svc.box);
  assert_int_equal(bx_send(bound, bxt_msg("{\"v\":2}")), 0);
  bxt_run(e);
  assert_int_equal(svc.n, 4);

  bx_box_unref(bound);
  bx_box_unref(mx);
  bx_box_unref(n1);
  bx_box_unref(ra);
  bx_box_unref(rb);
  bxt_sink_free(&svc);
  bxt_sink_free(&replies);
  bxt_env_free(e);
}

static void test_wire_forms(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bx_box *root = bx_ctx_registry(e->ctx);
  bx_box *sub = NULL;
  bx_sub_box_new(e->ctx, "calc", root, &sub);
  bx_box *named = NULL;
  bx_named_box(e->ctx, "/x/y", &named);
  bx_export ex = {.ctx = e->ctx};
  cJSON *w = bx_export_wire(&ex, sub);
  char *s = cJSON_PrintUnformatted(w);
  assert_string_equal(s, "{\"class\":\"foam.box.SubBox\",\"name\":\"calc\",\"delegate\":{\"class\":"
                         "\"foam.box.ReturnBox\"}}");
  free(s);
  cJSON_Delete(w);
  w = bx_export_wire(&ex, named);
  s = cJSON_PrintUnformatted(w);
  assert_string_equal(s, "{\"class\":\"foam.box.NamedBox\",\"name\":\"/x/y\"}");
  free(s);
  cJSON_Delete(w);
  /* A box with no wire form is exported into the root registry. */
  bx_box *local = NULL;
  bx_null_box_new(e->ctx, &local);
  assert_null(bx_export_wire(&ex, local));
  ex.one_shot = true;
  const char *name = NULL;
  assert_int_equal(bx__export_register(&ex, local, &name), 0);
  assert_int_equal(ex.err, 0);
  assert_ptr_equal(bx_lookup(root, name), local);
  assert_string_equal(local->export_name, name); /* one-shot: remembered for bx__unexport */
  bx__unexport(e->ctx, local);
  assert_int_equal(bx_registry_size(root), 0);
  bx_box_unref(local);
  bx_box_unref(named);
  bx_box_unref(sub);
  bxt_env_free(e);
}

/* ---- register(name, clientServerService, box): decorated registrations ------------------- */

typedef struct counting {
  bx_box *inner; /* where messages go on (borrowed: the test holds it) */
  int n;
} counting;

static void counting_fn(bx_box *self, bx_msg *msg, void *data) {
  (void)self;
  counting *c = data;
  c->n++;
  bx_send(c->inner, bx_msg_ref(msg));
}

typedef struct deco {
  bx_ctx *ctx;
  counting server, client;
  bx_box *registered; /* what client_box was given (kept) */
  int fail_client;    /* client_box returns this when non-zero */
} deco;

static int deco_server(void *data, bx_box *service, bx_box **out) {
  deco *d = data;
  d->server.inner = service;
  return bx_function_box_new(d->ctx, counting_fn, &d->server, NULL, out);
}

static int deco_client(void *data, bx_box *registered, bx_box **out) {
  deco *d = data;
  if (d->fail_client) return d->fail_client;
  d->registered = bx_box_ref(registered);
  d->client.inner = registered;
  return bx_function_box_new(d->ctx, counting_fn, &d->client, NULL, out);
}

static void test_register_decorated(void **state) {
  (void)state;
  bxt_env *e = bxt_env_new(NULL);
  bxt_sink svc;
  bxt_sink_init(&svc, e->ctx);
  bx_box *reg = bx_ctx_registry(e->ctx);
  deco d = {.ctx = e->ctx};
  bx_client_server cs = {deco_server, deco_client, &d};
  size_t before = bx_registry_size(reg);

  bx_box *client = NULL;
  assert_int_equal(bx_register_decorated(reg, "svc", &cs, svc.box, &client), 0);
  assert_non_null(client);
  /* stored: the server decoration, not the box given; returned: the client decoration of the
   * Sub box register() would have returned */
  assert_ptr_not_equal(bx_lookup(reg, "svc"), svc.box);
  assert_non_null(bx_lookup(reg, "svc"));
  assert_string_equal(bx_sub_box_name(d.registered), "svc");
  assert_int_equal(bx_send(client, bxt_msg("{\"class\":\"test.Ping\"}")), 0);
  bxt_run(e);
  assert_int_equal(d.client.n, 1); /* through the client side ... */
  assert_int_equal(d.server.n, 1); /* ... the registry, the server side ... */
  assert_int_equal(svc.n, 1);      /* ... to the service */
  bx_box_unref(client);
  bx_box_unref(d.registered);
  assert_int_equal(bx_unregister(reg, "svc"), 0);

  /* A failing decoration leaves nothing registered, also under a name the registry picked. */
  d.fail_client = BX_ENOMEM;
  assert_int_equal(bx_register_decorated(reg, "svc", &cs, svc.box, &client), BX_ENOMEM);
  assert_null(client);
  assert_null(bx_lookup(reg, "svc"));
  assert_int_equal(bx_register_decorated(reg, NULL, &cs, svc.box, &client), BX_ENOMEM);
  assert_int_equal(bx_registry_size(reg), before);
  /* Without a clientServerService it is bx_register(); half of one is refused. */
  assert_int_equal(bx_register_decorated(reg, "plain", NULL, svc.box, &client), 0);
  assert_ptr_equal(bx_lookup(reg, "plain"), svc.box);
  bx_box_unref(client);
  bx_client_server half = {deco_server, NULL, &d};
  assert_int_equal(bx_register_decorated(reg, "half", &half, svc.box, &client), BX_EINVAL);
  assert_null(bx_lookup(reg, "half"));
  bxt_sink_free(&svc);
  bxt_env_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_lookup_dispatch),
      cmocka_unit_test(test_registry_rpc),
      cmocka_unit_test(test_extension_methods),
      cmocka_unit_test(test_remote_register_permissions),
      cmocka_unit_test(test_one_shot_export),
      cmocka_unit_test(test_broadcast_registry),
      cmocka_unit_test(test_registry_kinds),
      cmocka_unit_test(test_named_paths),
      cmocka_unit_test(test_register_decorated),
      cmocka_unit_test(test_wire_forms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
