/* wire.c: frames of JSON with attached descriptors over unix sockets (see wire.h). */
#include "lib/wire.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"

void sbx_wire_close_fds(int *fds, size_t nfds) {
  for (size_t i = 0; i < nfds; i++) {
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
  }
}

/* ---- sendmsg/recvmsg with descriptors: the one place that builds SCM_RIGHTS ---------- */

ssize_t sbx_send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds) {
  if (nfds > SBX_WIRE_MAX_FDS) {
    errno = EINVAL;
    return -1;
  }
  union {
    char buf[CMSG_SPACE(sizeof(int) * SBX_WIRE_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    memset(&ctl, 0, sizeof ctl);
    mh.msg_control = ctl.buf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do n = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

ssize_t sbx_recv_with_fds(int sock, void *buf, size_t len, int *fds, size_t *nfds, size_t max_fds, bool *truncated) {
  union {
    char buf[CMSG_SPACE(sizeof(int) * SBX_WIRE_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {.iov_base = buf, .iov_len = len};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  *nfds = 0;
  *truncated = false;
  ssize_t n;
  do n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfds < max_fds) {
        fds[(*nfds)++] = fd;
      } else {
        close(fd);
        *truncated = true;
      }
    }
  }
  if (mh.msg_flags & MSG_CTRUNC) *truncated = true;
  return n;
}

static int send_all(int sock, const char *buf, size_t len, sbx_error_t *err) {
  while (len > 0) {
    ssize_t n = send(sock, buf, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sbx_error_sys(err, "send");
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* the outcome of the last reply frame this thread sent (sbx_wire_last_reply_code) */
static _Thread_local unsigned last_reply_code;

static unsigned reason_code(const char *reason) {
  static const struct {
    const char *reason;
    unsigned code;
  } codes[] = {{"BadRequest", 400}, {"Unauthorized", 401}, {"Forbidden", 403}, {"NotFound", 404},
               {"Conflict", 409},   {"AlreadyExists", 409}, {"Gone", 410},     {"Invalid", 422},
               {"TooManyRequests", 429}};
  for (size_t i = 0; reason && i < sizeof codes / sizeof codes[0]; i++)
    if (strcmp(codes[i].reason, reason) == 0) return codes[i].code;
  return 500;
}

static void note_reply(json_object *msg) {
  json_object *ok, *code;
  if (!json_object_object_get_ex(msg, "ok", &ok)) return;
  if (json_object_object_get_ex(msg, "code", &code) && json_object_is_type(code, json_type_int))
    last_reply_code = (unsigned)json_object_get_int(code);
  else
    last_reply_code = json_object_get_boolean(ok) ? 200 : reason_code(sbx_json_str(msg, "reason"));
}

unsigned sbx_wire_last_reply_code(void) { return last_reply_code; }
void sbx_wire_last_reply_reset(void) { last_reply_code = 0; }

int sbx_wire_send(int sock, json_object *msg, const int *fds, size_t nfds, sbx_error_t *err) {
  note_reply(msg);
  size_t len = 0;
  const char *text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
  if (!text) return sbx_error_set(err, ENOMEM, "encode message");
  if (len > SBX_WIRE_MAX) return sbx_error_set(err, EMSGSIZE, "message too large");
  if (nfds > SBX_WIRE_MAX_FDS) return sbx_error_set(err, EINVAL, "too many descriptors");
  uint32_t hdr = (uint32_t)len;

  /* The header goes with the descriptors in one sendmsg, then the body. */
  ssize_t n = sbx_send_with_fds(sock, &hdr, sizeof hdr, fds, nfds);
  if (n < 0) return sbx_error_sys(err, "send");
  if ((size_t)n < sizeof hdr && send_all(sock, (char *)&hdr + n, sizeof hdr - (size_t)n, err) < 0)
    return -1;
  return send_all(sock, text, len, err);
}

/* ---- receiving, with a deadline ------------------------------------------------------- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_in(int timeout_ms) { return timeout_ms < 0 ? -1 : now_ms() + timeout_ms; }

/* Wait until sock is readable or the deadline (-1: none) passes. */
static int wait_readable(int sock, int64_t deadline, sbx_error_t *err) {
  if (deadline < 0) return 0;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return sbx_error_set(err, ETIMEDOUT, "the message did not arrive in time");
    struct pollfd p = {.fd = sock, .events = POLLIN};
    int r = poll(&p, 1, (int)(left > INT32_MAX ? INT32_MAX : left));
    if (r > 0) return 0;
    if (r < 0 && errno != EINTR) return sbx_error_sys(err, "poll");
  }
}

static int recv_all(int sock, char *buf, size_t len, int64_t deadline, sbx_error_t *err) {
  while (len > 0) {
    if (wait_readable(sock, deadline, err) < 0) return -1;
    ssize_t n = recv(sock, buf, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sbx_error_sys(err, "receive");
    }
    if (n == 0) return sbx_error_set(err, EPIPE, "connection closed in the middle of a message");
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

int sbx_wire_recv_exact(int sock, void *buf, size_t len, int timeout_ms, sbx_error_t *err) {
  return recv_all(sock, buf, len, deadline_in(timeout_ms), err);
}

size_t sbx_json_parse_cost(const char *text, size_t len) {
  size_t values = 1;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == ',' || c == ':' || c == '[' || c == '{') {
      values++;
    }
  }
  return len + values * SBX_JSON_VALUE_COST;
}

json_object *sbx_json_parse_object(const char *text, size_t len, const char **why) {
  json_tokener *tok = json_tokener_new_ex(SBX_JSON_MAX_DEPTH);
  if (!tok) {
    *why = "out of memory";
    return NULL;
  }
  json_object *o = len > INT32_MAX ? NULL : json_tokener_parse_ex(tok, text, (int)len);
  enum json_tokener_error jerr = json_tokener_get_error(tok);
  json_tokener_free(tok);
  if (o && jerr == json_tokener_success && json_object_is_type(o, json_type_object)) return o;
  *why = o && jerr == json_tokener_success ? "not an object"
         : jerr == json_tokener_continue    ? "unexpected end of JSON input"
                                            : json_tokener_error_desc(jerr);
  json_object_put(o);
  return NULL;
}

static bool granted(struct sbx_wire_bounds *b, size_t bytes, size_t fds) {
  return !b->reserve || b->reserve(b->ctx, bytes, fds);
}

int sbx_wire_recv_bounded(int sock, json_object **msg, int *fds, size_t *nfds, struct sbx_wire_bounds *b,
                          sbx_error_t *err) {
  *msg = NULL;
  *nfds = 0;
  b->got_bytes = 0;
  int64_t deadline = deadline_in(b->timeout_ms);
  uint32_t hdr = 0;
  int got[SBX_WIRE_MAX_FDS];
  size_t ngot = 0;
  bool truncated;
  if (wait_readable(sock, deadline, err) < 0) return -1;
  ssize_t n = sbx_recv_with_fds(sock, &hdr, sizeof hdr, got, &ngot, SBX_WIRE_MAX_FDS, &truncated);
  if (n < 0) return sbx_error_sys(err, "receive");
  if (n == 0) return 0;
  char *text = NULL;
  if (truncated || ngot > b->max_fds) {
    sbx_error_set(err, EMSGSIZE, "%s",
                  truncated ? "too many descriptors in one message" : "unexpected descriptors in message");
    goto fail;
  }
  if (ngot && !granted(b, 0, ngot)) {
    sbx_error_set(err, ENOBUFS, "too many descriptors in flight for this user; try again later");
    goto fail;
  }
  if ((size_t)n < sizeof hdr && recv_all(sock, (char *)&hdr + n, sizeof hdr - (size_t)n, deadline, err) < 0)
    goto fail;
  if (hdr == 0 || hdr > SBX_WIRE_MAX || hdr > b->max_bytes) {
    sbx_error_set(err, EMSGSIZE, "bad message length %u (at most %u)", hdr, b->max_bytes);
    goto fail;
  }
  if (!granted(b, hdr, 0)) {
    sbx_error_set(err, ENOBUFS, "too many bytes in flight for this user; try again later");
    goto fail;
  }
  b->got_bytes = hdr;
  text = malloc(hdr + 1);
  if (!text) {
    sbx_error_set(err, ENOMEM, "receive");
    goto fail;
  }
  if (recv_all(sock, text, hdr, deadline, err) < 0) goto fail;
  text[hdr] = '\0';
  if (!granted(b, sbx_json_parse_cost(text, hdr), 0)) {
    sbx_error_set(err, ENOBUFS, "the message would take too much memory to parse; send less");
    goto fail;
  }
  const char *why;
  json_object *o = sbx_json_parse_object(text, hdr, &why);
  free(text);
  text = NULL;
  if (!o) {
    sbx_error_set(err, EPROTO, "malformed message: %s", why);
    goto fail;
  }
  *msg = o;
  memcpy(fds, got, sizeof(int) * ngot);
  *nfds = ngot;
  return 1;
fail:
  free(text);
  sbx_wire_close_fds(got, ngot);
  return -1;
}

int sbx_wire_recv(int sock, json_object **msg, int *fds, size_t *nfds, size_t max_fds, sbx_error_t *err) {
  struct sbx_wire_bounds b = {.max_fds = max_fds, .max_bytes = SBX_WIRE_MAX, .timeout_ms = -1};
  return sbx_wire_recv_bounded(sock, msg, fds, nfds, &b, err);
}

const char *sbx_json_str(json_object *o, const char *key) {
  json_object *v;
  if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
    return NULL;
  return json_object_get_string(v);
}

long long sbx_json_int(json_object *o, const char *key, long long dflt) {
  json_object *v;
  if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
    return dflt;
  return (long long)json_object_get_int64(v);
}

int sbx_json_bool(json_object *o, const char *key, int dflt) {
  json_object *v;
  if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
    return dflt;
  return json_object_get_boolean(v);
}

json_object *sbx_json_path(json_object *o, const char *dotted) {
  char key[128];
  const char *p = dotted;
  while (o && *p) {
    size_t n = strcspn(p, ".");
    if (n >= sizeof key) return NULL;
    memcpy(key, p, n);
    key[n] = '\0';
    json_object *next;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &next)) return NULL;
    o = next;
    p += n;
    if (*p == '.') p++;
  }
  return o;
}

size_t sbx_json_len(json_object *o, const char *key) {
  json_object *a;
  if (!o || !json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array)) return 0;
  return json_object_array_length(a);
}

json_object *sbx_json_at(json_object *o, const char *key, size_t i) {
  if (i >= sbx_json_len(o, key)) return NULL;
  json_object *a;
  json_object_object_get_ex(o, key, &a);
  return json_object_array_get_idx(a, i);
}

void sbx_stream_reply_error(int conn, const char *reason, const char *message) {
  sbx_error_t err;
  json_object *r = json_object_new_object();
  json_object_object_add(r, "ok", json_object_new_boolean(0));
  json_object_object_add(r, "reason", json_object_new_string(reason));
  json_object_object_add(r, "message", json_object_new_string(message));
  sbx_wire_send(conn, r, NULL, 0, &err);
  json_object_put(r);
}

void sbx_stream_reply_err(int conn, const sbx_error_t *e) {
  const char *reason = e->errnum == ENOENT ? "NotFound"
                       : e->errnum == EINVAL ? "Invalid"
                       : e->errnum == EBUSY  ? "Conflict"
                       : (e->errnum == EACCES || e->errnum == EPERM) ? "Forbidden"
                                                                    : "InternalError";
  sbx_stream_reply_error(conn, reason, e->msg[0] ? e->msg : "failed");
}
