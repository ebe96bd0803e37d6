/* test_validate.c: unit tests of manifest validation (src/lib/validate.c): a full
 * JupyterLab-like manifest and examples/jupyterlab.yaml pass; each kind of refusal names
 * the field's path and the YAML line (wrong kind, bad names, bad quantities, unknown and
 * unsupported fields, wrong types, mounts over /proc, unsafe capabilities, dangling
 * volume references, ...). */
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
#include "lib/validate.h"

/* Parse `text` (one document) and validate it; returns the result, err filled. */
static int validate_text(const char *text, sbx_error_t *err) {
  struct sbx_manifest_doc *docs = NULL;
  size_t n = 0;
  if (sbx_manifest_parse(text, strlen(text), "t.yaml", &docs, &n, err) != 0)
    fail_msg("parse failed: %s", err->msg);
  assert_int_equal(n, 1);
  int r = sbx_validate(docs[0].obj, &docs[0], err);
  sbx_manifest_docs_free(docs, n);
  return r;
}

static void ok(const char *text) {
  sbx_error_t err = {0};
  if (validate_text(text, &err) != 0) fail_msg("refused: %s\n--\n%s", err.msg, text);
}

static void bad(const char *text, const char *needle) {
  sbx_error_t err = {0};
  if (validate_text(text, &err) != -1) fail_msg("accepted (wanted \"%s\"):\n%s", needle, text);
  assert_int_equal(err.errnum, EINVAL);
  if (!strstr(err.msg, needle)) fail_msg("message lacks \"%s\": %s", needle, err.msg);
}

/* A minimal Sandbox whose first container gets `extra` (indented 10 spaces) and whose pod
 * spec gets `podextra` (indented 6). Line of the first extra line: 11. */
static char *sandbox(const char *extra, const char *podextra) {
  static char buf[8192];
  snprintf(buf, sizeof buf,
           "apiVersion: agents.x-k8s.io/v1alpha1\n" /* 1 */
           "kind: Sandbox\n"                        /* 2 */
           "metadata:\n"                            /* 3 */
           "  name: sb\n"                           /* 4 */
           "spec:\n"                                /* 5 */
           "  podTemplate:\n"                       /* 6 */
           "    spec:\n"                            /* 7 */
           "      containers:\n"                    /* 8 */
           "        - name: main\n"                 /* 9 */
           "          image: host\n"                /* 10 */
           "%s"                                     /* 11 */
           "%s",
           extra, podextra);
  return buf;
}

#define C(x) sandbox(x, "")
#define P(x) sandbox("", x)

static const char *const jupyter =
    "apiVersion: agents.x-k8s.io/v1alpha1\n"
    "kind: Sandbox\n"
    "metadata:\n"
    "  name: jupyterlab-sandbox\n"
    "  namespace: default\n"
    "  labels: {app: jupyterlab}\n"
    "  annotations: {example.com/owner: \"data team\"}\n"
    "spec:\n"
    "  replicas: 1\n"
    "  shutdownPolicy: Retain\n"
    "  shutdownTime: \"2030-01-01T00:00:00Z\"\n"
    "  podTemplate:\n"
    "    metadata:\n"
    "      labels: {sandbox: jupyterlab}\n"
    "    spec:\n"
    "      restartPolicy: OnFailure\n"
    "      terminationGracePeriodSeconds: 10\n"
    "      hostname: jupyter\n"
    "      securityContext: {runAsUser: 1000, runAsGroup: 100, fsGroup: 100, runAsNonRoot: true,\n"
    "                        supplementalGroups: [100, 1000]}\n"
    "      initContainers:\n"
    "        - name: setup-workspace\n"
    "          image: host\n"
    "          command: [sh, -c, 'mkdir -p /home/jovyan/work']\n"
    "          volumeMounts: [{name: workspace, mountPath: /home/jovyan}]\n"
    "      containers:\n"
    "        - name: jupyterlab\n"
    "          image: host\n"
    "          command: [/usr/bin/python3, -m, notebook]\n"
    "          args: [--ip=0.0.0.0, --port=8888]\n"
    "          workingDir: /home/jovyan\n"
    "          ports:\n"
    "            - {name: http, containerPort: 8888, protocol: TCP}\n"
    "          env:\n"
    "            - {name: HOME, value: /home/jovyan}\n"
    "            - name: HF_TOKEN\n"
    "              valueFrom:\n"
    "                secretKeyRef: {name: jupyter-hf-token, key: HF_TOKEN, optional: false}\n"
    "            - name: SETTINGS\n"
    "              valueFrom: {configMapKeyRef: {name: cfg, key: settings}}\n"
    "            - name: MY_NAME\n"
    "              valueFrom: {fieldRef: {fieldPath: metadata.name, apiVersion: v1}}\n"
    "          envFrom:\n"
    "            - {secretRef: {name: more}, prefix: X_}\n"
    "            - configMapRef: {name: cfg, optional: true}\n"
    "          resources:\n"
    "            requests: {cpu: 500m, memory: 1Gi, ephemeral-storage: 10Gi}\n"
    "            limits: {cpu: 2, memory: 4Gi}\n"
    "          securityContext:\n"
    "            runAsUser: 1000\n"
    "            allowPrivilegeEscalation: false\n"
    "            privileged: false\n"
    "            readOnlyRootFilesystem: false\n"
    "            capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, CAP_CHOWN]}\n"
    "          volumeMounts:\n"
    "            - {name: workspace, mountPath: /home/jovyan}\n"
    "            - {name: scratch, mountPath: /tmp/scratch}\n"
    "            - {name: cfg, mountPath: /etc/jupyter, readOnly: true}\n"
    "            - {name: token, mountPath: /var/run/token, subPath: sub/dir}\n"
    "            - {name: data, mountPath: /data, readOnly: true}\n"
    "            - {name: models, mountPath: /models}\n"
    "      volumes:\n"
    "        - {name: scratch, emptyDir: {medium: Memory, sizeLimit: 1Gi}}\n"
    "        - {name: cfg, configMap: {name: cfg, items: [{key: a, path: a.json, mode: 0644}], defaultMode: 0444}}\n"
    "        - {name: token, secret: {secretName: jupyter-hf-token, optional: true}}\n"
    "        - {name: data, hostPath: {path: /srv/data, type: Directory}}\n"
    "        - {name: models, persistentVolumeClaim: {claimName: models, readOnly: true}}\n"
    "  volumeClaimTemplates:\n"
    "    - metadata: {name: workspace}\n"
    "      spec:\n"
    "        accessModes: [ReadWriteOnce]\n"
    "        storageClassName: local\n"
    "        resources: {requests: {storage: 20Gi}}\n"
    "status:\n"
    "  conditions: [{type: Ready, status: \"True\"}]\n";

static void test_full_manifest(void **state) {
  (void)state;
  ok(jupyter);
  ok("apiVersion: v1\nkind: Secret\nmetadata: {name: jupyter-hf-token}\ntype: Opaque\n"
     "stringData: {HF_TOKEN: hf_abc}\ndata: {other: aGVsbG8=}\nimmutable: false\n");
  ok("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg.example}\n"
     "data: {settings: '{\"a\": 1}', a.json: x}\nbinaryData: {blob: AAEC}\n");
  /* v1beta1 */
  ok("apiVersion: agents.x-k8s.io/v1beta1\nkind: Sandbox\nmetadata: {name: b}\n"
     "spec: {operatingMode: Suspended, podTemplate: {spec: {containers: [{name: c, image: "
     "'rootfs:/srv/images/debian'}]}}}\n");
  /* kubectl get -o yaml output re-applied */
  ok("apiVersion: agents.x-k8s.io/v1beta1\nkind: Sandbox\n"
     "metadata: {name: b, uid: 1234-5678, resourceVersion: \"7\", generation: 2,\n"
     "  creationTimestamp: \"2025-01-01T00:00:00Z\", managedFields: [{manager: sbx}]}\n"
     "spec: {podTemplate: {spec: {containers: [{name: c, image: host}]}}}\n"
     "status: {replicas: 1, whatever: [1, 2]}\n");
  /* nulls count as absent */
  ok(C("          env:\n          args:\n"));
}

static void test_example_file(void **state) {
  (void)state;
  const char *root = getenv("SBX_SOURCE_ROOT");
  if (!root) fail_msg("SBX_SOURCE_ROOT is not set (run through meson test)");
  char path[4096];
  snprintf(path, sizeof path, "%s/examples/jupyterlab.yaml", root);
  FILE *f = fopen(path, "r");
  if (!f) fail_msg("cannot open %s", path);
  static char buf[1 << 16];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  assert_true(len > 0 && len < sizeof buf);
  struct sbx_manifest_doc *docs = NULL;
  size_t n = 0;
  sbx_error_t err = {0};
  if (sbx_manifest_parse(buf, len, path, &docs, &n, &err) != 0) fail_msg("%s", err.msg);
  assert_int_equal(n, 2);
  for (size_t i = 0; i < n; i++)
    if (sbx_validate(docs[i].obj, &docs[i], &err) != 0) fail_msg("%s", err.msg);
  json_object *kind;
  assert_true(json_object_object_get_ex(docs[0].obj, "kind", &kind));
  assert_string_equal(json_object_get_string(kind), "Secret");
  assert_true(json_object_object_get_ex(docs[1].obj, "kind", &kind));
  assert_string_equal(json_object_get_string(kind), "Sandbox");
  sbx_manifest_docs_free(docs, n);
}

static void test_kind(void **state) {
  (void)state;
  bad("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
      "kind Deployment in apiVersion apps/v1 is not supported (sbx serves Sandbox, Secret, "
      "ConfigMap) (line 2)");
  bad("apiVersion: agents.x-k8s.io/v1\nkind: Sandbox\n", "kind Sandbox in apiVersion agents.x-k8s.io/v1 is not supported");
  bad("apiVersion: v1\nkind: Pod\n", "kind Pod in apiVersion v1 is not supported");
  bad("kind: Secret\n", "apiVersion: required");
  bad("apiVersion: v1\n", "kind: required");
  bad("apiVersion: 1\nkind: Secret\n", "apiVersion: expected string, got integer (line 1)");
  bad("apiVersion: v1\nkind: Secret\n", "metadata: required");
  bad("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: a}\n", "spec: required");
  bad("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: a}\nspec: {}\n",
      "spec.podTemplate: required (line 4)");
}

static void test_names(void **state) {
  (void)state;
  char buf[1024];
  const char *hdr = "apiVersion: agents.x-k8s.io/v1beta1\nkind: Sandbox\nmetadata:\n  name: %s\n"
                    "spec: {podTemplate: {spec: {containers: [{name: c, image: host}]}}}\n";
  snprintf(buf, sizeof buf, hdr, "a/b");
  bad(buf, "metadata.name: the name \"a/b\" contains '/'");
  bad(buf, "(line 4)");
  snprintf(buf, sizeof buf, hdr, "..");
  bad(buf, "metadata.name: the name \"..\" contains '.'");
  snprintf(buf, sizeof buf, hdr, "\"a\\0b\"");
  bad(buf, "metadata.name: must not contain a NUL character (line 4)");
  snprintf(buf, sizeof buf, hdr, "Upper");
  bad(buf, "upper-case");
  snprintf(buf, sizeof buf, hdr, "-a");
  bad(buf, "starts with '-'");
  char longname[301];
  memset(longname, 'a', 300);
  longname[300] = '\0';
  snprintf(buf, sizeof buf, hdr, longname);
  bad(buf, "is 300 characters long");
  snprintf(buf, sizeof buf, hdr, "\"\"");
  bad(buf, "metadata.name: the name must not be empty");
  /* JSON with \u0000 */
  bad("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"a\\u0000b\"}}",
      "metadata.name: must not contain a NUL character (line 1)");
  /* Secret and ConfigMap names are DNS subdomains */
  ok("apiVersion: v1\nkind: Secret\nmetadata: {name: my.secret-1}\n");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: a/b}\n", "metadata.name: \"a/b\" (3 characters) is not a lowercase RFC 1123 subdomain");
  bad("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ..}\n", "is not a lowercase RFC 1123 subdomain");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: a.b}\n", "metadata.namespace: the name \"a.b\" contains '.'");
  /* container names: labels, unique across init and regular containers */
  bad(C("        - name: main\n          image: host\n"),
      "spec.podTemplate.spec.containers[1].name: the container name \"main\" is used twice (line 11)");
  bad(P("      initContainers: [{name: main, image: host}]\n"),
      "spec.podTemplate.spec.containers[0].name: the container name \"main\" is used twice (line 9)");
  bad(P("      initContainers: [{name: in_it, image: host}]\n"),
      "spec.podTemplate.spec.initContainers[0].name: the name \"in_it\" contains the character '_'");
  /* labels */
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: x, labels: {a: 'b c'}}\n",
      "metadata.labels.a: \"b c\" is not a valid label value");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: x, labels: {'-a': b}}\n",
      "is not a valid key");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: x, labels: {a: 1}}\n",
      "metadata.labels.a: expected string, got integer (line 3)");
}

static void test_quantities(void **state) {
  (void)state;
  bad(C("          resources:\n            limits:\n              memory: -1\n"),
      "spec.podTemplate.spec.containers[0].resources.limits.memory: \"-1\" is not a quantity: "
      "must not be negative (line 13)");
  bad(C("          resources:\n            limits: {memory: 1.5.5Gi}\n"),
      "resources.limits.memory: \"1.5.5Gi\" is not a quantity: has more than one decimal "
      "point (line 12)");
  bad(C("          resources:\n            requests: {cpu: 99999999Ei}\n"),
      "resources.requests.cpu: \"99999999Ei\" is too large");
  bad(C("          resources:\n            requests: {memory: 99999999Ei}\n"),
      "resources.requests.memory: \"99999999Ei\" is too large");
  bad(C("          resources:\n            requests: {memory: \"\"}\n"), "resources.requests.memory:");
  bad(C("          resources:\n            requests: {memory: true}\n"),
      "expected a quantity (string or number), got boolean");
  bad(C("          resources:\n            requests: {nvidia.com/gpu: 1}\n"),
      "resources.requests.nvidia.com/gpu: the resource \"nvidia.com/gpu\" is not supported by sbx");
  bad(C("          resources:\n            requests: {cpu: 2}\n            limits: {cpu: 500m}\n"),
      "resources.limits.cpu: the limit 500m is less than the request 2 (line 13)");
  bad(C("          resources:\n            claims: []\n"), "resources.claims: not supported by sbx");
  ok(C("          resources:\n            requests: {cpu: 0.5, memory: 0, ephemeral-storage: 1e9}\n"
       "            limits: {cpu: \"1\", memory: 8E}\n"));
  bad(P("      volumes: [{name: v, emptyDir: {sizeLimit: 12XB}}]\n"),
      "spec.podTemplate.spec.volumes[0].emptyDir.sizeLimit: \"12XB\" is not a quantity");
  /* claim templates need a capacity */
  const char *vct = "apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: s}\n"
                    "spec:\n  podTemplate: {spec: {containers: [{name: c, image: host}]}}\n"
                    "  volumeClaimTemplates:\n    - metadata: {name: w}\n      spec:\n%s";
  char buf[2048];
  snprintf(buf, sizeof buf, vct, "        resources: {requests: {storage: 1.5.5Gi}}\n");
  bad(buf, "spec.volumeClaimTemplates[0].spec.resources.requests.storage: \"1.5.5Gi\" is not a quantity");
  snprintf(buf, sizeof buf, vct, "        resources: {requests: {}}\n");
  bad(buf, "spec.volumeClaimTemplates[0].spec.resources.requests.storage: required");
  snprintf(buf, sizeof buf, vct, "        accessModes: [ReadWriteOnce]\n");
  bad(buf, "spec.volumeClaimTemplates[0].spec.resources: required (line 8)");
  snprintf(buf, sizeof buf, vct, "        resources: {requests: {storage: 0}}\n");
  bad(buf, "storage: must be more than 0");
  snprintf(buf, sizeof buf, vct, "        resources: {requests: {storage: 1Gi}}\n        accessModes: [ReadWriteMany]\n");
  bad(buf, "spec.volumeClaimTemplates[0].spec.accessModes[0]: \"ReadWriteMany\" is not supported by sbx");
  snprintf(buf, sizeof buf, vct, "        resources: {requests: {storage: 1Gi}}\n        volumeMode: Block\n");
  bad(buf, "spec.volumeClaimTemplates[0].spec.volumeMode: not supported by sbx (line 10)");
}

static void test_fields(void **state) {
  (void)state;
  /* upstream fields sbx does not honour, with path and line */
  bad(C("          lifecycle: {}\n"),
      "spec.podTemplate.spec.containers[0].lifecycle: not supported by sbx (line 11)");
  /* imagePullPolicy is honoured trivially (nothing is pulled), but only with its values */
  ok(C("          imagePullPolicy: IfNotPresent\n"));
  bad(C("          imagePullPolicy: Sometimes\n"), "containers[0].imagePullPolicy");
  bad(C("          tty: true\n"), "containers[0].tty: not supported by sbx");
  bad(C("          livenessProbe: {exec: {command: [true]}}\n"), "containers[0].livenessProbe: not supported by sbx");
  bad(P("      hostNetwork: true\n"), "spec.podTemplate.spec.hostNetwork: not supported by sbx (line 11)");
  bad(P("      nodeSelector: {a: b}\n"), "spec.podTemplate.spec.nodeSelector: not supported by sbx");
  bad(P("      volumes: [{name: v, nfs: {server: x, path: /}}]\n"),
      "spec.podTemplate.spec.volumes[0].nfs: not supported by sbx");
  bad("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: s}\n"
      "spec:\n  service: true\n  podTemplate: {spec: {containers: [{name: c, image: host}]}}\n",
      "spec.service: not supported by sbx (line 5)");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: x, finalizers: [a]}\n", "metadata.finalizers: not supported by sbx");
  bad(C("          securityContext: {seccompProfile: {type: Unconfined}}\n"),
      "containers[0].securityContext.seccompProfile: not supported by sbx");
  bad(C("          env: [{name: A, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}]\n"),
      "containers[0].env[0].valueFrom.resourceFieldRef: not supported by sbx");
  bad(C("          ports: [{containerPort: 80, hostPort: 80}]\n"), "containers[0].ports[0].hostPort: not supported by sbx");
  bad(C("          volumeMounts: [{name: v, mountPath: /v, mountPropagation: Bidirectional}]\n"),
      "volumeMounts[0].mountPropagation: not supported by sbx");
  /* fields that exist nowhere upstream */
  bad(C("          imagee: host\n"), "spec.podTemplate.spec.containers[0].imagee: unknown field (line 11)");
  bad(P("      containerz: []\n"), "spec.podTemplate.spec.containerz: unknown field (line 11)");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nspec: {}\n", "spec: unknown field (line 4)");
  bad("apiVersion: agents.x-k8s.io/v1beta1\nkind: Sandbox\nmetadata: {name: s}\n"
      "spec:\n  replicas: 1\n  podTemplate: {spec: {containers: [{name: c, image: host}]}}\n",
      "spec.replicas: unknown field (v1beta1 says spec.operatingMode");
  bad("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: s}\n"
      "spec:\n  operatingMode: Running\n  podTemplate: {spec: {containers: [{name: c, image: host}]}}\n",
      "spec.operatingMode: unknown field (v1alpha1 says spec.replicas");
  /* hostile key bytes are escaped in the message */
  bad(C("          \"a\\x01b\": 1\n"), "containers[0].a\\x01b: unknown field");
}

static void test_types_and_values(void **state) {
  (void)state;
  bad(C("          command: python3\n"),
      "spec.podTemplate.spec.containers[0].command: expected array, got string (line 11)");
  bad(C("          command: [python3, 3]\n"), "containers[0].command[1]: expected string, got integer");
  bad(C("          args: [yes]\n"), "containers[0].args[0]: expected string, got boolean");
  bad(C("          workingDir: relative/dir\n"), "containers[0].workingDir: \"relative/dir\" must be an absolute path");
  bad(P("      terminationGracePeriodSeconds: 99999\n"),
      "terminationGracePeriodSeconds: 99999 is out of range (0 to 3600) (line 11)");
  bad(P("      terminationGracePeriodSeconds: \"30\"\n"), "expected integer, got string");
  bad(P("      restartPolicy: Sometimes\n"),
      "spec.podTemplate.spec.restartPolicy: \"Sometimes\" is not one of Always, OnFailure, Never");
  bad(P("      hostname: My_Host\n"), "spec.podTemplate.spec.hostname: the name");
  bad("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: s}\n"
      "spec:\n  replicas: 2\n  podTemplate: {spec: {containers: [{name: c, image: host}]}}\n",
      "spec.replicas: 2 is out of range (0 to 1) (line 5)");
  bad("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: s}\n"
      "spec:\n  shutdownTime: tomorrow\n  podTemplate: {spec: {containers: [{name: c, image: host}]}}\n",
      "spec.shutdownTime: \"tomorrow\" is not an RFC 3339 date-time");
  bad("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: s}\n"
      "spec:\n  shutdownPolicy: Keep\n  podTemplate: {spec: {containers: [{name: c, image: host}]}}\n",
      "spec.shutdownPolicy: \"Keep\" is not one of Retain, Delete");
  /* images */
  bad("apiVersion: agents.x-k8s.io/v1beta1\nkind: Sandbox\nmetadata: {name: s}\n"
      "spec: {podTemplate: {spec: {containers: [{name: c, image: 'python:3.11'}]}}}\n",
      "spec.podTemplate.spec.containers[0].image: image \"python:3.11\" cannot be pulled: sbx "
      "runs `host` or `rootfs:DIR` images (line 4)");
  bad("apiVersion: agents.x-k8s.io/v1beta1\nkind: Sandbox\nmetadata: {name: s}\n"
      "spec: {podTemplate: {spec: {containers: [{name: c, image: 'rootfs:rel/dir'}]}}}\n",
      "the directory must be an absolute path");
  bad("apiVersion: agents.x-k8s.io/v1beta1\nkind: Sandbox\nmetadata: {name: s}\n"
      "spec: {podTemplate: {spec: {containers: [{name: c}]}}}\n",
      "spec.podTemplate.spec.containers[0].image: required (line 4)");
  bad("apiVersion: agents.x-k8s.io/v1beta1\nkind: Sandbox\nmetadata: {name: s}\n"
      "spec: {podTemplate: {spec: {containers: []}}}\n",
      "spec.podTemplate.spec.containers: needs at least one container");
  /* ports */
  bad(C("          ports: [{containerPort: 0}]\n"), "ports[0].containerPort: 0 is out of range (1 to 65535)");
  bad(C("          ports: [{containerPort: 70000}]\n"), "out of range");
  bad(C("          ports: [{name: http}]\n"), "ports[0].containerPort: required");
  bad(C("          ports: [{containerPort: 53, protocol: UDP}]\n"), "protocol UDP is not supported by sbx (TCP only)");
  bad(C("          ports: [{containerPort: 80, name: a-very-long-port-name}]\n"), "is not a port name");
  bad(C("          ports: [{containerPort: 80}, {containerPort: 80}]\n"), "ports[1].containerPort: port 80 is listed twice");
  /* env */
  bad(C("          env: [{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n"),
      "env[0].valueFrom: may not be set together with value");
  bad(C("          env: [{name: A, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]\n"),
      "env[0].valueFrom.fieldRef.fieldPath: \"status.podIP\" is not supported by sbx");
  bad(C("          env: [{name: A, valueFrom: {}}]\n"), "env[0].valueFrom: needs one of secretKeyRef, configMapKeyRef, fieldRef");
  bad(C("          env: [{name: A, valueFrom: {secretKeyRef: {name: s}}}]\n"), "env[0].valueFrom.secretKeyRef.key: required");
  bad(C("          env: [{name: 'A=B', value: x}]\n"), "env[0].name: \"A=B\" must not contain '='");
  bad(C("          env: [{value: x}]\n"), "env[0].name: required");
  bad(C("          envFrom: [{prefix: X}]\n"), "envFrom[0]: needs one of secretRef, configMapRef");
  bad(C("          envFrom: [{secretRef: {name: a}, configMapRef: {name: b}}]\n"),
      "envFrom[0].configMapRef: may not be set together with secretRef");
}

static void test_security(void **state) {
  (void)state;
  bad(C("          securityContext: {allowPrivilegeEscalation: true}\n"),
      "containers[0].securityContext.allowPrivilegeEscalation: true is not supported: sbx always sets no_new_privs (line 11)");
  bad(C("          securityContext: {privileged: true}\n"), "securityContext.privileged: true is not supported");
  bad(C("          securityContext: {capabilities: {add: [SYS_ADMIN]}}\n"),
      "securityContext.capabilities.add[0]: adding \"SYS_ADMIN\" is not supported by sbx");
  bad(C("          securityContext: {capabilities: {add: [NET_RAW]}}\n"), "adding \"NET_RAW\" is not supported");
  bad(C("          securityContext: {capabilities: {add: [ALL]}}\n"), "adding \"ALL\" is not supported");
  bad(C("          securityContext: {capabilities: {add: [FLY]}}\n"), "\"FLY\" is not a capability");
  bad(C("          securityContext: {capabilities: {drop: [FLY]}}\n"), "\"FLY\" is not a capability");
  ok(C("          securityContext: {capabilities: {drop: [ALL, CAP_SYS_ADMIN, NET_RAW], add: [KILL, SETUID, CAP_SETGID]}}\n"));
  bad(C("          securityContext: {runAsUser: 70000}\n"), "securityContext.runAsUser: 70000 is out of range (0 to 65535)");
  bad(C("          securityContext: {runAsGroup: -1}\n"), "securityContext.runAsGroup: -1 is out of range");
  bad(P("      securityContext: {fsGroup: 65536}\n"), "spec.podTemplate.spec.securityContext.fsGroup: 65536 is out of range");
  bad(P("      securityContext: {sysctls: []}\n"), "securityContext.sysctls: not supported by sbx");
  bad(C("          securityContext: {runAsNonRoot: true}\n"),
      "containers[0].securityContext: runAsNonRoot is true but the container would run as root");
  bad(P("      securityContext: {runAsNonRoot: true, runAsUser: 0}\n"),
      "runAsNonRoot is true but the container would run as root");
  ok(P("      securityContext: {runAsNonRoot: true, runAsUser: 1000}\n"));
}

static void test_volumes(void **state) {
  (void)state;
  const char *withvol = "          volumeMounts: [{name: v, mountPath: %s}]\n";
  const char *vol = "      volumes: [{name: v, emptyDir: {}}]\n";
  char extra[256];
  static const char *const banned[] = {"/proc", "/proc/sys", "/sys", "/sys/fs/cgroup", "/dev",
                                       "/dev/shm", "//proc", "/./proc/", "/", NULL};
  for (const char *const *b = banned; *b; b++) {
    snprintf(extra, sizeof extra, withvol, *b);
    bad(sandbox(extra, vol), "spec.podTemplate.spec.containers[0].volumeMounts[0].mountPath:");
  }
  snprintf(extra, sizeof extra, withvol, "/proc");
  bad(sandbox(extra, vol), "\"/proc\": sbx does not mount volumes over or under /proc (line 11)");
  snprintf(extra, sizeof extra, withvol, "/procfs");
  ok(sandbox(extra, vol));
  snprintf(extra, sizeof extra, withvol, "/a/../proc");
  bad(sandbox(extra, vol), "must not contain \"..\"");
  snprintf(extra, sizeof extra, withvol, "relative");
  bad(sandbox(extra, vol), "must be an absolute path");
  bad(sandbox("          volumeMounts: [{name: v, mountPath: /a, subPath: ../x}]\n", vol),
      "volumeMounts[0].subPath: \"../x\" must not contain \"..\"");
  bad(sandbox("          volumeMounts: [{name: v, mountPath: /a, subPath: /x}]\n", vol),
      "volumeMounts[0].subPath: \"/x\" must be a relative path");
  bad(sandbox("          volumeMounts: [{name: v, mountPath: /a}, {name: v, mountPath: /a/}]\n", vol),
      "volumeMounts[1].mountPath: \"/a/\" is mounted twice");
  bad(C("          volumeMounts: [{name: nothere, mountPath: /a}]\n"),
      "containers[0].volumeMounts[0].name: no volume or volumeClaimTemplate is named \"nothere\" (line 11)");
  /* volume sources */
  bad(P("      volumes: [{name: v}]\n"),
      "spec.podTemplate.spec.volumes[0]: needs one of emptyDir, configMap, secret, persistentVolumeClaim, hostPath");
  bad(P("      volumes: [{name: v, emptyDir: {}, hostPath: {path: /x}}]\n"),
      "volumes[0].hostPath: may not be set together with emptyDir");
  bad(P("      volumes: [{name: v, emptyDir: {}}, {name: v, emptyDir: {}}]\n"),
      "volumes[1].name: the volume name \"v\" is used twice");
  bad(P("      volumes: [{name: v, emptyDir: {medium: HugePages}}]\n"), "emptyDir.medium: \"HugePages\" is not one of \"\", Memory");
  bad(P("      volumes: [{name: v, hostPath: {path: etc}}]\n"), "volumes[0].hostPath.path: \"etc\" must be an absolute path");
  bad(P("      volumes: [{name: v, hostPath: {path: /etc, type: Dir}}]\n"), "hostPath.type: \"Dir\" is not one of");
  ok(P("      volumes: [{name: v, hostPath: {path: /etc}}]\n")); /* the allow-list is sbxd's */
  bad(P("      volumes: [{name: v, secret: {secretName: s, defaultMode: 01777}}]\n"),
      "volumes[0].secret.defaultMode: 1023 is out of range (0 to 511)");
  bad(P("      volumes: [{name: v, secret: {secretName: s, items: [{key: a, path: ../a}]}}]\n"),
      "volumes[0].secret.items[0].path: \"../a\" must not contain \"..\"");
  bad(P("      volumes: [{name: v, configMap: {}}]\n"), "volumes[0].configMap.name: required");
  bad(P("      volumes: [{name: v, persistentVolumeClaim: {readOnly: true}}]\n"),
      "volumes[0].persistentVolumeClaim.claimName: required");
  bad(P("      volumes: [{name: V, emptyDir: {}}]\n"), "volumes[0].name: the name \"V\"");
  /* claim template names count as volumes, and must not clash with pod volumes */
  const char *s = "apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata: {name: s}\n"
                  "spec:\n  podTemplate: {spec: {containers: [{name: c, image: host,\n"
                  "    volumeMounts: [{name: w, mountPath: /w}]}]%s}}\n"
                  "  volumeClaimTemplates:\n"
                  "    - {metadata: {name: w}, spec: {resources: {requests: {storage: 1Gi}}}}\n%s";
  char buf[2048];
  snprintf(buf, sizeof buf, s, "", "");
  ok(buf);
  snprintf(buf, sizeof buf, s, ", volumes: [{name: w, emptyDir: {}}]", "");
  bad(buf, "volumes[0].name: \"w\" is also the name of a volumeClaimTemplate");
  snprintf(buf, sizeof buf, s, "",
           "    - {metadata: {name: w}, spec: {resources: {requests: {storage: 2Gi}}}}\n");
  bad(buf, "spec.volumeClaimTemplates[1].metadata.name: the claim template name \"w\" is used twice");
}

static void test_secret_configmap(void **state) {
  (void)state;
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  k: not base64!\n",
      "data.k: is not valid base64 (use stringData for plain text) (line 5)");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: aGVsbG8}\n", "is not valid base64");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: 1}\n",
      "stringData.k: expected string, got integer");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a/b: x}\n",
      "stringData.a/b: \"a/b\" is not a valid key");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {'..': x}\n", "is not a valid key");
  bad("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nimmutable: yes please\n",
      "immutable: expected boolean, got string");
  bad("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: x}\nbinaryData: {a: eA==}\n",
      "binaryData.a: the key is also in data");
  bad("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nbinaryData: {a: '%%%'}\n", "binaryData.a: is not valid base64");
  bad("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ntype: Opaque\n", "type: unknown field");
}

static void test_limits(void **state) {
  (void)state;
  /* more than 100 containers */
  size_t cap = 200000;
  char *buf = malloc(cap);
  assert_non_null(buf);
  size_t o = (size_t)snprintf(buf, cap,
                              "apiVersion: agents.x-k8s.io/v1beta1\nkind: Sandbox\nmetadata: {name: s}\n"
                              "spec:\n  podTemplate:\n    spec:\n      containers:\n");
  for (int i = 0; i < 101; i++)
    o += (size_t)snprintf(buf + o, cap - o, "        - {name: c%d, image: host}\n", i);
  bad(buf, "spec.podTemplate.spec: 101 containers: sbx runs at most 100 in one sandbox");
  free(buf);
  /* not an object */
  sbx_error_t err = {0};
  json_object *arr = json_object_new_array();
  assert_int_equal(sbx_validate(arr, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "must be an object"));
  json_object_put(arr);
  /* no doc: no line numbers */
  json_object *o2 = json_tokener_parse("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"A\"}}");
  assert_int_equal(sbx_validate(o2, NULL, &err), -1);
  assert_null(strstr(err.msg, "(line"));
  assert_non_null(strstr(err.msg, "metadata.name: "));
  json_object_put(o2);
}

static void test_helpers(void **state) {
  (void)state;
  assert_true(sbx_is_rfc3339("2025-06-01T12:00:00Z"));
  assert_true(sbx_is_rfc3339("2024-02-29T23:59:60.123+02:00"));
  assert_true(sbx_is_rfc3339("2025-06-01t12:00:00z"));
  assert_false(sbx_is_rfc3339("2025-02-29T12:00:00Z"));
  assert_false(sbx_is_rfc3339("2025-13-01T12:00:00Z"));
  assert_false(sbx_is_rfc3339("2025-06-01 12:00:00Z"));
  assert_false(sbx_is_rfc3339("2025-06-01T12:00:00"));
  assert_false(sbx_is_rfc3339("2025-06-01T12:00:00+0200"));
  assert_true(sbx_is_port_name("http"));
  assert_true(sbx_is_port_name("h2c-8080"));
  assert_false(sbx_is_port_name("8080"));
  assert_false(sbx_is_port_name("a--b"));
  assert_false(sbx_is_port_name("-a"));
  assert_false(sbx_is_port_name("Http"));
  assert_false(sbx_is_port_name("abcdefghijklmnop"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_manifest), cmocka_unit_test(test_example_file),
      cmocka_unit_test(test_kind),          cmocka_unit_test(test_names),
      cmocka_unit_test(test_quantities),    cmocka_unit_test(test_fields),
      cmocka_unit_test(test_types_and_values), cmocka_unit_test(test_security),
      cmocka_unit_test(test_volumes),       cmocka_unit_test(test_secret_configmap),
      cmocka_unit_test(test_limits),        cmocka_unit_test(test_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
