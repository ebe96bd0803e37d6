/* subpath.c: resolving and creating a subPath inside a volume (see subpath.h). */
#include "runtime/subpath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/cleanup.h"

int sbx_subpath_valid(const char *sub) {
  if (!sub) return 1;
  if (sub[0] == '/') return 0;
  for (const char *p = sub; *p;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.') return 0;
    p += n;
    if (*p == '/') p++;
  }
  return 1;
}

static int open_inside(int volfd, const char *path, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, volfd, path, &how, sizeof how);
}

int sbx_subpath_open(int volfd, const char *sub, sbx_error_t *err) {
  if (!sbx_subpath_valid(sub)) return sbx_error_set(err, EINVAL, "subPath %s: must be relative, without ..", sub);
  if (!sub || !*sub) {
    int fd = open_inside(volfd, ".", O_PATH);
    return fd < 0 ? sbx_error_sys(err, "open volume") : fd;
  }
  struct stat root;
  if (fstat(volfd, &root) < 0) return sbx_error_sys(err, "volume");
  _cleanup_free_ char *path = strdup(sub);
  if (!path) return sbx_error_set(err, ENOMEM, "subPath");
  size_t len = strlen(path);
  /* each prefix in turn: open it, or make its last component in its parent */
  for (size_t i = 0; i <= len; i++) {
    if (path[i] != '/' && path[i] != '\0') continue;
    if (i > 0 && path[i - 1] == '/') continue; /* "a//b" */
    char saved = path[i];
    path[i] = '\0';
    int fd = open_inside(volfd, path, O_PATH);
    if (fd < 0 && errno == ENOENT) {
      char *slash = strrchr(path, '/');
      const char *name = slash ? slash + 1 : path;
      _cleanup_fd_ int parent = -1;
      if (slash) {
        *slash = '\0';
        parent = open_inside(volfd, path, O_PATH | O_DIRECTORY);
        *slash = '/';
      } else {
        parent = open_inside(volfd, ".", O_PATH | O_DIRECTORY);
      }
      if (parent < 0) return sbx_error_sys(err, "subPath %s", sub);
      if (mkdirat(parent, name, 0755) == 0) {
        _cleanup_fd_ int made = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (made < 0 || fchown(made, root.st_uid, root.st_gid) < 0) return sbx_error_sys(err, "create subPath %s", sub);
      } else if (errno != EEXIST) {
        return sbx_error_sys(err, "create subPath %s", sub);
      }
      fd = open_inside(volfd, path, O_PATH);
    }
    if (fd < 0) return sbx_error_sys(err, "subPath %s", sub);
    path[i] = saved;
    if (i == len) return fd;
    close(fd);
  }
  return sbx_error_set(err, EINVAL, "subPath %s", sub);
}
