/* test_caps.c: the capability set of a sandboxed process.
 *
 * The name table and the default mask are checked directly. sbx_caps_apply runs in a
 * forked child (it is irrevocable), which first gives itself a new UTS namespace (so a
 * sethostname that wrongly succeeds changes nothing on the machine) and an ambient
 * capability (so "ambient cleared" means something), then applies the mask, reads its own
 * /proc/self/status and tries a few privileged calls; it reports through a pipe and the
 * parent asserts. These need root (with CAP_SYS_ADMIN) and are skipped otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "runtime/caps.h"

#define BIT(c) (UINT64_C(1) << (c))

/* ---- names and the default mask ------------------------------------------------------- */

static void test_default_mask(void **state) {
  (void)state;
  uint64_t want = BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FOWNER) | BIT(CAP_FSETID) |
                  BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_SETFCAP) |
                  BIT(CAP_SETGID) | BIT(CAP_SETPCAP) | BIT(CAP_SETUID) | BIT(CAP_SYS_CHROOT);
  assert_int_equal(sbx_caps_default_mask(), want);
  assert_int_equal(__builtin_popcountll(sbx_caps_default_mask()), 11);
  assert_false(sbx_caps_default_mask() & BIT(CAP_SYS_ADMIN));
  assert_false(sbx_caps_default_mask() & BIT(CAP_NET_RAW));
}

static void test_from_name(void **state) {
  (void)state;
  assert_int_equal(sbx_caps_from_name("CHOWN"), CAP_CHOWN);
  assert_int_equal(sbx_caps_from_name("CAP_CHOWN"), CAP_CHOWN);
  assert_int_equal(sbx_caps_from_name("cap_chown"), CAP_CHOWN);
  assert_int_equal(sbx_caps_from_name("Cap_Sys_Admin"), CAP_SYS_ADMIN);
  assert_int_equal(sbx_caps_from_name("NET_RAW"), CAP_NET_RAW);
  assert_int_equal(sbx_caps_from_name("net_raw"), CAP_NET_RAW);
  assert_int_equal(sbx_caps_from_name("CAP_NET_BIND_SERVICE"), CAP_NET_BIND_SERVICE);
  assert_int_equal(sbx_caps_from_name("sys_chroot"), CAP_SYS_CHROOT);
  assert_int_equal(sbx_caps_from_name("AUDIT_READ"), CAP_AUDIT_READ);
#ifdef CAP_CHECKPOINT_RESTORE
  assert_int_equal(sbx_caps_from_name("CAP_CHECKPOINT_RESTORE"), CAP_CHECKPOINT_RESTORE);
  assert_int_equal(sbx_caps_from_name("bpf"), CAP_BPF);
  assert_int_equal(sbx_caps_from_name("PERFMON"), CAP_PERFMON);
#endif

  assert_int_equal(sbx_caps_from_name(NULL), -1);
  assert_int_equal(sbx_caps_from_name(""), -1);
  assert_int_equal(sbx_caps_from_name("CAP_"), -1);
  assert_int_equal(sbx_caps_from_name("cap_"), -1);
  assert_int_equal(sbx_caps_from_name("CAP_CAP_CHOWN"), -1);
  assert_int_equal(sbx_caps_from_name("CHOWN "), -1);
  assert_int_equal(sbx_caps_from_name("SYS"), -1);
  assert_int_equal(sbx_caps_from_name("ALL"), -1);
  assert_int_equal(sbx_caps_from_name("NET_RAWX"), -1);
}

static void test_every_header_cap_has_a_name(void **state) {
  (void)state;
  /* the numbers are contiguous from 0 to CAP_LAST_CAP: each one is reachable by name */
  static const char *const all[] = {
      "CHOWN",         "DAC_OVERRIDE",   "DAC_READ_SEARCH", "FOWNER",        "FSETID",
      "KILL",          "SETGID",         "SETUID",          "SETPCAP",       "LINUX_IMMUTABLE",
      "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",     "NET_RAW",       "IPC_LOCK",
      "IPC_OWNER",     "SYS_MODULE",     "SYS_RAWIO",       "SYS_CHROOT",    "SYS_PTRACE",
      "SYS_PACCT",     "SYS_ADMIN",      "SYS_BOOT",        "SYS_NICE",      "SYS_RESOURCE",
      "SYS_TIME",      "SYS_TTY_CONFIG", "MKNOD",           "LEASE",         "AUDIT_WRITE",
      "AUDIT_CONTROL", "SETFCAP",        "MAC_OVERRIDE",    "MAC_ADMIN",     "SYSLOG",
      "WAKE_ALARM",    "BLOCK_SUSPEND",  "AUDIT_READ",      "PERFMON",       "BPF",
      "CHECKPOINT_RESTORE",
  };
  int n = (int)(sizeof all / sizeof *all);
  for (int c = 0; c <= CAP_LAST_CAP && c < n; c++) assert_int_equal(sbx_caps_from_name(all[c]), c);
  assert_true(CAP_LAST_CAP < n); /* a newer header: extend the list above and caps.c */
}

/* ---- applying, in a child ------------------------------------------------------------- */

struct caps_state {
  uint64_t inh, prm, eff, bnd, amb;
};

static bool parse_status(const char *text, struct caps_state *s) {
  static const struct {
    const char *key;
    size_t off;
  } keys[] = {
      {"\nCapInh:", offsetof(struct caps_state, inh)},
      {"\nCapPrm:", offsetof(struct caps_state, prm)},
      {"\nCapEff:", offsetof(struct caps_state, eff)},
      {"\nCapBnd:", offsetof(struct caps_state, bnd)},
      {"\nCapAmb:", offsetof(struct caps_state, amb)},
  };
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    const char *p = strstr(text, keys[i].key);
    if (!p) return false;
    char *end;
    unsigned long long v = strtoull(p + strlen(keys[i].key), &end, 16);
    if (end == p + strlen(keys[i].key)) return false;
    *(uint64_t *)((char *)s + keys[i].off) = v;
  }
  return true;
}

static bool read_own_caps(struct caps_state *s) {
  char buf[8192];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf + 1, sizeof buf - 2);
  close(fd);
  if (n <= 0) return false;
  buf[0] = '\n';
  buf[n + 1] = '\0';
  return parse_status(buf, s);
}

/* The child needs root with the default set plus what it checks is lost. */
static bool can_run_as_root(void) {
  struct caps_state self;
  uint64_t need = sbx_caps_default_mask() | BIT(CAP_SYS_ADMIN) | BIT(CAP_NET_RAW) |
                  BIT(CAP_MKNOD);
  return geteuid() == 0 && read_own_caps(&self) && (self.eff & need) == need &&
         (self.bnd & need) == need;
}

/* What the child saw, sent back whole through the pipe. */
struct report {
  int step;                 /* 0 when everything ran; otherwise where it stopped */
  int err;                  /* errno at that step */
  char msg[SBX_ERROR_MSG_MAX]; /* sbx_caps_apply's message when it failed */
  struct caps_state before; /* after the ambient raise, before sbx_caps_apply */
  struct caps_state after;
  int sethostname_before, sethostname_after; /* 0 or errno */
  int chown_after, mknod_after;              /* 0 or errno */
  struct caps_state exec_root;               /* what a program exec'd as root then holds */
};

static int raise_ambient(int cap) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &hdr, d) < 0) return -1;
  d[cap / 32].inheritable |= 1u << (cap % 32);
  if (syscall(SYS_capset, &hdr, d) < 0) return -1;
  return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
}

/* Run `cat /proc/self/status` and parse what the exec'd program holds. */
static int exec_and_read_caps(struct caps_state *s) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return errno;
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    dup2(p[1], 1);
    char *argv[] = {"cat", "/proc/self/status", NULL};
    char *envp[] = {NULL};
    execve("/bin/cat", argv, envp);
    _exit(127);
  }
  close(p[1]);
  char buf[8192];
  size_t len = 1;
  buf[0] = '\n';
  ssize_t n;
  while (len < sizeof buf - 1 && (n = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)n;
  buf[len] = '\0';
  close(p[0]);
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return ENOEXEC;
  return parse_status(buf, s) ? 0 : EINVAL;
}

static void child_apply(uint64_t keep, uint64_t then_keep, struct report *r) {
  char path[] = "/tmp/sbx-caps-XXXXXX";
  int fd;
  sbx_error_t err = {0};

#define STEP(n, cond)                                                                      \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      r->step = (n);                                                                       \
      r->err = errno;                                                                      \
      return;                                                                              \
    }                                                                                      \
  } while (0)

  STEP(1, unshare(CLONE_NEWUTS) == 0);
  r->sethostname_before = sethostname("sbx-caps-a", 10) == 0 ? 0 : errno;
  STEP(2, raise_ambient(CAP_NET_RAW) == 0);
  STEP(3, read_own_caps(&r->before));
  fd = mkstemp(path);
  STEP(4, fd >= 0);
  close(fd);

  if (sbx_caps_apply(keep, &err) < 0) {
    unlink(path);
    memcpy(r->msg, err.msg, sizeof r->msg);
    r->step = 5;
    r->err = err.errnum;
    return;
  }
  if (then_keep && sbx_caps_apply(then_keep, &err) < 0) {
    unlink(path);
    memcpy(r->msg, err.msg, sizeof r->msg);
    r->step = 6;
    r->err = err.errnum;
    return;
  }
  STEP(7, read_own_caps(&r->after));
  r->sethostname_after = sethostname("sbx-caps-b", 10) == 0 ? 0 : errno;
  r->chown_after = chown(path, 1234, 1234) == 0 ? 0 : errno;
  char dev[sizeof path + 4];
  snprintf(dev, sizeof dev, "%s.dev", path);
  r->mknod_after = mknod(dev, S_IFCHR | 0600, makedev(1, 3)) == 0 ? 0 : errno;
  unlink(dev);
  unlink(path);
  r->err = exec_and_read_caps(&r->exec_root);
  STEP(8, r->err == 0);
#undef STEP
}

static struct report run_child(uint64_t keep, uint64_t then_keep) {
  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    struct report r;
    memset(&r, 0, sizeof r);
    child_apply(keep, then_keep, &r);
    _exit(write(p[1], &r, sizeof r) == sizeof r ? 0 : 1);
  }
  close(p[1]);
  struct report r;
  memset(&r, 0, sizeof r);
  ssize_t n = read(p[0], &r, sizeof r);
  close(p[0]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_int_equal(n, (ssize_t)sizeof r);
  return r;
}

static void test_apply_default(void **state) {
  (void)state;
  if (!can_run_as_root()) skip();
  uint64_t mask = sbx_caps_default_mask();
  struct report r = run_child(mask, 0);
  if (r.step) fail_msg("child stopped at step %d: %s (%s)", r.step, strerror(r.err), r.msg);

  /* the starting point really had more: the test's own bounding set (all caps, or what
   * the machine left us), and an ambient one */
  struct caps_state self;
  assert_true(read_own_caps(&self));
  assert_int_equal(r.before.bnd, self.bnd);
  assert_true((r.before.bnd & mask) == mask && r.before.bnd != mask);
  assert_true(r.before.bnd & BIT(CAP_SYS_ADMIN));
  assert_int_equal(r.before.amb, BIT(CAP_NET_RAW));
  assert_int_equal(r.sethostname_before, 0);

  assert_int_equal(r.after.bnd, mask);
  assert_int_equal(r.after.prm, mask);
  assert_int_equal(r.after.eff, mask);
  assert_int_equal(r.after.inh, 0);
  assert_int_equal(r.after.amb, 0);

  assert_int_equal(r.sethostname_after, EPERM); /* CAP_SYS_ADMIN is gone */
  assert_int_equal(r.mknod_after, EPERM);       /* CAP_MKNOD is gone */
  assert_int_equal(r.chown_after, 0);           /* CAP_CHOWN stays */

  /* root keeps exactly the bounded set across execve, and nothing is inherited */
  assert_int_equal(r.exec_root.eff, mask);
  assert_int_equal(r.exec_root.prm, mask);
  assert_int_equal(r.exec_root.bnd, mask);
  assert_int_equal(r.exec_root.inh, 0);
  assert_int_equal(r.exec_root.amb, 0);
}

static void test_apply_smaller_then_wider_fails(void **state) {
  (void)state;
  if (!can_run_as_root()) skip();
  /* after keeping only CHOWN and SETPCAP, asking for the default set must fail: the
   * process no longer holds the rest, and nothing can give it back */
  uint64_t small = BIT(CAP_CHOWN) | BIT(CAP_SETPCAP);
  struct report r = run_child(small, sbx_caps_default_mask());
  assert_int_equal(r.step, 6);
  assert_int_equal(r.err, EPERM);
  assert_non_null(strstr(r.msg, "cannot keep"));
}

static void test_apply_twice_narrower(void **state) {
  (void)state;
  if (!can_run_as_root()) skip();
  /* narrowing again works as long as CAP_SETPCAP survived the first call */
  uint64_t mask = sbx_caps_default_mask();
  uint64_t narrower = BIT(CAP_CHOWN) | BIT(CAP_SETPCAP);
  struct report r = run_child(mask, narrower);
  if (r.step) fail_msg("child stopped at step %d: %s (%s)", r.step, strerror(r.err), r.msg);
  assert_int_equal(r.after.bnd, narrower);
  assert_int_equal(r.after.eff, narrower);
  assert_int_equal(r.chown_after, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_mask),
      cmocka_unit_test(test_from_name),
      cmocka_unit_test(test_every_header_cap_has_a_name),
      cmocka_unit_test(test_apply_default),
      cmocka_unit_test(test_apply_smaller_then_wider_fails),
      cmocka_unit_test(test_apply_twice_narrower),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
