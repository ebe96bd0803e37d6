/* cgroup_v1.c: the cgroup v1 backend, also used on hybrid hosts (v1 controllers beside a
 * cgroup2 mount that holds none of them).
 *
 * One directory per v1 hierarchy: cpu (cpu.shares from requests.cpu, cpu.cfs_period_us and
 * cpu.cfs_quota_us from limits.cpu), cpuacct when mounted (accounting only), memory
 * (memory.limit_in_bytes, and memory.memsw.limit_in_bytes set to the same value when the
 * kernel has swap accounting, so the group cannot swap), pids (pids.max) and freezer (for a
 * race-free kill). Co-mounted controllers share a directory; cgroup.c sorts that out.
 *
 * kill_all freezes the group first so nothing can fork while we read cgroup.procs (of every
 * hierarchy) and send SIGKILL; frozen tasks die once thawed, so it thaws and repeats until
 * the group is empty or the deadline passes. Without a freezer hierarchy it loops without freezing (the pids limit
 * bounds what a fork loop can do). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "runtime/cgroup_internal.h"

static int v1_apply_limits(struct sbx_cgroup *cg, const struct sbx_cgroup_limits *limits,
                           sbx_error_t *err) {
  struct cg_dir *cpu = cg_dir_for(cg, CG_CPU);
  struct cg_dir *mem = cg_dir_for(cg, CG_MEMORY);
  struct cg_dir *pids = cg_dir_for(cg, CG_PIDS);

  if (cg_write_i64(cpu->fd, cpu->path, "cpu.shares", cg_cpu_shares(limits->cpu_request_millis),
                   err) < 0)
    return -1;
  int64_t quota = cg_cpu_quota(limits->cpu_limit_millis);
  if (quota > 0) {
    if (cg_write_i64(cpu->fd, cpu->path, "cpu.cfs_period_us", CG_PERIOD_US, err) < 0) return -1;
    if (cg_write_i64(cpu->fd, cpu->path, "cpu.cfs_quota_us", quota, err) < 0) return -1;
  }

  if (limits->memory_limit_bytes > 0) {
    /* memsw must stay >= the memory limit: set the memory limit first */
    if (cg_write_i64(mem->fd, mem->path, "memory.limit_in_bytes", limits->memory_limit_bytes,
                     err) < 0)
      return -1;
    if (cg_file_exists(mem->fd, "memory.memsw.limit_in_bytes") &&
        cg_write_i64(mem->fd, mem->path, "memory.memsw.limit_in_bytes",
                     limits->memory_limit_bytes, err) < 0)
      return -1;
  }

  return cg_write_i64(pids->fd, pids->path, "pids.max", limits->pids_limit, err);
}

static int v1_oom_kills(struct sbx_cgroup *cg, uint64_t *count, sbx_error_t *err) {
  struct cg_dir *mem = cg_dir_for(cg, CG_MEMORY);
  int r = cg_read_key(mem->fd, mem->path, "memory.oom_control", "oom_kill", count, err);
  if (r < 0) return -1;
  if (r == 0)
    return sbx_error_set(err, ENOTSUP,
                         "%s/memory.oom_control has no oom_kill line (kernel older than 4.13)",
                         mem->path);
  return 0;
}

static int v1_memory_current(struct sbx_cgroup *cg, uint64_t *bytes, sbx_error_t *err) {
  struct cg_dir *mem = cg_dir_for(cg, CG_MEMORY);
  return cg_read_u64(mem->fd, mem->path, "memory.usage_in_bytes", bytes, err);
}

static int v1_memory_peak(struct sbx_cgroup *cg, uint64_t *bytes, sbx_error_t *err) {
  struct cg_dir *mem = cg_dir_for(cg, CG_MEMORY);
  return cg_read_u64(mem->fd, mem->path, "memory.max_usage_in_bytes", bytes, err);
}

/* cpuacct counts nanoseconds; it is optional on v1 (create does not need it) */
static int v1_cpu_usec(struct sbx_cgroup *cg, uint64_t *usec, sbx_error_t *err) {
  struct cg_dir *acct = cg_dir_for(cg, CG_CPUACCT);
  if (!acct) return sbx_error_set(err, ENOTSUP, "the v1 cpuacct controller is not mounted: CPU use is unknown");
  uint64_t ns;
  if (cg_read_u64(acct->fd, acct->path, "cpuacct.usage", &ns, err) < 0) return -1;
  *usec = ns / 1000;
  return 0;
}

/* The pids listed in every hierarchy's cgroup.procs (normally the same set; a process that
 * was only partly moved in is still found). Duplicates are harmless to kill twice. */
static int v1_collect_pids(struct sbx_cgroup *cg, pid_t **out, size_t *nout, sbx_error_t *err) {
  *out = NULL;
  *nout = 0;
  for (size_t i = 0; i < cg->ndirs; i++) {
    struct cg_dir *d = &cg->dirs[i];
    if (d->fd < 0) continue;
    _cleanup_free_ pid_t *pids = NULL;
    size_t n;
    if (cg_read_procs(d->fd, d->path, &pids, &n, err) < 0) goto fail;
    if (n == 0) continue;
    pid_t *all = realloc(*out, (*nout + n) * sizeof *all);
    if (!all) {
      sbx_error_set(err, ENOMEM, "read %s/cgroup.procs", d->path);
      goto fail;
    }
    memcpy(all + *nout, pids, n * sizeof *all);
    *out = all;
    *nout += n;
  }
  return 0;
fail:
  free(*out);
  *out = NULL;
  *nout = 0;
  return -1;
}

static int v1_is_empty(struct sbx_cgroup *cg, sbx_error_t *err) {
  for (size_t i = 0; i < cg->ndirs; i++) {
    struct cg_dir *d = &cg->dirs[i];
    if (d->fd < 0) continue;
    _cleanup_free_ pid_t *pids = NULL;
    size_t n;
    if (cg_read_procs(d->fd, d->path, &pids, &n, err) < 0) return -1;
    if (n > 0) return 0;
  }
  return 1;
}

static int freezer_set(struct cg_dir *fz, const char *state, const struct timespec *deadline,
                       sbx_error_t *err) {
  if (cg_write(fz->fd, fz->path, "freezer.state", state, err) < 0) return -1;
  /* FROZEN is reached asynchronously (FREEZING meanwhile); THAWED at once */
  for (;;) {
    _cleanup_free_ char *cur = NULL;
    if (cg_read(fz->fd, fz->path, "freezer.state", &cur, err) < 0) return -1;
    if (strncmp(cur, state, strlen(state)) == 0) return 0;
    if (cg_deadline_passed(deadline)) return 1; /* stuck: go on and kill anyway */
    cg_sleep_ms(1);
  }
}

static int v1_kill_all(struct sbx_cgroup *cg, const struct timespec *deadline,
                       sbx_error_t *err) {
  struct cg_dir *fz = cg_dir_for(cg, CG_FREEZER);
  if (fz && fz->fd < 0) fz = NULL; /* destroyed already */
  long wait_us = 100;
  for (;;) {
    _cleanup_free_ pid_t *pids = NULL;
    size_t n;
    if (v1_collect_pids(cg, &pids, &n, err) < 0) return -1;
    if (n == 0) return 0;
    free(pids);
    pids = NULL;

    if (fz && freezer_set(fz, "FROZEN", deadline, err) < 0) return -1;
    int r = v1_collect_pids(cg, &pids, &n, err);
    if (r == 0) r = cg_kill_pids(pids, n, err);
    /* thaw even when reading or killing failed: frozen tasks would otherwise stay stuck */
    sbx_error_t thaw_err;
    if (fz && freezer_set(fz, "THAWED", deadline, &thaw_err) < 0 && r == 0) {
      if (err) *err = thaw_err;
      return -1;
    }
    if (r < 0) return -1;
    if (cg_deadline_passed(deadline))
      return sbx_error_set(err, ETIMEDOUT, "%zu process(es) still in the cgroup after SIGKILL",
                           n);
    cg_backoff(&wait_us);
  }
}

const struct cg_backend cg_backend_v1 = {
    .name = "v1",
    .prepare_ancestor = NULL,
    .apply_limits = v1_apply_limits,
    .oom_kills = v1_oom_kills,
    .memory_current = v1_memory_current,
    .memory_peak = v1_memory_peak,
    .cpu_usec = v1_cpu_usec,
    .kill_all = v1_kill_all,
    .is_empty = v1_is_empty,
};
