/* sandbox_status.c: the status a declared sandbox shows, as upstream reports it.
 *
 * Computed when asked, from two sources: the object's bookkeeping (x-sbx: suspended,
 * expired, pending admission, an unresolved dependency, the shim's pid) and the shim's
 * status.json (each container's state). The Ready condition carries upstream's reasons:
 * DependenciesReady when every container runs, DependenciesNotReady with what is missing,
 * SandboxSuspended, SandboxExpired. `replicas` is 1 while the pod runs (v1alpha1 shows it);
 * `podStatus` (an sbx extension: there is no Pod object here) holds the phase and each
 * container's state, restart count and last state, as a Pod's status would. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/controller/reconcile.h"
#include "daemon/store/objects.h"
#include "lib/timefmt.h"
#include "lib/wire.h"

/* Append "container X is <why>" for each container not in `good` state; false if any */
static bool summarize(json_object *cs, bool init, char *buf, size_t n, int *count) {
  bool all = true;
  size_t len = strlen(buf);
  for (size_t i = 0; cs && i < json_object_array_length(cs); i++) {
    json_object *c = json_object_array_get_idx(cs, i), *state = sbx_json_path(c, "state"), *w;
    (*count)++;
    w = sbx_json_path(state, "terminated");
    if (init ? (w && sbx_json_int(w, "exitCode", -1) == 0) : sbx_json_path(state, "running") != NULL) continue;
    all = false;
    const char *why = "not started";
    if ((w = sbx_json_path(state, "waiting"))) why = sbx_json_str(w, "reason") ?: "waiting";
    else if ((w = sbx_json_path(state, "terminated"))) why = sbx_json_str(w, "reason") ?: "terminated";
    else if (init) why = "running";
    if (len < n)
      len += (size_t)snprintf(buf + len, n - len, "%s%scontainer %s is %s", len ? "; " : "", init ? "init " : "",
                              sbx_json_str(c, "name") ?: "?", why);
  }
  return all;
}

json_object *sbx_pod_status(json_object *obj, json_object *rt) {
  json_object *x = sbx_internal(obj);
  bool run = sbx_json_int(x, "shimPid", 0) > 0;
  const char *mode = sbx_json_str(sbx_json_path(obj, "spec"), "operatingMode") ?: "Running";
  const char *ready = "False", *reason, *phase;
  char msg[1024] = "";
  if (sbx_json_bool(x, "expired", 0)) {
    reason = "SandboxExpired";
    snprintf(msg, sizeof msg, "the shutdown time %s has passed", sbx_json_str(sbx_json_path(obj, "spec"), "shutdownTime") ?: "");
  } else if (strcmp(mode, "Suspended") == 0) {
    reason = "SandboxSuspended";
    snprintf(msg, sizeof msg, "%s", run ? "suspending: the processes are stopping" : "the sandbox is suspended; its volumes and writable layer are kept");
  } else if (sbx_json_str(x, "pending")) {
    reason = "DependenciesNotReady";
    snprintf(msg, sizeof msg, "Pending: %s", sbx_json_str(x, "pending"));
  } else if (sbx_json_str(x, "depsError")) {
    reason = "DependenciesNotReady";
    snprintf(msg, sizeof msg, "%s", sbx_json_str(x, "depsError"));
  } else if (!run) {
    reason = "DependenciesNotReady";
    snprintf(msg, sizeof msg, "%s", sbx_json_bool(x, "completed", 0) ? "the pod has completed" : "the pod is not running");
  } else {
    int n = 0, ninit = 0;
    bool all = summarize(sbx_json_path(rt, "initContainerStatuses"), true, msg, sizeof msg, &ninit) &&
               summarize(sbx_json_path(rt, "containerStatuses"), false, msg, sizeof msg, &n);
    if (sbx_json_str(x, "stopping")) all = false, snprintf(msg, sizeof msg, "the pod is restarting");
    if (all && n > 0) {
      ready = "True";
      reason = "DependenciesReady";
      snprintf(msg, sizeof msg, "the pod is ready");
    } else {
      reason = "DependenciesNotReady";
      if (!msg[0]) snprintf(msg, sizeof msg, "the pod is starting");
    }
  }
  json_object *st = json_object_new_object(), *conds = json_object_new_array(), *c = json_object_new_object();
  json_object_object_add(c, "type", json_object_new_string("Ready"));
  json_object_object_add(c, "status", json_object_new_string(ready));
  json_object_object_add(c, "reason", json_object_new_string(reason));
  json_object_object_add(c, "message", json_object_new_string(msg));
  /* the transition time is when this (status, reason) was first seen (kept in x-sbx) */
  char key[96];
  snprintf(key, sizeof key, "%s/%s", ready, reason);
  if (strcmp(sbx_json_str(x, "readyKey") ?: "", key) != 0) {
    char ts[32];
    sbx_now_rfc3339(ts, sizeof ts);
    json_object_object_add(x, "readyKey", json_object_new_string(key));
    json_object_object_add(x, "readySince", json_object_new_string(ts));
  }
  json_object_object_add(c, "lastTransitionTime", json_object_new_string(sbx_json_str(x, "readySince")));
  json_object_object_add(c, "observedGeneration", json_object_new_int64(sbx_json_int(sbx_json_path(obj, "metadata"), "generation", 1)));
  json_object_array_add(conds, c);
  json_object_object_add(st, "conditions", conds);
  json_object_object_add(st, "replicas", json_object_new_int(run ? 1 : 0));
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  json_object_object_add(st, "nodeName", json_object_new_string(host));

  phase = run ? (sbx_json_str(rt, "phase") ?: "Pending") : sbx_json_bool(x, "completed", 0) ? (sbx_json_str(rt, "phase") ?: "Succeeded") : "Pending";
  json_object *ps = json_object_new_object();
  json_object_object_add(ps, "phase", json_object_new_string(phase));
  if (sbx_json_str(x, "pending")) {
    json_object_object_add(ps, "reason", json_object_new_string("Unschedulable"));
    json_object_object_add(ps, "message", json_object_new_string(sbx_json_str(x, "pending")));
  }
  if (sbx_json_str(x, "startedAt")) json_object_object_add(ps, "startTime", json_object_new_string(sbx_json_str(x, "startedAt")));
  const char *keys[] = {"initContainerStatuses", "containerStatuses"};
  for (size_t i = 0; i < 2; i++) {
    json_object *v = sbx_json_path(rt, keys[i]);
    if (v) json_object_object_add(ps, keys[i], json_object_get(v));
  }
  json_object_object_add(st, "podStatus", ps);
  return st;
}
