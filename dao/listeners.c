/* listen_ (spec/foam/dao.md section 6): each change goes to every listener before the
 * writer's reply, newest listener first (as FOAM2's MDAO). A listener with a predicate gets
 * `reset` for every change (FOAM2 JS style: the client re-selects); one without gets
 * put/remove with the object. A send that fails (the listener's connection is closed, its
 * queue is past the transport's limits) detaches the listener, with a log line, and so does
 * a change after the connection listen_ came over has closed. */
#include "dao_service.h"

int bx__dao_listen(bx__dao_svc *sv, bx_box *box, bx_box *conn, bx_mlang *pred) {
  if (sv->nlisteners >= sv->opts.max_listeners) {
    bx_mlang_free(pred);
    return BX_EQUEUEFULL;
  }
  bx__dao_listener *l = calloc(1, sizeof *l);
  if (l == NULL) {
    bx_mlang_free(pred);
    return BX_ENOMEM;
  }
  l->sink = bx_box_ref(box);
  l->conn = bx__conn_of(conn) != NULL ? bx_box_ref(conn) : NULL;
  l->pred = pred;
  l->next = sv->listeners;
  sv->listeners = l;
  sv->nlisteners++;
  return 0;
}

static void ls_free(bx__dao_listener *l) {
  bx_box_unref(l->sink);
  bx_box_unref(l->conn);
  bx_mlang_free(l->pred);
  free(l);
}

void bx__dao_notify(bx__dao_svc *sv, const char *what, const cJSON *obj) {
  bx__dao_listener **pp = &sv->listeners;
  while (*pp != NULL) {
    bx__dao_listener *l = *pp;
    bx__conn *c = l->conn != NULL ? bx__conn_of(l->conn) : NULL;
    /* A closed connection: its sink box may be a NamedBox that would queue for a lookup. */
    int rc = c != NULL && !bx__conn_is_open(c) && !bx__conn_is_down(c) ? BX_ECONNLOST
             : l->pred != NULL ? bx__dao_sink_call(l->sink, "reset", NULL)
                               : bx__dao_sink_call(l->sink, what, obj);
    if (rc != 0) {
      bx_log(sv->ctx, BX_LOG_INFO, "dao %s: listener detached: %s", sv->model->class_name,
             bx_strerror(rc));
      *pp = l->next;
      sv->nlisteners--;
      ls_free(l);
      continue;
    }
    pp = &l->next;
  }
}

void bx__dao_listeners_free(bx__dao_svc *sv) {
  while (sv->listeners != NULL) {
    bx__dao_listener *l = sv->listeners;
    sv->listeners = l->next;
    ls_free(l);
  }
  sv->nlisteners = 0;
}
