/* cgroup.h: one cgroup per sandbox, on cgroup v2, v1 or a hybrid of both.
 *
 * Detection reads mountinfo: v2 when the only hierarchy is cgroup2; v1 when controllers
 * are mounted as v1 hierarchies; hybrid when v1 controllers coexist with a cgroup2 mount
 * (usually /sys/fs/cgroup/unified) that holds no controllers we need. Hybrid uses the v1
 * controllers. The Kubernetes mapping: requests.cpu -> cpu.shares (v1) / cpu.weight (v2),
 * limits.cpu -> quota over a 100000us period, limits.memory -> memory limit with swap
 * disabled for the group, pids limit always set. Every sandbox cgroup lives below one
 * parent in each hierarchy, named after the sandbox id; sbxd makes that parent a
 * per-person group, <top>/user-<uid> (see "Per-person groups" below).
 *
 * All paths are relative to a cgroup file-system root (normally "/sys/fs/cgroup"), so the
 * unit tests can run the same code on a fake tree of plain files. */
#ifndef SBX_CGROUP_H
#define SBX_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

enum sbx_cgroup_mode { SBX_CGROUP_V1 = 1, SBX_CGROUP_V2 = 2, SBX_CGROUP_HYBRID = 3 };

struct sbx_cgroup_limits {
  int64_t cpu_request_millis; /* 0: default share (1024 / weight 100) */
  int64_t cpu_limit_millis;   /* 0: no quota */
  int64_t memory_limit_bytes; /* 0: no limit */
  int64_t pids_limit;         /* > 0 always; the caller supplies a default */
};

struct sbx_cgroup; /* opaque: mode, parent name, sandbox name, per-controller directories */

/* Detect the layout from a mountinfo file (normally "/proc/self/mountinfo"), considering only
 * mounts below `fsroot` (normally "/sys/fs/cgroup"). */
int sbx_cgroup_detect(const char *mountinfo_path, const char *fsroot, enum sbx_cgroup_mode *mode,
                      sbx_error_t *err);
const char *sbx_cgroup_mode_name(enum sbx_cgroup_mode mode);

/* Create <parent>/<name> in every hierarchy we use (parents created and, on v2, the
 * controllers enabled in subtree_control along the way) and apply limits. Fails if the
 * cgroup already exists. */
int sbx_cgroup_create(const char *mountinfo_path, const char *fsroot, const char *parent,
                      const char *name, const struct sbx_cgroup_limits *limits,
                      struct sbx_cgroup **out, sbx_error_t *err);
/* Open an existing sandbox cgroup (re-adoption after a daemon restart). */
int sbx_cgroup_open(const char *mountinfo_path, const char *fsroot, const char *parent,
                    const char *name, struct sbx_cgroup **out, sbx_error_t *err);

/* Apply (again) the limits of a created cgroup: a warm-pool sandbox gets its own only when
 * it is claimed. */
int sbx_cgroup_set_limits(struct sbx_cgroup *cg, const struct sbx_cgroup_limits *limits, sbx_error_t *err);

int sbx_cgroup_add_pid(struct sbx_cgroup *cg, pid_t pid, sbx_error_t *err);
/* How many processes the kernel's OOM killer killed in this cgroup. */
int sbx_cgroup_oom_kills(struct sbx_cgroup *cg, uint64_t *count, sbx_error_t *err);
/* Current memory usage in bytes, and number of processes (for ps/describe). */
int sbx_cgroup_memory_current(struct sbx_cgroup *cg, uint64_t *bytes, sbx_error_t *err);
int sbx_cgroup_pids_current(struct sbx_cgroup *cg, uint64_t *count, sbx_error_t *err);
/* What the processes of the cgroup (and every cgroup below it) use, for sbx top and
 * /metrics. Read from: CPU v2 cpu.stat usage_usec, v1 cpuacct.usage (ns); memory v2
 * memory.current and memory.peak, v1 memory.usage_in_bytes and memory.max_usage_in_bytes;
 * pids.current. */
struct sbx_cgroup_usage {
  uint64_t cpu_usec;          /* CPU time used since the cgroup was made, microseconds */
  uint64_t memory_bytes;      /* in use now (page cache included, as the kernel counts it) */
  uint64_t memory_peak_bytes; /* the most ever in use; 0 when the kernel does not say (v2 before 5.19) */
  uint64_t pids;              /* processes and threads now */
};
int sbx_cgroup_usage(struct sbx_cgroup *cg, struct sbx_cgroup_usage *u, sbx_error_t *err);
/* SIGKILL every process in the cgroup (v2: cgroup.kill when present; else freeze, kill the
 * listed pids, thaw, repeat until empty) */
int sbx_cgroup_kill_all(struct sbx_cgroup *cg, sbx_error_t *err);
/* Wait (bounded) until the cgroup is empty and remove it from every hierarchy. */
int sbx_cgroup_destroy(struct sbx_cgroup *cg, sbx_error_t *err);
void sbx_cgroup_free(struct sbx_cgroup *cg);
/* Remove <parent>/<name> and every cgroup below it, killing what still runs there: what a
 * sandbox whose supervisor was killed (or a host crash) left behind. 0 if there is none. */
int sbx_cgroup_remove_leftover(const char *mountinfo_path, const char *fsroot, const char *parent,
                               const char *name, sbx_error_t *err);

/* ---- Per-person groups ----
 *
 * A group is an intermediate cgroup (e.g. "sbx/user-1001") holding sandbox cgroups. Its
 * limits: cpu_request_millis 0 gives the default weight (every person the same), a CPU
 * limit a quota over the whole group, memory_limit_bytes 0 no memory limit (an earlier one
 * is lifted), pids_limit 0 no pids limit. */

/* Make `path` (every missing component) and apply the group limits; fine if it exists. */
int sbx_cgroup_group_ensure(const char *mountinfo_path, const char *fsroot, const char *path,
                            const struct sbx_cgroup_limits *limits, sbx_error_t *err);
/* Remove the group `path` if nothing is in it any more; a group still holding a cgroup or a
 * process (or already gone) is left alone. Never fails. */
void sbx_cgroup_group_release(const char *mountinfo_path, const char *fsroot, const char *path);
/* sbx_cgroup_create below a group made (or refreshed) first with group_limits; when a
 * release of the same group races with it, the group is made again. group_limits NULL:
 * the parent is not a group, plain sbx_cgroup_create. */
int sbx_cgroup_create_in_group(const char *mountinfo_path, const char *fsroot, const char *parent,
                               const struct sbx_cgroup_limits *group_limits, const char *name,
                               const struct sbx_cgroup_limits *limits, struct sbx_cgroup **out,
                               sbx_error_t *err);
/* Remove leftover cgroup `name` from <top>/<name> and from every <top>/<group>/<name>:
 * what a crash left, wherever it was placed; a group (user-*, pool) left empty goes too. */
int sbx_cgroup_remove_leftover_any(const char *mountinfo_path, const char *fsroot, const char *top,
                                   const char *name, sbx_error_t *err);

#endif
