/* portforward.c: the stream operation `portforward`: a TCP socket connected inside a
 * sandbox's network namespace, handed to the client.
 *
 *   {"op":"portforward","namespace":"default","name":"jupyter","port":8888}
 *   → {"ok":true} + one descriptor: a TCP socket connected to 127.0.0.1:8888 in the sandbox
 *
 * The daemon makes the connection and gives it away; it never carries the data (the client,
 * `sbx port-forward`, proxies between its own listener and this socket). A client asks once
 * per accepted connection, so a sandbox restarted under a live forward is found again.
 *
 * Steps, in order:
 *  1. The caller's sandbox (another user's is "not found", exactly as a missing one).
 *  2. Its shim's status.json names `netnsPid`, a live process whose network namespace is the
 *     sandbox's. No status, no netnsPid, or a process that is gone: "not running".
 *  3. Pids are reused, so the pid is pinned before it is trusted: pidfd_open() first; then
 *     check that the process is the sandbox's (a descendant of the shim named in the same
 *     status, whose command line names this sandbox's id, and in a network namespace other
 *     than the daemon's own: a recycled pid of a host process must never lead to the host's
 *     loopback); then open /proc/N/ns/net; then check the pidfd says the process is still
 *     alive. If it is, the namespace opened is the one of the process checked.
 *  4. A short-lived thread setns(CLONE_NEWNET)s into it (namespaces are per thread, so the
 *     daemon's other threads are unaffected, and the thread ends right after), makes the
 *     socket there, and connects to 127.0.0.1:port, non-blocking with a 2 s bound.
 *     A refused connection is ServiceUnavailable, "nothing listens on port N in sandbox X". */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/controller/controller.h"
#include "daemon/store/objects.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

#define CONNECT_TIMEOUT_MS 2000
#define MAX_ANCESTRY 8 /* how far up from netnsPid the shim may be */

/* An error whose message is complete as it is (no strerror appended), with errnum set. */
static int fail(sbx_error_t *err, int errnum, const char *fmt, const char *name, int port) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, port, name);
  sbx_error_set(err, 0, "%s", msg);
  err->errnum = errnum;
  return -1;
}

static int not_running(sbx_error_t *err, const char *name) {
  sbx_error_set(err, 0, "sandbox %s is not running", name);
  err->errnum = ESRCH;
  return -1;
}

static int pidfd_open_(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

/* A pidfd polls readable once its process has exited. */
static bool pidfd_alive(int pidfd) {
  struct pollfd p = {pidfd, POLLIN, 0};
  return poll(&p, 1, 0) == 0;
}



static bool descends_from(pid_t pid, pid_t ancestor) {
  for (int i = 0; i < MAX_ANCESTRY && pid > 1; i++) {
    pid = sbx_parent_of(pid);
    if (pid == ancestor) return true;
  }
  return false;
}

/* The sandbox's network namespace, opened (O_RDONLY|O_CLOEXEC), or -1: err says why
 * (ESRCH: the sandbox is not running). */
static int open_sandbox_netns(json_object *obj, const char *name, sbx_error_t *err) {
  _cleanup_json_ json_object *st = sbx_sandbox_runtime_status(obj);
  json_object *x = NULL;
  json_object_object_get_ex(obj, SBX_INTERNAL, &x);
  const char *id = x ? sbx_json_str(x, "id") : NULL;
  pid_t pid = (pid_t)sbx_json_int(st, "netnsPid", 0);
  pid_t shim = (pid_t)sbx_json_int(st, "shimPid", 0);
  const char *phase = sbx_json_str(st, "phase");
  if (!st || pid <= 1 || shim <= 1 || !id || (phase && strcmp(phase, "Running") != 0 && strcmp(phase, "Pending") != 0))
    return not_running(err, name);

  _cleanup_fd_ int pidfd = pidfd_open_(pid);
  if (pidfd < 0) return not_running(err, name);
  if (!sbx_is_shim_of(shim, id) || !descends_from(pid, shim))
    return not_running(err, name);

  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
  _cleanup_fd_ int ns = open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) return not_running(err, name);
  if (!pidfd_alive(pidfd)) return not_running(err, name);

  struct stat mine, theirs;
  if (stat("/proc/self/ns/net", &mine) < 0 || fstat(ns, &theirs) < 0)
    return sbx_error_sys(err, "network namespace of sandbox %s", name);
  if (mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino)
    return sbx_error_set(err, EPERM, "sandbox %s has no network namespace of its own", name);
  return sbx_steal_fd(&ns);
}

struct connect_job {
  int netns;
  int port;
  int fd;        /* out: the connected socket */
  int errnum;    /* out: what failed */
  const char *what;
};

static int connect_bounded(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms) {
  if (connect(fd, sa, len) == 0) return 0;
  if (errno != EINPROGRESS && errno != EINTR) return -1;
  struct pollfd p = {fd, POLLOUT, 0};
  int r;
  do r = poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0) return errno = ETIMEDOUT, -1;
  if (r < 0) return -1;
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) return -1;
  if (soerr) return errno = soerr, -1;
  return 0;
}

static void *connect_in_netns(void *arg) {
  struct connect_job *j = arg;
  j->fd = -1;
  if (setns(j->netns, CLONE_NEWNET) < 0) {
    j->errnum = errno;
    j->what = "enter the network namespace";
    return NULL;
  }
  _cleanup_fd_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    j->errnum = errno;
    j->what = "socket";
    return NULL;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)j->port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect_bounded(fd, (struct sockaddr *)&sa, sizeof sa, CONNECT_TIMEOUT_MS) < 0) {
    j->errnum = errno;
    j->what = "connect";
    return NULL;
  }
  /* the client sets its own flags; hand over a plain blocking socket */
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  j->fd = sbx_steal_fd(&fd);
  return NULL;
}

/* A socket connected to 127.0.0.1:port inside the namespace `netns`, or -1 (err). */
static int connect_inside(int netns, int port, const char *name, sbx_error_t *err) {
  struct connect_job j = {.netns = netns, .port = port, .fd = -1};
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int r = pthread_create(&t, &attr, connect_in_netns, &j);
  pthread_attr_destroy(&attr);
  if (r != 0) return sbx_error_set(err, r, "start a thread to connect into sandbox %s", name);
  pthread_join(t, NULL);
  if (j.fd >= 0) return j.fd;
  if (j.errnum == ECONNREFUSED)
    return fail(err, ECONNREFUSED, "nothing listens on port %d in sandbox %s", name, port);
  if (j.errnum == ETIMEDOUT)
    return fail(err, ETIMEDOUT, "port %d in sandbox %s did not answer within 2 s", name, port);
  return sbx_error_set(err, j.errnum, "port %d in sandbox %s: %s", port, name, j.what);
}

void sbx_portforward_handle(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req,
                            int *fds, size_t nfds) {
  (void)fds;
  sbx_error_t err = {0};
  const char *ns = sbx_json_str(req, "namespace");
  const char *name = sbx_json_str(req, "name");
  long long port = sbx_json_int(req, "port", 0);
  if (!ns || !*ns) ns = "default";
  const char *bad = nfds > 0 ? "portforward takes no descriptors"
                    : !name || !*name ? "portforward needs the sandbox's name"
                    : port < 1 || port > 65535 ? "port must be between 1 and 65535"
                                              : NULL;
  if (bad) {
    sbx_stream_reply_error(conn, "BadRequest", bad);
    return;
  }

  _cleanup_json_ json_object *obj = NULL;
  if (sbx_sandbox_find(d, ns, name, who->uid, &obj, &err) < 0) {
    sbx_stream_reply_err(conn, &err);
    return;
  }
  _cleanup_fd_ int netns = open_sandbox_netns(obj, name, &err);
  _cleanup_fd_ int sock = netns < 0 ? -1 : connect_inside(netns, (int)port, name, &err);
  if (sock < 0) {
    bool unavailable = err.errnum == ESRCH || err.errnum == ECONNREFUSED || err.errnum == ETIMEDOUT ||
                       err.errnum == ENETUNREACH;
    if (unavailable) sbx_stream_reply_error(conn, "ServiceUnavailable", err.msg);
    else sbx_stream_reply_err(conn, &err);
    return;
  }
  _cleanup_json_ json_object *ok = json_object_new_object();
  json_object_object_add(ok, "ok", json_object_new_boolean(1));
  sbx_wire_send(conn, ok, &sock, 1, &err);
}
