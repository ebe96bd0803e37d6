/* capfs.c: capacity-bound file systems: sparse ext4 images on loop devices, and tmpfs
 * (see capfs.h).
 *
 * Order of a mount, and why:
 *   1. open the image O_RDWR;
 *   2. ask /dev/loop-control for a free device (LOOP_CTL_GET_FREE), open its node (made
 *      with mknod when the kernel created a device that this /dev lacks), and bind the
 *      image to it in one step with LOOP_CONFIGURE + LO_FLAGS_AUTOCLEAR; another process
 *      may grab the same free device first (EBUSY), so this is retried;
 *   3. make the ext4 mount detached (fsopen/fsmount, nosuid, nodev) and move it onto the
 *      target fd, while our loop fd is still open: autoclear detaches the device as soon as
 *      the last opener goes, so closing it before the file system holds the device would
 *      free it under us. After that, unmounting the last mount frees the device.
 * mkfs.ext4 runs with posix_spawn from its absolute path with a fixed environment; lazy
 * inode-table and journal initialisation keep a 20 GiB format under a second and the
 * image sparse. */
#include "runtime/capfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "runtime/mountfd.h"

#define MKFS_EXT4 "/sbin/mkfs.ext4"
#define LOOP_TRIES 16

static int run_mkfs(const char *image, uid_t uid, gid_t gid, sbx_error_t *err) {
  char ext[128];
  snprintf(ext, sizeof ext, "root_owner=%u:%u,lazy_itable_init=1,lazy_journal_init=1,nodiscard", (unsigned)uid,
           (unsigned)gid);
  char *const argv[] = {MKFS_EXT4, "-q", "-F", "-m", "0", "-E", ext, (char *)image, NULL};
  char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) return sbx_error_sys(err, "pipe");
  _cleanup_fd_ int rd = pfd[0];
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
  pid_t pid;
  int r = posix_spawn(&pid, MKFS_EXT4, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (r != 0) return sbx_error_set(err, r, "cannot run %s (is e2fsprogs installed?)", MKFS_EXT4);
  char msg[512];
  size_t len = 0;
  ssize_t n;
  while ((n = read(rd, msg + len, sizeof msg - 1 - len)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    len += (size_t)n;
    if (len == sizeof msg - 1) {
      char sink[256]; /* drain the rest so mkfs never blocks on a full pipe */
      while (read(rd, sink, sizeof sink) > 0) {
      }
      break;
    }
  }
  msg[len] = '\0';
  while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' ')) msg[--len] = '\0';
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return sbx_error_sys(err, "wait for mkfs.ext4");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return sbx_error_set(err, EIO, "mkfs.ext4 %s failed (status %d)%s%s", image,
                         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), len ? ": " : "", msg);
  return 0;
}

int64_t sbx_capfs_size(int64_t bytes) {
  if (bytes < SBX_CAPFS_MIN_BYTES) bytes = SBX_CAPFS_MIN_BYTES;
  if (bytes > INT64_MAX - 4096) return INT64_MAX & ~(int64_t)4095;
  return (bytes + 4095) & ~(int64_t)4095;
}

int sbx_capfs_create(const char *image, int64_t bytes, bool reserve, uid_t uid, gid_t gid, sbx_error_t *err) {
  if (bytes > INT64_MAX - 4096) return sbx_error_set(err, EINVAL, "capacity %lld too large", (long long)bytes);
  bytes = sbx_capfs_size(bytes);
  _cleanup_fd_ int fd = open(image, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return sbx_error_sys(err, "create image %s", image);
  if ((reserve ? fallocate(fd, 0, 0, (off_t)bytes) : ftruncate(fd, (off_t)bytes)) < 0) {
    sbx_error_sys(err, "%s image %s to %lld bytes", reserve ? "reserve" : "size", image, (long long)bytes);
    unlink(image);
    return -1;
  }
  if (run_mkfs(image, uid, gid, err) < 0) {
    unlink(image);
    return -1;
  }
  if (fsync(fd) < 0) {
    sbx_error_sys(err, "sync image %s", image);
    unlink(image);
    return -1;
  }
  return 0;
}

/* Open /dev/loopN, making the node if this /dev lacks it. */
static int open_loop_node(int n, sbx_error_t *err) {
  char path[64];
  snprintf(path, sizeof path, "/dev/loop%d", n);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd >= 0 || errno != ENOENT) {
    if (fd < 0) sbx_error_sys(err, "open %s", path);
    return fd;
  }
  unsigned maj = 7, min = (unsigned)n;
  char sys[96], buf[32];
  snprintf(sys, sizeof sys, "/sys/devices/virtual/block/loop%d/dev", n);
  _cleanup_fd_ int s = open(sys, O_RDONLY | O_CLOEXEC);
  if (s >= 0) {
    ssize_t k = read(s, buf, sizeof buf - 1);
    if (k > 0) {
      buf[k] = '\0';
      if (sscanf(buf, "%u:%u", &maj, &min) != 2) maj = 7, min = (unsigned)n;
    }
  }
  if (mknod(path, S_IFBLK | 0660, makedev(maj, min)) < 0 && errno != EEXIST)
    return sbx_error_sys(err, "create the device node %s", path);
  fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) sbx_error_sys(err, "open %s", path);
  return fd;
}

/* Bind the image to a free loop device; returns the loop fd, its number in *num. */
static int loop_attach(const char *image, int imgfd, int *num, sbx_error_t *err) {
  _cleanup_fd_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0) return sbx_error_sys(err, "open /dev/loop-control (is the loop module loaded?)");
  for (int tries = 0; tries < LOOP_TRIES; tries++) {
    int n = ioctl(ctl, LOOP_CTL_GET_FREE);
    if (n < 0) return sbx_error_sys(err, "no free loop device");
    int lfd = open_loop_node(n, err);
    if (lfd < 0) return -1;
    struct loop_config cfg = {.fd = (unsigned)imgfd};
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    snprintf((char *)cfg.info.lo_file_name, sizeof cfg.info.lo_file_name, "%s", image);
    if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
      *num = n;
      return lfd;
    }
    int e = errno;
    close(lfd);
    if (e != EBUSY) {
      errno = e;
      return sbx_error_sys(err, "attach %s to /dev/loop%d", image, n);
    }
  }
  return sbx_error_set(err, EBUSY, "no free loop device: every one we were given was taken by someone else");
}

/* An O_RDONLY descriptor of the directory fd refers to (a mount's root: the root of what is
 * mounted there), taken from the fd itself, never from a path. */
static int open_root(int fd, int *root_fd, sbx_error_t *err) {
  if (!root_fd) return 0;
  *root_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*root_fd < 0) return sbx_error_sys(err, "open the mounted file system");
  return 0;
}

/* Already a mount root: hand out its root; 1 if so, 0 if not mounted, -1 on error. */
static int mounted_already(int dirfd, int *root_fd, sbx_error_t *err) {
  int r = sbx_is_mount_root_at(dirfd, err);
  if (r <= 0) return r;
  return open_root(dirfd, root_fd, err) < 0 ? -1 : 1;
}

/* Attach the new mount `mnt` on dirfd; *root_fd (if asked) is the new file system's root,
 * taken from the mount's own fd, so it is this file system whatever happens to the path. */
static int attach(int mnt, int dirfd, int *root_fd, sbx_error_t *err) {
  _cleanup_fd_ int root = -1;
  if (open_root(mnt, root_fd ? &root : NULL, err) < 0) return -1;
  if (sbx_mount_move(mnt, dirfd, err) < 0) return -1;
  if (root_fd) *root_fd = sbx_steal_fd(&root);
  return 0;
}

int sbx_capfs_mount_at(const char *image, int dirfd, int *root_fd, sbx_error_t *err) {
  if (root_fd) *root_fd = -1;
  int r = mounted_already(dirfd, root_fd, err);
  if (r != 0) return r < 0 ? -1 : 0;
  _cleanup_fd_ int img = open(image, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (img < 0) return sbx_error_sys(err, "open image %s", image);
  struct stat st;
  if (fstat(img, &st) < 0) return sbx_error_sys(err, "stat %s", image);
  if (!S_ISREG(st.st_mode)) return sbx_error_set(err, EINVAL, "image %s is not a regular file", image);
  int n = -1;
  _cleanup_fd_ int lfd = loop_attach(image, img, &n, err);
  if (lfd < 0) return -1;
  char src[64];
  snprintf(src, sizeof src, "source=/dev/loop%d", n);
  const char *opts[] = {src, NULL};
  _cleanup_fd_ int mnt = sbx_fs_new("ext4", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
  if (mnt < 0) return sbx_error_prefix(err, "mount image %s", image);
  if (attach(mnt, dirfd, root_fd, err) < 0) return sbx_error_prefix(err, "mount image %s", image);
  return 0; /* lfd closes here: from now on the mount alone holds the device */
}

static int open_dir(const char *dir, sbx_error_t *err) {
  int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) sbx_error_sys(err, "open %s", dir);
  return fd;
}

int sbx_capfs_mount(const char *image, const char *dir, sbx_error_t *err) {
  _cleanup_fd_ int fd = open_dir(dir, err);
  if (fd < 0) return -1;
  if (sbx_capfs_mount_at(image, fd, NULL, err) < 0) return sbx_error_prefix(err, "on %s", dir);
  return 0;
}

int sbx_is_mount_root_at(int dirfd, sbx_error_t *err) {
  struct statx stx;
  if (statx(dirfd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
    return sbx_error_sys(err, "statx");
  if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
  /* older kernels: a mount root sits on another device than its parent (or is "/") */
  struct stat self, parent;
  if (fstatat(dirfd, "", &self, AT_EMPTY_PATH) < 0 || fstatat(dirfd, "..", &parent, 0) < 0)
    return sbx_error_sys(err, "stat");
  return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

int sbx_is_mount_root(const char *dir, sbx_error_t *err) {
  _cleanup_fd_ int fd = open_dir(dir, err);
  if (fd < 0) return -1;
  return sbx_is_mount_root_at(fd, err);
}

int sbx_umount_at(int parentfd, const char *name, bool lazy, sbx_error_t *err) {
  if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return sbx_error_set(err, EINVAL, "unmount: bad name %s", name);
  {
    _cleanup_fd_ int fd = openat(parentfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return 0;
      return sbx_error_sys(err, "unmount: open %s", name);
    }
    int r = sbx_is_mount_root_at(fd, err);
    if (r <= 0) return r;
  } /* our fd is closed before the unmount: it would keep the mount busy */
  char path[PATH_MAX];
  snprintf(path, sizeof path, "/proc/self/fd/%d/%s", parentfd, name);
  if (umount2(path, UMOUNT_NOFOLLOW | (lazy ? MNT_DETACH : 0)) < 0) {
    if (errno == EBUSY) return sbx_error_set(err, EBUSY, "unmount %s: the file system is in use", name);
    return sbx_error_sys(err, "unmount %s", name);
  }
  return 0;
}

int sbx_umount(const char *dir, bool lazy, sbx_error_t *err) {
  char parent[PATH_MAX];
  if (snprintf(parent, sizeof parent, "%s", dir) >= (int)sizeof parent)
    return sbx_error_set(err, ENAMETOOLONG, "unmount %s", dir);
  size_t n = strlen(parent);
  while (n > 1 && parent[n - 1] == '/') parent[--n] = '\0';
  char *slash = strrchr(parent, '/');
  if (!slash || slash == parent + n - 1) return sbx_error_set(err, EINVAL, "unmount %s: not a directory path", dir);
  char base[NAME_MAX + 1];
  if (snprintf(base, sizeof base, "%s", slash + 1) >= (int)sizeof base)
    return sbx_error_set(err, ENAMETOOLONG, "unmount %s", dir);
  if (slash == parent)
    parent[1] = '\0';
  else
    *slash = '\0';
  _cleanup_fd_ int pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0) {
    if (errno == ENOENT) return 0;
    return sbx_error_sys(err, "unmount %s: open %s", dir, parent);
  }
  if (sbx_umount_at(pfd, base, lazy, err) < 0) return sbx_error_prefix(err, "%s", parent);
  return 0;
}

int sbx_tmpfs_mount_at(int dirfd, int64_t bytes, mode_t mode, uid_t uid, gid_t gid, int *root_fd, sbx_error_t *err) {
  if (root_fd) *root_fd = -1;
  int r = mounted_already(dirfd, root_fd, err);
  if (r != 0) return r < 0 ? -1 : 0;
  char size[48], m[32], u[32], g[32];
  snprintf(size, sizeof size, "size=%lld", (long long)bytes);
  snprintf(m, sizeof m, "mode=%o", (unsigned)mode & 07777);
  snprintf(u, sizeof u, "uid=%u", (unsigned)uid);
  snprintf(g, sizeof g, "gid=%u", (unsigned)gid);
  const char *opts[] = {size, m, u, g, NULL};
  _cleanup_fd_ int mnt = sbx_fs_new("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
  if (mnt < 0) return -1;
  return attach(mnt, dirfd, root_fd, err);
}
