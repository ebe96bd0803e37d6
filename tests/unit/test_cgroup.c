/* test_cgroup.c: unit tests of the cgroup layer on a fake tree.
 *
 * Each test gets a temp dir standing in for /sys/fs/cgroup and a mountinfo file whose mount
 * points lie below it (the sample texts below use '@' for that dir). The test hooks of
 * cgroup_internal.h play the kernel's part: a new cgroup directory gets the interface files
 * a kernel would show, with their default contents, and before rmdir they are deleted. The
 * tests then read back exactly what the code wrote. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/cgroup.h"
#include "runtime/cgroup_internal.h"

/* ------------------------------------------------------------- fake tree ---- */

struct fake {
  char root[64];
  char mountinfo[128];
  bool memsw;     /* v1: swap accounting (memory.memsw.*) */
  bool swap;      /* v2: memory.swap.max */
  bool kill_file; /* v2: cgroup.kill */
  struct cg_test_hooks hooks;
};

static void put(int dirfd, const char *file, const char *content) {
  int fd = openat(dirfd, file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
  close(fd);
}

static int fake_after_mkdir(int dirfd, bool v2, unsigned ctrls, void *data) {
  struct fake *f = data;
  put(dirfd, "cgroup.procs", "");
  if (v2) {
    put(dirfd, "cgroup.controllers", "cpuset cpu io memory pids\n");
    put(dirfd, "cgroup.subtree_control", "");
    put(dirfd, "cgroup.events", "populated 0\nfrozen 0\n");
    put(dirfd, "cpu.weight", "100\n");
    put(dirfd, "cpu.max", "max 100000\n");
    put(dirfd, "memory.max", "max\n");
    put(dirfd, "memory.current", "0\n");
    put(dirfd, "memory.peak", "0\n");
    put(dirfd, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    put(dirfd, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
    put(dirfd, "pids.max", "max\n");
    put(dirfd, "pids.current", "0\n");
    if (f->swap) put(dirfd, "memory.swap.max", "max\n");
    if (f->kill_file) put(dirfd, "cgroup.kill", "");
    return 0;
  }
  put(dirfd, "tasks", "");
  if (ctrls & CG_BIT(CG_CPU)) {
    put(dirfd, "cpu.shares", "1024\n");
    put(dirfd, "cpu.cfs_period_us", "100000\n");
    put(dirfd, "cpu.cfs_quota_us", "-1\n");
  }
  if (ctrls & CG_BIT(CG_CPUACCT)) put(dirfd, "cpuacct.usage", "0\n");
  if (ctrls & CG_BIT(CG_MEMORY)) {
    put(dirfd, "memory.limit_in_bytes", "9223372036854771712\n");
    put(dirfd, "memory.usage_in_bytes", "0\n");
    put(dirfd, "memory.max_usage_in_bytes", "0\n");
    put(dirfd, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    if (f->memsw) put(dirfd, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
  }
  if (ctrls & CG_BIT(CG_PIDS)) {
    put(dirfd, "pids.max", "max\n");
    put(dirfd, "pids.current", "0\n");
  }
  if (ctrls & CG_BIT(CG_FREEZER)) put(dirfd, "freezer.state", "THAWED\n");
  return 0;
}

static int fake_before_rmdir(int parent_fd, const char *name, void *data) {
  (void)data;
  int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_type == DT_REG) unlinkat(dirfd(d), e->d_name, 0);
  closedir(d);
  return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static int fake_setup(void **state) {
  struct fake *f = calloc(1, sizeof *f);
  assert_non_null(f);
  strcpy(f->root, "/tmp/sbx-cgtest-XXXXXX");
  assert_non_null(mkdtemp(f->root));
  snprintf(f->mountinfo, sizeof f->mountinfo, "%s.mountinfo", f->root);
  f->hooks = (struct cg_test_hooks){fake_after_mkdir, fake_before_rmdir, f};
  cg_set_test_hooks(&f->hooks);
  *state = f;
  return 0;
}

static int fake_teardown(void **state) {
  struct fake *f = *state;
  cg_set_test_hooks(NULL);
  nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  unlink(f->mountinfo);
  free(f);
  return 0;
}

/* Write the mountinfo text with '@' replaced by the fake root. */
static void write_mountinfo(struct fake *f, const char *text) {
  FILE *out = fopen(f->mountinfo, "w");
  assert_non_null(out);
  for (const char *p = text; *p; p++)
    if (*p == '@')
      fputs(f->root, out);
    else
      fputc(*p, out);
  fclose(out);
}

static char *path_of(struct fake *f, const char *rel) {
  char *p;
  assert_true(asprintf(&p, "%s/%s", f->root, rel) > 0);
  return p;
}

/* Make a mount point directory (with its root cgroup's files). */
static void mount_dir(struct fake *f, const char *rel, bool v2, unsigned ctrls) {
  char *p = path_of(f, rel);
  assert_int_equal(mkdir(p, 0755), 0);
  int fd = open(p, O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  fake_after_mkdir(fd, v2, ctrls, f);
  close(fd);
  free(p);
}

static char *slurp(struct fake *f, const char *rel) {
  char *p = path_of(f, rel);
  FILE *in = fopen(p, "r");
  free(p);
  if (!in) return NULL;
  static char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, in);
  fclose(in);
  buf[n] = '\0';
  return buf;
}

static void set_file(struct fake *f, const char *rel, const char *content) {
  char *p = path_of(f, rel);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  free(p);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
  close(fd);
}

static bool exists(struct fake *f, const char *rel) {
  char *p = path_of(f, rel);
  struct stat st;
  bool r = lstat(p, &st) == 0;
  free(p);
  return r;
}

#define assert_file(f, rel, want)                \
  do {                                           \
    char *got_ = slurp((f), (rel));              \
    assert_non_null(got_);                       \
    assert_string_equal(got_, (want));           \
  } while (0)

/* -------------------------------------------------------- sample layouts ---- */

/* This build machine: v1 controllers one per hierarchy, cgroup2 at unified. */
static const char *const MI_HYBRID =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "31 23 0:28 / @ rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / @/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / @/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / @/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / @/memory rw,relatime - cgroup cgroup rw,memory\n"
    "37 31 0:34 / @/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "39 31 0:36 / @/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / @/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / @/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* A systemd-era v1 host: cpu and cpuacct co-mounted, optional fields, and a mount point
 * with a space (mountinfo writes it as \040). */
static const char *const MI_V1_COMOUNTED =
    "24 18 0:21 / @ ro,nosuid,nodev,noexec shared:6 - tmpfs tmpfs ro,mode=755\n"
    "25 24 0:22 / @/systemd rw,nosuid shared:7 - cgroup cgroup rw,xattr,name=systemd\n"
    "26 24 0:23 / @/cpu,cpuacct rw,nosuid shared:8 - cgroup cgroup rw,cpu,cpuacct\n"
    "27 24 0:24 / @/mem\\040ory rw,nosuid shared:9 master:2 - cgroup cgroup rw,memory\n"
    "28 24 0:25 / @/pids rw,nosuid shared:10 - cgroup cgroup rw,pids\n"
    "29 24 0:26 / @/freezer rw,nosuid shared:11 - cgroup cgroup rw,freezer\n"
    "30 24 0:27 / @/net_cls,net_prio rw,nosuid shared:12 - cgroup cgroup rw,net_cls,net_prio\n";

static const char *const MI_V2 =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 24 0:26 / @ rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

static void setup_hybrid(struct fake *f) {
  write_mountinfo(f, MI_HYBRID);
  mount_dir(f, "cpu", false, CG_BIT(CG_CPU));
  mount_dir(f, "cpuacct", false, CG_BIT(CG_CPUACCT));
  mount_dir(f, "cpuset", false, 0);
  mount_dir(f, "memory", false, CG_BIT(CG_MEMORY));
  mount_dir(f, "freezer", false, CG_BIT(CG_FREEZER));
  mount_dir(f, "pids", false, CG_BIT(CG_PIDS));
  mount_dir(f, "systemd", false, 0);
  mount_dir(f, "unified", true, 0);
}

static void setup_comounted(struct fake *f) {
  write_mountinfo(f, MI_V1_COMOUNTED);
  mount_dir(f, "systemd", false, 0);
  mount_dir(f, "cpu,cpuacct", false, CG_BIT(CG_CPU) | CG_BIT(CG_CPUACCT));
  mount_dir(f, "mem ory", false, CG_BIT(CG_MEMORY));
  mount_dir(f, "pids", false, CG_BIT(CG_PIDS));
  mount_dir(f, "freezer", false, CG_BIT(CG_FREEZER));
  mount_dir(f, "net_cls,net_prio", false, 0);
}

static void setup_v2(struct fake *f, const char *subtree_control) {
  write_mountinfo(f, MI_V2);
  int fd = open(f->root, O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  fake_after_mkdir(fd, true, 0, f);
  close(fd);
  set_file(f, "cgroup.subtree_control", subtree_control);
}

/* ------------------------------------------------------------- detection ---- */

static void test_detect_hybrid(void **state) {
  struct fake *f = *state;
  write_mountinfo(f, MI_HYBRID);
  enum sbx_cgroup_mode mode = 0;
  sbx_error_t err = {0};
  assert_int_equal(sbx_cgroup_detect(f->mountinfo, f->root, &mode, &err), 0);
  assert_int_equal(mode, SBX_CGROUP_HYBRID);
  assert_string_equal(sbx_cgroup_mode_name(mode), "hybrid");

  struct cg_layout l;
  assert_int_equal(cg_layout_read(f->mountinfo, f->root, &l, &err), 0);
  assert_int_equal(l.nv1, 5); /* cpu, cpuacct, memory, freezer, pids; not cpuset, systemd */
  char *unified = path_of(f, "unified");
  assert_string_equal(l.v2, unified);
  free(unified);
  cg_layout_free(&l);
}

static void test_detect_v1_comounted(void **state) {
  struct fake *f = *state;
  write_mountinfo(f, MI_V1_COMOUNTED);
  sbx_error_t err = {0};
  struct cg_layout l;
  assert_int_equal(cg_layout_read(f->mountinfo, f->root, &l, &err), 0);
  assert_int_equal(l.mode, SBX_CGROUP_V1);
  assert_null(l.v2);
  assert_int_equal(l.nv1, 4);
  bool saw_comounted = false, saw_space = false;
  for (size_t i = 0; i < l.nv1; i++) {
    if (l.v1[i].ctrls == (CG_BIT(CG_CPU) | CG_BIT(CG_CPUACCT))) {
      saw_comounted = true;
      assert_non_null(strstr(l.v1[i].path, "/cpu,cpuacct"));
    }
    if (l.v1[i].ctrls == CG_BIT(CG_MEMORY)) {
      saw_space = true;
      assert_non_null(strstr(l.v1[i].path, "/mem ory"));
    }
  }
  assert_true(saw_comounted);
  assert_true(saw_space);
  cg_layout_free(&l);
}

static void test_detect_v2(void **state) {
  struct fake *f = *state;
  write_mountinfo(f, MI_V2);
  enum sbx_cgroup_mode mode = 0;
  sbx_error_t err = {0};
  assert_int_equal(sbx_cgroup_detect(f->mountinfo, f->root, &mode, &err), 0);
  assert_int_equal(mode, SBX_CGROUP_V2);
  /* a trailing slash on the root changes nothing */
  char root_slash[80];
  snprintf(root_slash, sizeof root_slash, "%s/", f->root);
  assert_int_equal(sbx_cgroup_detect(f->mountinfo, root_slash, &mode, &err), 0);
  assert_int_equal(mode, SBX_CGROUP_V2);
}

/* Mounts outside fsroot (including a sibling sharing its prefix) do not count. */
static void test_detect_only_below_root(void **state) {
  struct fake *f = *state;
  write_mountinfo(f, "32 31 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                     "33 31 0:30 / @x/pids rw - cgroup cgroup rw,pids\n");
  enum sbx_cgroup_mode mode = 0;
  sbx_error_t err = {0};
  assert_int_equal(sbx_cgroup_detect(f->mountinfo, "/nonexistent-root", &mode, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_int_equal(sbx_cgroup_detect(f->mountinfo, f->root, &mode, &err), -1);
  assert_int_equal(err.errnum, ENOENT);

  /* v1 memory outside, cgroup2 inside: v2 */
  write_mountinfo(f, "32 31 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                     "41 31 0:38 / @ rw - cgroup2 cgroup2 rw\n");
  assert_int_equal(sbx_cgroup_detect(f->mountinfo, f->root, &mode, &err), 0);
  assert_int_equal(mode, SBX_CGROUP_V2);
}

static void test_detect_missing_mountinfo(void **state) {
  struct fake *f = *state;
  enum sbx_cgroup_mode mode = 0;
  sbx_error_t err = {0};
  assert_int_equal(sbx_cgroup_detect(f->mountinfo, f->root, &mode, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_non_null(strstr(err.msg, f->mountinfo));
}

/* --------------------------------------------------------------- mapping ---- */

static void test_mapping(void **state) {
  (void)state;
  assert_int_equal(cg_cpu_shares(0), 1024);
  assert_int_equal(cg_cpu_shares(500), 512);
  assert_int_equal(cg_cpu_shares(1000), 1024);
  assert_int_equal(cg_cpu_shares(1), 2);
  assert_int_equal(cg_cpu_shares(2500), 2560);
  assert_int_equal(cg_cpu_shares(INT64_MAX), 262144);
  assert_int_equal(cg_cpu_weight(0), 100);
  assert_int_equal(cg_cpu_weight(1), 1);       /* shares 2 */
  assert_int_equal(cg_cpu_weight(500), 20);    /* 1 + 510*9999/262142 */
  assert_int_equal(cg_cpu_weight(1000), 39);   /* 1 + 1022*9999/262142 */
  assert_int_equal(cg_cpu_weight(4000), 157);  /* shares 4096 */
  assert_int_equal(cg_cpu_weight(INT64_MAX), 10000);
  assert_int_equal(cg_cpu_quota(0), -1);
  assert_int_equal(cg_cpu_quota(1500), 150000);
  assert_int_equal(cg_cpu_quota(250), 25000);
  assert_int_equal(cg_cpu_quota(5), 1000); /* the kernel's minimum */
}

/* ---------------------------------------------------------------- create ---- */

static const struct sbx_cgroup_limits LIM_FULL = {
    .cpu_request_millis = 500, .cpu_limit_millis = 1500,
    .memory_limit_bytes = 1073741824, .pids_limit = 100};
static const struct sbx_cgroup_limits LIM_NONE = {.pids_limit = 50};

static void test_create_v1_limits(void **state) {
  struct fake *f = *state;
  f->memsw = true;
  setup_hybrid(f);
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), 0);
  assert_file(f, "cpu/sbx/sb1/cpu.shares", "512");
  assert_file(f, "cpu/sbx/sb1/cpu.cfs_period_us", "100000");
  assert_file(f, "cpu/sbx/sb1/cpu.cfs_quota_us", "150000");
  assert_file(f, "memory/sbx/sb1/memory.limit_in_bytes", "1073741824");
  assert_file(f, "memory/sbx/sb1/memory.memsw.limit_in_bytes", "1073741824");
  assert_file(f, "pids/sbx/sb1/pids.max", "100");
  assert_true(exists(f, "cpuacct/sbx/sb1"));
  assert_true(exists(f, "freezer/sbx/sb1"));
  assert_false(exists(f, "cpuset/sbx"));
  assert_false(exists(f, "systemd/sbx"));
  assert_false(exists(f, "unified/sbx")); /* hybrid uses v1 alone */
  sbx_cgroup_free(cg);
}

static void test_create_v1_defaults(void **state) {
  struct fake *f = *state;
  f->memsw = false;
  setup_hybrid(f);
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb2", &LIM_NONE, &cg, &err), 0);
  assert_file(f, "cpu/sbx/sb2/cpu.shares", "1024");
  assert_file(f, "cpu/sbx/sb2/cpu.cfs_quota_us", "-1\n"); /* untouched */
  assert_file(f, "memory/sbx/sb2/memory.limit_in_bytes", "9223372036854771712\n");
  assert_false(exists(f, "memory/sbx/sb2/memory.memsw.limit_in_bytes")); /* never created */
  assert_file(f, "pids/sbx/sb2/pids.max", "50");
  sbx_cgroup_free(cg);
}

static void test_create_v1_small(void **state) {
  struct fake *f = *state;
  setup_hybrid(f);
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  struct sbx_cgroup_limits lim = {.cpu_request_millis = 1, .cpu_limit_millis = 5,
                                  .memory_limit_bytes = 33554432, .pids_limit = 1};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "a/b/c", "sb3", &lim, &cg, &err), 0);
  assert_file(f, "cpu/a/b/c/sb3/cpu.shares", "2");
  assert_file(f, "cpu/a/b/c/sb3/cpu.cfs_quota_us", "1000");
  assert_file(f, "memory/a/b/c/sb3/memory.limit_in_bytes", "33554432");
  assert_file(f, "pids/a/b/c/sb3/pids.max", "1");
  sbx_cgroup_free(cg);
}

static void test_create_comounted(void **state) {
  struct fake *f = *state;
  setup_comounted(f);
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), 0);
  assert_file(f, "cpu,cpuacct/sbx/sb1/cpu.shares", "512");
  assert_file(f, "cpu,cpuacct/sbx/sb1/cpu.cfs_quota_us", "150000");
  assert_file(f, "mem ory/sbx/sb1/memory.limit_in_bytes", "1073741824");
  assert_file(f, "pids/sbx/sb1/pids.max", "100");
  assert_true(exists(f, "freezer/sbx/sb1"));
  assert_false(exists(f, "net_cls,net_prio/sbx"));

  /* add_pid reaches every hierarchy once */
  assert_int_equal(sbx_cgroup_add_pid(cg, 4242, &err), 0);
  assert_file(f, "cpu,cpuacct/sbx/sb1/cgroup.procs", "4242");
  assert_file(f, "mem ory/sbx/sb1/cgroup.procs", "4242");
  assert_file(f, "pids/sbx/sb1/cgroup.procs", "4242");
  assert_file(f, "freezer/sbx/sb1/cgroup.procs", "4242");
  assert_int_equal(sbx_cgroup_add_pid(cg, 0, &err), -1);
  sbx_cgroup_free(cg);
}

static void test_create_v1_missing_controller(void **state) {
  struct fake *f = *state;
  write_mountinfo(f, "32 31 0:29 / @/cpu rw - cgroup cgroup rw,cpu\n"
                     "35 31 0:32 / @/memory rw - cgroup cgroup rw,memory\n");
  mount_dir(f, "cpu", false, CG_BIT(CG_CPU));
  mount_dir(f, "memory", false, CG_BIT(CG_MEMORY));
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), -1);
  assert_int_equal(err.errnum, ENOTSUP);
  assert_non_null(strstr(err.msg, "pids"));
  assert_false(exists(f, "cpu/sbx"));
}

static void test_create_v2(void **state) {
  struct fake *f = *state;
  f->swap = true;
  setup_v2(f, "cpu\n"); /* cpu already passed on; memory and pids not yet */
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx/team", "sb1", &LIM_FULL, &cg, &err), 0);
  /* only what was missing is written at the root; new ancestors get all three */
  assert_file(f, "cgroup.subtree_control", "+memory +pids");
  assert_file(f, "sbx/cgroup.subtree_control", "+cpu +memory +pids");
  assert_file(f, "sbx/team/cgroup.subtree_control", "+cpu +memory +pids");
  assert_file(f, "sbx/team/sb1/cgroup.subtree_control", ""); /* the leaf passes nothing on */
  assert_file(f, "sbx/team/sb1/cpu.weight", "20");
  assert_file(f, "sbx/team/sb1/cpu.max", "150000 100000");
  assert_file(f, "sbx/team/sb1/memory.max", "1073741824");
  assert_file(f, "sbx/team/sb1/memory.swap.max", "0");
  assert_file(f, "sbx/team/sb1/pids.max", "100");
  sbx_cgroup_free(cg);

  /* a second sandbox under an ancestor already set up: nothing rewritten there */
  set_file(f, "cgroup.subtree_control", "cpuset cpu io memory pids\n");
  set_file(f, "sbx/cgroup.subtree_control", "cpu memory pids\n");
  set_file(f, "sbx/team/cgroup.subtree_control", "cpu memory\n");
  f->swap = false;
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx/team", "sb2", &LIM_NONE, &cg, &err), 0);
  assert_file(f, "cgroup.subtree_control", "cpuset cpu io memory pids\n");
  assert_file(f, "sbx/cgroup.subtree_control", "cpu memory pids\n");
  assert_file(f, "sbx/team/cgroup.subtree_control", "+pids");
  assert_file(f, "sbx/team/sb2/cpu.weight", "100");
  assert_file(f, "sbx/team/sb2/cpu.max", "max 100000");
  assert_file(f, "sbx/team/sb2/memory.max", "max\n");
  assert_false(exists(f, "sbx/team/sb2/memory.swap.max"));
  assert_file(f, "sbx/team/sb2/pids.max", "50");
  sbx_cgroup_free(cg);
}

static void test_create_v2_weights(void **state) {
  struct fake *f = *state;
  setup_v2(f, "cpu memory pids\n");
  static const struct {
    int64_t millis;
    const char *weight;
  } cases[] = {{0, "100"}, {1, "1"}, {250, "10"}, {1000, "39"}, {8000, "313"},
               {1000000, "10000"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char name[16], file[64];
    snprintf(name, sizeof name, "w%zu", i);
    snprintf(file, sizeof file, "sbx/%s/cpu.weight", name);
    struct sbx_cgroup_limits lim = {.cpu_request_millis = cases[i].millis, .pids_limit = 10};
    struct sbx_cgroup *cg = NULL;
    sbx_error_t err = {0};
    assert_int_equal(sbx_cgroup_create(f->mountinfo, f->root, "sbx", name, &lim, &cg, &err), 0);
    assert_file(f, file, cases[i].weight);
    sbx_cgroup_free(cg);
  }
}

static void test_create_v2_controller_unavailable(void **state) {
  struct fake *f = *state;
  setup_v2(f, "");
  set_file(f, "cgroup.controllers", "cpu io pids\n");
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), -1);
  assert_int_equal(err.errnum, ENOTSUP);
  assert_non_null(strstr(err.msg, "memory"));
  assert_false(exists(f, "sbx"));
  assert_file(f, "cgroup.subtree_control", "");
}

static void test_create_exists(void **state) {
  struct fake *f = *state;
  setup_hybrid(f);
  struct sbx_cgroup *cg = NULL, *cg2 = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), 0);
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_NONE, &cg2, &err), -1);
  assert_int_equal(err.errnum, EEXIST);
  assert_null(cg2);
  /* the first one is intact */
  assert_file(f, "cpu/sbx/sb1/cpu.shares", "512");
  assert_true(exists(f, "memory/sbx/sb1"));
  sbx_cgroup_free(cg);

  /* a leftover in one hierarchy only (pids is listed last): the directories made before
   * it are rolled back, the leftover is left alone */
  char *p = path_of(f, "pids/sbx/sb9");
  assert_int_equal(mkdir(p, 0755), 0);
  free(p);
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb9", &LIM_NONE, &cg2, &err), -1);
  assert_int_equal(err.errnum, EEXIST);
  assert_non_null(strstr(err.msg, "pids/sbx/sb9"));
  assert_false(exists(f, "cpu/sbx/sb9"));
  assert_false(exists(f, "memory/sbx/sb9"));
  assert_false(exists(f, "freezer/sbx/sb9"));
  assert_true(exists(f, "pids/sbx/sb9"));
  assert_true(exists(f, "cpu/sbx")); /* parents stay */
}

static void test_bad_names(void **state) {
  struct fake *f = *state;
  setup_hybrid(f);
  static const char *const bad_parents[] = {"", "/sbx", "..", "a/../b", "a//b", "a/",
                                            "./a", "a/.", "a b", "a\nb", "a\\b", "sbx*"};
  static const char *const bad_names[] = {"", "..", ".", "a/b", "/a", "x\n", "x y"};
  for (size_t i = 0; i < sizeof bad_parents / sizeof bad_parents[0]; i++) {
    struct sbx_cgroup *cg = NULL;
    sbx_error_t err = {0};
    assert_int_equal(
        sbx_cgroup_create(f->mountinfo, f->root, bad_parents[i], "ok", &LIM_NONE, &cg, &err),
        -1);
    assert_int_equal(err.errnum, EINVAL);
    assert_null(strchr(err.msg, '\n')); /* the offending name is described, not echoed */
    assert_int_equal(sbx_cgroup_open(f->mountinfo, f->root, bad_parents[i], "ok", &cg, &err),
                     -1);
    assert_int_equal(err.errnum, EINVAL);
  }
  for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
    struct sbx_cgroup *cg = NULL;
    sbx_error_t err = {0};
    assert_int_equal(
        sbx_cgroup_create(f->mountinfo, f->root, "sbx", bad_names[i], &LIM_NONE, &cg, &err),
        -1);
    assert_int_equal(err.errnum, EINVAL);
  }
  char long_name[300];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", long_name, &LIM_NONE, &cg, &err), -1);
  assert_int_equal(err.errnum, ENAMETOOLONG);
  /* nothing was touched */
  assert_false(exists(f, "cpu/sbx"));
  assert_false(exists(f, "cpu/a"));
  assert_false(exists(f, "b"));
  /* and good names with every allowed character work */
  assert_int_equal(sbx_cgroup_create(f->mountinfo, f->root, "sbx.v1/team_a", "ns:name@x+1-2",
                                     &LIM_NONE, &cg, &err),
                   0);
  assert_true(exists(f, "memory/sbx.v1/team_a/ns:name@x+1-2"));
  sbx_cgroup_free(cg);
}

static void test_bad_limits(void **state) {
  struct fake *f = *state;
  setup_hybrid(f);
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  struct sbx_cgroup_limits no_pids = {.cpu_request_millis = 100};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &no_pids, &cg, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  struct sbx_cgroup_limits neg = {.memory_limit_bytes = -1, .pids_limit = 5};
  assert_int_equal(sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &neg, &cg, &err), -1);
  assert_false(exists(f, "cpu/sbx"));
}

/* ------------------------------------------------------- open and counts ---- */

static void test_open_and_counts_v1(void **state) {
  struct fake *f = *state;
  setup_hybrid(f);
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(sbx_cgroup_open(f->mountinfo, f->root, "sbx", "sb1", &cg, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), 0);
  sbx_cgroup_free(cg);
  cg = NULL;
  assert_int_equal(sbx_cgroup_open(f->mountinfo, f->root, "sbx", "sb1", &cg, &err), 0);

  uint64_t n = 99;
  assert_int_equal(sbx_cgroup_oom_kills(cg, &n, &err), 0);
  assert_int_equal(n, 0);
  /* oom_kill_disable comes first and must not be taken for oom_kill */
  set_file(f, "memory/sbx/sb1/memory.oom_control",
           "oom_kill_disable 1\nunder_oom 0\noom_kill 3\n");
  assert_int_equal(sbx_cgroup_oom_kills(cg, &n, &err), 0);
  assert_int_equal(n, 3);
  set_file(f, "memory/sbx/sb1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  assert_int_equal(sbx_cgroup_oom_kills(cg, &n, &err), -1);
  assert_int_equal(err.errnum, ENOTSUP);
  set_file(f, "memory/sbx/sb1/memory.oom_control", "oom_kill_disable 0\noom_kill x\n");
  assert_int_equal(sbx_cgroup_oom_kills(cg, &n, &err), -1);
  assert_int_equal(err.errnum, EINVAL);

  set_file(f, "memory/sbx/sb1/memory.usage_in_bytes", "123456789\n");
  assert_int_equal(sbx_cgroup_memory_current(cg, &n, &err), 0);
  assert_int_equal(n, 123456789);
  set_file(f, "pids/sbx/sb1/pids.current", "7\n");
  assert_int_equal(sbx_cgroup_pids_current(cg, &n, &err), 0);
  assert_int_equal(n, 7);
  set_file(f, "pids/sbx/sb1/pids.current", "garbage\n");
  assert_int_equal(sbx_cgroup_pids_current(cg, &n, &err), -1);
  sbx_cgroup_free(cg);

  /* a cgroup missing from one hierarchy cannot be opened */
  char *p = path_of(f, "freezer/sbx");
  int fd = open(p, O_RDONLY | O_DIRECTORY);
  free(p);
  assert_true(fd >= 0);
  fake_before_rmdir(fd, "sb1", f);
  assert_int_equal(unlinkat(fd, "sb1", AT_REMOVEDIR), 0);
  close(fd);
  cg = NULL;
  assert_int_equal(sbx_cgroup_open(f->mountinfo, f->root, "sbx", "sb1", &cg, &err), -1);
  assert_int_equal(err.errnum, ENOENT);
  assert_non_null(strstr(err.msg, "freezer/sbx/sb1"));
  assert_null(cg);
}

static void test_oom_count_v2(void **state) {
  struct fake *f = *state;
  setup_v2(f, "cpu memory pids\n");
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), 0);
  uint64_t n = 99;
  assert_int_equal(sbx_cgroup_oom_kills(cg, &n, &err), 0);
  assert_int_equal(n, 0);
  set_file(f, "sbx/sb1/memory.events",
           "low 0\nhigh 0\nmax 12\noom 2\noom_group_kill 9\noom_kill 2\n");
  assert_int_equal(sbx_cgroup_oom_kills(cg, &n, &err), 0);
  assert_int_equal(n, 2);
  set_file(f, "sbx/sb1/memory.current", "4096\n");
  assert_int_equal(sbx_cgroup_memory_current(cg, &n, &err), 0);
  assert_int_equal(n, 4096);
  /* without cgroup.kill (kill_file is off here) an empty group needs no kill at all */
  assert_int_equal(sbx_cgroup_kill_all(cg, &err), 0);
  assert_false(exists(f, "sbx/sb1/cgroup.kill"));
  /* a damaged cgroup.events is an error, not "empty" */
  set_file(f, "sbx/sb1/cgroup.events", "frozen 0\n");
  assert_int_equal(sbx_cgroup_destroy(cg, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  assert_true(exists(f, "sbx/sb1"));
  set_file(f, "sbx/sb1/cgroup.events", "populated 0\nfrozen 0\n");
  assert_int_equal(sbx_cgroup_destroy(cg, &err), 0);
  assert_false(exists(f, "sbx/sb1"));
  sbx_cgroup_free(cg);
}

/* ------------------------------------------------------------------ usage ---- */

/* sbx_cgroup_usage succeeds with exactly these numbers */
static void assert_usage(struct sbx_cgroup *cg, uint64_t cpu_usec, uint64_t memory, uint64_t peak, uint64_t pids) {
  struct sbx_cgroup_usage u;
  sbx_error_t err = {0};
  assert_int_equal(sbx_cgroup_usage(cg, &u, &err), 0);
  assert_int_equal(u.cpu_usec, cpu_usec);
  assert_int_equal(u.memory_bytes, memory);
  assert_int_equal(u.memory_peak_bytes, peak);
  assert_int_equal(u.pids, pids);
}

static void test_usage_v1(void **state) {
  struct fake *f = *state;
  setup_hybrid(f);
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), 0);
  set_file(f, "cpuacct/sbx/sb1/cpuacct.usage", "2500000999\n"); /* ns */
  set_file(f, "memory/sbx/sb1/memory.usage_in_bytes", "1048576\n");
  set_file(f, "memory/sbx/sb1/memory.max_usage_in_bytes", "4194304\n");
  set_file(f, "pids/sbx/sb1/pids.current", "3\n");
  assert_usage(cg, 2500000, 1048576, 4194304, 3);
  struct sbx_cgroup_usage u;
  /* a damaged file is an error that names it */
  set_file(f, "memory/sbx/sb1/memory.max_usage_in_bytes", "lots\n");
  assert_int_equal(sbx_cgroup_usage(cg, &u, &err), -1);
  assert_non_null(strstr(err.msg, "memory.max_usage_in_bytes"));
  sbx_cgroup_free(cg);
}

static void test_usage_v2(void **state) {
  struct fake *f = *state;
  setup_v2(f, "cpu memory pids\n");
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), 0);
  set_file(f, "sbx/sb1/cpu.stat", "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\nnr_periods 0\n");
  set_file(f, "sbx/sb1/memory.current", "8192\n");
  set_file(f, "sbx/sb1/memory.peak", "65536\n");
  set_file(f, "sbx/sb1/pids.current", "2\n");
  assert_usage(cg, 1234567, 8192, 65536, 2);
  /* a kernel before 5.19 has no memory.peak: the peak is unknown, not an error */
  char *p = path_of(f, "sbx/sb1/memory.peak");
  assert_int_equal(unlink(p), 0);
  free(p);
  assert_usage(cg, 1234567, 8192, 0, 2);
  struct sbx_cgroup_usage u;
  /* cpu.stat without usage_usec is refused with a reason */
  set_file(f, "sbx/sb1/cpu.stat", "user_usec 1\n");
  assert_int_equal(sbx_cgroup_usage(cg, &u, &err), -1);
  assert_int_equal(err.errnum, ENOTSUP);
  sbx_cgroup_free(cg);
}

/* -------------------------------------------------------- kill / destroy ---- */

static void test_destroy_v1(void **state) {
  struct fake *f = *state;
  setup_comounted(f);
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), 0);
  assert_int_equal(sbx_cgroup_kill_all(cg, &err), 0); /* empty: nothing to do */
  assert_file(f, "freezer/sbx/sb1/freezer.state", "THAWED\n");
  assert_int_equal(sbx_cgroup_destroy(cg, &err), 0);
  assert_false(exists(f, "cpu,cpuacct/sbx/sb1"));
  assert_false(exists(f, "mem ory/sbx/sb1"));
  assert_false(exists(f, "pids/sbx/sb1"));
  assert_false(exists(f, "freezer/sbx/sb1"));
  assert_true(exists(f, "pids/sbx"));
  /* idempotent */
  assert_int_equal(sbx_cgroup_destroy(cg, &err), 0);
  assert_int_equal(sbx_cgroup_kill_all(cg, &err), 0);
  sbx_cgroup_free(cg);
}

static void test_destroy_v2(void **state) {
  struct fake *f = *state;
  f->kill_file = true;
  setup_v2(f, "cpu memory pids\n");
  struct sbx_cgroup *cg = NULL;
  sbx_error_t err = {0};
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb1", &LIM_FULL, &cg, &err), 0);
  assert_int_equal(sbx_cgroup_kill_all(cg, &err), 0);
  assert_file(f, "sbx/sb1/cgroup.kill", "1");
  assert_int_equal(sbx_cgroup_destroy(cg, &err), 0);
  assert_false(exists(f, "sbx/sb1"));
  assert_true(exists(f, "sbx"));
  assert_int_equal(sbx_cgroup_destroy(cg, &err), 0);
  sbx_cgroup_free(cg);

  /* open + destroy (re-adoption, then removal) */
  assert_int_equal(
      sbx_cgroup_create(f->mountinfo, f->root, "sbx", "sb2", &LIM_FULL, &cg, &err), 0);
  sbx_cgroup_free(cg);
  assert_int_equal(sbx_cgroup_open(f->mountinfo, f->root, "sbx", "sb2", &cg, &err), 0);
  assert_int_equal(sbx_cgroup_destroy(cg, &err), 0);
  assert_false(exists(f, "sbx/sb2"));
  sbx_cgroup_free(cg);
}

/* ------------------------------------------------------ per-person groups ---- */

static void test_group_v1(void **state) {
  struct fake *f = *state;
  f->memsw = true;
  setup_hybrid(f);
  sbx_error_t err = {0};
  struct sbx_cgroup_limits group = {.memory_limit_bytes = 268435456, .pids_limit = 200};
  struct sbx_cgroup *cg = NULL;
  assert_int_equal(sbx_cgroup_create_in_group(f->mountinfo, f->root, "sbx/user-1001", &group, "sb1", &LIM_NONE,
                                              &cg, &err), 0);
  /* the person's group: the default weight (the same for everyone), their bounds */
  assert_file(f, "cpu/sbx/user-1001/cpu.shares", "1024");
  assert_file(f, "cpu/sbx/user-1001/cpu.cfs_quota_us", "-1");
  assert_file(f, "memory/sbx/user-1001/memory.limit_in_bytes", "268435456");
  assert_file(f, "memory/sbx/user-1001/memory.memsw.limit_in_bytes", "268435456");
  assert_file(f, "pids/sbx/user-1001/pids.max", "200");
  assert_file(f, "pids/sbx/user-1001/sb1/pids.max", "50");
  /* in use: release leaves it */
  sbx_cgroup_group_release(f->mountinfo, f->root, "sbx/user-1001");
  assert_true(exists(f, "pids/sbx/user-1001/sb1"));
  /* settings changed: ensure applies them, a bound set to 0 is lifted */
  group = (struct sbx_cgroup_limits){.cpu_limit_millis = 2000};
  assert_int_equal(sbx_cgroup_group_ensure(f->mountinfo, f->root, "sbx/user-1001", &group, &err), 0);
  assert_file(f, "memory/sbx/user-1001/memory.limit_in_bytes", "-1");
  assert_file(f, "cpu/sbx/user-1001/cpu.cfs_quota_us", "200000");
  assert_file(f, "pids/sbx/user-1001/pids.max", "4194304");
  assert_int_equal(sbx_cgroup_destroy(cg, &err), 0);
  sbx_cgroup_free(cg);
  /* empty now: release removes the group from every hierarchy, and the top stays */
  sbx_cgroup_group_release(f->mountinfo, f->root, "sbx/user-1001");
  assert_false(exists(f, "cpu/sbx/user-1001"));
  assert_false(exists(f, "memory/sbx/user-1001"));
  assert_false(exists(f, "pids/sbx/user-1001"));
  assert_true(exists(f, "pids/sbx"));
}

static void test_group_v2_and_leftovers(void **state) {
  struct fake *f = *state;
  setup_v2(f, "cpu memory pids\n");
  sbx_error_t err = {0};
  struct sbx_cgroup_limits group = {.memory_limit_bytes = 1048576, .pids_limit = 10};
  struct sbx_cgroup *cg = NULL;
  assert_int_equal(sbx_cgroup_create_in_group(f->mountinfo, f->root, "top/user-7", &group, "sb1", &LIM_NONE,
                                              &cg, &err), 0);
  assert_file(f, "top/user-7/cgroup.subtree_control", "+cpu +memory +pids");
  assert_file(f, "top/user-7/cpu.weight", "100");
  assert_file(f, "top/user-7/memory.max", "1048576");
  assert_file(f, "top/user-7/pids.max", "10");
  sbx_cgroup_free(cg);
  /* what a crash left, wherever it was placed */
  assert_int_equal(sbx_cgroup_remove_leftover_any(f->mountinfo, f->root, "top", "sb1", &err), 0);
  assert_false(exists(f, "top/user-7/sb1"));
  assert_false(exists(f, "top/user-7")); /* emptied: the group goes too */
  assert_true(exists(f, "top"));
  /* a group's path is checked like any cgroup name */
  assert_int_equal(sbx_cgroup_group_ensure(f->mountinfo, f->root, "top/../x", &group, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fake_setup, fake_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_detect_hybrid),
      T(test_detect_v1_comounted),
      T(test_detect_v2),
      T(test_detect_only_below_root),
      T(test_detect_missing_mountinfo),
      cmocka_unit_test(test_mapping),
      T(test_create_v1_limits),
      T(test_create_v1_defaults),
      T(test_create_v1_small),
      T(test_create_comounted),
      T(test_create_v1_missing_controller),
      T(test_create_v2),
      T(test_create_v2_weights),
      T(test_create_v2_controller_unavailable),
      T(test_create_exists),
      T(test_bad_names),
      T(test_bad_limits),
      T(test_open_and_counts_v1),
      T(test_oom_count_v2),
      T(test_usage_v1),
      T(test_usage_v2),
      T(test_destroy_v1),
      T(test_destroy_v2),
      T(test_group_v1),
      T(test_group_v2_and_leftovers),
  };
  return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
