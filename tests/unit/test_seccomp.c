/* test_seccomp.c: the default seccomp filter, tried for real.
 *
 * Every probe runs in a forked child that sets no_new_privs, loads the filter, makes one
 * call and sends its result (0 or the errno) back through a pipe; the parent asserts.
 * Calls that would harm the machine if the filter let them through are made with
 * arguments the kernel itself rejects with a different errno (EINVAL, ENOENT, EFAULT),
 * so EPERM can only come from the filter. Where the kernel's own answer could also be
 * EPERM, a baseline run without the filter shows the filter is what refuses. */
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "runtime/seccomp.h"

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* How a probe runs: with no filter (baseline), built and loaded in one call, or from a
 * program compiled once in the parent. */
enum mode { NO_FILTER, APPLY_DEFAULT, PREBUILT };

static struct sbx_seccomp_prog *prebuilt;

/* What happened to the child. */
struct outcome {
  bool reported; /* the probe wrote its result */
  int result;    /* 0 or an errno */
  int status;    /* waitpid status */
};

typedef int (*probe_fn)(void *arg);

static struct outcome run_probe(enum mode mode, probe_fn fn, void *arg) {
  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    int result;
    sbx_error_t err = {0};
    /* no core dumps from the probes that are meant to die of SIGSYS */
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) _exit(100);
    if (mode == APPLY_DEFAULT && sbx_seccomp_apply_default(&err) < 0) {
      fprintf(stderr, "%s\n", err.msg);
      _exit(101);
    }
    if (mode == PREBUILT && sbx_seccomp_load(prebuilt, &err) < 0) {
      fprintf(stderr, "%s\n", err.msg);
      _exit(101);
    }
    result = fn(arg);
    if (write(p[1], &result, sizeof result) != sizeof result) _exit(102);
    _exit(0);
  }
  close(p[1]);
  struct outcome o = {0};
  o.reported = read(p[0], &o.result, sizeof o.result) == sizeof o.result;
  close(p[0]);
  assert_int_equal(waitpid(pid, &o.status, 0), pid);
  return o;
}

/* The errno a probe saw under the default filter. */
static int under_filter(probe_fn fn, void *arg) {
  struct outcome o = run_probe(APPLY_DEFAULT, fn, arg);
  if (!o.reported)
    fail_msg("probe did not report (status 0x%x%s)", o.status,
             WIFSIGNALED(o.status) ? ", killed by a signal" : "");
  return o.result;
}

static int sys_result(long rc) { return rc < 0 ? errno : 0; }

/* Full root: effective CAP_SYS_ADMIN and no seccomp filter of our own already (as in a
 * container). Only then do the kernel's own answers, without our filter, mean something. */
static bool full_root(void) {
  char buf[8192];
  FILE *f = fopen("/proc/self/status", "re");
  if (!f) return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *eff = strstr(buf, "\nCapEff:");
  const char *sec = strstr(buf, "\nSeccomp:");
  if (!eff || !sec) return false;
  unsigned long long caps = strtoull(eff + 9, NULL, 16);
  return geteuid() == 0 && (caps & (1ULL << 21 /* CAP_SYS_ADMIN */)) &&
         strtol(sec + 9, NULL, 10) == 0;
}

/* ---- probes ---------------------------------------------------------------------------- */

static int p_getpid(void *a) {
  (void)a;
  return getpid() > 0 && syscall(SYS_getpid) == getpid() ? 0 : EINVAL;
}

static int p_files(void *a) {
  (void)a;
  char path[] = "/tmp/sbx-seccomp-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return errno;
  int rc = 0;
  if (write(fd, "hello", 5) != 5) rc = errno ? errno : EIO;
  void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) rc = errno;
  else if (munmap(m, 4096) < 0) rc = errno;
  if (close(fd) < 0) rc = errno;
  int fd2 = open(path, O_RDONLY | O_CLOEXEC);
  char buf[8];
  if (fd2 < 0) rc = errno;
  else if (read(fd2, buf, sizeof buf) != 5) rc = EIO;
  if (fd2 >= 0) close(fd2);
  unlink(path);
  /* a few more a Python process uses at start-up */
  char rnd[8];
  if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) rc = errno;
  int mfd = memfd_create("probe", MFD_CLOEXEC);
  if (mfd < 0) rc = errno;
  else close(mfd);
  struct statx stx;
  if (statx(AT_FDCWD, "/", 0, STATX_BASIC_STATS, &stx) < 0) rc = errno;
  return rc;
}

static int p_fork(void *a) {
  (void)a;
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) _exit(7);
  int st;
  if (waitpid(pid, &st, 0) != pid) return errno;
  return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : ECHILD;
}

static void *thread_main(void *arg) {
  *(int *)arg = 42;
  return NULL;
}
static int p_thread(void *a) {
  (void)a;
  pthread_t t;
  int value = 0;
  int rc = pthread_create(&t, NULL, thread_main, &value);
  if (rc) return rc;
  if ((rc = pthread_join(t, NULL))) return rc;
  return value == 42 ? 0 : EINVAL;
}

static int p_exec_true(void *a) {
  (void)a;
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    char *argv[] = {"/bin/true", NULL};
    char *envp[] = {NULL};
    execve("/bin/true", argv, envp);
    _exit(errno == EPERM ? 126 : 127);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid) return errno;
  if (!WIFEXITED(st)) return EINTR;
  return WEXITSTATUS(st) == 0 ? 0 : WEXITSTATUS(st) == 126 ? EPERM : ENOEXEC;
}

static int p_unshare_user(void *a) {
  (void)a;
  return sys_result(unshare(CLONE_NEWUSER));
}

static int p_setns(void *a) {
  (void)a;
  return sys_result(setns(-1, 0)); /* EBADF from the kernel */
}

/* clone with flags, the raw syscall so the flags reach the kernel unchanged */
static int p_clone_flags(void *a) {
  unsigned long flags = *(unsigned long *)a;
  long rc = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (rc == 0) _exit(0);
  if (rc < 0) return errno;
  waitpid((pid_t)rc, NULL, 0);
  return 0;
}

static int p_clone3(void *a) {
  (void)a;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  long rc = syscall(SYS_clone3, &args, sizeof args);
  if (rc == 0) _exit(0);
  if (rc < 0) return errno;
  waitpid((pid_t)rc, NULL, 0);
  return 0;
}

static int p_mount(void *a) {
  (void)a;
  return sys_result(syscall(SYS_mount, "none", "/nonexistent-sbx-seccomp", "tmpfs", 0UL, NULL));
}

static int p_umount2(void *a) {
  (void)a;
  return sys_result(syscall(SYS_umount2, "/nonexistent-sbx-seccomp", 0));
}

static int p_pivot_root(void *a) {
  (void)a;
  return sys_result(syscall(SYS_pivot_root, "/nonexistent-a", "/nonexistent-b"));
}

static int p_keyctl(void *a) {
  (void)a;
  return sys_result(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
}

static int p_add_key(void *a) {
  (void)a;
  return sys_result(syscall(SYS_add_key, "user", "sbx-test", "x", 1, KEY_SPEC_PROCESS_KEYRING));
}

static int p_bpf(void *a) {
  (void)a;
  return sys_result(syscall(SYS_bpf, 0xffff, NULL, 0)); /* EINVAL from the kernel */
}

static int p_userfaultfd(void *a) {
  (void)a;
  long fd = syscall(SYS_userfaultfd, O_CLOEXEC);
  if (fd >= 0) close((int)fd);
  return sys_result(fd);
}

static int p_io_uring_setup(void *a) {
  (void)a;
  return sys_result(syscall(SYS_io_uring_setup, 1, NULL)); /* EFAULT from the kernel */
}

static int p_perf_event_open(void *a) {
  (void)a;
  return sys_result(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0)); /* EFAULT */
}

static int p_open_by_handle_at(void *a) {
  (void)a;
  return sys_result(syscall(SYS_open_by_handle_at, -1, NULL, 0));
}

static int p_name_to_handle_at(void *a) {
  (void)a;
  return sys_result(syscall(SYS_name_to_handle_at, AT_FDCWD, "/", NULL, NULL, 0));
}

static int p_kexec_load(void *a) {
  (void)a;
  /* invalid flags: EINVAL from the kernel, never an unload of a loaded kernel */
  return sys_result(syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xdead8000UL));
}

static int p_init_module(void *a) {
  (void)a;
  return sys_result(syscall(SYS_init_module, NULL, 0UL, ""));
}

static int p_reboot(void *a) {
  (void)a;
  return sys_result(syscall(SYS_reboot, 0, 0, 0, NULL)); /* bad magic: EINVAL */
}

static int p_settimeofday(void *a) {
  (void)a;
  struct timeval tv = {.tv_sec = 0, .tv_usec = 5000000}; /* invalid: EINVAL */
  return sys_result(syscall(SYS_settimeofday, &tv, NULL));
}

static int p_clock_settime(void *a) {
  (void)a;
  struct timespec ts = {.tv_sec = 0, .tv_nsec = 5000000000L}; /* invalid: EINVAL */
  return sys_result(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts));
}

static int p_swapon(void *a) {
  (void)a;
  return sys_result(syscall(SYS_swapon, "/nonexistent-sbx-swap", 0));
}

static int p_chroot(void *a) {
  (void)a;
  return sys_result(chroot("/nonexistent-sbx-chroot")); /* allowed: ENOENT */
}

static int p_ptrace(void *a) {
  (void)a;
  return sys_result(syscall(SYS_ptrace, 2 /* PTRACE_PEEKDATA */, 0x7fffffff, NULL, NULL));
}

static int p_socket(void *a) {
  unsigned long domain = *(unsigned long *)a;
  long fd = syscall(SYS_socket, domain, (unsigned long)SOCK_STREAM | SOCK_CLOEXEC, 0UL);
  if (fd >= 0) close((int)fd);
  return sys_result(fd);
}

static int p_socket_alg(void *a) {
  (void)a;
  int fd = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd >= 0) close(fd);
  return fd < 0 ? errno : 0;
}

static int p_socketpair_unix(void *a) {
  (void)a;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return errno;
  close(sv[0]);
  close(sv[1]);
  return 0;
}

static int p_socketpair_vsock(void *a) {
  (void)a;
  int sv[2];
  return sys_result(socketpair(AF_VSOCK, SOCK_STREAM, 0, sv));
}

/* ioctl on a fresh pseudo-terminal; the request is passed as a raw 64-bit register */
static int p_pty_ioctl(void *a) {
  unsigned long request = *(unsigned long *)a;
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return errno;
  int rc = 0;
  if (grantpt(m) < 0 || unlockpt(m) < 0) rc = errno;
  int s = rc ? -1 : open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (!rc && s < 0) rc = errno;
  if (!rc) {
    union {
      char c;
      struct winsize ws;
      unsigned int n;
    } buf = {.c = 'x'};
    rc = sys_result(syscall(SYS_ioctl, s, request, &buf));
  }
  if (s >= 0) close(s);
  close(m);
  return rc;
}

/* TIOCGPTN on the master, with the request sign-extended as an int argument does it */
static int p_pty_signext(void *a) {
  (void)a;
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return errno;
  unsigned int n;
  long request = (int)TIOCGPTN; /* 0x80045430 -> 0xffffffff80045430 */
  int rc = sys_result(syscall(SYS_ioctl, m, request, &n));
  close(m);
  return rc;
}

static int p_personality(void *a) {
  unsigned long persona = *(unsigned long *)a;
  return sys_result(syscall(SYS_personality, persona));
}

static int p_future_syscall(void *a) {
  (void)a;
  return sys_result(syscall(500));
}

#if defined(__x86_64__)
static int p_x32_getpid(void *a) {
  (void)a;
  return sys_result(syscall(0x40000000 | SYS_getpid));
}

/* getpid through the i386 entry point; returns 0 if it answered with our pid */
static int p_int80_getpid(void *a) {
  (void)a;
  long ret = 20; /* __NR_getpid on i386 */
  __asm__ volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
  return ret == getpid() ? 0 : ret < 0 ? (int)-ret : EINVAL;
}
#endif

/* ---- tests ------------------------------------------------------------------------------ */

static void test_ordinary_calls_work(void **state) {
  (void)state;
  assert_int_equal(under_filter(p_getpid, NULL), 0);
  assert_int_equal(under_filter(p_files, NULL), 0);
  assert_int_equal(under_filter(p_exec_true, NULL), 0);
}

static void test_fork_and_threads_work(void **state) {
  (void)state;
  assert_int_equal(under_filter(p_fork, NULL), 0);
  /* glibc tries clone3 first for threads and must fall back to clone */
  assert_int_equal(under_filter(p_thread, NULL), 0);
}

static void test_namespaces_refused(void **state) {
  (void)state;
  assert_int_equal(under_filter(p_unshare_user, NULL), EPERM);
  assert_int_equal(under_filter(p_setns, NULL), EPERM);
  unsigned long flags = CLONE_NEWNS;
  assert_int_equal(under_filter(p_clone_flags, &flags), EPERM);
  flags = CLONE_NEWUSER;
  assert_int_equal(under_filter(p_clone_flags, &flags), EPERM);
  flags = CLONE_NEWNET | CLONE_NEWPID;
  assert_int_equal(under_filter(p_clone_flags, &flags), EPERM);
  flags = 0; /* a plain clone, as fork does, is fine */
  assert_int_equal(under_filter(p_clone_flags, &flags), 0);
  assert_int_equal(under_filter(p_clone3, NULL), ENOSYS);
}

static void test_mounts_refused(void **state) {
  (void)state;
  /* without the filter: ENOENT/EINVAL from the kernel (we are root) */
  assert_int_equal(under_filter(p_mount, NULL), EPERM);
  assert_int_equal(under_filter(p_umount2, NULL), EPERM);
  assert_int_equal(under_filter(p_pivot_root, NULL), EPERM);
  assert_int_equal(under_filter(p_chroot, NULL), ENOENT); /* allowed */
}

static void test_kernel_interfaces_refused(void **state) {
  (void)state;
  assert_int_equal(under_filter(p_keyctl, NULL), EPERM);
  assert_int_equal(under_filter(p_add_key, NULL), EPERM);
  assert_int_equal(under_filter(p_bpf, NULL), EPERM);
  assert_int_equal(under_filter(p_userfaultfd, NULL), EPERM);
  assert_int_equal(under_filter(p_io_uring_setup, NULL), EPERM);
  assert_int_equal(under_filter(p_perf_event_open, NULL), EPERM);
  assert_int_equal(under_filter(p_open_by_handle_at, NULL), EPERM);
  assert_int_equal(under_filter(p_name_to_handle_at, NULL), EPERM);
  assert_int_equal(under_filter(p_kexec_load, NULL), EPERM);
  assert_int_equal(under_filter(p_init_module, NULL), EPERM);
  assert_int_equal(under_filter(p_reboot, NULL), EPERM);
  assert_int_equal(under_filter(p_settimeofday, NULL), EPERM);
  assert_int_equal(under_filter(p_clock_settime, NULL), EPERM);
  assert_int_equal(under_filter(p_swapon, NULL), EPERM);
}

static void test_kernel_answers_differently_without_filter(void **state) {
  (void)state;
  /* the probes above are only meaningful if the kernel alone would not say EPERM */
  if (!full_root()) skip();
  /* (kexec, modules and io_uring are left out: sysctls can switch them off for root) */
  static const probe_fn probes[] = {
      p_mount,  p_umount2,      p_pivot_root,    p_keyctl, p_bpf,
      p_reboot, p_settimeofday, p_clock_settime, p_swapon, p_perf_event_open,
      p_open_by_handle_at,
  };
  for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
    struct outcome o = run_probe(NO_FILTER, probes[i], NULL);
    assert_true(o.reported);
    assert_int_not_equal(o.result, EPERM);
  }
  assert_int_equal(run_probe(NO_FILTER, p_mount, NULL).result, ENOENT);
  assert_int_equal(run_probe(NO_FILTER, p_settimeofday, NULL).result, EINVAL);
}

static void test_ptrace_allowed(void **state) {
  (void)state;
  assert_int_equal(under_filter(p_ptrace, NULL), ESRCH);
}

static void test_socket_families(void **state) {
  (void)state;
  unsigned long domain = AF_INET;
  assert_int_equal(under_filter(p_socket, &domain), 0);
  domain = AF_UNIX;
  assert_int_equal(under_filter(p_socket, &domain), 0);
  domain = AF_INET6;
  int v6 = run_probe(NO_FILTER, p_socket, &domain).result;
  assert_int_equal(under_filter(p_socket, &domain), v6);
  assert_int_equal(under_filter(p_socket_alg, NULL), EPERM);
  domain = AF_VSOCK;
  assert_int_equal(under_filter(p_socket, &domain), EPERM);
  /* the kernel reads the domain as an int: junk in the upper half must not smuggle
   * AF_VSOCK or AF_ALG past the filter */
  domain = 0x100000000UL | AF_VSOCK;
  assert_int_equal(under_filter(p_socket, &domain), EPERM);
  domain = 0xdead00000000UL | AF_ALG;
  assert_int_equal(under_filter(p_socket, &domain), EPERM);
  /* the families around the refused ones stay reachable by the filter */
  domain = 39; /* AF_NFC: EAFNOSUPPORT or a socket, never EPERM */
  assert_int_not_equal(under_filter(p_socket, &domain), EPERM);
  domain = AF_NETLINK;
  assert_int_not_equal(under_filter(p_socket, &domain), EPERM);
  assert_int_equal(under_filter(p_socketpair_unix, NULL), 0);
  assert_int_equal(under_filter(p_socketpair_vsock, NULL), EPERM);
}

static void test_tty_ioctls(void **state) {
  (void)state;
  unsigned long req = TIOCGWINSZ;
  assert_int_equal(under_filter(p_pty_ioctl, &req), 0);
  req = FIONREAD; /* 0x541B, between the two refused requests */
  assert_int_equal(under_filter(p_pty_ioctl, &req), 0);
  assert_int_equal(under_filter(p_pty_signext, NULL), 0);

  req = TIOCSTI;
  if (full_root()) /* root may inject without the filter: the filter is what refuses */
    assert_int_equal(run_probe(NO_FILTER, p_pty_ioctl, &req).result, 0);
  assert_int_equal(under_filter(p_pty_ioctl, &req), EPERM);
  req = 0x100000000UL | TIOCSTI; /* the kernel drops the upper half */
  assert_int_equal(under_filter(p_pty_ioctl, &req), EPERM);
  req = 0xffffffff00000000UL | TIOCSTI;
  assert_int_equal(under_filter(p_pty_ioctl, &req), EPERM);
  req = TIOCLINUX;
  assert_int_equal(under_filter(p_pty_ioctl, &req), EPERM);
}

static void test_personality(void **state) {
  (void)state;
  unsigned long persona = 0xffffffffUL; /* query */
  assert_int_equal(under_filter(p_personality, &persona), 0);
  persona = (unsigned long)-1L; /* the same, sign-extended */
  assert_int_equal(under_filter(p_personality, &persona), 0);
  persona = PER_LINUX;
  assert_int_equal(under_filter(p_personality, &persona), 0);
  persona = PER_BSD;
  assert_int_equal(under_filter(p_personality, &persona), EPERM);
  persona = READ_IMPLIES_EXEC;
  assert_int_equal(under_filter(p_personality, &persona), EPERM);
  persona = ADDR_NO_RANDOMIZE;
  assert_int_equal(under_filter(p_personality, &persona), EPERM);
}

static void test_unknown_future_syscall_is_enosys(void **state) {
  (void)state;
#if defined(__x86_64__) || defined(__aarch64__)
  assert_int_equal(under_filter(p_future_syscall, NULL), ENOSYS);
#else
  skip();
#endif
}

static void test_foreign_abi_kills(void **state) {
  (void)state;
#if defined(__x86_64__)
  /* x32 numbers: without the filter the kernel answers (or says ENOSYS); with it, the
   * process dies of SIGSYS */
  struct outcome o = run_probe(APPLY_DEFAULT, p_x32_getpid, NULL);
  assert_false(o.reported);
  assert_true(WIFSIGNALED(o.status));
  assert_int_equal(WTERMSIG(o.status), SIGSYS);

  /* int 0x80, only where the kernel runs i386 code at all */
  o = run_probe(NO_FILTER, p_int80_getpid, NULL);
  if (!(o.reported && o.result == 0)) skip();
  o = run_probe(APPLY_DEFAULT, p_int80_getpid, NULL);
  assert_false(o.reported);
  assert_true(WIFSIGNALED(o.status));
  assert_int_equal(WTERMSIG(o.status), SIGSYS);
#else
  skip();
#endif
}

static void test_prebuilt_program(void **state) {
  (void)state;
  sbx_error_t err = {0};
  assert_int_equal(sbx_seccomp_build_default(&prebuilt, &err), 0);
  assert_true(sbx_seccomp_prog_len(prebuilt) > 100);

  struct outcome o = run_probe(PREBUILT, p_unshare_user, NULL);
  assert_true(o.reported);
  assert_int_equal(o.result, EPERM);
  o = run_probe(PREBUILT, p_thread, NULL);
  assert_true(o.reported);
  assert_int_equal(o.result, 0);
  unsigned long req = TIOCSTI;
  o = run_probe(PREBUILT, p_pty_ioctl, &req);
  assert_true(o.reported);
  assert_int_equal(o.result, EPERM);

  /* building again gives a program of the same size */
  struct sbx_seccomp_prog *again = NULL;
  assert_int_equal(sbx_seccomp_build_default(&again, &err), 0);
  assert_int_equal(sbx_seccomp_prog_len(again), sbx_seccomp_prog_len(prebuilt));
  sbx_seccomp_prog_free(again);
  sbx_seccomp_prog_free(prebuilt);
  prebuilt = NULL;
}

static int p_double_load(void *a) {
  (void)a;
  /* a second filter on top of the first (as when a sandboxed program adds its own) */
  sbx_error_t err = {0};
  if (sbx_seccomp_apply_default(&err) < 0) return err.errnum ? err.errnum : EINVAL;
  if (sbx_seccomp_apply_default(&err) < 0) return err.errnum ? err.errnum : EINVAL;
  return sys_result(unshare(CLONE_NEWUTS)) == EPERM ? 0 : EINVAL;
}

static void test_filters_stack(void **state) {
  (void)state;
  struct outcome o = run_probe(NO_FILTER, p_double_load, NULL);
  assert_true(o.reported);
  assert_int_equal(o.result, 0);
}

static void test_build_time(void **state) {
  (void)state;
  /* informational only: how long building and loading take (no threshold) */
  enum { N = 20 };
  double build_us[N];
  for (int i = 0; i < N; i++) {
    struct timespec a, b;
    struct sbx_seccomp_prog *p = NULL;
    sbx_error_t err = {0};
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(sbx_seccomp_build_default(&p, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    sbx_seccomp_prog_free(p);
    build_us[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
  }
  for (int i = 1; i < N; i++) /* insertion sort */
    for (int j = i; j > 0 && build_us[j - 1] > build_us[j]; j--) {
      double t = build_us[j];
      build_us[j] = build_us[j - 1];
      build_us[j - 1] = t;
    }
  print_message("sbx_seccomp_build_default: median %.0f us over %d runs\n",
                (build_us[N / 2 - 1] + build_us[N / 2]) / 2, N);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ordinary_calls_work),
      cmocka_unit_test(test_fork_and_threads_work),
      cmocka_unit_test(test_namespaces_refused),
      cmocka_unit_test(test_mounts_refused),
      cmocka_unit_test(test_kernel_interfaces_refused),
      cmocka_unit_test(test_kernel_answers_differently_without_filter),
      cmocka_unit_test(test_ptrace_allowed),
      cmocka_unit_test(test_socket_families),
      cmocka_unit_test(test_tty_ioctls),
      cmocka_unit_test(test_personality),
      cmocka_unit_test(test_unknown_future_syscall_is_enosys),
      cmocka_unit_test(test_foreign_abi_kills),
      cmocka_unit_test(test_prebuilt_program),
      cmocka_unit_test(test_filters_stack),
      cmocka_unit_test(test_build_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
