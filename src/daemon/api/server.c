/* server.c: the daemon's socket.
 *
 * One unix socket carries two protocols (docs/protocol.md). The accept loop takes each
 * connection, and a short-lived thread waits (bounded) for its first byte without consuming
 * it: a NUL begins the stream protocol, handled in that thread; anything else is HTTP, and
 * the connection goes to libmicrohttpd (MHD_add_connection, a thread per connection), which
 * parses it. The socket is mode 0666: anyone may talk to the daemon, and every request is
 * attributed to the caller's uid from SO_PEERCRED.
 *
 * Walls between users (docs/security.md): each uid holds at most its share
 * of connections, descriptors and bytes in flight (share.c); every connection has a
 * deadline (its first byte, then its request frame, each within FRAME_TIMEOUT_MS; HTTP
 * connections idle for HTTP_IDLE_TIMEOUT_S are closed); each stream operation has its own
 * largest request; libmicrohttpd polls with poll(), never select(), so descriptors past
 * 1024 are served like the others. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

#define FRAME_TIMEOUT_MS 10000   /* the first byte, the magic, the request frame: each this long */
#define HTTP_IDLE_TIMEOUT_S 30   /* an HTTP connection with nothing to read or write is closed */
#define HTTP_CONN_MEMORY (64u << 10) /* request line and headers of one HTTP connection */

void sbx_server_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) sbx_log(SBX_LOG_WARN, "raise RLIMIT_NOFILE: %s", strerror(errno));
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  sbx_log(SBX_LOG_INFO, "up to %llu open descriptors (RLIMIT_NOFILE)", (unsigned long long)rl.rlim_cur);
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
  if (ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0) sbx_share_give(cr.uid, 1, 0, 0);
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
  /* MHD_USE_POLL: select() cannot watch a descriptor past 1024, and then serves no one */
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                   MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (MHD_is_feature_supported(MHD_FEATURE_POLL) != MHD_YES)
    return sbx_error_set(err, ENOSYS, "this libmicrohttpd cannot poll(); sbxd needs one that can");
  /* its own default limit is select()'s; the users' shares are what bound connections */
  struct rlimit rl = {.rlim_cur = 1024};
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t fds = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000 ? 1000000 : rl.rlim_cur;
  unsigned limit = fds > 2048 ? (unsigned)(fds - 256) : 1024;
  struct MHD_Daemon *m = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, d,
                                          MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                          MHD_OPTION_NOTIFY_COMPLETED, completed, d,
                                          MHD_OPTION_NOTIFY_CONNECTION, connection_event, NULL,
                                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
                                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
                                          MHD_OPTION_CONNECTION_LIMIT, limit,
                                          MHD_OPTION_END);
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
  uint32_t max_request; /* the largest request frame it takes */
};

/* Only `api` (a manifest applied, a Secret of up to 1 MiB) needs big requests; the others
 * may last as long as a sandbox does, holding their request, so theirs are small. */
static const struct stream_op stream_ops[] = {
    {"run", sbx_run_handle, 256u << 10},
    {"api", sbx_api_stream, SBX_WIRE_MAX},
    {"logs", sbx_logs_handle, 16u << 10},
    {"exec", sbx_exec_handle, 256u << 10},
    {"portforward", sbx_portforward_handle, 16u << 10},
};

static void serve_stream(struct sbx_daemon *d, int fd, uid_t uid) {
  char magic[SBX_WIRE_MAGIC_LEN];
  sbx_error_t err = {0};
  if (sbx_wire_recv_exact(fd, magic, sizeof magic, FRAME_TIMEOUT_MS, &err) < 0 ||
      memcmp(magic, SBX_WIRE_MAGIC, sizeof magic) != 0)
    return;
  struct sbx_caller who;
  if (sbx_caller_from_socket(d, fd, &who, &err) < 0) return;
  json_object *req = NULL;
  int fds[SBX_WIRE_MAX_FDS];
  size_t nfds = 0;
  struct sbx_held held = {.d = d, .uid = uid};
  struct sbx_wire_bounds b = {.max_fds = SBX_WIRE_MAX_FDS, .max_bytes = SBX_WIRE_MAX, .timeout_ms = FRAME_TIMEOUT_MS,
                              .reserve = sbx_share_reserve, .ctx = &held};
  if (sbx_wire_recv_bounded(fd, &req, fds, &nfds, &b, &err) <= 0) {
    sbx_share_release(&held);
    sbx_stream_reply_error(fd, err.errnum == ENOBUFS ? "TooManyRequests" : "BadRequest",
                           err.msg[0] ? err.msg : "empty request");
    return;
  }
  const char *op = sbx_json_str(req, "op");
  const struct stream_op *o = NULL;
  for (size_t i = 0; op && i < sizeof stream_ops / sizeof stream_ops[0]; i++)
    if (strcmp(stream_ops[i].name, op) == 0) o = &stream_ops[i];
  long long start = sbx_log_now_ns();
  sbx_wire_last_reply_reset();
  if (!o) {
    sbx_stream_reply_error(fd, "BadRequest", "unknown stream operation");
  } else if (b.got_bytes > o->max_request) {
    char msg[128];
    snprintf(msg, sizeof msg, "a %s request is at most %u bytes; this one has %u", o->name, o->max_request,
             b.got_bytes);
    sbx_stream_reply_error(fd, "RequestEntityTooLarge", msg);
  } else {
    o->fn(d, fd, &who, req, fds, nfds);
  }
  /* the access log: an api request by its method and path, any other operation by its
   * name and the sandbox it acts on */
  bool api = op && strcmp(op, "api") == 0;
  const char *object = api ? sbx_json_str(req, "path") : sbx_json_str(req, "name");
  sbx_log_access("stream", who.uid, api ? sbx_json_str(req, "method") : op, object, sbx_wire_last_reply_code(), start);
  sbx_wire_close_fds(fds, nfds);
  json_object_put(req);
  sbx_share_release(&held);
}

/* A connection over its user's share: told why, in its protocol, if its first byte is
 * already there (never waited for), then closed. */
static void refuse_over_share(const struct sbx_daemon *d, int fd) {
  char first, msg[200];
  snprintf(msg, sizeof msg,
           "you hold %d connections to sbxd, the most one user may (sbxd --max-connections-per-user); "
           "close some and try again",
           d->max_conns_per_user);
  if (recv(fd, &first, 1, MSG_PEEK | MSG_DONTWAIT) != 1) return;
  fcntl(fd, F_SETFL, O_NONBLOCK); /* a peer that does not read cannot hold this thread */
  if (first == '\0') {
    sbx_stream_reply_error(fd, "TooManyRequests", msg);
    return;
  }
  char resp[400];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                   "Content-Length: %zu\r\n\r\n%s\n",
                   strlen(msg) + 1, msg);
  if (send(fd, resp, (size_t)n, MSG_NOSIGNAL) < 0) return; /* best effort */
}

static void *dispatch(void *arg) {
  struct conn *c = arg;
  struct ucred cr = {.uid = (uid_t)-1};
  socklen_t crlen = sizeof cr;
  getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen);
  if (!sbx_share_take(c->d, cr.uid, 1, 0, 0)) {
    refuse_over_share(c->d, c->fd); /* theirs alone is refused */
    close(c->fd);
    free(c);
    return NULL;
  }
  struct pollfd p = {c->fd, POLLIN, 0};
  char first;
  if (poll(&p, 1, FRAME_TIMEOUT_MS) == 1 && recv(c->fd, &first, 1, MSG_PEEK) == 1) {
    if (first == '\0') {
      serve_stream(c->d, c->fd, cr.uid);
    } else {
      struct sockaddr_un sa = {.sun_family = AF_UNIX};
      socklen_t len = sizeof sa;
      getsockname(c->fd, (struct sockaddr *)&sa, &len);
      if (MHD_add_connection(c->d->mhd, c->fd, (struct sockaddr *)&sa, len) == MHD_YES) {
        free(c);
        return NULL; /* libmicrohttpd owns the fd now, and releases the slot at its close */
      }
      free(c); /* refused: libmicrohttpd has closed the fd already */
      sbx_share_give(cr.uid, 1, 0, 0);
      return NULL;
    }
  }
  close(c->fd);
  free(c);
  sbx_share_give(cr.uid, 1, 0, 0);
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
