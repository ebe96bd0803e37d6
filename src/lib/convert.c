/* convert.c: Sandbox version conversion and defaults, Secret normalisation (see
 * convert.h).
 *
 * Design: conversion builds a new object field by field rather than editing a copy of the
 * input, so what is stored is exactly what sbx knows (metadata is whitelisted; spec is
 * copied as validated). Deep copies drop JSON nulls, which mean "absent" in Kubernetes
 * objects, so later code can test presence with one lookup. */
#include "lib/convert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/base64.h"

static json_object *get(json_object *o, const char *k) {
  json_object *v = NULL;
  if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v))
    return NULL;
  return v;
}

/* Deep copy without null members or items. */
static json_object *copy_no_nulls(json_object *v) {
  if (json_object_is_type(v, json_type_object)) {
    json_object *o = json_object_new_object();
    json_object_object_foreach(v, key, val) {
      if (val) json_object_object_add(o, key, copy_no_nulls(val));
    }
    return o;
  }
  if (json_object_is_type(v, json_type_array)) {
    json_object *a = json_object_new_array();
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
      json_object *it = json_object_array_get_idx(v, i);
      if (it) json_object_array_add(a, copy_no_nulls(it));
    }
    return a;
  }
  json_object *c = NULL;
  if (v && json_object_deep_copy(v, &c, NULL) != 0) return NULL;
  return c;
}

/* A number in a quantity position becomes its text. */
static void quantity_to_string(json_object *map, const char *key) {
  json_object *v = get(map, key);
  char buf[64];
  if (json_object_is_type(v, json_type_int))
    snprintf(buf, sizeof buf, "%" PRId64, json_object_get_int64(v));
  else if (json_object_is_type(v, json_type_double))
    snprintf(buf, sizeof buf, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
  else
    return;
  json_object_object_add(map, key, json_object_new_string(buf));
}

static void quantities_in_map(json_object *map) {
  if (!json_object_is_type(map, json_type_object)) return;
  json_object_object_foreach(map, key, val) {
    (void)val;
    quantity_to_string(map, key);
  }
}

static void normalize_pod_spec(json_object *ps) {
  static const char *const lists[] = {"initContainers", "containers", NULL};
  for (const char *const *l = lists; *l; l++) {
    json_object *arr = get(ps, *l);
    size_t n = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
    for (size_t i = 0; i < n; i++) {
      json_object *res = get(json_object_array_get_idx(arr, i), "resources");
      quantities_in_map(get(res, "requests"));
      quantities_in_map(get(res, "limits"));
    }
  }
  json_object *vols = get(ps, "volumes");
  size_t n = json_object_is_type(vols, json_type_array) ? json_object_array_length(vols) : 0;
  for (size_t i = 0; i < n; i++)
    quantity_to_string(get(json_object_array_get_idx(vols, i), "emptyDir"), "sizeLimit");
  if (!get(ps, "restartPolicy"))
    json_object_object_add(ps, "restartPolicy", json_object_new_string("Always"));
  if (!get(ps, "terminationGracePeriodSeconds"))
    json_object_object_add(ps, "terminationGracePeriodSeconds", json_object_new_int(30));
}

json_object *sbx_sandbox_to_stored(json_object *in, sbx_error_t *err) {
  const char *api = json_object_get_string(get(in, "apiVersion"));
  const char *kind = json_object_get_string(get(in, "kind"));
  bool alpha = api && strcmp(api, SBX_API_V1ALPHA1) == 0;
  bool beta = api && strcmp(api, SBX_API_V1BETA1) == 0;
  if (!kind || strcmp(kind, "Sandbox") != 0 || !(alpha || beta)) {
    sbx_error_set(err, 0, "not a Sandbox of agents.x-k8s.io/v1alpha1 or v1beta1");
    if (err) err->errnum = EINVAL;
    return NULL;
  }
  json_object *meta = get(in, "metadata"), *spec = get(in, "spec");
  if (!json_object_is_type(spec, json_type_object) ||
      !json_object_is_type(get(meta, "name"), json_type_string)) {
    sbx_error_set(err, 0, "a Sandbox needs metadata.name and spec");
    if (err) err->errnum = EINVAL;
    return NULL;
  }

  const char *mode = "Running";
  if (alpha) {
    json_object *r = get(spec, "replicas");
    if (r && (!json_object_is_type(r, json_type_int) || json_object_get_int64(r) < 0 ||
              json_object_get_int64(r) > 1)) {
      sbx_error_set(err, 0, "spec.replicas: must be 0 or 1");
      if (err) err->errnum = EINVAL;
      return NULL;
    }
    if (r && json_object_get_int64(r) == 0) mode = "Suspended";
  } else if (json_object_is_type(get(spec, "operatingMode"), json_type_string)) {
    mode = json_object_get_string(get(spec, "operatingMode"));
  }

  json_object *out = json_object_new_object();
  json_object_object_add(out, "apiVersion", json_object_new_string(SBX_API_V1BETA1));
  json_object_object_add(out, "kind", json_object_new_string("Sandbox"));

  json_object *m = json_object_new_object();
  json_object_object_add(m, "name", json_object_new_string(json_object_get_string(get(meta, "name"))));
  json_object *ns = get(meta, "namespace");
  json_object_object_add(m, "namespace",
                         json_object_new_string(json_object_is_type(ns, json_type_string)
                                                    ? json_object_get_string(ns)
                                                    : "default"));
  static const char *const maps[] = {"labels", "annotations", NULL};
  for (const char *const *k = maps; *k; k++)
    if (json_object_is_type(get(meta, *k), json_type_object))
      json_object_object_add(m, *k, copy_no_nulls(get(meta, *k)));
  json_object_object_add(out, "metadata", m);

  json_object *s = json_object_new_object();
  json_object_object_add(s, "operatingMode", json_object_new_string(mode));
  json_object *pt = copy_no_nulls(get(spec, "podTemplate"));
  if (!pt) pt = json_object_new_object();
  json_object *ps = get(pt, "spec");
  if (!ps) {
    ps = json_object_new_object();
    json_object_object_add(pt, "spec", ps);
  }
  normalize_pod_spec(ps);
  json_object_object_add(s, "podTemplate", pt);
  json_object *policy = get(spec, "shutdownPolicy");
  json_object_object_add(s, "shutdownPolicy",
                         json_object_new_string(json_object_is_type(policy, json_type_string)
                                                    ? json_object_get_string(policy)
                                                    : "Retain"));
  if (get(spec, "shutdownTime"))
    json_object_object_add(s, "shutdownTime", copy_no_nulls(get(spec, "shutdownTime")));
  json_object *vcts = get(spec, "volumeClaimTemplates");
  if (vcts) {
    json_object *v = copy_no_nulls(vcts);
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    for (size_t i = 0; i < n; i++) {
      json_object *res = get(get(json_object_array_get_idx(v, i), "spec"), "resources");
      quantities_in_map(get(res, "requests"));
    }
    json_object_object_add(s, "volumeClaimTemplates", v);
  }
  json_object_object_add(out, "spec", s);
  return out;
}

json_object *sbx_sandbox_for_version(json_object *stored, const char *apiversion) {
  if (!apiversion) return NULL;
  bool alpha = strcmp(apiversion, SBX_API_V1ALPHA1) == 0;
  if (!alpha && strcmp(apiversion, SBX_API_V1BETA1) != 0) return NULL;
  json_object *out = NULL;
  if (json_object_deep_copy(stored, &out, NULL) != 0 || !json_object_is_type(out, json_type_object)) {
    json_object_put(out);
    return NULL;
  }
  json_object_object_del(out, "x-sbx");
  json_object_object_add(out, "apiVersion", json_object_new_string(apiversion));
  json_object *spec = get(out, "spec"), *status = get(out, "status");
  if (alpha) {
    const char *mode = json_object_get_string(get(spec, "operatingMode"));
    int replicas = mode && strcmp(mode, "Suspended") == 0 ? 0 : 1;
    if (json_object_is_type(spec, json_type_object)) {
      json_object_object_del(spec, "operatingMode");
      json_object_object_add(spec, "replicas", json_object_new_int(replicas));
    }
    if (json_object_is_type(status, json_type_object) && !get(status, "replicas"))
      json_object_object_add(status, "replicas", json_object_new_int(replicas));
  } else if (json_object_is_type(status, json_type_object)) {
    json_object_object_del(status, "replicas"); /* not a v1beta1 status field */
  }
  return out;
}

int sbx_secret_normalize(json_object *secret, sbx_error_t *err) {
  if (!json_object_is_type(secret, json_type_object)) {
    sbx_error_set(err, 0, "a Secret must be an object");
    if (err) err->errnum = EINVAL;
    return -1;
  }
  json_object *sd = get(secret, "stringData");
  if (json_object_is_type(sd, json_type_object)) {
    json_object *data = get(secret, "data");
    if (!json_object_is_type(data, json_type_object)) {
      data = json_object_new_object();
      json_object_object_add(secret, "data", data);
    }
    json_object_object_foreach(sd, key, val) {
      if (!val) continue;
      if (!json_object_is_type(val, json_type_string)) {
        sbx_error_set(err, 0, "stringData.%s: expected string", key);
        if (err) err->errnum = EINVAL;
        return -1;
      }
      char *enc = sbx_base64_encode(json_object_get_string(val),
                                    (size_t)json_object_get_string_len(val));
      if (!enc) return sbx_error_set(err, ENOMEM, "stringData.%s", key);
      json_object_object_add(data, key, json_object_new_string(enc));
      free(enc);
    }
  }
  json_object_object_del(secret, "stringData");
  json_object *type = get(secret, "type");
  if (!json_object_is_type(type, json_type_string) || !*json_object_get_string(type))
    json_object_object_add(secret, "type", json_object_new_string("Opaque"));
  return 0;
}
