/* test_manifest.c: unit tests of manifest parsing (src/lib/manifest.c): several YAML
 * documents and JSON in one buffer, typing of plain and quoted scalars, the path -> line
 * map, syntax errors with their line, and the refusals that keep a small input small
 * (aliases, merge keys, nesting depth), plus duplicate keys and non-mapping documents. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/manifest.h"

static struct sbx_manifest_doc *parse_ok(const char *text, size_t *n) {
  struct sbx_manifest_doc *docs = NULL;
  sbx_error_t err = {0};
  if (sbx_manifest_parse(text, strlen(text), "test.yaml", &docs, n, &err) != 0)
    fail_msg("parse failed: %s", err.msg);
  return docs;
}

static void parse_bad(const char *text, const char *needle) {
  struct sbx_manifest_doc *docs = (void *)1;
  size_t n = 99;
  sbx_error_t err = {0};
  int r = sbx_manifest_parse(text, strlen(text), "bad.yaml", &docs, &n, &err);
  if (r != -1) fail_msg("accepted: %s", text);
  assert_null(docs);
  assert_int_equal(n, 0);
  if (!strstr(err.msg, needle)) fail_msg("message lacks \"%s\": %s", needle, err.msg);
}

static json_object *at(json_object *o, const char *k) {
  json_object *v = NULL;
  if (!json_object_object_get_ex(o, k, &v)) fail_msg("no key %s", k);
  return v;
}

static void test_multi_doc(void **state) {
  (void)state;
  size_t n = 0;
  struct sbx_manifest_doc *d = parse_ok("---\n"
                                        "apiVersion: v1\n"
                                        "kind: Secret\n"
                                        "---\n"
                                        "# only a comment: an empty document, skipped\n"
                                        "---\n"
                                        "apiVersion: v1\n"
                                        "kind: ConfigMap\n"
                                        "...\n",
                                        &n);
  assert_int_equal(n, 2);
  assert_string_equal(json_object_get_string(at(d[0].obj, "kind")), "Secret");
  assert_string_equal(json_object_get_string(at(d[1].obj, "kind")), "ConfigMap");
  assert_int_equal(d[0].line, 2);
  assert_int_equal(d[1].line, 7);
  assert_int_equal(sbx_manifest_line(&d[1], "kind"), 8);
  sbx_manifest_docs_free(d, n);

  /* nothing at all: no documents, no error */
  d = parse_ok("", &n);
  assert_int_equal(n, 0);
  sbx_manifest_docs_free(d, n);
  d = parse_ok("---\n---\n", &n);
  assert_int_equal(n, 0);
  sbx_manifest_docs_free(d, n);
}

static void test_json(void **state) {
  (void)state;
  size_t n = 0;
  struct sbx_manifest_doc *d = parse_ok(
      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\n"
      "\t\"metadata\": {\"name\": \"a\", \"labels\": {\"x\": \"1\"}},\n"
      "  \"data\": {\"k\": \"dg==\"}, \"n\": [1, 2.5, true, null, \"3\"]}\n"
      "{\"kind\": \"ConfigMap\"}\n",
      &n);
  /* a stream of JSON objects, as kubectl reads it: each one a document, lines kept */
  assert_int_equal(n, 2);
  assert_string_equal(json_object_get_string(at(d[1].obj, "kind")), "ConfigMap");
  assert_int_equal(d[1].line, 4);
  assert_int_equal(sbx_manifest_line(&d[1], "kind"), 4);
  assert_int_equal(sbx_manifest_line(&d[0], "metadata.labels.x"), 2);
  assert_int_equal(sbx_manifest_line(&d[0], "n[1]"), 3);
  sbx_manifest_docs_free(d, n);

  d = parse_ok("{\"a\":1}{\"b\":2}", &n);
  assert_int_equal(n, 2);
  assert_int_equal(json_object_get_int64(at(d[1].obj, "b")), 2);
  sbx_manifest_docs_free(d, n);

  parse_bad("{\"a\": 1,\n \"b\": 2]\n", "bad.yaml: line 2");
  /* YAML flow mappings at the top are YAML, not a JSON stream */
  d = parse_ok("{a: 1}\n---\n{b: [x, y]}\n", &n);
  assert_int_equal(n, 2);
  assert_int_equal(sbx_manifest_line(&d[1], "b[1]"), 3);
  sbx_manifest_docs_free(d, n);
  parse_bad("{\"a\": 1,\n \"b\": 2\n", "bad.yaml: line 3 column 1: did not find expected ',' or '}'");
  /* past the first object of a stream, json-c's message and line */
  parse_bad("{\"a\": 1}\n{\"b\":\n 2\n", "bad.yaml: line 4 column 1: unexpected end of JSON input");
  parse_bad("{\"a\": 1}\n[1]\n", "line 2 column 1: a manifest document must be a mapping");
}

static void test_json_single(void **state) {
  (void)state;
  size_t n = 0;
  struct sbx_manifest_doc *d = parse_ok(
      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\n"
      "\t\"metadata\": {\"name\": \"a\", \"labels\": {\"x\": \"1\"}},\n"
      "  \"n\": [1, 2.5, true, null, \"3\"], \"s\": \"a\\u0000b\"}\n",
      &n);
  assert_int_equal(n, 1);
  json_object *arr = at(d[0].obj, "n");
  assert_int_equal(json_object_array_length(arr), 5);
  assert_true(json_object_is_type(json_object_array_get_idx(arr, 0), json_type_int));
  assert_true(json_object_is_type(json_object_array_get_idx(arr, 1), json_type_double));
  assert_true(json_object_is_type(json_object_array_get_idx(arr, 2), json_type_boolean));
  assert_null(json_object_array_get_idx(arr, 3));
  assert_true(json_object_is_type(json_object_array_get_idx(arr, 4), json_type_string));
  assert_int_equal(sbx_manifest_line(&d[0], "metadata.name"), 2);
  assert_int_equal(sbx_manifest_line(&d[0], "n[4]"), 3);
  /* a JSON \u0000 survives as a NUL inside the string (validation refuses it later) */
  assert_int_equal(json_object_get_string_len(at(d[0].obj, "s")), 3);
  sbx_manifest_docs_free(d, n);
}

static void test_scalar_types(void **state) {
  (void)state;
  size_t n = 0;
  struct sbx_manifest_doc *d = parse_ok("i: 42\n"
                                        "neg: -7\n"
                                        "octal: 0644\n"
                                        "octal2: 0o17\n"
                                        "hex: 0x1F\n"
                                        "under: 1_000\n"
                                        "f: 0.5\n"
                                        "e: 1e3\n"
                                        "t: true\n"
                                        "yes: yes\n"
                                        "off: Off\n"
                                        "nul: ~\n"
                                        "empty:\n"
                                        "qi: \"42\"\n"
                                        "qt: 'true'\n"
                                        "tagged: !!str 12\n"
                                        "word: hello world\n"
                                        "ver: 1.2.3\n"
                                        "big: 99999999999999999999\n"
                                        "time: 2025-01-01T00:00:00Z\n",
                                        &n);
  assert_int_equal(n, 1);
  json_object *o = d[0].obj;
  assert_int_equal(json_object_get_int64(at(o, "i")), 42);
  assert_int_equal(json_object_get_int64(at(o, "neg")), -7);
  assert_int_equal(json_object_get_int64(at(o, "octal")), 0644);
  assert_int_equal(json_object_get_int64(at(o, "octal2")), 017);
  assert_int_equal(json_object_get_int64(at(o, "hex")), 31);
  assert_int_equal(json_object_get_int64(at(o, "under")), 1000);
  assert_true(json_object_is_type(at(o, "f"), json_type_double));
  /* the number keeps its text */
  assert_string_equal(json_object_to_json_string(at(o, "f")), "0.5");
  assert_true(json_object_is_type(at(o, "e"), json_type_double));
  assert_true(json_object_get_boolean(at(o, "t")));
  assert_true(json_object_is_type(at(o, "yes"), json_type_boolean));
  assert_false(json_object_get_boolean(at(o, "off")));
  assert_null(at(o, "nul"));
  assert_null(at(o, "empty"));
  assert_string_equal(json_object_get_string(at(o, "qi")), "42");
  assert_true(json_object_is_type(at(o, "qt"), json_type_string));
  assert_string_equal(json_object_get_string(at(o, "tagged")), "12");
  assert_true(json_object_is_type(at(o, "tagged"), json_type_string));
  assert_string_equal(json_object_get_string(at(o, "word")), "hello world");
  assert_string_equal(json_object_get_string(at(o, "ver")), "1.2.3");
  assert_true(json_object_is_type(at(o, "big"), json_type_double));
  assert_true(json_object_is_type(at(o, "time"), json_type_string));
  sbx_manifest_docs_free(d, n);
}

static void test_lines(void **state) {
  (void)state;
  size_t n = 0;
  const char *y = "apiVersion: agents.x-k8s.io/v1alpha1\n" /* 1 */
                  "kind: Sandbox\n"                        /* 2 */
                  "metadata:\n"                            /* 3 */
                  "  name: s\n"                            /* 4 */
                  "spec:\n"                                /* 5 */
                  "  podTemplate:\n"                       /* 6 */
                  "    spec:\n"                            /* 7 */
                  "      containers:\n"                    /* 8 */
                  "        - name: a\n"                    /* 9 */
                  "          image: host\n"                /* 10 */
                  "\n"                                     /* 11 */
                  "        - name: b\n"                    /* 12 */
                  "          image: >-\n"                  /* 13 */
                  "            rootfs:/x\n";               /* 14 */
  struct sbx_manifest_doc *d = parse_ok(y, &n);
  assert_int_equal(n, 1);
  assert_int_equal(d[0].line, 1);
  assert_int_equal(sbx_manifest_line(&d[0], ""), 1);
  assert_int_equal(sbx_manifest_line(&d[0], "metadata"), 3);
  assert_int_equal(sbx_manifest_line(&d[0], "metadata.name"), 4);
  assert_int_equal(sbx_manifest_line(&d[0], "spec.podTemplate.spec.containers"), 8);
  assert_int_equal(sbx_manifest_line(&d[0], "spec.podTemplate.spec.containers[0]"), 9);
  assert_int_equal(sbx_manifest_line(&d[0], "spec.podTemplate.spec.containers[0].image"), 10);
  assert_int_equal(sbx_manifest_line(&d[0], "spec.podTemplate.spec.containers[1]"), 12);
  assert_int_equal(sbx_manifest_line(&d[0], "spec.podTemplate.spec.containers[1].image"), 13);
  assert_int_equal(sbx_manifest_line(&d[0], "spec.nothing"), 0);
  assert_int_equal(sbx_manifest_line(NULL, "spec"), 0);
  sbx_manifest_docs_free(d, n);
}

static void test_syntax_errors(void **state) {
  (void)state;
  parse_bad("a: 1\nb: [1, 2\n", "bad.yaml: line ");
  parse_bad("a: 1\n  b: 2\n", "bad.yaml: line 2 column");
  parse_bad("a:\n  - x\n y: 2\n",
            "bad.yaml: line 3 column 2: did not find expected key (while parsing a block "
            "mapping that starts at line 1)");
  parse_bad("key: \"unterminated\n", "bad.yaml: line ");
  parse_bad("a: b\n\tc: d\n", "bad.yaml: line 2");
  /* a control byte in the input: the reader's byte offset becomes a line */
  parse_bad("a: b\nc: \x01\n", "bad.yaml: line 2");
  /* NULL source name */
  struct sbx_manifest_doc *docs = NULL;
  size_t n = 0;
  sbx_error_t err = {0};
  assert_int_equal(sbx_manifest_parse("a: [", 4, NULL, &docs, &n, &err), -1);
  assert_non_null(strstr(err.msg, "input: line "));
}

static void test_refusals(void **state) {
  (void)state;
  parse_bad("a: &x [1, 2]\nb: *x\n", "line 2 column 4: aliases (*x) are not supported");
  parse_bad("base: &b {x: 1}\nmine:\n  <<: *b\n", "line 3");
  parse_bad("mine:\n  <<: {x: 1}\n", "merge keys (<<) are not supported");
  parse_bad("a: 1\nb: 2\na: 3\n", "line 3 column 1: the key \"a\" appears twice");
  parse_bad("? [a, b]\n: 1\n", "a mapping key must be a plain value");
  parse_bad("- a\n- b\n", "line 1 column 1: a manifest document must be a mapping");
  parse_bad("---\napiVersion: v1\n---\njust a string\n", "line 4 column 1: a manifest document must be a mapping");
  parse_bad("a: !python/object x\n", "the tag \"!python/object\" is not supported");
  parse_bad("a: !!int abc\n", "\"abc\" is not a valid !!int");
  parse_bad("\"a\\u0000b\": 1\n", "must not contain a NUL");
}

/* Nesting is bounded: 64 levels parse, 65 do not, and a deep input fails fast. */
static void test_depth(void **state) {
  (void)state;
  char buf[4096];
  size_t n = 0;
  for (int depth = 63; depth <= 65; depth++) {
    /* a mapping at the root, then depth-1 nested sequences */
    size_t o = (size_t)snprintf(buf, sizeof buf, "a: ");
    for (int i = 1; i < depth; i++) buf[o++] = '[';
    buf[o++] = '1';
    for (int i = 1; i < depth; i++) buf[o++] = ']';
    buf[o] = '\0';
    struct sbx_manifest_doc *docs = NULL;
    sbx_error_t err = {0};
    int r = sbx_manifest_parse(buf, o, "deep.yaml", &docs, &n, &err);
    if (depth <= SBX_MANIFEST_MAX_DEPTH) {
      if (r != 0) fail_msg("depth %d refused: %s", depth, err.msg);
      sbx_manifest_docs_free(docs, n);
    } else {
      assert_int_equal(r, -1);
      assert_non_null(strstr(err.msg, "nested more than 64 levels deep"));
    }
  }
  /* a megabyte of '[' is refused at the 65th without building anything */
  size_t big = 1 << 20;
  char *deep = malloc(big);
  assert_non_null(deep);
  memset(deep, '[', big);
  struct sbx_manifest_doc *docs = NULL;
  sbx_error_t err = {0};
  assert_int_equal(sbx_manifest_parse(deep, big, "deep.yaml", &docs, &n, &err), -1);
  assert_non_null(strstr(err.msg, "line 1 column 65: nested more than 64"));
  free(deep);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_multi_doc),    cmocka_unit_test(test_json),
      cmocka_unit_test(test_json_single),  cmocka_unit_test(test_scalar_types),
      cmocka_unit_test(test_lines),        cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_refusals),     cmocka_unit_test(test_depth),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
