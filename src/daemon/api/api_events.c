/* api_events.c: GET /api/v1/[namespaces/NS/]events — what happened to the caller's
 * sandboxes, as a Kubernetes EventList.
 *
 * Events are not stored as objects of their own: each sandbox keeps its last 50 in its
 * bookkeeping (the daemon's: Created, Scheduled, FailedScheduling, Killing, BackOff…) and
 * its shim writes the containers' in status.json (Pulled, Created, Started, BackOff…).
 * This merges both, oldest first. fieldSelector narrows it (kubectl describe sends
 * `involvedObject.name=NAME[,involvedObject.kind=Sandbox]`; the fields below may be
 * named), labelSelector too (events have no labels), and limit/continue page it. Events
 * are not kept as changes, so they cannot be watched (400). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api/http.h"
#include "daemon/api/query.h"
#include "daemon/controller/reconcile.h"
#include "daemon/store/objects.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

static void add_events(json_object *out, json_object *events, json_object *obj, const char *component, char tag) {
  const char *ns = sbx_json_str(sbx_json_path(obj, "metadata"), "namespace") ?: "default";
  const char *name = sbx_json_str(sbx_json_path(obj, "metadata"), "name") ?: "";
  for (size_t i = 0; events && i < json_object_array_length(events); i++) {
    json_object *e = json_object_array_get_idx(events, i), *ev = json_object_new_object();
    json_object *meta = json_object_new_object(), *io = json_object_new_object(), *src = json_object_new_object();
    char evname[160];
    snprintf(evname, sizeof evname, "%s.%c%zu", name, tag, i);
    json_object_object_add(meta, "name", json_object_new_string(evname));
    json_object_object_add(meta, "namespace", json_object_new_string(ns));
    json_object_object_add(ev, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(ev, "kind", json_object_new_string("Event"));
    json_object_object_add(ev, "metadata", meta);
    json_object_object_add(io, "apiVersion", json_object_new_string(SBX_API_VERSION));
    json_object_object_add(io, "kind", json_object_new_string("Sandbox"));
    json_object_object_add(io, "name", json_object_new_string(name));
    json_object_object_add(io, "namespace", json_object_new_string(ns));
    json_object_object_add(ev, "involvedObject", io);
    const char *keys[] = {"type", "reason", "message"};
    for (size_t k = 0; k < 3; k++)
      json_object_object_add(ev, keys[k], json_object_new_string(sbx_json_str(e, keys[k]) ?: ""));
    json_object_object_add(ev, "count", json_object_new_int((int)sbx_json_int(e, "count", 1)));
    const char *first = sbx_json_str(e, "time") ?: "";
    json_object_object_add(ev, "firstTimestamp", json_object_new_string(first));
    json_object_object_add(ev, "lastTimestamp", json_object_new_string(sbx_json_str(e, "lastTimestamp") ?: first));
    json_object_object_add(src, "component", json_object_new_string(component));
    json_object_object_add(ev, "source", src);
    json_object_array_add(out, ev);
  }
}

static int by_time(const void *a, const void *b) {
  json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
  return strcmp(sbx_json_str(x, "lastTimestamp") ?: "", sbx_json_str(y, "lastTimestamp") ?: "");
}

static const char *const fields[] = {"involvedObject.name", "involvedObject.kind", "involvedObject.namespace",
                                     "metadata.name",       "metadata.namespace",  "type",
                                     "reason",              NULL};

int sbx_api_events(const struct sbx_http_req *r) {
  if (strcmp(r->method, "GET") != 0 || r->name)
    return sbx_http_status(r, 405, "MethodNotAllowed", "events can only be listed");
  if (sbx_query_watching(r) || sbx_http_query(r, "allowWatchBookmarks") ||
      sbx_http_query(r, "timeoutSeconds"))
    return sbx_http_status(r, 400, "BadRequest", "events cannot be watched: list them again");
  sbx_error_t err = {0};
  int answered;
  uid_t owner;
  if (sbx_http_list_owner(r, &owner, &answered) < 0) return answered;
  struct sbx_query_filter f;
  if (sbx_query_filter(r, fields, &f, &answered) < 0) return answered;
  _cleanup_json_ json_object *all = NULL;
  int64_t rv = 0;
  if (sbx_store_list_at(r->d->store, "Sandbox", r->ns, owner, &all, &rv, &err) < 0) {
    sbx_query_filter_free(&f);
    return sbx_http_error(r, "events", &err);
  }
  const char *only = sbx_selector_equal_value(&f.fields, "involvedObject.name");
  json_object *items = json_object_new_array();
  for (size_t i = 0; i < json_object_array_length(all); i++) {
    json_object *o = json_object_array_get_idx(all, i);
    if (only && strcmp(sbx_json_str(sbx_json_path(o, "metadata"), "name") ?: "", only) != 0) continue;
    add_events(items, sbx_json_path(sbx_internal(o), "events"), o, "sbxd", 'd');
    _cleanup_json_ json_object *rt = sbx_sandbox_runtime_status(o);
    add_events(items, sbx_json_path(rt, "events"), o, "sbx-shim", 's');
  }
  json_object_array_sort(items, by_time);
  json_object *selected = json_object_new_array();
  for (size_t i = 0; i < json_object_array_length(items); i++) {
    json_object *e = json_object_array_get_idx(items, i);
    if (sbx_query_filter_match(&f, e)) json_object_array_add(selected, json_object_get(e));
  }
  json_object_put(items);
  sbx_query_filter_free(&f);
  return sbx_query_answer_page(r, "v1", "EventList", selected, rv);
}
