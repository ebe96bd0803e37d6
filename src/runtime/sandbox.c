/* sandbox.c: the start sequence of one sandbox (the ordered list is in sandbox.h).
 *
 * The parent half runs in the shim as host root; the child half runs in the freshly cloned
 * process, first as an unmapped user, then as root of its own user namespace, and ends by
 * exec'ing sbx-init from a sealed memfd. The two halves talk over a SOCK_SEQPACKET pair:
 * parent -> child "go" (with the detached mount trees), child -> parent "pty" (with the pty
 * master) or "err <message>"; a successful exec closes the child's end (close-on-exec),
 * which the parent reads as success. */
#include "runtime/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/wire.h"
#include "runtime/caps.h"
#include "runtime/exec.h"
#include "runtime/idmap.h"
#include "runtime/mountfd.h"
#include "runtime/seccomp.h"

#define MAX_TREES (SBX_WIRE_MAX_FDS - 3) /* one message carries the trees and up to 3 stdio fds */

enum { TREE_IMAGE = 0, TREE_USR = 1, TREE_VOL0 = 2 };

/* ---- child side -------------------------------------------------------------------- */

static int proc_self_fd(char *buf, size_t n, int fd) {
  return snprintf(buf, n, "/proc/self/fd/%d", fd);
}

/* Files in /proc that Docker hides (bind /dev/null or an empty read-only tmpfs over them),
 * and those it makes read-only. */
static const char *const proc_masked[] = {
    "acpi", "asound", "interrupts", "kcore", "keys", "latency_stats", "timer_list",
    "timer_stats", "sched_debug", "scsi", "sysrq-trigger", "kallsyms", "kpagecount",
    "kpageflags", "kpagecgroup", "kmsg", "config.gz", NULL};
static const char *const proc_readonly[] = {"bus", "fs", "irq", "sys", NULL};
static const char *const sys_masked[] = {"firmware", "devices/virtual/powercap", "kernel/debug",
                                         "kernel/security", "fs/cgroup", NULL};
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty", NULL};

/* Hide `name` below dirfd: an empty read-only tmpfs over a directory, the sandbox's
 * /dev/null over a file. Missing entries are fine. */
static int mask_path(int dirfd, const char *name, int devnull_tree_src, sbx_error_t *err) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return 0;
  _cleanup_fd_ int target = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (target < 0) return 0;
  _cleanup_fd_ int m = -1;
  if (S_ISDIR(st.st_mode)) {
    static const char *const opts[] = {"size=0", "mode=0555", NULL};
    m = sbx_fs_new("tmpfs", opts, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
  } else if (!S_ISLNK(st.st_mode)) {
    m = sbx_tree_clone(devnull_tree_src, "", false, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, -1, err);
  } else {
    return 0;
  }
  if (m < 0 || sbx_mount_move(m, target, err) < 0) return sbx_error_prefix(err, "mask %s", name);
  return 0;
}

static int setup_proc(int rootfd, int devnull, sbx_error_t *err) {
  _cleanup_fd_ int target = sbx_mkdir_in_root(rootfd, "/proc", err);
  if (target < 0) return -1;
  _cleanup_fd_ int proc = sbx_fs_new("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
  if (proc < 0 || sbx_mount_move(proc, target, err) < 0) return sbx_error_prefix(err, "mount /proc");
  for (size_t i = 0; proc_masked[i]; i++)
    if (mask_path(proc, proc_masked[i], devnull, err) < 0) return sbx_error_prefix(err, "/proc");
  for (size_t i = 0; proc_readonly[i]; i++) {
    _cleanup_fd_ int p = openat(proc, proc_readonly[i], O_PATH | O_NOFOLLOW | O_CLOEXEC | O_DIRECTORY);
    if (p < 0) continue;
    if (sbx_remount_ro(p, true, err) < 0) return sbx_error_prefix(err, "read-only /proc/%s", proc_readonly[i]);
  }
  return 0;
}

static int setup_sys(int rootfd, int devnull, sbx_error_t *err) {
  _cleanup_fd_ int target = sbx_mkdir_in_root(rootfd, "/sys", err);
  if (target < 0) return -1;
  unsigned ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  _cleanup_fd_ int sys = sbx_fs_new("sysfs", NULL, ro, err);
  if (sys < 0) {
    /* sysfs needs the network namespace to be ours; if the kernel still refuses, an empty
     * read-only /sys is the safe answer. */
    static const char *const opts[] = {"size=0", "mode=0555", NULL};
    sys = sbx_fs_new("tmpfs", opts, ro, err);
    if (sys < 0) return sbx_error_prefix(err, "mount /sys");
  }
  if (sbx_mount_move(sys, target, err) < 0) return sbx_error_prefix(err, "mount /sys");
  for (size_t i = 0; sys_masked[i]; i++)
    if (mask_path(sys, sys_masked[i], devnull, err) < 0) return sbx_error_prefix(err, "/sys");
  return 0;
}

/* /dev: a small tmpfs with the harmless host device nodes bound in, a new devpts instance,
 * a bounded /dev/shm and an mqueue for the sandbox's own ipc namespace. Returns the devpts
 * mount fd in *pts (for opening the pty). */
static int setup_dev(int rootfd, int64_t shm_bytes, int *pts, sbx_error_t *err) {
  _cleanup_fd_ int target = sbx_mkdir_in_root(rootfd, "/dev", err);
  if (target < 0) return -1;
  static const char *const devopts[] = {"mode=0755", "size=65536", "nr_inodes=4096", NULL};
  _cleanup_fd_ int dev = sbx_fs_new("tmpfs", devopts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err);
  if (dev < 0) return sbx_error_prefix(err, "mount /dev");
  for (size_t i = 0; dev_nodes[i]; i++) {
    char host[64];
    snprintf(host, sizeof host, "/dev/%s", dev_nodes[i]);
    _cleanup_fd_ int node = openat(dev, dev_nodes[i], O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (node < 0) return sbx_error_sys(err, "create /dev/%s", dev_nodes[i]);
    _cleanup_fd_ int tree = sbx_tree_clone(AT_FDCWD, host, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, -1, err);
    if (tree < 0 || sbx_mount_move(tree, node, err) < 0) return sbx_error_prefix(err, "bind /dev/%s", dev_nodes[i]);
  }
  if (mkdirat(dev, "pts", 0755) < 0 || mkdirat(dev, "shm", 01777) < 0 || mkdirat(dev, "mqueue", 0755) < 0)
    return sbx_error_sys(err, "populate /dev");
  static const char *const ptsopts[] = {"newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL};
  _cleanup_fd_ int ptsfs = sbx_fs_new("devpts", ptsopts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err);
  if (ptsfs < 0) return sbx_error_prefix(err, "mount /dev/pts");
  _cleanup_fd_ int ptsdir = openat(dev, "pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (ptsdir < 0 || sbx_mount_move(ptsfs, ptsdir, err) < 0) return sbx_error_prefix(err, "mount /dev/pts");

  char size[64];
  snprintf(size, sizeof size, "size=%lld", (long long)shm_bytes);
  const char *shmopts[] = {"mode=01777", size, NULL};
  _cleanup_fd_ int shm = sbx_fs_new("tmpfs", shmopts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
  _cleanup_fd_ int shmdir = openat(dev, "shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (shm < 0 || shmdir < 0 || sbx_mount_move(shm, shmdir, err) < 0) return sbx_error_prefix(err, "mount /dev/shm");
  _cleanup_fd_ int mq = sbx_fs_new("mqueue", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
  _cleanup_fd_ int mqdir = openat(dev, "mqueue", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (mq < 0 || mqdir < 0 || sbx_mount_move(mq, mqdir, err) < 0) return sbx_error_prefix(err, "mount /dev/mqueue");

  static const char *const links[][2] = {{"/proc/self/fd", "fd"},      {"/proc/self/fd/0", "stdin"},
                                         {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                                         {"pts/ptmx", "ptmx"}};
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat(links[i][0], dev, links[i][1]) < 0) return sbx_error_sys(err, "/dev/%s", links[i][1]);

  /* the pts instance is reached through the attached /dev later; keep a handle on it */
  *pts = openat(dev, "pts", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*pts < 0) return sbx_error_sys(err, "open /dev/pts");
  if (sbx_mount_move(dev, target, err) < 0) return sbx_error_prefix(err, "attach /dev");
  return 0;
}

static int setup_tmp(int rootfd, int64_t tmp_bytes, sbx_error_t *err) {
  _cleanup_fd_ int target = sbx_mkdir_in_root(rootfd, "/tmp", err);
  if (target < 0) return -1;
  char size[64];
  snprintf(size, sizeof size, "size=%lld", (long long)tmp_bytes);
  const char *opts[] = {"mode=01777", size, NULL};
  _cleanup_fd_ int tmp = sbx_fs_new("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
  if (tmp < 0 || sbx_mount_move(tmp, target, err) < 0) return sbx_error_prefix(err, "mount /tmp");
  return 0;
}

static int loopback_up(sbx_error_t *err) {
  _cleanup_fd_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return sbx_error_sys(err, "socket");
  struct ifreq ifr = {0};
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) return sbx_error_sys(err, "get lo flags");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) return sbx_error_sys(err, "bring lo up");
  return 0;
}

static int set_rlimits(sbx_error_t *err) {
  struct rlimit core = {0, 0};
  if (setrlimit(RLIMIT_CORE, &core) < 0) return sbx_error_sys(err, "RLIMIT_CORE");
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max < 1048576 ? nofile.rlim_max : 1048576;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  return 0;
}

/* Move fd to exactly `want`, not close-on-exec. */
static int place_fd(int fd, int want, sbx_error_t *err) {
  if (fd == want) {
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0) return sbx_error_sys(err, "fd %d", want);
    return 0;
  }
  if (dup2(fd, want) < 0) return sbx_error_sys(err, "dup2 %d", want);
  return 0;
}

static void child_fail(int sync, const sbx_error_t *err) {
  char buf[sizeof err->msg + 8];
  int n = snprintf(buf, sizeof buf, "err %s", err->msg);
  send(sync, buf, (size_t)n, MSG_NOSIGNAL);
  _exit(125);
}

/* A message of the sync socket (SOCK_SEQPACKET), as a NUL-terminated string. */
static int recv_msg(int sock, char *buf, size_t bufsz, int *fds, size_t *nfds, size_t maxfds) {
  bool truncated;
  ssize_t n = sbx_recv_with_fds(sock, buf, bufsz - 1, fds, nfds, maxfds, &truncated);
  if (n < 0 || truncated) return -1;
  buf[n] = '\0';
  return (int)n;
}

static int send_msg(int sock, const char *text, const int *fds, size_t nfds) {
  return sbx_send_with_fds(sock, text, strlen(text), fds, nfds) < 0 ? -1 : 0;
}

struct child_fds {
  int sync, status_w, upper, work, lowerdir, rootdir;
};

/* Re-open the state directories inside the child's mount namespace. This runs before the
 * id maps apply, while the child still has the host root uid (and so owner access to the
 * root-only state directory) but no capability outside its new user namespace. */
static int reopen_state(const struct sbx_sandbox_config *c, struct child_fds *f, sbx_error_t *err) {
  _cleanup_fd_ int dir = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return sbx_error_sys(err, "open %s", c->state_dir);
  int *slots[] = {&f->upper, &f->work, &f->lowerdir, &f->rootdir};
  const char *names[] = {"upper", "work", "lower", "rootfs"};
  for (int i = 0; i < 4; i++) {
    *slots[i] = openat(dir, names[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*slots[i] < 0) return sbx_error_sys(err, "open %s/%s", c->state_dir, names[i]);
  }
  return 0;
}

/* The writable layer on a tmpfs of `bytes` mounted over <state>/upper in this mount
 * namespace only: upper and work move inside it, so writing past it answers ENOSPC and
 * nothing reaches the host's disk; its pages are charged to the sandbox's memory cgroup,
 * and it goes away with the namespace. Its "/" takes the image's mode, as the overlay's
 * root takes the upper layer's. */
static int bound_layer(int64_t bytes, int image, struct child_fds *f, sbx_error_t *err) {
  char size[48];
  snprintf(size, sizeof size, "size=%lld", (long long)bytes);
  const char *opts[] = {size, "mode=0700", NULL};
  _cleanup_fd_ int mnt = sbx_fs_new("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
  if (mnt < 0 || sbx_mount_move(mnt, f->upper, err) < 0) return -1;
  struct stat ist;
  if (fstat(image, &ist) < 0 || mkdirat(mnt, "upper", 0700) < 0 || mkdirat(mnt, "work", 0700) < 0 ||
      fchmodat(mnt, "upper", ist.st_mode & 07777, 0) < 0)
    return sbx_error_sys(err, "make upper and work");
  int up = openat(mnt, "upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int wo = openat(mnt, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (up < 0 || wo < 0) {
    if (up >= 0) close(up);
    return sbx_error_sys(err, "open upper and work");
  }
  close(f->upper);
  close(f->work);
  f->upper = up;
  f->work = wo;
  return 0;
}

#define GO_MAX (256 * 1024) /* the largest "go" message: "go" and a late configuration */

static void child_main(const struct sbx_sandbox_config *c, struct child_fds *f) {
  sbx_error_t e = {0}, *err = &e;
  int trees[MAX_TREES + 3];
  size_t ntrees = 0;
  if (reopen_state(c, f, err) < 0) child_fail(f->sync, err);
  char *msg = malloc(GO_MAX);
  if (!msg || recv_msg(f->sync, msg, GO_MAX, trees, &ntrees, MAX_TREES + 3) <= 0 || strncmp(msg, "go", 2) != 0)
    _exit(125);
  /* Prepared ahead of time (a warm pool), this process learns the rest of its configuration
   * only now: it follows "go\n", and the stdio descriptors follow the trees. */
  static struct sbx_sandbox_config late;
  if (msg[2] == '\n') {
    if (!c->configure_late || c->configure_late(msg + 3, &late, err) < 0) child_fail(f->sync, err);
    size_t nt = 2 + late.nvolumes;
    if (!late.tty) {
      if (ntrees != nt + 3) {
        sbx_error_set(err, EPROTO, "missing stdio descriptors");
        child_fail(f->sync, err);
      }
      for (int i = 0; i < 3; i++) late.stdio[i] = trees[nt + i];
    }
    late.init_fd = c->init_fd;
    late.seccomp = c->seccomp;
    late.state_dir = c->state_dir;
    c = &late;
  }
  if (ntrees < 2 + c->nvolumes) {
    sbx_error_set(err, EPROTO, "missing mount trees");
    child_fail(f->sync, err);
  }

  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 || setgroups(0, NULL) < 0) {
    sbx_error_sys(err, "become root of the user namespace");
    child_fail(f->sync, err);
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
    sbx_error_sys(err, "make mounts private");
    child_fail(f->sync, err);
  }

  /* The image tree, attached in our own mount namespace, is the overlay's lower layer. */
  if (sbx_mount_move(trees[TREE_IMAGE], f->lowerdir, err) < 0) {
    sbx_error_prefix(err, "attach image");
    child_fail(f->sync, err);
  }
  if (c->layer_bytes > 0 && bound_layer(c->layer_bytes, trees[TREE_IMAGE], f, err) < 0) {
    sbx_error_prefix(err, "writable layer");
    child_fail(f->sync, err);
  }
  char lower[64], upper[64], work[64];
  proc_self_fd(lower, sizeof lower, trees[TREE_IMAGE]);
  proc_self_fd(upper, sizeof upper, f->upper);
  proc_self_fd(work, sizeof work, f->work);
  char lo[80], up[80], wo[80];
  snprintf(lo, sizeof lo, "lowerdir=%s", lower);
  snprintf(up, sizeof up, "upperdir=%s", upper);
  snprintf(wo, sizeof wo, "workdir=%s", work);
  const char *ovl[] = {lo, up, wo, "userxattr", NULL};
  _cleanup_fd_ int root = sbx_fs_new("overlay", ovl, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
  if (root < 0 || sbx_mount_move(root, f->rootdir, err) < 0) {
    sbx_error_prefix(err, "root file system");
    child_fail(f->sync, err);
  }

  if (c->host_usr) {
    _cleanup_fd_ int usr = sbx_mkdir_in_root(root, "/usr", err);
    if (usr < 0 || sbx_mount_move(trees[TREE_USR], usr, err) < 0) {
      sbx_error_prefix(err, "mount /usr");
      child_fail(f->sync, err);
    }
  }

  _cleanup_fd_ int devnull = open("/dev/null", O_PATH | O_CLOEXEC);
  int pts = -1;
  if (devnull < 0) {
    sbx_error_sys(err, "open /dev/null");
    child_fail(f->sync, err);
  }
  if (setup_proc(root, devnull, err) < 0 || setup_sys(root, devnull, err) < 0 ||
      setup_dev(root, c->shm_bytes, &pts, err) < 0 || setup_tmp(root, c->tmp_bytes, err) < 0)
    child_fail(f->sync, err);

  for (size_t i = 0; i < c->nvolumes; i++) {
    const struct sbx_volume *v = &c->volumes[i];
    _cleanup_fd_ int target = v->is_dir ? sbx_mkdir_in_root(root, v->destination, err)
                                        : sbx_mkfile_in_root(root, v->destination, err);
    if (target < 0 || sbx_mount_move(trees[TREE_VOL0 + i], target, err) < 0) {
      sbx_error_prefix(err, "volume %s", v->destination);
      child_fail(f->sync, err);
    }
  }

  /* The pty is opened from the sandbox's own devpts, before we lose the handle. */
  int master = -1, slave = -1;
  if (c->tty) {
    master = openat(pts, "ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || unlockpt(master) < 0) {
      sbx_error_sys(err, "open pty");
      child_fail(f->sync, err);
    }
    slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0) {
      sbx_error_sys(err, "open pty peer");
      child_fail(f->sync, err);
    }
    if (send_msg(f->sync, "pty", &master, 1) < 0) _exit(125);
    close(master);
  }
  close(pts);

  /* Everything is mounted: a read-only root now keeps its submounts (/tmp, /dev, volumes)
   * writable, since only this one mount's attribute changes. */
  if (c->read_only_root) {
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(root, "", AT_EMPTY_PATH, &ro, sizeof ro) < 0) {
      sbx_error_sys(err, "read-only root file system");
      child_fail(f->sync, err);
    }
  }

  if (unshare(CLONE_NEWCGROUP) < 0) {
    sbx_error_sys(err, "cgroup namespace");
    child_fail(f->sync, err);
  }
  if (fchdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
    sbx_error_sys(err, "pivot_root");
    child_fail(f->sync, err);
  }
  if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0) {
    sbx_error_sys(err, "sethostname");
    child_fail(f->sync, err);
  }
  if (loopback_up(err) < 0 || set_rlimits(err) < 0) child_fail(f->sync, err);

  /* Standard streams, then fd 3 = status pipe, fd 4 = init memfd, fd 5 = sync (cloexec). */
  int s0 = c->tty ? slave : c->stdio[0], s1 = c->tty ? slave : c->stdio[1], s2 = c->tty ? slave : c->stdio[2];
  int hi[6] = {s0, s1, s2, f->status_w, c->init_fd, f->sync};
  for (int i = 0; i < 6; i++) {
    hi[i] = fcntl(hi[i], F_DUPFD_CLOEXEC, 64);
    if (hi[i] < 0) {
      sbx_error_sys(err, "dup");
      child_fail(f->sync, err);
    }
  }
  int sync = hi[5];
  for (int i = 0; i < 4; i++)
    if (place_fd(hi[i], i, err) < 0) child_fail(sync, err);
  if (dup3(hi[4], 4, O_CLOEXEC) < 0 || dup3(sync, 5, O_CLOEXEC) < 0) {
    sbx_error_sys(err, "dup");
    child_fail(sync, err);
  }
  sync = 5;
  if (syscall(SYS_close_range, 6, ~0U, 0) < 0) {
    sbx_error_sys(err, "close_range");
    child_fail(sync, err);
  }

  /* With a set of its own, sbx-init keeps what switching ids takes until it has switched
   * (its --caps); the default set has it anyway. */
  uint64_t need = UINT64_C(1) << CAP_SETUID | UINT64_C(1) << CAP_SETGID | UINT64_C(1) << CAP_SETPCAP;
  if (sbx_caps_apply(c->caps_set ? c->caps | need : sbx_caps_default_mask(), err) < 0) child_fail(sync, err);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    sbx_error_sys(err, "no_new_privs");
    child_fail(sync, err);
  }
  if ((c->seccomp ? sbx_seccomp_load(c->seccomp, err) : sbx_seccomp_apply_default(err)) < 0) child_fail(sync, err);

  char uid[32], gid[32];
  snprintf(uid, sizeof uid, "%u", (unsigned)c->uid);
  snprintf(gid, sizeof gid, "%u", (unsigned)c->gid);
  size_t argc = 0;
  while (c->argv[argc]) argc++;
  char **argv = calloc(argc + 14, sizeof *argv);
  char capsarg[32];
  snprintf(capsarg, sizeof capsarg, "%llx", (unsigned long long)c->caps);
  char *groups = calloc(c->ngroups + 1, 12);
  if (!argv || !groups) _exit(125);
  for (size_t i = 0, off = 0; i < c->ngroups; i++)
    off += (size_t)sprintf(groups + off, "%s%u", i ? "," : "", (unsigned)c->groups[i]);
  size_t k = 0;
  argv[k++] = "sbx-init";
  argv[k++] = "--uid";
  argv[k++] = uid;
  argv[k++] = "--gid";
  argv[k++] = gid;
  argv[k++] = "--cwd";
  argv[k++] = (char *)(c->cwd ? c->cwd : "/");
  if (c->tty) argv[k++] = "--tty";
  if (c->caps_set) {
    argv[k++] = "--caps";
    argv[k++] = capsarg;
  }
  if (c->ngroups > 0) {
    argv[k++] = "--groups";
    argv[k++] = groups;
  }
  argv[k++] = "--";
  for (size_t i = 0; i < argc; i++) argv[k++] = c->argv[i];
  argv[k] = NULL;
  syscall(SYS_execveat, 4, "", argv, c->envp, AT_EMPTY_PATH);
  sbx_error_sys(err, "exec sbx-init");
  child_fail(sync, err);
}

/* ---- parent side ------------------------------------------------------------------- */

/* Join mode: a short-lived helper joins the pod holder's user, net, ipc and uts namespaces
 * (one setns on its pidfd; the user namespace is entered first, so what it creates next is
 * owned by the pod's), then clones the sandbox's pid 1 with new mount and pid namespaces.
 * CLONE_PARENT makes that child ours, as in the ordinary path, and the helper exits after
 * passing its pid up a pipe. */
static pid_t join_clone(const struct sbx_sandbox_config *c, struct child_fds *f, int sp0, int st0,
                        sbx_error_t *err) {
  int pp[2];
  if (pipe2(pp, O_CLOEXEC) < 0) return sbx_error_sys(err, "pipe");
  pid_t helper = fork();
  if (helper < 0) {
    close(pp[0]);
    close(pp[1]);
    return sbx_error_sys(err, "fork");
  }
  if (helper == 0) {
    close(pp[0]);
    close(sp0);
    close(st0);
    int r[2] = {-1, 0};
    if (setns(c->join_pidfd, CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0) {
      r[1] = errno;
    } else {
      pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWPID | CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
      if (pid == 0) {
        close(pp[1]);
        child_main(c, f);
        _exit(125);
      }
      r[0] = pid;
      r[1] = pid < 0 ? errno : 0;
    }
    _exit(write(pp[1], r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
  }
  close(pp[1]);
  int r[2] = {-1, EPROTO};
  ssize_t n;
  do n = read(pp[0], r, sizeof r);
  while (n < 0 && errno == EINTR);
  close(pp[0]);
  while (waitpid(helper, NULL, 0) < 0 && errno == EINTR) {
  }
  if (n != (ssize_t)sizeof r || r[0] <= 0) {
    errno = r[1] ? r[1] : EPROTO;
    return sbx_error_sys(err, "join the pod's namespaces");
  }
  return r[0];
}

/* A directory of the sandbox's state (the state directory itself is root-only, so these
 * modes matter only inside: the upper layer's root is the sandbox's "/"). */
static int open_state_dir(int state, const char *name, uid_t owner, mode_t mode, sbx_error_t *err) {
  if (mkdirat(state, name, 0700) < 0 && errno != EEXIST) return sbx_error_sys(err, "create %s", name);
  int fd = openat(state, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return sbx_error_sys(err, "open %s", name);
  if ((owner != (uid_t)-1 && fchown(fd, owner, owner) < 0) || fchmod(fd, mode) < 0) {
    close(fd);
    return sbx_error_sys(err, "set up %s", name);
  }
  return fd;
}

/* Clone one tree idmapped through userns; if the file system cannot idmap, fall back to a
 * plain clone (files then show as nobody inside). */
/* the group a user's volume files show inside: the pod's fsGroup, else the process's */
static gid_t volume_gid(const struct sbx_sandbox_config *c) { return c->volume_gid_set ? c->volume_gid : c->gid; }

static int clone_tree(int dirfd, bool recursive, unsigned attrs, int userns, sbx_error_t *err) {
  int t = sbx_tree_clone(dirfd, "", recursive, attrs, userns, err);
  if (t >= 0 || userns < 0) return t;
  if (err->errnum != EINVAL && err->errnum != EOPNOTSUPP && err->errnum != EPERM) return -1;
  return sbx_tree_clone(dirfd, "", recursive, attrs, -1, err);
}

int sbx_sandbox_prepare(const struct sbx_sandbox_config *c, struct sbx_sandbox *sb, sbx_error_t *err) {
  sb->pid = -1;
  sb->pidfd = sb->status_fd = sb->pty_master = sb->sync_fd = -1;
  sb->cgroup = NULL;

  uid_t hroot = c->host_id_base;
  struct child_fds f = {-1, -1, -1, -1, -1, -1};
  _cleanup_fd_ int upper = open_state_dir(c->state_dirfd, "upper", hroot, 0755, err);
  _cleanup_fd_ int work = upper < 0 ? -1 : open_state_dir(c->state_dirfd, "work", hroot, 0700, err);
  _cleanup_fd_ int lowerdir = work < 0 ? -1 : open_state_dir(c->state_dirfd, "lower", (uid_t)-1, 0700, err);
  _cleanup_fd_ int rootdir = lowerdir < 0 ? -1 : open_state_dir(c->state_dirfd, "rootfs", (uid_t)-1, 0700, err);
  if (rootdir < 0) return sbx_error_prefix(err, "state directory");

  int sp[2], st[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return sbx_error_sys(err, "socketpair");
  if (setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &(int){GO_MAX + 4096}, sizeof(int)) < 0 || pipe2(st, O_CLOEXEC) < 0) {
    close(sp[0]);
    close(sp[1]);
    return sbx_error_sys(err, "pipe");
  }
  f = (struct child_fds){sp[1], st[1], -1, -1, -1, -1};

  pid_t pid;
  if (c->join) {
    pid = join_clone(c, &f, sp[0], st[0], err);
    if (pid < 0) {
      close(sp[0]);
      close(sp[1]);
      close(st[0]);
      close(st[1]);
      return -1;
    }
    goto cloned;
  }
  int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid < 0) {
    close(sp[0]);
    close(sp[1]);
    close(st[0]);
    close(st[1]);
    if (errno == EPERM)
      return sbx_error_sys(err, "clone the sandbox's namespaces (the kernel refuses new user namespaces to a "
                                "process in a chroot, and when user.max_user_namespaces is 0: run sbxd outside "
                                "any chroot)");
    return sbx_error_sys(err, "clone the sandbox's namespaces");
  }
  if (pid == 0) {
    close(sp[0]);
    close(st[0]);
    child_main(c, &f);
    _exit(125);
  }
cloned:
  close(sp[1]);
  close(st[1]);
  sb->pid = pid;
  sb->sync_fd = sp[0];
  sb->status_fd = st[0];

  /* The id map, then the cgroup: joining a cgroup is the slow step on cgroup v1 (the kernel
   * waits for an RCU grace period), which is why a warm pool does this half ahead. */
  struct sbx_idmap_line ids = {0, c->host_id_base, c->id_count};
  if (!c->join && sbx_idmap_write(pid, &ids, 1, &ids, 1, err) < 0) goto fail;
  if (sbx_cgroup_create_in_group("/proc/self/mountinfo", "/sys/fs/cgroup", c->cgroup_parent, c->group_limits, c->id,
                                 &c->limits, &sb->cgroup, err) < 0 ||
      sbx_cgroup_add_pid(sb->cgroup, pid, err) < 0) {
    sbx_error_prefix(err, "cgroup");
    goto fail;
  }
  return 0;
fail:
  sbx_sandbox_abort(sb);
  return -1;
}

int sbx_sandbox_move_cgroup(const struct sbx_sandbox_config *c, struct sbx_sandbox *sb, sbx_error_t *err) {
  struct sbx_cgroup *cg;
  sbx_error_t ignored;
  if (sbx_cgroup_create_in_group("/proc/self/mountinfo", "/sys/fs/cgroup", c->cgroup_parent, c->group_limits, c->id,
                                 &c->limits, &cg, err) < 0)
    return -1;
  if (sbx_cgroup_add_pid(cg, sb->pid, err) < 0) {
    sbx_cgroup_destroy(cg, &ignored);
    sbx_cgroup_free(cg);
    return -1;
  }
  if (sb->cgroup) {
    sbx_cgroup_destroy(sb->cgroup, &ignored); /* empty now */
    sbx_cgroup_free(sb->cgroup);
  }
  sb->cgroup = cg;
  return 0;
}

void sbx_sandbox_abort(struct sbx_sandbox *sb) {
  sbx_error_t ignored;
  if (sb->pid > 0) {
    kill(sb->pid, SIGKILL);
    while (waitpid(sb->pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  if (sb->cgroup) {
    sbx_cgroup_destroy(sb->cgroup, &ignored);
    sbx_cgroup_free(sb->cgroup);
    sb->cgroup = NULL;
  }
  int *fds[] = {&sb->pty_master, &sb->sync_fd, &sb->status_fd, &sb->pidfd};
  for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
    if (*fds[i] >= 0) {
      close(*fds[i]);
      *fds[i] = -1;
    }
  sb->pid = -1;
}

int sbx_sandbox_launch(const struct sbx_sandbox_config *c, struct sbx_sandbox *sb, const char *late_config,
                       sbx_error_t *err) {
  if (c->nvolumes + TREE_VOL0 > MAX_TREES) return sbx_error_set(err, E2BIG, "too many volumes");
  pid_t pid = sb->pid;
  int trees[MAX_TREES + 3];
  size_t ntrees = 0;
  _cleanup_fd_ int userns = -1;
  _cleanup_fd_ int volns = -1;
  _cleanup_fd_ int usr = -1;
  _cleanup_free_ char *go = NULL;
  char path[64];
  struct stat ist;

  if (sbx_cgroup_set_limits(sb->cgroup, &c->limits, err) < 0) {
    sbx_error_prefix(err, "cgroup");
    goto fail;
  }
  /* the overlay's root takes its mode from the upper layer's root: give it the image's */
  if (fstat(c->image_fd, &ist) < 0 || fchmodat(c->state_dirfd, "upper", ist.st_mode & 07777, 0) < 0) {
    sbx_error_sys(err, "image");
    goto fail;
  }
  snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
  userns = open(path, O_RDONLY | O_CLOEXEC);
  if (userns < 0) {
    sbx_error_sys(err, "open %s", path);
    goto fail;
  }
  if (c->image_owner_map || c->nvolumes > 0) {
    /* A user's files show up as owned by the sandbox user (root for an image). */
    struct sbx_idmap_line u = {c->owner_uid, c->host_id_base + (c->image_owner_map ? 0 : c->uid), 1};
    struct sbx_idmap_line g = {c->owner_gid, c->host_id_base + (c->image_owner_map ? 0 : volume_gid(c)), 1};
    volns = sbx_userns_make(&u, 1, &g, 1, err);
    if (volns < 0) goto fail;
  }
  trees[ntrees] = clone_tree(c->image_fd, false, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID,
                             c->image_owner_map ? volns : userns, err);
  if (trees[ntrees] < 0) {
    sbx_error_prefix(err, "image");
    goto fail;
  }
  ntrees++;
  if (c->host_usr) {
    usr = open("/usr", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (usr < 0) {
      sbx_error_sys(err, "open /usr");
      goto fail;
    }
    trees[ntrees] = clone_tree(usr, true, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, -1, err);
  } else {
    trees[ntrees] = open("/", O_PATH | O_CLOEXEC); /* placeholder, unused */
  }
  if (trees[ntrees] < 0) {
    sbx_error_prefix(err, "/usr");
    goto fail;
  }
  ntrees++;
  if (c->nvolumes > 0 && c->image_owner_map && (c->uid != 0 || volume_gid(c) != 0)) {
    /* volumes map the owner to the sandbox user, which differs from the image's mapping */
    close(volns);
    struct sbx_idmap_line u = {c->owner_uid, c->host_id_base + c->uid, 1};
    struct sbx_idmap_line g = {c->owner_gid, c->host_id_base + volume_gid(c), 1};
    volns = sbx_userns_make(&u, 1, &g, 1, err);
    if (volns < 0) goto fail;
  }
  for (size_t i = 0; i < c->nvolumes; i++) {
    unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (c->volumes[i].read_only ? MOUNT_ATTR_RDONLY : 0);
    trees[ntrees] = clone_tree(c->volumes[i].src_fd, true, attrs, c->volumes[i].no_idmap ? -1 : volns, err);
    if (trees[ntrees] < 0) {
      sbx_error_prefix(err, "volume %s", c->volumes[i].destination);
      goto fail;
    }
    ntrees++;
  }
  size_t nclose = ntrees;
  if (late_config && !c->tty)
    for (int i = 0; i < 3; i++) trees[ntrees++] = c->stdio[i]; /* not ours to close */
  go = malloc(strlen(late_config ? late_config : "") + 4);
  if (!go) {
    sbx_error_set(err, ENOMEM, "start sandbox");
    goto fail;
  }
  sprintf(go, late_config ? "go\n%s" : "go", late_config ? late_config : "");
  if (send_msg(sb->sync_fd, go, trees, ntrees) < 0) {
    sbx_error_sys(err, "start sandbox");
    ntrees = nclose;
    goto fail;
  }
  for (size_t i = 0; i < nclose; i++) close(trees[i]);
  ntrees = 0;

  /* Wait for the child: an optional pty master, then an error or end of stream (exec). */
  for (;;) {
    char msg[SBX_ERROR_MSG_MAX + 8];
    int fds[1];
    size_t nfds = 0;
    int n = recv_msg(sb->sync_fd, msg, sizeof msg, fds, &nfds, 1);
    if (n < 0) {
      sbx_error_sys(err, "start sandbox");
      goto fail;
    }
    if (n == 0) break;
    if (strcmp(msg, "pty") == 0 && nfds == 1) {
      sb->pty_master = fds[0];
      continue;
    }
    for (size_t i = 0; i < nfds; i++) close(fds[i]);
    sbx_error_set(err, 0, "%s", strncmp(msg, "err ", 4) == 0 ? msg + 4 : msg);
    goto fail;
  }
  sb->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (sb->pidfd < 0) {
    sbx_error_sys(err, "pidfd_open");
    goto fail;
  }
  close(sb->sync_fd);
  sb->sync_fd = -1;
  return 0;

fail:
  for (size_t i = 0; i < ntrees; i++) close(trees[i]);
  sbx_sandbox_abort(sb);
  return -1;
}

int sbx_sandbox_start(const struct sbx_sandbox_config *c, struct sbx_sandbox *sb, sbx_error_t *err) {
  if (sbx_sandbox_prepare(c, sb, err) < 0) return -1;
  return sbx_sandbox_launch(c, sb, NULL, err);
}

int sbx_sandbox_read_status(struct sbx_sandbox *sb, int *exit_code, int *signal) {
  char buf[64];
  ssize_t n;
  do n = read(sb->status_fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return -1;
  buf[n] = '\0';
  int v;
  if (sscanf(buf, "exit %d", &v) == 1) {
    *exit_code = v;
    *signal = 0;
    return 0;
  }
  if (sscanf(buf, "signal %d", &v) == 1) {
    *exit_code = 128 + v;
    *signal = v;
    return 0;
  }
  return -1;
}

int sbx_sandbox_destroy(struct sbx_sandbox *sb, sbx_error_t *err) {
  int r = 0;
  if (sb->cgroup) {
    if (sbx_cgroup_kill_all(sb->cgroup, err) < 0) r = -1;
    if (sbx_cgroup_destroy(sb->cgroup, err) < 0) r = -1;
    sbx_cgroup_free(sb->cgroup);
    sb->cgroup = NULL;
  }
  if (sb->pidfd >= 0) close(sb->pidfd);
  if (sb->status_fd >= 0) close(sb->status_fd);
  if (sb->pty_master >= 0) close(sb->pty_master);
  if (sb->sync_fd >= 0) close(sb->sync_fd);
  sb->pidfd = sb->status_fd = sb->pty_master = sb->sync_fd = -1;
  return r;
}

void sbx_sandbox_end_status(struct sbx_sandbox *sb, int init_wstatus, int *exit_code, int *signal) {
  if (sbx_sandbox_read_status(sb, exit_code, signal) < 0) sbx_exec_decode_status(init_wstatus, exit_code, signal);
}
