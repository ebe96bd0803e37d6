/* reconcile.h: the loop that turns declared Sandboxes into running pods (reconcile.c),
 * and the pieces of a pod sandbox's bookkeeping the REST handlers share with it. */
#ifndef SBX_RECONCILE_H
#define SBX_RECONCILE_H

#include <json-c/json.h>
#include <stdint.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/store/objects.h"

int sbx_reconcile_start(struct sbx_daemon *d, sbx_error_t *err);
/* something changed: run a pass now */
void sbx_reconcile_kick(void);
/* a pod sandbox's shim ended (called by sbx_run_finished, the supervisor's on_shim_exit) */
void sbx_pod_finished(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner);
/* remove a stopped pod sandbox: volumes released (PVCs kept), state dir, id range, object */
int sbx_pod_remove(struct sbx_daemon *d, json_object *obj, sbx_error_t *err);

/* append an event to the object's own list (repeats are counted, the last 50 kept) */
void sbx_pod_event(json_object *obj, const char *type, const char *reason, const char *message);
/* a hash of spec.podTemplate: a change restarts the pod */
uint64_t sbx_template_hash(json_object *obj);

/* sandbox_status.c: the status a pod sandbox shows, from its bookkeeping and its shim's
 * status.json: the Ready condition with upstream's reasons, replicas, and podStatus */
json_object *sbx_pod_status(json_object *obj, json_object *runtime);

#endif
