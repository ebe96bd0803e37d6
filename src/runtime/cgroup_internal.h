/* cgroup_internal.h: what cgroup.c (detection, common code, dispatch), cgroup_v1.c and
 * cgroup_v2.c share, plus the seams the unit tests use. Not for use outside src/runtime
 * and the cgroup tests.
 *
 * A sandbox cgroup is a list of directories, one per hierarchy we use: on v2 a single
 * directory; on v1 (and hybrid) one per distinct v1 hierarchy holding a controller we use
 * (cpu, cpuacct, memory, pids, freezer; co-mounted controllers such as "cpu,cpuacct" share
 * one directory). Each directory is held open (an O_DIRECTORY fd) together
 * with its parent's fd, so every later access is an openat() below a directory we created
 * and removal is an unlinkat() of one name: no path string is re-resolved after creation.
 *
 * The version-specific parts sit behind `struct cg_backend`; cgroup.c picks v1 (also for
 * hybrid) or v2 and calls through it. */
#ifndef SBX_CGROUP_INTERNAL_H
#define SBX_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "runtime/cgroup.h"

/* v1 controllers we know. On v2 the same bits say which controllers we need. */
enum cg_ctrl { CG_CPU, CG_CPUACCT, CG_MEMORY, CG_PIDS, CG_FREEZER, CG_NCTRL };
#define CG_BIT(c) (1u << (c))
/* Without these the sandbox's guarantees cannot be enforced: create refuses. */
#define CG_V1_REQUIRED (CG_BIT(CG_CPU) | CG_BIT(CG_MEMORY) | CG_BIT(CG_PIDS))

#define CG_PERIOD_US 100000  /* CFS period for limits.cpu, as the kubelet uses */
#define CG_MIN_QUOTA_US 1000 /* the kernel refuses a smaller quota; the kubelet clamps too */
#define CG_KILL_TIMEOUT_MS 5000
#define CG_EMPTY_TIMEOUT_MS 5000
#define CG_RMDIR_TIMEOUT_MS 1000

const char *cg_ctrl_name(enum cg_ctrl c);

/* ---- detection ---- */

struct cg_mount {
  char *path;     /* absolute mount point */
  unsigned ctrls; /* v1: CG_BIT()s of our controllers this hierarchy holds */
};

struct cg_layout {
  enum sbx_cgroup_mode mode;
  size_t nv1;
  struct cg_mount v1[CG_NCTRL]; /* v1 hierarchies holding at least one of our controllers */
  char *v2;                     /* the cgroup2 mount point, NULL if none */
};

int cg_layout_read(const char *mountinfo_path, const char *fsroot, struct cg_layout *layout,
                   sbx_error_t *err);
void cg_layout_free(struct cg_layout *layout);

/* ---- the sandbox cgroup ---- */

struct cg_dir {
  char *path;     /* <mount>/<parent>/<name>, for messages */
  unsigned ctrls; /* CG_BIT()s served by this directory */
  int fd;         /* the sandbox cgroup directory */
  int parent_fd;  /* <mount>/<parent>, for unlinkat() */
  bool created;   /* made by this object (for rollback when create fails half-way) */
};

struct sbx_cgroup {
  enum sbx_cgroup_mode mode;
  const struct cg_backend *be;
  char *parent, *name;
  size_t ndirs;
  struct cg_dir dirs[CG_NCTRL];
  int by_ctrl[CG_NCTRL]; /* index into dirs, -1 when the controller is not available */
};

/* The directory serving controller c, or NULL. */
static inline struct cg_dir *cg_dir_for(struct sbx_cgroup *cg, enum cg_ctrl c) {
  return cg->by_ctrl[c] < 0 ? NULL : &cg->dirs[cg->by_ctrl[c]];
}

struct cg_backend {
  const char *name;
  /* Called on each ancestor directory, from the mount point down to <parent>, once it
   * exists, before the sandbox directory is made (v2: enable controllers). May be NULL. */
  int (*prepare_ancestor)(int dirfd, const char *path, sbx_error_t *err);
  int (*apply_limits)(struct sbx_cgroup *cg, const struct sbx_cgroup_limits *limits,
                      sbx_error_t *err);
  int (*oom_kills)(struct sbx_cgroup *cg, uint64_t *count, sbx_error_t *err);
  int (*memory_current)(struct sbx_cgroup *cg, uint64_t *bytes, sbx_error_t *err);
  int (*memory_peak)(struct sbx_cgroup *cg, uint64_t *bytes, sbx_error_t *err); /* 0 bytes: unknown */
  int (*cpu_usec)(struct sbx_cgroup *cg, uint64_t *usec, sbx_error_t *err);
  int (*kill_all)(struct sbx_cgroup *cg, const struct timespec *deadline, sbx_error_t *err);
  /* 1 when no process is left in the cgroup, 0 when some are, -1 on error. A directory
   * that no longer exists counts as empty. */
  int (*is_empty)(struct sbx_cgroup *cg, sbx_error_t *err);
};

extern const struct cg_backend cg_backend_v1;
extern const struct cg_backend cg_backend_v2;

/* ---- Kubernetes mapping (pure) ---- */

int64_t cg_cpu_shares(int64_t request_millis); /* 1024 for 0, else max(2, m*1024/1000) */
int64_t cg_cpu_weight(int64_t request_millis); /* 100 for 0, else from the shares */
int64_t cg_cpu_quota(int64_t limit_millis);    /* microseconds per CG_PERIOD_US; -1: none */

/* ---- file helpers, relative to a cgroup directory fd; `dirpath` is for messages ---- */

/* Write `value` with one write(2) (the kernel takes each write as one command). The file
 * is opened O_WRONLY|O_TRUNC without O_CREAT: a cgroup interface file always exists. */
int cg_write(int dirfd, const char *dirpath, const char *file, const char *value,
             sbx_error_t *err);
int cg_write_i64(int dirfd, const char *dirpath, const char *file, int64_t value,
                 sbx_error_t *err);
/* Read the whole file into a NUL-terminated malloc'd buffer. */
int cg_read(int dirfd, const char *dirpath, const char *file, char **out, sbx_error_t *err);
/* Read a file holding one unsigned number. */
int cg_read_u64(int dirfd, const char *dirpath, const char *file, uint64_t *out,
                sbx_error_t *err);
/* Find "KEY N" in a flat-keyed file (memory.events, cgroup.events, memory.oom_control).
 * Returns 1 and sets *out when found, 0 when the key is absent, -1 on error. */
int cg_read_key(int dirfd, const char *dirpath, const char *file, const char *key,
                uint64_t *out, sbx_error_t *err);
bool cg_file_exists(int dirfd, const char *file);
/* Parse cgroup.procs: a malloc'd array of pids (> 0 only) in *pids, the count in *n. A
 * missing file (the cgroup is gone) yields zero pids. */
int cg_read_procs(int dirfd, const char *dirpath, pid_t **pids, size_t *n, sbx_error_t *err);
/* SIGKILL the listed pids, never pid <= 0 nor ourselves; ESRCH is fine. */
int cg_kill_pids(const pid_t *pids, size_t n, sbx_error_t *err);

/* ---- time ---- */

void cg_deadline_in(struct timespec *deadline, long ms);
bool cg_deadline_passed(const struct timespec *deadline);
void cg_sleep_ms(long ms);
void cg_backoff(long *us);

/* ---- test seam ----
 *
 * A real kernel fills a new cgroup directory with its interface files and lets rmdir remove
 * a directory that still shows them. A fake tree of plain files does neither. The unit tests
 * install these hooks to play the kernel's part: after_mkdir creates the interface files a
 * kernel would (with its default contents), before_rmdir deletes them. In production no
 * hooks are installed and the code never creates a file: writes use O_TRUNC without
 * O_CREAT, so a missing interface file is an error, as it would be on the kernel. The v2
 * check in the VM uses v2_no_kill_file to try the kill loop of older kernels for real. */
struct cg_test_hooks {
  int (*after_mkdir)(int dirfd, bool v2, unsigned ctrls, void *data);
  int (*before_rmdir)(int parent_fd, const char *name, void *data);
  void *data;
  bool v2_no_kill_file; /* act as if cgroup.kill were missing (Linux < 5.14) */
};
void cg_set_test_hooks(const struct cg_test_hooks *hooks);
const struct cg_test_hooks *cg_get_test_hooks(void); /* NULL in production */

#endif
