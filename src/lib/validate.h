/* validate.h: the check every manifest object passes before anything changes.
 *
 * An object is dispatched on apiVersion + kind (agents.x-k8s.io/v1alpha1 and v1beta1
 * Sandbox, v1 Secret, v1 ConfigMap; anything else is refused) and walked against a static
 * table of the fields sbx honours. Every field is either honoured (and its type and value
 * checked) or refused with its path:
 *   "<path>: not supported by sbx"   the field exists in the upstream API, sbx does not do it
 *   "<path>: unknown field"          the field exists nowhere upstream (a typo, usually)
 *   "<path>: expected string, got integer", "<path>: \"1.5.5Gi\" is not a quantity: ..."
 * followed by " (line N)" when the document's line map knows the path (or a parent).
 * Nothing in a manifest is silently ignored, except what `get -o yaml` output carries back
 * when it is re-applied: `status` and server-set metadata (uid, resourceVersion,
 * creationTimestamp, generation, managedFields).
 *
 * Validation is about the object alone: whether referenced secrets exist, whether a
 * hostPath is allowed, whether resources fit the machine are the daemon's questions. */
#ifndef SBX_VALIDATE_H
#define SBX_VALIDATE_H

#include <json-c/json.h>
#include <stdbool.h>

#include "lib/error.h"
#include "lib/manifest.h"

#define SBX_VALIDATE_MAX_CONTAINERS 100

/* Capabilities a container may add (without the CAP_ prefix): Docker's default set minus
 * the ones sbx never grants (NET_RAW, MKNOD, AUDIT_WRITE). */
extern const char *const sbx_safe_capabilities[];

/* Validate obj (the document's object, or a REST body). doc may be NULL (no line numbers).
 * Returns 0, or -1 with err saying what is wrong and where (errnum EINVAL). */
int sbx_validate(json_object *obj, const struct sbx_manifest_doc *doc, sbx_error_t *err);

/* True when s is an IANA service name as a port name must be (at most 15 of [a-z0-9-],
 * at least one letter, no leading, trailing or doubled '-'). */
bool sbx_is_port_name(const char *s);

/* True when s is an RFC 3339 date-time ("2025-06-01T12:00:00Z", "...+02:00"). */
bool sbx_is_rfc3339(const char *s);

#endif
