/* log.h: sbxd's log. One line per event on stderr (or --log-file), in logfmt:
 *   2026-12-06T14:31:00.123Z level=info msg="listening on /run/sbx/sbx.sock"
 * and one line per API request (HTTP and stream protocol) in the access log, which is the
 * same stream unless --access-log names a file of its own:
 *   2026-12-06T14:31:00.123Z level=info msg=request proto=http uid=1001 verb=GET path="/api/v1/..." code=200 duration_ms=0.41
 * Every line is built in memory and written with one write(2) to an O_APPEND descriptor,
 * so lines from many threads never interleave. sbx_log_reopen() (SIGHUP) opens the files
 * again by name, for logrotate: the new descriptor replaces the old one with dup2, so no
 * writer ever sees a closed descriptor, and the log file is also the daemon's (and its
 * shims') stderr. */
#ifndef SBX_LOG_H
#define SBX_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/error.h"

enum sbx_log_level { SBX_LOG_DEBUG, SBX_LOG_INFO, SBX_LOG_WARN, SBX_LOG_ERROR };

void sbx_log(enum sbx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbx_vlog(enum sbx_log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* "debug", "info", "warn" or "error" -> the level; -1 with err for anything else */
int sbx_log_level_parse(const char *name, enum sbx_log_level *level, sbx_error_t *err);
/* lines below this level are dropped (default info) */
void sbx_log_set_level(enum sbx_log_level level);
/* Log to this file (appended to, created 0640) from now on: it becomes stderr. */
int sbx_log_set_file(const char *path, sbx_error_t *err);
/* Access lines go to this file (appended to, created 0640) instead of the log. */
int sbx_log_set_access_file(const char *path, sbx_error_t *err);
/* Open the log file and the access log again by name (after logrotate moved them).
 * Nothing to do for a log that is plain stderr. */
int sbx_log_reopen(sbx_error_t *err);

/* One API request: who (uid), over which protocol ("http" or "stream"), the verb (GET,
 * POST…, or a stream operation such as "exec"), the object (a path or a sandbox name),
 * the result (an HTTP code) and how long it took (from start_ns, CLOCK_MONOTONIC). */
void sbx_log_access(const char *proto, uid_t uid, const char *verb, const char *object, unsigned code,
                    long long start_ns);
/* CLOCK_MONOTONIC in nanoseconds, for sbx_log_access's start_ns */
long long sbx_log_now_ns(void);

/* s as a logfmt value: bare when it needs no quotes, else "…" with \" \\ \n \t and \xHH
 * escapes; always NUL-terminated, cut to fit n. */
void sbx_log_quote(const char *s, char *out, size_t n);

#endif
