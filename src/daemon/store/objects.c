/* objects.c: finding a caller's sandbox and what its shim reports, for the stream
 * operations (exec, logs, port-forward) and the REST handlers.
 *
 * A sandbox's runtime facts live in two places: the stored object's internal "x-sbx"
 * (id, state dir) and the shim's <state>/status.json (pids, container states), which the
 * shim rewrites atomically and which outlives the daemon. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
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

void sbx_stream_reply_error(int conn, const char *reason, const char *message) {
  sbx_error_t err;
  json_object *r = json_object_new_object();
  json_object_object_add(r, "ok", json_object_new_boolean(0));
  json_object_object_add(r, "reason", json_object_new_string(reason));
  json_object_object_add(r, "message", json_object_new_string(message));
  sbx_wire_send(conn, r, NULL, 0, &err);
  json_object_put(r);
}

void sbx_stream_reply_err(int conn, const sbx_error_t *e) {
  const char *reason = e->errnum == ENOENT ? "NotFound"
                       : e->errnum == EINVAL ? "Invalid"
                       : e->errnum == EBUSY  ? "Conflict"
                       : (e->errnum == EACCES || e->errnum == EPERM) ? "Forbidden"
                                                                    : "InternalError";
  sbx_stream_reply_error(conn, reason, e->msg[0] ? e->msg : "failed");
}
