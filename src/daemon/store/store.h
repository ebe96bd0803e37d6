/* store.h: the daemon's state in SQLite (WAL mode) under --root.
 *
 * Objects are kept as Kubernetes keeps them: the JSON object (apiVersion, kind, metadata,
 * spec) plus its status, keyed by (kind, namespace, name, owner uid): two users may each
 * own a sandbox called "jupyterlab-sandbox". Alongside: the pool of host id ranges, one
 * slot per live sandbox, never shared by two.
 *
 * Every call that can fail returns -1 and fills err; "not found" sets err->errnum = ENOENT,
 * "already exists" EEXIST. The store serialises its own access (one connection, a mutex),
 * so any daemon thread may call it. */
#ifndef SBX_STORE_H
#define SBX_STORE_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

#define SBX_OWNER_ANY ((uid_t)-1)

struct sbx_store;

/* Open (creating if needed) the database at `path`, mode 0600. */
int sbx_store_open(const char *path, struct sbx_store **out, sbx_error_t *err);
void sbx_store_close(struct sbx_store *s);

/* Insert a new object (a copy of `obj` is stored). EEXIST if the key is taken. */
int sbx_store_create(struct sbx_store *s, const char *kind, const char *ns, const char *name,
                     uid_t owner, json_object *obj, sbx_error_t *err);
/* Replace an existing object. ENOENT if absent. */
int sbx_store_update(struct sbx_store *s, const char *kind, const char *ns, const char *name,
                     uid_t owner, json_object *obj, sbx_error_t *err);
/* Replace it only while it is still at resourceVersion expect_rv (NULL: unconditionally):
 * ESTALE (409 Conflict at the API) when another write came first, EINVAL for a version
 * that is not a number. */
int sbx_store_update_if(struct sbx_store *s, const char *kind, const char *ns, const char *name, uid_t owner,
                        json_object *obj, const char *expect_rv, sbx_error_t *err);
/* A resourceVersion's text as a number; EINVAL with a message if it is not one. */
int sbx_store_parse_rv(const char *text, int64_t *rv, sbx_error_t *err);
/* Fetch one (a new reference in *out). With owner SBX_OWNER_ANY the first match of any
 * owner is returned and *found_owner (if not NULL) says whose it is. ENOENT if absent. */
int sbx_store_get(struct sbx_store *s, const char *kind, const char *ns, const char *name,
                  uid_t owner, json_object **out, uid_t *found_owner, sbx_error_t *err);
int sbx_store_delete(struct sbx_store *s, const char *kind, const char *ns, const char *name,
                     uid_t owner, sbx_error_t *err);
/* All objects of `kind`, optionally in one namespace (ns NULL: all) and of one owner
 * (SBX_OWNER_ANY: all), ordered by namespace then name. *out is a new JSON array; each
 * element is the stored object with "metadata.annotations" gaining
 * "sbx.x-k8s.io/owner-uid" (a decimal string) so callers can show it. */
int sbx_store_list(struct sbx_store *s, const char *kind, const char *ns, uid_t owner,
                   json_object **out, sbx_error_t *err);
/* The same, and the resourceVersion the list is at (*rv) */
int sbx_store_list_at(struct sbx_store *s, const char *kind, const char *ns, uid_t owner, json_object **out,
                      int64_t *rv, sbx_error_t *err);

/* Watching. Every write (create, update, delete) takes the next resourceVersion from one
 * counter, sets the object's metadata.resourceVersion, and is logged as an ADDED,
 * MODIFIED or DELETED change; the last SBX_STORE_HISTORY changes are kept. */
#define SBX_STORE_HISTORY 1000
int64_t sbx_store_revision(struct sbx_store *s);
/* The changes to objects of `kind` (ns NULL: any; owner SBX_OWNER_ANY: anyone's) after
 * resourceVersion `since`, oldest first, at most 256: a new array of {"type","object"};
 * ERANGE when `since` is older than the history kept (410 Gone at the API) or newer
 * than the counter. */
int sbx_store_changes(struct sbx_store *s, const char *kind, const char *ns, uid_t owner, int64_t since,
                      json_object **out, sbx_error_t *err);
/* Wait up to timeout_ms for a write after resourceVersion `after`: 1 if one came, else 0 */
int sbx_store_wait_change(struct sbx_store *s, int64_t after, int timeout_ms);

/* Host id ranges: slot k covers host ids [base + k*size, base + (k+1)*size). Allocating
 * for a holder that already has a slot returns the same slot. EUSERS when all are taken
 * (on the whole host, once a registry is in use); ENOSPC means the disk is full. */
int sbx_store_idslot_alloc(struct sbx_store *s, const char *holder, uint32_t nslots,
                           uint32_t *slot, sbx_error_t *err);
int sbx_store_idslot_release(struct sbx_store *s, const char *holder, sbx_error_t *err);
/* The holders of this store's slots (a new JSON array of strings). */
int sbx_store_idslot_holders(struct sbx_store *s, json_object **out, sbx_error_t *err);
/* Allocate from the host-wide registry at `path` (an SQLite file every sbxd of the host
 * shares; created 0600, keyed by each store's database path) instead of this store alone.
 * Syncs this store's rows and drops the rows of stores whose database file is gone. EEXIST (with both sandboxes
 * named) if another root holds one of this store's slots. */
int sbx_store_use_registry(struct sbx_store *s, const char *path, sbx_error_t *err);

#endif
