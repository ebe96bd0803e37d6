/* shim_log.c: a pod container's stdout and stderr, through a pipe, into capped and rotated
 * files under <state>/logs/ (the kubelet's containerLogMaxSize / containerLogMaxFiles).
 *
 * The container's fds 1 and 2 are the write end of a pipe (blocking: a container that
 * writes faster than the shim drains waits, nothing is dropped); it cannot seek, truncate
 * or fallocate a host file through them. The shim reads the other end in its poll loop and
 * appends to NAME.log; when that reaches logMaxBytes it is renamed NAME.log.1 (older ones
 * move up to NAME.log.<logMaxFiles-1>, the oldest is dropped) and a new NAME.log begins. A
 * rotation falls between lines when the chunk at hand has a line end. Each new instance of
 * a container (a restart, or a new shim) first moves the last instance's NAME.log to
 * NAME.previous.log (`sbx logs --previous`) and drops its rotated files, so a container
 * holds at most (logMaxFiles + 1) x logMaxBytes of the daemon's disk. The shim writes even
 * while sbxd is down; if the host refuses a write (its disk is full) the bytes are dropped
 * and the shim says so on its stderr (once per spell), since blocking would stop the
 * container. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim/shim_pod.h"

#define LOG_MAX_ROTATED 100

static void log_path(struct pod *p, const char *name, const char *suffix, int n, char *buf, size_t size) {
  if (n > 0)
    snprintf(buf, size, "%s/logs/%s.log.%d", p->state_dir, name, n);
  else
    snprintf(buf, size, "%s/logs/%s%s", p->state_dir, name, suffix);
}

static int open_current(struct pod *p, struct pod_ctr *c, sbx_error_t *err) {
  char path[4200];
  log_path(p, c->name, ".log", 0, path, sizeof path);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return sbx_error_sys(err, "open %s", path);
  c->log_fd = fd;
  c->log_size = 0;
  return 0;
}

int pod_log_start(struct pod *p, struct pod_ctr *c, int *write_end, sbx_error_t *err) {
  char cur[4200], prev[4200], rot[4200];
  pod_log_close(p, c);
  log_path(p, c->name, ".log", 0, cur, sizeof cur);
  log_path(p, c->name, ".previous.log", 0, prev, sizeof prev);
  if (rename(cur, prev) < 0 && errno != ENOENT) return sbx_error_sys(err, "keep the previous log as %s", prev);
  for (int i = 1; i <= LOG_MAX_ROTATED; i++) {
    log_path(p, c->name, "", i, rot, sizeof rot);
    if (unlink(rot) < 0 && errno == ENOENT) break;
  }
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) return sbx_error_sys(err, "log pipe");
  if (fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0 || open_current(p, c, err) < 0) {
    if (!err->msg[0]) sbx_error_sys(err, "log pipe");
    close(pfd[0]);
    close(pfd[1]);
    return -1;
  }
  c->log_pipe = pfd[0];
  *write_end = pfd[1];
  return 0;
}

/* NAME.log -> NAME.log.1 -> ... -> NAME.log.<max-1> (dropped past that), a new NAME.log. */
static void rotate(struct pod *p, struct pod_ctr *c) {
  char from[4200], to[4200];
  for (int i = p->log_max_files - 1; i >= 1; i--) {
    log_path(p, c->name, ".log", i - 1, from, sizeof from);
    log_path(p, c->name, ".log", i, to, sizeof to);
    if (rename(from, to) < 0 && errno != ENOENT) pod_logmsg(p, "log of %s: rotate %s: %s", c->name, from, strerror(errno));
  }
  close(c->log_fd);
  c->log_fd = -1;
  sbx_error_t err = {0};
  if (open_current(p, c, &err) < 0) pod_logmsg(p, "log of %s: %s", c->name, err.msg);
}

static void append(struct pod *p, struct pod_ctr *c, const char *buf, size_t n) {
  while (n > 0) {
    if (c->log_size >= p->log_max_bytes) rotate(p, c);
    if (c->log_fd < 0) break;
    size_t room = (size_t)(p->log_max_bytes - c->log_size), take = n < room ? n : room;
    if (take < n) {
      const char *nl = memrchr(buf, '\n', take);
      if (nl) {
        take = (size_t)(nl - buf) + 1;
      } else if (c->log_size > 0) { /* the line goes whole into the next file */
        rotate(p, c);
        continue;
      }
    }
    ssize_t w = write(c->log_fd, buf, take);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { /* said once per spell, not once per chunk, or a full disk floods sbxd's log */
      if (!c->log_dropping)
        pod_logmsg(p, "log of %s: dropping output until the log can be written again: %s", c->name,
                   w < 0 ? strerror(errno) : "short write");
      c->log_dropping = true;
      return;
    }
    c->log_dropping = false;
    c->log_size += w;
    buf += w;
    n -= (size_t)w;
  }
  if (n > 0) pod_logmsg(p, "log of %s: %zu bytes dropped: no log file", c->name, n);
}

void pod_log_drain(struct pod *p, struct pod_ctr *c) {
  char buf[65536];
  while (c->log_pipe >= 0) {
    ssize_t r = read(c->log_pipe, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0) { /* every writer is gone */
      close(c->log_pipe);
      c->log_pipe = -1;
      return;
    }
    append(p, c, buf, (size_t)r);
  }
}

void pod_log_note(struct pod *p, struct pod_ctr *c, const char *line) {
  if (c->log_pipe >= 0) pod_log_drain(p, c);
  append(p, c, line, strlen(line));
}

void pod_log_close(struct pod *p, struct pod_ctr *c) {
  if (c->log_pipe >= 0) pod_log_drain(p, c);
  if (c->log_pipe >= 0) close(c->log_pipe);
  if (c->log_fd >= 0) close(c->log_fd);
  c->log_pipe = c->log_fd = -1;
}
