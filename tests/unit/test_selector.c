/* test_selector.c: unit tests of the label and field selector grammar and matching
 * (src/lib/selector.c): every operator, spacing, and malformed input refused with a
 * message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/selector.h"

static json_object *labels(const char *json) { return json_tokener_parse(json); }

/* whether `sel` (which must parse) selects the labels `json` */
static bool selects(const char *sel, const char *json) {
  struct sbx_selector s;
  sbx_error_t err = {0};
  assert_int_equal(sbx_label_selector_parse(sel, &s, &err), 0);
  json_object *l = labels(json);
  bool m = sbx_selector_match_labels(&s, l);
  json_object_put(l);
  sbx_selector_free(&s);
  return m;
}

static void test_equality(void **state) {
  (void)state;
  assert_true(selects("app=big", "{\"app\":\"big\"}"));
  assert_true(selects("app==big", "{\"app\":\"big\",\"x\":\"y\"}"));
  assert_false(selects("app=big", "{\"app\":\"small\"}"));
  assert_false(selects("app=big", "{}"));
  assert_false(selects("app=big", "null"));
  assert_true(selects("app!=big", "{\"app\":\"small\"}"));
  assert_true(selects("app!=big", "{}"));
  assert_false(selects("app!=big", "{\"app\":\"big\"}"));
  assert_true(selects(" app = big , tier==web ", "{\"app\":\"big\",\"tier\":\"web\"}"));
  assert_false(selects("app=big,tier=web", "{\"app\":\"big\",\"tier\":\"db\"}"));
  assert_true(selects("example.com/team=ml", "{\"example.com/team\":\"ml\"}"));
  assert_true(selects("app=", "{\"app\":\"\"}"));
  assert_true(selects("", "{}"));
  assert_true(selects(NULL, "{\"a\":\"b\"}"));
}

static void test_sets_and_existence(void **state) {
  (void)state;
  assert_true(selects("app in (big,small)", "{\"app\":\"small\"}"));
  assert_true(selects("app in ( big , small )", "{\"app\":\"big\"}"));
  assert_false(selects("app in (big,small)", "{\"app\":\"mid\"}"));
  assert_false(selects("app in (big)", "{}"));
  assert_true(selects("app notin (big)", "{\"app\":\"small\"}"));
  assert_true(selects("app notin (big)", "{}"));
  assert_false(selects("app notin (big,small)", "{\"app\":\"small\"}"));
  assert_true(selects("app", "{\"app\":\"x\"}"));
  assert_false(selects("app", "{}"));
  assert_true(selects("!app", "{}"));
  assert_false(selects("!app", "{\"app\":\"x\"}"));
  assert_true(selects("app,!gpu,tier in (a,b)", "{\"app\":\"x\",\"tier\":\"b\"}"));
  /* "in" and "notin" are keys when not followed by a set */
  assert_true(selects("in", "{\"in\":\"x\"}"));
  assert_true(selects("notin=1", "{\"notin\":\"1\"}"));
}

static void refused(const char *sel, const char *says) {
  struct sbx_selector s = {0};
  sbx_error_t err = {0};
  assert_int_equal(sbx_label_selector_parse(sel, &s, &err), -1);
  assert_int_equal(err.errnum, EINVAL);
  if (!strstr(err.msg, says)) fail_msg("%s: message \"%s\" lacks \"%s\"", sel, err.msg, says);
  assert_non_null(strstr(err.msg, "labelSelector"));
  assert_int_equal(s.n, 0);
}

static void test_malformed_labels(void **state) {
  (void)state;
  refused("app=big,", "expected a label key");
  refused(",app", "expected a label key");
  refused("=big", "expected a label key");
  refused("app=big=x", "expected \",\" or the end");
  refused("app in big", "expected \"(\"");
  refused("app in (big", "expected \",\" or \")\"");
  refused("app in ()", "at least one value");
  refused("app notin", "expected one of");
  refused("app=b@d", "expected \",\" or the end");
  refused("app=-bad", "not a valid label value");
  refused("-app=x", "not a valid label key");
  refused("app > 3", "expected one of");
  refused("!app=x", "expected \",\" or the end");
  refused("a/b/c=x", "not a valid label key");
  /* bounded: the text and the number of requirements */
  static char many[1200], longest[5000];
  for (int i = 0; i < 65; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "%sk%d", i ? "," : "", i);
  refused(many, "too many requirements");
  memset(longest, 'a', 4200);
  refused(longest, "too long");
}

static void test_fields(void **state) {
  (void)state;
  static const char *const fields[] = {"metadata.name", "metadata.namespace", NULL};
  json_object *o = json_tokener_parse("{\"metadata\":{\"name\":\"kc\",\"namespace\":\"default\"}}");
  struct sbx_selector s;
  sbx_error_t err = {0};
  assert_int_equal(sbx_field_selector_parse("metadata.name=kc", fields, &s, &err), 0);
  assert_true(sbx_selector_match_fields(&s, o));
  assert_string_equal(sbx_selector_equal_value(&s, "metadata.name"), "kc");
  assert_null(sbx_selector_equal_value(&s, "metadata.namespace"));
  sbx_selector_free(&s);
  assert_int_equal(sbx_field_selector_parse("metadata.name==other", fields, &s, &err), 0);
  assert_false(sbx_selector_match_fields(&s, o));
  sbx_selector_free(&s);
  assert_int_equal(sbx_field_selector_parse("metadata.namespace!=prod,metadata.name=kc", fields, &s, &err), 0);
  assert_true(sbx_selector_match_fields(&s, o));
  sbx_selector_free(&s);
  assert_int_equal(sbx_field_selector_parse("metadata.namespace!=default", fields, &s, &err), 0);
  assert_false(sbx_selector_match_fields(&s, o));
  sbx_selector_free(&s);
  json_object_put(o);

  assert_int_equal(sbx_field_selector_parse("spec.nodeName=x", fields, &s, &err), -1);
  assert_non_null(strstr(err.msg, "field label \"spec.nodeName\" is not supported"));
  assert_non_null(strstr(err.msg, "metadata.name, metadata.namespace"));
  assert_int_equal(sbx_field_selector_parse("metadata.name", fields, &s, &err), -1);
  assert_non_null(strstr(err.msg, "expected =, == or !="));
  assert_int_equal(sbx_field_selector_parse("metadata.name in (a)", fields, &s, &err), -1);
  assert_int_equal(sbx_field_selector_parse("metadata.name=a\\,b", fields, &s, &err), -1);
  assert_int_equal(sbx_field_selector_parse("metadata.name=a,", fields, &s, &err), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_equality),
      cmocka_unit_test(test_sets_and_existence),
      cmocka_unit_test(test_malformed_labels),
      cmocka_unit_test(test_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
