/* cgroup_v2.c: the cgroup v2 (unified hierarchy) backend.
 *
 * One directory. Before it is made, every ancestor from the mount point down to the parent
 * must offer cpu, memory and pids (its cgroup.controllers) and pass them on (its
 * cgroup.subtree_control): we add only the ones missing there, so a host whose tree is
 * already set up is left as it is. Limits: cpu.weight from requests.cpu, cpu.max
 * ("QUOTA 100000" or "max 100000") from limits.cpu, memory.max and memory.swap.max=0 (when
 * the kernel has swap control) from limits.memory, pids.max always.
 *
 * kill_all writes cgroup.kill (Linux >= 5.14), which kills the whole subtree at once and
 * races with no fork; on older kernels it lists cgroup.procs and sends SIGKILL until the
 * group is empty. "Empty" is cgroup.events' populated 0, which counts descendants too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "runtime/cgroup_internal.h"

static const enum cg_ctrl v2_needed[] = {CG_CPU, CG_MEMORY, CG_PIDS};
#define V2_NNEEDED (sizeof v2_needed / sizeof v2_needed[0])

static bool has_word(const char *list, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = list; *p;) {
    while (*p == ' ' || *p == '\n' || *p == '\t') p++;
    size_t l = strcspn(p, " \n\t");
    if (l == wl && strncmp(p, word, wl) == 0) return true;
    p += l;
  }
  return false;
}

static int v2_prepare_ancestor(int dirfd, const char *path, sbx_error_t *err) {
  _cleanup_free_ char *avail = NULL, *enabled = NULL;
  if (cg_read(dirfd, path, "cgroup.controllers", &avail, err) < 0) return -1;
  for (size_t i = 0; i < V2_NNEEDED; i++)
    if (!has_word(avail, cg_ctrl_name(v2_needed[i])))
      return sbx_error_set(err, ENOTSUP,
                           "controller %s is not available in %s (cgroup.controllers: \"%.*s\"); "
                           "enable it in the cgroup.subtree_control of the cgroups above",
                           cg_ctrl_name(v2_needed[i]), path, (int)strcspn(avail, "\n"), avail);
  if (cg_read(dirfd, path, "cgroup.subtree_control", &enabled, err) < 0) return -1;
  char add[64] = "";
  for (size_t i = 0; i < V2_NNEEDED; i++) {
    const char *c = cg_ctrl_name(v2_needed[i]);
    if (has_word(enabled, c)) continue;
    if (add[0]) strcat(add, " ");
    strcat(add, "+");
    strcat(add, c);
  }
  if (!add[0]) return 0;
  if (cg_write(dirfd, path, "cgroup.subtree_control", add, err) < 0) {
    if (err && err->errnum == EBUSY)
      sbx_error_prefix(err, "%s holds processes itself, so it cannot pass controllers on "
                       "(cgroup v2 allows processes only in leaves); move them to a child "
                       "cgroup", path);
    return -1;
  }
  return 0;
}

static int v2_apply_limits(struct sbx_cgroup *cg, const struct sbx_cgroup_limits *limits,
                           sbx_error_t *err) {
  struct cg_dir *d = &cg->dirs[0];
  if (cg_write_i64(d->fd, d->path, "cpu.weight", cg_cpu_weight(limits->cpu_request_millis),
                   err) < 0)
    return -1;
  char max[64];
  int64_t quota = cg_cpu_quota(limits->cpu_limit_millis);
  if (quota > 0)
    snprintf(max, sizeof max, "%lld %d", (long long)quota, CG_PERIOD_US);
  else
    snprintf(max, sizeof max, "max %d", CG_PERIOD_US);
  if (cg_write(d->fd, d->path, "cpu.max", max, err) < 0) return -1;

  if (limits->memory_limit_bytes > 0) {
    if (cg_write_i64(d->fd, d->path, "memory.max", limits->memory_limit_bytes, err) < 0)
      return -1;
    if (cg_file_exists(d->fd, "memory.swap.max") &&
        cg_write(d->fd, d->path, "memory.swap.max", "0", err) < 0)
      return -1;
  }
  return cg_write_i64(d->fd, d->path, "pids.max", limits->pids_limit, err);
}

static int v2_oom_kills(struct sbx_cgroup *cg, uint64_t *count, sbx_error_t *err) {
  struct cg_dir *d = &cg->dirs[0];
  int r = cg_read_key(d->fd, d->path, "memory.events", "oom_kill", count, err);
  if (r < 0) return -1;
  if (r == 0)
    return sbx_error_set(err, ENOTSUP, "%s/memory.events has no oom_kill line", d->path);
  return 0;
}

static int v2_memory_current(struct sbx_cgroup *cg, uint64_t *bytes, sbx_error_t *err) {
  struct cg_dir *d = &cg->dirs[0];
  return cg_read_u64(d->fd, d->path, "memory.current", bytes, err);
}

/* memory.peak came with Linux 5.19: without it the peak is unknown (0) */
static int v2_memory_peak(struct sbx_cgroup *cg, uint64_t *bytes, sbx_error_t *err) {
  struct cg_dir *d = &cg->dirs[0];
  *bytes = 0;
  if (!cg_file_exists(d->fd, "memory.peak")) return 0;
  return cg_read_u64(d->fd, d->path, "memory.peak", bytes, err);
}

static int v2_cpu_usec(struct sbx_cgroup *cg, uint64_t *usec, sbx_error_t *err) {
  struct cg_dir *d = &cg->dirs[0];
  int r = cg_read_key(d->fd, d->path, "cpu.stat", "usage_usec", usec, err);
  if (r < 0) return -1;
  if (r == 0) return sbx_error_set(err, ENOTSUP, "%s/cpu.stat has no usage_usec line", d->path);
  return 0;
}

static int v2_is_empty(struct sbx_cgroup *cg, sbx_error_t *err) {
  struct cg_dir *d = &cg->dirs[0];
  if (d->fd < 0) return 1;
  uint64_t populated = 0;
  int r = cg_read_key(d->fd, d->path, "cgroup.events", "populated", &populated, err);
  if (r < 0) {
    if (err && err->errnum == ENOENT) {
      sbx_error_clear(err);
      return 1; /* removed under us */
    }
    return -1;
  }
  if (r == 0)
    return sbx_error_set(err, EINVAL, "%s/cgroup.events has no populated line", d->path);
  return populated == 0;
}

static int v2_kill_all(struct sbx_cgroup *cg, const struct timespec *deadline,
                       sbx_error_t *err) {
  struct cg_dir *d = &cg->dirs[0];
  if (d->fd < 0) return 0;
  const struct cg_test_hooks *hooks = cg_get_test_hooks();
  bool have_kill = !(hooks && hooks->v2_no_kill_file) && cg_file_exists(d->fd, "cgroup.kill");
  if (have_kill && cg_write(d->fd, d->path, "cgroup.kill", "1", err) < 0) return -1;
  for (;;) {
    int empty = v2_is_empty(cg, err);
    if (empty < 0) return -1;
    if (empty) return 0;
    if (!have_kill) {
      _cleanup_free_ pid_t *pids = NULL;
      size_t n;
      if (cg_read_procs(d->fd, d->path, &pids, &n, err) < 0) return -1;
      if (cg_kill_pids(pids, n, err) < 0) return -1;
    }
    if (cg_deadline_passed(deadline))
      return sbx_error_set(err, ETIMEDOUT, "%s still has processes after SIGKILL", d->path);
    cg_sleep_ms(5);
  }
}

const struct cg_backend cg_backend_v2 = {
    .name = "v2",
    .prepare_ancestor = v2_prepare_ancestor,
    .apply_limits = v2_apply_limits,
    .oom_kills = v2_oom_kills,
    .memory_current = v2_memory_current,
    .memory_peak = v2_memory_peak,
    .cpu_usec = v2_cpu_usec,
    .kill_all = v2_kill_all,
    .is_empty = v2_is_empty,
};
