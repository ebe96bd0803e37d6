/* test_quantity.c: unit tests of Kubernetes quantity parsing (src/lib/quantity.c):
 * exact values, rounding up, suffixes and exponents, overflow at the int64 edge, the
 * inputs that must be refused, and the messages that say why. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/quantity.h"

static void expect_milli(const char *s, int64_t want) {
  sbx_error_t err = {0};
  int64_t v = -42;
  int r = sbx_quantity_parse(s, &v, &err);
  if (r != 0) fail_msg("parse \"%s\" failed: %s", s, err.msg);
  if (v != want) fail_msg("parse \"%s\": got %lld, want %lld", s, (long long)v, (long long)want);
}

static void expect_bytes(const char *s, int64_t want) {
  sbx_error_t err = {0};
  int64_t v = -42;
  int r = sbx_quantity_bytes(s, &v, &err);
  if (r != 0) fail_msg("bytes \"%s\" failed: %s", s, err.msg);
  if (v != want) fail_msg("bytes \"%s\": got %lld, want %lld", s, (long long)v, (long long)want);
}

static void expect_cpu(const char *s, int64_t want) {
  sbx_error_t err = {0};
  int64_t v = -42;
  int r = sbx_quantity_cpu_millis(s, &v, &err);
  if (r != 0) fail_msg("cpu \"%s\" failed: %s", s, err.msg);
  if (v != want) fail_msg("cpu \"%s\": got %lld, want %lld", s, (long long)v, (long long)want);
}

/* Refused by the parser: err filled, output untouched, message contains `needle`. */
static void expect_bad(const char *s, int errnum, const char *needle) {
  sbx_error_t err = {0};
  int64_t v = -42;
  int r = sbx_quantity_parse(s, &v, &err);
  if (r != -1) fail_msg("parse \"%s\" was accepted as %lld", s ? s : "(null)", (long long)v);
  assert_int_equal(v, -42);
  assert_int_equal(err.errnum, errnum);
  if (!strstr(err.msg, needle)) fail_msg("message for \"%s\" lacks \"%s\": %s", s, needle, err.msg);
  /* The CPU view (milli-units too) refuses it the same way; the byte view has a wider
   * range, so it refuses malformed input only (test_boundaries covers its own range). */
  assert_int_equal(sbx_quantity_cpu_millis(s, &v, &err), -1);
  assert_int_equal(err.errnum, errnum);
  if (errnum == EINVAL) assert_int_equal(sbx_quantity_bytes(s, &v, &err), -1);
  assert_int_equal(v, -42);
}

static void test_plain_numbers(void **state) {
  (void)state;
  expect_milli("0", 0);
  expect_milli("1", 1000);
  expect_milli("2", 2000);
  expect_milli("+2", 2000);
  expect_milli("007", 7000);
  expect_milli("0.5", 500);
  expect_milli("1.5", 1500);
  expect_milli("0.001", 1);
  expect_milli("00.250", 250);
  expect_milli("123456789", 123456789000);
}

static void test_decimal_suffixes(void **state) {
  (void)state;
  expect_milli("500m", 500);
  expect_milli("1500m", 1500);
  expect_milli("1k", 1000000);
  expect_milli("128M", 128000000000);
  expect_milli("1G", INT64_C(1000000000000));
  expect_milli("1T", INT64_C(1000000000000000));
  expect_milli("1P", INT64_C(1000000000000000000));
  expect_milli("1000u", 1);
  expect_milli("1000000n", 1);
  expect_bytes("128M", 128000000);
  expect_bytes("1E", INT64_C(1000000000000000000));
  /* 8E bytes fits an int64 although 8E milli-units do not. */
  expect_bytes("8E", INT64_C(8000000000000000000));
  expect_bad("8E", ERANGE, "too large");
}

static void test_binary_suffixes(void **state) {
  (void)state;
  expect_bytes("1Ki", 1024);
  expect_bytes("1.5Ki", 1536);
  expect_bytes("4Gi", INT64_C(4294967296));
  expect_milli("4Gi", INT64_C(4294967296000));
  expect_bytes("512Mi", INT64_C(536870912));
  expect_bytes("1Ti", INT64_C(1099511627776));
  expect_bytes("1Pi", INT64_C(1125899906842624));
  expect_bytes("1Ei", INT64_C(1152921504606846976));
  expect_bytes("7Ei", INT64_C(8070450532247928832));
  expect_bytes("7.999Ei", INT64_C(9222219115350168962)); /* 7.999 * 2^60 rounded up */
  expect_bytes("0.5Ki", 512);
  expect_bytes("0.001Ki", 2);  /* 1.024 bytes -> 2 */
  expect_milli("1Ki", 1024000);
  expect_milli("0.1Ki", 102400);
}

static void test_exponents(void **state) {
  (void)state;
  expect_milli("1e3", 1000000);
  expect_milli("1E3", 1000000);
  expect_milli("1e+3", 1000000);
  expect_milli("1e-3", 1);
  expect_milli("15e-1", 1500);
  expect_milli("1e0", 1000);
  expect_milli("0e999999999999999999999", 0);
  expect_milli("1e-4", 1);  /* rounds up */
  expect_milli("1e-99999999999", 1);
  expect_bytes("1e9", 1000000000);
  expect_bytes("2.5e2", 250);
  expect_bad("1e99", ERANGE, "too large");
  expect_bad("1e", EINVAL, "unknown suffix");
  expect_bad("1e+", EINVAL, "unknown suffix");
  expect_bad("1e3.5", EINVAL, "unknown suffix");
}

static void test_rounding(void **state) {
  (void)state;
  expect_bytes("100m", 1);
  expect_bytes("1m", 1);
  expect_bytes("1001m", 2);
  expect_bytes("1000m", 1);
  expect_bytes("1.1", 2);
  expect_milli("0.0001", 1);
  expect_milli("0.0010", 1);
  expect_milli("0.00100001", 2);
  expect_milli("1n", 1);
  expect_milli("0.000000000000000000000000000001", 1);
  expect_milli("1.0000000000000000000000000000", 1000);
}

static void test_cpu(void **state) {
  (void)state;
  expect_cpu("0.5", 500);
  expect_cpu("500m", 500);
  expect_cpu("1500m", 1500);
  expect_cpu("2", 2000);
  expect_cpu("1n", 1);
  expect_cpu("64", 64000);

  sbx_error_t err = {0};
  int64_t v = -42;
  assert_int_equal(sbx_quantity_cpu_millis("0", &v, &err), -1);
  assert_non_null(strstr(err.msg, "must be positive"));
  assert_non_null(strstr(err.msg, "\"0\""));
  assert_int_equal(sbx_quantity_cpu_millis("0m", &v, &err), -1);
  assert_int_equal(sbx_quantity_cpu_millis("0.000", &v, &err), -1);
  assert_int_equal(v, -42);
}

static void test_bytes_positive(void **state) {
  (void)state;
  sbx_error_t err = {0};
  int64_t v = -42;
  assert_int_equal(sbx_quantity_bytes("0", &v, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  assert_non_null(strstr(err.msg, "must be positive"));
  assert_int_equal(sbx_quantity_bytes("0Gi", &v, &err), -1);
  assert_int_equal(v, -42);
  /* Zero is a valid quantity in itself. */
  assert_int_equal(sbx_quantity_parse("0Gi", &v, &err), 0);
  assert_int_equal(v, 0);
}

static void test_boundaries(void **state) {
  (void)state;
  expect_milli("9223372036854775807m", INT64_MAX);
  expect_bad("9223372036854775808m", ERANGE, "too large");
  expect_milli("9223372036854775.807", INT64_MAX);
  expect_bad("9223372036854775.8071", ERANGE, "too large"); /* rounds up past the edge */
  expect_bytes("9223372036854775807", INT64_MAX);
  sbx_error_t err = {0};
  int64_t v;
  assert_int_equal(sbx_quantity_bytes("9223372036854775808", &v, &err), -1);
  assert_int_equal(err.errnum, ERANGE);
  expect_bytes("8Pi", INT64_C(9007199254740992));
  expect_milli("8Pi", INT64_C(9007199254740992000));
  expect_bad("9Pi", ERANGE, "too large");
  expect_bad("9Ei", ERANGE, "too large");
  assert_int_equal(sbx_quantity_bytes("9Ei", &v, &err), -1);
  assert_int_equal(err.errnum, ERANGE);
  assert_int_equal(sbx_quantity_bytes("8Ei", &v, &err), -1); /* 2^63 */
  expect_bad("99999999Ei", ERANGE, "too large");
  expect_bad("99999999999999999999999999999999999", ERANGE, "too large");
}

static void test_refused(void **state) {
  (void)state;
  expect_bad(NULL, EINVAL, "empty");
  expect_bad("", EINVAL, "empty");
  expect_bad("-1", EINVAL, "negative");
  expect_bad("-0", EINVAL, "negative");
  expect_bad("1.5.5Gi", EINVAL, "more than one decimal point");
  expect_bad("1..5", EINVAL, "digit after");
  expect_bad("1Gb", EINVAL, "unknown suffix \"Gb\"");
  expect_bad("1K", EINVAL, "unknown suffix");
  expect_bad("1gi", EINVAL, "unknown suffix");
  expect_bad("1iG", EINVAL, "unknown suffix");
  expect_bad("1GiB", EINVAL, "unknown suffix");
  expect_bad("1mm", EINVAL, "unknown suffix");
  expect_bad(" 1", EINVAL, "must be a number");
  expect_bad("1 ", EINVAL, "unknown suffix");
  expect_bad("1 Gi", EINVAL, "unknown suffix");
  expect_bad("0x10", EINVAL, "unknown suffix");
  expect_bad("+", EINVAL, "must be a number");
  expect_bad("++1", EINVAL, "must be a number");
  expect_bad("+-1", EINVAL, "must be a number");
  expect_bad(".", EINVAL, "must be a number");
  expect_bad("Gi", EINVAL, "must be a number");
  expect_bad("1.", EINVAL, "digit after");
  expect_bad("1.Gi", EINVAL, "digit after");
  expect_bad(".5", EINVAL, "digit before");
  expect_bad("+.5", EINVAL, "digit before");
  expect_bad("1,5", EINVAL, "unknown suffix");
  expect_bad("inf", EINVAL, "must be a number");
  expect_bad("NaN", EINVAL, "must be a number");
  expect_bad("1\n", EINVAL, "\\x0a");
}

static void test_message_escapes_input(void **state) {
  (void)state;
  sbx_error_t err = {0};
  int64_t v;
  assert_int_equal(sbx_quantity_parse("1\x1b[31mGi", &v, &err), -1);
  assert_null(strchr(err.msg, '\x1b'));
  assert_non_null(strstr(err.msg, "\\x1b"));
  assert_int_equal(sbx_quantity_parse("5\xc3\xa9", &v, &err), -1);
  assert_non_null(strstr(err.msg, "\\xc3\\xa9"));
  /* A long input is quoted truncated, and refused as too long. */
  char big[400];
  memset(big, '1', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(sbx_quantity_parse(big, &v, &err), -1);
  assert_non_null(strstr(err.msg, "too long"));
  assert_non_null(strstr(err.msg, "..."));
  assert_true(strlen(err.msg) < 200);
}

/* The other way: what quota objects and messages show, and it parses back to the value. */
static void test_format(void **state) {
  (void)state;
  char buf[32];
  int64_t v;
  sbx_error_t err = {0};
  const int64_t cpus[] = {1000, 2500, 500, 16000};
  const char *cpu_text[] = {"1", "2500m", "500m", "16"};
  for (size_t i = 0; i < 4; i++) {
    sbx_quantity_format_cpu(cpus[i], buf, sizeof buf);
    assert_string_equal(buf, cpu_text[i]);
    assert_int_equal(sbx_quantity_cpu_millis(buf, &v, &err), 0);
    assert_int_equal(v, cpus[i]);
  }
  const int64_t bytes[] = {1LL << 30, 1536LL << 10, 1000, 0, 3LL << 40};
  const char *byte_text[] = {"1Gi", "1536Ki", "1000", "0", "3Ti"};
  for (size_t i = 0; i < 5; i++) {
    sbx_quantity_format_bytes(bytes[i], buf, sizeof buf);
    assert_string_equal(buf, byte_text[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_plain_numbers),    cmocka_unit_test(test_decimal_suffixes),
      cmocka_unit_test(test_binary_suffixes),  cmocka_unit_test(test_exponents),
      cmocka_unit_test(test_rounding),         cmocka_unit_test(test_cpu),
      cmocka_unit_test(test_bytes_positive),   cmocka_unit_test(test_boundaries),
      cmocka_unit_test(test_refused),          cmocka_unit_test(test_message_escapes_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
