/* error.c: filling and prefixing sbx_error_t (see error.h). */
#include "lib/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vset(sbx_error_t *err, int errnum, const char *fmt, va_list ap) {
  if (!err) return;
  err->errnum = errnum;
  int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  if (n < 0) n = 0;
  if ((size_t)n < sizeof err->msg && errnum != 0)
    snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errnum));
}

int sbx_error_set(sbx_error_t *err, int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(err, errnum, fmt, ap);
  va_end(ap);
  return -1;
}

int sbx_error_says(sbx_error_t *err, int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(err, 0, fmt, ap);
  va_end(ap);
  if (err) err->errnum = errnum;
  return -1;
}

int sbx_error_sys(sbx_error_t *err, const char *fmt, ...) {
  int saved = errno;
  va_list ap;
  va_start(ap, fmt);
  vset(err, saved, fmt, ap);
  va_end(ap);
  errno = saved;
  return -1;
}

int sbx_error_prefix(sbx_error_t *err, const char *fmt, ...) {
  if (!err) return -1;
  char ctx[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  char old[SBX_ERROR_MSG_MAX];
  memcpy(old, err->msg, sizeof old);
  size_t n = strlen(ctx);
  if (n + 2 >= sizeof err->msg) n = sizeof err->msg - 3;
  memcpy(err->msg, ctx, n);
  memcpy(err->msg + n, ": ", 2);
  size_t rest = sizeof err->msg - n - 3;
  size_t olen = strnlen(old, rest);
  memcpy(err->msg + n + 2, old, olen);
  err->msg[n + 2 + olen] = '\0';
  return -1;
}

void sbx_error_clear(sbx_error_t *err) {
  if (!err) return;
  err->errnum = 0;
  err->msg[0] = '\0';
}
