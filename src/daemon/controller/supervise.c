/* supervise.c: starting shims and noticing when they end.
 *
 * A shim is started with posix_spawn from a daemon thread. It gets its own session, so a signal to
 * the daemon's process group never reaches it, and it is the daemon's child only so the
 * daemon can reap it; everything else about the sandbox is the shim's business, and it
 * carries on if the daemon dies. Each shim is watched through a pidfd in one epoll loop;
 * when it exits, the daemon records how the sandbox ended (run.c). Shims re-adopted after a
 * daemon restart are not our children, but their pidfds say when they end all the same.
 * A shim is known by its command line, "sbx-shim <id>": a restarted daemon finds (and
 * adopts or kills) shims it has no record of by that name (sbx_shims_of). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
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
#include "daemon/controller/controller.h"
#include "lib/cleanup.h"
#include "lib/timefmt.h"
#include "lib/wire.h"

struct sbx_watch {
  char *ns, *name;
  uid_t owner;
  pid_t pid;
  int pidfd;
  bool exited; /* its end is being handled: no longer a running shim */
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

  /* posix_spawn (a vfork-style clone in glibc) instead of fork: no copy of the daemon's
   * page tables on every sandbox start. Sources are first moved above the targets, so the
   * dup2 actions cannot clobber one another. */
  int high[4 + SBX_WIRE_MAX_FDS];
  size_t nhigh = 0;
  int rc = 0;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  for (size_t i = 0; i < n; i++) {
    high[i] = src[i] < 0 ? -1 : fcntl(src[i], F_DUPFD_CLOEXEC, 100);
    if (src[i] >= 0 && high[i] < 0) rc = errno;
    nhigh = i + 1;
  }
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0); /* stderr stays the daemon's log */
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (high[i] >= 0) posix_spawn_file_actions_adddup2(&fa, high[i], 3 + (int)i);
    else posix_spawn_file_actions_addopen(&fa, 3 + (int)i, "/dev/null", O_RDONLY, 0); /* no client */
  }
  posix_spawn_file_actions_addclosefrom_np(&fa, 3 + (int)n);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
  pid_t p = -1;
  if (rc == 0) rc = posix_spawn(&p, d->shim_path, &fa, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  for (size_t i = 0; i < nhigh; i++)
    if (high[i] >= 0) close(high[i]);
  if (rc != 0) return sbx_error_set(err, rc, "start %s", d->shim_path);
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

pid_t sbx_supervisor_pid(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner) {
  pthread_mutex_lock(&d->lock);
  struct sbx_watch *w = find(d, ns, name, owner);
  pid_t pid = w && !w->exited ? w->pid : -1;
  pthread_mutex_unlock(&d->lock);
  return pid;
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
  struct timespec until = sbx_deadline_ms(CLOCK_REALTIME, timeout_ms);
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
      pthread_mutex_lock(&d->lock);
      w->exited = true;
      pthread_mutex_unlock(&d->lock);
      if (d->on_shim_exit) d->on_shim_exit(d, w->ns, w->name, w->owner);
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

pid_t sbx_parent_of(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  _cleanup_fd_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n <= 0) return -1;
  buf[n] = '\0';
  /* "pid (comm) state ppid ...": comm may hold anything, so look after its last ')' */
  char *p = strrchr(buf, ')');
  int ppid = -1;
  if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1) return -1;
  return (pid_t)ppid;
}

/* "sbx-shim <id>": the id, else NULL. */
static char *shim_id(pid_t pid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  _cleanup_fd_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n <= 0) return NULL;
  buf[n] = '\0';
  size_t first = strlen(buf);
  if (strcmp(buf, "sbx-shim") != 0 || (size_t)n <= first + 1) return NULL;
  return strdup(buf + first + 1);
}

bool sbx_is_shim_of(pid_t pid, const char *id) {
  char *got = shim_id(pid);
  bool is = got && strcmp(got, id) == 0;
  free(got);
  return is;
}

json_object *sbx_shims_running(void) {
  json_object *out = json_object_new_object(), *byid = json_object_new_object();
  DIR *dir = opendir("/proc");
  for (struct dirent *e; dir && (e = readdir(dir));) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    char *id = shim_id((pid_t)pid);
    if (id) json_object_object_add(byid, e->d_name, json_object_new_string(id));
    free(id);
  }
  if (dir) closedir(dir);
  json_object_object_foreach(byid, pidtext, idobj) {
    char ppid[24];
    snprintf(ppid, sizeof ppid, "%d", (int)sbx_parent_of((pid_t)atoi(pidtext)));
    json_object *pid_of_parent;
    const char *id = json_object_get_string(idobj);
    if (json_object_object_get_ex(byid, ppid, &pid_of_parent) && strcmp(json_object_get_string(pid_of_parent), id) == 0)
      continue; /* a holder, or a container before its exec */
    json_object *list;
    if (!json_object_object_get_ex(out, id, &list)) {
      list = json_object_new_array();
      json_object_object_add(out, id, list);
    }
    json_object_array_add(list, json_object_new_int(atoi(pidtext)));
  }
  json_object_put(byid);
  return out;
}

void sbx_shim_kill(pid_t pid) {
  _cleanup_fd_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return;
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  while (poll(&p, 1, 10000) < 0 && errno == EINTR) {
  }
  waitid((idtype_t)P_PIDFD, (id_t)pidfd, &(siginfo_t){0}, WEXITED | WNOHANG); /* ours: reaped */
}