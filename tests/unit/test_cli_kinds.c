/* test_cli_kinds.c: kind names as kubectl accepts them, resource arguments in both forms,
 * and the REST paths built from them (src/cli/kinds.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/kinds.h"

static void test_lookup(void **state) {
  (void)state;
  const sbx_kind_t *sb = sbx_kind_sandbox();
  assert_string_equal(sb->kind, "Sandbox");
  const char *yes[] = {"sandbox", "sandboxes", "Sandbox", "SANDBOXES", "sbx",
                       "sandbox.agents.x-k8s.io", "sandboxes.agents.x-k8s.io",
                       "Sandbox.agents.x-k8s.io", "sandbox.v1alpha1.agents.x-k8s.io",
                       "sandboxes.v1alpha1.agents.x-k8s.io", NULL};
  for (size_t i = 0; yes[i]; i++)
    if (sbx_kind_lookup(yes[i]) != sb) fail_msg("\"%s\" should name sandboxes", yes[i]);
  const char *no[] = {"", "pod", "pods", "sandboxs", "sandbox.apps", "sandboxes.",
                      "sandboxes.v1.agents.x-k8s.io", "sandbox.agents", "sandboxes.v1alpha1",
                      "sandboxclaim", NULL};
  for (size_t i = 0; no[i]; i++)
    if (sbx_kind_lookup(no[i])) fail_msg("\"%s\" should name nothing", no[i]);
}

static int resolve(char **args, size_t n, const sbx_kind_t **kind, sbx_ref_t **refs,
                   size_t *nrefs, sbx_error_t *err) {
  return sbx_resource_args(args, n, kind, refs, nrefs, err);
}

static void test_kind_and_names(void **state) {
  (void)state;
  const sbx_kind_t *kind;
  sbx_ref_t *refs;
  size_t n;
  sbx_error_t err = {0};

  assert_int_equal(resolve(NULL, 0, &kind, &refs, &n, &err), 0);
  assert_null(kind);
  assert_int_equal(n, 0);

  char *only[] = {"sandboxes"};
  assert_int_equal(resolve(only, 1, &kind, &refs, &n, &err), 0);
  assert_ptr_equal(kind, sbx_kind_sandbox());
  assert_int_equal(n, 0);
  assert_null(refs);

  char *named[] = {"sandbox", "a", "b"};
  assert_int_equal(resolve(named, 3, &kind, &refs, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_string_equal(refs[0].name, "a");
  assert_string_equal(refs[1].name, "b");
  assert_ptr_equal(refs[1].kind, sbx_kind_sandbox());
  free(refs);

  char *slash[] = {"sandbox/a", "sandboxes.agents.x-k8s.io/b"};
  assert_int_equal(resolve(slash, 2, &kind, &refs, &n, &err), 0);
  assert_ptr_equal(kind, sbx_kind_sandbox());
  assert_int_equal(n, 2);
  assert_string_equal(refs[0].name, "a");
  assert_string_equal(refs[1].name, "b");
  free(refs);
}

static void expect_error(char **args, size_t n, const char *needle) {
  const sbx_kind_t *kind;
  sbx_ref_t *refs = NULL;
  size_t nrefs;
  sbx_error_t err = {0};
  assert_int_equal(resolve(args, n, &kind, &refs, &nrefs, &err), -1);
  assert_null(refs);
  if (!strstr(err.msg, needle)) fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
}

static void test_errors(void **state) {
  (void)state;
  char *unknown[] = {"pods"};
  expect_error(unknown, 1, "unknown resource type \"pods\"");
  char *unknown_slash[] = {"pod/x"};
  expect_error(unknown_slash, 1, "unknown resource type \"pod\"");
  char *mixed1[] = {"sandbox", "sandbox/a"};
  expect_error(mixed1, 2, "no need to give a resource type");
  char *mixed2[] = {"sandbox/a", "b"};
  expect_error(mixed2, 2, "\"b\" is not in KIND/NAME form");
  char *empty_name[] = {"sandbox/"};
  expect_error(empty_name, 1, "not in KIND/NAME form");
  char *empty_kind[] = {"/a"};
  expect_error(empty_kind, 1, "not in KIND/NAME form");
  char *deep[] = {"sandbox/a/b"};
  expect_error(deep, 1, "not in KIND/NAME form");
  char *blank[] = {"sandbox", ""};
  expect_error(blank, 2, "empty name");
}

static void test_paths(void **state) {
  (void)state;
  const sbx_kind_t *k = sbx_kind_sandbox();
  char buf[256];
  sbx_error_t err = {0};
  assert_int_equal(sbx_kind_path(k, "default", "web", buf, sizeof buf, &err), 0);
  assert_string_equal(buf, "/apis/agents.x-k8s.io/v1alpha1/namespaces/default/sandboxes/web");
  assert_int_equal(sbx_kind_path(k, "team-a", NULL, buf, sizeof buf, &err), 0);
  assert_string_equal(buf, "/apis/agents.x-k8s.io/v1alpha1/namespaces/team-a/sandboxes");
  assert_int_equal(sbx_kind_path(k, NULL, NULL, buf, sizeof buf, &err), 0);
  assert_string_equal(buf, "/apis/agents.x-k8s.io/v1alpha1/sandboxes");

  assert_int_equal(sbx_kind_path(k, "default", "a?b=c", buf, sizeof buf, &err), -1);
  assert_non_null(strstr(err.msg, "invalid name"));
  assert_int_equal(sbx_kind_path(k, "default", "..", buf, sizeof buf, &err), -1);
  assert_int_equal(sbx_kind_path(k, "de/fault", "a", buf, sizeof buf, &err), -1);
  assert_non_null(strstr(err.msg, "invalid namespace"));
  assert_int_equal(sbx_kind_path(k, "default", "a", buf, 20, &err), -1);
}

static void test_names(void **state) {
  (void)state;
  char buf[128];
  const sbx_kind_t *k = sbx_kind_sandbox();
  assert_string_equal(sbx_kind_display(k, buf, sizeof buf), "sandbox.agents.x-k8s.io");
  assert_string_equal(sbx_kind_api_version(k, buf, sizeof buf), "agents.x-k8s.io/v1alpha1");
  assert_string_equal(k->list_kind, "SandboxList");
}

/* The core kinds: kubectl's spellings, and /api/v1 paths. */
static void test_core_kinds(void **state) {
  (void)state;
  static const struct {
    const char *name, *kind;
  } cases[] = {
      {"secret", "Secret"}, {"secrets", "Secret"}, {"Secret", "Secret"}, {"secret.v1", "Secret"},
      {"configmap", "ConfigMap"}, {"configmaps", "ConfigMap"}, {"cm", "ConfigMap"},
      {"pvc", "PersistentVolumeClaim"}, {"persistentvolumeclaims", "PersistentVolumeClaim"},
      {"persistentvolumeclaim", "PersistentVolumeClaim"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const sbx_kind_t *k = sbx_kind_lookup(cases[i].name);
    if (!k || strcmp(k->kind, cases[i].kind) != 0)
      fail_msg("\"%s\" should name %s", cases[i].name, cases[i].kind);
  }
  assert_null(sbx_kind_lookup("secret.agents.x-k8s.io"));
  assert_null(sbx_kind_lookup("pvcs"));
  char buf[256];
  sbx_error_t err = {0};
  assert_int_equal(sbx_kind_path(sbx_kind_lookup("secret"), "default", "hf", buf, sizeof buf, &err), 0);
  assert_string_equal(buf, "/api/v1/namespaces/default/secrets/hf");
  assert_int_equal(sbx_kind_path(sbx_kind_lookup("cm"), "team-a", NULL, buf, sizeof buf, &err), 0);
  assert_string_equal(buf, "/api/v1/namespaces/team-a/configmaps");
  assert_int_equal(sbx_kind_path(sbx_kind_lookup("pvc"), NULL, NULL, buf, sizeof buf, &err), 0);
  assert_string_equal(buf, "/api/v1/persistentvolumeclaims");
  char d[64];
  assert_string_equal(sbx_kind_display(sbx_kind_lookup("cm"), d, sizeof d), "configmap");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_core_kinds),
      cmocka_unit_test(test_lookup), cmocka_unit_test(test_kind_and_names),
      cmocka_unit_test(test_errors), cmocka_unit_test(test_paths),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
