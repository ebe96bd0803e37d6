/* test_convert.c: unit tests of Sandbox version conversion and defaults, Secret
 * normalisation (src/lib/convert.c) and base64 (src/lib/base64.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/base64.h"
#include "lib/convert.h"
#include "lib/manifest.h"

static json_object *yaml(const char *text) {
  struct sbx_manifest_doc *docs = NULL;
  size_t n = 0;
  sbx_error_t err = {0};
  if (sbx_manifest_parse(text, strlen(text), "t.yaml", &docs, &n, &err) != 0)
    fail_msg("parse: %s", err.msg);
  assert_int_equal(n, 1);
  json_object *o = json_object_get(docs[0].obj);
  sbx_manifest_docs_free(docs, n);
  return o;
}

/* Value at a dotted path ("spec.podTemplate.spec.containers.0.name"), NULL if absent. */
static json_object *at(json_object *o, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  char *save = NULL;
  for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
    if (json_object_is_type(o, json_type_array)) {
      o = json_object_array_get_idx(o, (size_t)atoi(k));
    } else {
      json_object *v = NULL;
      if (!json_object_object_get_ex(o, k, &v)) return NULL;
      o = v;
    }
  }
  return o;
}

static const char *s_at(json_object *o, const char *path) {
  json_object *v = at(o, path);
  if (!v) fail_msg("no %s", path);
  return json_object_get_string(v);
}

static void test_alpha_to_stored(void **state) {
  (void)state;
  json_object *in = yaml("apiVersion: agents.x-k8s.io/v1alpha1\n"
                         "kind: Sandbox\n"
                         "metadata:\n"
                         "  name: sb\n"
                         "  labels: {a: b}\n"
                         "  uid: will-not-be-copied\n"
                         "  resourceVersion: \"3\"\n"
                         "spec:\n"
                         "  replicas: 0\n"
                         "  podTemplate:\n"
                         "    metadata: {labels: {x: z}}\n"
                         "    spec:\n"
                         "      containers:\n"
                         "        - name: c\n"
                         "          image: host\n"
                         "          args:\n"
                         "          resources: {requests: {cpu: 0.5, memory: 1Gi}, limits: {cpu: 2}}\n"
                         "      volumes: [{name: v, emptyDir: {sizeLimit: 1000}}]\n"
                         "  volumeClaimTemplates:\n"
                         "    - metadata: {name: w}\n"
                         "      spec: {resources: {requests: {storage: 20Gi}}}\n"
                         "status: {replicas: 1}\n");
  const char *before = strdup(json_object_to_json_string(in));
  sbx_error_t err = {0};
  json_object *st = sbx_sandbox_to_stored(in, &err);
  if (!st) fail_msg("%s", err.msg);
  /* the input is not changed */
  assert_string_equal(before, json_object_to_json_string(in));
  free((void *)before);
  assert_string_equal(s_at(st, "apiVersion"), SBX_API_V1BETA1);
  assert_string_equal(s_at(st, "kind"), "Sandbox");
  assert_string_equal(s_at(st, "metadata.name"), "sb");
  assert_string_equal(s_at(st, "metadata.namespace"), "default");
  assert_string_equal(s_at(st, "metadata.labels.a"), "b");
  assert_null(at(st, "metadata.uid"));
  assert_null(at(st, "metadata.resourceVersion"));
  assert_null(at(st, "status"));
  assert_string_equal(s_at(st, "spec.operatingMode"), "Suspended");
  assert_null(at(st, "spec.replicas"));
  assert_string_equal(s_at(st, "spec.shutdownPolicy"), "Retain");
  assert_string_equal(s_at(st, "spec.podTemplate.spec.restartPolicy"), "Always");
  assert_int_equal(json_object_get_int(at(st, "spec.podTemplate.spec.terminationGracePeriodSeconds")), 30);
  assert_string_equal(s_at(st, "spec.podTemplate.metadata.labels.x"), "z");
  /* quantities become strings as written; nulls are dropped */
  json_object *cpu = at(st, "spec.podTemplate.spec.containers.0.resources.requests.cpu");
  assert_true(json_object_is_type(cpu, json_type_string));
  assert_string_equal(json_object_get_string(cpu), "0.5");
  assert_string_equal(s_at(st, "spec.podTemplate.spec.containers.0.resources.limits.cpu"), "2");
  assert_string_equal(s_at(st, "spec.podTemplate.spec.volumes.0.emptyDir.sizeLimit"), "1000");
  assert_string_equal(s_at(st, "spec.volumeClaimTemplates.0.spec.resources.requests.storage"), "20Gi");
  json_object *ctr = at(st, "spec.podTemplate.spec.containers.0");
  assert_false(json_object_object_get_ex(ctr, "args", NULL));

  /* back to v1alpha1: replicas 0, everything else the same */
  json_object *a = sbx_sandbox_for_version(st, SBX_API_V1ALPHA1);
  assert_non_null(a);
  assert_string_equal(s_at(a, "apiVersion"), SBX_API_V1ALPHA1);
  assert_int_equal(json_object_get_int(at(a, "spec.replicas")), 0);
  assert_null(at(a, "spec.operatingMode"));
  assert_string_equal(s_at(a, "spec.podTemplate.spec.containers.0.name"), "c");
  json_object_put(a);

  json_object_put(st);
  json_object_put(in);
}

static void test_alpha_default_running(void **state) {
  (void)state;
  json_object *in = yaml("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\n"
                         "metadata: {name: s, namespace: team-a, annotations: {k: v}}\n"
                         "spec:\n  shutdownPolicy: Delete\n  shutdownTime: \"2030-01-01T00:00:00Z\"\n"
                         "  podTemplate: {spec: {restartPolicy: Never, terminationGracePeriodSeconds: 5,\n"
                         "    containers: [{name: c, image: host}]}}\n");
  sbx_error_t err = {0};
  json_object *st = sbx_sandbox_to_stored(in, &err);
  assert_non_null(st);
  assert_string_equal(s_at(st, "spec.operatingMode"), "Running");
  assert_string_equal(s_at(st, "metadata.namespace"), "team-a");
  assert_string_equal(s_at(st, "metadata.annotations.k"), "v");
  assert_string_equal(s_at(st, "spec.shutdownPolicy"), "Delete");
  assert_string_equal(s_at(st, "spec.shutdownTime"), "2030-01-01T00:00:00Z");
  assert_string_equal(s_at(st, "spec.podTemplate.spec.restartPolicy"), "Never");
  assert_int_equal(json_object_get_int(at(st, "spec.podTemplate.spec.terminationGracePeriodSeconds")), 5);
  assert_null(at(st, "spec.volumeClaimTemplates"));
  json_object_put(in);

  /* replicas: 1 is Running too */
  in = yaml("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: s}\n"
            "spec: {replicas: 1, podTemplate: {spec: {containers: [{name: c, image: host}]}}}\n");
  json_object *st2 = sbx_sandbox_to_stored(in, &err);
  assert_string_equal(s_at(st2, "spec.operatingMode"), "Running");
  json_object_put(in);

  /* the stored form converts to itself */
  json_object *again = sbx_sandbox_to_stored(st, &err);
  assert_non_null(again);
  assert_true(json_object_equal(again, st));
  json_object_put(again);
  json_object_put(st2);
  json_object_put(st);
}

static void test_beta_round_trip(void **state) {
  (void)state;
  json_object *in = yaml("apiVersion: agents.x-k8s.io/v1beta1\nkind: Sandbox\nmetadata: {name: s}\n"
                         "spec: {operatingMode: Suspended, podTemplate: {spec: {containers: [{name: c, image: host}]}}}\n");
  sbx_error_t err = {0};
  json_object *st = sbx_sandbox_to_stored(in, &err);
  assert_non_null(st);
  assert_string_equal(s_at(st, "spec.operatingMode"), "Suspended");
  /* internal bookkeeping and status as the daemon adds them */
  json_object_object_add(st, "x-sbx", json_object_new_string("internal"));
  json_object *status = json_object_new_object();
  json_object_object_add(status, "conditions", json_object_new_array());
  json_object_object_add(st, "status", status);

  json_object *b = sbx_sandbox_for_version(st, SBX_API_V1BETA1);
  assert_non_null(b);
  assert_null(at(b, "x-sbx"));
  assert_string_equal(s_at(b, "spec.operatingMode"), "Suspended");
  assert_null(at(b, "status.replicas"));
  assert_non_null(at(b, "status.conditions"));
  json_object_put(b);

  json_object *a = sbx_sandbox_for_version(st, SBX_API_V1ALPHA1);
  assert_non_null(a);
  assert_null(at(a, "x-sbx"));
  assert_int_equal(json_object_get_int(at(a, "spec.replicas")), 0);
  assert_int_equal(json_object_get_int(at(a, "status.replicas")), 0);
  /* the stored object is not changed */
  assert_non_null(at(st, "x-sbx"));
  assert_string_equal(s_at(st, "apiVersion"), SBX_API_V1BETA1);
  /* and the v1alpha1 answer converts back to the same stored form */
  json_object *back = sbx_sandbox_to_stored(a, &err);
  json_object_object_del(st, "x-sbx");
  json_object_object_del(st, "status");
  assert_true(json_object_equal(back, st));
  json_object_put(back);
  json_object_put(a);

  assert_null(sbx_sandbox_for_version(st, "agents.x-k8s.io/v2"));
  assert_null(sbx_sandbox_for_version(st, NULL));
  json_object_put(st);
  json_object_put(in);
}

static void test_refused(void **state) {
  (void)state;
  sbx_error_t err = {0};
  json_object *in = yaml("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n");
  assert_null(sbx_sandbox_to_stored(in, &err));
  assert_int_equal(err.errnum, EINVAL);
  json_object_put(in);
  in = yaml("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: s}\n"
            "spec: {replicas: 3, podTemplate: {spec: {containers: [{name: c, image: host}]}}}\n");
  assert_null(sbx_sandbox_to_stored(in, &err));
  assert_non_null(strstr(err.msg, "spec.replicas"));
  json_object_put(in);
}

static void test_secret_normalize(void **state) {
  (void)state;
  sbx_error_t err = {0};
  json_object *s = yaml("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
                        "data: {a: YQ==, both: b2xk}\nstringData: {HF_TOKEN: hf_abc, both: new}\n");
  assert_int_equal(sbx_secret_normalize(s, &err), 0);
  assert_null(at(s, "stringData"));
  assert_string_equal(s_at(s, "type"), "Opaque");
  assert_string_equal(s_at(s, "data.a"), "YQ==");
  assert_string_equal(s_at(s, "data.HF_TOKEN"), "aGZfYWJj");
  assert_string_equal(s_at(s, "data.both"), "bmV3");
  json_object_put(s);

  s = yaml("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/basic-auth\n"
           "stringData: {password: \"\"}\n");
  assert_int_equal(sbx_secret_normalize(s, &err), 0);
  assert_string_equal(s_at(s, "type"), "kubernetes.io/basic-auth");
  assert_string_equal(s_at(s, "data.password"), "");
  json_object_put(s);
}

static void test_base64(void **state) {
  (void)state;
  static const struct {
    const char *plain, *enc;
  } v[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
           {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char *e = sbx_base64_encode(v[i].plain, strlen(v[i].plain));
    assert_string_equal(e, v[i].enc);
    free(e);
    size_t n = 99;
    unsigned char *d = sbx_base64_decode(v[i].enc, strlen(v[i].enc), &n);
    assert_non_null(d);
    assert_int_equal(n, strlen(v[i].plain));
    assert_memory_equal(d, v[i].plain, n);
    free(d);
  }
  /* binary with NUL and high bytes */
  const unsigned char bin[] = {0, 0xff, 0x10, 0x80, 0};
  char *e = sbx_base64_encode(bin, sizeof bin);
  assert_string_equal(e, "AP8QgAA=");
  free(e);
  static const char *const bad[] = {"Zg", "Zg=", "Z===", "Zm9v YmFy", "Zm9v\n", "Zh==", "Zm9=",
                                    "=Zm9", "Zg==Zg==", "Zm-_", NULL};
  for (const char *const *b = bad; *b; b++) {
    size_t n;
    if (sbx_base64_valid(*b, strlen(*b))) fail_msg("accepted \"%s\"", *b);
    errno = 0;
    assert_null(sbx_base64_decode(*b, strlen(*b), &n));
    assert_int_equal(errno, EINVAL);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alpha_to_stored), cmocka_unit_test(test_alpha_default_running),
      cmocka_unit_test(test_beta_round_trip), cmocka_unit_test(test_refused),
      cmocka_unit_test(test_secret_normalize), cmocka_unit_test(test_base64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
