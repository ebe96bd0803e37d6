/* test_log.c: sbxd's logger (src/daemon/log.c): logfmt quoting (a value can never end its
 * line or forge a field), the line format, the level filter, and access lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/log.h"

static void quoting(void **state) {
  (void)state;
  char out[64];
  sbx_log_quote("plain/path-1", out, sizeof out);
  assert_string_equal(out, "plain/path-1");
  sbx_log_quote("", out, sizeof out);
  assert_string_equal(out, "\"\"");
  sbx_log_quote("two words", out, sizeof out);
  assert_string_equal(out, "\"two words\"");
  sbx_log_quote("a\nlevel=error msg=\"x\"\\", out, sizeof out);
  assert_string_equal(out, "\"a\\nlevel=error msg=\\\"x\\\"\\\\\"");
  sbx_log_quote("bell\a\t", out, sizeof out);
  assert_string_equal(out, "\"bell\\x07\\t\"");
  /* cut to fit, still one terminated string without a raw newline */
  char small[8];
  sbx_log_quote("0123456789\n\n\n", small, sizeof small);
  assert_true(strlen(small) < sizeof small);
  assert_null(strchr(small, '\n'));
}

/* what sbx_log and sbx_log_access write to stderr while fn runs */
static char *capture(void (*fn)(void)) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  int saved = dup(STDERR_FILENO);
  dup2(p[1], STDERR_FILENO);
  close(p[1]);
  fn();
  dup2(saved, STDERR_FILENO);
  close(saved);
  static char buf[8192];
  ssize_t n = read(p[0], buf, sizeof buf - 1);
  close(p[0]);
  buf[n > 0 ? n : 0] = '\0';
  return buf;
}

static void log_some(void) {
  sbx_log_set_level(SBX_LOG_INFO);
  sbx_log(SBX_LOG_DEBUG, "hidden %d", 1);
  sbx_log(SBX_LOG_WARN, "start %s: %s\n", "default/nb", "no space");
  sbx_log_access("http", 1001, "GET", "/version", 200, sbx_log_now_ns());
}

static void lines(void **state) {
  (void)state;
  char *out = capture(log_some);
  assert_null(strstr(out, "hidden"));
  regex_t re;
  assert_int_equal(regcomp(&re,
                           "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z level=warn "
                           "msg=\"start default/nb: no space\"\n"
                           "[0-9T:.-]+Z level=info msg=request proto=http uid=1001 verb=GET object=/version "
                           "code=200 duration_ms=[0-9]+\\.[0-9]{3}\n$",
                           REG_EXTENDED),
                   0);
  if (regexec(&re, out, 0, NULL, 0) != 0) fail_msg("unexpected log output:\n%s", out);
  regfree(&re);
}

static void levels(void **state) {
  (void)state;
  enum sbx_log_level l;
  sbx_error_t err = {0};
  assert_int_equal(sbx_log_level_parse("debug", &l, &err), 0);
  assert_int_equal(l, SBX_LOG_DEBUG);
  assert_int_equal(sbx_log_level_parse("error", &l, &err), 0);
  assert_int_equal(l, SBX_LOG_ERROR);
  assert_int_equal(sbx_log_level_parse("verbose", &l, &err), -1);
  assert_string_equal(err.msg, "takes debug, info, warn or error, not \"verbose\"");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(quoting), cmocka_unit_test(lines), cmocka_unit_test(levels)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
