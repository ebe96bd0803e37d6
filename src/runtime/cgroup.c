/* cgroup.c: cgroup layout detection, the code v1 and v2 share, and the public API, which
 * dispatches to cgroup_v1.c or cgroup_v2.c through `struct cg_backend`.
 *
 * Detection reads a mountinfo file and keeps only mounts at or below `fsroot`: each "cgroup"
 * (v1) mount that holds one of our controllers (cpu, cpuacct, memory, pids, freezer;
 * co-mounted ones like "cpu,cpuacct" are one hierarchy) and the cgroup2 mount closest to
 * fsroot. If v1 holds any of cpu/memory/pids the layout is v1, or hybrid when a cgroup2
 * mount exists beside it (then it holds no controller we need, and hybrid uses v1 alone);
 * otherwise it is v2.
 *
 * Creating a sandbox cgroup walks, in each hierarchy we use, from the mount point down to
 * <parent>, making missing directories (and on v2 enabling cpu, memory and pids in each
 * ancestor's cgroup.subtree_control), then makes <parent>/<name> with mkdirat, which fails
 * with EEXIST when the sandbox cgroup is already there, and applies the limits. A failure
 * half-way removes the sandbox directories made so far (parents stay: they are shared).
 *
 * Names are checked before any path is touched: `parent` is one or more components joined
 * by '/', `name` exactly one; a component is 1..255 bytes of [A-Za-z0-9._:@+-] and neither
 * "." nor "..". All other access is openat()/unlinkat() below directory fds (see
 * cgroup_internal.h).
 *
 * Testing on a fake tree of plain files: the kernel fills each new cgroup directory with
 * interface files and lets rmdir remove it with them inside; plain directories do neither.
 * Rather than opening files with O_CREAT (which on cgroupfs would turn a missing interface
 * file into a misleading EACCES, and on a fake tree would hide writes to files no kernel
 * has), the code never creates a file, and the unit tests install test hooks
 * (cg_set_test_hooks) that play the kernel's part right after each mkdir and before each
 * rmdir. Production never installs hooks. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "runtime/cgroup_internal.h"

static const struct cg_test_hooks *test_hooks;

void cg_set_test_hooks(const struct cg_test_hooks *hooks) { test_hooks = hooks; }
const struct cg_test_hooks *cg_get_test_hooks(void) { return test_hooks; }

static const char *const ctrl_names[CG_NCTRL] = {
    [CG_CPU] = "cpu", [CG_CPUACCT] = "cpuacct", [CG_MEMORY] = "memory",
    [CG_PIDS] = "pids", [CG_FREEZER] = "freezer",
};

const char *cg_ctrl_name(enum cg_ctrl c) {
  return (unsigned)c < CG_NCTRL ? ctrl_names[c] : "?";
}

const char *sbx_cgroup_mode_name(enum sbx_cgroup_mode mode) {
  switch (mode) {
  case SBX_CGROUP_V1: return "v1";
  case SBX_CGROUP_V2: return "v2";
  case SBX_CGROUP_HYBRID: return "hybrid";
  }
  return "unknown";
}

/* ---------------------------------------------------------------- time ---- */

void cg_deadline_in(struct timespec *deadline, long ms) {
  clock_gettime(CLOCK_MONOTONIC, deadline);
  deadline->tv_sec += ms / 1000;
  deadline->tv_nsec += (ms % 1000) * 1000000L;
  if (deadline->tv_nsec >= 1000000000L) {
    deadline->tv_sec++;
    deadline->tv_nsec -= 1000000000L;
  }
}

bool cg_deadline_passed(const struct timespec *deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > deadline->tv_sec ||
         (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Sleep *us microseconds, then double it up to 10 ms: the kernel usually finishes tearing a
 * task down within a fraction of a millisecond, so the first waits are short. */
void cg_backoff(long *us) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = *us * 1000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
  *us = *us * 2 > 10000 ? 10000 : *us * 2;
}

void cg_sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/* --------------------------------------------------------- file helpers ---- */

int cg_write(int dirfd, const char *dirpath, const char *file, const char *value,
             sbx_error_t *err) {
  _cleanup_fd_ int fd = openat(dirfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return sbx_error_sys(err, "open %s/%s", dirpath, file);
  size_t len = strlen(value);
  ssize_t n = write(fd, value, len);
  if (n < 0) return sbx_error_sys(err, "write \"%s\" to %s/%s", value, dirpath, file);
  if ((size_t)n != len)
    return sbx_error_set(err, EIO, "write \"%s\" to %s/%s: short write", value, dirpath, file);
  return 0;
}

int cg_write_i64(int dirfd, const char *dirpath, const char *file, int64_t value,
                 sbx_error_t *err) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, value);
  return cg_write(dirfd, dirpath, file, buf, err);
}

int cg_read(int dirfd, const char *dirpath, const char *file, char **out, sbx_error_t *err) {
  _cleanup_fd_ int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return sbx_error_sys(err, "open %s/%s", dirpath, file);
  size_t cap = 4096, len = 0;
  _cleanup_free_ char *buf = malloc(cap);
  if (!buf) return sbx_error_set(err, ENOMEM, "read %s/%s", dirpath, file);
  for (;;) {
    if (cap - len < 2) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) return sbx_error_set(err, ENOMEM, "read %s/%s", dirpath, file);
      buf = nb;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sbx_error_sys(err, "read %s/%s", dirpath, file);
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  *out = sbx_steal_ptr(&buf);
  return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
  while (*s == ' ' || *s == '\t') s++;
  if (!isdigit((unsigned char)*s)) return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno) return -1;
  while (*end == ' ' || *end == '\t' || *end == '\n') end++;
  if (*end) return -1;
  *out = v;
  return 0;
}

int cg_read_u64(int dirfd, const char *dirpath, const char *file, uint64_t *out,
                sbx_error_t *err) {
  _cleanup_free_ char *buf = NULL;
  if (cg_read(dirfd, dirpath, file, &buf, err) < 0) return -1;
  if (parse_u64(buf, out) < 0)
    return sbx_error_set(err, EINVAL, "%s/%s: expected a number, got \"%.40s\"", dirpath, file,
                         buf);
  return 0;
}

int cg_read_key(int dirfd, const char *dirpath, const char *file, const char *key,
                uint64_t *out, sbx_error_t *err) {
  _cleanup_free_ char *buf = NULL;
  if (cg_read(dirfd, dirpath, file, &buf, err) < 0) return -1;
  size_t klen = strlen(key);
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
      if (parse_u64(line + klen + 1, out) < 0)
        return sbx_error_set(err, EINVAL, "%s/%s: bad value for %s", dirpath, file, key);
      return 1;
    }
    line = nl ? nl + 1 : NULL;
  }
  return 0;
}

bool cg_file_exists(int dirfd, const char *file) {
  struct stat st;
  return fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int cg_read_procs(int dirfd, const char *dirpath, pid_t **pids, size_t *n, sbx_error_t *err) {
  *pids = NULL;
  *n = 0;
  _cleanup_free_ char *buf = NULL;
  if (cg_read(dirfd, dirpath, "cgroup.procs", &buf, err) < 0) {
    if (err && err->errnum == ENOENT) {
      sbx_error_clear(err);
      return 0; /* the cgroup is gone: nothing in it */
    }
    return -1;
  }
  size_t cap = 0;
  _cleanup_free_ pid_t *out = NULL;
  for (char *p = buf; *p;) {
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno) {
      return sbx_error_set(err, EINVAL, "%s/cgroup.procs: unexpected content", dirpath);
    }
    p = end;
    while (*p == '\n' || *p == ' ') p++;
    if (v <= 0 || v > INT_MAX) continue; /* 0: a task outside our pid namespace */
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      pid_t *np = realloc(out, cap * sizeof *np);
      if (!np) return sbx_error_set(err, ENOMEM, "read %s/cgroup.procs", dirpath);
      out = np;
    }
    out[(*n)++] = (pid_t)v;
  }
  *pids = sbx_steal_ptr(&out);
  return 0;
}

int cg_kill_pids(const pid_t *pids, size_t n, sbx_error_t *err) {
  pid_t self = getpid();
  for (size_t i = 0; i < n; i++) {
    if (pids[i] <= 0 || pids[i] == self) continue;
    if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH)
      return sbx_error_sys(err, "kill pid %d", (int)pids[i]);
  }
  return 0;
}

/* ------------------------------------------------------ Kubernetes mapping ---- */

#define CG_SHARES_MIN 2
#define CG_SHARES_MAX 262144
#define CG_WEIGHT_MIN 1
#define CG_WEIGHT_MAX 10000

int64_t cg_cpu_shares(int64_t request_millis) {
  if (request_millis <= 0) return 1024;
  if (request_millis > (int64_t)CG_SHARES_MAX * 1000 / 1024 + 1) return CG_SHARES_MAX;
  int64_t shares = request_millis * 1024 / 1000;
  if (shares < CG_SHARES_MIN) shares = CG_SHARES_MIN;
  if (shares > CG_SHARES_MAX) shares = CG_SHARES_MAX;
  return shares;
}

int64_t cg_cpu_weight(int64_t request_millis) {
  if (request_millis <= 0) return 100;
  int64_t shares = cg_cpu_shares(request_millis);
  int64_t w = 1 + ((shares - 2) * 9999) / 262142;
  if (w < CG_WEIGHT_MIN) w = CG_WEIGHT_MIN;
  if (w > CG_WEIGHT_MAX) w = CG_WEIGHT_MAX;
  return w;
}

int64_t cg_cpu_quota(int64_t limit_millis) {
  if (limit_millis <= 0) return -1;
  /* one CPU is CG_PERIOD_US per period; cap at a million CPUs to stay far from overflow */
  if (limit_millis > 1000000000LL) limit_millis = 1000000000LL;
  int64_t q = limit_millis * CG_PERIOD_US / 1000;
  return q < CG_MIN_QUOTA_US ? CG_MIN_QUOTA_US : q;
}

/* ----------------------------------------------------------------- names ---- */

static bool component_char_ok(unsigned char c) {
  return isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':' || c == '@' || c == '+';
}

/* `what` names the argument in messages. Refused names are described, not echoed raw. */
static int validate_relpath(const char *s, bool multi, const char *what, sbx_error_t *err) {
  if (!s || !*s) return sbx_error_set(err, EINVAL, "cgroup %s is empty", what);
  if (*s == '/')
    return sbx_error_set(err, EINVAL, "cgroup %s must be relative (it starts with '/')", what);
  const char *comp = s;
  for (const char *p = s;; p++) {
    if (*p == '/' || *p == '\0') {
      size_t len = (size_t)(p - comp);
      if (len == 0)
        return sbx_error_set(err, EINVAL, "cgroup %s has an empty path component", what);
      if (len > NAME_MAX)
        return sbx_error_set(err, ENAMETOOLONG, "cgroup %s has a component over %d bytes", what,
                             NAME_MAX);
      if ((len == 1 && comp[0] == '.') || (len == 2 && comp[0] == '.' && comp[1] == '.'))
        return sbx_error_set(err, EINVAL, "cgroup %s must not contain \".\" or \"..\"", what);
      if (*p == '\0') break;
      if (!multi)
        return sbx_error_set(err, EINVAL, "cgroup %s must be a single name without '/'", what);
      comp = p + 1;
      continue;
    }
    if (!component_char_ok((unsigned char)*p))
      return sbx_error_set(err, EINVAL,
                           "cgroup %s has a forbidden character (byte 0x%02x at offset %zu); "
                           "allowed: letters, digits and . _ : @ + -",
                           what, (unsigned char)*p, (size_t)(p - s));
  }
  return 0;
}

/* ------------------------------------------------------------- detection ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo; decode in place. */
static void unescape_octal(char *s) {
  char *w = s;
  for (char *r = s; *r;) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
        r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
}

static bool path_below(const char *path, const char *root, size_t rootlen) {
  if (rootlen == 1 && root[0] == '/') return path[0] == '/';
  return strncmp(path, root, rootlen) == 0 && (path[rootlen] == '\0' || path[rootlen] == '/');
}

static unsigned v1_ctrls_from_options(char *opts) {
  unsigned ctrls = 0;
  char *save = NULL;
  for (char *tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    for (int c = 0; c < CG_NCTRL; c++)
      if (strcmp(tok, ctrl_names[c]) == 0) ctrls |= CG_BIT(c);
  return ctrls;
}

void cg_layout_free(struct cg_layout *layout) {
  for (size_t i = 0; i < layout->nv1; i++) free(layout->v1[i].path);
  free(layout->v2);
  memset(layout, 0, sizeof *layout);
}

int cg_layout_read(const char *mountinfo_path, const char *fsroot, struct cg_layout *layout,
                   sbx_error_t *err) {
  memset(layout, 0, sizeof *layout);
  if (!fsroot || fsroot[0] != '/')
    return sbx_error_set(err, EINVAL, "cgroup root \"%s\" must be an absolute path",
                         fsroot ? fsroot : "(null)");
  size_t rootlen = strlen(fsroot);
  while (rootlen > 1 && fsroot[rootlen - 1] == '/') rootlen--;

  _cleanup_fclose_ FILE *f = fopen(mountinfo_path, "re");
  if (!f) return sbx_error_sys(err, "open %s", mountinfo_path);
  _cleanup_free_ char *line = NULL;
  size_t cap = 0;
  unsigned seen = 0;
  while (getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\n")] = '\0';
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
    char *fields[6], *save = NULL, *tok;
    int nf = 0;
    for (tok = strtok_r(line, " ", &save); tok && nf < 6; tok = strtok_r(NULL, " ", &save))
      fields[nf++] = tok;
    if (nf < 6) continue;
    while (tok && strcmp(tok, "-") != 0) tok = strtok_r(NULL, " ", &save);
    if (!tok) continue;
    char *fstype = strtok_r(NULL, " ", &save);
    char *source = strtok_r(NULL, " ", &save);
    char *superopts = strtok_r(NULL, " ", &save);
    if (!fstype || !source || !superopts) continue;
    char *mnt = fields[4];
    unescape_octal(mnt);
    if (!path_below(mnt, fsroot, rootlen)) continue;

    if (strcmp(fstype, "cgroup2") == 0) {
      /* the one closest to fsroot wins (/sys/fs/cgroup over /sys/fs/cgroup/unified) */
      if (!layout->v2 || strlen(mnt) < strlen(layout->v2)) {
        char *dup = strdup(mnt);
        if (!dup) goto oom;
        free(layout->v2);
        layout->v2 = dup;
      }
    } else if (strcmp(fstype, "cgroup") == 0) {
      unsigned ctrls = v1_ctrls_from_options(superopts);
      /* no controller of ours, or a second mount of a hierarchy we already have */
      if (ctrls == 0 || (ctrls & seen)) continue;
      char *dup = strdup(mnt);
      if (!dup) goto oom;
      layout->v1[layout->nv1].path = dup;
      layout->v1[layout->nv1].ctrls = ctrls;
      layout->nv1++;
      seen |= ctrls;
    }
  }
  if (ferror(f)) {
    cg_layout_free(layout);
    return sbx_error_sys(err, "read %s", mountinfo_path);
  }

  if (seen & (CG_BIT(CG_CPU) | CG_BIT(CG_MEMORY) | CG_BIT(CG_PIDS))) {
    layout->mode = layout->v2 ? SBX_CGROUP_HYBRID : SBX_CGROUP_V1;
  } else if (layout->v2) {
    layout->mode = SBX_CGROUP_V2;
  } else {
    cg_layout_free(layout);
    return sbx_error_set(err, ENOENT,
                         "no cgroup hierarchy is mounted at or below %.*s (per %s); mount "
                         "cgroup2 there, or the v1 cpu, memory and pids controllers",
                         (int)rootlen, fsroot, mountinfo_path);
  }
  return 0;
oom:
  cg_layout_free(layout);
  return sbx_error_set(err, ENOMEM, "read %s", mountinfo_path);
}

int sbx_cgroup_detect(const char *mountinfo_path, const char *fsroot, enum sbx_cgroup_mode *mode,
                      sbx_error_t *err) {
  struct cg_layout layout;
  if (cg_layout_read(mountinfo_path, fsroot, &layout, err) < 0)
    return sbx_error_prefix(err, "detect cgroups");
  *mode = layout.mode;
  cg_layout_free(&layout);
  return 0;
}

/* --------------------------------------------------- object construction ---- */

static struct sbx_cgroup *cg_new(enum sbx_cgroup_mode mode, const char *parent,
                                 const char *name) {
  struct sbx_cgroup *cg = calloc(1, sizeof *cg);
  if (!cg) return NULL;
  cg->mode = mode;
  cg->be = mode == SBX_CGROUP_V2 ? &cg_backend_v2 : &cg_backend_v1;
  for (int c = 0; c < CG_NCTRL; c++) cg->by_ctrl[c] = -1;
  for (int i = 0; i < CG_NCTRL; i++) cg->dirs[i].fd = cg->dirs[i].parent_fd = -1;
  cg->parent = strdup(parent);
  cg->name = strdup(name);
  if (!cg->parent || !cg->name) {
    sbx_cgroup_free(cg);
    return NULL;
  }
  return cg;
}

void sbx_cgroup_free(struct sbx_cgroup *cg) {
  if (!cg) return;
  for (size_t i = 0; i < cg->ndirs; i++) {
    free(cg->dirs[i].path);
    if (cg->dirs[i].fd >= 0) close(cg->dirs[i].fd);
    if (cg->dirs[i].parent_fd >= 0) close(cg->dirs[i].parent_fd);
  }
  free(cg->parent);
  free(cg->name);
  free(cg);
}

/* Fill cg->dirs from the layout (paths only; nothing opened). On v1 every hierarchy holding
 * one of our controllers gets a directory; the required ones must all be there. */
static int cg_plan_dirs(struct sbx_cgroup *cg, const struct cg_layout *layout,
                        sbx_error_t *err) {
  if (cg->mode == SBX_CGROUP_V2) {
    if (asprintf(&cg->dirs[0].path, "%s/%s/%s", layout->v2, cg->parent, cg->name) < 0) {
      cg->dirs[0].path = NULL;
      return sbx_error_set(err, ENOMEM, "cgroup path");
    }
    cg->dirs[0].ctrls = CG_BIT(CG_CPU) | CG_BIT(CG_MEMORY) | CG_BIT(CG_PIDS);
    cg->ndirs = 1;
    for (int c = 0; c < CG_NCTRL; c++)
      if (cg->dirs[0].ctrls & CG_BIT(c)) cg->by_ctrl[c] = 0;
    return 0;
  }
  unsigned have = 0;
  for (size_t i = 0; i < layout->nv1; i++) have |= layout->v1[i].ctrls;
  if ((have & CG_V1_REQUIRED) != CG_V1_REQUIRED) {
    char missing[64] = "";
    for (int c = 0; c < CG_NCTRL; c++)
      if ((CG_V1_REQUIRED & CG_BIT(c)) && !(have & CG_BIT(c))) {
        if (missing[0]) strcat(missing, ", ");
        strcat(missing, ctrl_names[c]);
      }
    return sbx_error_set(err, ENOTSUP,
                         "cgroup v1 controller(s) %s not mounted; mount them (e.g. "
                         "mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory)",
                         missing);
  }
  for (size_t i = 0; i < layout->nv1; i++) {
    struct cg_dir *d = &cg->dirs[cg->ndirs];
    if (asprintf(&d->path, "%s/%s/%s", layout->v1[i].path, cg->parent, cg->name) < 0) {
      d->path = NULL;
      return sbx_error_set(err, ENOMEM, "cgroup path");
    }
    d->ctrls = layout->v1[i].ctrls;
    for (int c = 0; c < CG_NCTRL; c++)
      if (d->ctrls & CG_BIT(c)) cg->by_ctrl[c] = (int)cg->ndirs;
    cg->ndirs++;
  }
  return 0;
}

/* Open (and with `create`, make) <mount>/<parent> one component at a time, calling
 * prepare on each directory from the mount point down, and return the parent's fd. */
static int open_parent(const char *mount, const char *parent, bool create, bool v2,
                       unsigned ctrls, int (*prepare)(int, const char *, sbx_error_t *),
                       int *out_fd, sbx_error_t *err) {
  _cleanup_fd_ int fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sbx_error_sys(err, "open %s", mount);
  _cleanup_free_ char *path = strdup(mount);
  _cleanup_free_ char *rest = strdup(parent);
  if (!path || !rest) return sbx_error_set(err, ENOMEM, "cgroup path");
  char *save = NULL;
  for (char *comp = strtok_r(rest, "/", &save);; comp = strtok_r(NULL, "/", &save)) {
    if (create && prepare && prepare(fd, path, err) < 0) return -1;
    if (!comp) break;
    if (create) {
      if (mkdirat(fd, comp, 0755) == 0) {
        if (test_hooks && test_hooks->after_mkdir) {
          _cleanup_fd_ int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (nfd < 0 || test_hooks->after_mkdir(nfd, v2, ctrls, test_hooks->data) < 0)
            return sbx_error_set(err, EIO, "test hook after mkdir %s/%s", path, comp);
        }
      } else if (errno != EEXIST) {
        return sbx_error_sys(err, "mkdir %s/%s", path, comp);
      }
    }
    int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (nfd < 0) return sbx_error_sys(err, "open %s/%s", path, comp);
    close(fd);
    fd = nfd;
    char *np;
    if (asprintf(&np, "%s/%s", path, comp) < 0) return sbx_error_set(err, ENOMEM, "cgroup path");
    free(path);
    path = np;
  }
  *out_fd = sbx_steal_fd(&fd);
  return 0;
}

/* The mount point of dirs[i]: its path less "/<parent>/<name>". */
static char *dir_mount(const struct sbx_cgroup *cg, size_t i) {
  const char *p = cg->dirs[i].path;
  size_t cut = strlen(cg->parent) + strlen(cg->name) + 2;
  return strndup(p, strlen(p) - cut);
}

/* Remove one sandbox directory; ENOENT is success, EBUSY is retried until the deadline
 * (the kernel may still be tearing down the last exited task). */
static int remove_dir(struct sbx_cgroup *cg, struct cg_dir *d, const struct timespec *deadline,
                      sbx_error_t *err) {
  if (d->parent_fd < 0) return 0;
  if (test_hooks && test_hooks->before_rmdir)
    test_hooks->before_rmdir(d->parent_fd, cg->name, test_hooks->data);
  long wait_us = 100;
  for (;;) {
    if (unlinkat(d->parent_fd, cg->name, AT_REMOVEDIR) == 0 || errno == ENOENT) break;
    if (errno != EBUSY || cg_deadline_passed(deadline))
      return sbx_error_sys(err, "rmdir %s", d->path);
    cg_backoff(&wait_us);
  }
  if (d->fd >= 0) close(d->fd);
  d->fd = -1;
  return 0;
}

static void rollback(struct sbx_cgroup *cg) {
  struct timespec deadline;
  cg_deadline_in(&deadline, CG_RMDIR_TIMEOUT_MS);
  for (size_t i = 0; i < cg->ndirs; i++)
    if (cg->dirs[i].created) remove_dir(cg, &cg->dirs[i], &deadline, NULL);
}

static int cg_prepare(const char *mountinfo_path, const char *fsroot, const char *parent,
                      const char *name, struct sbx_cgroup **out, sbx_error_t *err) {
  if (validate_relpath(parent, true, "parent", err) < 0) return -1;
  if (validate_relpath(name, false, "name", err) < 0) return -1;
  struct cg_layout layout;
  if (cg_layout_read(mountinfo_path, fsroot, &layout, err) < 0) return -1;
  struct sbx_cgroup *cg = cg_new(layout.mode, parent, name);
  if (!cg) {
    cg_layout_free(&layout);
    return sbx_error_set(err, ENOMEM, "cgroup");
  }
  int r = cg_plan_dirs(cg, &layout, err);
  cg_layout_free(&layout);
  if (r < 0) {
    sbx_cgroup_free(cg);
    return -1;
  }
  *out = cg;
  return 0;
}

int sbx_cgroup_create(const char *mountinfo_path, const char *fsroot, const char *parent,
                      const char *name, const struct sbx_cgroup_limits *limits,
                      struct sbx_cgroup **out, sbx_error_t *err) {
  if (!limits || limits->cpu_request_millis < 0 || limits->cpu_limit_millis < 0 ||
      limits->memory_limit_bytes < 0 || limits->pids_limit <= 0) {
    sbx_error_set(err, EINVAL, "cgroup limits: cpu and memory must be >= 0 and pids > 0");
    return sbx_error_prefix(err, "create cgroup");
  }
  struct sbx_cgroup *cg;
  if (cg_prepare(mountinfo_path, fsroot, parent, name, &cg, err) < 0) goto fail_early;

  for (size_t i = 0; i < cg->ndirs; i++) {
    struct cg_dir *d = &cg->dirs[i];
    _cleanup_free_ char *mount = dir_mount(cg, i);
    if (!mount) {
      sbx_error_set(err, ENOMEM, "cgroup path");
      goto fail;
    }
    bool v2 = cg->mode == SBX_CGROUP_V2;
    if (open_parent(mount, parent, true, v2, d->ctrls, cg->be->prepare_ancestor, &d->parent_fd,
                    err) < 0)
      goto fail;
    if (mkdirat(d->parent_fd, name, 0755) < 0) {
      if (errno == EEXIST)
        sbx_error_set(err, EEXIST, "%s already exists (a sandbox cgroup of that name is left "
                      "over or in use)", d->path);
      else
        sbx_error_sys(err, "mkdir %s", d->path);
      goto fail;
    }
    d->created = true;
    d->fd = openat(d->parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (d->fd < 0) {
      sbx_error_sys(err, "open %s", d->path);
      goto fail;
    }
    if (test_hooks && test_hooks->after_mkdir &&
        test_hooks->after_mkdir(d->fd, v2, d->ctrls, test_hooks->data) < 0) {
      sbx_error_set(err, EIO, "test hook after mkdir %s", d->path);
      goto fail;
    }
  }
  if (cg->be->apply_limits(cg, limits, err) < 0) goto fail;
  *out = cg;
  return 0;
fail:
  rollback(cg);
  sbx_cgroup_free(cg);
  return sbx_error_prefix(err, "create cgroup %s/%s", parent, name);
fail_early: /* the names may be what is wrong: do not echo them */
  return sbx_error_prefix(err, "create cgroup");
}

/* Open every directory of a planned cgroup (its parent's too); with `create`, make what is
 * missing on the way, the cgroup itself included (fine if it exists: a shared group). */
static int open_dirs(struct sbx_cgroup *cg, bool create, sbx_error_t *err) {
  bool v2 = cg->mode == SBX_CGROUP_V2;
  for (size_t i = 0; i < cg->ndirs; i++) {
    struct cg_dir *d = &cg->dirs[i];
    _cleanup_free_ char *mount = dir_mount(cg, i);
    if (!mount) return sbx_error_set(err, ENOMEM, "cgroup path");
    if (open_parent(mount, cg->parent, create, v2, d->ctrls, create ? cg->be->prepare_ancestor : NULL,
                    &d->parent_fd, err) < 0)
      return -1;
    if (create && mkdirat(d->parent_fd, cg->name, 0755) == 0) {
      if (test_hooks && test_hooks->after_mkdir) {
        _cleanup_fd_ int nfd = openat(d->parent_fd, cg->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (nfd < 0 || test_hooks->after_mkdir(nfd, v2, d->ctrls, test_hooks->data) < 0)
          return sbx_error_set(err, EIO, "test hook after mkdir %s", d->path);
      }
    } else if (create && errno != EEXIST) {
      return sbx_error_sys(err, "mkdir %s", d->path);
    }
    d->fd = openat(d->parent_fd, cg->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (d->fd < 0) return sbx_error_sys(err, "open %s", d->path);
  }
  return 0;
}

int sbx_cgroup_open(const char *mountinfo_path, const char *fsroot, const char *parent,
                    const char *name, struct sbx_cgroup **out, sbx_error_t *err) {
  struct sbx_cgroup *cg;
  if (cg_prepare(mountinfo_path, fsroot, parent, name, &cg, err) < 0)
    return sbx_error_prefix(err, "open cgroup");
  if (open_dirs(cg, false, err) < 0) {
    sbx_cgroup_free(cg);
    return sbx_error_prefix(err, "open cgroup %s/%s", parent, name);
  }
  *out = cg;
  return 0;
}

/* ------------------------------------------------------------ operations ---- */

int sbx_cgroup_set_limits(struct sbx_cgroup *cg, const struct sbx_cgroup_limits *limits, sbx_error_t *err) {
  if (cg->be->apply_limits(cg, limits, err) < 0)
    return sbx_error_prefix(err, "limits of cgroup %s/%s", cg->parent, cg->name);
  return 0;
}

int sbx_cgroup_add_pid(struct sbx_cgroup *cg, pid_t pid, sbx_error_t *err) {
  if (pid <= 0) return sbx_error_set(err, EINVAL, "add pid %d to cgroup: bad pid", (int)pid);
  char buf[16];
  snprintf(buf, sizeof buf, "%d", (int)pid);
  for (size_t i = 0; i < cg->ndirs; i++)
    if (cg_write(cg->dirs[i].fd, cg->dirs[i].path, "cgroup.procs", buf, err) < 0)
      return sbx_error_prefix(err, "add pid %d to cgroup", (int)pid);
  return 0;
}

int sbx_cgroup_oom_kills(struct sbx_cgroup *cg, uint64_t *count, sbx_error_t *err) {
  if (cg->be->oom_kills(cg, count, err) < 0)
    return sbx_error_prefix(err, "cgroup %s/%s: OOM kill count", cg->parent, cg->name);
  return 0;
}

int sbx_cgroup_memory_current(struct sbx_cgroup *cg, uint64_t *bytes, sbx_error_t *err) {
  if (cg->be->memory_current(cg, bytes, err) < 0)
    return sbx_error_prefix(err, "cgroup %s/%s: memory usage", cg->parent, cg->name);
  return 0;
}

int sbx_cgroup_pids_current(struct sbx_cgroup *cg, uint64_t *count, sbx_error_t *err) {
  struct cg_dir *d = cg_dir_for(cg, CG_PIDS);
  if (!d) return sbx_error_set(err, ENOTSUP, "cgroup %s/%s: no pids controller", cg->parent,
                               cg->name);
  if (cg_read_u64(d->fd, d->path, "pids.current", count, err) < 0)
    return sbx_error_prefix(err, "cgroup %s/%s: process count", cg->parent, cg->name);
  return 0;
}

int sbx_cgroup_usage(struct sbx_cgroup *cg, struct sbx_cgroup_usage *u, sbx_error_t *err) {
  memset(u, 0, sizeof *u);
  if (cg->be->cpu_usec(cg, &u->cpu_usec, err) < 0 || cg->be->memory_current(cg, &u->memory_bytes, err) < 0 ||
      cg->be->memory_peak(cg, &u->memory_peak_bytes, err) < 0)
    return sbx_error_prefix(err, "cgroup %s/%s: usage", cg->parent, cg->name);
  return sbx_cgroup_pids_current(cg, &u->pids, err);
}

int sbx_cgroup_kill_all(struct sbx_cgroup *cg, sbx_error_t *err) {
  struct timespec deadline;
  cg_deadline_in(&deadline, CG_KILL_TIMEOUT_MS);
  if (cg->be->kill_all(cg, &deadline, err) < 0)
    return sbx_error_prefix(err, "kill processes of cgroup %s/%s", cg->parent, cg->name);
  return 0;
}

int sbx_cgroup_destroy(struct sbx_cgroup *cg, sbx_error_t *err) {
  struct timespec deadline;
  cg_deadline_in(&deadline, CG_EMPTY_TIMEOUT_MS);
  long wait_us = 100;
  for (;;) {
    int r = cg->be->is_empty(cg, err);
    if (r < 0) goto fail;
    if (r == 1) break;
    if (cg_deadline_passed(&deadline)) {
      sbx_error_set(err, EBUSY, "processes are still running in it; kill them first");
      goto fail;
    }
    cg_backoff(&wait_us);
  }
  cg_deadline_in(&deadline, CG_RMDIR_TIMEOUT_MS);
  for (size_t i = 0; i < cg->ndirs; i++)
    if (remove_dir(cg, &cg->dirs[i], &deadline, err) < 0) goto fail;
  return 0;
fail:
  return sbx_error_prefix(err, "destroy cgroup %s/%s", cg->parent, cg->name);
}

int sbx_cgroup_remove_leftover(const char *mountinfo_path, const char *fsroot, const char *parent,
                               const char *name, sbx_error_t *err) {
  struct sbx_cgroup *cg = NULL;
  if (sbx_cgroup_open(mountinfo_path, fsroot, parent, name, &cg, err) < 0) {
    if (err->errnum != ENOENT) return -1;
    sbx_error_clear(err);
    return 0;
  }
  /* children first (a pod's containers): each directory lists them */
  char sub[4096];
  snprintf(sub, sizeof sub, "%s/%s", parent, name);
  int rc = 0;
  for (size_t i = 0; i < cg->ndirs && rc == 0; i++) {
    int fd = cg->dirs[i].fd >= 0 ? openat(cg->dirs[i].fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
      if (fd >= 0) close(fd);
      continue;
    }
    for (struct dirent *e; rc == 0 && (e = readdir(dir));)
      if (e->d_type == DT_DIR && e->d_name[0] != '.')
        rc = sbx_cgroup_remove_leftover(mountinfo_path, fsroot, sub, e->d_name, err);
    closedir(dir);
  }
  if (rc == 0 && (sbx_cgroup_kill_all(cg, err) < 0 || sbx_cgroup_destroy(cg, err) < 0)) rc = -1;
  sbx_cgroup_free(cg);
  return rc;
}

/* ------------------------------------------------------ per-person groups ---- */

/* An object for the group `path` (its last component is the name), each directory opened;
 * with `create`, missing components are made (on v2 with controllers passed down). */
static int group_open(const char *mountinfo_path, const char *fsroot, const char *path, bool create,
                      struct sbx_cgroup **out, sbx_error_t *err) {
  if (validate_relpath(path, true, "group", err) < 0) return -1;
  const char *slash = strrchr(path, '/');
  _cleanup_free_ char *parent = slash ? strndup(path, (size_t)(slash - path)) : strdup("");
  if (!parent) return sbx_error_set(err, ENOMEM, "cgroup path");
  const char *name = slash ? slash + 1 : path;
  struct cg_layout layout;
  if (cg_layout_read(mountinfo_path, fsroot, &layout, err) < 0) return -1;
  struct sbx_cgroup *cg = cg_new(layout.mode, parent, name);
  int r = cg ? cg_plan_dirs(cg, &layout, err) : sbx_error_set(err, ENOMEM, "cgroup");
  cg_layout_free(&layout);
  if (r < 0 || open_dirs(cg, create, err) < 0) goto fail;
  *out = cg;
  return 0;
fail:
  sbx_cgroup_free(cg);
  return -1;
}

/* What the backends leave as it is when a limit is 0, lifted: a group outlives the settings
 * of the daemon that made it. */
static int group_lift(struct sbx_cgroup *cg, const struct sbx_cgroup_limits *limits, sbx_error_t *err) {
  bool v2 = cg->mode == SBX_CGROUP_V2;
  struct cg_dir *mem = cg_dir_for(cg, CG_MEMORY), *cpu = cg_dir_for(cg, CG_CPU);
  if (limits->memory_limit_bytes == 0 && mem) {
    if (v2) return cg_write(mem->fd, mem->path, "memory.max", "max", err);
    /* memsw must stay >= the memory limit: raise it first */
    if (cg_file_exists(mem->fd, "memory.memsw.limit_in_bytes") &&
        cg_write(mem->fd, mem->path, "memory.memsw.limit_in_bytes", "-1", err) < 0)
      return -1;
    if (cg_write(mem->fd, mem->path, "memory.limit_in_bytes", "-1", err) < 0) return -1;
  }
  if (limits->cpu_limit_millis == 0 && cpu && !v2)
    return cg_write(cpu->fd, cpu->path, "cpu.cfs_quota_us", "-1", err);
  return 0;
}

#define GROUP_NO_PIDS_LIMIT 4194304 /* PID_MAX_LIMIT: the most pids.max can bound */

int sbx_cgroup_group_ensure(const char *mountinfo_path, const char *fsroot, const char *path,
                            const struct sbx_cgroup_limits *limits, sbx_error_t *err) {
  if (limits->cpu_request_millis < 0 || limits->cpu_limit_millis < 0 || limits->memory_limit_bytes < 0 ||
      limits->pids_limit < 0)
    return sbx_error_set(err, EINVAL, "group limits must be >= 0");
  struct sbx_cgroup *cg;
  if (group_open(mountinfo_path, fsroot, path, true, &cg, err) < 0)
    return sbx_error_prefix(err, "create cgroup group %s", path);
  struct sbx_cgroup_limits l = *limits;
  if (l.pids_limit == 0) l.pids_limit = GROUP_NO_PIDS_LIMIT;
  int r = group_lift(cg, &l, err) < 0 || cg->be->apply_limits(cg, &l, err) < 0 ? -1 : 0;
  sbx_cgroup_free(cg);
  return r < 0 ? sbx_error_prefix(err, "limits of cgroup group %s", path) : 0;
}

static bool has_subdir(int dirfd) {
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
  if (!dir) {
    if (fd >= 0) close(fd);
    return true; /* cannot tell: leave it */
  }
  bool found = false;
  for (struct dirent *e; !found && (e = readdir(dir));)
    found = e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(dir);
  return found;
}

/* Making a person's group with a sandbox in it, and removing a group its last sandbox left,
 * take turns host-wide (every shim of every daemon), so a group is never removed between
 * its making and its first sandbox's: a lock file in /run, or none where /run has no room
 * (the retry in sbx_cgroup_create_in_group still covers that case). */
#define GROUPS_LOCK "/run/sbx-cgroup-groups.lock"
static int groups_lock(void) {
  int fd = open(GROUPS_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

static void groups_unlock(int fd) {
  if (fd >= 0) close(fd);
}

void sbx_cgroup_group_release(const char *mountinfo_path, const char *fsroot, const char *path) {
  struct sbx_cgroup *cg;
  sbx_error_t ignored;
  int lock = groups_lock();
  if (group_open(mountinfo_path, fsroot, path, false, &cg, &ignored) < 0) {
    groups_unlock(lock);
    return;
  }
  for (size_t i = 0; i < cg->ndirs; i++) {
    struct cg_dir *d = &cg->dirs[i];
    if (has_subdir(d->fd)) break; /* a sandbox is (or is being made) there */
    if (test_hooks && test_hooks->before_rmdir) test_hooks->before_rmdir(d->parent_fd, cg->name, test_hooks->data);
    /* EBUSY: a process or a new child arrived meanwhile; it stays */
    if (unlinkat(d->parent_fd, cg->name, AT_REMOVEDIR) < 0 && errno != ENOENT) break;
  }
  sbx_cgroup_free(cg);
  groups_unlock(lock);
}

int sbx_cgroup_create_in_group(const char *mountinfo_path, const char *fsroot, const char *parent,
                               const struct sbx_cgroup_limits *group_limits, const char *name,
                               const struct sbx_cgroup_limits *limits, struct sbx_cgroup **out,
                               sbx_error_t *err) {
  for (int tries = 0;; tries++) {
    int lock = group_limits ? groups_lock() : -1;
    int r = group_limits ? sbx_cgroup_group_ensure(mountinfo_path, fsroot, parent, group_limits, err) : 0;
    if (r == 0) r = sbx_cgroup_create(mountinfo_path, fsroot, parent, name, limits, out, err);
    groups_unlock(lock);
    if (r == 0) return 0;
    /* ENOENT: the group was released meanwhile (its last sandbox ended; only without the lock) */
    if (!group_limits || err->errnum != ENOENT || tries == 4) return -1;
    sbx_error_clear(err);
  }
}

int sbx_cgroup_remove_leftover_any(const char *mountinfo_path, const char *fsroot, const char *top,
                                   const char *name, sbx_error_t *err) {
  if (sbx_cgroup_remove_leftover(mountinfo_path, fsroot, top, name, err) < 0) return -1;
  struct sbx_cgroup *cg;
  if (group_open(mountinfo_path, fsroot, top, false, &cg, err) < 0) {
    if (err->errnum != ENOENT) return -1;
    sbx_error_clear(err);
    return 0;
  }
  int rc = 0;
  int fd = openat(cg->dirs[0].fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
  if (!dir && fd >= 0) close(fd);
  for (struct dirent *e; dir && rc == 0 && (e = readdir(dir));) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.' || strcmp(e->d_name, name) == 0) continue;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", top, e->d_name);
    rc = sbx_cgroup_remove_leftover(mountinfo_path, fsroot, sub, name, err);
    /* a group (never a sandbox's cgroup, which may be another daemon's, half made) that
     * this emptied goes too */
    if (rc == 0 && (strncmp(e->d_name, "user-", 5) == 0 || strcmp(e->d_name, "pool") == 0))
      sbx_cgroup_group_release(mountinfo_path, fsroot, sub);
  }
  if (dir) closedir(dir);
  sbx_cgroup_free(cg);
  return rc;
}
