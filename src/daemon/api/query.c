/* query.c: the REST API's query parameters, checked and honoured (query.h).
 *
 * One table says which parameter a request may carry (by what it does: list, get, write,
 * delete, delete-collection) and how its value is checked; anything else is a 400 that
 * names the parameter and what is accepted. Lists are filtered by labelSelector (on
 * metadata.labels) and fieldSelector (on the stored object's fields), then paged: a
 * continue token is the offset of the next item ("o<N>"), read against the list as it is
 * when the next page is asked for (no snapshot is kept between pages). */
#include "daemon/api/query.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/names.h"
#include "lib/wire.h"

static bool truthy(const char *v) { return v && (!strcmp(v, "true") || !strcmp(v, "1")); }

enum use { Q_LIST = 1, Q_GET = 2, Q_WRITE = 4, Q_DELETE = 8, Q_DELETE_COLL = 16, Q_OTHER = 32 };

static bool is_bool(const char *v) { return !strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "1") || !strcmp(v, "0"); }
static bool is_count(const char *v) { return *v && strlen(v) <= 9 && strspn(v, "0123456789") == strlen(v); }
static bool is_rv(const char *v) { return strlen(v) <= 19 && strspn(v, "0123456789") == strlen(v); }
static bool is_all(const char *v) { return strcmp(v, "All") == 0; }
static bool is_owner_choice(const char *v) { return !strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "admin"); }
static bool is_strict(const char *v) { return strcmp(v, "Strict") == 0; }
static bool is_continue(const char *v) { return !*v || (v[0] == 'o' && is_count(v + 1)); }
static bool is_any(const char *v) { return strlen(v) <= 4096; }
static bool is_manager(const char *v) {
  size_t n = strlen(v);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e) return false;
  return n > 0 && n <= 128;
}
/* Go durations as kubectl sends --request-timeout: digits and a unit (s, m, h) */
static bool is_duration(const char *v) {
  size_t d = strspn(v, "0123456789");
  return d > 0 && d <= 6 && (!strcmp(v + d, "s") || !strcmp(v + d, "m") || !strcmp(v + d, "h"));
}

static const struct param {
  const char *key;
  unsigned use;
  bool (*valid)(const char *v);
  const char *expect;
} params[] = {
    {"labelSelector", Q_LIST | Q_DELETE_COLL, is_any, "a label selector"},
    {"fieldSelector", Q_LIST | Q_DELETE_COLL, is_any, "a field selector"},
    {"allUsers", Q_LIST, is_owner_choice, "true, false or admin"},
    {"limit", Q_LIST, is_count, "a whole number"},
    {"continue", Q_LIST, is_continue, "the metadata.continue of the previous page"},
    {"resourceVersion", Q_LIST | Q_GET, is_rv, "a resourceVersion this server gave (a decimal number)"},
    {"watch", Q_LIST, is_bool, "true or false"},
    {"allowWatchBookmarks", Q_LIST, is_bool, "true or false"},
    {"timeoutSeconds", Q_LIST, is_count, "a whole number of seconds"},
    {"dryRun", Q_WRITE | Q_DELETE | Q_DELETE_COLL, is_all, "All"},
    {"fieldManager", Q_WRITE, is_manager, "at most 128 printable characters"},
    {"fieldValidation", Q_WRITE, is_strict, "Strict (sbxd always refuses unknown and duplicate fields)"},
    {"timeout", Q_LIST | Q_GET | Q_WRITE | Q_DELETE | Q_DELETE_COLL | Q_OTHER, is_duration,
     "a duration such as 30s"},
};

static const char *use_name(unsigned use) {
  switch (use) {
  case Q_LIST: return "a list or watch";
  case Q_GET: return "a get";
  case Q_WRITE: return "a create or replace";
  case Q_DELETE: return "a delete";
  case Q_DELETE_COLL: return "a delete of a collection";
  default: return "this request";
  }
}

static unsigned use_of(const struct sbx_http_req *r) {
  if (!r->api_version) return Q_OTHER; /* /version, /metrics */
  bool get = strcmp(r->method, "GET") == 0, del = strcmp(r->method, "DELETE") == 0;
  if (get) return r->name ? Q_GET : Q_LIST;
  if (del) return r->name ? Q_DELETE : Q_DELETE_COLL;
  return Q_WRITE;
}

struct check {
  const struct sbx_http_req *r;
  unsigned use;
  char seen[sizeof params / sizeof params[0]];
  char msg[600];
};

/* one parameter: 0, or -1 with c->msg saying what is wrong */
static int check_one(struct check *c, const char *key, const char *value) {
  char k[80], v[80];
  sbx_escape_for_message(key, 40, k, sizeof k);
  for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
    const struct param *p = &params[i];
    if (strcmp(p->key, key) != 0) continue;
    if (!(p->use & c->use)) {
      snprintf(c->msg, sizeof c->msg, "the query parameter %s does not apply to %s", k, use_name(c->use));
      return -1;
    }
    if (c->seen[i]++) {
      snprintf(c->msg, sizeof c->msg, "the query parameter %s is given more than once", k);
      return -1;
    }
    if (!value || !p->valid(value)) {
      sbx_escape_for_message(value ? value : "(no value)", 40, v, sizeof v);
      snprintf(c->msg, sizeof c->msg, "%s=%s: expected %s", k, v, p->expect);
      return -1;
    }
    return 0;
  }
  snprintf(c->msg, sizeof c->msg,
           "unknown query parameter %s: sbxd honours labelSelector, fieldSelector, allUsers, limit, continue, "
           "resourceVersion, watch, allowWatchBookmarks, timeoutSeconds, dryRun, fieldManager, fieldValidation "
           "and timeout (docs/protocol.md, \"Query parameters\")",
           k);
  return -1;
}

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  return check_one(cls, key, value) < 0 ? MHD_NO : MHD_YES;
}

int sbx_query_check(const struct sbx_http_req *r, int *answered) {
  struct check c = {.r = r, .use = use_of(r)};
  int bad = 0;
  if (r->query) {
    json_object_object_foreach(r->query, key, val) {
      if (bad) break;
      bad = check_one(&c, key, json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL);
    }
  } else if (r->c) {
    /* the iterator stops at the first it refuses */
    int n = MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, check_arg, &c);
    bad = c.msg[0] != '\0';
    (void)n;
  }
  if (bad) {
    *answered = sbx_http_status(r, 400, "BadRequest", c.msg);
    return -1;
  }
  /* a list or get answers the latest state, which is "not older than" any version this
   * server gave; one it has not given yet cannot be met (Kubernetes answers the same) */
  const char *rv = c.use & (Q_LIST | Q_GET) ? sbx_http_query(r, "resourceVersion") : NULL;
  if (rv && *rv && !truthy(sbx_http_query(r, "watch")) && strtoll(rv, NULL, 10) > sbx_store_revision(r->d->store)) {
    *answered = sbx_http_status(r, 504, "Timeout",
                                "Too large resource version: this server has not reached it; ask with the "
                                "resourceVersion of a list or object it gave");
    return -1;
  }
  return 0;
}

int sbx_query_whole(const struct sbx_http_req *r, int *answered) {
  static const char *const list_only[] = {"labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
                                          "watch", "allowWatchBookmarks", "timeoutSeconds"};
  for (size_t i = 0; i < sizeof list_only / sizeof list_only[0]; i++)
    if (sbx_http_query(r, list_only[i])) {
      char msg[300];
      snprintf(msg, sizeof msg, "%s: this resource is answered whole, as it is now: leave it out", list_only[i]);
      *answered = sbx_http_status(r, 400, "BadRequest", msg);
      return -1;
    }
  return 0;
}

bool sbx_query_dry_run(const struct sbx_http_req *r) { return sbx_http_query(r, "dryRun") != NULL; }
bool sbx_query_watching(const struct sbx_http_req *r) { return truthy(sbx_http_query(r, "watch")); }

/* What a DELETE's body (a DeleteOptions, optional) and query ask for */
struct delete_opts {
  bool dry;
  char rv[40], uid[80]; /* preconditions; "" for none */
};

static int refuse(const struct sbx_http_req *r, int *answered, const char *msg) {
  *answered = sbx_http_status(r, 400, "BadRequest", msg);
  return -1;
}

static int delete_opts(const struct sbx_http_req *r, struct delete_opts *o, int *answered) {
  memset(o, 0, sizeof *o);
  o->dry = sbx_query_dry_run(r);
  if (!r->body_json && (!r->body || r->body_len == 0)) return 0;
  _cleanup_json_ json_object *b = sbx_http_body_json(r, answered);
  if (!b) return -1;
  json_object_object_foreach(b, key, v) {
    if (!strcmp(key, "kind") || !strcmp(key, "apiVersion")) {
      if (!strcmp(key, "kind") && strcmp(json_object_get_string(v), "DeleteOptions") != 0)
        return refuse(r, answered, "the body of a DELETE must be a DeleteOptions");
    } else if (!strcmp(key, "dryRun")) {
      if (!json_object_is_type(v, json_type_array)) return refuse(r, answered, "DeleteOptions.dryRun: expected [\"All\"] or []");
      for (size_t i = 0; i < json_object_array_length(v); i++) {
        if (strcmp(json_object_get_string(json_object_array_get_idx(v, i)) ?: "", "All") != 0)
          return refuse(r, answered, "DeleteOptions.dryRun: the only dry run is \"All\"");
        o->dry = true;
      }
    } else if (!strcmp(key, "propagationPolicy")) {
      /* nothing of sbx's depends on another object through ownerReferences: every policy
       * deletes the same (a sandbox's volumes are always kept) */
      const char *p = json_object_get_string(v);
      if (!p || (strcmp(p, "Background") && strcmp(p, "Foreground") && strcmp(p, "Orphan")))
        return refuse(r, answered, "DeleteOptions.propagationPolicy: expected Background, Foreground or Orphan");
    } else if (!strcmp(key, "orphanDependents")) {
      if (!json_object_is_type(v, json_type_boolean))
        return refuse(r, answered, "DeleteOptions.orphanDependents: expected true or false");
    } else if (!strcmp(key, "preconditions")) {
      if (!json_object_is_type(v, json_type_object))
        return refuse(r, answered, "DeleteOptions.preconditions: expected an object");
      json_object_object_foreach(v, pk, pv) {
        char *into = !strcmp(pk, "resourceVersion") ? o->rv : !strcmp(pk, "uid") ? o->uid : NULL;
        if (!into || !json_object_is_type(pv, json_type_string) || json_object_get_string_len(pv) >= 40)
          return refuse(r, answered, "DeleteOptions.preconditions: only resourceVersion and uid, as strings");
        snprintf(into, 40, "%s", json_object_get_string(pv));
      }
    } else if (!strcmp(key, "gracePeriodSeconds")) {
      return refuse(r, answered,
                    "DeleteOptions.gracePeriodSeconds is not honoured: a sandbox stops with its pod template's "
                    "terminationGracePeriodSeconds; leave it out (no --grace-period, --now or --force)");
    } else {
      char msg[200], k[80];
      sbx_escape_for_message(key, 40, k, sizeof k);
      snprintf(msg, sizeof msg, "DeleteOptions: unknown field %s", k);
      return refuse(r, answered, msg);
    }
  }
  return 0;
}

int sbx_query_delete_one(const struct sbx_http_req *r, const struct sbx_query_kind *k) {
  int answered;
  struct delete_opts o;
  if (delete_opts(r, &o, &answered) < 0) return answered;
  sbx_error_t err = {0};
  if (o.dry || o.rv[0] || o.uid[0]) {
    _cleanup_json_ json_object *obj = NULL;
    if (sbx_store_get(r->d->store, k->kind, r->ns, r->name, r->who->uid, &obj, NULL, &err) < 0)
      return sbx_http_error(r, k->what, &err);
    if (sbx_query_precondition(r, o.rv, obj, &answered) < 0) return answered;
    const char *uid = sbx_json_str(sbx_json_path(obj, "metadata"), "uid");
    if (o.uid[0] && (!uid || strcmp(uid, o.uid) != 0))
      return sbx_http_status(r, 409, "Conflict", "Precondition failed: the object's metadata.uid is not the one named");
  }
  if (!o.dry && k->remove(r, &err) < 0) return sbx_http_error(r, k->what, &err);
  char msg[400];
  snprintf(msg, sizeof msg, "%s \"%s\" deleted", k->what, r->name);
  return sbx_http_status(r, 200, "Deleted", msg);
}

int sbx_query_filter(const struct sbx_http_req *r, const char *const *fields, struct sbx_query_filter *f,
                     int *answered) {
  memset(f, 0, sizeof *f);
  sbx_error_t err = {0};
  if (sbx_label_selector_parse(sbx_http_query(r, "labelSelector"), &f->labels, &err) < 0 ||
      sbx_field_selector_parse(sbx_http_query(r, "fieldSelector"), fields, &f->fields, &err) < 0) {
    sbx_query_filter_free(f);
    *answered = sbx_http_status(r, 400, "BadRequest", err.msg);
    return -1;
  }
  return 0;
}

bool sbx_query_filter_match(const struct sbx_query_filter *f, json_object *obj) {
  return sbx_selector_match_labels(&f->labels, sbx_json_path(obj, "metadata.labels")) &&
         sbx_selector_match_fields(&f->fields, obj);
}

void sbx_query_filter_free(struct sbx_query_filter *f) {
  sbx_selector_free(&f->labels);
  sbx_selector_free(&f->fields);
}

int sbx_query_answer_page(const struct sbx_http_req *r, const char *apiversion, const char *list_kind,
                          json_object *items, int64_t rv) {
  const char *limit_s = sbx_http_query(r, "limit"), *cont = sbx_http_query(r, "continue");
  size_t n = json_object_array_length(items);
  size_t from = cont && *cont ? strtoul(cont + 1, NULL, 10) : 0, limit = limit_s ? strtoul(limit_s, NULL, 10) : 0;
  if (from > n) {
    json_object_put(items);
    return sbx_http_status(r, 410, "Expired",
                           "the continue token is past the end of the list (it shrank since): list again without it");
  }
  size_t to = limit && from + limit < n ? from + limit : n;
  json_object *page = json_object_new_array_ext((int)(to - from));
  for (size_t i = from; i < to; i++) json_object_array_add(page, json_object_get(json_object_array_get_idx(items, i)));
  json_object_put(items);
  _cleanup_json_ json_object *list = sbx_http_list(apiversion, list_kind, page);
  json_object *meta = sbx_json_path(list, "metadata");
  char text[32];
  snprintf(text, sizeof text, "%lld", (long long)rv);
  json_object_object_add(meta, "resourceVersion", json_object_new_string(text));
  if (to < n) {
    snprintf(text, sizeof text, "o%zu", to);
    json_object_object_add(meta, "continue", json_object_new_string(text));
    json_object_object_add(meta, "remainingItemCount", json_object_new_int64((int64_t)(n - to)));
  }
  return sbx_http_json(r, 200, list);
}

int sbx_query_answer_list(const struct sbx_http_req *r, const struct sbx_query_kind *k) {
  if (sbx_query_watching(r)) return sbx_query_watch(r, k);
  if (sbx_http_query(r, "allowWatchBookmarks") || sbx_http_query(r, "timeoutSeconds"))
    return sbx_http_status(r, 400, "BadRequest", "allowWatchBookmarks and timeoutSeconds go with watch=true");
  int answered;
  uid_t owner;
  if (sbx_http_list_owner(r, &owner, &answered) < 0) return answered;
  struct sbx_query_filter f;
  if (sbx_query_filter(r, k->fields, &f, &answered) < 0) return answered;
  sbx_error_t err = {0};
  _cleanup_json_ json_object *stored = NULL;
  int64_t rv = 0;
  if (sbx_store_list_at(r->d->store, k->kind, r->ns, owner, &stored, &rv, &err) < 0) {
    sbx_query_filter_free(&f);
    return sbx_http_error(r, k->what, &err);
  }
  json_object *items = json_object_new_array();
  for (size_t i = 0; i < json_object_array_length(stored); i++) {
    json_object *o = json_object_array_get_idx(stored, i);
    if (sbx_query_filter_match(&f, o)) json_object_array_add(items, k->serve(r, o));
  }
  sbx_query_filter_free(&f);
  return sbx_query_answer_page(r, k->list_version ? k->list_version : r->api_version, k->list_kind, items, rv);
}

int sbx_query_precondition(const struct sbx_http_req *r, const char *want, json_object *old, int *answered) {
  if (!want || !*want) return 0;
  const char *have = old ? sbx_json_str(sbx_json_path(old, "metadata"), "resourceVersion") : NULL;
  if (have && strcmp(have, want) == 0) return 0;
  char msg[600], w[40];
  sbx_escape_for_message(want, 20, w, sizeof w);
  if (have)
    snprintf(msg, sizeof msg,
             "Operation cannot be fulfilled on \"%s\": the object has been modified (it is at resourceVersion %s, "
             "the request names %s); read it again and apply your changes to the latest version",
             r->name, have, w);
  else
    snprintf(msg, sizeof msg,
             "\"%s\" does not exist, so metadata.resourceVersion %s cannot match: leave resourceVersion out to "
             "create it",
             r->name, w);
  *answered = sbx_http_status(r, 409, "Conflict", msg);
  return -1;
}

int sbx_query_delete_collection(const struct sbx_http_req *r, const struct sbx_query_kind *k) {
  int answered;
  struct delete_opts o;
  if (delete_opts(r, &o, &answered) < 0) return answered;
  if (o.rv[0] || o.uid[0])
    return sbx_http_status(r, 400, "BadRequest", "preconditions name one object: delete it by name");
  struct sbx_query_filter f;
  if (sbx_query_filter(r, k->fields, &f, &answered) < 0) return answered;
  sbx_error_t err = {0};
  _cleanup_json_ json_object *stored = NULL;
  int64_t rv = 0;
  /* only ever the caller's own: an administrator deletes another user's one by one */
  if (sbx_store_list_at(r->d->store, k->kind, r->ns, r->who->uid, &stored, &rv, &err) < 0) {
    sbx_query_filter_free(&f);
    return sbx_http_error(r, k->what, &err);
  }
  bool dry = o.dry;
  _cleanup_json_ json_object *deleted = json_object_new_array();
  int rc = 0;
  for (size_t i = 0; i < json_object_array_length(stored) && rc == 0; i++) {
    json_object *o = json_object_array_get_idx(stored, i);
    if (!sbx_query_filter_match(&f, o)) continue;
    struct sbx_http_req named = *r;
    named.ns = sbx_json_str(sbx_json_path(o, "metadata"), "namespace");
    named.name = sbx_json_str(sbx_json_path(o, "metadata"), "name");
    if (!dry && k->remove(&named, &err) < 0 && err.errnum != ENOENT) {
      char msg[1400];
      snprintf(msg, sizeof msg, "%s \"%s\" could not be deleted (%zu before it were): %s", k->what, named.name,
               json_object_array_length(deleted), err.msg);
      sbx_error_says(&err, err.errnum, "%s", msg);
      rc = sbx_http_error(&named, k->what, &err);
      break;
    }
    json_object_array_add(deleted, k->serve(r, o));
  }
  sbx_query_filter_free(&f);
  if (rc) return rc;
  _cleanup_json_ json_object *list =
      sbx_http_list(k->list_version ? k->list_version : r->api_version, k->list_kind, json_object_get(deleted));
  return sbx_http_json(r, 200, list);
}
