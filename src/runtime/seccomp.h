/* seccomp.h: the default seccomp filter every sandboxed process runs under.
 *
 * An allowlist shaped like Docker's default profile: the default action is EPERM, the
 * ordinary syscalls of a Linux program are allowed, and the dangerous ones stay refused:
 * namespace creation (clone/clone3 with CLONE_NEW* flags, unshare, setns), mount and
 * friends, keyctl/add_key/request_key, bpf, userfaultfd, io_uring_*, perf_event_open,
 * kexec_*, init/finit/delete_module, open_by_handle_at, reboot, swapon/off,
 * settimeofday/clock_settime/adjtimex, acct, personality other than the safe values,
 * socket(AF_ALG|AF_VSOCK), ioctl(TIOCSTI|TIOCLINUX), and the like. ptrace stays allowed
 * (debuggers; it cannot bypass seccomp since Linux 4.8). Other ABIs of the CPU (i386,
 * x32) kill the process.
 *
 * Two ways to use it. sbx_seccomp_apply_default() builds and loads in one call. Building
 * goes through libseccomp and costs far more than loading, so a supervisor that starts
 * many sandboxes builds once with sbx_seccomp_build_default() and has each sandbox's
 * process call sbx_seccomp_load(): that is one syscall, allocates nothing and is safe in a
 * freshly cloned child. */
#ifndef SBX_SECCOMP_H
#define SBX_SECCOMP_H

#include <stddef.h>

#include "lib/error.h"

/* A compiled classic-BPF program, ready for seccomp(SECCOMP_SET_MODE_FILTER). */
struct sbx_seccomp_prog;

/* Build the filter and load it into the calling thread (no_new_privs must already be set).
 * After this returns 0, the filter is irrevocable for this process and its children. */
int sbx_seccomp_apply_default(sbx_error_t *err);

/* Compile the default filter for the native architecture into *out (free it with
 * sbx_seccomp_prog_free). Loads nothing; the result is the same on every call. */
int sbx_seccomp_build_default(struct sbx_seccomp_prog **out, sbx_error_t *err);

/* Load a compiled program into the calling thread (no_new_privs must already be set, or
 * the caller holds CAP_SYS_ADMIN). Allocates nothing and makes one syscall, so it is fit
 * for a freshly cloned child. Irrevocable, like sbx_seccomp_apply_default. */
int sbx_seccomp_load(const struct sbx_seccomp_prog *prog, sbx_error_t *err);

/* Number of BPF instructions in the program (for diagnostics and tests). */
size_t sbx_seccomp_prog_len(const struct sbx_seccomp_prog *prog);

void sbx_seccomp_prog_free(struct sbx_seccomp_prog *prog);

/* The compiled program as bytes (the kernel's sock_filter array), so one process can build
 * it and hand it to others (sbxd builds it once and gives each shim a sealed copy). */
const void *sbx_seccomp_prog_data(const struct sbx_seccomp_prog *prog, size_t *bytes);
/* A program from such bytes: checks the size is a whole, non-empty, bounded number of
 * instructions. */
int sbx_seccomp_prog_from_data(const void *data, size_t bytes, struct sbx_seccomp_prog **out, sbx_error_t *err);

#endif
