/* test_volumes_pure.c: unit tests of the pure parts of src/daemon/volumes.c: the
 * --allow-host-path argument, matching a hostPath against the allowed directories (whole
 * components, longest match, "." and ".." refused), secret/configMap item paths and data
 * keys (they become file names), and capacities written as quantities. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/controller/volumes.h"
#include "daemon/controller/disk.h"

static void test_rule_parse(void **state) {
  (void)state;
  struct sbx_host_path_rule r;
  sbx_error_t err = {0};
  assert_int_equal(sbx_host_path_rule_parse("/srv/data", &r, &err), 0);
  assert_string_equal(r.dir, "/srv/data");
  assert_false(r.rw);
  free(r.dir);
  assert_int_equal(sbx_host_path_rule_parse("/srv/models:rw", &r, &err), 0);
  assert_string_equal(r.dir, "/srv/models");
  assert_true(r.rw);
  free(r.dir);
  assert_int_equal(sbx_host_path_rule_parse("/srv/x:ro", &r, &err), 0);
  assert_string_equal(r.dir, "/srv/x");
  assert_false(r.rw);
  free(r.dir);
  assert_int_equal(sbx_host_path_rule_parse("relative/dir", &r, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  assert_int_equal(sbx_host_path_rule_parse(":rw", &r, &err), -1);
  assert_int_equal(sbx_host_path_rule_parse("", &r, &err), -1);
}

static void test_match(void **state) {
  (void)state;
  const struct sbx_host_path_rule rules[] = {{"/srv/data", false}, {"/srv/data/models", true}, {"/opt/lake/", false}};
  assert_int_equal(sbx_host_path_match(rules, 3, "/srv/data"), 0);
  assert_int_equal(sbx_host_path_match(rules, 3, "/srv/data/"), 0);
  assert_int_equal(sbx_host_path_match(rules, 3, "/srv//data/x/y"), 0);
  assert_int_equal(sbx_host_path_match(rules, 3, "/srv/data/models"), 1);
  assert_int_equal(sbx_host_path_match(rules, 3, "/srv/data/models/bert"), 1);
  assert_int_equal(sbx_host_path_match(rules, 3, "/srv/data/modelsX"), 0);
  assert_int_equal(sbx_host_path_match(rules, 3, "/opt/lake"), 2);
  /* prefixes of names are not parents */
  assert_int_equal(sbx_host_path_match(rules, 3, "/srv/database"), -1);
  assert_int_equal(sbx_host_path_match(rules, 3, "/srv"), -1);
  assert_int_equal(sbx_host_path_match(rules, 3, "/etc"), -1);
  assert_int_equal(sbx_host_path_match(rules, 3, "/"), -1);
  /* no way around by dots, and only absolute paths */
  assert_int_equal(sbx_host_path_match(rules, 3, "/srv/data/../../etc"), -2);
  assert_int_equal(sbx_host_path_match(rules, 3, "/srv/data/./x"), -2);
  assert_int_equal(sbx_host_path_match(rules, 3, "srv/data"), -2);
  assert_int_equal(sbx_host_path_match(rules, 3, ""), -2);
  assert_int_equal(sbx_host_path_match(rules, 0, "/srv/data"), -1);
  const struct sbx_host_path_rule all[] = {{"/", false}};
  assert_int_equal(sbx_host_path_match(all, 1, "/etc"), 0);
}

static void test_item_paths(void **state) {
  (void)state;
  assert_true(sbx_volume_item_path_ok("token"));
  assert_true(sbx_volume_item_path_ok("dir/sub/file.txt"));
  assert_true(sbx_volume_item_path_ok("..data")); /* a name that starts with dots is a name */
  assert_false(sbx_volume_item_path_ok(""));
  assert_false(sbx_volume_item_path_ok(NULL));
  assert_false(sbx_volume_item_path_ok("/etc/passwd"));
  assert_false(sbx_volume_item_path_ok(".."));
  assert_false(sbx_volume_item_path_ok("../x"));
  assert_false(sbx_volume_item_path_ok("a/../../x"));
  assert_false(sbx_volume_item_path_ok("a//b"));
  assert_false(sbx_volume_item_path_ok("./a"));
  assert_false(sbx_volume_item_path_ok("a/"));
}

static void test_keys(void **state) {
  (void)state;
  assert_true(sbx_config_key_ok("HF_TOKEN"));
  assert_true(sbx_config_key_ok("config.yaml"));
  assert_true(sbx_config_key_ok("a-b_c.d"));
  assert_false(sbx_config_key_ok(""));
  assert_false(sbx_config_key_ok("."));
  assert_false(sbx_config_key_ok(".."));
  assert_false(sbx_config_key_ok("a/b"));
  assert_false(sbx_config_key_ok("a b"));
  char big[300];
  memset(big, 'a', 254);
  big[254] = '\0';
  assert_false(sbx_config_key_ok(big));
  big[253] = '\0';
  assert_true(sbx_config_key_ok(big));
}

static void test_quantity(void **state) {
  (void)state;
  char b[32];
  sbx_bytes_quantity(20LL << 30, b, sizeof b);
  assert_string_equal(b, "20Gi");
  sbx_bytes_quantity(512LL << 20, b, sizeof b);
  assert_string_equal(b, "512Mi");
  sbx_bytes_quantity(3072, b, sizeof b);
  assert_string_equal(b, "3Ki");
  sbx_bytes_quantity(1536, b, sizeof b);
  assert_string_equal(b, "1536");
  sbx_bytes_quantity(1000, b, sizeof b);
  assert_string_equal(b, "1000");
  sbx_bytes_quantity(1LL << 40, b, sizeof b);
  assert_string_equal(b, "1Ti");
}

/* Claims fit while what they promise stays within ratio x the free space. */
static void test_disk_admit(void **state) {
  (void)state;
  sbx_error_t err = {0};
  const int64_t Mi = 1LL << 20;
  assert_int_equal(sbx_disk_admit("claim a", 300 * Mi, 480 * Mi, 0, 1.0, "/r", &err), 0);
  assert_int_equal(sbx_disk_admit("claim a", 2LL << 40, 480 * Mi, 0, 1.0, "/var/lib/sbx", &err), -1);
  assert_int_equal(err.errnum, ENOSPC);
  assert_string_equal(err.msg, "claim a asks 2.0Ti; 480Mi is free on /var/lib/sbx (over-commit 1.0)");
  /* two that each fit but not together; over-commit 2.0 takes both */
  assert_int_equal(sbx_disk_admit("claim b", 300 * Mi, 480 * Mi, 300 * Mi, 1.0, "/r", &err), -1);
  assert_string_equal(err.msg, "claim b asks 300Mi; 480Mi is free on /r, 300Mi of it promised to other claims (over-commit 1.0)");
  assert_int_equal(sbx_disk_admit("claim b", 300 * Mi, 480 * Mi, 300 * Mi, 2.0, "/r", &err), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_disk_admit),
      cmocka_unit_test(test_rule_parse), cmocka_unit_test(test_match), cmocka_unit_test(test_item_paths),
      cmocka_unit_test(test_keys),       cmocka_unit_test(test_quantity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
