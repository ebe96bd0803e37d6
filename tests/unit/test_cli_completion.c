/* test_cli_completion.c: the completion scripts' data (cli/completion.c): the flags read
 * from a verb's usage text, and a script that names every verb and only bash or zsh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/completion.h"

static void test_usage_flags(void **state) {
  (void)state;
  char out[512];
  const char *usage = "Usage: sbx wait --for=condition=NAME KIND/NAME... [OPTIONS]\n"
                      "\n"
                      "Wait until -- not an option line.\n"
                      "Options:\n"
                      "      --for=CONDITION      condition=Ready\n"
                      "  -v, --volume SRC:DST[:ro|:rw]\n"
                      "                           mount SRC\n"
                      "  -n, --namespace NS       namespace (default \"default\")\n"
                      "      --address ADDR[,ADDR]  addresses\n"
                      "  -h, --help               show this help\n";
  assert_int_equal(sbx_usage_flags(usage, out, sizeof out), 8);
  assert_string_equal(out, "--for= -v --volume -n --namespace --address -h --help");
  assert_int_equal(sbx_usage_flags("Usage: sbx version\n", out, sizeof out), 0);
  assert_string_equal(out, "");
  /* a small buffer holds what fits, never more */
  char tiny[12];
  sbx_usage_flags(usage, tiny, sizeof tiny);
  assert_true(strlen(tiny) < sizeof tiny);
}

static int dummy(int argc, char **argv, const sbx_cmd_t *self) {
  (void)argc, (void)argv, (void)self;
  return 0;
}

static void test_script(void **state) {
  (void)state;
  const sbx_cmd_t cmds[] = {{"run", dummy, "Run", "Usage: sbx run\nOptions:\n      --rm   remove\n"},
                            {"port-forward", dummy, "Forward", "Usage: x\n  -n, --namespace NS  ns\n"}};
  for (int zsh = 0; zsh < 2; zsh++) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(sbx_completion_write(f, zsh ? "zsh" : "bash", cmds, 2), 0);
    fclose(f);
    assert_non_null(strstr(text, "_sbx_verbs=\"run port-forward help\"\n"));
    assert_non_null(strstr(text, "_sbx_flags_run=\"--rm\"\n"));
    assert_non_null(strstr(text, "_sbx_flags_port_forward=\"-n --namespace\"\n"));
    assert_non_null(strstr(text, "sbx get \"$1\" -o name"));
    if (zsh) {
      assert_memory_equal(text, "#compdef sbx\n", 13);
      assert_non_null(strstr(text, "compdef _sbx sbx"));
    } else {
      assert_non_null(strstr(text, "complete -o default -F _sbx sbx\n"));
    }
    free(text);
  }
  assert_int_equal(sbx_completion_write(stdout, "fish", cmds, 2), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_usage_flags), cmocka_unit_test(test_script)};
  return cmocka_run_group_tests_name("cli_completion", tests, NULL, NULL);
}
