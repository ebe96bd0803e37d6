/* stream.c: one request on the daemon's stream protocol (see stream.h). */
#include "cli/stream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/api.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

int sbx_stream_connect(sbx_error_t *err) {
  const char *path = sbx_socket_path();
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path)
    return sbx_error_set(err, ENAMETOOLONG, "socket path %s", path);
  memcpy(sa.sun_path, path, strlen(path) + 1);
  _cleanup_fd_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sbx_error_sys(err, "socket");
  int r;
  do r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  while (r < 0 && errno == EINTR);
  if (r < 0) return sbx_api_unreachable(err, path, errno);
  const char *magic = SBX_WIRE_MAGIC;
  size_t off = 0;
  while (off < SBX_WIRE_MAGIC_LEN) {
    ssize_t n = send(fd, magic + off, SBX_WIRE_MAGIC_LEN - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sbx_error_sys(err, "sbxd at %s", path);
    off += (size_t)n;
  }
  return sbx_steal_fd(&fd);
}

int sbx_stream_request(json_object *req, const int *fds, size_t nfds, json_object **reply,
                       int *got, size_t *ngot, size_t max_got, bool *server_error,
                       sbx_error_t *err) {
  *reply = NULL;
  *ngot = 0;
  *server_error = false;
  _cleanup_fd_ int sock = sbx_stream_connect(err);
  if (sock < 0) return -1;
  if (sbx_wire_send(sock, req, fds, nfds, err) < 0)
    return sbx_error_prefix(err, "sending the request to sbxd");
  _cleanup_json_ json_object *answer = NULL;
  int r = sbx_wire_recv(sock, &answer, got, ngot, max_got, err);
  if (r < 0) return sbx_error_prefix(err, "reading the answer of sbxd");
  if (r == 0) return sbx_error_set(err, EPROTO, "sbxd closed the connection without answering");
  if (!sbx_json_bool(answer, "ok", false)) {
    sbx_wire_close_fds(got, *ngot);
    *ngot = 0;
    const char *reason = sbx_json_str(answer, "reason"), *msg = sbx_json_str(answer, "message");
    *server_error = true;
    if (reason && *reason)
      return sbx_error_set(err, 0, "Error from server (%s): %s", reason, msg ? msg : "");
    return sbx_error_set(err, 0, "Error from server: %s", msg ? msg : "the request was refused");
  }
  *reply = answer;
  answer = NULL;
  return 0;
}
