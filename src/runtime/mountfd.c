/* mountfd.c: fd-based mounting helpers (see mountfd.h). */
#include "runtime/mountfd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/cleanup.h"

int sbx_open_in_root(int rootfd, const char *path, int flags, mode_t mode, sbx_error_t *err) {
  struct open_how how = {
      .flags = (unsigned long long)(flags | O_CLOEXEC),
      .mode = (flags & O_CREAT) ? mode : 0,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  while (*path == '/') path++;
  if (*path == '\0') path = ".";
  int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
  if (fd < 0) return sbx_error_sys(err, "open /%s in the sandbox root", path);
  return fd;
}

/* Walk `path` component by component below rootfd, creating directories; refuse symlinks. */
static int walk_parents(int rootfd, const char *path, char *last, size_t lastsz, sbx_error_t *err) {
  _cleanup_fd_ int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0) return sbx_error_sys(err, "dup");
  const char *p = path;
  while (*p == '/') p++;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= lastsz) return sbx_error_set(err, EINVAL, "bad path %s", path);
    char comp[256];
    memcpy(comp, p, n);
    comp[n] = '\0';
    if (strcmp(comp, "..") == 0 || strcmp(comp, ".") == 0)
      return sbx_error_set(err, EINVAL, "path %s has a '.' or '..' component", path);
    const char *rest = slash;
    while (rest && *rest == '/') rest++;
    if (!rest || *rest == '\0') {
      memcpy(last, comp, n + 1);
      return sbx_steal_fd(&cur);
    }
    if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
      return sbx_error_sys(err, "create directory %s (in %s)", comp, path);
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH};
    int next = (int)syscall(SYS_openat2, cur, comp, &how, sizeof how);
    if (next < 0) {
      if (errno == ELOOP || errno == ENOTDIR)
        return sbx_error_set(err, errno, "%s: component %s is a symlink or not a directory", path, comp);
      return sbx_error_sys(err, "open %s (in %s)", comp, path);
    }
    close(cur);
    cur = next;
    p = rest;
  }
}

int sbx_mkdir_in_root(int rootfd, const char *path, sbx_error_t *err) {
  char last[256];
  const char *p = path;
  while (*p == '/') p++;
  if (*p == '\0') return fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
  _cleanup_fd_ int parent = walk_parents(rootfd, path, last, sizeof last, err);
  if (parent < 0) return -1;
  if (mkdirat(parent, last, 0755) < 0 && errno != EEXIST) return sbx_error_sys(err, "create directory %s", path);
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                         .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH};
  int fd = (int)syscall(SYS_openat2, parent, last, &how, sizeof how);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR)
      return sbx_error_set(err, errno, "%s is a symlink or not a directory in the image; refusing to mount over it", path);
    return sbx_error_sys(err, "open %s", path);
  }
  return fd;
}

int sbx_mkfile_in_root(int rootfd, const char *path, sbx_error_t *err) {
  char last[256];
  _cleanup_fd_ int parent = walk_parents(rootfd, path, last, sizeof last, err);
  if (parent < 0) return -1;
  int fd = openat(parent, last, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
  if (fd < 0 && errno == EISDIR)
    return sbx_error_set(err, EISDIR, "%s is a directory in the image; cannot mount a file over it", path);
  if (fd < 0 && (errno == ELOOP || errno == EEXIST || errno == ENXIO || errno == EACCES)) {
    /* exists but is something we cannot open for writing: take it only if it is a regular
     * file or device node, never a symlink */
    fd = openat(parent, last, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
      close(fd);
      return sbx_error_set(err, ELOOP, "%s is a symlink in the image; refusing to mount over it", path);
    }
  }
  if (fd < 0) return sbx_error_sys(err, "create %s", path);
  struct stat st;
  if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) {
    close(fd);
    return sbx_error_set(err, EINVAL, "%s is not a file in the image", path);
  }
  return fd;
}

int sbx_fs_new(const char *fstype, const char *const *options, unsigned attrs, sbx_error_t *err) {
  _cleanup_fd_ int fs = fsopen(fstype, FSOPEN_CLOEXEC);
  if (fs < 0) return sbx_error_sys(err, "fsopen %s", fstype);
  for (size_t i = 0; options && options[i]; i++) {
    const char *eq = strchr(options[i], '=');
    int r;
    if (eq) {
      char key[64];
      size_t n = (size_t)(eq - options[i]);
      if (n >= sizeof key) return sbx_error_set(err, EINVAL, "%s: option too long", fstype);
      memcpy(key, options[i], n);
      key[n] = '\0';
      r = fsconfig(fs, FSCONFIG_SET_STRING, key, eq + 1, 0);
    } else {
      r = fsconfig(fs, FSCONFIG_SET_FLAG, options[i], NULL, 0);
    }
    if (r < 0) return sbx_error_sys(err, "%s: option %s", fstype, options[i]);
  }
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) return sbx_error_sys(err, "create %s", fstype);
  int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
  if (mnt < 0) return sbx_error_sys(err, "fsmount %s", fstype);
  return mnt;
}

int sbx_tree_clone(int dirfd, const char *path, bool recursive, unsigned attrs, int userns_fd,
                   sbx_error_t *err) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  if (!path || !*path) {
    flags |= AT_EMPTY_PATH;
    path = "";
  }
  _cleanup_fd_ int tree = open_tree(dirfd, path, flags);
  if (tree < 0) return sbx_error_sys(err, "clone mount tree");
  struct mount_attr a = {.attr_set = attrs};
  if (userns_fd >= 0) {
    a.attr_set |= MOUNT_ATTR_IDMAP;
    a.userns_fd = (unsigned long long)userns_fd;
  }
  if (a.attr_set &&
      mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof a) < 0)
    return sbx_error_sys(err, userns_fd >= 0 ? "idmap mount" : "set mount attributes");
  return sbx_steal_fd(&tree);
}

int sbx_mount_move(int mntfd, int targetfd, sbx_error_t *err) {
  if (move_mount(mntfd, "", targetfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return sbx_error_sys(err, "move mount");
  return 0;
}

int sbx_remount_ro(int targetfd, bool recursive, sbx_error_t *err) {
  _cleanup_fd_ int tree = sbx_tree_clone(targetfd, "", recursive, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, -1, err);
  if (tree < 0) return -1;
  return sbx_mount_move(tree, targetfd, err);
}
