/* attach.h: the terminal side of a running sandbox: stdio relay, signals, exit status.
 *
 * After the daemon hands `sbx run` the socket to the sandbox's shim, everything happens
 * here (docs/protocol.md, "shim <-> client"): wait for `started` and take the descriptors
 * it carries (stdin/stdout/stderr pipes, or one pty master), copy bytes between them and
 * our own stdio in one poll loop, forward the signals a user sends sbx, and turn the `exit`
 * frame into our exit status. Meant to be shared by `run` and, later, `exec`/`attach`. */
#ifndef SBX_CLI_ATTACH_H
#define SBX_CLI_ATTACH_H

#include <stdbool.h>
#include <sys/ioctl.h>

typedef struct sbx_attach_opts {
  bool tty;         /* a pty was asked for */
  bool interactive; /* stdin is relayed */
  const char *name; /* the sandbox's name, for messages */
} sbx_attach_opts_t;

/* Relay until the program ends. Takes ownership of `shim`. Returns the exit status sbx
 * should end with: the program's, 128+signal, or 125 when the sandbox failed to start or
 * contact was lost. */
int sbx_attach(int shim, const sbx_attach_opts_t *o);

/* The window size of our terminal (stdin, else stdout, else stderr). Returns 0 or -1. */
int sbx_terminal_size(struct winsize *ws);

#endif
