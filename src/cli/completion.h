/* completion.h: the shell completion scripts of `sbx completion bash|zsh`, written from
 * the verb table itself (names, and each verb's flags read from its usage text), so they
 * cannot drift from the verbs. Object names are completed at run time by asking
 * `sbx get KIND -o name`. Pure: unit-tested. */
#ifndef SBX_CLI_COMPLETION_H
#define SBX_CLI_COMPLETION_H

#include <stddef.h>
#include <stdio.h>

#include "cli/cli.h"

/* The flags a usage text lists: each "Options:" line starting with '-' gives its spellings
 * ("-n", "--namespace"; a flag written "--for=CONDITION" gives "--for="), space-separated
 * into out. Returns how many. */
size_t sbx_usage_flags(const char *usage, char *out, size_t size);

/* Write the script for shell "bash" or "zsh"; -1 for another shell. */
int sbx_completion_write(FILE *out, const char *shell, const sbx_cmd_t *cmds, size_t ncmds);

#endif
