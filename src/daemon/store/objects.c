/* objects.c (the store room): finding a caller's sandbox, its internal bookkeeping and
 * what its shim reports, for the controller's stream operations and the REST handlers.
 *
 * A sandbox's runtime facts live in two places: the stored object's internal "x-sbx"
 * (id, state dir) and the shim's <state>/status.json (pids, container states), which the
 * shim rewrites atomically and which outlives the daemon. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/store/objects.h"
#include "lib/wire.h"

int sbx_sandbox_find(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, json_object **obj,
                     sbx_error_t *err) {
  if (sbx_store_get(d->store, "Sandbox", ns, name, owner, obj, NULL, err) < 0) {
    /* the REST API's words; another user's sandbox is answered exactly the same */
    if (err->errnum == ENOENT) sbx_error_says(err, ENOENT, "sandboxes." SBX_API_GROUP " \"%s\" not found", name);
    return -1;
  }
  return 0;
}

const char *sbx_sandbox_state_dir(json_object *obj) {
  json_object *x;
  if (!json_object_object_get_ex(obj, SBX_INTERNAL, &x)) return NULL;
  return sbx_json_str(x, "stateDir");
}

json_object *sbx_sandbox_runtime_status(json_object *obj) {
  const char *dir = sbx_sandbox_state_dir(obj);
  if (!dir) return NULL;
  char path[4200];
  snprintf(path, sizeof path, "%s/status.json", dir);
  json_object *st = json_object_from_file(path);
  if (st && !json_object_is_type(st, json_type_object)) {
    json_object_put(st);
    return NULL;
  }
  return st;
}

json_object *sbx_internal(json_object *obj) {
  json_object *x;
  if (json_object_object_get_ex(obj, SBX_INTERNAL, &x)) return x;
  x = json_object_new_object();
  json_object_object_add(obj, SBX_INTERNAL, x);
  return x;
}

uid_t sbx_object_owner(json_object *obj) {
  json_object *x;
  long long o = json_object_object_get_ex(obj, SBX_INTERNAL, &x) ? sbx_json_int(x, "owner", -1) : -1;
  if (o >= 0) return (uid_t)o;
  const char *u = sbx_json_str(sbx_json_path(obj, "metadata.annotations"), SBX_ANN_OWNER);
  return u ? (uid_t)strtoul(u, NULL, 10) : 0;
}
