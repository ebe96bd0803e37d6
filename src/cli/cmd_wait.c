/* cmd_wait.c: `sbx wait --for=condition=Ready|delete [--timeout=30s] [-n NS] KIND/NAME...`,
 * as kubectl wait.
 *
 * Polls GET every 100 ms for each object in turn, all sharing one deadline. A condition is
 * met when status.conditions has that type (case-insensitively, as kubectl compares) with
 * that status (default True); `delete` when GET answers 404. Each object met prints
 * kubectl's "sandbox.agents.x-k8s.io/NAME condition met"; running out of time prints
 * "error: timed out waiting for the condition on sandboxes/NAME", followed by what the object
 * last said of that condition, if anything ("(Ready=False: Pending: Insufficient cpu: ...)"), so that a
 * sandbox waiting for CPU, quota or disk says so, and exits 1. An object
 * that does not exist (for a condition) is an error at once, as in kubectl. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/kinds.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

#define POLL_MS 100
#define DEFAULT_TIMEOUT_MS 30000

enum { OPT_FOR = 0x100, OPT_TIMEOUT };

static const struct option long_opts[] = {
    {"for", required_argument, NULL, OPT_FOR},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"namespace", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The object's condition of that type (case-insensitively), or NULL. */
static json_object *find_condition(json_object *obj, const sbx_wait_for_t *w) {
  json_object *st = NULL, *conds = NULL;
  if (!json_object_object_get_ex(obj, "status", &st) ||
      !json_object_object_get_ex(st, "conditions", &conds) ||
      !json_object_is_type(conds, json_type_array))
    return NULL;
  for (size_t i = 0; i < json_object_array_length(conds); i++) {
    json_object *c = json_object_array_get_idx(conds, i);
    const char *type = sbx_json_str(c, "type");
    if (type && strcasecmp(type, w->condition) == 0) return c;
  }
  return NULL;
}

static bool condition_met(json_object *obj, const sbx_wait_for_t *w) {
  const char *status = sbx_json_str(find_condition(obj, w), "status");
  return status && strcasecmp(status, w->value) == 0;
}

/* 0 met, 1 timed out or failed (printed). */
static int wait_one(const sbx_ref_t *ref, const char *ns, const sbx_wait_for_t *w,
                    long long deadline) {
  char path[1024], display[128];
  sbx_error_t err = {0};
  if (sbx_kind_path(ref->kind, ns, ref->name, path, sizeof path, &err) < 0) {
    fprintf(stderr, "sbx wait: %s\n", err.msg);
    return 1;
  }
  sbx_kind_display(ref->kind, display, sizeof display);
  for (;;) {
    _cleanup_json_ json_object *obj = NULL;
    long code = 0;
    int r = sbx_api_request("GET", path, NULL, &obj, &code, &err);
    if (r == SBX_API_SERVER_ERROR && code == 404 && w->delete_) {
      printf("%s/%s condition met\n", display, ref->name);
      fflush(stdout);
      return 0;
    }
    if (r < 0) {
      fprintf(stderr, r == SBX_API_SERVER_ERROR ? "%s\n" : "sbx: %s\n", err.msg);
      return 1;
    }
    if (!w->delete_ && condition_met(obj, w)) {
      printf("%s/%s condition met\n", display, ref->name);
      fflush(stdout);
      return 0;
    }
    long long left = deadline - now_ms();
    if (left <= 0) {
      json_object *c = w->delete_ ? NULL : find_condition(obj, w);
      const char *status = sbx_json_str(c, "status"), *message = sbx_json_str(c, "message");
      fprintf(stderr, "error: timed out waiting for the condition on %s/%s", ref->kind->plural, ref->name);
      if (status && message && *message) fprintf(stderr, " (%s=%s: %s)", sbx_json_str(c, "type"), status, message);
      fputc('\n', stderr);
      return 1;
    }
    usleep((useconds_t)(left < POLL_MS ? left : POLL_MS) * 1000);
  }
}

int sbx_cmd_wait(int argc, char **argv, const sbx_cmd_t *self) {
  const char *ns = "default", *for_arg = NULL;
  long long timeout_ms = DEFAULT_TIMEOUT_MS;
  _cleanup_free_ char **pos = calloc((size_t)argc + 1, sizeof *pos);
  if (!pos) return SBX_EXIT_FAILURE;
  size_t npos = 0;
  sbx_error_t err = {0};
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "-:n:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1: pos[npos++] = optarg; break;
    case OPT_FOR: for_arg = optarg; break;
    case OPT_TIMEOUT:
      if (sbx_parse_duration_ms(optarg, &timeout_ms, &err) < 0) {
        sbx_cmd_usage_error(self, "--timeout: %s", err.msg);
        return SBX_EXIT_FAILURE;
      }
      break;
    case 'n': ns = optarg; break;
    case 'h': sbx_cmd_usage(self); return 0;
    default: sbx_cmd_flag_error(self, opt, argv); return SBX_EXIT_FAILURE;
    }
  }
  while (optind < argc) pos[npos++] = argv[optind++];

  sbx_wait_for_t w;
  if (sbx_parse_wait_for(for_arg, &w, &err) < 0) {
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
    sbx_cmd_usage_error(self, "give what to wait for: sbx wait --for=condition=Ready sandbox/NAME");
    return SBX_EXIT_FAILURE;
  }
  long long deadline = now_ms() + timeout_ms;
  int rc = 0;
  for (size_t i = 0; i < nrefs; i++)
    if (wait_one(&refs[i], ns, &w, deadline) != 0) rc = SBX_EXIT_FAILURE;
  return rc;
}
