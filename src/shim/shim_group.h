/* shim_group.h: the per-person cgroup group a shim's spec names (both shim modes).
 *
 * sbxd puts each sandbox's cgroup below its owner's group, "<top>/user-<uid>", and sends
 * the group's limits with the spec as "cgroupGroup" {cpuLimitMillis, memoryLimitBytes,
 * pidsLimit}; "cgroupParent" is then the group's path. The shim makes the group when it is
 * missing (sbx_cgroup_create_in_group) and removes it when its last sandbox is gone. */
#ifndef SBX_SHIM_GROUP_H
#define SBX_SHIM_GROUP_H

#include <json-c/json.h>
#include <stdbool.h>

#include "runtime/cgroup.h"

/* The group limits of `spec` in *out: true when its cgroupParent is a person's group. */
bool shim_group_limits(json_object *spec, struct sbx_cgroup_limits *out);
/* After the sandbox's cgroup is gone: remove the group if nothing else is in it. */
void shim_group_release(json_object *spec);

#endif
