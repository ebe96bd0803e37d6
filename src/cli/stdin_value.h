/* stdin_value.h: one value read from standard input, for `sbx create ... --from-stdin=KEY`,
 * so that a secret never has to be on a command line (where every local user can read it in
 * /proc/PID/cmdline while the command runs).
 *
 * From a terminal: a prompt ("KEY: ") on stderr, then one line typed without echo (the
 * terminal's echo is turned off for the read and restored after it, also when a signal ends
 * sbx meanwhile); the line end is not part of the value, and an empty line is refused.
 * From anything else (a pipe, a file): every byte up to end of file, less one final line end
 * ("\n" or "\r\n"), as `docker login --password-stdin` reads a password, so that
 * `printenv HF_TOKEN | sbx create ...` stores the token without a newline. Values that must
 * keep every byte come from --from-file. */
#ifndef SBX_CLI_STDIN_VALUE_H
#define SBX_CLI_STDIN_VALUE_H

#include <stddef.h>

#include "lib/error.h"

/* Read the value for `key`, at most `max` bytes. *val is malloc'd and NUL-terminated (the
 * value itself may hold NULs: *len says its length). Returns 0 or -1 (err). */
int sbx_read_stdin_value(const char *key, size_t max, char **val, size_t *len, sbx_error_t *err);

#endif
