/* cli.h: what the verbs of `sbx` share: the dispatch table's entry type, the verbs'
 * entry points, and how errors are printed.
 *
 * Like git's builtin/, each verb lives in its own cmd_<verb>.c and is one line in the table
 * of main.c: a name, the function, a one-line summary for `sbx --help` and the usage text
 * for `sbx help VERB` / `sbx VERB --help`. A verb receives argv with argv[0] being its own
 * name and returns the process exit status. */
#ifndef SBX_CLI_H
#define SBX_CLI_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sbx_cmd sbx_cmd_t;
typedef int (*sbx_cmd_fn)(int argc, char **argv, const sbx_cmd_t *self);

struct sbx_cmd {
  const char *name;
  sbx_cmd_fn fn;
  const char *summary; /* one line for `sbx --help` */
  const char *usage;   /* full text for `sbx help VERB` */
};

/* Exit status of `sbx` itself failing. `run` uses 125 so it cannot be confused with the
 * sandboxed program's own status, as docker and podman do. */
#define SBX_EXIT_FAILURE 1
#define SBX_EXIT_RUN_FAILURE 125

/* The verb table (main.c), for `sbx completion`. */
const sbx_cmd_t *sbx_commands(size_t *n);

/* Print the verb's usage text to stdout. */
void sbx_cmd_usage(const sbx_cmd_t *cmd);

/* "sbx VERB: <message> (see 'sbx VERB --help')" on stderr: a bad flag or argument. */
void sbx_cmd_usage_error(const sbx_cmd_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report what getopt_long() (with opterr = 0 and an optstring starting with ':') said
 * was wrong: opt is the '?' or ':' it returned. Prints one line like sbx_cmd_usage_error. */
void sbx_cmd_flag_error(const sbx_cmd_t *cmd, int opt, char **argv);

/* The verbs. */
int sbx_cmd_version(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_get(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_ps(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_delete(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_run(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_apply(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_describe(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_logs(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_exec(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_wait(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_scale(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_create(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_port_forward(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_top(int argc, char **argv, const sbx_cmd_t *self);
int sbx_cmd_completion(int argc, char **argv, const sbx_cmd_t *self);

#endif
