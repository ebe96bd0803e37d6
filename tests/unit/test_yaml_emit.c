/* test_yaml_emit.c: JSON -> YAML emission (src/lib/yaml_emit.c): exact output for nested
 * objects and arrays, and strings that must be quoted to stay strings — checked both by
 * the predicate and by reading the emitted YAML back with libyaml's parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <yaml.h>

#include "lib/yaml_emit.h"

static json_object *parse(const char *text) {
  json_object *o = json_tokener_parse(text);
  assert_non_null(o);
  return o;
}

static void assert_yaml(const char *json, unsigned flags, const char *expected) {
  json_object *o = parse(json);
  sbx_error_t err = {0};
  char *y = sbx_yaml_from_json(o, flags, &err);
  assert_non_null(y);
  assert_string_equal(y, expected);
  free(y);
  json_object_put(o);
}

static void test_ambiguous(void **state) {
  (void)state;
  const char *quote[] = {"",      "yes",   "Yes",  "NO",   "on",     "Off",   "y",    "n",
                         "true",  "False", "null", "~",    "1",      "-1",    "+12",  "1.5",
                         ".5",    "1e3",   "0x1F", "0o17", "0b101",  "1_000", "12:30", ".inf",
                         "-.Inf", ".NaN",  "<<",   "=",    "2024-01-02",
                         "2024-01-02T03:04:05Z", NULL};
  for (size_t i = 0; quote[i]; i++) {
    if (!sbx_yaml_plain_is_ambiguous(quote[i])) fail_msg("\"%s\" should need quotes", quote[i]);
  }
  const char *plain[] = {"hello", "v1.2.3", "x1", "yes please", "NaN", "1.5Gi!", "sandbox",
                         "agents.x-k8s.io/v1alpha1", "-", "Running", NULL};
  for (size_t i = 0; plain[i]; i++) {
    if (sbx_yaml_plain_is_ambiguous(plain[i])) fail_msg("\"%s\" needs no quotes", plain[i]);
  }
}

static void test_nested(void **state) {
  (void)state;
  assert_yaml("{\"kind\":\"Sandbox\",\"metadata\":{\"name\":\"a\",\"labels\":{\"x\":\"1\"}},"
              "\"spec\":{\"containers\":[{\"image\":\"host\",\"args\":[\"-c\",\"print(1)\"]}],"
              "\"replicas\":1,\"ratio\":0.5,\"on\":true,\"none\":null,\"empty\":{},\"list\":[]}}",
              0,
              "kind: Sandbox\n"
              "metadata:\n"
              "  name: a\n"
              "  labels:\n"
              "    x: \"1\"\n"
              "spec:\n"
              "  containers:\n"
              "  - image: host\n"
              "    args:\n"
              "    - -c\n"
              "    - print(1)\n"
              "  replicas: 1\n"
              "  ratio: 0.5\n"
              "  \"on\": true\n"
              "  none: null\n"
              "  empty: {}\n"
              "  list: []\n");
}

static void test_sorted(void **state) {
  (void)state;
  assert_yaml("{\"b\":1,\"a\":{\"z\":1,\"c\":[{\"w\":1,\"x\":2}]}}", SBX_YAML_SORT_KEYS,
              "a:\n"
              "  c:\n"
              "  - w: 1\n"
              "    x: 2\n"
              "  z: 1\n"
              "b: 1\n");
}

static void test_strings(void **state) {
  (void)state;
  assert_yaml("{\"a\":\"yes\",\"b\":\"1\",\"c\":\":\",\"d\":\"x: y\",\"e\":\"\",\"f\":\"# no\","
              "\"g\":\"two\\nlines\\n\",\"h\":\"h\\u00e9\"}",
              0,
              "a: \"yes\"\n"
              "b: \"1\"\n"
              "c: ':'\n"
              "d: 'x: y'\n"
              "e: \"\"\n"
              "f: '# no'\n"
              "g: |\n"
              "  two\n"
              "  lines\n"
              "h: h\xc3\xa9\n");
}

static void test_top_level(void **state) {
  (void)state;
  assert_yaml("[1,[2,3],{\"a\":[]}]", 0, "- 1\n- - 2\n  - 3\n- a: []\n");
  assert_yaml("\"yes\"", 0, "\"yes\"\n");
  assert_yaml("{}", 0, "{}\n");
}

/* Read the value of key "k" back with libyaml's parser: the string and its style. */
static char *read_back(const char *yaml, yaml_scalar_style_t *style) {
  yaml_parser_t p;
  assert_true(yaml_parser_initialize(&p));
  yaml_parser_set_input_string(&p, (const unsigned char *)yaml, strlen(yaml));
  char *value = NULL;
  int scalars = 0;
  *style = YAML_ANY_SCALAR_STYLE;
  for (;;) {
    yaml_event_t ev;
    assert_true(yaml_parser_parse(&p, &ev));
    yaml_event_type_t t = ev.type;
    if (t == YAML_SCALAR_EVENT && ++scalars == 2) {
      value = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
      *style = ev.data.scalar.style;
    }
    yaml_event_delete(&ev);
    if (t == YAML_STREAM_END_EVENT) break;
  }
  yaml_parser_delete(&p);
  assert_non_null(value);
  return value;
}

static void test_round_trip(void **state) {
  (void)state;
  const char *strings[] = {"yes", "1", ":", "- x", "a: b", "", "#c", "[x]", "{y}", "x\ny",
                           " lead", "trail ", "'q'", "\"dq\"", "tab\there", "back\\slash",
                           "null", "2024-01-02T03:04:05Z", "*alias", "&anchor", "!tag", "%p",
                           "@at", "`bt", "|", ">", "multi\nline\n", "a\n\nb", NULL};
  for (size_t i = 0; strings[i]; i++) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "k", json_object_new_string(strings[i]));
    sbx_error_t err = {0};
    char *y = sbx_yaml_from_json(o, 0, &err);
    assert_non_null(y);
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    char *back = read_back(y, &style);
    if (strcmp(back, strings[i]) != 0) fail_msg("\"%s\" came back as \"%s\" from %s", strings[i], back, y);
    if (sbx_yaml_plain_is_ambiguous(strings[i]) && style == YAML_PLAIN_SCALAR_STYLE)
      fail_msg("\"%s\" was emitted plain: %s", strings[i], y);
    free(back);
    free(y);
    json_object_put(o);
  }
}

static void test_write(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  json_object *o = parse("{\"a\":[true,false]}");
  sbx_error_t err = {0};
  assert_int_equal(sbx_yaml_write(f, o, 0, &err), 0);
  fclose(f);
  assert_string_equal(buf, "a:\n- true\n- false\n");
  free(buf);
  json_object_put(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ambiguous), cmocka_unit_test(test_nested),
      cmocka_unit_test(test_sorted),    cmocka_unit_test(test_strings),
      cmocka_unit_test(test_top_level), cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_write),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
