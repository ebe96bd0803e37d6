/* verb_refs.c: the command line of the verbs that name objects and nothing else
 * (`describe`, `delete`): `-n NS` and `KIND NAME...` or `KIND/NAME...`, flags anywhere. */
#include "cli/verb_refs.h"

#include <getopt.h>
#include <stdlib.h>

#include "lib/cleanup.h"

static const struct option long_opts[] = {
    {"namespace", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int sbx_verb_refs(int argc, char **argv, const sbx_cmd_t *self, const char **ns, const sbx_kind_t **kind,
                  sbx_ref_t **refs, size_t *nrefs) {
  *ns = "default";
  _cleanup_free_ char **pos = calloc((size_t)argc + 1, sizeof *pos);
  if (!pos) return -1;
  size_t npos = 0;
  /* '-': positionals come back in order as opt 1, so flags may go anywhere (kubectl) */
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "-:n:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1: pos[npos++] = optarg; break;
    case 'n': *ns = optarg; break;
    case 'h': sbx_cmd_usage(self); return 1;
    default: sbx_cmd_flag_error(self, opt, argv); return -1;
    }
  }
  while (optind < argc) pos[npos++] = argv[optind++];
  sbx_error_t err = {0};
  if (sbx_resource_args(pos, npos, kind, refs, nrefs, &err) < 0) {
    sbx_cmd_usage_error(self, "%s", err.msg);
    return -1;
  }
  return 0;
}
