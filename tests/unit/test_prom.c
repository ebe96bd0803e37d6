/* test_prom.c: the Prometheus text exposition writer (lib/prom.c): families, label
 * escaping, numbers, histograms (cumulative buckets, +Inf, sum, count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/prom.h"

static char *text_of(struct sbx_prom *p) {
  size_t len;
  char *t = sbx_prom_take(p, &len);
  assert_non_null(t);
  assert_int_equal(strlen(t), len);
  return t;
}

static void test_family_and_samples(void **state) {
  (void)state;
  struct sbx_prom p;
  sbx_prom_init(&p);
  sbx_prom_family(&p, "sbx_sandboxes", "gauge", "Sandboxes by phase.");
  sbx_prom_sample(&p, "sbx_sandboxes", (const char *[]){"phase", "Running", NULL}, 3);
  sbx_prom_sample(&p, "sbx_up", NULL, 1);
  sbx_prom_sample(&p, "sbx_two", (const char *[]){"a", "1", "b", "2", NULL}, 0.5);
  char *t = text_of(&p);
  assert_string_equal(t, "# HELP sbx_sandboxes Sandboxes by phase.\n"
                         "# TYPE sbx_sandboxes gauge\n"
                         "sbx_sandboxes{phase=\"Running\"} 3\n"
                         "sbx_up 1\n"
                         "sbx_two{a=\"1\",b=\"2\"} 0.5\n");
  free(t);
}

static void test_escaping(void **state) {
  (void)state;
  struct sbx_prom p;
  sbx_prom_init(&p);
  /* label values escape \ " and newline; HELP escapes \ and newline, not " */
  sbx_prom_family(&p, "m", "counter", "a \"quoted\" back\\slash\nnewline");
  sbx_prom_sample(&p, "m", (const char *[]){"user", "a\"b\\c\nd", NULL}, 7);
  char *t = text_of(&p);
  assert_string_equal(t, "# HELP m a \"quoted\" back\\\\slash\\nnewline\n"
                         "# TYPE m counter\n"
                         "m{user=\"a\\\"b\\\\c\\nd\"} 7\n");
  free(t);
}

static void test_numbers(void **state) {
  (void)state;
  struct sbx_prom p;
  sbx_prom_init(&p);
  sbx_prom_sample(&p, "big", NULL, 9007199254740991.0); /* 2^53 - 1: exact, no exponent */
  sbx_prom_sample(&p, "neg", NULL, -2);
  sbx_prom_sample(&p, "tenth", NULL, 0.1);
  sbx_prom_sample(&p, "third", NULL, 1.0 / 3.0);
  sbx_prom_sample(&p, "inf", NULL, 1.0 / 0.0);
  sbx_prom_sample(&p, "nan", NULL, 0.0 / 0.0);
  char *t = text_of(&p);
  assert_string_equal(t, "big 9007199254740991\nneg -2\ntenth 0.1\nthird 0.33333333333333331\ninf +Inf\nnan NaN\n");
  /* every number reads back as what was written */
  assert_true(strtod(strstr(t, "third ") + 6, NULL) == 1.0 / 3.0);
  free(t);
}

static void test_histogram(void **state) {
  (void)state;
  struct sbx_histogram h = {.nbounds = 3, .bounds = {0.1, 1, 10}};
  sbx_histogram_observe(&h, 0.05);
  sbx_histogram_observe(&h, 0.1); /* on a bound: that bucket (le is "less or equal") */
  sbx_histogram_observe(&h, 5);
  sbx_histogram_observe(&h, 50);
  assert_int_equal(h.count, 4);
  struct sbx_prom p;
  sbx_prom_init(&p);
  sbx_prom_histogram(&p, "d", (const char *[]){"kind", "run", NULL}, &h);
  char *t = text_of(&p);
  assert_string_equal(t, "d_bucket{kind=\"run\",le=\"0.1\"} 2\n"
                         "d_bucket{kind=\"run\",le=\"1\"} 2\n"
                         "d_bucket{kind=\"run\",le=\"10\"} 3\n"
                         "d_bucket{kind=\"run\",le=\"+Inf\"} 4\n"
                         "d_sum{kind=\"run\"} 55.15\n"
                         "d_count{kind=\"run\"} 4\n");
  free(t);
  /* no labels: le alone */
  sbx_prom_init(&p);
  struct sbx_histogram empty = {.nbounds = 1, .bounds = {2.5}};
  sbx_prom_histogram(&p, "e", NULL, &empty);
  t = text_of(&p);
  assert_string_equal(t, "e_bucket{le=\"2.5\"} 0\ne_bucket{le=\"+Inf\"} 0\ne_sum 0\ne_count 0\n");
  free(t);
}

static void test_empty(void **state) {
  (void)state;
  struct sbx_prom p;
  sbx_prom_init(&p);
  char *t = text_of(&p);
  assert_string_equal(t, "");
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_family_and_samples), cmocka_unit_test(test_escaping), cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_histogram), cmocka_unit_test(test_empty),
  };
  return cmocka_run_group_tests_name("prom", tests, NULL, NULL);
}
