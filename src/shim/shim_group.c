/* shim_group.c: the per-person cgroup group of a shim's spec (see shim_group.h). */
#include "shim/shim_group.h"

#include "lib/wire.h"

bool shim_group_limits(json_object *spec, struct sbx_cgroup_limits *out) {
  json_object *g;
  if (!spec || !json_object_object_get_ex(spec, "cgroupGroup", &g)) return false;
  *out = (struct sbx_cgroup_limits){.cpu_limit_millis = sbx_json_int(g, "cpuLimitMillis", 0),
                                    .memory_limit_bytes = sbx_json_int(g, "memoryLimitBytes", 0),
                                    .pids_limit = sbx_json_int(g, "pidsLimit", 0)};
  return true;
}

void shim_group_release(json_object *spec) {
  struct sbx_cgroup_limits unused;
  const char *parent = spec ? sbx_json_str(spec, "cgroupParent") : NULL;
  if (parent && shim_group_limits(spec, &unused))
    sbx_cgroup_group_release("/proc/self/mountinfo", "/sys/fs/cgroup", parent);
}
