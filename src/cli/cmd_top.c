/* cmd_top.c: `sbx top`, as kubectl top pod: what each sandbox uses now (CPU over the last
 * second, memory, processes, and disk: the writable layer and the claims it uses), or with
 * --users what each person holds in all (everyone's totals, open to every user: names and
 * numbers only, never another person's sandboxes). Read from sbxd's metrics.k8s.io
 * PodMetrics and its metrics.sbx.x-k8s.io users list; printed by printer.c. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/get.h"

enum { OPT_USERS = 0x100 };

static const sbx_kind_t pod_metrics = {.kind = "PodMetrics", .list_kind = "PodMetricsList", .plural = "pods",
                                       .singular = "pod", .short_names = {NULL}, .group = "metrics.k8s.io",
                                       .version = "v1beta1", .namespaced = true};
static const sbx_kind_t user_metrics = {.kind = "UserMetrics", .list_kind = "UserMetricsList", .plural = "users",
                                        .singular = "user", .short_names = {NULL},
                                        .group = "metrics.sbx.x-k8s.io", .version = "v1alpha1",
                                        .namespaced = false};

static const struct option long_opts[] = {
    {"namespace", required_argument, NULL, 'n'},
    {"all-namespaces", no_argument, NULL, 'A'},
    {"users", no_argument, NULL, OPT_USERS},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static bool names_sandboxes(const char *w) {
  const char *kinds[] = {"pod", "pods", "po", "sandbox", "sandboxes", "sbx"};
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
    if (strcasecmp(w, kinds[i]) == 0) return true;
  return false;
}

int sbx_cmd_top(int argc, char **argv, const sbx_cmd_t *self) {
  const char *ns = NULL, *output = "", *pos[3];
  bool all = false, users = false;
  size_t npos = 0;
  optind = 0;
  opterr = 0;
  int opt;
  /* '-': positionals come back in order as opt 1, so flags may go anywhere (kubectl); what
   * follows "--" is left in argv */
  while ((opt = getopt_long(argc, argv, "-:n:Ao:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1:
      if (npos < 3) pos[npos] = optarg;
      npos++;
      break;
    case 'n': ns = optarg; break;
    case 'A': all = true; break;
    case OPT_USERS: users = true; break;
    case 'o': output = optarg; break;
    case 'h': sbx_cmd_usage(self); return 0;
    default: sbx_cmd_flag_error(self, opt, argv); return SBX_EXIT_FAILURE;
    }
  }
  for (; optind < argc; optind++, npos++)
    if (npos < 3) pos[npos] = argv[optind];
  if (npos > 2) {
    sbx_cmd_usage_error(self, "too many arguments: give at most a kind and one sandbox name");
    return SBX_EXIT_FAILURE;
  }
  /* `sbx top`, `sbx top pod [NAME]`, `sbx top NAME` */
  const char *name = NULL;
  if (npos > 0 && names_sandboxes(pos[0])) name = npos > 1 ? pos[1] : NULL;
  else if (npos == 1) name = pos[0];
  else if (npos > 1) {
    sbx_cmd_usage_error(self, "\"%s\" is not a kind sbx top knows: use pod (sandbox) or --users", pos[0]);
    return SBX_EXIT_FAILURE;
  }
  sbx_error_t err = {0};
  sbx_print_opts_t po = {.all_namespaces = all && !users, .now = time(NULL)};
  if (sbx_output_parse(output, &po.output, &err) < 0 || po.output == SBX_OUTPUT_NAME) {
    sbx_cmd_usage_error(self, "-o takes wide, json or yaml");
    return SBX_EXIT_FAILURE;
  }
  if (users) {
    if (name || ns || all) {
      sbx_cmd_usage_error(self, "--users shows every person's totals: it takes no name, -n or -A");
      return SBX_EXIT_FAILURE;
    }
    return sbx_get_list(&user_metrics, NULL, NULL, &po);
  }
  if (all && (ns || name)) {
    sbx_cmd_usage_error(self, "-A lists across namespaces: it takes no name or -n");
    return SBX_EXIT_FAILURE;
  }
  if (!ns) ns = "default";
  if (name) {
    sbx_ref_t ref = {.kind = &pod_metrics, .name = name};
    return sbx_get_named(&pod_metrics, &ref, 1, ns, &po);
  }
  return sbx_get_list(&pod_metrics, all ? NULL : ns, all ? "admin" : NULL, &po);
}
