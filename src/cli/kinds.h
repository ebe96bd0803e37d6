/* kinds.h: the kinds of object `sbx` knows, the names a user may call them by, and the
 * REST paths they live at.
 *
 * kubectl resolves a resource argument by asking the server for its API groups; sbx knows
 * its few kinds statically, in one table (kinds.c), with the same spellings kubectl accepts:
 * the plural, the singular, the Kind, the CRD's short names, each optionally qualified by
 * its group (`sandboxes.agents.x-k8s.io`) or version and group
 * (`sandbox.v1alpha1.agents.x-k8s.io`), case-insensitively. Resource arguments come as
 * `KIND NAME...` or as `KIND/NAME...`, as with kubectl. A new kind is one table entry. */
#ifndef SBX_CLI_KINDS_H
#define SBX_CLI_KINDS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

typedef struct sbx_kind {
  const char *kind;           /* "Sandbox" */
  const char *list_kind;      /* "SandboxList" */
  const char *plural;         /* "sandboxes": the path segment */
  const char *singular;       /* "sandbox" */
  const char *short_names[3]; /* NULL-terminated */
  const char *group;          /* "agents.x-k8s.io"; "" for the core group */
  const char *version;        /* "v1alpha1" */
  bool namespaced;
} sbx_kind_t;

typedef struct sbx_ref {
  const sbx_kind_t *kind;
  const char *name; /* points into argv */
} sbx_ref_t;

/* The kind the user means by `name`, or NULL. */
const sbx_kind_t *sbx_kind_lookup(const char *name);

/* The default kind of `get`/`ps`: sandboxes. */
const sbx_kind_t *sbx_kind_sandbox(void);

/* "agents.x-k8s.io/v1alpha1", or "v1" for the core group. Static storage per kind. */
const char *sbx_kind_api_version(const sbx_kind_t *k, char *buf, size_t size);

/* How kubectl names the kind in messages: "sandbox.agents.x-k8s.io", "secret". */
const char *sbx_kind_display(const sbx_kind_t *k, char *buf, size_t size);

/* Resolve positional resource arguments. On success *kind is the kind named (the first
 * one's in KIND/NAME form; NULL when args is empty) and *refs (malloc'd, *nrefs entries)
 * the named objects; only a kind gives *nrefs == 0. Returns 0 or -1. */
int sbx_resource_args(char **args, size_t nargs, const sbx_kind_t **kind, sbx_ref_t **refs,
                      size_t *nrefs, sbx_error_t *err);

/* Path of a collection (name NULL) or an object; namespace NULL means across all
 * namespaces. Refuses names and namespaces that cannot be valid object names (so that
 * nothing a user types is spliced into a URL unchecked). Returns 0 or -1. */
int sbx_kind_path(const sbx_kind_t *k, const char *ns, const char *name, char *buf, size_t size,
                  sbx_error_t *err);

#endif
