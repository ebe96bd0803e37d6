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

#include "cli/api.h"
#include "cli/attach.h"
#include "cli/cli.h"
#include "cli/run_opts.h"
#include "cli/stream.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

/* Send the request; returns the shim's socket, or -1 with err set (*server_error tells
 * whether err is the daemon's refusal, already worded like kubectl's). */
static int request(sbx_run_opts_t *o, char *name, size_t name_size, bool *server_error,
                   sbx_error_t *err) {
  int fds[SBX_WIRE_MAX_FDS];
  if (sbx_run_open_paths(o, fds, err) < 0) return -1;
  _cleanup_json_ json_object *reply = NULL;
  int got[1];
  size_t ngot = 0;
  int r = sbx_stream_request(o->req, fds, o->npaths, &reply, got, &ngot, 1, server_error, err);
  sbx_wire_close_fds(fds, o->npaths);
  if (r < 0) return -1;
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
