/* config.h: sbxd's settings from its command line and its config file, one mechanism over
 * the program's getopt long-option table.
 *
 * The file (/etc/sbx/sbxd.conf, or --config PATH) holds `key = value` lines whose keys are
 * exactly the long options without their dashes (`warm-pool = 3`); a repeatable option is
 * repeated (`allow-host-path = /data:rw`); an option without an argument takes true or
 * false; `#` begins a comment (a whole line, or after a blank). So every option added to
 * the table is a config key at once, with no code of its own.
 *
 * Precedence: built-in defaults < the file < the command line. An option given on the
 * command line replaces everything the file says for it (for a repeatable option: the whole
 * list). Every value, wherever it came from, goes through the same callback (`apply`),
 * which validates it exactly as the daemon uses it; an error names its origin
 * ("/etc/sbx/sbxd.conf:3: warm-pool: takes a number from 0 to 64").
 *
 * `--config PATH` and `--check-config` are added here to the program's table: a default
 * file that is missing is fine, an explicit one that is missing is an error; with
 * --check-config the caller prints the effective settings (sbx_conf_print) and exits. */
#ifndef SBX_DAEMON_CONFIG_H
#define SBX_DAEMON_CONFIG_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "lib/error.h"

/* Apply one value of the option whose getopt val is `val` (arg NULL for an option without
 * an argument). 0 when taken; anything else refuses it, with the reason in err (or, when
 * err is left empty, already printed). */
typedef int (*sbx_conf_apply_fn)(int val, const char *arg, sbx_error_t *err);

struct sbx_conf_spec {
  const char *program;           /* "sbxd": prefix of error lines */
  const struct option *options;  /* the program's long options, ended by {0} */
  const char *short_options;     /* getopt's optstring ("h") */
  const char *const *repeatable; /* names that may be given many times; NULL-ended */
  const char *const *cli_only;   /* names acted on at once and never in the file (help,
                                    version); NULL-ended */
  const char *const *defaults;   /* "name=value" applied unless set elsewhere; NULL-ended */
  const char *default_path;      /* the file read when --config is not given */
  sbx_conf_apply_fn apply;
};

/* One value in force, and where it came from. */
struct sbx_conf_value {
  const struct option *opt;
  char *arg;         /* NULL for an option without an argument */
  char origin[300];  /* "FILE:LINE", "command line" or "default" */
};

struct sbx_conf {
  char *path;          /* the file read (NULL: none) */
  bool path_explicit;  /* given with --config */
  bool check;          /* --check-config */
  struct sbx_conf_value *values;
  size_t nvalues;
};

/* Parse argv and the file, and apply every value in force in order (defaults, file,
 * command line). Errors are printed to errs, one line each, all of them; returns 0, or -1
 * when any value was refused (or argv was wrong: getopt printed that). */
int sbx_conf_load(const struct sbx_conf_spec *spec, int argc, char **argv, struct sbx_conf *conf, FILE *errs);
/* The effective settings as a config file, each value with its origin as a comment;
 * options not set at all as "# name: not set". */
void sbx_conf_print(const struct sbx_conf_spec *spec, const struct sbx_conf *conf, FILE *out);
void sbx_conf_free(struct sbx_conf *conf);

#endif
