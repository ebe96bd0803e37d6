/* test_names.c: unit tests of name validation and message escaping (src/lib/names.c):
 * the RFC 1123 label and subdomain rules at their edges, names that would be unsafe as
 * path components, environment variable names, and escaping of hostile bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/names.h"

static char *repeat(char c, size_t n) {
  static char buf[1024];
  assert_true(n < sizeof buf);
  memset(buf, c, n);
  buf[n] = '\0';
  return buf;
}

static void test_label_valid(void **state) {
  (void)state;
  assert_true(sbx_is_dns_label("a"));
  assert_true(sbx_is_dns_label("0"));
  assert_true(sbx_is_dns_label("jupyterlab-sandbox"));
  assert_true(sbx_is_dns_label("a-b-c"));
  assert_true(sbx_is_dns_label("a--b"));
  assert_true(sbx_is_dns_label("1abc"));
  assert_true(sbx_is_dns_label(repeat('a', 63)));
}

static void test_label_invalid(void **state) {
  (void)state;
  assert_false(sbx_is_dns_label(NULL));
  assert_false(sbx_is_dns_label(""));
  assert_false(sbx_is_dns_label(repeat('a', 64)));
  assert_false(sbx_is_dns_label(repeat('a', 300)));
  assert_false(sbx_is_dns_label("-a"));
  assert_false(sbx_is_dns_label("a-"));
  assert_false(sbx_is_dns_label("-"));
  assert_false(sbx_is_dns_label("Abc"));
  assert_false(sbx_is_dns_label("a/b"));
  assert_false(sbx_is_dns_label("/"));
  assert_false(sbx_is_dns_label(".."));
  assert_false(sbx_is_dns_label("."));
  assert_false(sbx_is_dns_label("a.b"));
  assert_false(sbx_is_dns_label("a_b"));
  assert_false(sbx_is_dns_label("a b"));
  assert_false(sbx_is_dns_label("caf\xc3\xa9"));
  assert_false(sbx_is_dns_label("a\nb"));
}

static void test_subdomain(void **state) {
  (void)state;
  assert_true(sbx_is_dns_subdomain("a"));
  assert_true(sbx_is_dns_subdomain("agents.x-k8s.io"));
  assert_true(sbx_is_dns_subdomain("a.b.c"));
  assert_true(sbx_is_dns_subdomain("0.0"));
  assert_false(sbx_is_dns_subdomain(NULL));
  assert_false(sbx_is_dns_subdomain(""));
  assert_false(sbx_is_dns_subdomain("."));
  assert_false(sbx_is_dns_subdomain(".."));
  assert_false(sbx_is_dns_subdomain("a..b"));
  assert_false(sbx_is_dns_subdomain(".a"));
  assert_false(sbx_is_dns_subdomain("a."));
  assert_false(sbx_is_dns_subdomain("a.-b"));
  assert_false(sbx_is_dns_subdomain("a-.b"));
  assert_false(sbx_is_dns_subdomain("a/b"));
  assert_false(sbx_is_dns_subdomain("A.b"));
  assert_false(sbx_is_dns_subdomain("a_b.c"));

  /* 253 characters is the limit: labels of 63 joined by dots. */
  char buf[1200], l[64];
  strcpy(l, repeat('a', 63));
  snprintf(buf, sizeof buf, "%s.%s.%s.%s", l, l, l, repeat('b', 61));
  assert_int_equal(strlen(buf), 253);
  assert_true(sbx_is_dns_subdomain(buf));
  snprintf(buf, sizeof buf, "%s.%s.%s.%s", l, l, l, repeat('b', 62));
  assert_int_equal(strlen(buf), 254);
  assert_false(sbx_is_dns_subdomain(buf));
  assert_false(sbx_is_dns_subdomain(repeat('a', 300)));
}

static void test_env_name(void **state) {
  (void)state;
  assert_true(sbx_is_env_name("PATH"));
  assert_true(sbx_is_env_name("_"));
  assert_true(sbx_is_env_name("a1_B2"));
  assert_true(sbx_is_env_name("_X"));
  assert_false(sbx_is_env_name(NULL));
  assert_false(sbx_is_env_name(""));
  assert_false(sbx_is_env_name("1A"));
  assert_false(sbx_is_env_name("A-B"));
  assert_false(sbx_is_env_name("A=B"));
  assert_false(sbx_is_env_name("A B"));
  assert_false(sbx_is_env_name("A.B"));
  assert_false(sbx_is_env_name("\xc3\xa9"));
}

/* validate_label fails and its message contains each needle. */
static void expect_refused(const char *name, const char *needle) {
  sbx_error_t err = {0};
  assert_int_equal(sbx_name_validate_label(name, "sandbox name", &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  if (!strstr(err.msg, needle)) fail_msg("message lacks \"%s\": %s", needle, err.msg);
  if (!strstr(err.msg, "sandbox name")) fail_msg("message lacks what: %s", err.msg);
  if (!strstr(err.msg, "must be a lowercase RFC 1123 label: a-z, 0-9 and '-', starting and "
                       "ending with a letter or digit, at most 63 characters"))
    fail_msg("message lacks the rule: %s", err.msg);
}

static void test_validate_label(void **state) {
  (void)state;
  sbx_error_t err = {0};
  assert_int_equal(sbx_name_validate_label("jupyterlab-sandbox", "sandbox name", &err), 0);
  assert_int_equal(sbx_name_validate_label(repeat('z', 63), "metadata.name", &err), 0);

  expect_refused(NULL, "must not be empty");
  expect_refused("", "must not be empty");
  expect_refused("a/b", "contains '/'");
  expect_refused("../etc", "contains '.'");
  expect_refused("..", "contains '.'");
  expect_refused("Jupyter", "upper-case letter 'J' (use 'j')");
  expect_refused("-lab", "starts with '-'");
  expect_refused("lab-", "ends with '-'");
  expect_refused("caf\xc3\xa9", "non-ASCII byte \\xc3");
  expect_refused("caf\xc3\xa9", "\"caf\\xc3\\xa9\"");
  expect_refused("a\tb", "control character \\x09");
  expect_refused("a_b", "contains the character '_'");
  expect_refused(repeat('a', 300), "is 300 characters long");
  expect_refused(repeat('a', 64), "is 64 characters long");

  /* The 300-character name is quoted truncated: the message stays short. */
  assert_int_equal(sbx_name_validate_label(repeat('a', 300), "sandbox name", &err), -1);
  assert_non_null(strstr(err.msg, "aaa...\""));
  assert_true(strlen(err.msg) < 400);

  /* A NULL what still gives a message. */
  assert_int_equal(sbx_name_validate_label("A", NULL, &err), -1);
  assert_non_null(strstr(err.msg, "name \"A\""));
  /* A NULL err is allowed. */
  assert_int_equal(sbx_name_validate_label("A", "x", NULL), -1);
}

static void test_escape(void **state) {
  (void)state;
  char out[64];
  sbx_escape_for_message("plain-name", 100, out, sizeof out);
  assert_string_equal(out, "plain-name");
  sbx_escape_for_message("a\nb\x1b[0m", 100, out, sizeof out);
  assert_string_equal(out, "a\\x0ab\\x1b[0m");
  sbx_escape_for_message("\xff\x7f", 100, out, sizeof out);
  assert_string_equal(out, "\\xff\\x7f");
  sbx_escape_for_message("q\"b\\", 100, out, sizeof out);
  assert_string_equal(out, "q\\x22b\\x5c");
  sbx_escape_for_message("abcdef", 3, out, sizeof out);
  assert_string_equal(out, "abc...");
  sbx_escape_for_message("abc", 3, out, sizeof out);
  assert_string_equal(out, "abc");
  sbx_escape_for_message("", 3, out, sizeof out);
  assert_string_equal(out, "");
  sbx_escape_for_message(NULL, 10, out, sizeof out);
  assert_string_equal(out, "(null)");

  /* A short buffer: always terminated, escapes never split, "..." marks the cut. */
  char small[8];
  sbx_escape_for_message("abcdefghij", 100, small, sizeof small);
  assert_string_equal(small, "abcd...");
  sbx_escape_for_message("\x01\x02\x03", 100, small, sizeof small);
  assert_string_equal(small, "\\x01...");
  sbx_escape_for_message("a\x01\x02", 100, small, sizeof small);
  assert_string_equal(small, "a...");
  char tiny[2] = {'x', 'x'};
  sbx_escape_for_message("abc", 100, tiny, sizeof tiny);
  assert_string_equal(tiny, "");
  char exact[5];
  sbx_escape_for_message("\x01", 100, exact, sizeof exact);
  assert_string_equal(exact, "\\x01");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_label_valid),    cmocka_unit_test(test_label_invalid),
      cmocka_unit_test(test_subdomain),      cmocka_unit_test(test_env_name),
      cmocka_unit_test(test_validate_label), cmocka_unit_test(test_escape),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
