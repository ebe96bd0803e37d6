/* supervise.c: starting shims and noticing when they end.
 *
 * A shim is started with fork + exec from a daemon thread (only async-signal-safe calls
 * between the two: the daemon is multi-threaded). It gets its own session, so a signal to
 * the daemon's process group never reaches it, and it is the daemon's child only so the
 * daemon can reap it; everything else about the sandbox is the shim's business, and it
 * carries on if the daemon dies. Each shim is watched through a pidfd in one epoll loop;
 * when it exits, the daemon records how the sandbox ended (run.c). Shims re-adopted after a
 * daemon restart are not our children, but their pidfds say when they end all the same. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

struct sbx_watch {
  char *ns, *name;
  uid_t owner;
  pid_t pid;
  int pidfd;
  struct sbx_watch *next;
};

static pthread_cond_t gone_cond = PTHREAD_COND_INITIALIZER;

int sbx_shim_spawn(struct sbx_daemon *d, json_object *spec, int client, const int *fds, size_t nfds, pid_t *pid,
                   sbx_error_t *err) {
  if (nfds + 4 > SBX_WIRE_MAX_FDS) return sbx_error_set(err, E2BIG, "too many descriptors");
  size_t len;
  const char *text = json_object_to_json_string_length(spec, JSON_C_TO_STRING_PLAIN, &len);
  _cleanup_fd_ int specfd = memfd_create("sbx-spec", MFD_CLOEXEC);
  if (specfd < 0) return sbx_error_sys(err, "memfd");
  if (write(specfd, text, len) != (ssize_t)len) return sbx_error_sys(err, "write spec");

  /* Everything the child needs is computed before fork. */
  int src[4 + SBX_WIRE_MAX_FDS];
  size_t n = 0;
  src[n++] = specfd;
  src[n++] = client;
  src[n++] = d->init_memfd;
  src[n++] = d->seccomp_memfd;
  for (size_t i = 0; i < nfds; i++) src[n++] = fds[i];
  char *argv[] = {"sbx-shim", (char *)sbx_json_str(spec, "id"), NULL};
  char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};

  pid_t p = fork();
  if (p < 0) return sbx_error_sys(err, "fork");
  if (p == 0) {
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int high[4 + SBX_WIRE_MAX_FDS];
    for (size_t i = 0; i < n; i++) high[i] = src[i] < 0 ? -1 : fcntl(src[i], F_DUPFD_CLOEXEC, 100);
    for (size_t i = 0; i < n; i++) {
      if (high[i] < 0) continue;
      if (dup2(high[i], 3 + (int)i) < 0) _exit(127);
    }
    int keep_in = open("/dev/null", O_RDONLY);
    if (keep_in >= 0) {
      dup2(keep_in, 0);
      dup2(keep_in, 1); /* stdout unused; stderr stays the daemon's log */
      if (keep_in > 2) close(keep_in);
    }
    /* a missing client leaves fd 4 closed */
    if (src[1] < 0) close(4);
    syscall(SYS_close_range, 3 + n, ~0U, 0);
    execve(d->shim_path, argv, envp);
    _exit(127);
  }
  *pid = p;
  return 0;
}

int sbx_supervisor_watch(struct sbx_daemon *d, pid_t pid, const char *ns, const char *name, uid_t owner,
                         sbx_error_t *err) {
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return sbx_error_sys(err, "pidfd_open %d", (int)pid);
  struct sbx_watch *w = calloc(1, sizeof *w);
  if (!w || !(w->ns = strdup(ns)) || !(w->name = strdup(name))) {
    close(pidfd);
    if (w) free(w->ns);
    free(w);
    return sbx_error_set(err, ENOMEM, "watch");
  }
  w->owner = owner;
  w->pid = pid;
  w->pidfd = pidfd;
  pthread_mutex_lock(&d->lock);
  w->next = d->watches;
  d->watches = w;
  pthread_mutex_unlock(&d->lock);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
  if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, pidfd, &ev) < 0) return sbx_error_sys(err, "epoll");
  return 0;
}

static struct sbx_watch *find(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner) {
  for (struct sbx_watch *w = d->watches; w; w = w->next)
    if (w->owner == owner && strcmp(w->ns, ns) == 0 && strcmp(w->name, name) == 0) return w;
  return NULL;
}

int sbx_supervisor_signal(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, int sig) {
  pthread_mutex_lock(&d->lock);
  struct sbx_watch *w = find(d, ns, name, owner);
  int r = w ? (int)syscall(SYS_pidfd_send_signal, w->pidfd, sig, NULL, 0) : -1;
  int e = w ? errno : ESRCH;
  pthread_mutex_unlock(&d->lock);
  errno = e;
  return r;
}

int sbx_supervisor_wait_gone(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, int timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&d->lock);
  int r = 0;
  while (find(d, ns, name, owner)) {
    if (pthread_cond_timedwait(&gone_cond, &d->lock, &until) == ETIMEDOUT) {
      r = find(d, ns, name, owner) ? -1 : 0;
      break;
    }
  }
  pthread_mutex_unlock(&d->lock);
  return r;
}

static void *loop(void *arg) {
  struct sbx_daemon *d = arg;
  for (;;) {
    struct epoll_event ev[16];
    int n = epoll_wait(d->epoll_fd, ev, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; i++) {
      struct sbx_watch *w = ev[i].data.ptr;
      siginfo_t si;
      /* reap it if it is ours; a re-adopted shim is not, and that is fine */
      waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG);
      epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, w->pidfd, NULL);
      sbx_run_finished(d, w->ns, w->name, w->owner);
      pthread_mutex_lock(&d->lock);
      for (struct sbx_watch **pp = &d->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
          *pp = w->next;
          break;
        }
      pthread_cond_broadcast(&gone_cond);
      pthread_mutex_unlock(&d->lock);
      close(w->pidfd);
      free(w->ns);
      free(w->name);
      free(w);
    }
  }
  return NULL;
}

int sbx_supervisor_start(struct sbx_daemon *d, sbx_error_t *err) {
  d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (d->epoll_fd < 0) return sbx_error_sys(err, "epoll");
  pthread_t t;
  if (pthread_create(&t, NULL, loop, d) != 0) return sbx_error_set(err, EAGAIN, "cannot start the supervisor");
  pthread_detach(t);
  return 0;
}
