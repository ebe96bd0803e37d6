/* idmap.c: writing id maps and making user namespaces for idmapped mounts (see idmap.h). */
#include "runtime/idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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
