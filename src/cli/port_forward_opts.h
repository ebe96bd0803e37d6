/* port_forward_opts.h: `sbx port-forward`'s command line, and named ports.
 *
 * Parsing is kept apart from the listening and proxying (cmd_port_forward.c) so that every
 * form kubectl accepts is unit-tested without a daemon:
 *   sbx port-forward [pod/|sandbox/|sandboxes/]NAME [LOCAL:]REMOTE... [--address A,...] [-n NS]
 * A port is "8888" (the same locally), "8000:8888", ":8888" or "0:8888" (a free local port),
 * and REMOTE may be a port's name ("http", "8000:http"): it is looked up in the sandbox's
 * pod template, its containers' ports[].name, once the sandbox has been fetched. */
#ifndef SBX_CLI_PORT_FORWARD_OPTS_H
#define SBX_CLI_PORT_FORWARD_OPTS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

#define SBX_PF_MAX_PORTS 64
#define SBX_PF_MAX_ADDRESSES 16

typedef struct sbx_pf_port {
  int local;              /* 0: pick a free port */
  int remote;             /* 0 while remote_name is still to be resolved */
  char remote_name[16];   /* a named port, or "" */
  bool local_from_remote; /* "http" alone: the local port is the number it names */
} sbx_pf_port_t;

typedef struct sbx_pf_opts {
  const char *ns;   /* -n; "default" */
  const char *name; /* the sandbox (points into argv) */
  sbx_pf_port_t ports[SBX_PF_MAX_PORTS];
  size_t nports;
  const char *addresses[SBX_PF_MAX_ADDRESSES]; /* IP literals or "localhost" */
  size_t naddresses;
  bool help;
} sbx_pf_opts_t;

/* Parse argv (argv[0] is the verb's name). Returns 0, or -1 with err saying what is wrong. */
int sbx_pf_parse(int argc, char **argv, sbx_pf_opts_t *o, sbx_error_t *err);

/* One port argument, as kubectl reads it. Returns 0 or -1. */
int sbx_pf_parse_port(const char *arg, sbx_pf_port_t *p, sbx_error_t *err);

/* "NAME", "pod/NAME", "pods/NAME", "po/NAME" or any of the sandbox kind's names before the
 * slash. *name points into arg. Returns 0 or -1. */
int sbx_pf_parse_target(const char *arg, const char **name, sbx_error_t *err);

/* The number of the port called `port_name` in a Sandbox object (its pod template's
 * containers' ports). Returns 0 or -1 (not found: the message names the sandbox). */
int sbx_pf_named_port(json_object *sandbox, const char *sandbox_name, const char *port_name, int *number,
                      sbx_error_t *err);

/* Fill every port's remote number from the sandbox object (named ports). Returns 0 or -1. */
int sbx_pf_resolve_ports(sbx_pf_opts_t *o, json_object *sandbox, sbx_error_t *err);

#endif
