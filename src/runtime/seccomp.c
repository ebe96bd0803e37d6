/* seccomp.c: the default seccomp allowlist (see seccomp.h for what it refuses and why).
 *
 * Design. The filter is described by tables: names of syscalls allowed outright, grouped
 * by purpose, and a handful of syscalls allowed only for some argument values (clone,
 * personality, socket, socketpair, ioctl). Everything else hits the default action,
 * ERRNO(EPERM), as in Docker's profile. libseccomp turns the tables into classic BPF for
 * the native architecture only; a syscall made through another ABI on the same CPU (i386
 * via int 0x80, x32 numbers on x86_64) hits the bad-architecture action, which kills the
 * whole process.
 *
 * Names are resolved at run time with seccomp_syscall_resolve_name, so one table serves
 * every architecture: a name that does not exist natively (mmap2 on x86_64, arch_prctl on
 * aarch64) is skipped. Syscalls newer than the installed libseccomp are added by number,
 * from the numbering all modern architectures share since 424; numbers above the newest
 * one we know (up to 511) answer ENOSYS instead of EPERM, so that a C library that tries
 * a new syscall first falls back to the old one, as it would on an older kernel (runc
 * does the same). clone3 answers ENOSYS for the same reason: its flags live in memory,
 * which a seccomp filter cannot read, so libc must fall back to clone, whose flags it
 * can.
 *
 * Argument checks and 64-bit registers. The kernel reads many arguments as 32-bit ints
 * (the ioctl request, the socket domain, the personality) and ignores the upper half of
 * the register, while seccomp sees all 64 bits. A check "arg != TIOCSTI" would therefore
 * let 0x1_00005412 through to a kernel that executes TIOCSTI. libseccomp 2.5 has no
 * masked "not equal" and allows only one comparison per argument in a rule, and an
 * unconditional rule for a syscall overrides its conditional ones. So "allow unless the
 * low 32 bits are one of X" is written as a union of ALLOW rules: the 32-bit range minus
 * the refused values, cut into aligned power-of-two blocks, each a masked equality over
 * the full 64 bits (so the upper half must be 0), plus the sign-extended negative ints
 * (upper half all ones, bit 31 set). Anything else in the upper half is refused.
 *
 * Cost. Building is libseccomp work, about 3 ms on the 2-core build machine (mostly rule
 * insertion and the binary-tree code generation); loading a built program is one syscall
 * of about 0.2 ms. So sbx_seccomp_build_default exports the BPF once (through a memfd,
 * the only export libseccomp 2.5 offers) and supervisors load that copy in each sandbox
 * with sbx_seccomp_load. */
#include "runtime/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/cleanup.h"

/* ---- the allowlist ------------------------------------------------------------------ */

static const char *const allowed_syscalls[] = {
    /* process lifetime: creating (clone is below, checked), running, waiting, ending */
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
    "waitpid", "restart_syscall",

    /* identity: ids, process groups, sessions, capabilities (bounded by caps.c) */
    "getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
    "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid",
    "getegid32", "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups",
    "getgroups32", "setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32",
    "setregid", "setregid32", "setresuid", "setresuid32", "setresgid", "setresgid32",
    "setgroups", "setgroups32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32",
    "capget", "capset",

    /* per-thread runtime state set up by libc and language runtimes */
    "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "prctl",
    "arch_prctl", "set_thread_area", "get_thread_area", "modify_ldt",

    /* self-sandboxing a program may add on top of ours */
    "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",

    /* signals */
    "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
    "rt_sigpending", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "sigreturn", "sigprocmask",
    "signalfd", "signalfd4", "pause", "alarm",

    /* pidfds (pidfd_getfd needs ptrace rights over the target, like ptrace itself) */
    "pidfd_open", "pidfd_send_signal", "pidfd_getfd",

    /* debugging: gdb, py-spy, strace. Safe with seccomp since Linux 4.8, where a tracer
     * can no longer skip the filter by rewriting the syscall after it was checked. */
    "ptrace", "process_vm_readv", "process_vm_writev",

    /* memory */
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
    "mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages",
    "pkey_alloc", "pkey_free", "pkey_mprotect", "membarrier", "memfd_create",
    "memfd_secret", "process_mrelease", "map_shadow_stack", "mseal",
    /* NUMA placement of the caller's own memory (Docker wants CAP_SYS_NICE; the kernel
     * itself asks for it only to move other processes' pages, which stays refused) */
    "get_mempolicy", "set_mempolicy", "mbind", "set_mempolicy_home_node",

    /* threads and scheduling: futexes, affinity (OpenMP, PyTorch's intra-op pool) */
    "futex", "futex_time64", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue",
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam",
    "sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_getattr",
    "sched_setattr", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "getcpu",

    /* clocks and timers (reading only: setting the clock is refused) */
    "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
    "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "gettimeofday", "time",
    "times", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
    "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64",

    /* file descriptors: open, close, read, write (ioctl is below, checked) */
    "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3",
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64",
    "pwritev", "pwritev2", "lseek", "_llseek", "fcntl", "fcntl64", "flock", "fsync",
    "fdatasync", "sync", "syncfs", "sync_file_range", "sync_file_range2",
    "arm_sync_file_range", "fadvise64", "fadvise64_64", "arm_fadvise64_64", "fallocate",
    "readahead", "ftruncate", "ftruncate64", "truncate", "truncate64", "copy_file_range",
    "sendfile", "sendfile64", "splice", "tee", "vmsplice", "cachestat",

    /* file metadata */
    "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64", "newfstatat",
    "statx", "statfs", "statfs64", "fstatfs", "fstatfs64", "access", "faccessat",
    "faccessat2", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "chown32", "fchown",
    "fchown32", "lchown", "lchown32", "fchownat", "utime", "utimes", "utimensat",
    "utimensat_time64", "futimesat", "umask", "file_getattr", "file_setattr",
    "getxattr", "lgetxattr", "fgetxattr", "getxattrat", "setxattr", "lsetxattr",
    "fsetxattr", "setxattrat", "listxattr", "llistxattr", "flistxattr", "listxattrat",
    "removexattr", "lremovexattr", "fremovexattr", "removexattrat",

    /* the file-system tree: names, directories. chroot is harmless inside the sandbox's
     * own mount namespace (Docker allows it with CAP_SYS_CHROOT, which we keep). */
    "getcwd", "chdir", "fchdir", "chroot", "mkdir", "mkdirat", "rmdir", "link", "linkat",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "symlink", "symlinkat",
    "readlink", "readlinkat", "mknod", "mknodat", "getdents", "getdents64",

    /* reading the mount table (what /proc/self/mountinfo already shows) */
    "statmount", "listmount",

    /* waiting on many things: poll, select, epoll (tornado, zmq), eventfd, inotify */
    "poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6",
    "pselect6_time64", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
    "epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
    "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
    "fanotify_mark",

    /* pipes and System V / POSIX IPC (private to the sandbox's IPC namespace) */
    "pipe", "pipe2", "ipc", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
    "semtimedop", "semtimedop_time64", "semctl", "shmget", "shmat", "shmdt", "shmctl",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",

    /* sockets (socket and socketpair are below, checked) */
    "socketcall", "bind", "connect", "listen", "accept", "accept4", "getsockname",
    "getpeername", "getsockopt", "setsockopt", "send", "sendto", "sendmsg", "sendmmsg",
    "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64", "shutdown",

    /* POSIX asynchronous I/O (the old io_* family; io_uring stays refused) */
    "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64",

    /* limits, priorities, system information */
    "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "getpriority",
    "setpriority", "ioprio_get", "ioprio_set", "sysinfo", "uname", "getrandom",

    /* Linux security module attributes of the caller (as /proc/self/attr shows) */
    "lsm_get_self_attr", "lsm_list_modules",

    /* kernel trampolines: executed only where the kernel itself placed a uprobe (a host
     * tracer); refusing them would crash the probed process */
    "uretprobe", "uprobe",

    /* architecture-specific helpers of other ports (skipped where not native) */
    "breakpoint", "cacheflush", "set_tls", "riscv_flush_icache", "s390_pci_mmio_read",
    "s390_pci_mmio_write", "s390_runtime_instr", "swapcontext",
};

/* Numbers for syscalls that libseccomp 2.5 may not know by name yet. From 424 on, x86_64,
 * aarch64 and riscv share one numbering; the x86_64-only probes sit at 335/336. */
struct late_syscall {
  const char *name;
  int nr;
};
static const struct late_syscall late_syscalls[] = {
#if defined(__x86_64__) || defined(__aarch64__) || (defined(__riscv) && __riscv_xlen == 64)
    {"cachestat", 451},         {"fchmodat2", 452},     {"map_shadow_stack", 453},
    {"futex_wake", 454},        {"futex_wait", 455},    {"futex_requeue", 456},
    {"statmount", 457},         {"listmount", 458},     {"lsm_get_self_attr", 459},
    {"lsm_list_modules", 461},  {"mseal", 462},         {"setxattrat", 463},
    {"getxattrat", 464},        {"listxattrat", 465},   {"removexattrat", 466},
    {"file_getattr", 468},      {"file_setattr", 469},
#define SBX_SECCOMP_LAST_KNOWN 469 /* file_setattr, Linux 6.17 */
#endif
#if defined(__x86_64__)
    {"uretprobe", 335},         {"uprobe", 336},
#endif
    {NULL, 0},
};

/* Numbers above everything we know answer ENOSYS up to this one (see the file comment). */
#define SBX_SECCOMP_ENOSYS_LAST 511

/* clone(2): the namespace flags a sandboxed process may not use. CLONE_NEWTIME shares its
 * bit with the exit-signal byte and clone() cannot create time namespaces anyway; it is
 * listed so the mask reads like the brief, and refuses only invalid exit signals. */
#define SBX_CLONE_NS_FLAGS                                                                 \
  ((uint64_t)(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |  \
              CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME))
#if defined(__s390__) || defined(__s390x__)
#define SBX_CLONE_FLAGS_ARG 1 /* s390 swaps clone's first two arguments */
#else
#define SBX_CLONE_FLAGS_ARG 0
#endif

/* personality(2): PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26, and 0xffffffff,
 * which only queries. Docker's list; READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE and the
 * foreign personalities stay refused. */
static const uint32_t personality_allowed[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

/* socket(2), socketpair(2): AF_ALG (kernel crypto, a frequent source of kernel bugs) and
 * AF_VSOCK (talks to the hypervisor) are refused with EPERM; every other family is left
 * to the kernel, which the network namespace confines. Sorted ascending. */
static const uint32_t socket_domains_refused[] = {38 /* AF_ALG */, 40 /* AF_VSOCK */};

/* ioctl(2): TIOCSTI pushes bytes into a terminal's input (typing commands into whatever
 * shell owns it) and TIOCLINUX can do the same through the console selection buffer.
 * Sorted ascending. */
static const uint32_t ioctl_requests_refused[] = {0x5412 /* TIOCSTI */,
                                                  0x541C /* TIOCLINUX */};

/* ---- building ------------------------------------------------------------------------ */

struct sbx_seccomp_prog {
  unsigned short len;
  struct sock_filter insns[];
};

static void seccomp_releasep(scmp_filter_ctx *ctx) {
  if (*ctx) seccomp_release(*ctx);
}
#define _cleanup_seccomp_ __attribute__((cleanup(seccomp_releasep)))

static int rule_error(sbx_error_t *err, int rc, const char *what, int nr) {
  char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
  sbx_error_set(err, -rc, "seccomp: add rule for %s (%s, %d)", name ? name : "?", what, nr);
  free(name);
  return -1;
}

/* The native number of a syscall name, or -1 when the name does not exist natively. */
static int resolve(const char *name) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr >= 0) return nr;
  if (nr != __NR_SCMP_ERROR) return -1; /* known to libseccomp, but not on this arch */
  for (const struct late_syscall *l = late_syscalls; l->name; l++)
    if (strcmp(l->name, name) == 0) return l->nr;
  return -1;
}

/* Allow `nr` when argument `arg`, read as the 32-bit int the kernel reads, is none of
 * `refused` (sorted, all below 0x80000000): see "Argument checks" in the file comment. */
static int allow_u32_except(scmp_filter_ctx ctx, int nr, unsigned arg, const uint32_t *refused,
                            size_t n, sbx_error_t *err) {
  uint64_t lo = 0;
  for (size_t i = 0; i <= n; i++) {
    uint64_t hi_excl = i < n ? refused[i] : UINT64_C(1) << 32; /* range [lo, hi_excl) */
    while (lo < hi_excl) {
      /* the largest aligned block starting at lo that fits in the range */
      uint64_t size = lo ? lo & -lo : UINT64_C(1) << 32;
      while (lo + size > hi_excl) size >>= 1;
      struct scmp_arg_cmp cmp = {arg, SCMP_CMP_MASKED_EQ, ~(size - 1), lo};
      int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
      if (rc < 0) return rule_error(err, rc, "argument range", nr);
      lo += size;
    }
    if (i < n) lo = (uint64_t)refused[i] + 1;
  }
  /* negative ints passed through a sign-extending prototype (upper half all ones) */
  struct scmp_arg_cmp neg = {arg, SCMP_CMP_GE, UINT64_C(0xffffffff80000000), 0};
  int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &neg);
  if (rc < 0) return rule_error(err, rc, "negative argument", nr);
  return 0;
}

static int add_conditional_rules(scmp_filter_ctx ctx, sbx_error_t *err) {
  int rc, nr;

  /* clone: threads and processes, but no new namespaces */
  struct scmp_arg_cmp clone_ok = {SBX_CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, SBX_CLONE_NS_FLAGS,
                                  0};
  if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, &clone_ok)) < 0)
    return rule_error(err, rc, "namespace flags", SCMP_SYS(clone));

  /* clone3: "not implemented", so libc falls back to clone (see the file comment) */
  if ((nr = resolve("clone3")) >= 0 &&
      (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0)) < 0)
    return rule_error(err, rc, "ENOSYS", nr);

  for (size_t i = 0; i < sizeof personality_allowed / sizeof *personality_allowed; i++) {
    struct scmp_arg_cmp p = {0, SCMP_CMP_MASKED_EQ, 0xffffffff, personality_allowed[i]};
    if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1, &p)) < 0)
      return rule_error(err, rc, "persona", SCMP_SYS(personality));
  }

  static const char *const socket_calls[] = {"socket", "socketpair"};
  for (size_t i = 0; i < 2; i++)
    if ((nr = resolve(socket_calls[i])) >= 0 &&
        allow_u32_except(ctx, nr, 0, socket_domains_refused,
                         sizeof socket_domains_refused / sizeof *socket_domains_refused, err) < 0)
      return -1;

  return allow_u32_except(ctx, SCMP_SYS(ioctl), 1, ioctl_requests_refused,
                          sizeof ioctl_requests_refused / sizeof *ioctl_requests_refused, err);
}

static int build_ctx(scmp_filter_ctx *out, sbx_error_t *err) {
  _cleanup_seccomp_ scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (!ctx) return sbx_error_set(err, ENOMEM, "seccomp: create filter");
  int rc;

  /* The caller sets no_new_privs itself, before anything else it must do first. */
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
    return sbx_error_set(err, -rc, "seccomp: turn off no_new_privs handling");
  /* Another ABI of this CPU kills the process (libseccomp's default kills the thread). */
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 &&
      (rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL)) < 0)
    return sbx_error_set(err, -rc, "seccomp: set the action for foreign architectures");
  /* A binary search over syscall numbers instead of ~350 comparisons in a row on every
   * syscall of the sandbox. */
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)
    return sbx_error_set(err, -rc, "seccomp: ask for a binary-tree filter");

  for (size_t i = 0; i < sizeof allowed_syscalls / sizeof *allowed_syscalls; i++) {
    int nr = resolve(allowed_syscalls[i]);
    if (nr < 0) continue;
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
      return rule_error(err, rc, allowed_syscalls[i], nr);
  }
  if (add_conditional_rules(ctx, err) < 0) return -1;

#ifdef SBX_SECCOMP_LAST_KNOWN
  for (int nr = SBX_SECCOMP_LAST_KNOWN + 1; nr <= SBX_SECCOMP_ENOSYS_LAST; nr++)
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0)) < 0)
      return rule_error(err, rc, "future syscall", nr);
#endif

  *out = sbx_steal_ptr(&ctx);
  return 0;
}

int sbx_seccomp_build_default(struct sbx_seccomp_prog **out, sbx_error_t *err) {
  _cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
  if (build_ctx(&ctx, err) < 0) return -1;

  _cleanup_fd_ int fd = memfd_create("sbx-seccomp", MFD_CLOEXEC);
  if (fd < 0) return sbx_error_sys(err, "seccomp: memfd_create for the compiled filter");
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0) return sbx_error_set(err, -rc, "seccomp: compile the filter");

  struct stat st;
  if (fstat(fd, &st) < 0) return sbx_error_sys(err, "seccomp: stat the compiled filter");
  size_t bytes = (size_t)st.st_size;
  if (bytes == 0 || bytes % sizeof(struct sock_filter) != 0 ||
      bytes / sizeof(struct sock_filter) > BPF_MAXINSNS)
    return sbx_error_set(err, EINVAL, "seccomp: compiled filter has a bad size (%zu bytes)",
                         bytes);

  _cleanup_free_ struct sbx_seccomp_prog *prog = malloc(sizeof *prog + bytes);
  if (!prog) return sbx_error_set(err, ENOMEM, "seccomp: allocate the compiled filter");
  prog->len = (unsigned short)(bytes / sizeof(struct sock_filter));
  size_t got = 0;
  while (got < bytes) {
    ssize_t r = pread(fd, (char *)prog->insns + got, bytes - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return sbx_error_set(err, r < 0 ? errno : EIO, "seccomp: read the compiled filter");
    got += (size_t)r;
  }
  *out = sbx_steal_ptr(&prog);
  return 0;
}

int sbx_seccomp_load(const struct sbx_seccomp_prog *prog, sbx_error_t *err) {
  struct sock_fprog fprog = {.len = prog->len, .filter = (struct sock_filter *)prog->insns};
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog);
  if (rc < 0 && errno == ENOSYS) rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
  if (rc < 0) {
    if (errno == EACCES)
      return sbx_error_sys(err, "seccomp: load the filter (set no_new_privs first)");
    return sbx_error_sys(err, "seccomp: load the filter");
  }
  return 0;
}

size_t sbx_seccomp_prog_len(const struct sbx_seccomp_prog *prog) { return prog->len; }

void sbx_seccomp_prog_free(struct sbx_seccomp_prog *prog) { free(prog); }

const void *sbx_seccomp_prog_data(const struct sbx_seccomp_prog *prog, size_t *bytes) {
  *bytes = (size_t)prog->len * sizeof(struct sock_filter);
  return prog->insns;
}

int sbx_seccomp_prog_from_data(const void *data, size_t bytes, struct sbx_seccomp_prog **out, sbx_error_t *err) {
  size_t n = bytes / sizeof(struct sock_filter);
  if (bytes == 0 || bytes % sizeof(struct sock_filter) != 0 || n > BPF_MAXINSNS)
    return sbx_error_set(err, EINVAL, "seccomp: a program of %zu bytes is not a whole number of instructions", bytes);
  struct sbx_seccomp_prog *p = malloc(sizeof *p + bytes);
  if (!p) return sbx_error_set(err, ENOMEM, "seccomp");
  p->len = (unsigned short)n;
  memcpy(p->insns, data, bytes);
  *out = p;
  return 0;
}

int sbx_seccomp_apply_default(sbx_error_t *err) {
  struct sbx_seccomp_prog *prog = NULL;
  if (sbx_seccomp_build_default(&prog, err) < 0) return -1;
  int rc = sbx_seccomp_load(prog, err);
  sbx_seccomp_prog_free(prog);
  return rc;
}
