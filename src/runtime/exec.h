/* exec.h: running one more process inside a running sandbox (`sbx exec`).
 *
 * The process must end up exactly as confined as the sandbox's own: in its cgroup, in all
 * its namespaces, with its ids, supplementary groups, capability set, no_new_privs, rlimits
 * and seccomp filter. The sequence:
 *   shim                          helper (fork)                  the process (clone)
 *   fork ....................>    non-dumpable, joins the
 *                                 sandbox's cgroup, then one
 *                                 setns(pidfd of its pid 1) into
 *                                 user, mnt, pid, net, ipc, uts
 *                                 and cgroup namespaces
 *                                 clone(CLONE_PARENT) .......>  (pid namespace entered)
 *   <... pid up a pipe            exits                          root of the user ns
 *                                                                (tty) new pty from the
 *                                                                sandbox's /dev/pts
 *   <... pty master / error ..................................  stdio, rlimits, caps,
 *                                                                no_new_privs, seccomp,
 *                                                                groups, gid, uid, cwd,
 *                                                                exec through PATH
 * The process is the shim's child (CLONE_PARENT), so the shim waits for it as for a pid 1.
 * A command that cannot be run exits 126, one not found 127, as a shell does. */
#ifndef SBX_EXEC_H
#define SBX_EXEC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "runtime/cgroup.h"
#include "runtime/seccomp.h"

struct sbx_exec_config {
  int target_pidfd;              /* pidfd of the sandbox's pid 1 */
  struct sbx_cgroup *cgroup;     /* the sandbox's cgroup */
  char *const *argv;             /* argv[0] looked up in envp's PATH inside */
  char *const *envp;
  const char *cwd;               /* inside; "/" if NULL */
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t ngroups;
  uint64_t caps;                 /* the sandbox's capability set (bit n = capability n) */
  const struct sbx_seccomp_prog *seccomp; /* NULL: build the default one */
  bool tty;                      /* a new pty of the sandbox's devpts; master in x->pty_master */
  unsigned short rows, cols;     /* tty: its size before the command starts (0: leave it) */
  int stdio[3];                  /* without tty */
};

struct sbx_exec {
  pid_t pid;
  int pidfd;
  int pty_master;                /* tty mode, else -1 */
};

int sbx_exec_start(const struct sbx_exec_config *c, struct sbx_exec *x, sbx_error_t *err);

/* A wait status as (exit code, signal): 128+N and N for a signal. */
void sbx_exec_decode_status(int wstatus, int *code, int *sig);

#endif
