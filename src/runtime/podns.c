/* podns.c: the pod's namespace holder (see podns.h).
 *
 * The order: clone with the four new namespaces, the child blocks on a pipe; the parent
 * writes the id maps (root of the host, as for a sandbox), then lets it go; the child sets
 * the hostname, brings loopback up, drops every capability (bounding set included) and
 * answers "ok" (or an error text) before it pauses for good. Its parent-death signal is
 * set after it became root of the namespace: set before, the id change cleared it and a
 * holder outlived a killed shim forever. */
#include "runtime/podns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "runtime/caps.h"
#include "runtime/idmap.h"

static void holder_fail(int fd, const char *what) {
  char buf[256];
  int n = snprintf(buf, sizeof buf, "%s: %s", what, strerror(errno));
  if (write(fd, buf, (size_t)n) < 0) _exit(125);
  _exit(125);
}

static void holder_main(const char *hostname, int go, int report) {
  char c;
  ssize_t n;
  do n = read(go, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(0);
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) holder_fail(report, "become root of the pod's user namespace");
  /* after the ids changed (they clear it), while the parent still holds `go` open */
  sbx_die_with_parent(go);
  if (hostname && *hostname && sethostname(hostname, strlen(hostname)) < 0) holder_fail(report, "sethostname");
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = {0};
  strcpy(ifr.ifr_name, "lo");
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) holder_fail(report, "loopback");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) holder_fail(report, "bring loopback up");
  close(s);
  sbx_error_t err;
  if (sbx_caps_apply(0, &err) < 0) {
    errno = err.errnum;
    holder_fail(report, err.msg);
  }
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (write(report, "ok", 2) != 2) _exit(125);
  close(report);
  close(go);
  /* nothing else: every fd closed, every signal but SIGKILL ignored */
  syscall(SYS_close_range, 0, ~0U, 0);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  for (;;) pause();
}

int sbx_pod_holder_start(const char *hostname, uint32_t host_id_base, uint32_t id_count,
                         struct sbx_pod_holder *h, sbx_error_t *err) {
  h->pid = -1;
  h->pidfd = -1;
  int go[2], rep[2];
  if (pipe2(go, O_CLOEXEC) < 0) return sbx_error_sys(err, "pipe");
  if (pipe2(rep, O_CLOEXEC) < 0) {
    close(go[0]);
    close(go[1]);
    return sbx_error_sys(err, "pipe");
  }
  int flags = CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid == 0) {
    close(go[1]);
    close(rep[0]);
    holder_main(hostname, go[0], rep[1]);
  }
  int saved = errno;
  close(go[0]);
  close(rep[1]);
  _cleanup_fd_ int gofd = go[1];
  _cleanup_fd_ int repfd = rep[0];
  if (pid < 0) {
    errno = saved;
    return sbx_error_sys(err, "clone the pod's namespaces");
  }
  h->pid = pid;
  struct sbx_idmap_line ids = {0, host_id_base, id_count};
  if (sbx_idmap_write(pid, &ids, 1, &ids, 1, err) < 0) goto fail;
  if (write(gofd, "g", 1) != 1) {
    sbx_error_sys(err, "start the pod's holder");
    goto fail;
  }
  char buf[300];
  ssize_t n;
  do n = read(repfd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  if (n != 2 || memcmp(buf, "ok", 2) != 0) {
    buf[n > 0 ? n : 0] = '\0';
    sbx_error_set(err, EPROTO, "pod holder: %s", n > 0 ? buf : "died at start");
    goto fail;
  }
  h->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (h->pidfd < 0) {
    sbx_error_sys(err, "pidfd_open");
    goto fail;
  }
  return 0;
fail:
  sbx_pod_holder_stop(h);
  return -1;
}

void sbx_pod_holder_stop(struct sbx_pod_holder *h) {
  if (h->pid > 0) {
    kill(h->pid, SIGKILL);
    while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  if (h->pidfd >= 0) close(h->pidfd);
  h->pid = -1;
  h->pidfd = -1;
}
