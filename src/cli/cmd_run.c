/* cmd_run.c: `sbx run [OPTIONS] [--] CMD [ARG...]`: one command in a fresh sandbox.
 *
 * Steps, in order: parse the flags into a run request (run_opts.c); open the rootfs and
 * every -v source with our own rights; connect to the daemon's socket, speak the stream
 * protocol (magic, then one `run` frame carrying those descriptors); read the one answer,
 * which on success carries a socket to the sandbox's shim; then hand over to attach.c,
 * which relays stdio until the program's exit status arrives. Every failure of sbx itself
 * exits 125, so it cannot be mistaken for the program's own status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/api.h"
#include "cli/attach.h"
#include "cli/cli.h"
#include "cli/run_opts.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

static int connect_daemon(sbx_error_t *err) {
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

/* Send the request; returns the shim's socket, or -1 with err set (*server_error tells
 * whether err is the daemon's refusal, already worded like kubectl's). */
static int request(sbx_run_opts_t *o, char *name, size_t name_size, bool *server_error,
                   sbx_error_t *err) {
  int fds[SBX_WIRE_MAX_FDS];
  if (sbx_run_open_paths(o, fds, err) < 0) return -1;
  _cleanup_fd_ int sock = connect_daemon(err);
  if (sock < 0) {
    sbx_wire_close_fds(fds, o->npaths);
    return -1;
  }
  int r = sbx_wire_send(sock, o->req, fds, o->npaths, err);
  sbx_wire_close_fds(fds, o->npaths);
  if (r < 0) return sbx_error_prefix(err, "sending the request to sbxd");

  _cleanup_json_ json_object *reply = NULL;
  int got[1];
  size_t ngot = 0;
  r = sbx_wire_recv(sock, &reply, got, &ngot, 1, err);
  if (r < 0) return sbx_error_prefix(err, "reading the answer of sbxd");
  if (r == 0) return sbx_error_set(err, EPROTO, "sbxd closed the connection without answering");
  if (!sbx_json_bool(reply, "ok", false)) {
    sbx_wire_close_fds(got, ngot);
    const char *reason = sbx_json_str(reply, "reason"), *msg = sbx_json_str(reply, "message");
    *server_error = true;
    if (reason && *reason)
      return sbx_error_set(err, 0, "Error from server (%s): %s", reason, msg ? msg : "");
    return sbx_error_set(err, 0, "Error from server: %s", msg ? msg : "the request was refused");
  }
  if (ngot != 1) {
    sbx_wire_close_fds(got, ngot);
    return sbx_error_set(err, EPROTO, "sbxd accepted the request but sent no channel to the "
                                      "sandbox");
  }
  const char *n = sbx_json_str(reply, "name");
  snprintf(name, name_size, "%s", n ? n : "");
  return got[0];
}

int sbx_cmd_run(int argc, char **argv, const sbx_cmd_t *self) {
  signal(SIGPIPE, SIG_IGN);
  sbx_error_t err = {0};
  sbx_run_opts_t o;
  if (sbx_run_parse(argc, argv, &o, &err) < 0) {
    sbx_run_opts_free(&o);
    sbx_cmd_usage_error(self, "%s", err.msg);
    return SBX_EXIT_RUN_FAILURE;
  }
  if (o.help) {
    sbx_run_opts_free(&o);
    sbx_cmd_usage(self);
    return 0;
  }
  if (o.tty) {
    struct winsize ws;
    if (sbx_terminal_size(&ws) == 0) {
      json_object *w = json_object_new_object();
      json_object_object_add(w, "rows", json_object_new_int(ws.ws_row));
      json_object_object_add(w, "cols", json_object_new_int(ws.ws_col));
      json_object_object_add(o.req, "winsize", w);
    }
  }

  char name[256];
  bool server_error = false;
  int shim = request(&o, name, sizeof name, &server_error, &err);
  sbx_attach_opts_t ao = {.tty = o.tty, .interactive = o.interactive, .name = name};
  sbx_run_opts_free(&o);
  if (shim < 0) {
    fprintf(stderr, "%s%s\n", server_error ? "" : "sbx: ", err.msg);
    return SBX_EXIT_RUN_FAILURE;
  }
  return sbx_attach(shim, &ao);
}
