/* cmd_logs.c: `sbx logs [-f] [-c C] [--tail N] [-n NS] [pod/|sandbox/]NAME`, as kubectl logs.
 *
 * The daemon does not stream logs: the stream operation `logs` hands over the container's
 * log file itself (opened for the sandbox's owner only), with whether the container is
 * running. sbx prints it from the start, or from --tail lines back, and with -f follows it:
 * it reads what is added every 200 ms, and every second asks the daemon again whether the
 * container still runs; it stops when the container has stopped and everything written is
 * printed. The file being truncated (the size falls below what was read) restarts reading
 * at its beginning; the file being replaced (a new inode on a re-ask) switches to the new
 * one. A sandbox deleted under a follower ends it quietly once the old file is drained. */
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
    {"container", required_argument, NULL, 'c'},
    {"tail", required_argument, NULL, OPT_TAIL},
    {"namespace", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct logs_req {
  const char *ns, *name, *container;
} logs_req_t;

/* Ask the daemon for the log. Returns the fd (and *running, *container) or -1 with err;
 * *not_found tells a NotFound refusal apart. */
static int ask(const logs_req_t *q, bool *running, char *container, size_t csize,
               bool *server_error, bool *not_found, sbx_error_t *err) {
  _cleanup_json_ json_object *req = json_object_new_object();
  if (!req) return sbx_error_set(err, ENOMEM, "logs");
  json_object_object_add(req, "op", json_object_new_string("logs"));
  json_object_object_add(req, "namespace", json_object_new_string(q->ns));
  json_object_object_add(req, "name", json_object_new_string(q->name));
  if (q->container) json_object_object_add(req, "container", json_object_new_string(q->container));
  _cleanup_json_ json_object *reply = NULL;
  int got[1];
  size_t ngot = 0;
  *not_found = false;
  if (sbx_stream_request(req, NULL, 0, &reply, got, &ngot, 1, server_error, err) < 0) {
    *not_found = *server_error && strstr(err->msg, "(NotFound)") != NULL;
    return -1;
  }
  if (ngot != 1) {
    sbx_wire_close_fds(got, ngot);
    return sbx_error_set(err, 0, "sbxd answered the logs request without the log");
  }
  *running = sbx_json_bool(reply, "running", 0);
  const char *c = sbx_json_str(reply, "container");
  if (container) snprintf(container, csize, "%s", c ? c : "");
  return got[0];
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

static int follow(const logs_req_t *q, int fd, off_t off, bool running) {
  _cleanup_fd_ int cur = fd;
  struct stat st;
  long long next_check = now_ms() + RECHECK_MS;
  for (;;) {
    if (fstat(cur, &st) == 0 && st.st_size < off) off = 0; /* truncated: from the top */
    if (drain(cur, &off) < 0) return 0;
    if (!running) return 0;
    if (now_ms() >= next_check) {
      sbx_error_t err = {0};
      bool server_error, not_found, again = false;
      int nfd = ask(q, &again, NULL, 0, &server_error, &not_found, &err);
      next_check = now_ms() + RECHECK_MS;
      if (nfd < 0) {
        if (not_found) running = false; /* deleted, or its log is gone: print what is left */
        else if (!server_error) {
          fprintf(stderr, "sbx: %s\n", err.msg);
          return SBX_EXIT_FAILURE;
        } else {
          fprintf(stderr, "%s\n", err.msg);
          return SBX_EXIT_FAILURE;
        }
        continue;
      }
      struct stat nst;
      if (fstat(nfd, &nst) == 0 && fstat(cur, &st) == 0 &&
          (nst.st_ino != st.st_ino || nst.st_dev != st.st_dev)) {
        /* a new file: finish the old one, then read the new one from its start */
        drain(cur, &off);
        close(cur);
        cur = nfd;
        off = 0;
      } else {
        close(nfd);
      }
      running = again;
      continue; /* drain once more before deciding to stop */
    }
    usleep(POLL_MS * 1000);
  }
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
  while ((opt = getopt_long(argc, argv, "-:fc:n:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1:
      if (npos < 2) pos[npos] = optarg;
      npos++;
      break;
    case 'f': follow_flag = true; break;
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

  bool running, server_error, not_found;
  char container[128];
  _cleanup_fd_ int fd =
      ask(&q, &running, container, sizeof container, &server_error, &not_found, &err);
  if (fd < 0) {
    fprintf(stderr, server_error ? "%s\n" : "sbx: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
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
  if (!follow_flag) {
    /* what is there now; a log that grows meanwhile is read to its end as found */
    drain(fd, &off);
    return 0;
  }
  if (q.container == NULL) q.container = container; /* re-asks name the same one */
  int rc = follow(&q, fd, off, running);
  fd = -1; /* follow() owned it */
  return rc;
}
