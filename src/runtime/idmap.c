/* idmap.c: writing id maps and making user namespaces for idmapped mounts (see idmap.h). */
#include "runtime/idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"

static int write_map(pid_t pid, const char *file, const struct sbx_idmap_line *l, size_t n,
                     sbx_error_t *err) {
  char buf[1024];
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    int k = snprintf(buf + off, sizeof buf - off, "%u %u %u\n", l[i].inside, l[i].outside, l[i].count);
    if (k < 0 || (size_t)k >= sizeof buf - off) return sbx_error_set(err, E2BIG, "%s too long", file);
    off += (size_t)k;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  _cleanup_fd_ int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return sbx_error_sys(err, "open %s", path);
  if (write(fd, buf, off) != (ssize_t)off) return sbx_error_sys(err, "write %s", path);
  return 0;
}

int sbx_idmap_write(pid_t pid, const struct sbx_idmap_line *uids, size_t nuids,
                    const struct sbx_idmap_line *gids, size_t ngids, sbx_error_t *err) {
  if (write_map(pid, "uid_map", uids, nuids, err) < 0) return -1;
  return write_map(pid, "gid_map", gids, ngids, err);
}

int sbx_userns_make(const struct sbx_idmap_line *uids, size_t nuids,
                    const struct sbx_idmap_line *gids, size_t ngids, sbx_error_t *err) {
  int hold[2];
  if (pipe2(hold, O_CLOEXEC) < 0) return sbx_error_sys(err, "pipe");
  /* The child only exists to own the namespace until we have opened it. */
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid < 0) {
    close(hold[0]);
    close(hold[1]);
    return sbx_error_sys(err, "clone user namespace");
  }
  if (pid == 0) {
    char c;
    close(hold[1]);
    while (read(hold[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(hold[0]);
  int fd = -1;
  if (sbx_idmap_write(pid, uids, nuids, gids, ngids, err) == 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) sbx_error_sys(err, "open %s", path);
  }
  close(hold[1]);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  return fd;
}

int sbx_ids_can_reach(const char *dir, uint32_t id, sbx_error_t *err) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return sbx_error_sys(err, "pipe");
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return sbx_error_sys(err, "fork");
  }
  if (pid == 0) {
    close(p[0]);
    if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 || setresuid(id, id, id) < 0) _exit(2);
    char prefix[4096];
    size_t n = strlen(dir);
    for (size_t i = 0; i < n && i < sizeof prefix; i++) {
      if (i > 0 && dir[i] != '/') continue;
      size_t len = i == 0 ? 1 : i; /* "/" first, then each parent in turn */
      memcpy(prefix, dir, len);
      prefix[len] = '\0';
      if (access(prefix, X_OK) < 0) {
        if (write(p[1], prefix, len) < 0) _exit(2);
        _exit(1);
      }
    }
    _exit(0);
  }
  close(p[1]);
  char bad[4096];
  ssize_t n;
  do n = read(p[0], bad, sizeof bad - 1);
  while (n < 0 && errno == EINTR);
  close(p[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  if (n <= 0) return sbx_error_says(err, EIO, "cannot check which directories the sandboxes' ids can search");
  bad[n] = '\0';
  struct stat st;
  if (stat(bad, &st) < 0) return sbx_error_sys(err, "stat %s", bad);
  return sbx_error_says(err, EACCES,
                       "%s (mode %04o, owner uid %u) cannot be searched by the sandboxes' host ids (%u and "
                       "up): every directory above the state directory %s must let others through "
                       "(chmod o+x %s), or choose a --root under such directories",
                       bad, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)id, dir, bad);
}