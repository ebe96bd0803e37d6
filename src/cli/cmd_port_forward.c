/* cmd_port_forward.c: `sbx port-forward [pod/|sandbox/]NAME [LOCAL:]REMOTE...`, as kubectl.
 *
 * Listens on this machine's loopback (127.0.0.1, and ::1 where the host has IPv6, for the
 * default --address localhost) and carries each accepted connection into the sandbox:
 *
 *   accept ─► owner check ─► ask sbxd (stream op `portforward`) ─► proxy until both ends close
 *
 * Owner check: only the user who runs the forward may use it. The peer of a loopback TCP
 * connection is a socket of this kernel, whose creator's uid the kernel tells (peer_uid.c).
 * Anyone else's connection is closed at once, before any byte is read or sent and before
 * sbxd is asked for anything, with a warning on stderr. (root's forward serves root only,
 * for the same reason.) A peer whose owner cannot be known for sure is refused the same
 * way: one that closed already (its socket is then a TIME_WAIT minisock the kernel reports
 * as uid 0, which root's forward would otherwise take for root), one whose socket no
 * process holds, one whose connection was reset meanwhile (peer_uid.h says why each).
 *
 * sbxd answers each request with a TCP socket already connected to 127.0.0.1:REMOTE inside
 * the sandbox's network namespace, so the data never passes through the daemon: this
 * process copies between the two sockets. One thread, one epoll loop, level-triggered:
 * every connection is two directions, each with its own pipe (up to 1 MiB) that splice(2)
 * fills from one socket and drains into the other, so the bytes are never copied through
 * this process. (Throughput is bounded by the second TCP connection, not by the copy: the
 * kernel does twice the TCP work of a direct connection, so on a 2-core machine both splice
 * and read/write measure about half a direct connection's; see docs/performance.md.) A
 * direction reads while its pipe has room and writes while it holds data; an fd is
 * registered for exactly what its two directions wait for, and removed from epoll while
 * they wait for nothing (a half-closed socket would otherwise report EPOLLHUP forever).
 * Half-close: when one side ends its sending (EOF) and everything it sent is delivered, the
 * other side's write half is shut down (shutdown(SHUT_WR)), so a client that sends a request
 * then shuts down its write half still gets the reply; the connection is closed once both
 * directions are done, or at the first error on either socket. An error on one connection
 * never touches the others or the listeners.
 *
 * The request to sbxd is made without blocking the loop: the unix socket connects at once,
 * the small request frame is sent, and the reply is read when epoll says it has arrived. A
 * refusal (the sandbox is restarting, nothing listens on the port) closes that one
 * connection and is printed; the forward keeps listening, so new connections work again once
 * the sandbox is back, even re-created under the same name. SIGINT/SIGTERM end it, status 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/kinds.h"
#include "cli/peer_uid.h"
#include "cli/port_forward_opts.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

#define PIPE_BYTES (1024 * 1024) /* asked for; the kernel may give less (then its default) */
#define ROUNDS_PER_EVENT 16 /* bound the work per wakeup so one busy connection cannot starve others */
#define MAX_LISTENERS (2 * SBX_PF_MAX_PORTS * SBX_PF_MAX_ADDRESSES)
#define DAEMON_REPLY_TIMEOUT_S 10

enum item_kind { ITEM_LISTENER, ITEM_SIGNAL, ITEM_DAEMON, ITEM_CLIENT, ITEM_REMOTE };

struct item {
  enum item_kind kind;
  void *owner;
};

struct listener {
  struct item it;
  int fd;
  const sbx_pf_port_t *port;
};

struct dir {
  int *src, *dst; /* point at the connection's fds */
  int pipe[2];    /* the bytes in flight: socket -> pipe -> socket, no copy through us */
  size_t len, cap; /* bytes in the pipe, and its capacity */
  bool eof;  /* the source will send nothing more */
  bool done; /* eof, all delivered, the destination's write half shut */
};

struct conn {
  struct item client_it, remote_it, daemon_it;
  int client, remote, daemon;
  uint32_t client_ev, remote_ev; /* registered events; 0 = not in epoll */
  const sbx_pf_port_t *port;
  struct dir up, down; /* client → remote, remote → client */
  struct conn *prev, *next;
};

struct fwd {
  int ep;
  const sbx_pf_opts_t *o;
  uid_t me;
  struct conn *conns;
};

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* --- connections ----------------------------------------------------------------------- */

static int dir_init(struct dir *d) {
  if (pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
    d->pipe[0] = d->pipe[1] = -1;
    return -1;
  }
  int got = fcntl(d->pipe[1], F_SETPIPE_SZ, PIPE_BYTES);
  if (got < 0) got = fcntl(d->pipe[1], F_GETPIPE_SZ);
  d->cap = got > 0 ? (size_t)got : 65536;
  return 0;
}

static void dir_release(struct dir *d) {
  for (int i = 0; i < 2; i++)
    if (d->pipe[i] >= 0) close(d->pipe[i]);
}

static void conn_close(struct fwd *f, struct conn *c) {
  /* Removed from epoll explicitly: closing an fd does that only once no other descriptor
   * refers to the same open file, and sbxd may still hold its copy of the sandbox socket
   * for a moment after sending it; a registration left behind would report events for a
   * connection that is freed. Events of this wakeup already collected for the connection
   * are dropped by the loop. */
  if (c->client_ev) epoll_ctl(f->ep, EPOLL_CTL_DEL, c->client, NULL);
  if (c->remote_ev) epoll_ctl(f->ep, EPOLL_CTL_DEL, c->remote, NULL);
  if (c->daemon >= 0) epoll_ctl(f->ep, EPOLL_CTL_DEL, c->daemon, NULL);
  if (c->client >= 0) close(c->client);
  if (c->remote >= 0) close(c->remote);
  if (c->daemon >= 0) close(c->daemon);
  if (c->prev) c->prev->next = c->next;
  else f->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  dir_release(&c->up);
  dir_release(&c->down);
  free(c);
}

/* One direction: move what can be moved now. Returns -1 when the connection failed. */
static int dir_step(struct dir *d) {
  for (int round = 0; round < ROUNDS_PER_EVENT && !d->done; round++) {
    bool progress = false;
    if (d->len > 0) {
      ssize_t w = splice(d->pipe[0], NULL, *d->dst, NULL, d->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (w > 0) {
        d->len -= (size_t)w;
        progress = true;
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        return -1;
      }
    }
    if (!d->eof && d->len < d->cap) {
      ssize_t r = splice(*d->src, NULL, d->pipe[1], NULL, d->cap - d->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (r > 0) {
        d->len += (size_t)r;
        progress = true;
      } else if (r == 0) {
        d->eof = true;
        progress = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        return -1;
      }
    }
    if (d->eof && d->len == 0) {
      /* everything the source sent is delivered: pass its end on */
      if (shutdown(*d->dst, SHUT_WR) < 0 && errno != ENOTCONN) return -1;
      d->done = true;
    }
    if (!progress) break;
  }
  return 0;
}

static bool dir_wants_read(const struct dir *d) { return !d->eof && d->len < d->cap; }
static bool dir_wants_write(const struct dir *d) { return d->len > 0; }

static int set_interest(struct fwd *f, int fd, struct item *it, uint32_t *cur, uint32_t want) {
  if (want == *cur) return 0;
  struct epoll_event ev = {.events = want, .data.ptr = it};
  int r = want == 0 ? epoll_ctl(f->ep, EPOLL_CTL_DEL, fd, NULL)
          : *cur == 0 ? epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev)
                      : epoll_ctl(f->ep, EPOLL_CTL_MOD, fd, &ev);
  if (r == 0) *cur = want;
  return r;
}

/* Move data both ways, then register for what is still awaited. Returns false when the
 * connection was closed. */
static bool conn_pump(struct fwd *f, struct conn *c) {
  const char *failed = dir_step(&c->up) < 0 ? "to the sandbox" : dir_step(&c->down) < 0 ? "from the sandbox" : NULL;
  if (failed) {
    /* a reset by either end is how TCP connections often end: not worth a warning */
    if (errno != ECONNRESET && errno != EPIPE)
      fprintf(stderr, "sbx port-forward: a connection for port %d failed %s: %s\n", c->port->local, failed,
              strerror(errno));
  }
  if (failed || (c->up.done && c->down.done)) {
    conn_close(f, c);
    return false;
  }
  uint32_t cw = (dir_wants_read(&c->up) ? EPOLLIN : 0) | (dir_wants_write(&c->down) ? EPOLLOUT : 0);
  uint32_t rw = (dir_wants_read(&c->down) ? EPOLLIN : 0) | (dir_wants_write(&c->up) ? EPOLLOUT : 0);
  if (set_interest(f, c->client, &c->client_it, &c->client_ev, cw) < 0 ||
      set_interest(f, c->remote, &c->remote_it, &c->remote_ev, rw) < 0) {
    fprintf(stderr, "sbx port-forward: epoll: %s\n", strerror(errno));
    conn_close(f, c);
    return false;
  }
  return true;
}

/* --- asking the daemon ----------------------------------------------------------------- */

/* Connect to sbxd and send the request; the reply is read when it arrives. */
static int daemon_ask(const sbx_pf_opts_t *o, int port, sbx_error_t *err) {
  const char *path = sbx_socket_path();
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) return sbx_error_set(err, ENAMETOOLONG, "socket path %s", path);
  memcpy(sa.sun_path, path, strlen(path) + 1);
  _cleanup_fd_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sbx_error_sys(err, "socket");
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return sbx_api_unreachable(err, path, errno);
  struct timeval tv = {.tv_sec = DAEMON_REPLY_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (send(fd, SBX_WIRE_MAGIC, SBX_WIRE_MAGIC_LEN, MSG_NOSIGNAL) != SBX_WIRE_MAGIC_LEN)
    return sbx_error_sys(err, "sbxd at %s", path);
  _cleanup_json_ json_object *req = json_object_new_object();
  json_object_object_add(req, "op", json_object_new_string("portforward"));
  json_object_object_add(req, "namespace", json_object_new_string(o->ns));
  json_object_object_add(req, "name", json_object_new_string(o->name));
  json_object_object_add(req, "port", json_object_new_int(port));
  if (sbx_wire_send(fd, req, NULL, 0, err) < 0) return sbx_error_prefix(err, "sbxd");
  return sbx_steal_fd(&fd);
}

/* sbxd answered: start proxying, or report the refusal and drop the connection. */
static void daemon_answered(struct fwd *f, struct conn *c) {
  sbx_error_t err = {0};
  _cleanup_json_ json_object *reply = NULL;
  int got[1];
  size_t ngot = 0;
  int r = sbx_wire_recv(c->daemon, &reply, got, &ngot, 1, &err);
  epoll_ctl(f->ep, EPOLL_CTL_DEL, c->daemon, NULL);
  close(c->daemon);
  c->daemon = -1;
  if (r > 0 && sbx_json_bool(reply, "ok", 0) && ngot == 1) {
    c->remote = got[0];
    int one = 1;
    setsockopt(c->remote, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (set_nonblock(c->remote) == 0) {
      conn_pump(f, c);
      return;
    }
  }
  sbx_wire_close_fds(got, ngot);
  const char *msg = r < 0 ? err.msg
                    : r == 0 ? "sbxd closed the connection without answering"
                             : sbx_json_str(reply, "message") ?: "the request was refused";
  const char *reason = r > 0 ? sbx_json_str(reply, "reason") : NULL;
  fprintf(stderr, "error forwarding port %d to sandbox %s: %s%s%s%s\n", c->port->remote, f->o->name,
          reason ? "(" : "", reason ? reason : "", reason ? ") " : "", msg);
  conn_close(f, c);
}

/* --- accepting ------------------------------------------------------------------------- */

static void accept_one(struct fwd *f, struct listener *l, int fd, const struct sockaddr_storage *peer) {
  sbx_error_t err = {0};
  uid_t uid;
  if (sbx_tcp_peer_uid(fd, peer, &uid, &err) < 0) {
    fprintf(stderr, "sbx port-forward: refused a connection to port %d from an unknown owner (%s): only uid %u may use "
                    "this forward\n", l->port->local, err.msg, (unsigned)f->me);
    close(fd);
    return;
  }
  if (uid != f->me) {
    fprintf(stderr, "sbx port-forward: refused a connection from uid %u: only uid %u may use this forward\n",
            (unsigned)uid, (unsigned)f->me);
    close(fd);
    return;
  }
  printf("Handling connection for %d\n", l->port->local);
  fflush(stdout);

  struct conn *c = calloc(1, sizeof *c);
  if (c) c->up.pipe[0] = c->up.pipe[1] = c->down.pipe[0] = c->down.pipe[1] = -1;
  if (!c || dir_init(&c->up) < 0 || dir_init(&c->down) < 0) {
    fprintf(stderr, "sbx port-forward: cannot take a connection: %s\n", strerror(c ? errno : ENOMEM));
    if (c) {
      dir_release(&c->up);
      dir_release(&c->down);
    }
    free(c);
    close(fd);
    return;
  }
  c->client = fd;
  c->remote = -1;
  c->port = l->port;
  c->client_it = (struct item){ITEM_CLIENT, c};
  c->remote_it = (struct item){ITEM_REMOTE, c};
  c->daemon_it = (struct item){ITEM_DAEMON, c};
  c->up.src = c->down.dst = &c->client;
  c->up.dst = c->down.src = &c->remote;
  c->next = f->conns;
  if (f->conns) f->conns->prev = c;
  f->conns = c;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->daemon = set_nonblock(fd) < 0 ? -1 : daemon_ask(f->o, l->port->remote, &err);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->daemon_it};
  if (c->daemon < 0 || epoll_ctl(f->ep, EPOLL_CTL_ADD, c->daemon, &ev) < 0) {
    fprintf(stderr, "error forwarding port %d to sandbox %s: %s\n", l->port->remote, f->o->name,
            err.msg[0] ? err.msg : strerror(errno));
    conn_close(f, c);
  }
}

static void accept_all(struct fwd *f, struct listener *l) {
  for (;;) {
    /* the peer's address as accepted: the kernel gives it even for a connection reset
     * since, which getpeername() would not, and the owner check must judge that case */
    struct sockaddr_storage peer;
    socklen_t pl = sizeof peer;
    int fd = accept4(l->fd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
    if (fd >= 0) {
      accept_one(f, l, fd, &peer);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN)
      fprintf(stderr, "sbx port-forward: accept on port %d: %s\n", l->port->local, strerror(errno));
    return;
  }
}

/* --- listening ------------------------------------------------------------------------- */

/* Listen on addr:port->local (0: a free port, then written back). Returns the fd or -1. */
static int listen_on(int family, const char *addr, sbx_pf_port_t *port, sbx_error_t *err) {
  struct sockaddr_storage ss = {0};
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port->local);
    if (inet_pton(AF_INET, addr, &a->sin_addr) != 1) return sbx_error_set(err, EINVAL, "%s is not an IPv4 address", addr);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port->local);
    if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1) return sbx_error_set(err, EINVAL, "%s is not an IPv6 address", addr);
    len = sizeof *a;
  }
  _cleanup_fd_ int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return sbx_error_sys(err, "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) return sbx_error_sys(err, "listen on %s:%d", addr, port->local);
  if (listen(fd, 512) < 0) return sbx_error_sys(err, "listen on %s:%d", addr, port->local);
  if (port->local == 0) {
    len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return sbx_error_sys(err, "getsockname");
    port->local = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
  }
  return sbx_steal_fd(&fd);
}

static int add_listener(struct fwd *f, struct listener *l, int fd, sbx_pf_port_t *port) {
  l->it = (struct item){ITEM_LISTENER, l};
  l->fd = fd;
  l->port = port;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->it};
  return epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Whether nothing listens on port of 127.0.0.1 and ::1 (an address the host lacks is free). */
static bool port_free(int port) {
  const char *addrs[2] = {"127.0.0.1", "::1"};
  for (size_t k = 0; k < 2; k++) {
    sbx_pf_port_t probe = {.local = port};
    sbx_error_t err = {0};
    int fd = listen_on(k ? AF_INET6 : AF_INET, addrs[k], &probe, &err);
    if (fd >= 0) close(fd);
    else if (err.errnum == EADDRINUSE || err.errnum == EACCES) return false;
  }
  return true;
}

/* The local port asked for is taken (another program, or another user's port-forward: a
 * port is the whole machine's): say so, with a free port near it to use instead. */
static void port_taken(const sbx_pf_opts_t *o, const sbx_pf_port_t *p, const char *addr) {
  int free_port = 0;
  for (int q = p->local + 1; q <= 65535 && q <= p->local + 100 && !free_port; q++)
    if (port_free(q)) free_port = q;
  fprintf(stderr, "sbx port-forward: local port %d is already in use on %s (by another program or another "
          "user's port-forward).\n", p->local, addr);
  if (free_port)
    fprintf(stderr, "Port %d is free: sbx port-forward %s %d:%d (or %s :%d to let sbx pick a free port)\n", free_port,
            o->name, free_port, p->remote, o->name, p->remote);
  else
    fprintf(stderr, "Let sbx pick a free port: sbx port-forward %s :%d\n", o->name, p->remote);
}

/* Every port on every address, in kubectl's order and words. "localhost" is 127.0.0.1 and
 * ::1, either of which may fail (a host without IPv6) but not both; a port given by number
 * that is taken on either is refused with a free one to use instead (else a browser could
 * reach someone else's forward on the other address). */
static int listen_all(struct fwd *f, sbx_pf_opts_t *o, struct listener *ls, size_t *nls) {
  for (size_t i = 0; i < o->nports; i++) {
    sbx_pf_port_t *p = &o->ports[i];
    size_t before = *nls;
    bool chosen = p->local != 0;
    char errors[2048] = "";
    for (size_t a = 0; a < o->naddresses; a++) {
      bool local = strcmp(o->addresses[a], "localhost") == 0;
      const char *addrs[2] = {local ? "127.0.0.1" : o->addresses[a], local ? "::1" : NULL};
      for (size_t k = 0; k < 2 && addrs[k]; k++) {
        sbx_error_t err = {0};
        int family = strchr(addrs[k], ':') ? AF_INET6 : AF_INET;
        int fd = listen_on(family, addrs[k], p, &err);
        if (fd < 0 && chosen && err.errnum == EADDRINUSE) {
          port_taken(o, p, addrs[k]);
          return -1;
        }
        if (fd < 0 || add_listener(f, &ls[*nls], fd, p) < 0) {
          if (fd >= 0) close(fd);
          if (!local) {
            fprintf(stderr, "sbx port-forward: unable to listen on port %d: %s\n", p->local, err.msg);
            return -1;
          }
          size_t used = strlen(errors);
          snprintf(errors + used, sizeof errors - used, "%s%s", used ? "; " : "", err.msg);
          continue;
        }
        (*nls)++;
        printf(family == AF_INET6 ? "Forwarding from [%s]:%d -> %d\n" : "Forwarding from %s:%d -> %d\n", addrs[k],
               p->local, p->remote);
      }
    }
    if (*nls == before) {
      fprintf(stderr, "sbx port-forward: unable to listen on port %d: %s\n", p->local, errors);
      return -1;
    }
  }
  fflush(stdout);
  return 0;
}

/* --- the command ----------------------------------------------------------------------- */

static int forward(sbx_pf_opts_t *o) {
  struct fwd f = {.o = o, .me = getuid()};
  _cleanup_fd_ int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    fprintf(stderr, "sbx port-forward: epoll: %s\n", strerror(errno));
    return SBX_EXIT_FAILURE;
  }
  f.ep = ep;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  _cleanup_fd_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  struct item sig_it = {ITEM_SIGNAL, NULL};
  struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &sig_it};
  if (sfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev) < 0) {
    fprintf(stderr, "sbx port-forward: signalfd: %s\n", strerror(errno));
    return SBX_EXIT_FAILURE;
  }

  _cleanup_free_ struct listener *ls = calloc(MAX_LISTENERS, sizeof *ls);
  size_t nls = 0;
  int rc = SBX_EXIT_FAILURE;
  if (!ls || listen_all(&f, o, ls, &nls) < 0) goto out;

  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(ep, evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "sbx port-forward: epoll: %s\n", strerror(errno));
      goto out;
    }
    for (int i = 0; i < n; i++) {
      struct item *it = evs[i].data.ptr;
      if (!it) continue;
      switch (it->kind) {
      case ITEM_SIGNAL: rc = 0; goto out;
      case ITEM_LISTENER: accept_all(&f, it->owner); break;
      case ITEM_DAEMON:
      case ITEM_CLIENT:
      case ITEM_REMOTE: {
        struct conn *c = it->owner;
        bool gone = it->kind == ITEM_DAEMON ? (daemon_answered(&f, c), true) : !conn_pump(&f, c);
        if (!gone) break;
        /* c is freed: forget its other events in this batch (addresses compared only) */
        for (int j = i + 1; j < n; j++)
          if (evs[j].data.ptr == &c->client_it || evs[j].data.ptr == &c->remote_it || evs[j].data.ptr == &c->daemon_it)
            evs[j].data.ptr = NULL;
        break;
      }
      }
    }
  }
out:
  while (f.conns) conn_close(&f, f.conns);
  for (size_t i = 0; i < nls; i++) close(ls[i].fd);
  return rc;
}

int sbx_cmd_port_forward(int argc, char **argv, const sbx_cmd_t *self) {
  signal(SIGPIPE, SIG_IGN);
  sbx_error_t err = {0};
  sbx_pf_opts_t o;
  if (sbx_pf_parse(argc, argv, &o, &err) < 0) {
    sbx_cmd_usage_error(self, "%s", err.msg);
    return SBX_EXIT_FAILURE;
  }
  if (o.help) {
    sbx_cmd_usage(self);
    return 0;
  }
  /* the sandbox must exist (as kubectl checks the pod), and its named ports say what
   * `http` means */
  char path[1024];
  _cleanup_json_ json_object *obj = NULL;
  if (sbx_kind_path(sbx_kind_sandbox(), o.ns, o.name, path, sizeof path, &err) < 0) {
    sbx_cmd_usage_error(self, "%s", err.msg);
    return SBX_EXIT_FAILURE;
  }
  int r = sbx_api_call("GET", path, NULL, &obj, &err);
  if (r < 0) {
    fprintf(stderr, "%s%s\n", r == SBX_API_SERVER_ERROR ? "" : "sbx: ", err.msg);
    return SBX_EXIT_FAILURE;
  }
  if (sbx_pf_resolve_ports(&o, obj, &err) < 0) {
    fprintf(stderr, "error: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
  return forward(&o);
}
