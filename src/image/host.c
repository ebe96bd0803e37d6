/* host.c: building the `host` image's directory tree (see host.h). */
#include "image/host.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fsutil.h"

static const char *const secret_patterns[] = {
    "shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "sudoers.d/*",
    "ssh/ssh_host_*", "ssl/private", "ssl/private/*", "security/opasswd", "krb5.keytab",
    "subuid", "subuid-", "subgid", "subgid-", "machine-id", NULL};

int sbx_image_host_is_secret(const char *rel) {
  for (size_t i = 0; secret_patterns[i]; i++)
    if (fnmatch(secret_patterns[i], rel, FNM_PATHNAME) == 0) return 1;
  return 0;
}

static char copy_dest[PATH_MAX - 64];
static size_t etc_prefix;
static int copy_failed;

static int copy_file(const char *src, const char *dst, mode_t mode, off_t size) {
  _cleanup_fd_ int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (in < 0) return 0; /* vanished or unreadable: not part of the view */
  _cleanup_fd_ int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0755);
  if (out < 0) return -1;
  off_t off = 0;
  while (off < size) {
    ssize_t n = sendfile(out, in, &off, (size_t)(size - off));
    if (n <= 0) return n < 0 ? -1 : 0;
  }
  return fchmod(out, mode & 0755);
}

static int copy_etc_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)ftw;
  const char *rel = path + etc_prefix;
  while (*rel == '/') rel++;
  char dst[PATH_MAX];
  if (snprintf(dst, sizeof dst, "%s/etc%s%.3800s", copy_dest, *rel ? "/" : "", rel) >= (int)sizeof dst) return 0;
  if (*rel && sbx_image_host_is_secret(rel)) return flag == FTW_D ? FTW_SKIP_SUBTREE : 0;
  switch (flag) {
  case FTW_D:
    if (!(st->st_mode & S_IXOTH)) return FTW_SKIP_SUBTREE; /* not traversable by users */
    if (*rel && mkdir(dst, st->st_mode & 0755) < 0 && errno != EEXIST) copy_failed = errno;
    return 0;
  case FTW_F:
    if (S_ISREG(st->st_mode) && (st->st_mode & S_IROTH) && copy_file(path, dst, st->st_mode, st->st_size) < 0)
      copy_failed = errno;
    return 0;
  case FTW_SL: {
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n > 0) {
      target[n] = '\0';
      if (symlink(target, dst) < 0 && errno != EEXIST) copy_failed = errno;
    }
    return 0;
  }
  default:
    return 0;
  }
}

int sbx_image_host_prepare(const char *dir, sbx_error_t *err) {
  char final[PATH_MAX], tmp[PATH_MAX - 64];
  snprintf(final, sizeof final, "%s/rootfs", dir);
  snprintf(tmp, sizeof tmp, "%s/rootfs.new", dir);
  struct stat st;
  if (stat(final, &st) == 0) return 0;
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", dir);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    if (mkdir(parent, 0711) < 0 && errno != EEXIST) return sbx_error_sys(err, "create %s", parent);
  }
  if (mkdir(dir, 0711) < 0 && errno != EEXIST) return sbx_error_sys(err, "create %s", dir);
  sbx_remove_tree(tmp);
  if (mkdir(tmp, 0755) < 0) return sbx_error_sys(err, "create %s", tmp);

  static const struct {
    const char *name;
    mode_t mode;
  } dirs[] = {{"usr", 0755},  {"etc", 0755},   {"home", 0755},     {"root", 0700},     {"tmp", 01777},
              {"var", 0755},  {"var/tmp", 01777}, {"var/lib", 0755}, {"var/cache", 0755}, {"var/log", 0755},
              {"run", 0755},  {"srv", 0755},   {"mnt", 0755},      {"opt", 0755},      {"media", 0755},
              {"proc", 0555}, {"sys", 0555},   {"dev", 0755}};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", tmp, dirs[i].name);
    if (mkdir(p, dirs[i].mode) < 0 || chmod(p, dirs[i].mode) < 0) return sbx_error_sys(err, "create %s", p);
  }
  static const char *const links[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    char host[64], target[64], p[PATH_MAX];
    snprintf(host, sizeof host, "/usr/%s", links[i]);
    if (stat(host, &st) < 0) continue;
    snprintf(target, sizeof target, "usr/%s", links[i]);
    snprintf(p, sizeof p, "%s/%s", tmp, links[i]);
    if (symlink(target, p) < 0) return sbx_error_sys(err, "create %s", p);
  }
  snprintf(copy_dest, sizeof copy_dest, "%s", tmp);
  etc_prefix = strlen("/etc");
  copy_failed = 0;
  if (nftw("/etc", copy_etc_entry, 32, FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL) < 0)
    return sbx_error_sys(err, "copy /etc");
  if (copy_failed) return sbx_error_set(err, copy_failed, "copy /etc into %s", tmp);
  if (rename(tmp, final) < 0) return sbx_error_sys(err, "rename %s", tmp);
  return 0;
}
