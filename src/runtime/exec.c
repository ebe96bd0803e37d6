/* exec.c: a process inside a running sandbox (the sequence is in exec.h).
 *
 * The helper and the process report over one SOCK_SEQPACKET pair: "pid N" from the helper,
 * then "pty" with the master or "err <message>" from the process; the end of the stream
 * (the process exec'd, its end is close-on-exec, or it exited) means done. */
#include "runtime/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/wire.h"
#include "runtime/caps.h"

extern char **environ;

static void fail(int sync, sbx_error_t *err) {
  char buf[sizeof err->msg + 8];
  int n = snprintf(buf, sizeof buf, "err %s", err->msg);
  send(sync, buf, (size_t)n, MSG_NOSIGNAL);
  _exit(125);
}

/* A new pty of the sandbox's devpts (its /dev/pts, reached without following any link
 * the sandbox could have planted, and checked to be a ptmx device). */
static int open_pty(int *slave, sbx_error_t *err) {
  struct open_how how = {.flags = O_RDWR | O_NOCTTY | O_CLOEXEC,
                         .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  int m = (int)syscall(SYS_openat2, AT_FDCWD, "/dev/pts/ptmx", &how, sizeof how);
  if (m < 0) return sbx_error_sys(err, "open the sandbox's /dev/pts/ptmx");
  struct stat st;
  if (fstat(m, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2) {
    close(m);
    return sbx_error_set(err, EPERM, "the sandbox's /dev/pts/ptmx is not a pty multiplexer");
  }
  if (unlockpt(m) < 0 || (*slave = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY)) < 0) {
    close(m);
    return sbx_error_sys(err, "open pty");
  }
  return m;
}

/* After the ids are switched (permitted kept by PR_SET_KEEPCAPS): the bounding set
 * becomes the sandbox's set, and the process keeps it as root, nothing otherwise. */
static int finish_caps(uint64_t caps, uid_t uid, sbx_error_t *err) {
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
  if (syscall(SYS_capget, &hdr, d) < 0) return sbx_error_sys(err, "capget");
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) d[i].effective = d[i].permitted;
  if (syscall(SYS_capset, &hdr, d) < 0) return sbx_error_sys(err, "capset");
  if (sbx_caps_apply(caps, err) < 0) return -1;
  if (uid != 0) {
    memset(d, 0, sizeof d);
    if (syscall(SYS_capset, &hdr, d) < 0) return sbx_error_sys(err, "capset");
  }
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  return 0;
}

static void process_main(const struct sbx_exec_config *c, int sync) {
  sbx_error_t e = {0}, *err = &e;
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
    sbx_error_sys(err, "become root of the sandbox's user namespace");
    fail(sync, err);
  }
  int in[3] = {c->stdio[0], c->stdio[1], c->stdio[2]};
  if (c->tty) {
    int slave = -1;
    int m = open_pty(&slave, err);
    if (m >= 0 && c->rows && c->cols) {
      /* sized before the command runs: a program that asks at once gets the right answer */
      struct winsize ws = {.ws_row = c->rows, .ws_col = c->cols};
      ioctl(m, TIOCSWINSZ, &ws);
    }
    if (m < 0) fail(sync, err);
    if (sbx_send_with_fds(sync, "pty", 3, &m, 1) < 0) _exit(125);
    close(m);
    in[0] = in[1] = in[2] = slave;
  }
  if (setsid() < 0) {
    sbx_error_sys(err, "setsid");
    fail(sync, err);
  }
  int hi[4] = {in[0], in[1], in[2], sync};
  for (int i = 0; i < 4; i++)
    if ((hi[i] = fcntl(hi[i], F_DUPFD_CLOEXEC, 64)) < 0) {
      sbx_error_sys(err, "dup");
      fail(sync, err);
    }
  for (int i = 0; i < 3; i++)
    if (dup2(hi[i], i) < 0) {
      sbx_error_sys(err, "dup2");
      fail(sync, err);
    }
  sync = hi[3];
  if (dup3(sync, 3, O_CLOEXEC) < 0) _exit(125);
  sync = 3;
  syscall(SYS_close_range, 4, ~0U, 0);
  if (c->tty && ioctl(0, TIOCSCTTY, 0) < 0) {
    sbx_error_sys(err, "controlling tty");
    fail(sync, err);
  }
  struct rlimit core = {0, 0};
  setrlimit(RLIMIT_CORE, &core);
  /* as the sandbox's init does (--caps): what switching ids takes stays until then */
  uint64_t need = UINT64_C(1) << CAP_SETUID | UINT64_C(1) << CAP_SETGID | UINT64_C(1) << CAP_SETPCAP;
  if (sbx_caps_apply(c->caps | need, err) < 0) fail(sync, err);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    sbx_error_sys(err, "no_new_privs");
    fail(sync, err);
  }
  if ((c->seccomp ? sbx_seccomp_load(c->seccomp, err) : sbx_seccomp_apply_default(err)) < 0) fail(sync, err);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(c->ngroups, c->groups) < 0 ||
      setresgid(c->gid, c->gid, c->gid) < 0 || setresuid(c->uid, c->uid, c->uid) < 0) {
    sbx_error_sys(err, "set ids");
    fail(sync, err);
  }
  if (finish_caps(c->caps, c->uid, err) < 0) fail(sync, err);
  if (chdir(c->cwd && *c->cwd ? c->cwd : "/") < 0) {
    sbx_error_sys(err, "working directory %s", c->cwd);
    fail(sync, err);
  }
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  environ = (char **)c->envp;
  execvp(c->argv[0], c->argv);
  int saved = errno;
  dprintf(2, "sbx: %s: %s\n", c->argv[0], strerror(saved));
  _exit(saved == ENOENT ? 127 : 126);
}

int sbx_exec_start(const struct sbx_exec_config *c, struct sbx_exec *x, sbx_error_t *err) {
  x->pid = -1;
  x->pidfd = x->pty_master = -1;
  if (!c->argv || !c->argv[0]) return sbx_error_set(err, EINVAL, "exec: no command");
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return sbx_error_sys(err, "socketpair");
  _cleanup_fd_ int sync = sp[0];
  pid_t helper = fork();
  if (helper < 0) {
    close(sp[1]);
    return sbx_error_sys(err, "fork");
  }
  if (helper == 0) {
    sbx_error_t e = {0};
    close(sp[0]);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (c->cgroup && sbx_cgroup_add_pid(c->cgroup, getpid(), &e) < 0) fail(sp[1], &e);
    if (setns(c->target_pidfd, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                                   CLONE_NEWUTS | CLONE_NEWCGROUP) < 0) {
      sbx_error_sys(&e, "join the sandbox's namespaces");
      fail(sp[1], &e);
    }
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid == 0) process_main(c, sp[1]);
    if (pid < 0) {
      sbx_error_sys(&e, "fork into the sandbox");
      fail(sp[1], &e);
    }
    char msg[32];
    int n = snprintf(msg, sizeof msg, "pid %d", (int)pid);
    _exit(send(sp[1], msg, (size_t)n, MSG_NOSIGNAL) == n ? 0 : 1);
  }
  close(sp[1]);
  while (waitpid(helper, NULL, 0) < 0 && errno == EINTR) {
  }
  for (;;) {
    char msg[SBX_ERROR_MSG_MAX + 8];
    int fds[1];
    size_t nfds = 0;
    bool trunc;
    ssize_t n = sbx_recv_with_fds(sync, msg, sizeof msg - 1, fds, &nfds, 1, &trunc);
    if (n < 0) {
      sbx_error_sys(err, "exec");
      goto fail;
    }
    if (n == 0) break;
    msg[n] = '\0';
    int pid;
    if (sscanf(msg, "pid %d", &pid) == 1 && nfds == 0) {
      x->pid = pid;
      x->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
      if (x->pidfd < 0) {
        sbx_error_sys(err, "pidfd_open");
        goto fail;
      }
      continue;
    }
    if (strcmp(msg, "pty") == 0 && nfds == 1) {
      x->pty_master = fds[0];
      continue;
    }
    for (size_t i = 0; i < nfds; i++) close(fds[i]);
    sbx_error_set(err, 0, "%s", strncmp(msg, "err ", 4) == 0 ? msg + 4 : msg);
    goto fail;
  }
  if (x->pid <= 0) {
    sbx_error_set(err, EPROTO, "exec: the process did not start");
    goto fail;
  }
  return 0;
fail:
  if (x->pid > 0) {
    kill(x->pid, SIGKILL);
    while (waitpid(x->pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  if (x->pidfd >= 0) close(x->pidfd);
  if (x->pty_master >= 0) close(x->pty_master);
  x->pid = -1;
  x->pidfd = x->pty_master = -1;
  return -1;
}

void sbx_exec_decode_status(int wstatus, int *code, int *sig) {
  if (WIFSIGNALED(wstatus)) {
    *sig = WTERMSIG(wstatus);
    *code = 128 + *sig;
  } else {
    *sig = 0;
    *code = WEXITSTATUS(wstatus);
  }
}
