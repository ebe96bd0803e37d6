/* error.h: the error object threaded through every call that can fail.
 *
 * A failing function fills an sbx_error_t (a message and the errno that caused it) and
 * returns a negative value; callers add context with sbx_error_prefix() as the error
 * rises, so the CLI can print one line such as
 *   "run: rootfs: mount /proc: /proc is a symlink in the image: Operation not permitted".
 * The object is a fixed buffer: it needs no allocation, so it is usable in a freshly
 * cloned child before exec. */
#ifndef SBX_ERROR_H
#define SBX_ERROR_H

#include <stddef.h>

#define SBX_ERROR_MSG_MAX 1024

typedef struct sbx_error {
  int errnum;                   /* errno of the root cause, 0 if none */
  char msg[SBX_ERROR_MSG_MAX];  /* human-readable, context first */
} sbx_error_t;

/* Set the error; appends ": strerror(errnum)" when errnum != 0. Always returns -1. */
int sbx_error_set(sbx_error_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set the error whose message says it all ("secret \"x\" not found"): errnum tells
 * callers its kind (ENOENT, EINVAL…) but is not appended. Always returns -1. */
int sbx_error_says(sbx_error_t *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, with errno as the cause. Always returns -1. */
int sbx_error_sys(sbx_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepend "context: " to the message. Always returns -1. */
int sbx_error_prefix(sbx_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbx_error_clear(sbx_error_t *err);

#endif
