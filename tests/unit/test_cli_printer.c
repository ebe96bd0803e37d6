/* test_cli_printer.c: what `sbx get` prints (src/cli/printer.c): kubectl's AGE, the tables
 * (default, wide, across namespaces with owners), -o name/json/yaml of one object and of a
 * SandboxList, and the one-line server error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/printer.h"

/* 2023-11-14T22:13:20Z */
#define NOW ((time_t)1700000000)

static const char sample[] =
    "{\"apiVersion\":\"agents.x-k8s.io/v1alpha1\",\"kind\":\"SandboxList\",\"items\":["
    /* 5 seconds old, running, root's */
    "{\"apiVersion\":\"agents.x-k8s.io/v1alpha1\",\"kind\":\"Sandbox\","
    " \"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
    "   \"creationTimestamp\":\"2023-11-14T22:13:15Z\","
    "   \"annotations\":{\"sbx.x-k8s.io/owner-uid\":\"0\"}},"
    " \"spec\":{\"podTemplate\":{\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"host\"}]}}},"
    " \"status\":{\"conditions\":[{\"type\":\"Other\",\"status\":\"False\",\"reason\":\"X\"},"
    "   {\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"DependenciesReady\"}],"
    "   \"containerStatuses\":[{\"name\":\"main\",\"restartCount\":2,\"state\":{\"running\":{}}}]}},"
    /* 3h30m old, failed with 3, owned by a uid without a name */
    "{\"apiVersion\":\"agents.x-k8s.io/v1alpha1\",\"kind\":\"Sandbox\","
    " \"metadata\":{\"name\":\"train\",\"namespace\":\"team-a\","
    "   \"creationTimestamp\":\"2023-11-14T18:43:20.123456Z\","
    "   \"annotations\":{\"sbx.x-k8s.io/owner-uid\":\"3999999\"}},"
    " \"spec\":{\"podTemplate\":{\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"rootfs\"}]}}},"
    " \"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"Failed\"}],"
    "   \"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":3,\"reason\":\"Error\"}}}]}},"
    /* 4 days old, completed, no status conditions, no owner */
    "{\"apiVersion\":\"agents.x-k8s.io/v1alpha1\",\"kind\":\"Sandbox\","
    " \"metadata\":{\"name\":\"job-long-name\",\"namespace\":\"default\","
    "   \"creationTimestamp\":\"2023-11-11T00:13:20+02:00\"},"
    " \"spec\":{\"podTemplate\":{\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"host\"}]}}},"
    " \"status\":{\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}},"
    /* out of memory, no creation time */
    "{\"apiVersion\":\"agents.x-k8s.io/v1alpha1\",\"kind\":\"Sandbox\","
    " \"metadata\":{\"name\":\"oom\",\"namespace\":\"default\"},"
    " \"status\":{\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":137,\"reason\":\"OOMKilled\"}}}]}}"
    "]}";

typedef struct fixture {
  json_object *list;
  json_object *items[8];
  size_t n;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  f->list = json_tokener_parse(sample);
  assert_non_null(f->list);
  json_object *arr = json_object_object_get(f->list, "items");
  f->n = json_object_array_length(arr);
  for (size_t i = 0; i < f->n; i++) f->items[i] = json_object_array_get_idx(arr, i);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  json_object_put(f->list);
  free(f);
  return 0;
}

static char *render(json_object **items, size_t n, bool single, sbx_output_t out, bool all_ns) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  sbx_print_opts_t po = {.output = out, .all_namespaces = all_ns, .now = NOW};
  sbx_error_t err = {0};
  assert_int_equal(sbx_print_objects(f, sbx_kind_sandbox(), items, n, single, &po, &err), 0);
  fclose(f);
  return buf;
}

static void test_age(void **state) {
  (void)state;
  static const struct {
    int64_t secs;
    const char *want;
  } cases[] = {
      {-5, "<invalid>"}, {-1, "0s"}, {0, "0s"}, {5, "5s"}, {119, "119s"}, {120, "2m"},
      {200, "3m20s"}, {599, "9m59s"}, {600, "10m"}, {179 * 60 + 59, "179m"}, {3 * 3600, "3h"},
      {3 * 3600 + 30 * 60, "3h30m"}, {8 * 3600, "8h"}, {47 * 3600, "47h"}, {48 * 3600, "2d"},
      {4 * 86400 + 3 * 3600, "4d3h"}, {8 * 86400, "8d"}, {729 * 86400, "729d"},
      {730 * 86400, "2y"}, {800 * 86400, "2y70d"}, {8 * 365 * 86400, "8y"},
      {20 * 365 * 86400LL, "20y"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char buf[32];
    sbx_format_age(cases[i].secs, buf, sizeof buf);
    if (strcmp(buf, cases[i].want) != 0)
      fail_msg("age %lld: got %s, want %s", (long long)cases[i].secs, buf, cases[i].want);
  }
}

static void test_timestamp(void **state) {
  (void)state;
  time_t t;
  assert_int_equal(sbx_parse_timestamp("2023-11-14T22:13:20Z", &t), 0);
  assert_int_equal(t, NOW);
  assert_int_equal(sbx_parse_timestamp("2023-11-14T22:13:20.5Z", &t), 0);
  assert_int_equal(t, NOW);
  assert_int_equal(sbx_parse_timestamp("2023-11-15T00:13:20+02:00", &t), 0);
  assert_int_equal(t, NOW);
  assert_int_equal(sbx_parse_timestamp("2023-11-14T21:13:20-01:00", &t), 0);
  assert_int_equal(t, NOW);
  assert_int_equal(sbx_parse_timestamp("2023-11-14T22:13:20", &t), -1);
  assert_int_equal(sbx_parse_timestamp("2023-11-14T22:13:20Zjunk", &t), -1);
  assert_int_equal(sbx_parse_timestamp("yesterday", &t), -1);
  assert_int_equal(sbx_parse_timestamp("2023-11-14T22:13:20+2", &t), -1);
}

static void test_table(void **state) {
  fixture_t *f = *state;
  char *out = render(f->items, f->n, false, SBX_OUTPUT_TABLE, false);
  assert_string_equal(out,
                      "NAME            READY   REASON              STATUS            AGE\n"
                      "web             True    DependenciesReady   Running           5s\n"
                      "train           False   Failed              Exited (3)        3h30m\n"
                      "job-long-name                               Completed         4d\n"
                      "oom                                         OOMKilled (137)   <unknown>\n");
  free(out);
}

static void test_table_wide(void **state) {
  fixture_t *f = *state;
  char *out = render(f->items, f->n, false, SBX_OUTPUT_WIDE, false);
  assert_string_equal(
      out,
      "NAME            READY   REASON              STATUS            AGE         IMAGE    RESTARTS\n"
      "web             True    DependenciesReady   Running           5s          host     2\n"
      "train           False   Failed              Exited (3)        3h30m       rootfs   0\n"
      "job-long-name                               Completed         4d          host     0\n"
      "oom                                         OOMKilled (137)   <unknown>   <none>   0\n");
  free(out);
}

static void test_table_all_namespaces(void **state) {
  fixture_t *f = *state;
  json_object *items[8];
  memcpy(items, f->items, sizeof items);
  sbx_sort_objects(items, 3);
  char *out = render(items, 3, false, SBX_OUTPUT_TABLE, true);
  assert_string_equal(out,
                      "NAMESPACE   NAME            READY   REASON              STATUS       AGE     OWNER\n"
                      "default     job-long-name                               Completed    4d      <none>\n"
                      "default     web             True    DependenciesReady   Running      5s      root\n"
                      "team-a      train           False   Failed              Exited (3)   3h30m   3999999\n");
  free(out);
}

static void test_table_narrow(void **state) {
  (void)state;
  /* Columns are at least 6 wide, padding 3, the last one unpadded. */
  json_object *o = json_tokener_parse("{\"metadata\":{\"name\":\"a\","
                                      "\"creationTimestamp\":\"2023-11-14T22:13:20Z\"}}");
  char *out = render(&o, 1, true, SBX_OUTPUT_TABLE, false);
  assert_string_equal(out,
                      "NAME   READY   REASON   STATUS   AGE\n"
                      "a                       <none>   0s\n");
  free(out);
  json_object_put(o);
}

/* A sandbox that waits for admission says why in STATUS, up to the message's first ':';
 * a suspended one says Suspended, not its last container state. */
static void test_table_status_why(void **state) {
  (void)state;
  json_object *o[2] = {
      json_tokener_parse("{\"metadata\":{\"name\":\"big\",\"creationTimestamp\":\"2023-11-14T22:13:20Z\"},"
                         "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
                         "\"reason\":\"DependenciesNotReady\"}],\"podStatus\":{\"phase\":\"Pending\","
                         "\"reason\":\"Unschedulable\",\"message\":\"Insufficient cpu: the sandbox requests "
                         "64000m\"}}}"),
      json_tokener_parse("{\"metadata\":{\"name\":\"nap\",\"creationTimestamp\":\"2023-11-14T22:13:20Z\"},"
                         "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
                         "\"reason\":\"SandboxSuspended\"}],\"podStatus\":{\"phase\":\"Failed\","
                         "\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":137}}}]}}}")};
  char *out = render(o, 2, false, SBX_OUTPUT_TABLE, false);
  assert_string_equal(out,
                      "NAME   READY   REASON                 STATUS                       AGE\n"
                      "big    False   DependenciesNotReady   Pending (Insufficient cpu)   0s\n"
                      "nap    False   SandboxSuspended       Suspended                    0s\n");
  free(out);
  json_object_put(o[0]);
  json_object_put(o[1]);
}

static void test_names(void **state) {
  fixture_t *f = *state;
  char *out = render(f->items, 2, false, SBX_OUTPUT_NAME, false);
  assert_string_equal(out, "sandbox/web\nsandbox/train\n");
  free(out);
}

static void test_json(void **state) {
  (void)state;
  json_object *o = json_tokener_parse(
      "{\"kind\":\"Sandbox\",\"apiVersion\":\"agents.x-k8s.io/v1alpha1\","
      "\"metadata\":{\"name\":\"a\",\"labels\":{}},\"spec\":{\"list\":[],\"n\":[1,\"x\"]}}");
  char *out = render(&o, 1, true, SBX_OUTPUT_JSON, false);
  assert_string_equal(out,
                      "{\n"
                      "    \"apiVersion\": \"agents.x-k8s.io/v1alpha1\",\n"
                      "    \"kind\": \"Sandbox\",\n"
                      "    \"metadata\": {\n"
                      "        \"labels\": {},\n"
                      "        \"name\": \"a\"\n"
                      "    },\n"
                      "    \"spec\": {\n"
                      "        \"list\": [],\n"
                      "        \"n\": [\n"
                      "            1,\n"
                      "            \"x\"\n"
                      "        ]\n"
                      "    }\n"
                      "}\n");
  free(out);

  /* Several objects (or a list request): a SandboxList. */
  out = render(&o, 1, false, SBX_OUTPUT_JSON, false);
  json_object *back = json_tokener_parse(out);
  assert_non_null(back);
  assert_string_equal(json_object_get_string(json_object_object_get(back, "kind")), "SandboxList");
  assert_string_equal(json_object_get_string(json_object_object_get(back, "apiVersion")),
                      "agents.x-k8s.io/v1alpha1");
  json_object *items = json_object_object_get(back, "items");
  assert_int_equal(json_object_array_length(items), 1);
  assert_true(json_object_equal(json_object_array_get_idx(items, 0), o));
  json_object_put(back);
  free(out);
  json_object_put(o);
}

static void test_yaml(void **state) {
  (void)state;
  json_object *o = json_tokener_parse(
      "{\"kind\":\"Sandbox\",\"metadata\":{\"name\":\"a\","
      "\"creationTimestamp\":\"2023-11-14T22:13:20Z\"}}");
  char *out = render(&o, 1, false, SBX_OUTPUT_YAML, false);
  assert_string_equal(out,
                      "apiVersion: agents.x-k8s.io/v1alpha1\n"
                      "items:\n"
                      "- kind: Sandbox\n"
                      "  metadata:\n"
                      "    creationTimestamp: \"2023-11-14T22:13:20Z\"\n"
                      "    name: a\n"
                      "kind: SandboxList\n");
  free(out);
  out = render(NULL, 0, false, SBX_OUTPUT_YAML, false);
  assert_string_equal(out, "apiVersion: agents.x-k8s.io/v1alpha1\nitems: []\nkind: SandboxList\n");
  free(out);
  json_object_put(o);
}

static void test_sort(void **state) {
  fixture_t *f = *state;
  json_object *items[8];
  memcpy(items, f->items, sizeof items);
  sbx_sort_objects(items, f->n);
  const char *want[] = {"job-long-name", "oom", "web", "train"};
  for (size_t i = 0; i < 4; i++) {
    json_object *m = json_object_object_get(items[i], "metadata");
    assert_string_equal(json_object_get_string(json_object_object_get(m, "name")), want[i]);
  }
}

static void test_output_parse(void **state) {
  (void)state;
  sbx_output_t o;
  sbx_error_t err = {0};
  assert_int_equal(sbx_output_parse("", &o, &err), 0);
  assert_int_equal(o, SBX_OUTPUT_TABLE);
  assert_int_equal(sbx_output_parse("wide", &o, &err), 0);
  assert_int_equal(o, SBX_OUTPUT_WIDE);
  assert_int_equal(sbx_output_parse("yaml", &o, &err), 0);
  assert_int_equal(o, SBX_OUTPUT_YAML);
  assert_int_equal(sbx_output_parse("json", &o, &err), 0);
  assert_int_equal(o, SBX_OUTPUT_JSON);
  assert_int_equal(sbx_output_parse("name", &o, &err), 0);
  assert_int_equal(o, SBX_OUTPUT_NAME);
  assert_int_equal(sbx_output_parse("xml", &o, &err), -1);
  assert_non_null(strstr(err.msg, "unknown output format \"xml\""));
}

static void test_status_message(void **state) {
  (void)state;
  char buf[256];
  json_object *st = json_tokener_parse(
      "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
      "\"message\":\"sandboxes.agents.x-k8s.io \\\"x\\\" not found\",\"reason\":\"NotFound\","
      "\"code\":404}");
  sbx_status_message(st, 404, buf, sizeof buf);
  assert_string_equal(buf, "Error from server (NotFound): sandboxes.agents.x-k8s.io \"x\" not found");
  json_object_put(st);
  st = json_tokener_parse("{\"message\":\"boom\"}");
  sbx_status_message(st, 500, buf, sizeof buf);
  assert_string_equal(buf, "Error from server: boom");
  json_object_put(st);
  sbx_status_message(NULL, 502, buf, sizeof buf);
  assert_string_equal(buf, "Error from server: the server answered HTTP status 502");
}

static char *render_kind(const char *kind, const char *list_json, sbx_output_t out) {
  json_object *list = json_tokener_parse(list_json);
  assert_non_null(list);
  json_object *arr = json_object_object_get(list, "items");
  json_object *items[8];
  size_t n = json_object_array_length(arr);
  for (size_t i = 0; i < n; i++) items[i] = json_object_array_get_idx(arr, i);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  sbx_print_opts_t po = {.output = out, .now = NOW};
  sbx_error_t err = {0};
  const sbx_kind_t *k = sbx_kind_lookup(kind);
  assert_non_null(k);
  assert_int_equal(sbx_print_objects(f, k, items, n, false, &po, &err), 0);
  fclose(f);
  json_object_put(list);
  return buf;
}

/* kubectl's columns for secrets (TYPE, DATA: the number of keys, never values) and
 * configmaps (DATA counts binaryData too). */
static void test_table_secrets_configmaps(void **state) {
  (void)state;
  char *out = render_kind(
      "secrets",
      "{\"items\":[{\"metadata\":{\"name\":\"hf-token\",\"creationTimestamp\":\"2023-11-14T22:13:00Z\"},"
      "\"type\":\"Opaque\",\"data\":{\"token\":\"c2VjcmV0\",\"user\":\"dQ==\"}},"
      "{\"metadata\":{\"name\":\"tls\",\"creationTimestamp\":\"2023-11-14T22:13:00Z\"},"
      "\"type\":\"kubernetes.io/tls\"},"
      "{\"metadata\":{\"name\":\"untyped\",\"creationTimestamp\":\"2023-11-14T22:13:00Z\"},"
      "\"data\":{\"a\":\"\"}}]}",
      SBX_OUTPUT_TABLE);
  assert_string_equal(out,
                      "NAME       TYPE                DATA   AGE\n"
                      "hf-token   Opaque              2      20s\n"
                      "tls        kubernetes.io/tls   0      20s\n"
                      "untyped    Opaque              1      20s\n");
  assert_null(strstr(out, "c2VjcmV0"));
  free(out);
  out = render_kind(
      "cm",
      "{\"items\":[{\"metadata\":{\"name\":\"cfg\",\"creationTimestamp\":\"2023-11-14T22:13:00Z\"},"
      "\"data\":{\"a\":\"1\",\"b\":\"2\"},\"binaryData\":{\"c\":\"AA==\"}}]}",
      SBX_OUTPUT_TABLE);
  assert_string_equal(out,
                      "NAME   DATA   AGE\n"
                      "cfg    3      20s\n");
  free(out);
}

/* PVCs: STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS AGE (sbx-local by default). */
static void test_table_pvcs(void **state) {
  (void)state;
  const char *list =
      "{\"items\":[{\"metadata\":{\"name\":\"workspace-jl\",\"creationTimestamp\":\"2023-11-14T22:13:00Z\"},"
      "\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"volumeName\":\"pv-1\"},"
      "\"status\":{\"phase\":\"Bound\",\"capacity\":{\"storage\":\"20Gi\"},"
      "\"accessModes\":[\"ReadWriteOnce\",\"ReadOnlyMany\"]}},"
      "{\"metadata\":{\"name\":\"new\",\"creationTimestamp\":\"2023-11-14T22:13:00Z\"},"
      "\"spec\":{\"accessModes\":[\"ReadWriteMany\"],\"storageClassName\":\"fast\"}}]}";
  char *out = render_kind("pvc", list, SBX_OUTPUT_TABLE);
  assert_string_equal(out,
                      "NAME           STATUS    VOLUME   CAPACITY   ACCESS MODES   STORAGECLASS   AGE\n"
                      "workspace-jl   Bound     pv-1     20Gi       RWO,ROX        sbx-local      20s\n"
                      "new            Pending                       RWX            fast           20s\n");
  free(out);
  out = render_kind("persistentvolumeclaims", list, SBX_OUTPUT_WIDE);
  assert_non_null(strstr(out, "   AGE   VOLUMEMODE\n"));
  assert_non_null(strstr(out, "20s   Filesystem\n"));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_age),
      cmocka_unit_test(test_timestamp),
      cmocka_unit_test_setup_teardown(test_table, setup, teardown),
      cmocka_unit_test_setup_teardown(test_table_wide, setup, teardown),
      cmocka_unit_test_setup_teardown(test_table_all_namespaces, setup, teardown),
      cmocka_unit_test(test_table_narrow),
      cmocka_unit_test(test_table_status_why),
      cmocka_unit_test_setup_teardown(test_names, setup, teardown),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_yaml),
      cmocka_unit_test_setup_teardown(test_sort, setup, teardown),
      cmocka_unit_test(test_output_parse),
      cmocka_unit_test(test_status_message),
      cmocka_unit_test(test_table_secrets_configmaps),
      cmocka_unit_test(test_table_pvcs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
