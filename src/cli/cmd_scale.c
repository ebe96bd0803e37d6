/* cmd_scale.c: `sbx scale sandbox NAME --replicas=0|1 [-n NS]`, as kubectl scale.
 *
 * A sandbox runs one pod or none, so scaling is suspending (0) and resuming (1). sbx reads
 * the object through the v1alpha1 URL, where that is spec.replicas, sets it, and writes it
 * back (PUT); the server converts it to the stored operatingMode. The object written back
 * is the one read, less its status and the owner annotation the server adds when it
 * serves it, so nothing else of the user's changes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/kinds.h"
#include "cli/printer.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

enum { OPT_REPLICAS = 0x100 };

static const struct option long_opts[] = {
    {"replicas", required_argument, NULL, OPT_REPLICAS},
    {"namespace", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int scale_one(const sbx_ref_t *ref, const char *ns, int replicas) {
  char path[1024], display[128];
  sbx_error_t err = {0};
  sbx_kind_display(ref->kind, display, sizeof display);
  if (sbx_kind_path(ref->kind, ns, ref->name, path, sizeof path, &err) < 0) {
    fprintf(stderr, "sbx scale: %s\n", err.msg);
    return 1;
  }
  _cleanup_json_ json_object *obj = NULL, *answer = NULL;
  int r = sbx_api_call("GET", path, NULL, &obj, &err);
  json_object *spec = NULL;
  if (r == 0 && (!obj || !json_object_object_get_ex(obj, "spec", &spec) ||
                 !json_object_is_type(spec, json_type_object))) {
    fprintf(stderr, "sbx: sbxd answered %s without a spec\n", path);
    return 1;
  }
  if (r == 0) {
    json_object_object_add(spec, "replicas", json_object_new_int(replicas));
    json_object_object_del(obj, "status");
    json_object *md = json_object_object_get(obj, "metadata");
    json_object *ann = md ? json_object_object_get(md, "annotations") : NULL;
    if (ann) json_object_object_del(ann, SBX_OWNER_ANNOTATION);
    r = sbx_api_call("PUT", path, obj, &answer, &err);
  }
  if (r < 0) {
    fprintf(stderr, r == SBX_API_SERVER_ERROR ? "%s\n" : "sbx: %s\n", err.msg);
    return r == SBX_API_SERVER_ERROR ? 1 : -1;
  }
  printf("%s/%s scaled\n", display, ref->name);
  fflush(stdout);
  return 0;
}

int sbx_cmd_scale(int argc, char **argv, const sbx_cmd_t *self) {
  const char *ns = "default", *replicas_arg = NULL;
  _cleanup_free_ char **pos = calloc((size_t)argc + 1, sizeof *pos);
  if (!pos) return SBX_EXIT_FAILURE;
  size_t npos = 0;
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "-:n:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1: pos[npos++] = optarg; break;
    case OPT_REPLICAS: replicas_arg = optarg; break;
    case 'n': ns = optarg; break;
    case 'h': sbx_cmd_usage(self); return 0;
    default: sbx_cmd_flag_error(self, opt, argv); return SBX_EXIT_FAILURE;
    }
  }
  while (optind < argc) pos[npos++] = argv[optind++];
  sbx_error_t err = {0};
  int replicas;
  if (sbx_parse_replicas(replicas_arg, &replicas, &err) < 0) {
    sbx_cmd_usage_error(self, "%s", err.msg);
    return SBX_EXIT_FAILURE;
  }
  const sbx_kind_t *kind;
  _cleanup_free_ sbx_ref_t *refs = NULL;
  size_t nrefs;
  if (sbx_resource_args(pos, npos, &kind, &refs, &nrefs, &err) < 0) {
    sbx_cmd_usage_error(self, "%s", err.msg);
    return SBX_EXIT_FAILURE;
  }
  if (nrefs == 0) {
    sbx_cmd_usage_error(self, "give the sandbox: sbx scale sandbox NAME --replicas=0|1");
    return SBX_EXIT_FAILURE;
  }
  for (size_t i = 0; i < nrefs; i++)
    if (strcmp(refs[i].kind->kind, "Sandbox") != 0) {
      sbx_cmd_usage_error(self, "only sandboxes can be scaled, not %s", refs[i].kind->plural);
      return SBX_EXIT_FAILURE;
    }
  int rc = 0;
  for (size_t i = 0; i < nrefs; i++) {
    int r = scale_one(&refs[i], ns, replicas);
    if (r != 0) rc = SBX_EXIT_FAILURE;
    if (r < 0) break;
  }
  return rc;
}
