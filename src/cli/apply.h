/* apply.h: the pure parts of `sbx apply`: where a manifest's object goes, what is sent,
 * and whether the object already there is the same.
 *
 * kubectl decides created / configured / unchanged on the client, and so does sbx: GET the
 * object; absent means create (POST); present means compare, then PUT only if something
 * the user controls differs. What is compared, per kind:
 *   Sandbox   spec, labels, annotations
 *   Secret    data (stringData folded in as base64, as the server does), type (Opaque
 *             by default), labels, annotations
 *   ConfigMap data, binaryData, labels, annotations
 * Annotations the server or sbx itself sets (the owner annotation, kubectl's
 * last-applied-configuration) are left out of the comparison.
 *
 * The server fills defaults into a Sandbox's spec (replicas / operatingMode, a restart
 * policy...), so a plain equality test would call every re-apply "configured". As kubectl
 * does, the object sent carries the annotation kubectl.kubernetes.io/last-applied-configuration
 * (the document as applied), and the comparison is three-way: every field the document
 * sets must be equal in the live object; a field only the live object has is a server
 * default unless the last applied document had it (then the user removed it: a change).
 * Secrets do not get that annotation: it would copy their values into metadata, which
 * `describe` and `get` show; their fields have no server defaults to tell apart anyway. */
#ifndef SBX_CLI_APPLY_H
#define SBX_CLI_APPLY_H

#include <json-c/json.h>
#include <stdbool.h>

#include "cli/kinds.h"
#include "lib/error.h"

#define SBX_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

typedef struct sbx_apply_target {
  const sbx_kind_t *kind;
  const char *name; /* points into the document */
  char ns[254];
  char path[1024];       /* the object's REST path, in the document's API version */
  char collection[1024]; /* where it is created */
  char display[128];     /* "sandbox.agents.x-k8s.io", "secret": kubectl's words */
} sbx_apply_target_t;

/* Where the (validated) document goes. ns_flag: the -n given, or NULL; the namespace is
 * metadata.namespace, else ns_flag, else "default", and the two disagreeing is an error
 * as in kubectl. Returns 0 or -1. */
int sbx_apply_target(json_object *doc, const char *ns_flag, sbx_apply_target_t *t,
                     sbx_error_t *err);

/* The body to POST or PUT: a copy of the document without `status` and server-set
 * metadata, its namespace set, and (Sandbox, ConfigMap) the last-applied annotation.
 * NULL when out of memory. */
json_object *sbx_apply_body(json_object *doc, const sbx_apply_target_t *t);

/* Whether live (what GET answered) already is what body (sbx_apply_body's) asks for. */
bool sbx_apply_unchanged(const sbx_kind_t *kind, json_object *body, json_object *live);

/* Three-way equality of the fields of `want` (see above): every key of want is in live
 * and equal; a key only in live counts as a change only if `last` has it. Numbers are
 * compared by value (1 == 1.0). last may be NULL. */
bool sbx_apply_fields_equal(json_object *want, json_object *live, json_object *last);

#endif
