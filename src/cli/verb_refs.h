/* verb_refs.h: parse `VERB [-n NS] KIND NAME... | KIND/NAME...` (verb_refs.c). */
#ifndef SBX_CLI_VERB_REFS_H
#define SBX_CLI_VERB_REFS_H

#include "cli/cli.h"
#include "cli/kinds.h"

/* 0 with *ns, *kind and *refs (the caller frees *refs); 1 when --help was printed; -1
 * after printing what was wrong with the command line. */
int sbx_verb_refs(int argc, char **argv, const sbx_cmd_t *self, const char **ns, const sbx_kind_t **kind,
                  sbx_ref_t **refs, size_t *nrefs);

#endif
