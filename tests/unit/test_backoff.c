/* test_backoff.c: restartPolicy decisions and the crash-loop back-off sequence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/backoff.h"

static void policy(void **state) {
  (void)state;
  assert_true(sbx_restart_wanted("Always", false, 0));
  assert_true(sbx_restart_wanted("Always", false, 3));
  assert_true(sbx_restart_wanted(NULL, false, 0));
  assert_false(sbx_restart_wanted("OnFailure", false, 0));
  assert_true(sbx_restart_wanted("OnFailure", false, 1));
  assert_false(sbx_restart_wanted("Never", false, 1));
  assert_false(sbx_restart_wanted("Never", false, 0));
  /* init containers: only failures, never under Never */
  assert_false(sbx_restart_wanted("Always", true, 0));
  assert_true(sbx_restart_wanted("Always", true, 2));
  assert_true(sbx_restart_wanted("OnFailure", true, 2));
  assert_false(sbx_restart_wanted("Never", true, 2));
}

static void doubling_and_cap(void **state) {
  (void)state;
  unsigned streak = 0;
  int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) assert_int_equal(sbx_backoff_next(&streak, 5), want[i]);
  for (int i = 0; i < 100; i++) assert_int_equal(sbx_backoff_next(&streak, 5), 300000);
}

static void reset_after_long_run(void **state) {
  (void)state;
  unsigned streak = 0;
  sbx_backoff_next(&streak, 0);
  sbx_backoff_next(&streak, 0);
  assert_int_equal(sbx_backoff_next(&streak, SBX_BACKOFF_RESET_MS - 1), 4000);
  assert_int_equal(sbx_backoff_next(&streak, SBX_BACKOFF_RESET_MS), 1000);
  assert_int_equal(sbx_backoff_next(&streak, 0), 2000);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(policy), cmocka_unit_test(doubling_and_cap),
                                     cmocka_unit_test(reset_after_long_run)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
