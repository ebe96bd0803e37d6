/* rootfs.c: the rule for a `rootfs:DIR` image (see rootfs.h), one function for both ways a
 * user names one, so that `sbx run` and `sbx apply` give the same verdict for a directory. */
#include "lib/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

struct open_how sbx_rootfs_open_how(void) {
  return (struct open_how){.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
}

int sbx_rootfs_open_failed(int errnum, const char *dir, sbx_error_t *err) {
  switch (errnum) {
  case ELOOP:
    return sbx_error_says(err, EINVAL, "image rootfs:%s: a symlink is on its way; name the real directory", dir);
  case EACCES:
  case EPERM:
    return sbx_error_says(err, EACCES, "image rootfs:%s: permission denied (you cannot open it yourself)", dir);
  case ENOTDIR:
    return sbx_error_says(err, ENOTDIR, "image rootfs:%s: not a directory", dir);
  default:
    return sbx_error_set(err, errnum, "image rootfs:%s", dir);
  }
}

int sbx_rootfs_check(int fd, const char *dir, uid_t user, sbx_error_t *err) {
  struct stat st;
  if (fstat(fd, &st) < 0) return sbx_error_sys(err, "image rootfs:%s", dir);
  if (!S_ISDIR(st.st_mode)) return sbx_error_says(err, ENOTDIR, "image rootfs:%s: not a directory", dir);
  /* a user's rootfs must be theirs: files they could not read must not become readable
   * inside their sandbox */
  if (user != 0 && st.st_uid != user)
    return sbx_error_says(err, EACCES, "image rootfs:%s: a rootfs image must be a directory you own", dir);
  const char *mounted[] = {"proc", "sys", "dev"};
  for (size_t i = 0; i < sizeof mounted / sizeof *mounted; i++) {
    if (fstatat(fd, mounted[i], &st, AT_SYMLINK_NOFOLLOW) < 0) continue; /* absent: made at start */
    if (!S_ISDIR(st.st_mode))
      return sbx_error_says(err, EINVAL, "image rootfs:%s: /%s in it is %s; sbx mounts /proc, /sys and /dev there, so "
                            "they must be real directories", dir, mounted[i], S_ISLNK(st.st_mode) ? "a symlink" : "not a directory");
  }
  return 0;
}
