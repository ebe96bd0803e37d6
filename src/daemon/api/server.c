/* server.c: the daemon's socket.
 *
 * One unix socket carries two protocols (docs/protocol.md). The accept loop takes each
 * connection, and a short-lived thread waits (bounded) for its first byte without consuming
 * it: a NUL begins the stream protocol, handled in that thread; anything else is HTTP, and
 * the connection goes to libmicrohttpd (MHD_add_connection, a thread per connection), which
 * parses it. The socket is mode 0666: anyone may talk to the daemon, and every request is
 * attributed to the caller's uid from SO_PEERCRED. Each uid may hold at most
 * MAX_PENDING_PER_UID connections at once (HTTP ones until they close), so one user's flood
 * of idle connections cannot take the daemon from the others. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/api/http.h"
#include "daemon/api/api.h"
#include "daemon/controller/controller.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

#define FIRST_BYTE_TIMEOUT_MS 10000
/* Connections waiting for their first byte, or in a stream request, are counted per uid: a
 * user who floods the socket with silent connections runs out of their own share, and
 * other users (and root) are still served. */
#define MAX_PENDING_PER_UID 64

struct pending_uid {
  uid_t uid;
  int n;
  struct pending_uid *next;
};
static struct pending_uid *pending_list;
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

static bool pending_take(uid_t uid) {
  pthread_mutex_lock(&pending_lock);
  struct pending_uid *p = pending_list;
  while (p && p->uid != uid) p = p->next;
  if (!p && (p = calloc(1, sizeof *p))) {
    p->uid = uid;
    p->next = pending_list;
    pending_list = p;
  }
  bool ok = p && p->n < MAX_PENDING_PER_UID;
  if (ok) p->n++;
  pthread_mutex_unlock(&pending_lock);
  return ok;
}

static void pending_release(uid_t uid) {
  pthread_mutex_lock(&pending_lock);
  for (struct pending_uid *p = pending_list; p; p = p->next)
    if (p->uid == uid) p->n--;
  pthread_mutex_unlock(&pending_lock);
}

int sbx_server_listen(struct sbx_daemon *d, sbx_error_t *err) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(d->socket_path) >= sizeof sa.sun_path)
    return sbx_error_set(err, ENAMETOOLONG, "socket path %s is too long", d->socket_path);
  strcpy(sa.sun_path, d->socket_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sbx_error_sys(err, "socket");
  /* A socket file left by a dead daemon is replaced; a live daemon's is not. */
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
    close(fd);
    return sbx_error_set(err, EADDRINUSE, "another sbxd is already listening on %s", d->socket_path);
  }
  unlink(d->socket_path);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    sbx_error_sys(err, "bind %s", d->socket_path);
    close(fd);
    return -1;
  }
  if (chmod(d->socket_path, 0666) < 0 || listen(fd, 256) < 0) {
    sbx_error_sys(err, "listen on %s", d->socket_path);
    close(fd);
    return -1;
  }
  d->listen_fd = fd;
  return 0;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                      const char *version, const char *data, size_t *size, void **con_cls) {
  return (enum MHD_Result)sbx_api_handler(cls, c, url, method, version, data, size, con_cls);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  sbx_api_request_done(cls, c, con_cls, (int)toe);
}

static void connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode code) {
  (void)cls;
  (void)socket_context;
  if (code != MHD_CONNECTION_NOTIFY_CLOSED) return;
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0) pending_release(cr.uid);
}

/* libmicrohttpd's own messages are about single connections (a client that went away, TCP
 * options a unix socket does not have): debug level, so they stay out of the log. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  sbx_log(SBX_LOG_DEBUG, "http: %s", msg);
}

int sbx_server_start_http(struct sbx_daemon *d, sbx_error_t *err) {
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_NO_LISTEN_SOCKET |
                   MHD_USE_ITC | MHD_USE_ERROR_LOG;
  struct MHD_Daemon *m = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, d,
                                          MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                          MHD_OPTION_NOTIFY_COMPLETED, completed, d,
                                          MHD_OPTION_NOTIFY_CONNECTION, connection_event, NULL,
                                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
  if (!m) return sbx_error_set(err, EIO, "cannot start the HTTP server");
  d->mhd = m;
  return 0;
}

struct conn {
  struct sbx_daemon *d;
  int fd;
};

struct stream_op {
  const char *name;
  sbx_stream_op_fn fn;
};

static const struct stream_op stream_ops[] = {
    {"run", sbx_run_handle},
    {"api", sbx_api_stream},
    {"logs", sbx_logs_handle},
    {"exec", sbx_exec_handle},
    {"portforward", sbx_portforward_handle},
};

static void serve_stream(struct sbx_daemon *d, int fd) {
  char magic[SBX_WIRE_MAGIC_LEN];
  sbx_error_t err = {0};
  ssize_t n = recv(fd, magic, sizeof magic, MSG_WAITALL);
  if (n != (ssize_t)sizeof magic || memcmp(magic, SBX_WIRE_MAGIC, sizeof magic) != 0) return;
  struct sbx_caller who;
  if (sbx_caller_from_socket(d, fd, &who, &err) < 0) return;
  json_object *req = NULL;
  int fds[SBX_WIRE_MAX_FDS];
  size_t nfds = 0;
  if (sbx_wire_recv(fd, &req, fds, &nfds, SBX_WIRE_MAX_FDS, &err) <= 0) {
    _cleanup_json_ json_object *r = json_object_new_object();
    json_object_object_add(r, "ok", json_object_new_boolean(0));
    json_object_object_add(r, "reason", json_object_new_string("BadRequest"));
    json_object_object_add(r, "message", json_object_new_string(err.msg[0] ? err.msg : "empty request"));
    sbx_wire_send(fd, r, NULL, 0, &err);
    return;
  }
  const char *op = sbx_json_str(req, "op");
  const struct stream_op *o = NULL;
  for (size_t i = 0; op && i < sizeof stream_ops / sizeof stream_ops[0]; i++)
    if (strcmp(stream_ops[i].name, op) == 0) o = &stream_ops[i];
  long long start = sbx_log_now_ns();
  sbx_wire_last_reply_reset();
  if (o)
    o->fn(d, fd, &who, req, fds, nfds);
  else
    sbx_stream_reply_error(fd, "BadRequest", "unknown stream operation");
  /* the access log: an api request by its method and path, any other operation by its
   * name and the sandbox it acts on */
  bool api = op && strcmp(op, "api") == 0;
  const char *object = api ? sbx_json_str(req, "path") : sbx_json_str(req, "name");
  sbx_log_access("stream", who.uid, api ? sbx_json_str(req, "method") : op, object, sbx_wire_last_reply_code(), start);
  sbx_wire_close_fds(fds, nfds);
  json_object_put(req);
}

static void *dispatch(void *arg) {
  struct conn *c = arg;
  struct ucred cr = {.uid = (uid_t)-1};
  socklen_t crlen = sizeof cr;
  getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen);
  if (!pending_take(cr.uid)) {
    close(c->fd);
    free(c);
    return NULL;
  }
  struct pollfd p = {c->fd, POLLIN, 0};
  char first;
  if (poll(&p, 1, FIRST_BYTE_TIMEOUT_MS) == 1 && recv(c->fd, &first, 1, MSG_PEEK) == 1) {
    if (first == '\0') {
      serve_stream(c->d, c->fd);
    } else {
      struct sockaddr_un sa = {.sun_family = AF_UNIX};
      socklen_t len = sizeof sa;
      getsockname(c->fd, (struct sockaddr *)&sa, &len);
      if (MHD_add_connection(c->d->mhd, c->fd, (struct sockaddr *)&sa, len) == MHD_YES) {
        free(c);
        return NULL; /* libmicrohttpd owns the fd now, and releases the slot at its close */
      }
      free(c); /* refused: libmicrohttpd has closed the fd already */
      pending_release(cr.uid);
      return NULL;
    }
  }
  close(c->fd);
  free(c);
  pending_release(cr.uid);
  return NULL;
}

void sbx_server_accept_loop(struct sbx_daemon *d) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (;;) {
    int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        usleep(100000); /* out of resources: back off rather than spin */
        continue;
      }
      sbx_log(SBX_LOG_ERROR, "accept: %s", strerror(errno));
      break;
    }
    struct conn *c = malloc(sizeof *c);
    pthread_t t;
    if (!c) {
      close(fd);
      continue;
    }
    c->d = d;
    c->fd = fd;
    if (pthread_create(&t, &attr, dispatch, c) != 0) {
      close(fd);
      free(c);
    }
  }
  pthread_attr_destroy(&attr);
}
