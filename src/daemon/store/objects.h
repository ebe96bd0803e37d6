/* objects.h: typed lookups of stored objects (the store room, objects.c): a caller's
 * sandbox, its internal bookkeeping and what its shim reports. Used by the controller and
 * the API; calls only the store and src/lib. */
#ifndef SBX_STORE_OBJECTS_H
#define SBX_STORE_OBJECTS_H

#include <json-c/json.h>

#include "daemon/daemon.h"

/* objects.c: the caller's sandbox (ENOENT, "not found", for another user's), its state
 * dir (x-sbx.stateDir; NULL if none) and its shim's status.json (NULL if none) */
int sbx_sandbox_find(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, json_object **obj,
                     sbx_error_t *err);
const char *sbx_sandbox_state_dir(json_object *obj);
json_object *sbx_sandbox_runtime_status(json_object *obj);

/* whose a listed object is: x-sbx.owner, else the owner annotation the store's list adds */
uid_t sbx_object_owner(json_object *obj);

/* the object's internal bookkeeping ("x-sbx"), created if absent */
json_object *sbx_internal(json_object *obj);

#endif
