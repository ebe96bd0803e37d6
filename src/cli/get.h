/* get.h: what `sbx get` (cmd_get.c) lends other verbs (`sbx top`): a list or named
 * objects of a kind, fetched and printed the way `get` prints them. Both return the exit
 * status. */
#ifndef SBX_CLI_GET_H
#define SBX_CLI_GET_H

#include "cli/kinds.h"
#include "cli/printer.h"

/* The kind's objects in ns (NULL: every namespace). users: NULL (the caller's own), "true"
 * (--all-users: everyone's, or refused) or "admin" (-A: everyone's when the caller may see
 * them, else the caller's own). */
int sbx_get_list(const sbx_kind_t *kind, const char *ns, const char *users, const sbx_print_opts_t *po);
/* The named objects, one request each; a missing one is reported and the others shown. */
int sbx_get_named(const sbx_kind_t *kind, const sbx_ref_t *refs, size_t nrefs, const char *ns,
                  const sbx_print_opts_t *po);

#endif
