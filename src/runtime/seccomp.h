/* seccomp.h: the default seccomp filter every sandboxed process runs under.
 *
 * An allowlist shaped like Docker's default profile: the default action is EPERM, the
 * ordinary syscalls of a Linux program are allowed, and the dangerous ones stay refused:
 * namespace creation (clone/clone3 with CLONE_NEW* flags, unshare, setns), mount and
 * friends, keyctl/add_key/request_key, bpf, userfaultfd, io_uring_*, perf_event_open,
 * kexec_*, init/finit/delete_module, open_by_handle_at, reboot, swapon/off,
 * settimeofday/clock_settime/adjtimex, acct, ptrace beyond the basics, personality other
 * than the safe values, socket(AF_ALG|AF_VSOCK), ioctl(TIOCSTI), and the like. */
#ifndef SBX_SECCOMP_H
#define SBX_SECCOMP_H

#include "lib/error.h"

/* Build the filter and load it into the calling thread (no_new_privs must already be set).
 * After this returns 0, the filter is irrevocable for this process and its children. */
int sbx_seccomp_apply_default(sbx_error_t *err);

#endif
