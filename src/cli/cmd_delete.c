/* cmd_delete.c: `sbx delete KIND NAME... | KIND/NAME...`, as kubectl delete.
 *
 * One DELETE per name, in the order given; the daemon stops the sandbox (SIGTERM, then
 * SIGKILL after its grace period) before answering. A name the server refuses is reported
 * and the others are still deleted; the exit status says whether all went well. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/kinds.h"
#include "cli/verb_refs.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

int sbx_cmd_delete(int argc, char **argv, const sbx_cmd_t *self) {
  const char *ns;
  const sbx_kind_t *kind;
  _cleanup_free_ sbx_ref_t *refs = NULL;
  size_t nrefs;
  int parsed = sbx_verb_refs(argc, argv, self, &ns, &kind, &refs, &nrefs);
  if (parsed != 0) return parsed > 0 ? 0 : SBX_EXIT_FAILURE;
  if (nrefs == 0) {
    sbx_cmd_usage_error(self, kind ? "give the name of what to delete: sbx delete %s NAME"
                                   : "give what to delete: sbx delete %s NAME or KIND/NAME",
                        kind ? kind->singular : "KIND");
    return SBX_EXIT_FAILURE;
  }

  int rc = 0;
  for (size_t i = 0; i < nrefs; i++) {
    char what[128];
    _cleanup_json_ json_object *answer = NULL;
    int r = sbx_api_call_ref("delete", "DELETE", &refs[i], ns, &answer);
    if (r < 0) return SBX_EXIT_FAILURE;
    if (r > 0) {
      rc = SBX_EXIT_FAILURE;
      continue;
    }
    printf("%s \"%s\" deleted\n", sbx_kind_display(refs[i].kind, what, sizeof what),
           refs[i].name);
    fflush(stdout);
  }
  return rc;
}
