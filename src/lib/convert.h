/* convert.h: Sandbox objects between the versions users speak (agents.x-k8s.io/v1alpha1,
 * v1beta1) and the one form the store keeps (v1beta1, defaults filled in), and the
 * normalisation of Secrets on write.
 *
 * Stored Sandbox: apiVersion agents.x-k8s.io/v1beta1, kind Sandbox, metadata with only
 * name, namespace (default "default"), labels and annotations; spec with operatingMode
 * (Running | Suspended; v1alpha1 replicas 1|absent -> Running, 0 -> Suspended),
 * shutdownPolicy (default Retain), podTemplate.spec.restartPolicy (default Always) and
 * terminationGracePeriodSeconds (default 30); quantities written as strings ("2", not 2);
 * null fields dropped. Status and server-set metadata are the daemon's to add. */
#ifndef SBX_CONVERT_H
#define SBX_CONVERT_H

#include <json-c/json.h>

#include "lib/error.h"

#define SBX_API_V1ALPHA1 "agents.x-k8s.io/v1alpha1"
#define SBX_API_V1BETA1 "agents.x-k8s.io/v1beta1"

/* A new stored-form object from a validated v1alpha1 or v1beta1 Sandbox (in is not
 * changed). NULL with err filled if in is not a Sandbox of a served version. */
json_object *sbx_sandbox_to_stored(json_object *in, sbx_error_t *err);

/* A new object: the stored Sandbox as served in `apiversion` (without the internal "x-sbx"
 * key). For v1alpha1 spec.operatingMode becomes spec.replicas (Running 1, Suspended 0)
 * and status.replicas is set the same way unless the status has it; everything else is
 * untouched. NULL for an unknown version. */
json_object *sbx_sandbox_for_version(json_object *stored, const char *apiversion);

/* Secret on write: stringData folded into data (base64; stringData wins over data for
 * the same key) and removed, type defaulted to Opaque. Returns 0 or -1. */
int sbx_secret_normalize(json_object *secret, sbx_error_t *err);

#endif
