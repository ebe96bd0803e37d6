/* test_config.c: sbxd's config file and flags (src/daemon/config.c), over a small option
 * table of the test's own: keys are the long options, the file's values are applied
 * through the same callback as the flags', flags win (a repeatable option's whole list),
 * and every bad line is reported with file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/config.h"

static const struct option table[] = {{"root", required_argument, NULL, 'r'},
                                      {"warm-pool", required_argument, NULL, 'w'},
                                      {"allow-host-path", required_argument, NULL, 'H'},
                                      {"debug-mode", no_argument, NULL, 'D'},
                                      {"help", no_argument, NULL, 'h'},
                                      {NULL, 0, NULL, 0}};
static const char *const repeatable[] = {"allow-host-path", NULL};
static const char *const cli_only[] = {"help", NULL};
static const char *const defaults[] = {"root=/var/lib/sbx", "warm-pool=3", NULL};

/* what the callback was given, in order, as "r=/x" lines */
static char applied[4096];
static int helps;

static int apply(int val, const char *arg, sbx_error_t *err) {
  if (val == 'h') {
    helps++;
    return 0;
  }
  if (val == 'w') {
    char *end;
    long n = strtol(arg, &end, 10);
    if (!*arg || *end || n < 0 || n > 64) return sbx_error_says(err, 22, "takes a number from 0 to 64, not \"%s\"", arg);
  }
  size_t o = strlen(applied);
  snprintf(applied + o, sizeof applied - o, "%c=%s\n", val, arg ? arg : "(none)");
  return 0;
}

static const struct sbx_conf_spec spec = {.program = "sbxd", .options = table, .short_options = "h",
                                          .repeatable = repeatable, .cli_only = cli_only, .defaults = defaults,
                                          .default_path = "/nonexistent/sbx-test/sbxd.conf", .apply = apply};

static char file_path[64];
static char *errors;

static void write_file(const char *text) {
  strcpy(file_path, "/tmp/sbx-test-conf-XXXXXX");
  int fd = mkstemp(file_path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

/* parse argv (NULL-ended) and the file; errors land in `errors` */
static int load(struct sbx_conf *conf, const char **args) {
  char *argv[16];
  int argc = 0;
  argv[argc++] = "sbxd";
  for (; *args; args++) argv[argc++] = (char *)*args;
  argv[argc] = NULL;
  applied[0] = '\0';
  helps = 0;
  free(errors);
  size_t len;
  FILE *errs = open_memstream(&errors, &len);
  int r = sbx_conf_load(&spec, argc, argv, conf, errs);
  fclose(errs);
  return r;
}

/* the errors hold "sbxd: FILE:LINE: what" (the test's file) */
static void assert_file_error(int line, const char *what) {
  char want[512];
  snprintf(want, sizeof want, "sbxd: %s:%d: %s", file_path, line, what);
  if (!strstr(errors, want)) fail_msg("missing \"%s\" in:\n%s", want, errors);
}

static int teardown(void **state) {
  (void)state;
  if (file_path[0]) unlink(file_path);
  file_path[0] = '\0';
  free(errors);
  errors = NULL;
  return 0;
}

static void defaults_alone(void **state) {
  (void)state;
  struct sbx_conf conf;
  const char *args[] = {NULL};
  assert_int_equal(load(&conf, args), 0); /* the default file is missing: fine */
  assert_string_equal(applied, "r=/var/lib/sbx\nw=3\n");
  assert_null(conf.path);
  sbx_conf_free(&conf);
}

static void file_then_flags(void **state) {
  (void)state;
  write_file("# sbxd settings\n"
             "\n"
             "warm-pool = 5   # spares\n"
             "allow-host-path = /data:rw\n"
             "allow-host-path=/models\n"
             "  debug-mode = yes\n");
  struct sbx_conf conf;
  const char *args[] = {"--config", file_path, NULL};
  assert_int_equal(load(&conf, args), 0);
  assert_string_equal(applied, "r=/var/lib/sbx\nw=5\nH=/data:rw\nH=/models\nD=(none)\n");
  assert_string_equal(conf.path, file_path);
  sbx_conf_free(&conf);

  /* a flag replaces the file's value, and a repeatable flag the file's whole list */
  const char *args2[] = {"--config", file_path, "--warm-pool", "0", "--allow-host-path", "/scratch", NULL};
  assert_int_equal(load(&conf, args2), 0);
  assert_string_equal(applied, "r=/var/lib/sbx\nD=(none)\nw=0\nH=/scratch\n");

  /* the effective settings, with their origins */
  char *out;
  size_t len;
  FILE *f = open_memstream(&out, &len);
  sbx_conf_print(&spec, &conf, f);
  fclose(f);
  char want[512];
  snprintf(want, sizeof want, "debug-mode = true  # %s:6\n", file_path);
  assert_non_null(strstr(out, want));
  assert_non_null(strstr(out, "root = /var/lib/sbx  # default\n"));
  assert_non_null(strstr(out, "warm-pool = 0  # command line\n"));
  assert_non_null(strstr(out, "allow-host-path = /scratch  # command line\n"));
  assert_null(strstr(out, "/data"));
  assert_null(strstr(out, "help"));
  free(out);
  sbx_conf_free(&conf);
}

static void unknown_key_hints(void **state) {
  (void)state;
  write_file("warm_pool = 2\nfrobnicate = 1\n--root = /x\n");
  struct sbx_conf conf;
  const char *args[] = {"--config", file_path, NULL};
  assert_int_equal(load(&conf, args), -1);
  assert_file_error(1, "unknown key \"warm_pool\" (did you mean \"warm-pool\"?)\n");
  assert_file_error(2, "unknown key \"frobnicate\" (the keys are sbxd's long options");
  assert_file_error(3, "write the key without dashes: \"root = /x\"\n");
  assert_string_equal(applied, "r=/var/lib/sbx\nw=3\n"); /* the wrong lines count for nothing */
  sbx_conf_free(&conf);
}

static void bad_value_names_its_line(void **state) {
  (void)state;
  write_file("root = /srv/sbx\n\n# more\nwarm-pool = lots\nfrobnicate = 1\n");
  struct sbx_conf conf;
  const char *args[] = {"--config", file_path, NULL};
  assert_int_equal(load(&conf, args), -1);
  /* every error at once: the unknown key of line 5 and the bad value of line 4 */
  assert_file_error(4, "warm-pool: takes a number from 0 to 64, not \"lots\"\n");
  assert_file_error(5, "unknown key \"frobnicate\"");
  sbx_conf_free(&conf);

  /* the same value on the command line names the flag */
  const char *args2[] = {"--warm-pool", "-1", NULL};
  assert_int_equal(load(&conf, args2), -1);
  assert_string_equal(errors, "sbxd: --warm-pool: takes a number from 0 to 64, not \"-1\"\n");
  sbx_conf_free(&conf);
}

static void duplicates_and_shapes(void **state) {
  (void)state;
  write_file("warm-pool = 1\nallow-host-path = /a\nallow-host-path = /b\nwarm-pool = 2\n"
             "root\nroot =\ndebug-mode = maybe\nhelp = true\nconfig = /etc/other.conf\n");
  struct sbx_conf conf;
  const char *args[] = {"--config", file_path, NULL};
  assert_int_equal(load(&conf, args), -1);
  assert_file_error(4, "warm-pool is already set on line 1 (it takes one value)\n");
  assert_file_error(5, "expected \"key = value\", got \"root\"\n");
  assert_file_error(6, "root needs a value (\"root = VALUE\")\n");
  assert_file_error(7, "debug-mode takes true or false, not \"maybe\"\n");
  assert_file_error(8, "help can only be given on the command line\n");
  assert_file_error(9, "config can only be given on the command line\n");
  assert_null(strstr(errors, ":3:")); /* a repeatable key may be repeated */
  sbx_conf_free(&conf);
}

static void explicit_file_must_exist(void **state) {
  (void)state;
  struct sbx_conf conf;
  const char *args[] = {"--config", "/nonexistent/sbx-test/other.conf", NULL};
  assert_int_equal(load(&conf, args), -1);
  assert_string_equal(errors, "sbxd: cannot read the config file /nonexistent/sbx-test/other.conf: No such file or directory\n");
  sbx_conf_free(&conf);
}

static void check_and_cli_only(void **state) {
  (void)state;
  struct sbx_conf conf;
  const char *args[] = {"--check-config", "--help", NULL};
  assert_int_equal(load(&conf, args), 0);
  assert_true(conf.check);
  assert_int_equal(helps, 1); /* acted on at once */
  sbx_conf_free(&conf);
  const char *args2[] = {"--warm-pool", "2", "stray", NULL};
  assert_int_equal(load(&conf, args2), -1);
  assert_non_null(strstr(errors, "sbxd: unexpected argument stray\n"));
  sbx_conf_free(&conf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(defaults_alone, teardown),
      cmocka_unit_test_teardown(file_then_flags, teardown),
      cmocka_unit_test_teardown(unknown_key_hints, teardown),
      cmocka_unit_test_teardown(bad_value_names_its_line, teardown),
      cmocka_unit_test_teardown(duplicates_and_shapes, teardown),
      cmocka_unit_test_teardown(explicit_file_must_exist, teardown),
      cmocka_unit_test_teardown(check_and_cli_only, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
