/* cmd_exec.c: `sbx exec [-i] [-t] [-c C] [-n NS] NAME -- CMD [ARG...]`, as kubectl exec.
 *
 * The stream operation `exec` gives back a socket to the sandbox's shim, which runs CMD in
 * the container (its namespaces, cgroup, user, capabilities and seccomp) and then speaks
 * the same client protocol as `sbx run`; so from there on this is attach.c's relay, and
 * CMD's exit status becomes sbx's (128+N for a signal). A refusal by the daemon (no such
 * sandbox, not running, several containers and no -c) exits 1 as kubectl does.
 *
 * -t without a terminal on stdin is dropped with kubectl's warning, so scripts that pass
 * -it out of habit still work. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/attach.h"
#include "cli/cli.h"
#include "cli/stream.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

static const struct option long_opts[] = {
    {"stdin", no_argument, NULL, 'i'},
    {"tty", no_argument, NULL, 't'},
    {"container", required_argument, NULL, 'c'},
    {"namespace", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int sbx_cmd_exec(int argc, char **argv, const sbx_cmd_t *self) {
  const char *ns = "default", *container = NULL, *target = NULL;
  bool in = false, tty = false;
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "-:itc:n:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1:
      if (target) {
        sbx_cmd_usage_error(self, "exec NAME COMMAND is not supported: use exec NAME -- COMMAND");
        return SBX_EXIT_FAILURE;
      }
      target = optarg;
      break;
    case 'i': in = true; break;
    case 't': tty = true; break;
    case 'c': container = optarg; break;
    case 'n': ns = optarg; break;
    case 'h': sbx_cmd_usage(self); return 0;
    default: sbx_cmd_flag_error(self, opt, argv); return SBX_EXIT_FAILURE;
    }
  }
  /* getopt stops at "--"; anything after is the command */
  bool dashdash = optind > 0 && optind <= argc && strcmp(argv[optind - 1], "--") == 0;
  if (!target) {
    sbx_cmd_usage_error(self, "give the sandbox and a command: sbx exec NAME -- COMMAND");
    return SBX_EXIT_FAILURE;
  }
  if (optind >= argc) {
    sbx_cmd_usage_error(self, "you must specify at least one command for the container");
    return SBX_EXIT_FAILURE;
  }
  if (!dashdash) {
    sbx_cmd_usage_error(self, "exec NAME COMMAND is not supported: use exec NAME -- COMMAND");
    return SBX_EXIT_FAILURE;
  }
  sbx_error_t err = {0};
  const char *name;
  if (sbx_parse_pod_arg(target, &name, &err) < 0) {
    sbx_cmd_usage_error(self, "%s", err.msg);
    return SBX_EXIT_FAILURE;
  }
  if (tty && !isatty(STDIN_FILENO)) {
    fprintf(stderr, "Unable to use a TTY - input is not a terminal or the right kind of file\n");
    tty = false;
  }

  signal(SIGPIPE, SIG_IGN);
  _cleanup_json_ json_object *req = json_object_new_object();
  json_object *cmd = json_object_new_array();
  if (!req || !cmd) {
    json_object_put(cmd);
    fprintf(stderr, "sbx: out of memory\n");
    return SBX_EXIT_FAILURE;
  }
  for (int i = optind; i < argc; i++) json_object_array_add(cmd, json_object_new_string(argv[i]));
  json_object_object_add(req, "op", json_object_new_string("exec"));
  json_object_object_add(req, "namespace", json_object_new_string(ns));
  json_object_object_add(req, "name", json_object_new_string(name));
  if (container) json_object_object_add(req, "container", json_object_new_string(container));
  json_object_object_add(req, "command", cmd);
  json_object_object_add(req, "tty", json_object_new_boolean(tty));
  json_object_object_add(req, "stdin", json_object_new_boolean(in));
  struct winsize ws;
  if (tty && sbx_terminal_size(&ws) == 0) {
    json_object *w = json_object_new_object();
    json_object_object_add(w, "rows", json_object_new_int(ws.ws_row));
    json_object_object_add(w, "cols", json_object_new_int(ws.ws_col));
    json_object_object_add(req, "winsize", w);
  }

  _cleanup_json_ json_object *reply = NULL;
  int got[1];
  size_t ngot = 0;
  bool server_error = false;
  if (sbx_stream_request(req, NULL, 0, &reply, got, &ngot, 1, &server_error, &err) < 0) {
    fprintf(stderr, server_error ? "%s\n" : "sbx: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
  if (ngot != 1) {
    sbx_wire_close_fds(got, ngot);
    fprintf(stderr, "sbx: sbxd accepted the exec but sent no channel to the sandbox\n");
    return SBX_EXIT_FAILURE;
  }
  sbx_attach_opts_t ao = {.tty = tty, .interactive = in, .name = name};
  return sbx_attach(got[0], &ao);
}
