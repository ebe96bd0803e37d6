/* test_cli_apply.c: the pure parts of `sbx apply` (src/cli/apply.c): where a document goes
 * (kind, version, namespace, and the namespace conflict kubectl refuses), what is sent,
 * and when an object already there counts as unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/apply.h"

static json_object *parse(const char *s) {
  json_object *o = json_tokener_parse(s);
  if (!o) fail_msg("bad JSON in the test: %s", s);
  return o;
}

static void test_target(void **state) {
  (void)state;
  sbx_apply_target_t t;
  sbx_error_t err = {0};
  json_object *sb = parse("{\"apiVersion\":\"agents.x-k8s.io/v1beta1\",\"kind\":\"Sandbox\","
                          "\"metadata\":{\"name\":\"jl\"},\"spec\":{}}");
  assert_int_equal(sbx_apply_target(sb, NULL, &t, &err), 0);
  assert_string_equal(t.path, "/apis/agents.x-k8s.io/v1beta1/namespaces/default/sandboxes/jl");
  assert_string_equal(t.collection, "/apis/agents.x-k8s.io/v1beta1/namespaces/default/sandboxes");
  assert_string_equal(t.display, "sandbox.agents.x-k8s.io");
  assert_string_equal(t.name, "jl");
  assert_int_equal(sbx_apply_target(sb, "team-a", &t, &err), 0);
  assert_string_equal(t.ns, "team-a");
  assert_string_equal(t.path, "/apis/agents.x-k8s.io/v1beta1/namespaces/team-a/sandboxes/jl");
  json_object_put(sb);

  json_object *a1 = parse("{\"apiVersion\":\"agents.x-k8s.io/v1alpha1\",\"kind\":\"Sandbox\","
                          "\"metadata\":{\"name\":\"jl\",\"namespace\":\"ml\"}}");
  assert_int_equal(sbx_apply_target(a1, NULL, &t, &err), 0);
  assert_string_equal(t.path, "/apis/agents.x-k8s.io/v1alpha1/namespaces/ml/sandboxes/jl");
  assert_int_equal(sbx_apply_target(a1, "ml", &t, &err), 0);
  /* kubectl: the object's namespace and -n must agree */
  assert_int_equal(sbx_apply_target(a1, "other", &t, &err), -1);
  assert_non_null(strstr(err.msg, "does not match the namespace \"other\""));
  assert_non_null(strstr(err.msg, "--namespace=ml"));
  json_object_put(a1);

  json_object *sec = parse("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"hf\"}}");
  assert_int_equal(sbx_apply_target(sec, NULL, &t, &err), 0);
  assert_string_equal(t.path, "/api/v1/namespaces/default/secrets/hf");
  assert_string_equal(t.display, "secret");
  json_object_put(sec);
  json_object *cm = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}");
  assert_int_equal(sbx_apply_target(cm, NULL, &t, &err), 0);
  assert_string_equal(t.collection, "/api/v1/namespaces/default/configmaps");
  assert_string_equal(t.display, "configmap");
  json_object_put(cm);

  const char *bad[] = {
      "{\"apiVersion\":\"agents.x-k8s.io/v2\",\"kind\":\"Sandbox\",\"metadata\":{\"name\":\"a\"}}",
      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Sandbox\",\"metadata\":{\"name\":\"a\"}}",
      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}",
      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{}}",
      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"a/b\"}}",
      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"a\",\"namespace\":\"..\"}}",
      NULL};
  for (size_t i = 0; bad[i]; i++) {
    json_object *o = parse(bad[i]);
    if (sbx_apply_target(o, NULL, &t, &err) != -1) fail_msg("accepted %s", bad[i]);
    json_object_put(o);
  }
}

static void test_body(void **state) {
  (void)state;
  sbx_apply_target_t t;
  sbx_error_t err = {0};
  json_object *doc = parse(
      "{\"apiVersion\":\"agents.x-k8s.io/v1alpha1\",\"kind\":\"Sandbox\","
      "\"metadata\":{\"name\":\"jl\",\"uid\":\"u\",\"resourceVersion\":\"7\","
      "\"creationTimestamp\":\"2024-01-01T00:00:00Z\",\"annotations\":{\"a\":\"b\"}},"
      "\"spec\":{\"replicas\":1},\"status\":{\"x\":1}}");
  assert_int_equal(sbx_apply_target(doc, "ns1", &t, &err), 0);
  json_object *body = sbx_apply_body(doc, &t);
  assert_non_null(body);
  json_object *md = json_object_object_get(body, "metadata");
  assert_null(json_object_object_get(body, "status"));
  assert_null(json_object_object_get(md, "uid"));
  assert_null(json_object_object_get(md, "resourceVersion"));
  assert_null(json_object_object_get(md, "creationTimestamp"));
  assert_string_equal(json_object_get_string(json_object_object_get(md, "namespace")), "ns1");
  json_object *ann = json_object_object_get(md, "annotations");
  assert_string_equal(json_object_get_string(json_object_object_get(ann, "a")), "b");
  json_object *last = json_tokener_parse(
      json_object_get_string(json_object_object_get(ann, SBX_LAST_APPLIED)));
  assert_non_null(last);
  /* the last-applied copy is the body without itself */
  assert_int_equal(json_object_object_get(json_object_object_get(json_object_object_get(last,
                   "metadata"), "annotations"), SBX_LAST_APPLIED) == NULL, 1);
  assert_int_equal(json_object_get_int(json_object_object_get(
                       json_object_object_get(last, "spec"), "replicas")), 1);
  /* the document itself is untouched */
  assert_non_null(json_object_object_get(doc, "status"));
  json_object_put(last);
  json_object_put(body);
  json_object_put(doc);

  /* Secrets carry no copy of their values in an annotation */
  json_object *sec = parse("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"},"
                           "\"stringData\":{\"token\":\"hunter2\"}}");
  assert_int_equal(sbx_apply_target(sec, NULL, &t, &err), 0);
  body = sbx_apply_body(sec, &t);
  assert_non_null(body);
  assert_null(strstr(json_object_to_json_string(json_object_object_get(body, "metadata")), "hunter2"));
  json_object_put(body);
  json_object_put(sec);
}

/* The result of applying `doc` over `live`. */
static bool unchanged(const char *doc_s, const char *live_s) {
  json_object *doc = parse(doc_s), *live = parse(live_s);
  sbx_apply_target_t t;
  sbx_error_t err = {0};
  assert_int_equal(sbx_apply_target(doc, NULL, &t, &err), 0);
  json_object *body = sbx_apply_body(doc, &t);
  bool r = sbx_apply_unchanged(t.kind, body, live);
  json_object_put(body);
  json_object_put(doc);
  json_object_put(live);
  return r;
}

#define SB "{\"apiVersion\":\"agents.x-k8s.io/v1alpha1\",\"kind\":\"Sandbox\","

static void test_unchanged_sandbox(void **state) {
  (void)state;
  const char *doc = SB "\"metadata\":{\"name\":\"jl\",\"labels\":{\"team\":\"ml\"}},"
                       "\"spec\":{\"podTemplate\":{\"spec\":{\"containers\":[{\"name\":\"c\","
                       "\"image\":\"host\",\"ports\":[{\"containerPort\":8888}]}]}}}}";
  /* the server added defaults, its owner annotation, status: still unchanged */
  assert_true(unchanged(doc, SB "\"metadata\":{\"name\":\"jl\",\"namespace\":\"default\","
                                "\"labels\":{\"team\":\"ml\"},\"annotations\":"
                                "{\"sbx.x-k8s.io/owner-uid\":\"1001\"}},"
                                "\"spec\":{\"replicas\":1,\"podTemplate\":{\"spec\":{\"restartPolicy\":"
                                "\"Always\",\"containers\":[{\"name\":\"c\",\"image\":\"host\","
                                "\"ports\":[{\"containerPort\":8888.0,\"protocol\":\"TCP\"}]}]}}},"
                                "\"status\":{\"conditions\":[]}}"));
  /* a changed value, a changed label, a new annotation, a missing container */
  assert_false(unchanged(doc, SB "\"metadata\":{\"name\":\"jl\",\"labels\":{\"team\":\"ml\"}},"
                                 "\"spec\":{\"podTemplate\":{\"spec\":{\"containers\":[{\"name\":\"c\","
                                 "\"image\":\"rootfs:/x\",\"ports\":[{\"containerPort\":8888}]}]}}}}"));
  assert_false(unchanged(doc, SB "\"metadata\":{\"name\":\"jl\",\"labels\":{\"team\":\"cv\"}},"
                                 "\"spec\":{\"podTemplate\":{\"spec\":{\"containers\":[{\"name\":\"c\","
                                 "\"image\":\"host\",\"ports\":[{\"containerPort\":8888}]}]}}}}"));
  assert_false(unchanged(doc, SB "\"metadata\":{\"name\":\"jl\",\"labels\":{\"team\":\"ml\"},"
                                 "\"annotations\":{\"note\":\"x\"}},"
                                 "\"spec\":{\"podTemplate\":{\"spec\":{\"containers\":[{\"name\":\"c\","
                                 "\"image\":\"host\",\"ports\":[{\"containerPort\":8888}]}]}}}}"));
  assert_false(unchanged(doc, SB "\"metadata\":{\"name\":\"jl\",\"labels\":{\"team\":\"ml\"}},"
                                 "\"spec\":{\"podTemplate\":{\"spec\":{\"containers\":[]}}}}"));
  /* scaled down by `sbx scale` (live replicas 0), the file says 1: configured */
  assert_false(unchanged(SB "\"metadata\":{\"name\":\"jl\"},\"spec\":{\"replicas\":1}}",
                         SB "\"metadata\":{\"name\":\"jl\"},\"spec\":{\"replicas\":0}}"));
}

/* Three-way: a field the last apply set and this one does not was removed by the user. */
static void test_three_way(void **state) {
  (void)state;
  json_object *want = parse("{\"a\":1,\"list\":[{\"x\":1}]}");
  json_object *live = parse("{\"a\":1,\"b\":2,\"list\":[{\"x\":1,\"d\":true}]}");
  json_object *last_without_b = parse("{\"a\":1,\"list\":[{\"x\":1}]}");
  json_object *last_with_b = parse("{\"a\":1,\"b\":2,\"list\":[{\"x\":1}]}");
  json_object *last_with_d = parse("{\"a\":1,\"list\":[{\"x\":1,\"d\":true}]}");
  assert_true(sbx_apply_fields_equal(want, live, NULL));
  assert_true(sbx_apply_fields_equal(want, live, last_without_b));
  assert_false(sbx_apply_fields_equal(want, live, last_with_b));
  assert_false(sbx_apply_fields_equal(want, live, last_with_d));
  json_object *num = parse("{\"n\":2}"), *dbl = parse("{\"n\":2.0}"), *str = parse("{\"n\":\"2\"}");
  assert_true(sbx_apply_fields_equal(num, dbl, NULL));
  assert_false(sbx_apply_fields_equal(num, str, NULL));
  json_object *objs[] = {want, live, last_without_b, last_with_b, last_with_d, num, dbl, str};
  for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) json_object_put(objs[i]);

  /* end to end through the annotation: apply, then apply without the field */
  const char *live_s =
      SB "\"metadata\":{\"name\":\"jl\",\"annotations\":{\"" SBX_LAST_APPLIED "\":"
         "\"{\\\"spec\\\":{\\\"podTemplate\\\":{\\\"spec\\\":{\\\"hostname\\\":\\\"h\\\"}}}}\"}},"
         "\"spec\":{\"podTemplate\":{\"spec\":{\"hostname\":\"h\",\"restartPolicy\":\"Always\"}}}}";
  assert_false(unchanged(SB "\"metadata\":{\"name\":\"jl\"},\"spec\":{\"podTemplate\":{\"spec\":{}}}}",
                         live_s));
  assert_true(unchanged(SB "\"metadata\":{\"name\":\"jl\"},\"spec\":{\"podTemplate\":{\"spec\":"
                           "{\"hostname\":\"h\"}}}}",
                        live_s));
}

static void test_unchanged_secret_configmap(void **state) {
  (void)state;
  /* stringData is compared as the base64 the server folds it into; type defaults to Opaque */
  const char *doc = "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"},"
                    "\"stringData\":{\"token\":\"hunter2\"},\"data\":{\"raw\":\"AAE=\"}}";
  assert_true(unchanged(doc, "{\"metadata\":{\"name\":\"s\"},\"type\":\"Opaque\","
                             "\"data\":{\"token\":\"aHVudGVyMg==\",\"raw\":\"AAE=\"}}"));
  assert_false(unchanged(doc, "{\"metadata\":{\"name\":\"s\"},\"type\":\"Opaque\","
                              "\"data\":{\"token\":\"aHVudGVyMw==\",\"raw\":\"AAE=\"}}"));
  assert_false(unchanged(doc, "{\"metadata\":{\"name\":\"s\"},\"type\":\"Opaque\","
                              "\"data\":{\"token\":\"aHVudGVyMg==\",\"raw\":\"AAE=\",\"old\":\"eA==\"}}"));
  assert_false(unchanged(doc, "{\"metadata\":{\"name\":\"s\"},\"type\":\"kubernetes.io/tls\","
                              "\"data\":{\"token\":\"aHVudGVyMg==\",\"raw\":\"AAE=\"}}"));
  const char *cm = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
                   "\"data\":{\"a\":\"1\"}}";
  assert_true(unchanged(cm, "{\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"1\"}}"));
  assert_false(unchanged(cm, "{\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"2\"}}"));
  assert_false(unchanged(cm, "{\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"1\"},"
                             "\"binaryData\":{\"b\":\"AA==\"}}"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_target),
      cmocka_unit_test(test_body),
      cmocka_unit_test(test_unchanged_sandbox),
      cmocka_unit_test(test_three_way),
      cmocka_unit_test(test_unchanged_secret_configmap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
