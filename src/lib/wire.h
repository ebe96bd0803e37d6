/* wire.h: the stream protocol spoken on unix sockets between sbx, sbxd and sbx-shim.
 *
 * The daemon's socket carries two protocols. HTTP (the Kubernetes-shaped REST API) for
 * objects, and this one for what must carry file descriptors: `sbx run` hands the daemon
 * the directories it may mount (opened with the caller's own rights), and the shim hands
 * the client the sandbox's stdio pipes or pty master, so the data path never goes through
 * the daemon. A stream connection begins with the 4 bytes SBX_WIRE_MAGIC (a NUL first, which
 * no HTTP request starts with); after that, both sides exchange frames:
 *
 *   uint32 length (host order, <= SBX_WIRE_MAX) | `length` bytes of JSON text
 *
 * with up to SBX_WIRE_MAX_FDS descriptors attached (SCM_RIGHTS) to the frame's first byte. */
#ifndef SBX_WIRE_H
#define SBX_WIRE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

#define SBX_WIRE_MAGIC "\0SBX"
#define SBX_WIRE_MAGIC_LEN 4
#define SBX_WIRE_MAX (4u << 20)
#define SBX_WIRE_MAX_FDS 32

static inline void sbx_json_putp(json_object **o) {
  if (o && *o) json_object_put(*o);
}
#define _cleanup_json_ __attribute__((cleanup(sbx_json_putp)))

/* Send one frame. fds may be NULL when nfds is 0. Returns 0 or -1. */
int sbx_wire_send(int sock, json_object *msg, const int *fds, size_t nfds, sbx_error_t *err);

/* What a receiver accepts of one frame, and when (sbx_wire_recv_bounded). */
struct sbx_wire_bounds {
  size_t max_fds;     /* descriptors attached to the frame */
  uint32_t max_bytes; /* its JSON text (at most SBX_WIRE_MAX) */
  int timeout_ms;     /* the whole frame must arrive within this; < 0: no deadline */
  /* Asked before anything is held: with the descriptors as they arrive (bytes 0), with the
   * text's length before it is read, and with the parse's cost (sbx_json_parse_cost)
   * before it is parsed; false refuses the frame (ENOBUFS). NULL: everything is granted. */
  bool (*reserve)(void *ctx, size_t bytes, size_t fds);
  void *ctx;
  uint32_t got_bytes; /* out: the frame's length */
};

/* sbx_wire_recv within bounds: a frame whose text or descriptors exceed them is refused
 * (EMSGSIZE), one that does not arrive in time too (ETIMEDOUT); nesting deeper than
 * SBX_JSON_MAX_DEPTH is malformed. */
int sbx_wire_recv_bounded(int sock, json_object **msg, int *fds, size_t *nfds, struct sbx_wire_bounds *b,
                          sbx_error_t *err);
/* Exactly len bytes within timeout_ms (< 0: no deadline); 0, or -1 with err (EPIPE at the
 * end of the stream, ETIMEDOUT). */
int sbx_wire_recv_exact(int sock, void *buf, size_t len, int timeout_ms, sbx_error_t *err);

/* JSON from peers: at most this deep, and what parsing it will cost in memory (json-c
 * makes an object of every value: a 4 MiB `[0,0,...]` is two million of them). */
#define SBX_JSON_MAX_DEPTH 64
#define SBX_JSON_VALUE_COST 96 /* bytes of parsed memory per value, an upper estimate */
size_t sbx_json_parse_cost(const char *text, size_t len);
/* text (len bytes) as a JSON object, at most SBX_JSON_MAX_DEPTH deep; NULL with *why. */
json_object *sbx_json_parse_object(const char *text, size_t len, const char **why);

/* Receive one frame. On success *msg is a new JSON object and fds[0..*nfds) hold the
 * received descriptors (close-on-exec), *nfds being at most `max_fds` on entry.
 * Returns 1 for a frame, 0 on a clean end of stream before any byte, -1 on error
 * (descriptors beyond max_fds are closed and reported as an error). */
int sbx_wire_recv(int sock, json_object **msg, int *fds, size_t *nfds, size_t max_fds,
                  sbx_error_t *err);

/* One sendmsg of len bytes with up to SBX_WIRE_MAX_FDS descriptors attached; the bytes sent
 * or -1 (errno). For datagram-like sockets (SOCK_SEQPACKET) this is a whole message. */
ssize_t sbx_send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);
/* One recvmsg (retried on EINTR): the bytes received, 0 at the end, or -1 (errno). Received
 * descriptors are close-on-exec; beyond max_fds they are closed and *truncated is set. */
ssize_t sbx_recv_with_fds(int sock, void *buf, size_t len, int *fds, size_t *nfds, size_t max_fds, bool *truncated);

/* Close every descriptor of an array and set them to -1. */
void sbx_wire_close_fds(int *fds, size_t nfds);

/* Small JSON accessors used by every side of the protocol. */
const char *sbx_json_str(json_object *o, const char *key);      /* NULL if absent */
long long sbx_json_int(json_object *o, const char *key, long long dflt);
int sbx_json_bool(json_object *o, const char *key, int dflt);
/* o's member at a dotted path ("spec.podTemplate.spec"), NULL if any step is absent */
json_object *sbx_json_path(json_object *o, const char *dotted);
/* the number of elements of o's array member `key`, 0 if absent or not an array */
size_t sbx_json_len(json_object *o, const char *key);
/* element i of o's array member `key`, NULL if none */
json_object *sbx_json_at(json_object *o, const char *key, size_t i);

/* The outcome of the last reply frame (one with an "ok" member) this thread sent, as an
 * HTTP code: its "code" member when it has one (the api operation), 200 for ok, else the
 * code of its reason (NotFound 404, Forbidden 403, Invalid 422…, unknown 500); 0 when none
 * was sent since sbx_wire_last_reply_reset(). For the access log. */
unsigned sbx_wire_last_reply_code(void);
void sbx_wire_last_reply_reset(void);
/* Answer a stream request with its error frame {"ok":false,"reason":…,"message":…}. */
void sbx_stream_reply_error(int conn, const char *reason, const char *message);
/* reason from err->errnum: ENOENT NotFound, EINVAL Invalid, EBUSY Conflict, EACCES Forbidden */
void sbx_stream_reply_err(int conn, const sbx_error_t *err);

#endif
