/* fsutil.c: see fsutil.h. */
#include "lib/fsutil.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <string.h>
#include <sys/statfs.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/wire.h"

static int remove_failed;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  int r = (flag == FTW_DP) ? rmdir(path) : unlink(path);
  if (r < 0 && errno != ENOENT) remove_failed = errno;
  return 0;
}

int sbx_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -1;
  remove_failed = 0; /* callers serialise: one removal at a time per process */
  if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0) return -1;
  if (remove_failed) {
    errno = remove_failed;
    return -1;
  }
  return 0;
}

/* allocated bytes of everything below the directory fd on device dev (fd is consumed) */
static uint64_t tree_blocks(int fd, dev_t dev, int depth) {
  DIR *dir = fdopendir(fd);
  if (!dir) {
    close(fd);
    return 0;
  }
  uint64_t sum = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev) continue;
    sum += (uint64_t)st.st_blocks * 512;
    if (S_ISDIR(st.st_mode) && depth < 256) {
      int sub = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) sum += tree_blocks(sub, dev, depth + 1);
    }
  }
  closedir(dir);
  return sum;
}

int sbx_disk_used(const char *path, uint64_t *bytes) {
  *bytes = 0;
  struct stat st, parent;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode)) {
    *bytes = (uint64_t)st.st_blocks * 512;
    return 0;
  }
  char up[PATH_MAX];
  snprintf(up, sizeof up, "%s/..", path);
  if (stat(up, &parent) == 0 && parent.st_dev != st.st_dev) {
    struct statfs fs;
    if (statfs(path, &fs) < 0) return -1;
    *bytes = (uint64_t)(fs.f_blocks - fs.f_bfree) * (uint64_t)(fs.f_frsize ? fs.f_frsize : fs.f_bsize);
    return 0;
  }
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  *bytes = (uint64_t)st.st_blocks * 512 + tree_blocks(fd, st.st_dev, 0);
  return 0;
}

#define MAX_GROUPS 256

int sbx_openat2_as_user(int dirfd, const char *path, const struct open_how *how, uid_t uid, gid_t gid) {
  if (uid == 0) return (int)syscall(SYS_openat2, dirfd, path, how, sizeof *how);
  /* everything that may allocate or lock happens before the fork */
  gid_t groups[MAX_GROUPS];
  int ngroups = 0;
  struct passwd pw, *res = NULL;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res) {
    ngroups = MAX_GROUPS;
    if (getgrouplist(pw.pw_name, gid, groups, &ngroups) < 0) ngroups = 0;
  }
  if (ngroups == 0) groups[ngroups++] = gid;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    errno = e;
    return -1;
  }
  if (pid == 0) {
    /* the child of a threaded process: raw system calls only, then _exit */
    int e = 0, fd = -1;
    if (syscall(SYS_setgroups, (size_t)ngroups, groups) < 0 || syscall(SYS_setresgid, gid, gid, gid) < 0 ||
        syscall(SYS_setresuid, uid, uid, uid) < 0)
      e = errno;
    else if ((fd = (int)syscall(SYS_openat2, dirfd, path, how, sizeof *how)) < 0)
      e = errno;
    sbx_send_with_fds(sv[1], &e, sizeof e, &fd, fd >= 0 ? 1 : 0);
    _exit(0);
  }
  close(sv[1]);
  int e = EPROTO, fd = -1;
  size_t nfd = 0;
  bool truncated;
  ssize_t n = sbx_recv_with_fds(sv[0], &e, sizeof e, &fd, &nfd, 1, &truncated);
  close(sv[0]);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  if (n == (ssize_t)sizeof e && e == 0 && nfd == 1) return fd;
  if (nfd == 1) close(fd);
  errno = n == (ssize_t)sizeof e && e ? e : EPROTO;
  return -1;
}
