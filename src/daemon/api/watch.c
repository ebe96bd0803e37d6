/* watch.c: ?watch=true on a collection: a chunked HTTP response of JSON events, one a line,
 *     {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{…}}
 * as Kubernetes' watch streams them.
 *
 * Without resourceVersion (or with "0") the stream starts with an ADDED event for each
 * object that is there, then follows the changes after that list; with one it resumes
 * after it from the store's change log (410 Gone, reason Expired, when the log no longer
 * reaches back that far). Only the caller's objects are ever watched (everyone's with
 * ?allUsers for administrators), filtered by the same selectors as lists. The stream ends
 * at timeoutSeconds (default 1800, at most 3600); with allowWatchBookmarks a BOOKMARK
 * with the current resourceVersion is sent every 5 idle seconds and at the end, else a
 * bare newline (whitespace between JSON values) so a vanished client is noticed.
 *
 * libmicrohttpd runs a thread per connection, and the content callback here blocks in
 * the store's wait (at most a second at a time) while nothing changes: a watch holds a
 * thread, so each uid may hold at most SBX_WATCHES_PER_UID at once (429 beyond). */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/api/query.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

#define DEFAULT_TIMEOUT_S 1800
#define MAX_TIMEOUT_S 3600
#define IDLE_BEAT_S 5
#define MAX_UIDS 256

/* watches held per uid */
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  uid_t uid;
  unsigned n;
} held[MAX_UIDS];

static bool hold(uid_t uid) {
  pthread_mutex_lock(&held_lock);
  size_t i, spare = MAX_UIDS;
  for (i = 0; i < MAX_UIDS; i++) {
    if (held[i].n && held[i].uid == uid) break;
    if (!held[i].n && spare == MAX_UIDS) spare = i;
  }
  if (i == MAX_UIDS) i = spare;
  bool ok = i < MAX_UIDS && held[i].n < SBX_WATCHES_PER_UID;
  if (ok) {
    held[i].uid = uid;
    held[i].n++;
  }
  pthread_mutex_unlock(&held_lock);
  return ok;
}

static void unhold(uid_t uid) {
  pthread_mutex_lock(&held_lock);
  for (size_t i = 0; i < MAX_UIDS; i++)
    if (held[i].n && held[i].uid == uid) {
      held[i].n--;
      break;
    }
  pthread_mutex_unlock(&held_lock);
}

struct watch {
  struct sbx_caller who;
  struct sbx_http_req req; /* what serve() reads: d, who, api_version, ns */
  char apiversion[128], ns[64];
  const struct sbx_query_kind *k;
  uid_t owner;
  struct sbx_query_filter f;
  int64_t cursor; /* every change up to here has been sent or skipped */
  bool bookmarks, done;
  time_t deadline, last_sent; /* CLOCK_MONOTONIC seconds */
  char *buf;
  size_t len, off, cap;
};

static time_t now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec;
}

static void append(struct watch *w, const char *text, size_t n) {
  if (w->len + n > w->cap) {
    size_t cap = (w->len + n) * 2;
    char *nb = realloc(w->buf, cap);
    if (!nb) {
      w->done = true;
      return;
    }
    w->buf = nb;
    w->cap = cap;
  }
  memcpy(w->buf + w->len, text, n);
  w->len += n;
  w->last_sent = now_s();
}

/* one event line; takes obj */
static void emit(struct watch *w, const char *type, json_object *obj) {
  _cleanup_json_ json_object *e = json_object_new_object();
  json_object_object_add(e, "type", json_object_new_string(type));
  json_object_object_add(e, "object", obj);
  size_t n;
  const char *text = json_object_to_json_string_length(e, JSON_C_TO_STRING_PLAIN, &n);
  append(w, text, n);
  append(w, "\n", 1);
}

static void bookmark(struct watch *w) {
  json_object *o = json_object_new_object(), *meta = json_object_new_object();
  char rv[32];
  snprintf(rv, sizeof rv, "%lld", (long long)w->cursor);
  json_object_object_add(o, "kind", json_object_new_string(w->k->kind));
  json_object_object_add(o, "apiVersion", json_object_new_string(w->k->list_version ? w->k->list_version : w->apiversion));
  json_object_object_add(meta, "resourceVersion", json_object_new_string(rv));
  json_object_object_add(o, "metadata", meta);
  emit(w, "BOOKMARK", o);
}

/* the changes after the cursor that the filter selects, as events */
static void send_changes(struct watch *w) {
  struct sbx_store *store = w->req.d->store;
  int64_t now_rv = sbx_store_revision(store);
  sbx_error_t err = {0};
  _cleanup_json_ json_object *changes = NULL;
  if (sbx_store_changes(store, w->k->kind, w->ns[0] ? w->ns : NULL, w->owner, w->cursor, &changes, &err) < 0) {
    emit(w, "ERROR", err.errnum == ERANGE ? sbx_http_status_object(410, "Expired", err.msg)
                                          : sbx_http_status_object(500, "InternalError", err.msg));
    w->done = true;
    return;
  }
  size_t n = json_object_array_length(changes);
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(changes, i), *obj = sbx_json_path(e, "object");
    int64_t rv;
    if (sbx_store_parse_rv(sbx_json_str(sbx_json_path(obj, "metadata"), "resourceVersion"), &rv, &err) == 0)
      w->cursor = rv;
    if (sbx_query_filter_match(&w->f, obj)) emit(w, sbx_json_str(e, "type"), w->k->serve(&w->req, obj));
  }
  /* nothing of ours came between the last change read and now_rv */
  if (n < 256 && w->cursor < now_rv) w->cursor = now_rv;
}

/* fill the buffer with what is next, waiting (a second at most) when nothing is */
static void fill(struct watch *w) {
  send_changes(w);
  if (w->len || w->done) return;
  time_t now = now_s();
  if (now >= w->deadline) {
    if (w->bookmarks) bookmark(w);
    w->done = true;
    return;
  }
  if (now - w->last_sent >= IDLE_BEAT_S) {
    if (w->bookmarks) bookmark(w);
    else append(w, "\n", 1);
    return;
  }
  sbx_store_wait_change(w->req.d->store, w->cursor, 1000);
}

static ssize_t next(void *cls, uint64_t pos, char *out, size_t max) {
  struct watch *w = cls;
  (void)pos;
  while (w->off == w->len) {
    w->off = w->len = 0;
    if (w->done) return MHD_CONTENT_READER_END_OF_STREAM;
    fill(w);
  }
  size_t n = w->len - w->off < max ? w->len - w->off : max;
  memcpy(out, w->buf + w->off, n);
  w->off += n;
  return (ssize_t)n;
}

static void drop(struct watch *w) {
  sbx_query_filter_free(&w->f);
  free(w->buf);
  free(w);
}

static void release(void *cls) {
  struct watch *w = cls;
  unhold(w->who.uid);
  drop(w);
}

/* the watch's length: timeoutSeconds, shortened by ?timeout */
static long timeout_of(const struct sbx_http_req *r) {
  const char *ts = sbx_http_query(r, "timeoutSeconds"), *t = sbx_http_query(r, "timeout");
  long s = ts ? strtol(ts, NULL, 10) : DEFAULT_TIMEOUT_S;
  if (t) {
    char *unit;
    long v = strtol(t, &unit, 10) * (*unit == 'h' ? 3600 : *unit == 'm' ? 60 : 1);
    if (v < s) s = v;
  }
  return s;
}

int sbx_query_watch(const struct sbx_http_req *r, const struct sbx_query_kind *k) {
  if (!r->c)
    return sbx_http_status(r, 400, "BadRequest",
                           "watch=true is served over HTTP only (the stream protocol's api operation answers once)");
  long timeout = timeout_of(r);
  if (timeout > MAX_TIMEOUT_S)
    return sbx_http_status(r, 400, "BadRequest", "timeoutSeconds: at most 3600 (watch again after it ends)");
  if (sbx_http_query(r, "limit") || sbx_http_query(r, "continue"))
    return sbx_http_status(r, 400, "BadRequest", "limit and continue page lists; a watch takes neither");
  int answered;
  uid_t owner;
  if (sbx_http_list_owner(r, &owner, &answered) < 0) return answered;
  struct watch *w = calloc(1, sizeof *w);
  if (!w) return sbx_http_status(r, 500, "InternalError", "out of memory");
  if (sbx_query_filter(r, k->fields, &w->f, &answered) < 0) {
    free(w);
    return answered;
  }
  w->who = *r->who;
  w->k = k;
  w->owner = owner;
  snprintf(w->apiversion, sizeof w->apiversion, "%s", r->api_version);
  snprintf(w->ns, sizeof w->ns, "%s", r->ns ? r->ns : "");
  w->req = (struct sbx_http_req){.d = r->d, .method = "GET", .who = &w->who, .api_version = w->apiversion,
                                 .ns = r->ns ? w->ns : NULL};
  const char *bm = sbx_http_query(r, "allowWatchBookmarks");
  w->bookmarks = bm && (!strcmp(bm, "true") || !strcmp(bm, "1"));
  w->deadline = now_s() + timeout;
  w->last_sent = now_s();
  const char *rv = sbx_http_query(r, "resourceVersion");
  sbx_error_t err = {0};
  int rc = 0;
  if (!rv || !*rv || strcmp(rv, "0") == 0) {
    /* start with what is there now */
    _cleanup_json_ json_object *items = NULL;
    if (sbx_store_list_at(r->d->store, k->kind, r->ns, owner, &items, &w->cursor, &err) < 0)
      rc = sbx_http_error(r, k->what, &err);
    for (size_t i = 0; !rc && i < json_object_array_length(items); i++) {
      json_object *o = json_object_array_get_idx(items, i);
      if (sbx_query_filter_match(&w->f, o)) emit(w, "ADDED", k->serve(&w->req, o));
    }
  } else {
    _cleanup_json_ json_object *probe = NULL;
    if (sbx_store_parse_rv(rv, &w->cursor, &err) < 0)
      rc = sbx_http_status(r, 400, "BadRequest", err.msg);
    else if (sbx_store_changes(r->d->store, k->kind, r->ns, owner, w->cursor, &probe, &err) < 0)
      rc = err.errnum == ERANGE ? sbx_http_status(r, 410, "Expired", err.msg) : sbx_http_error(r, k->what, &err);
  }
  if (rc) {
    drop(w);
    return rc;
  }
  if (!hold(w->who.uid)) {
    drop(w);
    char msg[200];
    snprintf(msg, sizeof msg, "at most %d watches per user at once: close one first", SBX_WATCHES_PER_UID);
    return sbx_http_status(r, 429, "TooManyRequests", msg);
  }
  struct MHD_Response *m = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, next, w, release);
  if (!m) {
    release(w);
    return sbx_http_status(r, 500, "InternalError", "cannot start the watch");
  }
  MHD_add_response_header(m, "Content-Type", "application/json");
  return sbx_http_stream(r, 200, m);
}
