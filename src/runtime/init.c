/* init.c: sbx-init, pid 1 inside every sandbox.
 *
 * Static and libc-only, so it runs on any root file system; it is exec'd from a sealed
 * memfd, so /proc/1/exe never leads back to a host file. It has one job each:
 *   - start the main process: new session, controlling tty (with --tty), the user's ids
 *     (--uid/--gid, and --groups or no supplementary group), the working directory (created if missing
 *     and checked to be a real path inside the sandbox), then exec through PATH; when the
 *     exec fails it exits 127 (not found) or 126 (not runnable), as a shell does;
 *   - forward the signals it gets (SIGTERM from `sbx delete`, SIGINT from Ctrl-C ...) to
 *     the main process;
 *   - reap every orphan (Jupyter kernels die, zombies must not pile up);
 *   - when the main process ends, report "exit N" or "signal N" on fd 3 to the shim and
 *     exit, which makes the kernel kill whatever is left in the pid namespace.
 * It is non-dumpable, so nothing in the sandbox can ptrace it or open its /proc files. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define STATUS_FD 3

static void die(const char *what) {
  dprintf(2, "sbx-init: %s: %s\n", what, strerror(errno));
  _exit(125);
}

static void on_signal(int sig) { (void)sig; }

static void mkdir_p(const char *path) {
  char buf[4096];
  if (strlen(path) >= sizeof buf) return;
  strcpy(buf, path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(buf, 0755);
    *p = '/';
  }
  mkdir(buf, 0755);
}

#define MAX_GROUPS 64

/* "--groups 100,1000": the main process's supplementary groups (none without it). */
static int parse_groups(const char *s, gid_t *out) {
  int n = 0;
  while (*s && n < MAX_GROUPS) {
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s) break;
    out[n++] = (gid_t)v;
    s = *end == ',' ? end + 1 : end;
  }
  return n;
}

static gid_t groups[MAX_GROUPS];
static int ngroups;
static int have_caps;
static uint64_t caps;

/* --caps MASK: the sandbox's own set, when it may lack what switching ids takes. The shim
 * started us with MASK plus SETUID, SETGID and SETPCAP; once the ids are switched (with
 * PR_SET_KEEPCAPS, so permitted survives), the bounding set is cut to MASK and the main
 * process keeps MASK if it runs as root, nothing otherwise, as without --caps. */
static void caps_finish(uid_t uid) {
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &hdr, d) < 0) die("capget");
  d[0].effective = d[0].permitted;
  d[1].effective = d[1].permitted;
  if (syscall(SYS_capset, &hdr, d) < 0) die("capset");
  for (int c = 0; c < 64; c++)
    if (!(caps & ((uint64_t)1 << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) die("drop capability");
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  uint64_t keep = uid == 0 ? caps : 0;
  for (int i = 0; i < 2; i++) {
    d[i].permitted = d[i].effective = (uint32_t)(keep >> (32 * i));
    d[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &hdr, d) < 0) die("capset");
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

static void run_main(char **argv, uid_t uid, gid_t gid, const char *cwd, int tty, int errpipe) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  if (setsid() < 0) die("setsid");
  if (tty && ioctl(0, TIOCSCTTY, 0) < 0) die("controlling tty");
  if (chdir(cwd) < 0) {
    if (errno != ENOENT) die(cwd);
    mkdir_p(cwd);
    if (uid != 0 && chown(cwd, uid, gid) < 0) die(cwd);
    if (chdir(cwd) < 0) die(cwd);
  }
  if (have_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die("keepcaps");
  if (setgroups((size_t)ngroups, groups) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) die("set ids");
  if (have_caps) caps_finish(uid);
  /* The working directory must be a path inside this sandbox, never a leaked handle. */
  char here[4096];
  if (!getcwd(here, sizeof here) || here[0] != '/') {
    dprintf(2, "sbx-init: working directory %s is not inside the sandbox\n", cwd);
    _exit(125);
  }
  execvp(argv[0], argv);
  int e = errno;
  if (write(errpipe, &e, sizeof e) < 0) _exit(126);
  _exit(e == ENOENT ? 127 : 126);
}

int main(int argc, char **argv) {
  uid_t uid = 0;
  gid_t gid = 0;
  const char *cwd = "/";
  int tty = 0, i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else if (strcmp(argv[i], "--uid") == 0 && i + 1 < argc) {
      uid = (uid_t)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--gid") == 0 && i + 1 < argc) {
      gid = (gid_t)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--cwd") == 0 && i + 1 < argc) {
      cwd = argv[++i];
    } else if (strcmp(argv[i], "--groups") == 0 && i + 1 < argc) {
      ngroups = parse_groups(argv[++i], groups);
    } else if (strcmp(argv[i], "--caps") == 0 && i + 1 < argc) {
      have_caps = 1;
      caps = strtoull(argv[++i], NULL, 16);
    } else if (strcmp(argv[i], "--tty") == 0) {
      tty = 1;
    } else {
      dprintf(2, "sbx-init: unknown argument %s\n", argv[i]);
      return 125;
    }
  }
  if (i >= argc) {
    dprintf(2, "sbx-init: no command\n");
    return 125;
  }
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);

  /* Signals stay blocked and are taken with sigwaitinfo(); a handler is installed for each
   * anyway, because the kernel only delivers to a namespace's pid 1 the signals it handles. */
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  struct sigaction sa = {.sa_handler = on_signal};
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL);

  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0) die("pipe");
  pid_t main_pid = fork();
  if (main_pid < 0) die("fork");
  if (main_pid == 0) {
    close(ep[0]);
    run_main(argv + i, uid, gid, cwd, tty, ep[1]);
  }
  close(ep[1]);
  int exec_errno = 0;
  if (read(ep[0], &exec_errno, sizeof exec_errno) == (ssize_t)sizeof exec_errno)
    dprintf(2, "sbx: %s: %s\n", argv[i], strerror(exec_errno));
  close(ep[0]);

  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(main_pid, sig);
      continue;
    }
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
      if (p != main_pid) continue;
      char msg[32];
      int code;
      if (WIFSIGNALED(status)) {
        snprintf(msg, sizeof msg, "signal %d\n", WTERMSIG(status));
        code = 128 + WTERMSIG(status);
      } else {
        snprintf(msg, sizeof msg, "exit %d\n", WEXITSTATUS(status));
        code = WEXITSTATUS(status);
      }
      if (write(STATUS_FD, msg, strlen(msg)) < 0) return code;
      return code;
    }
  }
}
