/* caps.c: cutting a sandboxed process down to a small capability set (see caps.h).
 *
 * Design. Raw syscalls only (capget/capset, prctl), no libcap: the work is four steps and
 * must run in a freshly cloned child. The order matters: the bounding set is cut first
 * (PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set, which the last step may take
 * away), then the ambient set is cleared, then one capset() sets permitted = effective =
 * keep and inheritable = 0. The bounding set is what root keeps across execve, so after
 * this an exec'd program running as uid 0 gets exactly `keep` back and nothing more; a
 * non-root program gets nothing, since ambient and inheritable are empty. Securebits are
 * left alone on purpose: root inside the sandbox must keep its bounded set across exec.
 *
 * The last capability is the running kernel's (/proc/sys/kernel/cap_last_cap, or probed
 * with PR_CAPBSET_READ where /proc is not mounted yet), not the one in the headers we were
 * built with, so capabilities newer than the headers are dropped too. Bits in `keep` above
 * the kernel's last capability name nothing the kernel has and are ignored. */
#include "runtime/caps.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/cleanup.h"

#define CAP_BIT(c) (UINT64_C(1) << (c))

/* Names without the CAP_ prefix, indexed by number, as in <linux/capability.h>. */
static const char *const cap_names[CAP_LAST_CAP + 1] = {
    [CAP_CHOWN] = "CHOWN",
    [CAP_DAC_OVERRIDE] = "DAC_OVERRIDE",
    [CAP_DAC_READ_SEARCH] = "DAC_READ_SEARCH",
    [CAP_FOWNER] = "FOWNER",
    [CAP_FSETID] = "FSETID",
    [CAP_KILL] = "KILL",
    [CAP_SETGID] = "SETGID",
    [CAP_SETUID] = "SETUID",
    [CAP_SETPCAP] = "SETPCAP",
    [CAP_LINUX_IMMUTABLE] = "LINUX_IMMUTABLE",
    [CAP_NET_BIND_SERVICE] = "NET_BIND_SERVICE",
    [CAP_NET_BROADCAST] = "NET_BROADCAST",
    [CAP_NET_ADMIN] = "NET_ADMIN",
    [CAP_NET_RAW] = "NET_RAW",
    [CAP_IPC_LOCK] = "IPC_LOCK",
    [CAP_IPC_OWNER] = "IPC_OWNER",
    [CAP_SYS_MODULE] = "SYS_MODULE",
    [CAP_SYS_RAWIO] = "SYS_RAWIO",
    [CAP_SYS_CHROOT] = "SYS_CHROOT",
    [CAP_SYS_PTRACE] = "SYS_PTRACE",
    [CAP_SYS_PACCT] = "SYS_PACCT",
    [CAP_SYS_ADMIN] = "SYS_ADMIN",
    [CAP_SYS_BOOT] = "SYS_BOOT",
    [CAP_SYS_NICE] = "SYS_NICE",
    [CAP_SYS_RESOURCE] = "SYS_RESOURCE",
    [CAP_SYS_TIME] = "SYS_TIME",
    [CAP_SYS_TTY_CONFIG] = "SYS_TTY_CONFIG",
    [CAP_MKNOD] = "MKNOD",
    [CAP_LEASE] = "LEASE",
    [CAP_AUDIT_WRITE] = "AUDIT_WRITE",
    [CAP_AUDIT_CONTROL] = "AUDIT_CONTROL",
    [CAP_SETFCAP] = "SETFCAP",
    [CAP_MAC_OVERRIDE] = "MAC_OVERRIDE",
    [CAP_MAC_ADMIN] = "MAC_ADMIN",
    [CAP_SYSLOG] = "SYSLOG",
    [CAP_WAKE_ALARM] = "WAKE_ALARM",
    [CAP_BLOCK_SUSPEND] = "BLOCK_SUSPEND",
    [CAP_AUDIT_READ] = "AUDIT_READ",
#ifdef CAP_PERFMON
    [CAP_PERFMON] = "PERFMON",
#endif
#ifdef CAP_BPF
    [CAP_BPF] = "BPF",
#endif
#ifdef CAP_CHECKPOINT_RESTORE
    [CAP_CHECKPOINT_RESTORE] = "CHECKPOINT_RESTORE",
#endif
};

uint64_t sbx_caps_default_mask(void) {
  return CAP_BIT(CAP_CHOWN) | CAP_BIT(CAP_DAC_OVERRIDE) | CAP_BIT(CAP_FOWNER) |
         CAP_BIT(CAP_FSETID) | CAP_BIT(CAP_KILL) | CAP_BIT(CAP_NET_BIND_SERVICE) |
         CAP_BIT(CAP_SETFCAP) | CAP_BIT(CAP_SETGID) | CAP_BIT(CAP_SETPCAP) |
         CAP_BIT(CAP_SETUID) | CAP_BIT(CAP_SYS_CHROOT);
}

int sbx_caps_from_name(const char *name) {
  if (!name) return -1;
  if (strncasecmp(name, "CAP_", 4) == 0) name += 4;
  if (!*name) return -1;
  for (int c = 0; c <= CAP_LAST_CAP; c++)
    if (cap_names[c] && strcasecmp(cap_names[c], name) == 0) return c;
  return -1;
}

const char *sbx_caps_name(int c) {
  return c >= 0 && c <= CAP_LAST_CAP && cap_names[c] ? cap_names[c] : "newer than sbx";
}

/* The running kernel's highest capability number. */
static int kernel_last_cap(void) {
  _cleanup_fd_ int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n > 0) {
      buf[n] = '\0';
      char *end;
      long v = strtol(buf, &end, 10);
      if (end != buf && (*end == '\n' || *end == '\0') && v >= 0 && v < 64) return (int)v;
    }
  }
  /* No /proc (yet): the bounding set answers EINVAL past the last capability. */
  int c = 0;
  while (c < 63 && prctl(PR_CAPBSET_READ, (unsigned long)c + 1, 0, 0, 0) >= 0) c++;
  return c;
}

int sbx_caps_apply(uint64_t keep, sbx_error_t *err) {
  int last = kernel_last_cap();
  uint64_t known = last >= 63 ? UINT64_MAX : CAP_BIT(last + 1) - 1;
  keep &= known;

  /* 1. the bounding set: what any later execve can ever give back */
  for (int c = 0; c <= last; c++) {
    if (keep & CAP_BIT(c)) continue;
    int in = prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0);
    if (in < 0) {
      if (errno == EINVAL) break; /* past the kernel's last capability after all */
      return sbx_error_sys(err, "caps: read capability %d (%s) in the bounding set", c,
                           sbx_caps_name(c));
    }
    if (in && prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0)
      return sbx_error_sys(err,
                           "caps: drop capability %d (%s) from the bounding set "
                           "(needs CAP_SETPCAP)",
                           c, sbx_caps_name(c));
  }

  /* 2. the ambient set (EINVAL: a kernel older than 4.3 has none) */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return sbx_error_sys(err, "caps: clear the ambient set");

  /* 3. permitted = effective = keep, inheritable = 0 */
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &hdr, data) < 0) return sbx_error_sys(err, "caps: capget");
  uint64_t permitted = (uint64_t)data[0].permitted | (uint64_t)data[1].permitted << 32;
  uint64_t missing = keep & ~permitted;
  if (missing) {
    int c = __builtin_ctzll(missing);
    return sbx_error_set(err, EPERM,
                         "caps: cannot keep capability %d (%s): the process does not hold it",
                         c, sbx_caps_name(c));
  }
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
    data[i].permitted = data[i].effective = (uint32_t)(keep >> (32 * i));
    data[i].inheritable = 0;
  }
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  if (syscall(SYS_capset, &hdr, data) < 0) return sbx_error_sys(err, "caps: capset");
  return 0;
}

void sbx_die_with_parent(int parent_end) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) _exit(125);
  struct pollfd p = {.fd = parent_end, .events = POLLRDHUP};
  if (poll(&p, 1, 0) < 0 || (p.revents & (POLLHUP | POLLRDHUP | POLLERR))) _exit(0);
}
