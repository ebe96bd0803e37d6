/* disk.c: sbxd's disk options and the admission of claims against the free space of the
 * file system under --root (disk.h has the rules).
 *
 * Claim images live in two places: <root>/volume-images/<owner>/<ns>/<claim>.img (PVCs) and
 * each sandbox's state directory (<id>/ephemeral.img for an ephemeral-storage limit,
 * <id>/volume-images/<name>.img for an emptyDir sizeLimit). Only those are read: a
 * sandbox's writable layers may be large trees and are never walked. */
#include "daemon/controller/disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/quantity.h"
#include "runtime/capfs.h"

static pthread_mutex_t admit_lock = PTHREAD_MUTEX_INITIALIZER;

static int bytes_option(const char *name, const char *arg, bool zero_ok, int64_t *out, sbx_error_t *err) {
  if (zero_ok && strcmp(arg, "0") == 0) {
    *out = 0;
    return 0;
  }
  sbx_error_t e = {0};
  if (sbx_quantity_bytes(arg, out, &e) < 0)
    return sbx_error_says(err, EINVAL, "--%s %s: give a size such as 10Gi or 512Mi%s (%s)", name, arg,
                          zero_ok ? ", or 0 for none" : "", e.msg);
  return 0;
}

int sbx_disk_option(struct sbx_daemon *d, int opt, const char *arg, sbx_error_t *err) {
  switch (opt) {
  case SBX_DISK_OPT_DEFAULT_EPHEMERAL:
    if (bytes_option("default-ephemeral-storage", arg, true, &d->default_ephemeral_bytes, err) < 0) return -1;
    if (d->default_ephemeral_bytes > 0 && d->default_ephemeral_bytes < SBX_CAPFS_MIN_BYTES)
      return sbx_error_says(err, EINVAL, "--default-ephemeral-storage %s: at least 8Mi (an ext4 file system needs it), or 0",
                            arg);
    return 0;
  case SBX_DISK_OPT_LOG_MAX_SIZE:
    if (bytes_option("log-max-size", arg, false, &d->log_max_bytes, err) < 0) return -1;
    if (d->log_max_bytes < 4096)
      return sbx_error_says(err, EINVAL, "--log-max-size %s: at least 4Ki", arg);
    return 0;
  case SBX_DISK_OPT_LOG_MAX_FILES: {
    char *end;
    errno = 0;
    long n = strtol(arg, &end, 10);
    if (*arg == '\0' || *end || errno || n < 2 || n > 100)
      return sbx_error_says(err, EINVAL,
                            "--log-max-files %s: give a number from 2 to 100 (the current file and at least one "
                            "rotated one)",
                            arg);
    d->log_max_files = (int)n;
    return 0;
  }
  case SBX_DISK_OPT_OVERCOMMIT: {
    char *end;
    errno = 0;
    double r = strtod(arg, &end);
    if (*arg == '\0' || *end || errno || !isfinite(r) || r <= 0 || r > 1000)
      return sbx_error_says(err, EINVAL,
                            "--storage-overcommit %s: give a ratio above 0 (1.0: no over-commit, each claim "
                            "reserved on disk; 2.0: claims may promise twice the free space)",
                            arg);
    d->storage_overcommit = r;
    return 0;
  }
  }
  return sbx_error_says(err, EINVAL, "unknown disk option");
}

int sbx_disk_admit(const char *what, int64_t asks, int64_t free_bytes, int64_t promised, double ratio,
                   const char *where, sbx_error_t *err) {
  double room = ratio * (double)(free_bytes > 0 ? free_bytes : 0);
  if ((double)asks + (double)(promised > 0 ? promised : 0) <= room) return 0;
  char a[32], f[32], p[32], pm[96] = "";
  sbx_bytes_human(asks, a, sizeof a);
  sbx_bytes_human(free_bytes, f, sizeof f);
  if (promised > 0) {
    sbx_bytes_human(promised, p, sizeof p);
    snprintf(pm, sizeof pm, ", %s of it promised to other claims", p);
  }
  return sbx_error_says(err, ENOSPC, "%s asks %s; %s is free on %s%s (over-commit %.1f)", what, a, f, where, pm,
                        ratio);
}

/* What an image may still take from the host: its size less the blocks it holds. */
static int64_t unwritten(int dirfd, const char *name) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) return 0;
  int64_t held = (int64_t)st.st_blocks * 512;
  return st.st_size > held ? st.st_size - held : 0;
}

static bool is_image(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".img") == 0;
}

/* The *.img files `depth` directories below dirfd (taken over; closed here). */
static int64_t images_below(int dirfd, int depth) {
  DIR *dp = fdopendir(dirfd);
  if (!dp) {
    close(dirfd);
    return 0;
  }
  int64_t sum = 0;
  for (struct dirent *de; (de = readdir(dp));) {
    if (de->d_name[0] == '.') continue;
    if (depth == 0) {
      if (is_image(de->d_name)) sum += unwritten(dirfd, de->d_name);
      continue;
    }
    int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub >= 0) sum += images_below(sub, depth - 1);
  }
  closedir(dp);
  return sum;
}

static int open_under(const char *root, const char *name) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", root, name);
  return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int64_t sbx_disk_promised(struct sbx_daemon *d) {
  int64_t sum = 0;
  int fd = open_under(d->root, "volume-images"); /* <owner>/<ns>/<claim>.img */
  if (fd >= 0) sum += images_below(fd, 2);
  int sb = open_under(d->root, "sandboxes");
  DIR *dp = sb >= 0 ? fdopendir(sb) : NULL;
  if (!dp) {
    if (sb >= 0) close(sb);
    return sum;
  }
  for (struct dirent *de; (de = readdir(dp));) {
    if (de->d_name[0] == '.') continue;
    _cleanup_fd_ int st = openat(sb, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (st < 0) continue;
    sum += unwritten(st, "ephemeral.img");
    int vi = openat(st, "volume-images", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (vi >= 0) sum += images_below(vi, 0);
  }
  closedir(dp);
  return sum;
}

int sbx_disk_claim_create(struct sbx_daemon *d, const char *what, const char *image, int64_t bytes, uid_t uid,
                          gid_t gid, sbx_error_t *err) {
  bool reserve = d->storage_overcommit <= 1.0;
  pthread_mutex_lock(&admit_lock);
  struct statvfs vfs;
  int r = statvfs(d->root, &vfs);
  if (r < 0) {
    sbx_error_sys(err, "free space of %s", d->root);
  } else {
    int64_t free_bytes = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
    r = sbx_disk_admit(what, sbx_capfs_size(bytes), free_bytes, sbx_disk_promised(d), d->storage_overcommit, d->root,
                       err);
  }
  if (r == 0) r = sbx_capfs_create(image, bytes, reserve, uid, gid, err);
  pthread_mutex_unlock(&admit_lock);
  return r;
}
