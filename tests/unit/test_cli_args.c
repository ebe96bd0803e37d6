/* test_cli_args.c: the argument languages of wait, scale, create, logs and exec
 * (src/cli/args.c), and where `logs --tail N` starts reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/args.h"

static void test_duration(void **state) {
  (void)state;
  static const struct {
    const char *s;
    long long ms;
  } ok[] = {{"30s", 30000},  {"1m", 60000},   {"1m30s", 90000}, {"500ms", 500},
            {"2h", 7200000}, {"1.5s", 1500},  {"0", 0},         {"45", 45000},
            {"0s", 0},       {"1h1m1s", 3661000}, {"-1", 7LL * 24 * 3600 * 1000},
            {"-5s", 7LL * 24 * 3600 * 1000}};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    long long ms = -42;
    sbx_error_t err = {0};
    if (sbx_parse_duration_ms(ok[i].s, &ms, &err) != 0) fail_msg("\"%s\": %s", ok[i].s, err.msg);
    if (ms != ok[i].ms) fail_msg("\"%s\" is %lld ms, not %lld", ok[i].s, ms, ok[i].ms);
  }
  const char *bad[] = {"", "s", "10x", "1.2.3s", "abc", "5 s", "1m-1s", "99999999999999999h", NULL};
  for (size_t i = 0; bad[i]; i++) {
    long long ms;
    sbx_error_t err = {0};
    if (sbx_parse_duration_ms(bad[i], &ms, &err) != -1) fail_msg("accepted \"%s\"", bad[i]);
    assert_true(err.msg[0] != '\0');
  }
}

static void test_wait_for(void **state) {
  (void)state;
  sbx_wait_for_t w;
  sbx_error_t err = {0};
  assert_int_equal(sbx_parse_wait_for("condition=Ready", &w, &err), 0);
  assert_false(w.delete_);
  assert_string_equal(w.condition, "Ready");
  assert_string_equal(w.value, "True");
  assert_int_equal(sbx_parse_wait_for("condition=Ready=false", &w, &err), 0);
  assert_string_equal(w.condition, "Ready");
  assert_string_equal(w.value, "false");
  assert_int_equal(sbx_parse_wait_for("delete", &w, &err), 0);
  assert_true(w.delete_);
  const char *bad[] = {"", "ready", "condition=", "condition==x", "condition=Ready=",
                       "jsonpath={.x}", NULL};
  for (size_t i = 0; bad[i]; i++)
    if (sbx_parse_wait_for(bad[i], &w, &err) != -1) fail_msg("accepted \"%s\"", bad[i]);
  assert_int_equal(sbx_parse_wait_for(NULL, &w, &err), -1);
}

static void test_replicas(void **state) {
  (void)state;
  int r = -1;
  sbx_error_t err = {0};
  assert_int_equal(sbx_parse_replicas("0", &r, &err), 0);
  assert_int_equal(r, 0);
  assert_int_equal(sbx_parse_replicas("1", &r, &err), 0);
  assert_int_equal(r, 1);
  assert_int_equal(sbx_parse_replicas("2", &r, &err), -1);
  assert_non_null(strstr(err.msg, "one pod or none"));
  const char *bad[] = {"", "-1", "x", "1x", "0.5", NULL};
  for (size_t i = 0; bad[i]; i++)
    if (sbx_parse_replicas(bad[i], &r, &err) != -1) fail_msg("accepted \"%s\"", bad[i]);
  assert_int_equal(sbx_parse_replicas(NULL, &r, &err), -1);
}

static void test_literal_and_file(void **state) {
  (void)state;
  char key[256];
  const char *value, *path;
  bool given;
  sbx_error_t err = {0};
  assert_int_equal(sbx_parse_from_literal("token=a=b", key, sizeof key, &value, &err), 0);
  assert_string_equal(key, "token");
  assert_string_equal(value, "a=b");
  assert_int_equal(sbx_parse_from_literal("empty=", key, sizeof key, &value, &err), 0);
  assert_string_equal(value, "");
  assert_int_equal(sbx_parse_from_literal("novalue", key, sizeof key, &value, &err), -1);
  assert_non_null(strstr(err.msg, "expected key=value"));
  assert_int_equal(sbx_parse_from_literal("=v", key, sizeof key, &value, &err), -1);
  assert_int_equal(sbx_parse_from_literal("a/b=v", key, sizeof key, &value, &err), -1);
  assert_int_equal(sbx_parse_from_literal("..=v", key, sizeof key, &value, &err), -1);

  assert_int_equal(sbx_parse_from_file("/etc/app/config.ini", key, sizeof key, &path, &given, &err), 0);
  assert_string_equal(key, "config.ini");
  assert_string_equal(path, "/etc/app/config.ini");
  assert_false(given);
  assert_int_equal(sbx_parse_from_file("cfg=./a/b.txt", key, sizeof key, &path, &given, &err), 0);
  assert_string_equal(key, "cfg");
  assert_string_equal(path, "./a/b.txt");
  assert_true(given);
  assert_int_equal(sbx_parse_from_file("dir/", key, sizeof key, &path, &given, &err), 0);
  assert_string_equal(key, "dir");
  assert_int_equal(sbx_parse_from_file("=x", key, sizeof key, &path, &given, &err), -1);
  assert_int_equal(sbx_parse_from_file("k=", key, sizeof key, &path, &given, &err), -1);
  assert_int_equal(sbx_parse_from_file("bad key=x", key, sizeof key, &path, &given, &err), -1);

  assert_true(sbx_is_config_key("a-b_c.d"));
  assert_false(sbx_is_config_key(""));
  assert_false(sbx_is_config_key("."));
  assert_false(sbx_is_config_key("a b"));
  char long_key[300];
  memset(long_key, 'k', sizeof long_key - 1);
  long_key[sizeof long_key - 1] = '\0';
  assert_false(sbx_is_config_key(long_key));
}

/* kubectl's env-file lines, and --from-stdin's key */
static void test_env_file_lines(void **state) {
  (void)state;
  char key[256];
  const char *value;
  sbx_error_t err = {0};
  static const struct {
    const char *line, *key, *value; /* key "": no entry; value NULL: from the environment */
  } ok[] = {
      {"HF_TOKEN=hf_abc", "HF_TOKEN", "hf_abc"},
      {"  \tA=two words ", "A", "two words "}, /* leading blanks go, the value stays as it is */
      {"B=", "B", ""},
      {"C=x=y#z", "C", "x=y#z"},
      {"a.b-c=1", "a.b-c", "1"},
      {"FROM_ENV", "FROM_ENV", NULL},
      {"", "", NULL},
      {"   ", "", NULL},
      {"# a comment=1", "", NULL},
      {"  #indented", "", NULL},
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    value = "unset";
    if (sbx_parse_env_line(ok[i].line, key, sizeof key, &value, &err) != 0) fail_msg("\"%s\": %s", ok[i].line, err.msg);
    assert_string_equal(key, ok[i].key);
    if (ok[i].value) assert_string_equal(value, ok[i].value);
    else assert_null(value);
  }
  static const char *bad[] = {"1A=x", "=x", "A B=x", "a/b=1", "..=1", "export A=1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    if (sbx_parse_env_line(bad[i], key, sizeof key, &value, &err) != -1) fail_msg("\"%s\" was taken", bad[i]);
    assert_non_null(strstr(err.msg, "not a valid key name"));
    assert_string_equal(key, "");
  }
  assert_int_equal(sbx_parse_from_stdin("HF_TOKEN", &err), 0);
  assert_int_equal(sbx_parse_from_stdin("", &err), -1);
  assert_int_equal(sbx_parse_from_stdin("a/b", &err), -1);
}

static void test_pod_arg(void **state) {
  (void)state;
  const char *name;
  sbx_error_t err = {0};
  const char *ok[] = {"jl", "pod/jl", "pods/jl", "po/jl", "sandbox/jl", "sbx/jl",
                      "sandboxes.agents.x-k8s.io/jl", NULL};
  for (size_t i = 0; ok[i]; i++) {
    if (sbx_parse_pod_arg(ok[i], &name, &err) != 0) fail_msg("\"%s\": %s", ok[i], err.msg);
    assert_string_equal(name, "jl");
  }
  const char *bad[] = {"secret/jl", "deployment/jl", "pod/", "/jl", "pod/a/b", "", NULL};
  for (size_t i = 0; bad[i]; i++)
    if (sbx_parse_pod_arg(bad[i], &name, &err) != -1) fail_msg("accepted \"%s\"", bad[i]);
}

/* The offset --tail N starts at, in a file holding text. */
static long tail(const char *text, long n) {
  int fd = memfd_create("tail", MFD_CLOEXEC);
  assert_true(fd >= 0);
  size_t len = strlen(text);
  assert_int_equal(write(fd, text, len), (ssize_t)len);
  off_t off = -1;
  sbx_error_t err = {0};
  assert_int_equal(sbx_tail_offset(fd, (off_t)len, n, &off, &err), 0);
  close(fd);
  return (long)off;
}

static void test_tail(void **state) {
  (void)state;
  const char *t = "one\ntwo\nthree\n";
  assert_int_equal(tail(t, -1), 0);
  assert_int_equal(tail(t, 0), 14);
  assert_int_equal(tail(t, 1), 8);   /* "three\n" */
  assert_int_equal(tail(t, 2), 4);   /* "two\nthree\n" */
  assert_int_equal(tail(t, 3), 0);
  assert_int_equal(tail(t, 10), 0);
  /* a last line without its newline is a line */
  assert_int_equal(tail("one\ntwo", 1), 4);
  assert_int_equal(tail("one\ntwo", 2), 0);
  assert_int_equal(tail("", 5), 0);
  assert_int_equal(tail("\n\n\n", 1), 2);
  /* across the 8 KiB blocks it reads backwards in */
  size_t big = 20000;
  char *b = malloc(big + 1);
  assert_non_null(b);
  memset(b, 'x', big);
  b[big] = '\0';
  b[big - 1] = '\n';
  b[9000] = '\n';
  b[100] = '\n';
  assert_int_equal(tail(b, 1), 9001);
  assert_int_equal(tail(b, 2), 101);
  assert_int_equal(tail(b, 3), 0);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_duration),      cmocka_unit_test(test_wait_for),
      cmocka_unit_test(test_replicas),      cmocka_unit_test(test_literal_and_file),
      cmocka_unit_test(test_pod_arg),       cmocka_unit_test(test_env_file_lines),       cmocka_unit_test(test_tail),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
