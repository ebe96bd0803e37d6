/* test_usage.c: the arithmetic of sbx top and /metrics (controller/usage.c): the CPU rate
 * from two readings, a person's totals, the uid-ordered person list; and the disk a tree
 * holds (lib/fsutil.c's sbx_disk_used) on a directory of real files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/controller/usage.h"
#include "lib/fsutil.h"

static void test_rate(void **state) {
  (void)state;
  /* half a CPU: 500 ms of CPU time in one second */
  assert_int_equal(sbx_usage_rate_millis(1000000, 0, 1500000, 1000000000LL), 500);
  /* two CPUs for 250 ms */
  assert_int_equal(sbx_usage_rate_millis(0, 4000000000LL, 500000, 4250000000LL), 2000);
  /* rounded to the nearest millicore */
  assert_int_equal(sbx_usage_rate_millis(0, 0, 1, 1000000000LL), 0);
  assert_int_equal(sbx_usage_rate_millis(0, 0, 1, 1999999LL), 1);
  /* idle */
  assert_int_equal(sbx_usage_rate_millis(777, 0, 777, 1000000000LL), 0);
  /* no window, time going back, or a counter that went back (a new cgroup): unknown */
  assert_int_equal(sbx_usage_rate_millis(0, 5, 100, 5), -1);
  assert_int_equal(sbx_usage_rate_millis(0, 6, 100, 5), -1);
  assert_int_equal(sbx_usage_rate_millis(200, 0, 100, 1000000000LL), -1);
}

static void test_person_totals(void **state) {
  (void)state;
  struct sbx_person_usage *people = NULL;
  size_t n = 0;
  struct sbx_sandbox_usage a = {.owner = 1001, .running = true, .cpu_millis = 250, .window_ms = 1000,
                                .cg = {.cpu_usec = 10, .memory_bytes = 100, .pids = 2}, .writable_bytes = 4096};
  struct sbx_sandbox_usage b = {.owner = 1001, .running = true, .cpu_millis = -1, /* not sampled yet */
                                .cg = {.cpu_usec = 5, .memory_bytes = 50, .pids = 1}, .writable_bytes = 1};
  struct sbx_sandbox_usage c = {.owner = 1000, .running = false, .cpu_millis = -1, .writable_bytes = 7};
  const struct sbx_sandbox_usage *all[] = {&a, &b, &c};
  for (size_t i = 0; i < 3; i++) {
    struct sbx_person_usage *p = sbx_usage_person(&people, &n, all[i]->owner);
    assert_non_null(p);
    sbx_usage_add(p, all[i]);
  }
  assert_int_equal(n, 2);
  /* ordered by uid */
  assert_int_equal(people[0].uid, 1000);
  assert_int_equal(people[1].uid, 1001);
  assert_int_equal(people[0].sandboxes, 1);
  assert_int_equal(people[0].running, 0);
  assert_int_equal(people[0].writable_bytes, 7);
  assert_int_equal(people[0].cpu_millis, 0);
  assert_int_equal(people[1].sandboxes, 2);
  assert_int_equal(people[1].running, 2);
  assert_int_equal(people[1].cpu_millis, 250); /* the unknown rate adds nothing */
  assert_int_equal(people[1].cpu_usec, 15);
  assert_int_equal(people[1].memory_bytes, 150);
  assert_int_equal(people[1].pids, 3);
  assert_int_equal(people[1].writable_bytes, 4097);
  assert_int_equal(people[1].claims_bytes, 0); /* claims are counted per claim, not per sandbox */
  /* the same uid again is the same entry; a smaller one goes first */
  assert_ptr_equal(sbx_usage_person(&people, &n, 1001), &people[1]);
  assert_non_null(sbx_usage_person(&people, &n, 0));
  assert_int_equal(n, 3);
  assert_int_equal(people[0].uid, 0);
  assert_int_equal(people[0].sandboxes, 0);
  assert_int_equal(people[2].memory_bytes, 150);
  free(people);
}

static void put_file(const char *dir, const char *name, size_t bytes) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  char *buf = calloc(1, bytes ? bytes : 1);
  for (size_t i = 0; i < bytes; i++) buf[i] = 'x'; /* real blocks, not holes */
  assert_int_equal(fwrite(buf, 1, bytes, f), bytes);
  free(buf);
  assert_int_equal(fclose(f), 0);
}

static void test_disk_used(void **state) {
  (void)state;
  char dir[] = "/tmp/sbx-usage-XXXXXX", sub[600], path[600];
  assert_non_null(mkdtemp(dir));
  uint64_t empty, full, one;
  assert_int_equal(sbx_disk_used(dir, &empty), 0);
  snprintf(sub, sizeof sub, "%s/sub", dir);
  assert_int_equal(mkdir(sub, 0755), 0);
  put_file(dir, "a", 1 << 20);
  put_file(sub, "b", 1 << 20);
  snprintf(path, sizeof path, "%s/link", dir);
  assert_int_equal(symlink("/usr", path), 0); /* never followed */
  assert_int_equal(sbx_disk_used(dir, &full), 0);
  assert_true(full >= empty + (2u << 20));
  assert_true(full < empty + (3u << 20));
  /* a file: its own blocks; a missing path: nothing */
  snprintf(path, sizeof path, "%s/a", dir);
  assert_int_equal(sbx_disk_used(path, &one), 0);
  assert_true(one >= (1u << 20) && one < (2u << 20));
  snprintf(path, sizeof path, "%s/missing", dir);
  assert_int_equal(sbx_disk_used(path, &one), 0);
  assert_int_equal(one, 0);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf --one-file-system '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rate),
      cmocka_unit_test(test_person_totals),
      cmocka_unit_test(test_disk_used),
  };
  return cmocka_run_group_tests_name("usage", tests, NULL, NULL);
}
