/* args.h: the small argument languages of the kubectl-style verbs, parsed purely so they
 * are unit-tested without a daemon.
 *
 *   durations      --timeout=30s, 1m30s, 500ms, 2h (Go's time.ParseDuration subset);
 *                  a bare number is seconds; negative means "a week", as kubectl wait
 *   wait --for     condition=NAME[=VALUE] (VALUE default "True") | delete
 *   scale          --replicas=N, which for a sandbox is 0 or 1
 *   create         --from-literal=KEY=VALUE, --from-file=[KEY=]PATH, --from-stdin=KEY, the
 *                  lines of an --from-env-file; keys as Kubernetes allows them in Secrets
 *                  and ConfigMaps ([-._a-zA-Z0-9]+, at most 253, not "." or "..")
 *   logs, exec     the object: NAME, or pod/NAME, sandbox/NAME... (any name of the Sandbox
 *                  kind, and kubectl's pod forms, since a sandbox is one pod)
 *   logs --tail    where the last N lines of a file start */
#ifndef SBX_CLI_ARGS_H
#define SBX_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/error.h"

/* Milliseconds of a duration. Returns 0 or -1. */
int sbx_parse_duration_ms(const char *s, long long *ms, sbx_error_t *err);

typedef struct sbx_wait_for {
  bool delete_;         /* --for=delete */
  char condition[128];  /* "Ready" */
  char value[64];       /* "True" */
} sbx_wait_for_t;

int sbx_parse_wait_for(const char *s, sbx_wait_for_t *w, sbx_error_t *err);

/* --replicas for a sandbox: 0 or 1. */
int sbx_parse_replicas(const char *s, int *replicas, sbx_error_t *err);

bool sbx_is_config_key(const char *key);

/* --from-literal=KEY=VALUE: key and value point into s (key NUL-terminated into keybuf). */
int sbx_parse_from_literal(const char *s, char *keybuf, size_t keysize, const char **value,
                           sbx_error_t *err);

/* --from-file=[KEY=]PATH: the key (given, or the path's last component) and the path. A
 * directory path with no key is the caller's to expand. */
int sbx_parse_from_file(const char *s, char *keybuf, size_t keysize, const char **path,
                        bool *key_given, sbx_error_t *err);

/* --from-stdin=KEY: a valid key. Returns 0 or -1. */
int sbx_parse_from_stdin(const char *s, sbx_error_t *err);

/* One line of an --from-env-file, kubectl's format, without its line end: leading white
 * space is dropped; a blank line, or one whose first other character is '#', is no entry
 * (0, *keybuf empty); KEY=VALUE gives the key and *value (the rest of the line, as it is);
 * a bare KEY names an environment variable of the caller's (*value NULL). KEY is a data key
 * that does not start with a digit, as kubectl wants. Returns 0 or -1. */
int sbx_parse_env_line(const char *line, char *keybuf, size_t keysize, const char **value, sbx_error_t *err);

/* The sandbox a logs/exec argument names (NAME, pod/NAME, sandbox/NAME, ...). */
int sbx_parse_pod_arg(const char *arg, const char **name, sbx_error_t *err);

/* Where reading should start in a file of `size` bytes to print its last `lines` lines
 * (lines < 0: all, 0: none). A final line without a newline counts as a line. Reads fd
 * backwards with pread. Returns 0 or -1. */
int sbx_tail_offset(int fd, off_t size, long lines, off_t *start, sbx_error_t *err);

#endif
