/* cgroupv2_check.c: the cgroup v2 backend against a real kernel, inside a throw-away VM.
 *
 * The build machine is hybrid (its v1 controllers hold cpu, memory and pids), so the v2
 * code cannot be tried on it. tests/vm/run-cgroupv2.sh boots a small VM whose only
 * hierarchy is cgroup v2 (tests/vm/vm.sh) and runs this program there as
 * root, with CGROUP_ROOT naming the cgroup2 mount. It makes the same checks as
 * tests/unit/test_cgroup_host.c does on v1: limits read back from the kernel's files,
 * controllers passed on through cgroup.subtree_control, a child moved in, kill_all (the
 * child and a grandchild), a real OOM kill counted, what a busy child uses (sbx top's
 * readers: CPU time, memory now and at its peak, processes), destroy leaving no directory.
 *
 * Static and libc-only (the VM has no libc): it links the cgroup sources and error.c
 * directly, and prints one PASS/FAIL line per check instead of using cmocka. Exit status:
 * 0 when every check passed, 1 otherwise. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "runtime/cgroup_internal.h"

#define MOUNTINFO "/proc/self/mountinfo"

static int failures;
static const char *root;
static char parent[64];

static bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool check(bool ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s ", ok ? "PASS" : "FAIL");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
  if (!ok) failures++;
  return ok;
}

static bool ok_or_report(int r, const sbx_error_t *err, const char *what) {
  if (r < 0) return check(false, "%s: %s", what, err->msg);
  return check(true, "%s", what);
}

static const char *read_text(const char *dir, const char *file) {
  static char buf[4096];
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(buf, sizeof buf, "<cannot open %s: %s>", path, strerror(errno));
    return buf;
  }
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  return buf;
}

static void check_file(const char *dir, const char *file, const char *want) {
  const char *got = read_text(dir, file);
  check(strcmp(got, want) == 0, "%s/%s = \"%s\" (want \"%s\")", dir, file, got, want);
}

static bool dir_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static pid_t spawn(int gate[2], void (*body)(void)) {
  if (pipe(gate) < 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(gate[1]);
    char c;
    if (read(gate[0], &c, 1) != 1) _exit(100);
    body();
    _exit(0);
  }
  close(gate[0]);
  return pid;
}

static void release(int gate[2]) {
  if (write(gate[1], "x", 1) != 1) perror("release");
  close(gate[1]);
}

static void body_sleep(void) {
  for (;;) pause();
}

static void body_fork_and_sleep(void) {
  if (fork() < 0) _exit(101);
  for (;;) pause();
}

static void body_touch_256m(void) {
  size_t size = 256u << 20;
  volatile char *p = malloc(size);
  if (!p) _exit(102);
  for (size_t i = 0; i < size; i += 4096) p[i] = 1;
  _exit(0);
}

static bool wait_pids(struct sbx_cgroup *cg, uint64_t want) {
  sbx_error_t err = {0};
  uint64_t n = 0;
  for (int i = 0; i < 10000; i++) {
    if (sbx_cgroup_pids_current(cg, &n, &err) < 0) return check(false, "%s", err.msg);
    if (n == want) return true;
    usleep(1000);
  }
  return check(false, "cgroup holds %llu processes, want %llu", (unsigned long long)n,
               (unsigned long long)want);
}

static void reap_all(void) {
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static void check_killed(pid_t pid, const char *what) {
  int status = 0;
  pid_t r = waitpid(pid, &status, 0);
  check(r == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
        "%s ended by SIGKILL (status 0x%x)", what, status);
}

static void destroy_and_check_gone(struct sbx_cgroup *cg, const char *what) {
  sbx_error_t err = {0};
  char path[512];
  snprintf(path, sizeof path, "%s", cg->dirs[0].path);
  ok_or_report(sbx_cgroup_destroy(cg, &err), &err, what);
  check(!dir_exists(path), "%s removed", path);
  sbx_cgroup_free(cg);
}

static void test_limits_and_kill(void) {
  sbx_error_t err = {0};
  struct sbx_cgroup_limits lim = {.cpu_request_millis = 500, .cpu_limit_millis = 1500,
                                  .memory_limit_bytes = 64 << 20, .pids_limit = 64};
  struct sbx_cgroup *cg = NULL, *dup = NULL, *reopened = NULL;
  if (!ok_or_report(sbx_cgroup_create(MOUNTINFO, root, parent, "limits", &lim, &cg, &err), &err,
                    "create limits"))
    return;
  const char *dir = cg->dirs[0].path;
  check_file(dir, "cpu.weight", "20");
  check_file(dir, "cpu.max", "150000 100000");
  check_file(dir, "memory.max", "67108864");
  if (cg_file_exists(cg->dirs[0].fd, "memory.swap.max")) /* only with swap accounting */
    check_file(dir, "memory.swap.max", "0");
  check_file(dir, "pids.max", "64");
  char pdir[512];
  snprintf(pdir, sizeof pdir, "%s/%s", root, parent);
  check_file(pdir, "cgroup.subtree_control", "cpu memory pids");

  check(sbx_cgroup_create(MOUNTINFO, root, parent, "limits", &lim, &dup, &err) < 0 &&
            err.errnum == EEXIST,
        "second create refused with EEXIST");
  if (!ok_or_report(sbx_cgroup_open(MOUNTINFO, root, parent, "limits", &reopened, &err), &err,
                    "open existing"))
    return;

  int gate[2];
  pid_t child = spawn(gate, body_fork_and_sleep);
  ok_or_report(sbx_cgroup_add_pid(cg, child, &err), &err, "add child");
  release(gate);
  wait_pids(reopened, 2);
  char proc[64], want[128];
  snprintf(proc, sizeof proc, "/proc/%d", (int)child);
  snprintf(want, sizeof want, "0::/%s/limits", parent);
  const char *in = read_text(proc, "cgroup");
  check(strcmp(in, want) == 0, "child's /proc/PID/cgroup = \"%s\" (want \"%s\")", in, want);
  uint64_t bytes = 0;
  ok_or_report(sbx_cgroup_memory_current(reopened, &bytes, &err), &err, "memory.current read");
  check(bytes > 0, "memory.current = %llu > 0", (unsigned long long)bytes);

  ok_or_report(sbx_cgroup_kill_all(reopened, &err), &err, "kill_all (child + grandchild)");
  check_killed(child, "child");
  reap_all();
  uint64_t n = 99;
  ok_or_report(sbx_cgroup_pids_current(cg, &n, &err), &err, "pids.current read");
  check(n == 0, "pids.current = %llu after kill_all", (unsigned long long)n);
  sbx_cgroup_free(reopened);
  destroy_and_check_gone(cg, "destroy limits");
}

static void test_kill_sleeping(void) {
  sbx_error_t err = {0};
  struct sbx_cgroup_limits lim = {.pids_limit = 16};
  struct sbx_cgroup *cg = NULL;
  if (!ok_or_report(sbx_cgroup_create(MOUNTINFO, root, parent, "sleeper", &lim, &cg, &err), &err,
                    "create sleeper"))
    return;
  check_file(cg->dirs[0].path, "cpu.weight", "100");
  check_file(cg->dirs[0].path, "cpu.max", "max 100000");
  check_file(cg->dirs[0].path, "memory.max", "max");
  int gate[2];
  pid_t child = spawn(gate, body_sleep);
  ok_or_report(sbx_cgroup_add_pid(cg, child, &err), &err, "add sleeping child");
  release(gate);
  wait_pids(cg, 1);
  ok_or_report(sbx_cgroup_kill_all(cg, &err), &err, "kill_all (sleeping child)");
  check_killed(child, "sleeping child");
  destroy_and_check_gone(cg, "destroy sleeper");
}

/* The loop kernels before 5.14 need (no cgroup.kill), on a child and its grandchild. */
static void test_kill_without_kill_file(void) {
  sbx_error_t err = {0};
  struct sbx_cgroup_limits lim = {.pids_limit = 16};
  struct sbx_cgroup *cg = NULL;
  if (!ok_or_report(sbx_cgroup_create(MOUNTINFO, root, parent, "loop", &lim, &cg, &err), &err,
                    "create loop"))
    return;
  int gate[2];
  pid_t child = spawn(gate, body_fork_and_sleep);
  ok_or_report(sbx_cgroup_add_pid(cg, child, &err), &err, "add forking child");
  release(gate);
  wait_pids(cg, 2);
  struct cg_test_hooks pretend_old = {.v2_no_kill_file = true};
  cg_set_test_hooks(&pretend_old);
  ok_or_report(sbx_cgroup_kill_all(cg, &err), &err, "kill_all without cgroup.kill");
  cg_set_test_hooks(NULL);
  check_killed(child, "child (kill loop)");
  reap_all();
  destroy_and_check_gone(cg, "destroy loop");
}

static void test_oom(void) {
  sbx_error_t err = {0};
  struct sbx_cgroup_limits lim = {.memory_limit_bytes = 32 << 20, .pids_limit = 16};
  struct sbx_cgroup *cg = NULL;
  if (!ok_or_report(sbx_cgroup_create(MOUNTINFO, root, parent, "oom", &lim, &cg, &err), &err,
                    "create oom"))
    return;
  uint64_t kills = 99;
  ok_or_report(sbx_cgroup_oom_kills(cg, &kills, &err), &err, "oom_kill read");
  check(kills == 0, "oom_kill = %llu before", (unsigned long long)kills);
  int gate[2];
  pid_t child = spawn(gate, body_touch_256m);
  ok_or_report(sbx_cgroup_add_pid(cg, child, &err), &err, "add allocating child");
  release(gate);
  check_killed(child, "child touching 256MiB under a 32MiB limit");
  ok_or_report(sbx_cgroup_oom_kills(cg, &kills, &err), &err, "oom_kill read");
  check(kills >= 1, "oom_kill = %llu after", (unsigned long long)kills);
  destroy_and_check_gone(cg, "destroy oom");
}

/* Touch 16 MiB, burn 200 ms of CPU time (by its own clock), say so on fd 3, then wait. */
static int usage_done[2];
static void body_busy(void) {
  size_t size = 16u << 20;
  volatile char *p = malloc(size);
  if (!p) _exit(102);
  for (size_t i = 0; i < size; i += 4096) p[i] = 1;
  struct timespec t;
  do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  while (t.tv_sec == 0 && t.tv_nsec < 200000000L);
  if (write(usage_done[1], "d", 1) != 1) _exit(103);
  for (;;) pause();
}

static void test_usage(void) {
  sbx_error_t err = {0};
  struct sbx_cgroup_limits lim = {.pids_limit = 16};
  struct sbx_cgroup *cg = NULL;
  if (!ok_or_report(sbx_cgroup_create(MOUNTINFO, root, parent, "usage", &lim, &cg, &err), &err, "create usage"))
    return;
  struct sbx_cgroup_usage u;
  ok_or_report(sbx_cgroup_usage(cg, &u, &err), &err, "usage of an empty cgroup");
  check(u.cpu_usec == 0 && u.pids == 0, "empty cgroup: cpu %llu us, %llu pids", (unsigned long long)u.cpu_usec,
        (unsigned long long)u.pids);
  if (pipe(usage_done) < 0) return;
  int gate[2];
  pid_t child = spawn(gate, body_busy);
  ok_or_report(sbx_cgroup_add_pid(cg, child, &err), &err, "add busy child");
  release(gate);
  char c;
  check(read(usage_done[0], &c, 1) == 1, "busy child burned its CPU time");
  close(usage_done[0]);
  close(usage_done[1]);
  if (ok_or_report(sbx_cgroup_usage(cg, &u, &err), &err, "usage of a busy cgroup")) {
    /* the child burned 200 ms by its own clock; the cgroup's count is flushed lazily and
     * the time before the child joined is not the cgroup's: ask for most of it, not all */
    check(u.cpu_usec >= 150000, "cpu.stat usage_usec = %llu >= 150000", (unsigned long long)u.cpu_usec);
    check(u.memory_bytes >= (16u << 20), "memory.current = %llu >= 16 MiB", (unsigned long long)u.memory_bytes);
    check(u.memory_peak_bytes >= u.memory_bytes, "memory.peak = %llu >= memory.current",
          (unsigned long long)u.memory_peak_bytes);
    check(u.pids == 1, "pids.current = %llu (want 1)", (unsigned long long)u.pids);
  }
  ok_or_report(sbx_cgroup_kill_all(cg, &err), &err, "kill busy child");
  check_killed(child, "busy child");
  destroy_and_check_gone(cg, "destroy usage");
}

/* A person's group on a real v2 tree: controllers passed down through it, its bounds
 * applied to the sandboxes in it together, and it goes with its last sandbox. */
static void test_person_group(void) {
  sbx_error_t err = {0};
  char group[128], gdir[512];
  snprintf(group, sizeof group, "%s/user-1001", parent);
  snprintf(gdir, sizeof gdir, "%s/%s", root, group);
  struct sbx_cgroup_limits person = {.memory_limit_bytes = 64 << 20, .pids_limit = 3};
  struct sbx_cgroup_limits lim = {.pids_limit = 16};
  struct sbx_cgroup *a = NULL, *b = NULL;
  if (!ok_or_report(sbx_cgroup_create_in_group(MOUNTINFO, root, group, &person, "a", &lim, &a, &err), &err,
                    "create a in the group") ||
      !ok_or_report(sbx_cgroup_create_in_group(MOUNTINFO, root, group, &person, "b", &lim, &b, &err), &err,
                    "create b in the group"))
    return;
  check_file(gdir, "cpu.weight", "100");
  check_file(gdir, "memory.max", "67108864");
  check_file(gdir, "pids.max", "3");
  /* two sandboxes of 16 pids each, one person's 3: the fourth process cannot be forked */
  int g1[2], g2[2];
  pid_t c1 = spawn(g1, body_fork_and_sleep), c2 = spawn(g2, body_fork_and_sleep);
  ok_or_report(sbx_cgroup_add_pid(a, c1, &err), &err, "add to a");
  ok_or_report(sbx_cgroup_add_pid(b, c2, &err), &err, "add to b");
  release(g1);
  wait_pids(a, 2);
  release(g2);
  int status = 0;
  pid_t r = waitpid(c2, &status, 0);
  check(r == c2 && WIFEXITED(status) && WEXITSTATUS(status) == 101,
        "b's fork beyond the person's 3 pids failed (status 0x%x)", status);
  sbx_cgroup_group_release(MOUNTINFO, root, group);
  check(dir_exists(gdir), "the group stays while it holds sandboxes");
  ok_or_report(sbx_cgroup_kill_all(a, &err), &err, "kill a");
  check_killed(c1, "a's child");
  reap_all();
  destroy_and_check_gone(a, "destroy a");
  destroy_and_check_gone(b, "destroy b");
  sbx_cgroup_group_release(MOUNTINFO, root, group);
  check(!dir_exists(gdir), "the group is removed with its last sandbox");
}

int main(void) {
  root = getenv("CGROUP_ROOT");
  if (!root || !*root) root = "/sys/fs/cgroup";
  snprintf(parent, sizeof parent, "sbx-test-%d", (int)getpid());
  setvbuf(stdout, NULL, _IOLBF, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  sbx_error_t err = {0};
  enum sbx_cgroup_mode mode = 0;
  if (!ok_or_report(sbx_cgroup_detect(MOUNTINFO, root, &mode, &err), &err, "detect"))
    return 1;
  if (!check(mode == SBX_CGROUP_V2, "mode is %s (want v2)", sbx_cgroup_mode_name(mode)))
    return 1;

  test_limits_and_kill();
  test_kill_sleeping();
  test_kill_without_kill_file();
  test_oom();
  test_usage();
  test_person_group();

  char pdir[512];
  snprintf(pdir, sizeof pdir, "%s/%s", root, parent);
  int r = rmdir(pdir);
  check(r == 0, "rmdir %s: %s", pdir, r == 0 ? "ok" : strerror(errno));
  check(!dir_exists(pdir), "no directory left under %s", root);
  printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
