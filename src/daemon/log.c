/* log.c: sbxd's logger (log.h): logfmt lines with a UTC timestamp and a level, the access
 * log of API requests, and reopening both by name on SIGHUP. */
#include "daemon/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static enum sbx_log_level min_level = SBX_LOG_INFO;
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER; /* the two paths below */
static char *log_path;    /* --log-file, or NULL: stderr as it was given */
static char *access_path; /* --access-log, or NULL: the log */
static int access_fd = -1;

long long sbx_log_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t stamp(char *buf, size_t n, enum sbx_log_level level) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
  int m = snprintf(buf + k, n - k, ".%03ldZ level=%s ", ts.tv_nsec / 1000000, level_names[level]);
  return k + (m > 0 ? (size_t)m : 0);
}

void sbx_log_quote(const char *s, char *out, size_t n) {
  if (n == 0) return;
  bool bare = s[0] != '\0';
  for (const char *p = s; *p && bare; p++)
    if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p >= 0x7f) bare = false;
  if (bare) {
    snprintf(out, n, "%s", s);
    return;
  }
  size_t o = 0;
  out[o++] = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p && o + 6 < n; p++) {
    if (*p == '"' || *p == '\\') {
      out[o++] = '\\';
      out[o++] = (char)*p;
    } else if (*p == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else if (*p == '\t') {
      out[o++] = '\\';
      out[o++] = 't';
    } else if (*p < ' ' || *p == 0x7f) {
      o += (size_t)snprintf(out + o, n - o, "\\x%02x", *p);
    } else {
      out[o++] = (char)*p;
    }
  }
  if (o < n) out[o++] = '"';
  out[o < n ? o : n - 1] = '\0';
}

static void write_line(int fd, char *line, size_t len) {
  if (len >= LINE_MAX_BYTES) len = LINE_MAX_BYTES - 1;
  line[len++] = '\n';
  while (write(fd, line, len) < 0 && errno == EINTR) {
  }
}

void sbx_vlog(enum sbx_log_level level, const char *fmt, va_list ap) {
  if (level < min_level) return;
  char msg[LINE_MAX_BYTES], line[LINE_MAX_BYTES + 1];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n > 0 && msg[n - 1] == '\n') msg[--n] = '\0'; /* one line: the caller's newline is ours */
  size_t k = stamp(line, LINE_MAX_BYTES, level);
  k += (size_t)snprintf(line + k, LINE_MAX_BYTES - k, "msg=");
  sbx_log_quote(msg, line + k, LINE_MAX_BYTES - k);
  write_line(STDERR_FILENO, line, strlen(line));
}

void sbx_log(enum sbx_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sbx_vlog(level, fmt, ap);
  va_end(ap);
}

int sbx_log_level_parse(const char *name, enum sbx_log_level *level, sbx_error_t *err) {
  for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
    if (strcmp(name, level_names[i]) == 0) {
      *level = (enum sbx_log_level)i;
      return 0;
    }
  return sbx_error_says(err, EINVAL, "takes debug, info, warn or error, not \"%s\"", name);
}

void sbx_log_set_level(enum sbx_log_level level) { min_level = level; }

static int open_log(const char *path, sbx_error_t *err) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) return sbx_error_sys(err, "cannot open the log %s", path);
  return fd;
}

/* open path and put it in place of *target (dup2 when *target is already open) */
static int install(const char *path, int *target, sbx_error_t *err) {
  int fd = open_log(path, err);
  if (fd < 0) return -1;
  if (*target < 0) {
    *target = fd;
    return 0;
  }
  /* dup2 keeps the target's close-on-exec flag clear: stderr is inherited by the shims */
  int r = dup3(fd, *target, *target == STDERR_FILENO ? 0 : O_CLOEXEC);
  close(fd);
  if (r < 0) return sbx_error_sys(err, "cannot replace the log descriptor with %s", path);
  return 0;
}

/* open path in place of *target and remember it as *saved, for sbx_log_reopen */
static int set_file(const char *path, int *target, char **saved, sbx_error_t *err) {
  pthread_mutex_lock(&files_lock);
  int r = install(path, target, err);
  if (r == 0) {
    free(*saved);
    *saved = strdup(path);
  }
  pthread_mutex_unlock(&files_lock);
  return r;
}

int sbx_log_set_file(const char *path, sbx_error_t *err) {
  int stderr_fd = STDERR_FILENO;
  return set_file(path, &stderr_fd, &log_path, err);
}

int sbx_log_set_access_file(const char *path, sbx_error_t *err) { return set_file(path, &access_fd, &access_path, err); }

int sbx_log_reopen(sbx_error_t *err) {
  pthread_mutex_lock(&files_lock);
  int stderr_fd = STDERR_FILENO, r = 0;
  if (log_path && install(log_path, &stderr_fd, err) < 0) r = -1;
  sbx_error_t e2 = {0};
  if (access_path && install(access_path, &access_fd, r < 0 ? &e2 : err) < 0) r = -1;
  pthread_mutex_unlock(&files_lock);
  return r;
}

void sbx_log_access(const char *proto, uid_t uid, const char *verb, const char *object, unsigned code,
                    long long start_ns) {
  char line[LINE_MAX_BYTES + 1], v[256], obj[1200];
  long long us = (sbx_log_now_ns() - start_ns) / 1000;
  sbx_log_quote(verb && verb[0] ? verb : "-", v, sizeof v);
  sbx_log_quote(object && object[0] ? object : "-", obj, sizeof obj);
  size_t k = stamp(line, LINE_MAX_BYTES, SBX_LOG_INFO);
  snprintf(line + k, LINE_MAX_BYTES - k, "msg=request proto=%s uid=%u verb=%s object=%s code=%u duration_ms=%lld.%03lld",
           proto, (unsigned)uid, v, obj, code, us / 1000, us % 1000);
  int fd = access_fd;
  write_line(fd >= 0 ? fd : STDERR_FILENO, line, strlen(line));
}
