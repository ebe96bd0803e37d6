/* run_opts.h: `sbx run`'s command line turned into the daemon's run request.
 *
 * Parsing is separate from doing, so every flag and every error is unit-tested without a
 * daemon: sbx_run_parse() builds the request JSON (docs/protocol.md, "run") and the list
 * of paths whose descriptors must travel with it; sbx_run_open_paths() then opens each one
 * with the caller's own rights (for reading), in the order the request's fd indexes refer to.
 * Options stop at `--` or at the first word that is not an option, so the command's own
 * flags are never taken for sbx's. */
#ifndef SBX_CLI_RUN_OPTS_H
#define SBX_CLI_RUN_OPTS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"
#include "lib/wire.h"

typedef struct sbx_run_path {
  char *path;      /* to open for reading */
  bool directory;  /* must be a directory (O_DIRECTORY) */
  bool image;      /* the rootfs:DIR image: opened under lib/rootfs.h's rule */
  char *flag;      /* "--image rootfs:DIR" or "-v SRC:DST": for error messages */
} sbx_run_path_t;

typedef struct sbx_run_opts {
  json_object *req; /* the run request; "winsize" is left to the caller */
  sbx_run_path_t paths[SBX_WIRE_MAX_FDS]; /* paths[i] becomes fds[i] */
  size_t npaths;
  bool help;        /* -h/--help was given: nothing else is filled */
  bool tty;         /* -t */
  bool interactive; /* -i */
} sbx_run_opts_t;

/* Parse argv (argv[0] is the verb's name). Returns 0, or -1 with err saying which flag is
 * wrong; either way call sbx_run_opts_free() afterwards. */
int sbx_run_parse(int argc, char **argv, sbx_run_opts_t *o, sbx_error_t *err);
void sbx_run_opts_free(sbx_run_opts_t *o);

/* One -v SRC:DST[:ro|:rw]: DST must be absolute; the mode defaults to read-write. SRC may
 * itself contain ':' (the last ':' before DST splits). *src and *dst are malloc'd. */
int sbx_run_parse_volume(const char *spec, char **src, char **dst, bool *read_only,
                         sbx_error_t *err);

/* Open o->paths into fds[0..o->npaths). On failure nothing stays open. Returns 0 or -1. */
int sbx_run_open_paths(const sbx_run_opts_t *o, int *fds, sbx_error_t *err);

#endif
