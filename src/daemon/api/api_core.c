/* api_core.c: REST for the core v1 kinds that sandboxes use: Secrets, ConfigMaps and
 * PersistentVolumeClaims.
 *
 *   GET    /api/v1/{secrets,configmaps,persistentvolumeclaims}        every namespace
 *   GET    /api/v1/namespaces/NS/{secrets,configmaps,persistentvolumeclaims}[/NAME]
 *   POST   /api/v1/namespaces/NS/{secrets,configmaps}                 create (201; 409 AlreadyExists)
 *   PUT    /api/v1/namespaces/NS/{secrets,configmaps}/NAME            replace (200), or create (201)
 *   DELETE /api/v1/namespaces/NS/{secrets,configmaps,persistentvolumeclaims}/NAME
 *   DELETE /api/v1/[namespaces/NS/]{secrets,configmaps,persistentvolumeclaims}   selected ones
 * Query parameters (selectors, paging, watch, dryRun) are honoured as query.c says; a
 * replace naming metadata.resourceVersion happens only at that version (else 409).
 *
 * One generic CRUD serves every kind, driven by a small table (struct core_kind): what
 * differs is only whether the kind may be written through the API (PVCs are made from a
 * sandbox's volumeClaimTemplates, never posted) and how it is deleted (a PVC's image and
 * mount go with it, and not while a sandbox uses it: 409 Conflict).
 *
 * A body passes validate_object() before anything changes: the manifest validator
 * (lib/validate.c: fields, DNS names, data keys, base64) plus what only the request knows
 * (kind and apiVersion of the URL, name and namespace matching it) and the 1 MiB bound
 * Kubernetes puts on a Secret's or ConfigMap's data. Secrets are stored with stringData
 * folded into data (base64) and type defaulted to Opaque. The store file holding them is
 * root's alone (0600, -wal and -shm alike). Objects belong to the caller; another user's
 * is "not found"; root and the admin group list everyone's with ?allUsers=true. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "daemon/api/http.h"
#include "daemon/api/query.h"
#include "daemon/controller/quota.h"
#include "daemon/controller/volumes.h"
#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/convert.h"
#include "lib/names.h"
#include "lib/timefmt.h"
#include "lib/validate.h"
#include "lib/wire.h"

#define MAX_DATA_BYTES (1u << 20)

struct core_kind;
typedef int (*core_remove_fn)(const struct sbx_http_req *r, const struct core_kind *k, sbx_error_t *err);

struct core_kind {
  const char *kind;      /* "Secret" */
  const char *list_kind; /* "SecretList" */
  const char *what;      /* "secrets", as messages name the resource */
  bool writable;         /* POST and PUT allowed */
  core_remove_fn remove;
};

static int remove_stored(const struct sbx_http_req *r, const struct core_kind *k, sbx_error_t *err) {
  return sbx_store_delete(r->d->store, k->kind, r->ns, r->name, r->who->uid, err);
}

static int remove_pvc(const struct sbx_http_req *r, const struct core_kind *k, sbx_error_t *err) {
  (void)k;
  return sbx_pvc_remove(r->d, r->ns, r->name, r->who->uid, err);
}

static const struct core_kind k_secret = {"Secret", "SecretList", "secrets", true, remove_stored};
static const struct core_kind k_configmap = {"ConfigMap", "ConfigMapList", "configmaps", true, remove_stored};
static const struct core_kind k_pvc = {"PersistentVolumeClaim", "PersistentVolumeClaimList",
                                       "persistentvolumeclaims", false, remove_pvc};

/* a delete, under the lock every read-modify-write of objects holds */
static int remove_locked(const struct sbx_http_req *r, const struct core_kind *k, sbx_error_t *err) {
  pthread_mutex_lock(&r->d->objects_lock);
  int rc = k->remove(r, k, err);
  pthread_mutex_unlock(&r->d->objects_lock);
  return rc;
}
static int remove_secret(const struct sbx_http_req *r, sbx_error_t *err) { return remove_locked(r, &k_secret, err); }
static int remove_configmap(const struct sbx_http_req *r, sbx_error_t *err) {
  return remove_locked(r, &k_configmap, err);
}
static int remove_pvc_locked(const struct sbx_http_req *r, sbx_error_t *err) { return remove_locked(r, &k_pvc, err); }

static json_object *served_listed(const struct sbx_http_req *r, json_object *stored) {
  (void)r;
  return sbx_http_served(stored, SBX_OWNER_ANY, NULL);
}

static const char *const fields[] = {"metadata.name", "metadata.namespace", NULL};
static const char *const secret_fields[] = {"metadata.name", "metadata.namespace", "type", NULL};
static const struct sbx_query_kind q_secret = {"Secret", "SecretList", "secrets", "v1", secret_fields, served_listed,
                                               remove_secret};
static const struct sbx_query_kind q_configmap = {"ConfigMap", "ConfigMapList", "configmaps", "v1", fields,
                                                  served_listed, remove_configmap};
static const struct sbx_query_kind q_pvc = {"PersistentVolumeClaim", "PersistentVolumeClaimList",
                                            "persistentvolumeclaims", "v1", fields, served_listed, remove_pvc_locked};

/* What a Secret or ConfigMap body must be before anything changes: 0, or -1 with the
 * answer given (400 for a body that does not belong at this URL, 422 for an invalid one). */
static int validate_object(const struct sbx_http_req *r, const struct core_kind *k, json_object *body, int *answered) {
  char msg[1200];
  const char *kind = sbx_json_str(body, "kind"), *av = sbx_json_str(body, "apiVersion");
  if (!kind || strcmp(kind, k->kind) != 0 || !av || strcmp(av, "v1") != 0) {
    snprintf(msg, sizeof msg, "the body must be a %s of apiVersion v1 (got %s %s)", k->kind,
             av ? av : "no apiVersion", kind ? kind : "no kind");
    *answered = sbx_http_status(r, 400, "BadRequest", msg);
    return -1;
  }
  sbx_error_t err = {0};
  if (sbx_validate(body, NULL, &err) < 0) {
    *answered = sbx_http_status(r, 422, "Invalid", err.msg);
    return -1;
  }
  json_object *meta = sbx_json_path(body, "metadata");
  const char *name = sbx_json_str(meta, "name"), *ns = sbx_json_str(meta, "namespace");
  if (!name || !sbx_is_dns_subdomain(name)) {
    *answered = sbx_http_status(r, 422, "Invalid", "metadata.name: must be a DNS subdomain of at most 253 characters");
    return -1;
  }
  if (r->name && strcmp(name, r->name) != 0) {
    *answered = sbx_http_status(r, 400, "BadRequest", "metadata.name does not match the name in the URL");
    return -1;
  }
  if (ns && strcmp(ns, r->ns) != 0) {
    *answered = sbx_http_status(r, 400, "BadRequest",
                                "the namespace of the object does not match the namespace of the request");
    return -1;
  }
  bool secret = strcmp(k->kind, "Secret") == 0;
  size_t total = sbx_object_data_bytes(body, secret);
  if (total > MAX_DATA_BYTES) {
    snprintf(msg, sizeof msg, "data: too long: the data of a %s may hold at most 1048576 bytes (this one: %zu)",
             k->kind, total);
    *answered = sbx_http_status(r, 422, "Invalid", msg);
    return -1;
  }
  return 0;
}

/* The stored form of a valid body: server-set metadata dropped (uid and creation time are
 * the server's), our owner annotation dropped, namespace from the URL, Secret folded. */
static json_object *stored_form(const struct sbx_http_req *r, const struct core_kind *k, json_object *body,
                                json_object *old, int *answered) {
  json_object *o = NULL;
  json_object_deep_copy(body, &o, NULL);
  json_object_object_del(o, "status");
  json_object_object_del(o, SBX_INTERNAL);
  json_object *meta = sbx_json_path(o, "metadata"), *ann = sbx_json_path(meta, "annotations");
  const char *drop[] = {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink"};
  for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) json_object_object_del(meta, drop[i]);
  if (ann) {
    json_object_object_del(ann, SBX_ANN_OWNER);
    if (json_object_object_length(ann) == 0) json_object_object_del(meta, "annotations");
  }
  json_object_object_add(meta, "namespace", json_object_new_string(r->ns));
  char uid[40], hex[33], ts[40];
  const char *old_uid = sbx_json_str(sbx_json_path(old, "metadata"), "uid");
  const char *old_ts = sbx_json_str(sbx_json_path(old, "metadata"), "creationTimestamp");
  if (!old_uid) {
    sbx_random_hex(hex, 16);
    snprintf(uid, sizeof uid, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
  }
  if (!old_ts) sbx_now_rfc3339(ts, sizeof ts);
  json_object_object_add(meta, "uid", json_object_new_string(old_uid ? old_uid : uid));
  json_object_object_add(meta, "creationTimestamp", json_object_new_string(old_ts ? old_ts : ts));
  sbx_error_t err = {0};
  if (strcmp(k->kind, "Secret") == 0 && sbx_secret_normalize(o, &err) < 0) {
    json_object_put(o);
    *answered = sbx_http_status(r, 422, "Invalid", err.msg);
    return NULL;
  }
  return o;
}

static bool same_field(json_object *a, json_object *b, const char *key) {
  json_object *x = json_object_object_get(a, key), *y = json_object_object_get(b, key);
  return (!x && !y) || (x && y && json_object_equal(x, y));
}

static int write_object(const struct sbx_http_req *r, const struct core_kind *k) {
  int answered;
  _cleanup_json_ json_object *body = sbx_http_body_json(r, &answered);
  if (!body) return answered;
  if (validate_object(r, k, body, &answered) < 0) return answered;
  char rv[40];
  snprintf(rv, sizeof rv, "%s", sbx_json_str(sbx_json_path(body, "metadata"), "resourceVersion") ?: "");
  bool dry = sbx_query_dry_run(r);
  struct sbx_http_req named = *r;
  named.name = sbx_json_str(sbx_json_path(body, "metadata"), "name");
  sbx_error_t err = {0};
  pthread_mutex_lock(&r->d->objects_lock);
  _cleanup_json_ json_object *old = NULL, *obj = NULL;
  int rc;
  bool exists = sbx_store_get(r->d->store, k->kind, r->ns, named.name, r->who->uid, &old, NULL, &err) == 0;
  if (!exists && err.errnum != ENOENT) {
    rc = sbx_http_error(&named, k->what, &err);
  } else if (exists && strcmp(r->method, "POST") == 0) {
    err.errnum = EEXIST;
    rc = sbx_http_error(&named, k->what, &err);
  } else if (sbx_query_precondition(&named, rv, old, &answered) < 0) {
    rc = answered;
  } else if (!(obj = stored_form(&named, k, body, old, &answered))) {
    rc = answered;
  } else if (exists && sbx_json_bool(old, "immutable", 0) &&
             !(same_field(old, obj, "data") && same_field(old, obj, "binaryData") &&
               same_field(old, obj, "immutable"))) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s \"%s\" is immutable: delete and re-create it to change its data", k->kind,
             named.name);
    rc = sbx_http_status(&named, 422, "Invalid", msg);
  } else if (k->writable && sbx_quota_admit(r->d, r->who->uid, &(struct sbx_quota){.objects = exists ? 0 : 1,
             .object_bytes = (int64_t)sbx_object_data_bytes(obj, k == &k_secret) -
                             (exists ? (int64_t)sbx_object_data_bytes(old, k == &k_secret) : 0)}, &err) < 0) {
    rc = sbx_http_error(&named, k->what, &err);
  } else if (!dry && (exists ? sbx_store_update_if(r->d->store, k->kind, r->ns, named.name, r->who->uid, obj,
                                                    *rv ? rv : NULL, &err)
                              : sbx_store_create(r->d->store, k->kind, r->ns, named.name, r->who->uid, obj, &err)) < 0) {
    rc = sbx_http_error(&named, k->what, &err);
  } else {
    _cleanup_json_ json_object *out = sbx_http_served(obj, r->who->uid, NULL);
    rc = sbx_http_json(&named, exists ? 200 : 201, out);
  }
  pthread_mutex_unlock(&r->d->objects_lock);
  return rc;
}

static int core_crud(const struct sbx_http_req *r, const struct core_kind *k, const struct sbx_query_kind *q) {
  sbx_error_t err = {0};
  char msg[400];
  if (r->name && !sbx_is_dns_subdomain(r->name)) {
    char esc[100];
    sbx_escape_for_message(r->name, 63, esc, sizeof esc);
    snprintf(msg, sizeof msg, "%s \"%s\" not found", k->what, esc);
    return sbx_http_status(r, 404, "NotFound", msg);
  }
  if (r->subresource) return sbx_http_status(r, 404, "NotFound", "the server could not find the requested resource");
  bool write = strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0;
  if (write && !k->writable) {
    snprintf(msg, sizeof msg, "%s cannot be written: PVCs are created from a sandbox's volumeClaimTemplates", k->what);
    return sbx_http_status(r, 405, "MethodNotAllowed", msg);
  }
  if (!r->name) {
    if (strcmp(r->method, "GET") == 0) return sbx_query_answer_list(r, q);
    if (strcmp(r->method, "POST") == 0 && r->ns) return write_object(r, k);
    if (strcmp(r->method, "DELETE") == 0) return sbx_query_delete_collection(r, q);
    return sbx_http_status(r, 405, "MethodNotAllowed", "use GET, DELETE, or POST in a namespace, on a collection");
  }
  if (!r->ns) return sbx_http_status(r, 404, "NotFound", "the server could not find the requested resource");
  if (strcmp(r->method, "GET") == 0) {
    _cleanup_json_ json_object *obj = NULL;
    if (sbx_store_get(r->d->store, k->kind, r->ns, r->name, r->who->uid, &obj, NULL, &err) < 0)
      return sbx_http_error(r, k->what, &err);
    _cleanup_json_ json_object *out = sbx_http_served(obj, r->who->uid, NULL);
    return sbx_http_json(r, 200, out);
  }
  if (strcmp(r->method, "PUT") == 0) return write_object(r, k);
  if (strcmp(r->method, "DELETE") == 0) return sbx_query_delete_one(r, q);
  return sbx_http_status(r, 405, "MethodNotAllowed", "method not allowed here");
}

int sbx_api_secrets(const struct sbx_http_req *r) { return core_crud(r, &k_secret, &q_secret); }
int sbx_api_configmaps(const struct sbx_http_req *r) { return core_crud(r, &k_configmap, &q_configmap); }
int sbx_api_persistentvolumeclaims(const struct sbx_http_req *r) { return core_crud(r, &k_pvc, &q_pvc); }
