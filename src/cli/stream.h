/* stream.h: the CLI side of the daemon's stream protocol (docs/protocol.md, lib/wire.h).
 *
 * What carries file descriptors (run, exec, logs, port-forward) does not go over HTTP: the
 * client connects to the same socket, sends the magic, one request frame (with the
 * descriptors it hands over), and reads one answer frame, {"ok":true,...} with the
 * descriptors the daemon hands back, or {"ok":false,"reason","message"}. This file is that
 * exchange, shared by every verb that needs it. */
#ifndef SBX_CLI_STREAM_H
#define SBX_CLI_STREAM_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

/* A connected stream socket to sbxd, magic sent. Returns the fd or -1. */
int sbx_stream_connect(sbx_error_t *err);

/* One request and its answer. fds (nfds of them, may be 0) travel with the request; the
 * caller keeps and closes them. On success returns 0, *reply is the answer (caller puts it)
 * and got[0..*ngot) the descriptors it carried (at most max_got). Returns -1 with err set,
 * *server_error true when err is the daemon's refusal, already worded like kubectl's
 * ("Error from server (NotFound): ..."). */
int sbx_stream_request(json_object *req, const int *fds, size_t nfds, json_object **reply,
                       int *got, size_t *ngot, size_t max_got, bool *server_error,
                       sbx_error_t *err);

#endif
