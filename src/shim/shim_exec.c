/* shim_exec.c: the pod shim's exec server (<state>/exec.sock, root only).
 *
 * The daemon connects and sends one frame (lib/wire.h; an optional leading "\0SBX" magic
 * is accepted too): {"op":"exec","container":"C","command":[...],"tty":bool,"stdin":bool,
 * "env":["K=V"],"winsize":{"rows":R,"cols":C}} with one descriptor, the client channel.
 * It gets {"ok":true} or {"ok":false,"message":...} back on exec.sock, which is then
 * closed. On the client channel the shim speaks run mode's client protocol
 * (docs/protocol.md): "started" with [stdin?, stdout, stderr] or the pty master, "exit"
 * with exitCode/signal/reason when the process ends, and it takes "signal" messages; the
 * channel's end kills the process. The process itself is made by runtime/exec.h with the
 * container's ids, groups, capabilities, no_new_privs and seccomp filter. Sessions are
 * independent: any number run at once, all in the shim's one poll loop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "shim/shim_pod.h"
#include "lib/cleanup.h"
#include "lib/wire.h"
#include "runtime/exec.h"

struct pod_exec {
  int client;              /* the client channel, -1 once gone */
  struct sbx_exec x;
  struct pod *pod;
  struct pod_ctr *ctr;     /* the container it runs in (the pod's array does not move) */
  uint64_t ooms;           /* the container cgroup's OOM kills when it started */
  bool ended;
  struct pod_exec *next;
};

int pod_exec_listen(struct pod *p, sbx_error_t *err) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if ((size_t)snprintf(a.sun_path, sizeof a.sun_path, "%s/exec.sock", p->state_dir) >= sizeof a.sun_path)
    return sbx_error_set(err, ENAMETOOLONG, "exec socket path too long");
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return sbx_error_sys(err, "socket");
  unlink(a.sun_path);
  mode_t old = umask(0177);
  int r = bind(fd, (struct sockaddr *)&a, sizeof a);
  umask(old);
  if (r < 0 || chmod(a.sun_path, 0600) < 0 || listen(fd, 16) < 0) {
    close(fd);
    return sbx_error_sys(err, "exec socket %s", a.sun_path);
  }
  p->exec_listen = fd;
  return 0;
}

static void reply(int conn, bool ok, const char *message) {
  _cleanup_json_ json_object *m = json_object_new_object();
  json_object_object_add(m, "ok", json_object_new_boolean(ok));
  if (message) json_object_object_add(m, "message", json_object_new_string(message));
  sbx_error_t err;
  sbx_wire_send(conn, m, NULL, 0, &err);
}

static void client_send(struct pod_exec *e, json_object *msg, const int *fds, size_t nfds) {
  sbx_error_t err;
  if (e->client >= 0 && sbx_wire_send(e->client, msg, fds, nfds, &err) < 0) {
    close(e->client);
    e->client = -1;
  }
}

static struct pod_ctr *find_ctr(struct pod *p, const char *name) {
  for (size_t i = p->ninit; i < p->nctrs; i++)
    if (!name || !*name || strcmp(p->ctrs[i].name, name) == 0) return &p->ctrs[i];
  for (size_t i = 0; i < p->ninit && name; i++)
    if (strcmp(p->ctrs[i].name, name) == 0) return &p->ctrs[i];
  return NULL;
}

/* Start one session for a request; on failure, the message says why. */
static int start_session(struct pod *p, json_object *req, int client, sbx_error_t *err) {
  const char *cname = sbx_json_str(req, "container");
  struct pod_ctr *c = find_ctr(p, cname);
  if (!c) return sbx_error_set(err, ENOENT, "container %s not found in this sandbox", cname ? cname : "");
  if (!c->running || p->stopping) return sbx_error_set(err, ESRCH, "container %s is not running", c->name);
  json_object *cmd;
  if (!json_object_object_get_ex(req, "command", &cmd) || !json_object_is_type(cmd, json_type_array) ||
      json_object_array_length(cmd) == 0)
    return sbx_error_set(err, EINVAL, "exec: no command");
  size_t na = json_object_array_length(cmd);
  json_object *env;
  size_t ne = json_object_object_get_ex(req, "env", &env) && json_object_is_type(env, json_type_array)
                  ? json_object_array_length(env) : 0;
  size_t nce = 0;
  while (c->envp[nce]) nce++;
  _cleanup_free_ char **argv = calloc(na + 1, sizeof *argv);
  _cleanup_free_ char **envp = calloc(ne + nce + 1, sizeof *envp);
  if (!argv || !envp) return sbx_error_set(err, ENOMEM, "exec");
  for (size_t i = 0; i < na; i++) argv[i] = (char *)json_object_get_string(json_object_array_get_idx(cmd, i));
  /* the request's variables first: the first of two with one name wins (getenv) */
  for (size_t i = 0; i < ne; i++) envp[i] = (char *)json_object_get_string(json_object_array_get_idx(env, i));
  for (size_t i = 0; i < nce; i++) envp[ne + i] = c->envp[i];

  bool tty = sbx_json_bool(req, "tty", 0), want_stdin = sbx_json_bool(req, "stdin", 0);
  int inside[3] = {-1, -1, -1}, outside[3] = {-1, -1, -1};
  struct sbx_exec_config cfg = {.target_pidfd = c->sb.pidfd, .cgroup = c->sb.cgroup, .argv = argv, .envp = envp,
                                .cwd = c->cwd, .uid = c->uid, .gid = c->gid, .groups = c->groups,
                                .ngroups = c->ngroups, .caps = c->caps, .seccomp = p->seccomp, .tty = tty};
  int r = 0;
  if (!tty) {
    int pp[2];
    for (int i = 0; i < 3 && r == 0; i++) {
      if (pipe2(pp, O_CLOEXEC) < 0) {
        r = sbx_error_sys(err, "pipe");
        break;
      }
      inside[i] = i == 0 ? pp[0] : pp[1];
      outside[i] = i == 0 ? pp[1] : pp[0];
    }
    if (!want_stdin && outside[0] >= 0) {
      close(outside[0]); /* no stdin: the process reads end-of-file */
      outside[0] = -1;
    }
    for (int i = 0; i < 3; i++) cfg.stdio[i] = inside[i];
  }
  struct pod_exec *e = calloc(1, sizeof *e);
  if (r == 0 && !e) r = sbx_error_set(err, ENOMEM, "exec");
  json_object *ws;
  if (tty && json_object_object_get_ex(req, "winsize", &ws)) {
    cfg.rows = (unsigned short)sbx_json_int(ws, "rows", 0);
    cfg.cols = (unsigned short)sbx_json_int(ws, "cols", 0);
  }
  if (r == 0) r = sbx_exec_start(&cfg, &e->x, err);
  for (int i = 0; i < 3; i++)
    if (inside[i] >= 0) close(inside[i]);
  if (r < 0) {
    for (int i = 0; i < 3; i++)
      if (outside[i] >= 0) close(outside[i]);
    free(e);
    return -1;
  }
  e->client = client;
  e->pod = p;
  e->ctr = c;
  sbx_cgroup_oom_kills(c->sb.cgroup, &e->ooms, err);
  _cleanup_json_ json_object *m = json_object_new_object();
  json_object_object_add(m, "type", json_object_new_string("started"));
  json_object_object_add(m, "tty", json_object_new_boolean(tty));
  if (tty) {
    client_send(e, m, &e->x.pty_master, 1);
    close(e->x.pty_master);
    e->x.pty_master = -1;
  } else {
    int fds[3];
    size_t n = 0;
    for (int i = 0; i < 3; i++)
      if (outside[i] >= 0) fds[n++] = outside[i];
    client_send(e, m, fds, n);
    for (size_t i = 0; i < n; i++) close(fds[i]);
  }
  e->next = p->execs;
  p->execs = e;
  return 0;
}

void pod_exec_accept(struct pod *p) {
  for (;;) {
    _cleanup_fd_ int conn = accept4(p->exec_listen, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) return;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) continue;
    struct timeval tv = {5, 0};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char magic[4];
    if (recv(conn, magic, 4, MSG_PEEK | MSG_WAITALL) == 4 && memcmp(magic, "\0SBX", 4) == 0 &&
        recv(conn, magic, 4, MSG_WAITALL) != 4)
      continue;
    json_object *req = NULL;
    int fds[2];
    size_t nfds = 0;
    sbx_error_t err = {0};
    if (sbx_wire_recv(conn, &req, fds, &nfds, 2, &err) <= 0) continue;
    int client = -1;
    struct stat st;
    if (strcmp(sbx_json_str(req, "op") ?: "", "exec") != 0 || nfds != 1 || fstat(fds[0], &st) < 0 ||
        !S_ISSOCK(st.st_mode)) {
      sbx_wire_close_fds(fds, nfds);
      reply(conn, false, "expected {\"op\":\"exec\",...} with the client channel");
    } else {
      client = fds[0];
      if (start_session(p, req, client, &err) < 0) {
        _cleanup_json_ json_object *m = json_object_new_object();
        json_object_object_add(m, "type", json_object_new_string("error"));
        json_object_object_add(m, "message", json_object_new_string(err.msg));
        sbx_error_t e2;
        sbx_wire_send(client, m, NULL, 0, &e2);
        close(client);
        reply(conn, false, err.msg);
      } else {
        reply(conn, true, NULL);
      }
    }
    json_object_put(req);
  }
}

size_t pod_exec_pollfds(struct pod *p, struct pollfd *pfd, size_t max) {
  size_t n = 0;
  for (struct pod_exec *e = p->execs; e && n + 2 <= max; e = e->next) {
    pfd[n++] = (struct pollfd){e->x.pidfd, POLLIN, 0};
    pfd[n++] = (struct pollfd){e->client, POLLIN, 0}; /* -1: ignored by poll */
  }
  return n;
}

static void session_end(struct pod_exec *e) {
  int status = 0, code, sig;
  while (waitpid(e->x.pid, &status, 0) < 0 && errno == EINTR) {
  }
  sbx_exec_decode_status(status, &code, &sig);
  /* SIGKILL while the container's cgroup counted a new OOM kill: the memory limit */
  uint64_t ooms = 0;
  sbx_error_t err;
  bool oom = sig == SIGKILL && e->ctr->running && e->ctr->sb.cgroup &&
             sbx_cgroup_oom_kills(e->ctr->sb.cgroup, &ooms, &err) == 0 && ooms > e->ooms;
  _cleanup_json_ json_object *m = json_object_new_object();
  json_object_object_add(m, "type", json_object_new_string("exit"));
  json_object_object_add(m, "exitCode", json_object_new_int(code));
  json_object_object_add(m, "signal", json_object_new_int(sig));
  json_object_object_add(m, "reason", json_object_new_string(oom ? "OOMKilled" : code == 0 ? "Completed" : "Error"));
  if (oom) {
    char msg[160];
    pod_oom_message(e->pod, msg, sizeof msg);
    json_object_object_add(m, "message", json_object_new_string(msg));
  }
  client_send(e, m, NULL, 0);
  e->ended = true;
}

void pod_exec_handle(struct pod *p, const struct pollfd *pfd, size_t n) {
  size_t k = 0;
  for (struct pod_exec *e = p->execs; e && k + 2 <= n; e = e->next, k += 2) {
    if (pfd[k].revents) {
      session_end(e);
      continue;
    }
    if (e->client >= 0 && pfd[k + 1].revents) {
      json_object *msg = NULL;
      sbx_error_t err;
      int none[1];
      size_t nfds = 0;
      int r = sbx_wire_recv(e->client, &msg, none, &nfds, 0, &err);
      if (r <= 0) {
        close(e->client);
        e->client = -1;
        syscall(SYS_pidfd_send_signal, e->x.pidfd, SIGKILL, NULL, 0);
      } else if (strcmp(sbx_json_str(msg, "type") ?: "", "signal") == 0) {
        int sig = (int)sbx_json_int(msg, "signal", 0);
        if (sig > 0 && sig < 65) syscall(SYS_pidfd_send_signal, e->x.pidfd, sig, NULL, 0);
      }
      json_object_put(msg);
    }
  }
  for (struct pod_exec **pp = &p->execs; *pp;) {
    struct pod_exec *e = *pp;
    if (!e->ended) {
      pp = &e->next;
      continue;
    }
    *pp = e->next;
    if (e->client >= 0) close(e->client);
    close(e->x.pidfd);
    free(e);
  }
}

void pod_exec_kill_all(struct pod *p, int sig) {
  for (struct pod_exec *e = p->execs; e; e = e->next) syscall(SYS_pidfd_send_signal, e->x.pidfd, sig, NULL, 0);
}

void pod_exec_close(struct pod *p) {
  while (p->execs) {
    struct pod_exec *e = p->execs;
    p->execs = e->next;
    syscall(SYS_pidfd_send_signal, e->x.pidfd, SIGKILL, NULL, 0);
    session_end(e);
    if (e->client >= 0) close(e->client);
    close(e->x.pidfd);
    free(e);
  }
  if (p->exec_listen >= 0) {
    char path[4200];
    snprintf(path, sizeof path, "%s/exec.sock", p->state_dir);
    unlink(path);
    close(p->exec_listen);
    p->exec_listen = -1;
  }
}
