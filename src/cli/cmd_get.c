/* cmd_get.c: `sbx get [KIND [NAME...] | KIND/NAME...]` and `sbx ps`, as kubectl get.
 *
 * Without names: one list request (the namespace's, or across namespaces with -A, or
 * everyone's with --all-users), sorted by namespace and name. With names: one request
 * each; a missing one is reported in kubectl's words and the others are still shown, and
 * the exit status says something was missing. Output formats are printer.c's. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/get.h"
#include "cli/kinds.h"
#include "cli/printer.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

enum { OPT_ALL_USERS = 0x100 };

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"namespace", required_argument, NULL, 'n'},
    {"all-namespaces", no_argument, NULL, 'A'},
    {"all-users", no_argument, NULL, OPT_ALL_USERS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int print(const sbx_kind_t *kind, json_object **items, size_t n, bool single,
                 const sbx_print_opts_t *po) {
  sbx_error_t err = {0};
  if (sbx_print_objects(stdout, kind, items, n, single, po, &err) < 0) {
    fprintf(stderr, "sbx: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
  return 0;
}

int sbx_get_named(const sbx_kind_t *kind, const sbx_ref_t *refs, size_t nrefs, const char *ns,
                  const sbx_print_opts_t *po) {
  int rc = 0;
  _cleanup_free_ json_object **items = calloc(nrefs, sizeof *items);
  if (!items) return SBX_EXIT_FAILURE;
  size_t n = 0;
  for (size_t i = 0; i < nrefs; i++) {
    json_object *obj = NULL;
    int r = sbx_api_call_ref("get", "GET", &refs[i], ns, &obj);
    if (r != 0) {
      rc = SBX_EXIT_FAILURE;
      if (r < 0) break;
      continue;
    }
    if (obj) items[n++] = obj;
  }
  if (n > 0 && print(kind, items, n, nrefs == 1, po) != 0) rc = SBX_EXIT_FAILURE;
  for (size_t i = 0; i < n; i++) json_object_put(items[i]);
  return rc;
}

int sbx_get_list(const sbx_kind_t *kind, const char *ns, const char *users, const sbx_print_opts_t *po) {
  sbx_error_t err = {0};
  char path[1024];
  if (sbx_kind_path(kind, ns, NULL, path, sizeof path - 32, &err) < 0) {
    fprintf(stderr, "sbx get: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
  if (users) {
    strcat(path, "?allUsers=");
    strcat(path, users);
  }
  _cleanup_json_ json_object *list = NULL;
  int r = sbx_api_call("GET", path, NULL, &list, &err);
  if (r < 0) {
    fprintf(stderr, r == SBX_API_SERVER_ERROR ? "%s\n" : "sbx: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
  json_object *arr = NULL;
  if (!list || !json_object_object_get_ex(list, "items", &arr) ||
      !json_object_is_type(arr, json_type_array)) {
    fprintf(stderr, "sbx: sbxd answered %s without a list of items\n", path);
    return SBX_EXIT_FAILURE;
  }
  size_t n = json_object_array_length(arr);
  _cleanup_free_ json_object **items = calloc(n ? n : 1, sizeof *items);
  if (!items) return SBX_EXIT_FAILURE;
  for (size_t i = 0; i < n; i++) items[i] = json_object_array_get_idx(arr, i);
  sbx_sort_objects(items, n);

  if (n == 0 && (po->output == SBX_OUTPUT_TABLE || po->output == SBX_OUTPUT_WIDE ||
                 po->output == SBX_OUTPUT_NAME)) {
    if (ns) fprintf(stderr, "No resources found in %s namespace.\n", ns);
    else fprintf(stderr, "No resources found\n");
    return 0;
  }
  return print(kind, items, n, false, po);
}

static int get_main(int argc, char **argv, const sbx_cmd_t *self, bool ps) {
  const char *output = "", *ns = NULL;
  bool all_ns = false, all_users = false, admin_view = false;
  _cleanup_free_ char **pos = calloc((size_t)argc + 1, sizeof *pos);
  if (!pos) return SBX_EXIT_FAILURE;
  size_t npos = 0;
  if (ps) pos[npos++] = "sandboxes";

  /* '-': positionals come back in order as opt 1, so flags may go anywhere (kubectl). */
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "-:o:n:Ah", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1: pos[npos++] = optarg; break;
    case 'o': output = optarg; break;
    case 'n': ns = optarg; break;
    case 'A': all_ns = admin_view = true; break;
    case OPT_ALL_USERS: all_users = all_ns = true; break;
    case 'h': sbx_cmd_usage(self); return 0;
    default: sbx_cmd_flag_error(self, opt, argv); return SBX_EXIT_FAILURE;
    }
  }
  while (optind < argc) pos[npos++] = argv[optind++];

  sbx_error_t err = {0};
  sbx_print_opts_t po = {.all_namespaces = all_ns, .now = time(NULL)};
  if (sbx_output_parse(output, &po.output, &err) < 0) {
    sbx_cmd_usage_error(self, "%s", err.msg);
    return SBX_EXIT_FAILURE;
  }
  if (ps) {
    for (size_t i = 1; i < npos; i++)
      if (strchr(pos[i], '/')) {
        sbx_cmd_usage_error(self, "\"%s\": give sandbox names only", pos[i]);
        return SBX_EXIT_FAILURE;
      }
  }
  const sbx_kind_t *kind;
  _cleanup_free_ sbx_ref_t *refs = NULL;
  size_t nrefs;
  if (sbx_resource_args(pos, npos, &kind, &refs, &nrefs, &err) < 0) {
    sbx_cmd_usage_error(self, "%s", err.msg);
    return SBX_EXIT_FAILURE;
  }
  if (!kind) kind = sbx_kind_sandbox();
  if (nrefs > 0 && all_ns) {
    sbx_cmd_usage_error(self, "an object cannot be retrieved by name across all namespaces");
    return SBX_EXIT_FAILURE;
  }
  if (all_ns && ns) {
    sbx_cmd_usage_error(self, "-A and -n cannot be used together");
    return SBX_EXIT_FAILURE;
  }
  if (!ns) ns = "default";
  if (nrefs > 0) return sbx_get_named(kind, refs, nrefs, ns, &po);
  return sbx_get_list(kind, all_ns ? NULL : ns, all_users ? "true" : admin_view ? "admin" : NULL, &po);
}

int sbx_cmd_get(int argc, char **argv, const sbx_cmd_t *self) {
  return get_main(argc, argv, self, false);
}

int sbx_cmd_ps(int argc, char **argv, const sbx_cmd_t *self) {
  return get_main(argc, argv, self, true);
}
