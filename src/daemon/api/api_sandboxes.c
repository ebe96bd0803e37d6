/* api_sandboxes.c: REST for agents.x-k8s.io Sandboxes (v1alpha1 and v1beta1).
 *
 *   GET    .../sandboxes                 (all namespaces), .../namespaces/NS/sandboxes
 *   GET    .../namespaces/NS/sandboxes/NAME
 *   POST   .../namespaces/NS/sandboxes           create (201; 409 if it exists)
 *   PUT    .../namespaces/NS/sandboxes/NAME      replace (200), or create (201)
 *   DELETE .../namespaces/NS/sandboxes/NAME      stop and remove; its volumes are kept
 *   DELETE .../[namespaces/NS/]sandboxes          the caller's that the selectors select
 * Query parameters (labelSelector, fieldSelector, watch, dryRun, …) are honoured as
 * query.c says; a replace naming metadata.resourceVersion happens only at that version.
 * A body is validated in full before anything changes (lib/validate.c), converted to the
 * stored form (v1beta1, lib/convert.c) and answered in the version the URL names.
 * Declared sandboxes are run by the reconciler; their status is computed when served.
 * Objects belong to the caller; another user's is "not found". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api/http.h"
#include "daemon/api/query.h"
#include "daemon/controller/reconcile.h"
#include "daemon/controller/controller.h"
#include "daemon/controller/quota.h"
#include "daemon/controller/volumes.h"
#include "daemon/store/objects.h"
#include "lib/cleanup.h"
#include "lib/convert.h"
#include "lib/names.h"
#include "lib/timefmt.h"
#include "lib/validate.h"
#include "lib/wire.h"

#define WHAT "sandboxes." SBX_API_GROUP

/* the served form: bookkeeping out, live status in, in the version asked for */
static json_object *served(const struct sbx_http_req *r, json_object *stored, uid_t owner) {
  _cleanup_json_ json_object *copy = NULL;
  json_object_deep_copy(stored, &copy, NULL);
  json_object *x;
  if (json_object_object_get_ex(copy, SBX_INTERNAL, &x) && strcmp(sbx_json_str(x, "mode") ?: "", "pod") == 0) {
    _cleanup_json_ json_object *rt = sbx_json_int(x, "shimPid", 0) > 0 || sbx_json_bool(x, "completed", 0)
                                         ? sbx_sandbox_runtime_status(copy)
                                         : NULL;
    json_object *st = sbx_pod_status(copy, rt);
    sbx_host_paths_status(r->d, copy, st);
    json_object_object_add(copy, "status", st);
  }
  _cleanup_json_ json_object *v = sbx_sandbox_for_version(copy, r->api_version);
  return sbx_http_served(v ? v : copy, owner, NULL);
}

/* a listed object's served form (the store's owner annotation stays) */
static json_object *served_listed(const struct sbx_http_req *r, json_object *stored) {
  return served(r, stored, SBX_OWNER_ANY);
}

static int remove_sandbox(const struct sbx_http_req *named, sbx_error_t *err) {
  return sbx_sandbox_delete(named->d, named->ns, named->name, named->who->uid, err);
}

static const char *const fields[] = {"metadata.name", "metadata.namespace", NULL};
static const struct sbx_query_kind k_sandbox = {"Sandbox", "SandboxList", WHAT, NULL, fields, served_listed,
                                                remove_sandbox};

/* The body, validated and in stored form, and its metadata.resourceVersion (into rv, ""
 * if none); NULL with the answer given */
static json_object *read_body(const struct sbx_http_req *r, char *rv, size_t rvsz, int *answered) {
  _cleanup_json_ json_object *body = sbx_http_body_json(r, answered);
  if (!body) return NULL;
  sbx_error_t err = {0};
  const char *kind = sbx_json_str(body, "kind"), *av = sbx_json_str(body, "apiVersion");
  if (!kind || strcmp(kind, "Sandbox") != 0 || !av || strcmp(av, r->api_version) != 0) {
    char msg[300];
    snprintf(msg, sizeof msg, "the body must be a Sandbox of apiVersion %s (got %s %s)", r->api_version,
             av ? av : "no apiVersion", kind ? kind : "no kind");
    *answered = sbx_http_status(r, 400, "BadRequest", msg);
    return NULL;
  }
  if (sbx_validate(body, NULL, &err) < 0) {
    *answered = sbx_http_status(r, 422, "Invalid", err.msg);
    return NULL;
  }
  json_object *meta = sbx_json_path(body, "metadata");
  const char *name = sbx_json_str(meta, "name"), *ns = sbx_json_str(meta, "namespace");
  snprintf(rv, rvsz, "%s", sbx_json_str(meta, "resourceVersion") ?: "");
  if (r->name && (!name || strcmp(name, r->name) != 0)) {
    *answered = sbx_http_status(r, 400, "BadRequest", "metadata.name does not match the name in the URL");
    return NULL;
  }
  if (ns && strcmp(ns, r->ns) != 0) {
    *answered = sbx_http_status(r, 400, "BadRequest",
                                "the namespace of the object does not match the namespace of the request");
    return NULL;
  }
  json_object *stored = sbx_sandbox_to_stored(body, &err);
  if (!stored) {
    *answered = sbx_http_status(r, 422, "Invalid", err.msg);
    return NULL;
  }
  json_object_object_add(sbx_json_path(stored, "metadata"), "namespace", json_object_new_string(r->ns));
  if (sbx_host_paths_admit(r->d, stored, &err) < 0) { /* as PodSecurity admission: refused, not FailedMount later */
    char msg[1200];
    snprintf(msg, sizeof msg, "sandboxes \"%s\" is forbidden: %s", name ? name : "", err.msg);
    *answered = sbx_http_status(r, 403, "Forbidden", msg);
    json_object_put(stored);
    return NULL;
  }
  return stored;
}

static int create(const struct sbx_http_req *r, json_object *obj) {
  sbx_error_t err = {0};
  char id[20], ts[32], uid[40], state_dir[4096];
  const char *name = sbx_json_str(sbx_json_path(obj, "metadata"), "name");
  bool dry = sbx_query_dry_run(r);
  sbx_random_hex(id, 8);
  sbx_random_hex(uid, 16);
  sbx_now_rfc3339(ts, sizeof ts);
  snprintf(state_dir, sizeof state_dir, "%s/sandboxes/%s", r->d->root, id);
  /* every Sandbox counts, suspended ones too: each holds a host id range (a dry run is
   * admitted the same way) */
  if (sbx_quota_admit(r->d, r->who->uid, &(struct sbx_quota){.sandboxes = 1}, &err) < 0)
    return sbx_http_error(r, WHAT, &err);
  uint32_t slot = 0;
  if (!dry && sbx_store_idslot_alloc(r->d->store, id, SBX_ID_SLOTS, &slot, &err) < 0) return sbx_http_error(r, WHAT, &err);
  json_object *meta = sbx_json_path(obj, "metadata");
  json_object_object_add(meta, "uid", json_object_new_string(uid));
  json_object_object_add(meta, "creationTimestamp", json_object_new_string(ts));
  json_object_object_add(meta, "generation", json_object_new_int64(1));
  json_object *x = sbx_internal(obj);
  json_object_object_add(x, "mode", json_object_new_string("pod"));
  json_object_object_add(x, "id", json_object_new_string(id));
  json_object_object_add(x, "stateDir", json_object_new_string(state_dir));
  json_object_object_add(x, "idSlot", json_object_new_int64(slot));
  json_object_object_add(x, "owner", json_object_new_int64(r->who->uid));
  json_object_object_add(x, "ownerGid", json_object_new_int64(r->who->gid));
  sbx_pod_event(obj, "Normal", "Created", "the sandbox was created");
  if (dry) {
    /* admitted: nothing stored, no id range taken, nothing started */
    json_object_object_del(x, "idSlot");
    _cleanup_json_ json_object *out = served(r, obj, r->who->uid);
    return sbx_http_json(r, 201, out);
  }
  if (sbx_store_create(r->d->store, "Sandbox", r->ns, name, r->who->uid, obj, &err) < 0) {
    sbx_error_t e2;
    sbx_store_idslot_release(r->d->store, id, &e2);
    return sbx_http_error(r, WHAT, &err);
  }
  sbx_reconcile_kick();
  _cleanup_json_ json_object *out = served(r, obj, r->who->uid);
  return sbx_http_json(r, 201, out);
}

static bool same(json_object *a, json_object *b) {
  if (!a || !b) return a == b;
  return json_object_equal(a, b);
}

/* Replace the spec, labels and annotations of `old` with those of `obj`; the identity,
 * bookkeeping and history stay. `rv`: the body's resourceVersion ("" for none). */
static int replace(const struct sbx_http_req *r, json_object *old, json_object *obj, const char *rv) {
  sbx_error_t err = {0};
  json_object *x = sbx_internal(old);
  if (strcmp(sbx_json_str(x, "mode") ?: "", "pod") != 0) {
    char msg[300];
    snprintf(msg, sizeof msg, "sandbox \"%s\" was started by `sbx run`; delete it before applying a manifest of that name",
             r->name);
    return sbx_http_status(r, 409, "Conflict", msg);
  }
  json_object *ospec = sbx_json_path(old, "spec"), *nspec = sbx_json_path(obj, "spec");
  if (!same(sbx_json_path(ospec, "volumeClaimTemplates"), sbx_json_path(nspec, "volumeClaimTemplates")))
    return sbx_http_status(r, 422, "Invalid",
                           "spec.volumeClaimTemplates: field is immutable; delete the sandbox (its volumes are kept) "
                           "and apply it again to change them");
  bool template_changed = !same(sbx_json_path(ospec, "podTemplate"), sbx_json_path(nspec, "podTemplate"));
  if (!same(ospec, nspec)) {
    json_object *meta = sbx_json_path(old, "metadata");
    json_object_object_add(meta, "generation", json_object_new_int64(sbx_json_int(meta, "generation", 1) + 1));
  }
  if (!same(sbx_json_path(ospec, "shutdownTime"), sbx_json_path(nspec, "shutdownTime")) ||
      !same(sbx_json_path(ospec, "shutdownPolicy"), sbx_json_path(nspec, "shutdownPolicy"))) {
    json_object_object_del(x, "expired");
    json_object_object_del(x, "deleteWhenStopped");
  }
  if (template_changed || !same(sbx_json_path(ospec, "operatingMode"), sbx_json_path(nspec, "operatingMode"))) {
    json_object_object_del(x, "completed");
    json_object_object_del(x, "crashes");
    json_object_object_del(x, "nextStartAt");
  }
  if (template_changed && sbx_json_int(x, "shimPid", 0) > 0)
    sbx_pod_event(old, "Normal", "TemplateChanged", "the pod template changed: the sandbox restarts with the new one");
  json_object_object_add(old, "spec", json_object_get(nspec));
  const char *keys[] = {"labels", "annotations"};
  for (size_t i = 0; i < 2; i++) {
    json_object *v = sbx_json_path(obj, keys[i][0] == 'l' ? "metadata.labels" : "metadata.annotations");
    if (v) json_object_object_add(sbx_json_path(old, "metadata"), keys[i], json_object_get(v));
    else json_object_object_del(sbx_json_path(old, "metadata"), keys[i]);
  }
  if (!sbx_query_dry_run(r)) {
    if (sbx_store_update_if(r->d->store, "Sandbox", r->ns, r->name, r->who->uid, old, *rv ? rv : NULL, &err) < 0)
      return sbx_http_error(r, WHAT, &err);
    sbx_reconcile_kick();
  }
  _cleanup_json_ json_object *out = served(r, old, r->who->uid);
  return sbx_http_json(r, 200, out);
}

static int write_object(const struct sbx_http_req *r) {
  int answered;
  char rv[40];
  _cleanup_json_ json_object *obj = read_body(r, rv, sizeof rv, &answered);
  if (!obj) return answered;
  struct sbx_http_req named = *r;
  named.name = sbx_json_str(sbx_json_path(obj, "metadata"), "name");
  sbx_error_t err = {0};
  pthread_mutex_lock(&r->d->objects_lock);
  _cleanup_json_ json_object *old = NULL;
  int rc;
  if (sbx_store_get(r->d->store, "Sandbox", r->ns, named.name, r->who->uid, &old, NULL, &err) == 0)
    rc = strcmp(r->method, "POST") == 0 ? (err.errnum = EEXIST, sbx_http_error(&named, WHAT, &err))
         : sbx_query_precondition(&named, rv, old, &answered) < 0 ? answered
                                                                   : replace(&named, old, obj, rv);
  else if (err.errnum == ENOENT)
    rc = sbx_query_precondition(&named, rv, NULL, &answered) < 0 ? answered : create(&named, obj);
  else
    rc = sbx_http_error(&named, WHAT, &err);
  pthread_mutex_unlock(&r->d->objects_lock);
  return rc;
}

int sbx_api_sandboxes(const struct sbx_http_req *r) {
  sbx_error_t err = {0};
  if (r->name && !sbx_is_dns_label(r->name)) {
    char msg[200], esc[100];
    sbx_escape_for_message(r->name, 63, esc, sizeof esc);
    snprintf(msg, sizeof msg, WHAT " \"%s\" not found", esc);
    return sbx_http_status(r, 404, "NotFound", msg);
  }
  if (r->subresource) return sbx_http_status(r, 404, "NotFound", "sandboxes have no such subresource");
  if (!r->name) {
    if (strcmp(r->method, "GET") == 0) return sbx_query_answer_list(r, &k_sandbox);
    if (strcmp(r->method, "POST") == 0 && r->ns) return write_object(r);
    if (strcmp(r->method, "DELETE") == 0) return sbx_query_delete_collection(r, &k_sandbox);
    return sbx_http_status(r, 405, "MethodNotAllowed", "use GET, POST or DELETE on a collection");
  }
  if (!r->ns) return sbx_http_status(r, 404, "NotFound", "the server could not find the requested resource");
  if (strcmp(r->method, "GET") == 0) {
    _cleanup_json_ json_object *obj = NULL;
    if (sbx_store_get(r->d->store, "Sandbox", r->ns, r->name, r->who->uid, &obj, NULL, &err) < 0)
      return sbx_http_error(r, WHAT, &err);
    _cleanup_json_ json_object *out = served(r, obj, r->who->uid);
    return sbx_http_json(r, 200, out);
  }
  if (strcmp(r->method, "PUT") == 0) return write_object(r);
  if (strcmp(r->method, "DELETE") == 0) return sbx_query_delete_one(r, &k_sandbox);
  return sbx_http_status(r, 405, "MethodNotAllowed", "method not allowed on a sandbox");
}
