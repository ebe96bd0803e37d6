/* cmd_logs.c: `sbx logs [-f] [-p] [-c C] [--tail N] [-n NS] [pod/|sandbox/]NAME`, as kubectl logs.
 *
 * The daemon does not stream logs: the stream operation `logs` hands over the container's
 * log files themselves (opened for the sandbox's owner only): the rotated ones oldest first
 * and the current one last, with whether the container is running. sbx prints the current
 * one from the start, or from --tail lines back (with -p: the last terminated instance's).
 * With -f it follows: it reads what is added every 200 ms, and every second asks the daemon
 * again, for whether the container still runs and for the files as they are now. A file it
 * holds that is no longer the current one was rotated (or its instance ended): it finishes
 * that file, prints the newer rotated ones whole, and goes on with the new current one, so
 * nothing is printed twice and nothing rotated between two asks is lost. A log truncated
 * under it (the size falls below what was read) is read again from its start. If sbxd
 * does not answer (restarting), it says so once and keeps following the file it holds (the
 * shim writes on), asking again every second until sbxd is back. It stops when the
 * container has stopped and everything written is printed, or, with a message, when the
 * sandbox is gone. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/stream.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

#define POLL_MS 200
#define RECHECK_MS 1000

enum { OPT_TAIL = 0x100 };

static const struct option long_opts[] = {
    {"follow", no_argument, NULL, 'f'},
    {"previous", no_argument, NULL, 'p'},
    {"container", required_argument, NULL, 'c'},
    {"tail", required_argument, NULL, OPT_TAIL},
    {"namespace", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct logs_req {
  const char *ns, *name, *container;
  bool previous;
} logs_req_t;

/* What one ask brought: the files, oldest first, the current one last. */
typedef struct log_files {
  int fd[SBX_WIRE_MAX_FDS];
  size_t n;
  bool running;
} log_files_t;

/* Ask the daemon for the log files. 0 or -1 with err; *not_found tells a NotFound refusal
 * apart, *server_error any refusal from a daemon that answered. */
static int ask(const logs_req_t *q, log_files_t *out, char *container, size_t csize, bool *server_error,
               bool *not_found, sbx_error_t *err) {
  _cleanup_json_ json_object *req = json_object_new_object();
  if (!req) return sbx_error_set(err, ENOMEM, "logs");
  json_object_object_add(req, "op", json_object_new_string("logs"));
  json_object_object_add(req, "namespace", json_object_new_string(q->ns));
  json_object_object_add(req, "name", json_object_new_string(q->name));
  if (q->container) json_object_object_add(req, "container", json_object_new_string(q->container));
  if (q->previous) json_object_object_add(req, "previous", json_object_new_boolean(1));
  _cleanup_json_ json_object *reply = NULL;
  out->n = 0;
  *not_found = false;
  if (sbx_stream_request(req, NULL, 0, &reply, out->fd, &out->n, SBX_WIRE_MAX_FDS, server_error, err) < 0) {
    *not_found = *server_error && strstr(err->msg, "(NotFound)") != NULL;
    return -1;
  }
  if (out->n < 1) return sbx_error_set(err, 0, "sbxd answered the logs request without the log");
  out->running = sbx_json_bool(reply, "running", 0);
  const char *c = sbx_json_str(reply, "container");
  if (container) snprintf(container, csize, "%s", c ? c : "");
  return 0;
}

static void close_files(log_files_t *f) {
  sbx_wire_close_fds(f->fd, f->n);
  f->n = 0;
}

static int write_all(const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(STDOUT_FILENO, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Copy from *off to the current end of fd. 0 when all is copied, -1 when stdout is gone. */
static int drain(int fd, off_t *off) {
  char buf[65536];
  for (;;) {
    ssize_t r = pread(fd, buf, sizeof buf, *off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    if (write_all(buf, (size_t)r) < 0) return -1;
    *off += r;
  }
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static bool same_file(int a, int b) {
  struct stat x, y;
  return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

/* A new ask's files against the one being followed (*cur at *off): finish *cur, print the
 * rotated files newer than it whole, and make the current one *cur. Takes over f. */
static int catch_up(log_files_t *f, int *cur, off_t *off) {
  size_t last = f->n - 1, from = 0;
  if (same_file(f->fd[last], *cur)) {
    close_files(f);
    return 0;
  }
  for (size_t i = 0; i < last; i++)
    if (same_file(f->fd[i], *cur)) from = i + 1; /* not found: every file is newer */
  int rc = drain(*cur, off);
  for (size_t i = from; rc == 0 && i < last; i++) {
    /* a rotation while the daemon opened the files can repeat one: print it once */
    if (same_file(f->fd[i], f->fd[last]) || (i > from && same_file(f->fd[i], f->fd[i - 1]))) continue;
    off_t o = 0;
    rc = drain(f->fd[i], &o);
  }
  close(*cur);
  *cur = f->fd[last];
  *off = 0;
  f->fd[last] = -1;
  f->n = last;
  close_files(f);
  return rc;
}

static int follow(const logs_req_t *q, int fd, off_t off, bool running) {
  int cur = fd;
  struct stat st;
  long long next_check = now_ms() + RECHECK_MS;
  bool lost = false; /* sbxd did not answer the last ask */
  int rc = 0;
  for (;;) {
    if (fstat(cur, &st) == 0 && st.st_size < off) off = 0; /* truncated: from the top */
    if (drain(cur, &off) < 0) break;
    if (!running) break;
    if (now_ms() >= next_check) {
      sbx_error_t err = {0};
      bool server_error, not_found;
      log_files_t f;
      int r = ask(q, &f, NULL, 0, &server_error, &not_found, &err);
      next_check = now_ms() + RECHECK_MS;
      if (r < 0 && not_found) {
        /* deleted, or its log is gone: print what is left, and say why it ends */
        drain(cur, &off);
        fprintf(stderr, "sbx: sandbox \"%s\" is gone; its log ends here (%s)\n", q->name, err.msg);
        break;
      }
      if (r < 0 && server_error) {
        fprintf(stderr, "%s\n", err.msg);
        rc = SBX_EXIT_FAILURE;
        break;
      }
      if (r < 0) { /* sbxd is not answering (a restart): the shim writes on, keep reading */
        if (!lost) fprintf(stderr, "sbx: %s; still following the log, waiting for sbxd to come back\n", err.msg);
        lost = true;
        continue;
      }
      if (lost) fprintf(stderr, "sbx: sbxd is back; following on\n");
      lost = false;
      running = f.running;
      if (catch_up(&f, &cur, &off) < 0) break;
      continue; /* drain once more before deciding to stop */
    }
    usleep(POLL_MS * 1000);
  }
  close(cur);
  return rc;
}

int sbx_cmd_logs(int argc, char **argv, const sbx_cmd_t *self) {
  logs_req_t q = {.ns = "default"};
  bool follow_flag = false;
  long tail = -1;
  const char *pos[2] = {NULL, NULL};
  size_t npos = 0;
  sbx_error_t err = {0};
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "-:fpc:n:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1:
      if (npos < 2) pos[npos] = optarg;
      npos++;
      break;
    case 'f': follow_flag = true; break;
    case 'p': q.previous = true; break;
    case 'c': q.container = optarg; break;
    case 'n': q.ns = optarg; break;
    case OPT_TAIL: {
      char *end;
      errno = 0;
      long v = strtol(optarg, &end, 10);
      if (*end || end == optarg || errno || v < -1) {
        sbx_cmd_usage_error(self, "--tail=%s: give a number of lines (-1: all)", optarg);
        return SBX_EXIT_FAILURE;
      }
      tail = v;
      break;
    }
    case 'h': sbx_cmd_usage(self); return 0;
    default: sbx_cmd_flag_error(self, opt, argv); return SBX_EXIT_FAILURE;
    }
  }
  while (optind < argc) {
    if (npos < 2) pos[npos] = argv[optind];
    npos++;
    optind++;
  }
  if (npos == 0) {
    sbx_cmd_usage_error(self, "give the sandbox: sbx logs NAME");
    return SBX_EXIT_FAILURE;
  }
  if (npos == 2 && !q.container && !strchr(pos[0], '/')) {
    q.container = pos[1]; /* kubectl logs POD CONTAINER */
  } else if (npos > 1) {
    sbx_cmd_usage_error(self, "one sandbox at a time: sbx logs NAME [-c CONTAINER]");
    return SBX_EXIT_FAILURE;
  }
  if (sbx_parse_pod_arg(pos[0], &q.name, &err) < 0) {
    sbx_cmd_usage_error(self, "%s", err.msg);
    return SBX_EXIT_FAILURE;
  }

  bool server_error, not_found;
  char container[128];
  log_files_t f;
  if (ask(&q, &f, container, sizeof container, &server_error, &not_found, &err) < 0) {
    fprintf(stderr, server_error ? "%s\n" : "sbx: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
  /* kubectl prints the current file; a follower reaches the rotated ones as they come */
  _cleanup_fd_ int fd = f.fd[f.n - 1];
  f.n--;
  close_files(&f);
  struct stat st;
  if (fstat(fd, &st) < 0) {
    fprintf(stderr, "sbx: the log: %s\n", strerror(errno));
    return SBX_EXIT_FAILURE;
  }
  off_t off = 0;
  if (sbx_tail_offset(fd, st.st_size, tail, &off, &err) < 0) {
    fprintf(stderr, "sbx: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
  if (!follow_flag || q.previous) {
    /* what is there now; a log that grows meanwhile is read to its end as found */
    drain(fd, &off);
    return 0;
  }
  if (q.container == NULL) q.container = container; /* re-asks name the same one */
  int rc = follow(&q, fd, off, f.running);
  fd = -1; /* follow() owned it */
  return rc;
}
