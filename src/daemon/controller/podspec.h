/* podspec.h: turn a stored Sandbox into the pod spec its shim runs (podspec.c). */
#ifndef SBX_PODSPEC_H
#define SBX_PODSPEC_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/daemon.h"

#define SBX_PODSPEC_MAX_FDS 28 /* fds 7.. in the shim; the wire carries at most 32 */

/* A pod's resources, summed the way Kubernetes does: CPU in millicores, bytes otherwise;
 * a limit is 0 when some container has none (the pod is then not capped). */
struct sbx_pod_resources {
  int64_t cpu_request, cpu_limit, mem_request, mem_limit, ephemeral_limit;
};
void sbx_pod_resources(json_object *sandbox, struct sbx_pod_resources *out);

/* What the build needs to know beyond the object */
struct sbx_podspec_ctx {
  struct sbx_daemon *d;
  const char *ns, *name, *hostname, *id, *state_dir;
  uid_t owner;
  gid_t owner_gid;
  uint32_t host_id_base, id_count;
  json_object *volumes; /* volumes.c's [{"name","fd","readOnly","idmap"}]: fds stay the caller's */
};

struct sbx_podspec {
  json_object *spec;               /* the pod spec (fd 3 of the shim) */
  int fds[SBX_PODSPEC_MAX_FDS];    /* fds[i] becomes fd 7+i in the shim */
  size_t nfds;
};

int sbx_podspec_build(const struct sbx_podspec_ctx *x, json_object *sandbox, struct sbx_podspec *ps, sbx_error_t *err);
void sbx_podspec_release(struct sbx_podspec *ps);

#endif
