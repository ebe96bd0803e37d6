/* apply.c: targets, bodies and the comparison of `sbx apply` (see apply.h). */
#include "cli/apply.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

#define OWNER_ANNOTATION "sbx.x-k8s.io/owner-uid"

static json_object *member(json_object *o, const char *key) {
  json_object *v = NULL;
  if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
    return NULL;
  return v;
}

int sbx_apply_target(json_object *doc, const char *ns_flag, sbx_apply_target_t *t,
                     sbx_error_t *err) {
  memset(t, 0, sizeof *t);
  const char *kind = sbx_json_str(doc, "kind");
  const char *av = sbx_json_str(doc, "apiVersion");
  json_object *md = member(doc, "metadata");
  const char *name = sbx_json_str(md, "name");
  const char *ns = sbx_json_str(md, "namespace");
  if (!kind || !av) return sbx_error_set(err, 0, "the object has no kind or apiVersion");
  if (!name || !*name) return sbx_error_set(err, 0, "metadata.name: required");
  t->kind = sbx_kind_lookup(kind);
  if (!t->kind || strcmp(t->kind->kind, kind) != 0)
    return sbx_error_set(err, 0, "kind %s: sbx cannot apply this kind", kind);

  /* The version the document speaks is the version of the URL: the server converts. */
  sbx_kind_t k = *t->kind;
  const char *slash = strchr(av, '/');
  if (k.group[0]) {
    size_t glen = strlen(k.group);
    if (!slash || (size_t)(slash - av) != glen || strncmp(av, k.group, glen) != 0 ||
        (strcmp(slash + 1, "v1alpha1") != 0 && strcmp(slash + 1, "v1beta1") != 0))
      return sbx_error_set(err, 0, "apiVersion %s: not a version of %s", av, kind);
    k.version = slash + 1;
  } else if (strcmp(av, "v1") != 0) {
    return sbx_error_set(err, 0, "apiVersion %s: %s is in v1", av, kind);
  }

  if (ns && *ns && ns_flag && strcmp(ns, ns_flag) != 0)
    return sbx_error_set(err, 0,
                         "the namespace from the provided object \"%s\" does not match the "
                         "namespace \"%s\". You must pass '--namespace=%s' to perform this "
                         "operation.",
                         ns, ns_flag, ns);
  snprintf(t->ns, sizeof t->ns, "%s", ns && *ns ? ns : ns_flag ? ns_flag : "default");
  t->name = name;
  if (sbx_kind_path(&k, t->ns, name, t->path, sizeof t->path, err) < 0 ||
      sbx_kind_path(&k, t->ns, NULL, t->collection, sizeof t->collection, err) < 0)
    return -1;
  sbx_kind_display(t->kind, t->display, sizeof t->display);
  return 0;
}

/* --- the body ------------------------------------------------------------------------- */

static json_object *deep_copy(json_object *o) {
  json_object *c = NULL;
  if (json_object_deep_copy(o, &c, NULL) < 0) return NULL;
  return c;
}

json_object *sbx_apply_body(json_object *doc, const sbx_apply_target_t *t) {
  json_object *body = deep_copy(doc);
  if (!body) return NULL;
  json_object_object_del(body, "status");
  json_object *md = member(body, "metadata");
  if (!md) {
    json_object_put(body);
    return NULL;
  }
  static const char *const server_set[] = {"uid", "resourceVersion", "creationTimestamp",
                                           "generation", "managedFields", "selfLink",
                                           "deletionTimestamp"};
  for (size_t i = 0; i < sizeof server_set / sizeof *server_set; i++)
    json_object_object_del(md, server_set[i]);
  json_object_object_add(md, "namespace", json_object_new_string(t->ns));
  json_object *ann = member(md, "annotations");
  if (ann) json_object_object_del(ann, SBX_LAST_APPLIED);
  if (strcmp(t->kind->kind, "Secret") == 0) return body;

  /* The last-applied copy is the document as sent, without itself. */
  const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
  json_object *s = json_object_new_string(text);
  if (!ann) {
    ann = json_object_new_object();
    json_object_object_add(md, "annotations", ann);
  }
  if (!s || !ann) {
    json_object_put(s);
    json_object_put(body);
    return NULL;
  }
  json_object_object_add(ann, SBX_LAST_APPLIED, s);
  return body;
}

/* --- comparison ----------------------------------------------------------------------- */

static bool is_number(json_object *o) {
  return json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double);
}

static bool scalar_equal(json_object *a, json_object *b) {
  if (!a || !b) return a == b;
  if (is_number(a) && is_number(b)) {
    if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int))
      return json_object_get_int64(a) == json_object_get_int64(b);
    return json_object_get_double(a) == json_object_get_double(b);
  }
  return json_object_equal(a, b) != 0;
}

bool sbx_apply_fields_equal(json_object *want, json_object *live, json_object *last) {
  if (!want || !live) return want == live;
  if (json_object_is_type(want, json_type_object)) {
    if (!json_object_is_type(live, json_type_object)) return false;
    if (last && !json_object_is_type(last, json_type_object)) last = NULL;
    json_object_object_foreach(want, k, v) {
      json_object *lv = member(live, k);
      if (!lv && json_object_is_type(v, json_type_null)) continue;
      if (!lv || !sbx_apply_fields_equal(v, lv, member(last, k))) return false;
    }
    json_object_object_foreach(live, k2, v2) {
      (void)v2;
      if (!member(want, k2) && member(last, k2)) return false; /* removed by the user */
    }
    return true;
  }
  if (json_object_is_type(want, json_type_array)) {
    if (!json_object_is_type(live, json_type_array)) return false;
    size_t n = json_object_array_length(want);
    if (json_object_array_length(live) != n) return false;
    bool last_ok = last && json_object_is_type(last, json_type_array) &&
                   json_object_array_length(last) == n;
    for (size_t i = 0; i < n; i++)
      if (!sbx_apply_fields_equal(json_object_array_get_idx(want, i),
                                  json_object_array_get_idx(live, i),
                                  last_ok ? json_object_array_get_idx(last, i) : NULL))
        return false;
    return true;
  }
  return scalar_equal(want, live);
}

/* Exact equality of two string maps, an absent map being an empty one; `skip` keys
 * ignored on both sides. */
static bool maps_equal(json_object *a, json_object *b, const char *const *skip) {
  json_object *m[2] = {a, b};
  for (int side = 0; side < 2; side++) {
    json_object *x = m[side], *y = m[1 - side];
    if (!x || !json_object_is_type(x, json_type_object)) continue;
    json_object_object_foreach(x, k, v) {
      bool skipped = false;
      for (size_t i = 0; skip && skip[i]; i++)
        if (strcmp(skip[i], k) == 0) skipped = true;
      if (skipped) continue;
      json_object *w = member(y, k);
      if (!w || !scalar_equal(v, w)) return false;
    }
  }
  return true;
}

/* A Secret's data as the server stores it: data plus stringData base64-encoded (stringData
 * wins on a shared key). NULL when out of memory. */
static json_object *secret_data(json_object *secret) {
  json_object *out = json_object_new_object();
  if (!out) return NULL;
  json_object *data = member(secret, "data"), *sd = member(secret, "stringData");
  if (data && json_object_is_type(data, json_type_object)) {
    json_object_object_foreach(data, k, v) json_object_object_add(out, k, json_object_get(v));
  }
  if (sd && json_object_is_type(sd, json_type_object)) {
    json_object_object_foreach(sd, k, v) {
      const char *s = json_object_get_string(v);
      _cleanup_free_ char *enc = sbx_base64_encode(s ? s : "", s ? strlen(s) : 0);
      if (!enc) {
        json_object_put(out);
        return NULL;
      }
      json_object_object_add(out, k, json_object_new_string(enc));
    }
  }
  return out;
}

static const char *type_or_opaque(json_object *secret) {
  const char *t = sbx_json_str(secret, "type");
  return t && *t ? t : "Opaque";
}

/* The document last applied to live, parsed; NULL if none. */
static json_object *last_applied(json_object *live) {
  const char *text =
      sbx_json_str(member(member(live, "metadata"), "annotations"), SBX_LAST_APPLIED);
  if (!text) return NULL;
  json_object *o = json_tokener_parse(text);
  if (o && !json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

bool sbx_apply_unchanged(const sbx_kind_t *kind, json_object *body, json_object *live) {
  static const char *const ignored[] = {OWNER_ANNOTATION, SBX_LAST_APPLIED, NULL};
  json_object *bm = member(body, "metadata"), *lm = member(live, "metadata");
  if (!maps_equal(member(bm, "labels"), member(lm, "labels"), NULL)) return false;
  if (!maps_equal(member(bm, "annotations"), member(lm, "annotations"), ignored)) return false;

  if (strcmp(kind->kind, "Secret") == 0) {
    if (strcmp(type_or_opaque(body), type_or_opaque(live)) != 0) return false;
    _cleanup_json_ json_object *want = secret_data(body);
    return want && maps_equal(want, member(live, "data"), NULL);
  }
  if (strcmp(kind->kind, "ConfigMap") == 0)
    return maps_equal(member(body, "data"), member(live, "data"), NULL) &&
           maps_equal(member(body, "binaryData"), member(live, "binaryData"), NULL);

  _cleanup_json_ json_object *last = last_applied(live);
  json_object *want = member(body, "spec"), *have = member(live, "spec");
  if (!want) return !member(last, "spec"); /* a live spec then holds only defaults */
  return sbx_apply_fields_equal(want, have, member(last, "spec"));
}
