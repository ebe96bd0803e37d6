/* attach.c: relay of a sandbox's stdio and signals (see attach.h).
 *
 * One poll loop, no threads. Each direction of data is a "pump" with its own buffer: read
 * from its source when the buffer is empty, write to its destination until it is empty.
 * The descriptors the shim sent are made non-blocking; our own stdin/stdout/stderr are not
 * (they are usually shared with the shell, and O_NONBLOCK would leak to it), so we only
 * read them after poll says so and write at most PIPE_BUF bytes per wakeup, which a pipe or
 * terminal that polled writable accepts without blocking.
 *
 * Signals that should reach the sandboxed program (INT, TERM, HUP, QUIT, USR1, USR2) and
 * SIGWINCH are blocked and read from a signalfd inside the loop: the former are sent to the
 * shim as {"type":"signal"} frames, the latter resizes the pty. Because no signal is ever
 * handled asynchronously, the terminal is restored from raw mode on every way out of the
 * loop. Three SIGINT/SIGTERM that the program does not end on make sbx give up waiting.
 *
 * End of the program: the `exit` frame. Its output may still be in the pipes, so the
 * output pumps keep draining until end-of-file, but for at most DRAIN_MS, since a process
 * the program left behind in the background could hold them open forever. */
#include "cli/attach.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

#define PUMP_BUF 65536
#define DRAIN_MS 2000
#define MAX_INTERRUPTS 3

typedef struct pump {
  int src, dst;
  char buf[PUMP_BUF];
  size_t off, len;
  size_t chunk;    /* most bytes per write */
  bool active;     /* this direction exists */
  bool eof;        /* nothing more to read */
  bool dst_gone;   /* the destination refused data: read and discard */
  bool eot_sent;   /* pty stdin: the end-of-file character was queued */
} pump_t;

typedef struct attach {
  const sbx_attach_opts_t *o;
  int shim;
  bool shim_open;
  bool started;
  bool exited;
  int status;       /* exit status once exited */
  int fds[3];       /* what `started` carried */
  size_t nfds;
  int master;       /* pty master, or -1 */
  pump_t in, out, err;
  int sigfd;
  sigset_t oldmask;
  int term_fd;      /* our terminal for window sizes, or -1 */
  struct termios saved;
  bool raw;
  int interrupts;
  struct timespec deadline;
} attach_t;

/* --- the terminal --------------------------------------------------------------------- */

/* Where the terminal is saved for the atexit() safety net: any exit() while raw. */
static struct termios *raw_saved;

static void restore_terminal_at_exit(void) {
  if (raw_saved) tcsetattr(STDIN_FILENO, TCSADRAIN, raw_saved);
}

static void make_raw(attach_t *a) {
  if (!a->o->tty || !a->o->interactive || !isatty(STDIN_FILENO)) return;
  if (tcgetattr(STDIN_FILENO, &a->saved) < 0) return;
  struct termios t = a->saved;
  cfmakeraw(&t);
  if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) < 0) return;
  a->raw = true;
  raw_saved = &a->saved;
  static bool registered;
  if (!registered) registered = atexit(restore_terminal_at_exit) == 0;
}

static void restore_terminal(attach_t *a) {
  if (!a->raw) return;
  tcsetattr(STDIN_FILENO, TCSADRAIN, &a->saved);
  a->raw = false;
  raw_saved = NULL;
}

int sbx_terminal_size(struct winsize *ws) {
  int fds[] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
  for (size_t i = 0; i < 3; i++)
    if (isatty(fds[i]) && ioctl(fds[i], TIOCGWINSZ, ws) == 0 && ws->ws_row && ws->ws_col)
      return 0;
  return -1;
}

static void resize(attach_t *a) {
  struct winsize ws;
  if (a->master >= 0 && sbx_terminal_size(&ws) == 0) ioctl(a->master, TIOCSWINSZ, &ws);
}

/* --- pumps ---------------------------------------------------------------------------- */

static bool pump_done(const pump_t *p) {
  return !p->active || (p->eof && (p->len == 0 || p->dst_gone));
}

static void pump_read(attach_t *a, pump_t *p) {
  ssize_t n = read(p->src, p->buf, sizeof p->buf);
  if (n > 0) {
    p->off = 0;
    p->len = p->dst_gone ? 0 : (size_t)n;
    return;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  /* 0: end of file. EIO on a pty master: the other side is closed. Anything else: no more
   * data will come either. */
  p->eof = true;
  if (p == &a->in && a->master >= 0 && !p->eot_sent && !p->dst_gone) {
    /* A pty cannot be half-closed: the terminal's end-of-file character (^D) is how a
     * program on a terminal learns its input ended. */
    p->buf[0] = 0x04;
    p->off = 0;
    p->len = 1;
    p->eot_sent = true;
  }
}

/* Our stdout or the program's stdin went away. */
static void pump_dst_gone(attach_t *a, pump_t *p) {
  p->dst_gone = true;
  p->len = 0;
  if (p == &a->in) {
    p->eof = true; /* stop reading our stdin */
  } else if (a->master < 0 && p->src >= 0) {
    /* Like a shell pipeline: the program gets EPIPE/SIGPIPE on its next write. */
    close(p->src);
    for (size_t i = 0; i < a->nfds; i++)
      if (a->fds[i] == p->src) a->fds[i] = -1;
    p->src = -1;
    p->eof = true;
  }
}

static void pump_write(attach_t *a, pump_t *p) {
  size_t n = p->len < p->chunk ? p->len : p->chunk;
  ssize_t w = write(p->dst, p->buf + p->off, n);
  if (w > 0) {
    p->off += (size_t)w;
    p->len -= (size_t)w;
    return;
  }
  if (w < 0 && (errno == EINTR || errno == EAGAIN)) return;
  pump_dst_gone(a, p);
}

/* The program's stdin pipe is closed as soon as there is nothing more to give it, so it
 * sees end-of-file. (A pty master stays: it carries the output too.) */
static void close_stdin_pipe(attach_t *a) {
  pump_t *p = &a->in;
  if (!p->active || a->master >= 0 || p->dst < 0) return;
  close(p->dst);
  for (size_t i = 0; i < a->nfds; i++)
    if (a->fds[i] == p->dst) a->fds[i] = -1;
  p->dst = -1;
  p->eof = true;
  p->len = 0;
  p->active = false;
}

static void pump_init(pump_t *p, int src, int dst, size_t chunk) {
  p->src = src;
  p->dst = dst;
  p->chunk = chunk;
  p->active = true;
}

/* --- frames from the shim ------------------------------------------------------------- */

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Returns 0, or an exit status (> 0) to end with. */
static int on_started(attach_t *a, json_object *msg, int *fds, size_t nfds) {
  size_t want = a->o->tty ? 1 : a->o->interactive ? 3 : 2;
  if (a->started || nfds != want) {
    sbx_wire_close_fds(fds, nfds);
    fprintf(stderr, "sbx: the sandbox's shim answered `started` with %zu descriptors instead "
                    "of %zu\n", nfds, want);
    return SBX_EXIT_RUN_FAILURE;
  }
  (void)msg;
  a->started = true;
  memcpy(a->fds, fds, nfds * sizeof *fds);
  a->nfds = nfds;
  for (size_t i = 0; i < nfds; i++) set_nonblock(fds[i]);

  if (a->o->tty) {
    a->master = fds[0];
    resize(a);
    make_raw(a);
    if (a->o->interactive) pump_init(&a->in, STDIN_FILENO, a->master, PUMP_BUF);
    pump_init(&a->out, a->master, STDOUT_FILENO, PIPE_BUF);
  } else {
    size_t i = 0;
    if (a->o->interactive) pump_init(&a->in, STDIN_FILENO, fds[i++], PUMP_BUF);
    pump_init(&a->out, fds[i++], STDOUT_FILENO, PIPE_BUF);
    pump_init(&a->err, fds[i], STDERR_FILENO, PIPE_BUF);
  }
  return 0;
}

static void on_exit_frame(attach_t *a, json_object *msg) {
  long long code = sbx_json_int(msg, "exitCode", 0);
  long long sig = sbx_json_int(msg, "signal", 0);
  const char *reason = sbx_json_str(msg, "reason");
  a->exited = true;
  if (sig > 0 && sig < 128) a->status = 128 + (int)sig;
  else if (code >= 0 && code <= 255) a->status = (int)code;
  else a->status = SBX_EXIT_RUN_FAILURE;
  if (reason && strcmp(reason, "OOMKilled") == 0) {
    const char *why = sbx_json_str(msg, "message"); /* "killed: out of memory (limit 4Gi)" */
    restore_terminal(a);
    if (why && *why) fprintf(stderr, "sbx: %s (OOMKilled)\n", why);
    else fprintf(stderr, "sbx: sandbox %s was killed: out of memory (OOMKilled)\n", a->o->name ? a->o->name : "");
  }
  /* Nothing more goes in. */
  a->in.eof = true;
  a->in.len = 0;
  close_stdin_pipe(a);
  clock_gettime(CLOCK_MONOTONIC, &a->deadline);
  a->deadline.tv_sec += DRAIN_MS / 1000;
  a->deadline.tv_nsec += (DRAIN_MS % 1000) * 1000000L;
  if (a->deadline.tv_nsec >= 1000000000L) {
    a->deadline.tv_sec++;
    a->deadline.tv_nsec -= 1000000000L;
  }
}

/* Returns 0 to go on, or an exit status. */
static int on_shim(attach_t *a) {
  _cleanup_json_ json_object *msg = NULL;
  int fds[SBX_WIRE_MAX_FDS];
  size_t nfds = 0;
  sbx_error_t err = {0};
  int r = sbx_wire_recv(a->shim, &msg, fds, &nfds, 3, &err);
  if (r <= 0) {
    a->shim_open = false;
    if (a->exited) return 0; /* the shim closes after `exit` */
    restore_terminal(a);
    if (r < 0) fprintf(stderr, "sbx: lost contact with the sandbox: %s\n", err.msg);
    else fprintf(stderr, "sbx: lost contact with the sandbox\n");
    return SBX_EXIT_RUN_FAILURE;
  }
  const char *type = sbx_json_str(msg, "type");
  if (type && strcmp(type, "started") == 0) return on_started(a, msg, fds, nfds);
  sbx_wire_close_fds(fds, nfds);
  if (!type) return 0;
  if (strcmp(type, "exit") == 0 && !a->exited) {
    on_exit_frame(a, msg);
  } else if (strcmp(type, "error") == 0) {
    const char *m = sbx_json_str(msg, "message");
    restore_terminal(a);
    fprintf(stderr, "sbx: %s\n", m && *m ? m : "the sandbox could not be started");
    return SBX_EXIT_RUN_FAILURE;
  }
  return 0; /* frames of later protocol versions are ignored */
}

/* --- signals -------------------------------------------------------------------------- */

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static int setup_signals(attach_t *a) {
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaddset(&set, forwarded[i]);
  sigaddset(&set, SIGWINCH);
  if (sigprocmask(SIG_BLOCK, &set, &a->oldmask) < 0) return -1;
  a->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  return a->sigfd < 0 ? -1 : 0;
}

/* Returns 0 to go on, or an exit status. */
static int on_signals(attach_t *a) {
  struct signalfd_siginfo si;
  while (read(a->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
    int sig = (int)si.ssi_signo;
    if (sig == SIGWINCH) {
      resize(a);
      continue;
    }
    if (a->exited) continue;
    if (a->shim_open) {
      _cleanup_json_ json_object *m = json_object_new_object();
      json_object_object_add(m, "type", json_object_new_string("signal"));
      json_object_object_add(m, "signal", json_object_new_int(sig));
      sbx_error_t err;
      sbx_wire_send(a->shim, m, NULL, 0, &err); /* a lost shim shows up as end of stream */
    }
    if ((sig == SIGINT || sig == SIGTERM) && ++a->interrupts >= MAX_INTERRUPTS) {
      restore_terminal(a);
      fprintf(stderr, "sbx: the sandbox did not stop after %d signals; giving up waiting for it\n",
              a->interrupts);
      return 128 + sig;
    }
  }
  return 0;
}

/* --- the loop ------------------------------------------------------------------------- */

static int ms_until(const struct timespec *deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long ms = (deadline->tv_sec - now.tv_sec) * 1000LL +
                 (deadline->tv_nsec - now.tv_nsec) / 1000000LL;
  return ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

enum { T_SIG, T_SHIM, T_IN_R, T_IN_W, T_OUT_R, T_OUT_W, T_ERR_R, T_ERR_W, T_MAX };

static void want_pump(struct pollfd *pfd, int *tag, size_t *n, pump_t *p, int tag_r, int tag_w) {
  if (!p->active || pump_done(p)) return;
  if (p->len > 0 && !p->dst_gone) {
    pfd[*n] = (struct pollfd){.fd = p->dst, .events = POLLOUT};
    tag[(*n)++] = tag_w;
  } else if (!p->eof && p->src >= 0) {
    pfd[*n] = (struct pollfd){.fd = p->src, .events = POLLIN};
    tag[(*n)++] = tag_r;
  }
}

static int loop(attach_t *a) {
  for (;;) {
    if (a->in.active && pump_done(&a->in)) close_stdin_pipe(a);
    if (a->exited) {
      bool drained = pump_done(&a->out) && pump_done(&a->err);
      if (drained || ms_until(&a->deadline) == 0) return a->status;
    }

    struct pollfd pfd[T_MAX];
    int tag[T_MAX];
    size_t n = 0;
    pfd[n] = (struct pollfd){.fd = a->sigfd, .events = POLLIN};
    tag[n++] = T_SIG;
    if (a->shim_open) {
      pfd[n] = (struct pollfd){.fd = a->shim, .events = POLLIN};
      tag[n++] = T_SHIM;
    }
    want_pump(pfd, tag, &n, &a->in, T_IN_R, T_IN_W);
    want_pump(pfd, tag, &n, &a->out, T_OUT_R, T_OUT_W);
    want_pump(pfd, tag, &n, &a->err, T_ERR_R, T_ERR_W);

    int r = poll(pfd, n, a->exited ? ms_until(&a->deadline) : -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      restore_terminal(a);
      fprintf(stderr, "sbx: poll: %s\n", strerror(errno));
      return SBX_EXIT_RUN_FAILURE;
    }
    for (size_t i = 0; i < n; i++) {
      if (!pfd[i].revents) continue;
      int rc = 0;
      switch (tag[i]) {
      case T_SIG: rc = on_signals(a); break;
      case T_SHIM: rc = on_shim(a); break;
      case T_IN_R: pump_read(a, &a->in); break;
      case T_IN_W: pump_write(a, &a->in); break;
      case T_OUT_R: pump_read(a, &a->out); break;
      case T_OUT_W: pump_write(a, &a->out); break;
      case T_ERR_R: pump_read(a, &a->err); break;
      case T_ERR_W: pump_write(a, &a->err); break;
      }
      if (rc) return rc;
    }
  }
}

int sbx_attach(int shim, const sbx_attach_opts_t *o) {
  attach_t *a = calloc(1, sizeof *a);
  if (!a) {
    close(shim);
    fprintf(stderr, "sbx: out of memory\n");
    return SBX_EXIT_RUN_FAILURE;
  }
  a->o = o;
  a->shim = shim;
  a->shim_open = true;
  a->master = -1;
  a->sigfd = -1;
  a->in.src = a->in.dst = a->out.src = a->out.dst = a->err.src = a->err.dst = -1;
  for (size_t i = 0; i < 3; i++) a->fds[i] = -1;

  int rc;
  if (setup_signals(a) < 0) {
    fprintf(stderr, "sbx: cannot set up signal forwarding: %s\n", strerror(errno));
    rc = SBX_EXIT_RUN_FAILURE;
  } else {
    rc = loop(a);
  }

  restore_terminal(a);
  sbx_wire_close_fds(a->fds, a->nfds);
  if (a->sigfd >= 0) close(a->sigfd);
  close(a->shim);
  /* Signals that arrived while blocked stay pending; we are about to exit with the
   * program's status, so they are dropped rather than delivered on unblocking. */
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) signal(forwarded[i], SIG_IGN);
  sigprocmask(SIG_SETMASK, &a->oldmask, NULL);
  free(a);
  return rc;
}
