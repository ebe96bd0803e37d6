/* cleanup.h: __attribute__((cleanup)) helpers so fds, buffers and JSON objects are
 * released on every return path. Use: `_cleanup_fd_ int fd = -1;` and hand ownership
 * out with sbx_steal_fd(&fd) / sbx_steal_ptr(&p). */
#ifndef SBX_CLEANUP_H
#define SBX_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void sbx_closep(int *fd) {
  if (fd && *fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}
static inline void sbx_freep(void *p) { free(*(void **)p); }
static inline void sbx_fclosep(FILE **f) {
  if (f && *f) fclose(*f);
}
static inline int sbx_steal_fd(int *fd) {
  int r = *fd;
  *fd = -1;
  return r;
}
static inline void *sbx_steal_ptr(void *pp) {
  void *r = *(void **)pp;
  *(void **)pp = NULL;
  return r;
}

#define _cleanup_fd_ __attribute__((cleanup(sbx_closep)))
#define _cleanup_free_ __attribute__((cleanup(sbx_freep)))
#define _cleanup_fclose_ __attribute__((cleanup(sbx_fclosep)))

#endif
