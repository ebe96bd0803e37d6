/* test_cli_describe.c: `sbx describe` text from objects (src/cli/describe.c): a pod-mode
 * sandbox with init container, ports, secret-backed environment, resources, mounts,
 * container states and events; a template-change restart note; secrets without their
 * values; configmaps; PVCs; and the kubectl-style alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "cli/describe.h"

#define NOW ((time_t)1700000000) /* 2023-11-14T22:13:20Z */

static char *describe(const char *kind, const char *obj_json, const char *events_json) {
  json_object *obj = json_tokener_parse(obj_json);
  if (!obj) fail_msg("bad object JSON in the test");
  json_object *ev = events_json ? json_tokener_parse(events_json) : NULL;
  if (events_json && !ev) fail_msg("bad events JSON in the test");
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_int_equal(sbx_describe(f, sbx_kind_lookup(kind), obj, ev, NOW), 0);
  fclose(f);
  json_object_put(obj);
  json_object_put(ev);
  return buf;
}

static void has(const char *text, const char *needle) {
  if (!strstr(text, needle)) {
    fprintf(stderr, "missing:\n%s\n--- in:\n%s--- end\n", needle, text);
    fail_msg("a line is missing (above)");
  }
}

static const char sandbox[] =
    "{\"apiVersion\":\"agents.x-k8s.io/v1alpha1\",\"kind\":\"Sandbox\","
    "\"metadata\":{\"name\":\"jl\",\"namespace\":\"default\",\"creationTimestamp\":\"2023-11-14T22:00:00Z\","
    " \"labels\":{\"team\":\"ml\",\"app\":\"jupyter\"},"
    " \"annotations\":{\"sbx.x-k8s.io/owner-uid\":\"3999999\",\"note\":\"hi\","
    "   \"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"}},"
    "\"spec\":{\"replicas\":1,\"shutdownPolicy\":\"Delete\",\"shutdownTime\":\"2023-11-15T00:00:00Z\","
    " \"podTemplate\":{\"spec\":{\"restartPolicy\":\"Always\","
    "  \"initContainers\":[{\"name\":\"prep\",\"image\":\"host\",\"command\":[\"sh\",\"-c\",\"mkdir -p /w\"]}],"
    "  \"containers\":[{\"name\":\"jupyter\",\"image\":\"host\",\"command\":[\"jupyter\"],\"args\":[\"notebook\",\"--port=8888\"],"
    "   \"ports\":[{\"name\":\"notebook\",\"containerPort\":8888}],"
    "   \"env\":[{\"name\":\"HF_TOKEN\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"hf\",\"key\":\"token\"}}},"
    "            {\"name\":\"MODE\",\"value\":\"dev\"},"
    "            {\"name\":\"ME\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
    "            {\"name\":\"CFG\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"c\",\"key\":\"k\",\"optional\":true}}}],"
    "   \"resources\":{\"limits\":{\"cpu\":\"2\",\"memory\":\"4Gi\"},\"requests\":{\"cpu\":\"500m\"}},"
    "   \"volumeMounts\":[{\"name\":\"workspace\",\"mountPath\":\"/home/jovyan\"},"
    "                     {\"name\":\"cfg\",\"mountPath\":\"/etc/cfg\",\"readOnly\":true,\"subPath\":\"a\"}]}],"
    "  \"volumes\":[{\"name\":\"workspace\",\"persistentVolumeClaim\":{\"claimName\":\"workspace-jl\"}},"
    "              {\"name\":\"cfg\",\"configMap\":{\"name\":\"c\"}},"
    "              {\"name\":\"tmp\",\"emptyDir\":{\"medium\":\"Memory\",\"sizeLimit\":\"1Gi\"}}]}},"
    " \"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"workspace\"},"
    "   \"spec\":{\"resources\":{\"requests\":{\"storage\":\"20Gi\"}}}}]},"
    "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"DependenciesReady\","
    "   \"message\":\"all good\"}],"
    " \"podStatus\":{\"phase\":\"Running\","
    "  \"initContainerStatuses\":[{\"name\":\"prep\",\"ready\":true,\"restartCount\":0,"
    "    \"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}],"
    "  \"containerStatuses\":[{\"name\":\"jupyter\",\"ready\":true,\"restartCount\":3,"
    "    \"state\":{\"running\":{\"startedAt\":\"2023-11-14T22:10:00Z\"}},"
    "    \"lastState\":{\"terminated\":{\"exitCode\":137,\"reason\":\"OOMKilled\"}}}]}}}";

static const char events[] =
    "{\"kind\":\"EventList\",\"items\":["
    "{\"type\":\"Warning\",\"reason\":\"BackOff\",\"message\":\"restarting\",\"count\":3,"
    " \"firstTimestamp\":\"2023-11-14T22:03:20Z\",\"lastTimestamp\":\"2023-11-14T22:12:20Z\"},"
    "{\"type\":\"Normal\",\"reason\":\"Started\",\"message\":\"Started container jupyter\","
    " \"lastTimestamp\":\"2023-11-14T22:01:20Z\",\"source\":{\"component\":\"sbx-shim\"}}]}";

static void test_sandbox(void **state) {
  (void)state;
  setenv("TZ", "UTC", 1);
  tzset();
  char *out = describe("sandbox", sandbox, events);
  /* the header, aligned as kubectl aligns it */
  has(out, "Name:         jl\n"
           "Namespace:    default\n"
           "Labels:       app=jupyter\n"
           "              team=ml\n"
           "Annotations:  note: hi\n"
           "Owner:        3999999\n"
           "API Version:  agents.x-k8s.io/v1alpha1\n"
           "Created:      Tue, 14 Nov 2023 22:00:00 +0000\n"
           "Status:\n");
  /* neither the owner annotation (shown as Owner) nor the last-applied copy */
  assert_null(strstr(out, "sbx.x-k8s.io/owner-uid"));
  assert_null(strstr(out, "last-applied"));
  has(out, "Status:\n"
           "  Ready:          True\n"
           "  Reason:         DependenciesReady\n"
           "  Message:        all good\n"
           "  Phase:          Running\n"
           "Operating Mode:   Running\n");
  has(out, "Operating Mode:   Running\n");
  has(out, "Shutdown Time:    Wed, 15 Nov 2023 00:00:00 +0000\n");
  has(out, "Shutdown Policy:  Delete\n");
  has(out, "Init Containers:\n  prep:\n    Image:  host\n    Command:\n      sh\n      -c\n"
           "      mkdir -p /w\n    State:          Terminated\n      Reason:       Completed\n"
           "      Exit Code:    0\n");
  has(out, "Containers:\n  jupyter:\n    Image:  host\n    Port:   8888/TCP (notebook)\n");
  has(out, "    Args:\n      notebook\n      --port=8888\n");
  has(out, "    State:          Running\n      Started:      Tue, 14 Nov 2023 22:10:00 +0000\n"
           "    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n"
           "    Ready:          True\n    Restart Count:  3\n");
  has(out, "    Limits:\n      cpu:     2\n      memory:  4Gi\n    Requests:\n      cpu:  500m\n");
  has(out, "      HF_TOKEN:  <set to the key 'token' in secret 'hf'>  Optional: false\n");
  has(out, "      MODE:      dev\n");
  has(out, "      ME:        (v1:metadata.name)\n");
  has(out, "      CFG:       <set to the key 'k' of config map 'c'>  Optional: true\n");
  has(out, "    Mounts:\n      /home/jovyan from workspace (rw)\n      /etc/cfg from cfg (ro,path=\"a\")\n");
  has(out, "  workspace:\n    Type:       PersistentVolumeClaim (a reference to a PersistentVolumeClaim "
           "in the same namespace)\n    ClaimName:  workspace-jl\n");
  has(out, "    Medium:     Memory\n    SizeLimit:  1Gi\n");
  has(out, "Volume Claims:\n  workspace:\n    Claim:      workspace-jl\n    Requested:  20Gi\n");
  /* events oldest first, repeated ones with their count */
  has(out, "Events:\n"
           "  Type     Reason   Age                From      Message\n"
           "  ----     ------   ----               ----      -------\n"
           "  Normal   Started  12m                sbx-shim  Started container jupyter\n"
           "  Warning  BackOff  60s (x3 over 10m)  sbxd      restarting\n");
  assert_null(strstr(out, "Restarting"));
  free(out);
}

static void test_sandbox_minimal(void **state) {
  (void)state;
  /* suspended through replicas 0, no status at all, events unavailable */
  char *out = describe("sandbox",
                       "{\"metadata\":{\"name\":\"s\",\"namespace\":\"x\"},\"spec\":{\"replicas\":0,"
                       "\"podTemplate\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"host\"}]}}}}",
                       NULL);
  has(out, "Labels:       <none>\n");
  has(out, "Annotations:  <none>\n");
  has(out, "  Ready:          <none>\n");
  has(out, "Operating Mode:   Suspended\n");
  has(out, "Shutdown Time:    <none>\n");
  has(out, "Shutdown Policy:  Retain\n");
  has(out, "    State:          <none>\n");
  has(out, "    Environment:    <none>\n");
  /* one run of aligned lines to the end, as text/tabwriter makes it */
  has(out, "    Mounts:         <none>\nVolumes:            <none>\nEvents:             <none>\n");
  free(out);
}

static void test_template_change(void **state) {
  (void)state;
  const char *obj =
      "{\"metadata\":{\"name\":\"s\"},\"spec\":{},\"status\":{\"conditions\":["
      "{\"type\":\"PodTemplateChanged\",\"status\":\"True\",\"message\":\"image changed\"}]}}";
  char *out = describe("sandbox", obj, NULL);
  has(out, "  Restarting:     the pod template changed: image changed\n");
  free(out);
  out = describe("sandbox", "{\"metadata\":{\"name\":\"s\"},\"spec\":{}}",
                 "{\"items\":[{\"type\":\"Normal\",\"reason\":\"Started\",\"lastTimestamp\":\"2023-11-14T22:00:00Z\"},"
                 "{\"type\":\"Normal\",\"reason\":\"TemplateChanged\",\"lastTimestamp\":\"2023-11-14T22:13:00Z\"}]}");
  has(out, "  Restarting:     the pod template changed\n");
  free(out);
  /* once it started again, the old event is history, not a note */
  out = describe("sandbox", "{\"metadata\":{\"name\":\"s\"},\"spec\":{}}",
                 "{\"items\":[{\"type\":\"Normal\",\"reason\":\"TemplateChanged\",\"lastTimestamp\":\"2023-11-14T22:00:00Z\"},"
                 "{\"type\":\"Normal\",\"reason\":\"Started\",\"lastTimestamp\":\"2023-11-14T22:13:00Z\"}]}");
  assert_null(strstr(out, "Restarting"));
  free(out);
}

static void test_secret(void **state) {
  (void)state;
  char *out = describe("secret",
                       "{\"metadata\":{\"name\":\"hf\",\"namespace\":\"default\"},\"type\":\"Opaque\","
                       "\"data\":{\"token\":\"aHVudGVyMg==\",\"b\":\"AAEC\",\"e\":\"\"}}",
                       NULL);
  assert_string_equal(out,
                      "Name:         hf\n"
                      "Namespace:    default\n"
                      "Labels:       <none>\n"
                      "Annotations:  <none>\n"
                      "\n"
                      "Type:  Opaque\n"
                      "\n"
                      "Data\n"
                      "====\n"
                      "b:      3 bytes\n"
                      "e:      0 bytes\n"
                      "token:  7 bytes\n");
  assert_null(strstr(out, "aHVudGVyMg"));
  assert_null(strstr(out, "hunter2"));
  free(out);
}

static void test_configmap_pvc(void **state) {
  (void)state;
  char *out = describe("configmap",
                       "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},"
                       "\"data\":{\"k\":\"line1\\nline2\"},\"binaryData\":{\"bin\":\"AAECAw==\"}}",
                       NULL);
  has(out, "Data\n====\nk:\n----\nline1\nline2\n\n");
  has(out, "BinaryData\n====\nbin:  4 bytes\n");
  has(out, "Events:  <none>\n");
  free(out);
  out = describe("pvc",
                 "{\"metadata\":{\"name\":\"workspace-jl\",\"namespace\":\"default\"},"
                 "\"spec\":{\"accessModes\":[\"ReadWriteOnce\"]},"
                 "\"status\":{\"phase\":\"Bound\",\"capacity\":{\"storage\":\"20Gi\"}}}",
                 NULL);
  has(out, "Name:          workspace-jl\n");
  has(out, "StorageClass:  sbx-local\n");
  has(out, "Status:        Bound\n");
  has(out, "Capacity:      20Gi\n");
  has(out, "Access Modes:  RWO\n");
  free(out);
}

static void test_base64_len(void **state) {
  (void)state;
  assert_int_equal(sbx_base64_decoded_len(""), 0);
  assert_int_equal(sbx_base64_decoded_len("YQ=="), 1);
  assert_int_equal(sbx_base64_decoded_len("YWI="), 2);
  assert_int_equal(sbx_base64_decoded_len("YWJj"), 3);
  assert_int_equal(sbx_base64_decoded_len("YWJjZA=="), 4);
  assert_int_equal(sbx_base64_decoded_len(NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sandbox),        cmocka_unit_test(test_sandbox_minimal),
      cmocka_unit_test(test_template_change), cmocka_unit_test(test_secret),
      cmocka_unit_test(test_configmap_pvc),  cmocka_unit_test(test_base64_len),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
