/* api_metrics.c: what the machine's users use, three ways.
 *
 *   GET /apis/metrics.k8s.io/v1beta1/[namespaces/NS/]pods[/NAME]   PodMetrics (kubectl top pod)
 *       one per sandbox, its whole use as one container entry "sandbox", plus an `sbx`
 *       field: owner, phase, CPU seconds, memory peak, processes, disk (writable layer,
 *       claims). One's own sandboxes; ?allUsers=admin (-A) everyone's for root and the
 *       admin group.
 *   GET /apis/metrics.sbx.x-k8s.io/v1alpha1/users                   UserMetricsList
 *       every person's totals (uid, user name, numbers; never their sandboxes' names),
 *       open to every user: it answers "who holds the machine".
 *   GET /metrics                                                    Prometheus text 0.0.4
 *       root and the admin group only: it shows every user's use.
 *
 * It also counts every answered request by HTTP code (sbx_api_count) for /metrics. */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api/http.h"
#include "daemon/api/query.h"
#include "daemon/controller/usage.h"
#include "lib/cleanup.h"
#include "lib/prom.h"
#include "lib/timefmt.h"
#include "lib/wire.h"

/* ------------------------------------------------------------- request counts ---- */

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t by_code[600];

void sbx_api_count(unsigned code) {
  pthread_mutex_lock(&count_lock);
  by_code[code < 600 ? code : 0]++;
  pthread_mutex_unlock(&count_lock);
}

/* ---------------------------------------------------------------- quantities ---- */

static json_object *millicores(int64_t m) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lldm", (long long)(m < 0 ? 0 : m));
  return json_object_new_string(buf);
}

static json_object *kibibytes(uint64_t bytes) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lluKi", (unsigned long long)(bytes / 1024));
  return json_object_new_string(buf);
}

static void user_name(uid_t uid, char *buf, size_t n) {
  struct passwd pw, *res = NULL;
  char tmp[1024];
  if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res) snprintf(buf, n, "%s", res->pw_name);
  else snprintf(buf, n, "%u", (unsigned)uid);
}

/* ---------------------------------------------------------------- PodMetrics ---- */

static json_object *pod_metrics(const struct sbx_sandbox_usage *u, const char *now) {
  json_object *o = json_object_new_object(), *meta = json_object_new_object(), *ann = json_object_new_object();
  json_object_object_add(o, "kind", json_object_new_string("PodMetrics"));
  json_object_object_add(o, "apiVersion", json_object_new_string("metrics.k8s.io/v1beta1"));
  json_object_object_add(meta, "name", json_object_new_string(u->name));
  json_object_object_add(meta, "namespace", json_object_new_string(u->ns));
  json_object_object_add(meta, "creationTimestamp", json_object_new_string(now));
  char owner[16];
  snprintf(owner, sizeof owner, "%u", (unsigned)u->owner);
  json_object_object_add(ann, SBX_ANN_OWNER, json_object_new_string(owner));
  json_object_object_add(meta, "annotations", ann);
  json_object_object_add(o, "metadata", meta);
  json_object_object_add(o, "timestamp", json_object_new_string(now));
  char window[32];
  snprintf(window, sizeof window, "%lld.%03llds", (long long)(u->window_ms / 1000), (long long)(u->window_ms % 1000));
  json_object_object_add(o, "window", json_object_new_string(window));
  json_object *containers = json_object_new_array(), *c = json_object_new_object(), *usage = json_object_new_object();
  json_object_object_add(c, "name", json_object_new_string("sandbox"));
  json_object_object_add(usage, "cpu", millicores(u->cpu_millis));
  json_object_object_add(usage, "memory", kibibytes(u->cg.memory_bytes));
  json_object_object_add(c, "usage", usage);
  json_object_array_add(containers, c);
  json_object_object_add(o, "containers", containers);
  /* sbx's extension: what PodMetrics has no field for */
  json_object *x = json_object_new_object(), *disk = json_object_new_object();
  json_object_object_add(x, "owner", json_object_new_int64(u->owner));
  json_object_object_add(x, "phase", json_object_new_string(u->phase));
  json_object_object_add(x, "cpuMillicores", json_object_new_int64(u->cpu_millis));
  json_object_object_add(x, "cpuSeconds", json_object_new_double((double)u->cg.cpu_usec / 1e6));
  json_object_object_add(x, "memoryBytes", json_object_new_int64((int64_t)u->cg.memory_bytes));
  json_object_object_add(x, "memoryPeakBytes", json_object_new_int64((int64_t)u->cg.memory_peak_bytes));
  json_object_object_add(x, "pids", json_object_new_int64((int64_t)u->cg.pids));
  json_object_object_add(disk, "writableLayerBytes", json_object_new_int64((int64_t)u->writable_bytes));
  json_object_object_add(disk, "claimsBytes", json_object_new_int64((int64_t)u->claims_bytes));
  json_object_object_add(x, "disk", disk);
  json_object_object_add(o, "sbx", x);
  return o;
}

int sbx_api_podmetrics(const struct sbx_http_req *r) {
  if (strcmp(r->method, "GET") != 0) return sbx_http_status(r, 405, "MethodNotAllowed", "metrics are read-only: use GET");
  if (r->subresource) return sbx_http_status(r, 404, "NotFound", "the server could not find the requested resource");
  int answered;
  uid_t owner = r->who->uid;
  if (sbx_query_whole(r, &answered) < 0) return answered;
  if (!r->name && sbx_http_list_owner(r, &owner, &answered) < 0) return answered;
  _cleanup_free_ struct sbx_sandbox_usage *u = NULL;
  size_t n;
  sbx_error_t err = {0};
  if (sbx_usage_sandboxes(r->d, r->ns, r->name, owner, &u, &n, &err) < 0) {
    if (err.errnum == ENOENT) return sbx_http_error(r, "podmetrics.metrics.k8s.io", &err);
    return sbx_http_status(r, 500, "InternalError", err.msg);
  }
  char now[32];
  sbx_now_rfc3339(now, sizeof now);
  if (r->name) {
    _cleanup_json_ json_object *one = pod_metrics(&u[0], now);
    return sbx_http_json(r, 200, one);
  }
  json_object *items = json_object_new_array();
  for (size_t i = 0; i < n; i++) json_object_array_add(items, pod_metrics(&u[i], now));
  _cleanup_json_ json_object *list = sbx_http_list("metrics.k8s.io/v1beta1", "PodMetricsList", items);
  return sbx_http_json(r, 200, list);
}

/* ----------------------------------------------------------- per-person totals ---- */

int sbx_api_usermetrics(const struct sbx_http_req *r) {
  if (strcmp(r->method, "GET") != 0) return sbx_http_status(r, 405, "MethodNotAllowed", "metrics are read-only: use GET");
  if (r->ns || r->name) return sbx_http_status(r, 404, "NotFound", "users are listed as a whole: GET .../users");
  int answered;
  if (sbx_query_whole(r, &answered) < 0) return answered;
  _cleanup_free_ struct sbx_sandbox_usage *sb = NULL;
  _cleanup_free_ struct sbx_person_usage *p = NULL;
  size_t nsb, n;
  sbx_error_t err = {0};
  if (sbx_usage_sandboxes(r->d, NULL, NULL, SBX_OWNER_ANY, &sb, &nsb, &err) < 0 ||
      sbx_usage_people(r->d, sb, nsb, &p, &n, &err) < 0)
    return sbx_http_status(r, 500, "InternalError", err.msg);
  char now[32], name[256];
  sbx_now_rfc3339(now, sizeof now);
  json_object *items = json_object_new_array();
  for (size_t i = 0; i < n; i++) {
    json_object *o = json_object_new_object(), *usage = json_object_new_object(), *disk = json_object_new_object();
    user_name(p[i].uid, name, sizeof name);
    json_object *meta = json_object_new_object();
    json_object_object_add(meta, "name", json_object_new_string(name));
    json_object_object_add(o, "kind", json_object_new_string("UserMetrics"));
    json_object_object_add(o, "apiVersion", json_object_new_string("metrics.sbx.x-k8s.io/v1alpha1"));
    json_object_object_add(o, "metadata", meta);
    json_object_object_add(o, "uid", json_object_new_int64(p[i].uid));
    json_object_object_add(o, "user", json_object_new_string(name));
    json_object_object_add(o, "timestamp", json_object_new_string(now));
    json_object_object_add(o, "sandboxes", json_object_new_int64((int64_t)p[i].sandboxes));
    json_object_object_add(o, "running", json_object_new_int64((int64_t)p[i].running));
    json_object_object_add(usage, "cpu", millicores(p[i].cpu_millis));
    json_object_object_add(usage, "memory", kibibytes(p[i].memory_bytes));
    json_object_object_add(o, "usage", usage);
    json_object_object_add(o, "cpuMillicores", json_object_new_int64(p[i].cpu_millis));
    json_object_object_add(o, "cpuSeconds", json_object_new_double((double)p[i].cpu_usec / 1e6));
    json_object_object_add(o, "memoryBytes", json_object_new_int64((int64_t)p[i].memory_bytes));
    json_object_object_add(o, "pids", json_object_new_int64((int64_t)p[i].pids));
    json_object_object_add(disk, "writableLayerBytes", json_object_new_int64((int64_t)p[i].writable_bytes));
    json_object_object_add(disk, "claimsBytes", json_object_new_int64((int64_t)p[i].claims_bytes));
    json_object_object_add(o, "disk", disk);
    json_object_array_add(items, o);
  }
  _cleanup_json_ json_object *list = sbx_http_list("metrics.sbx.x-k8s.io/v1alpha1", "UserMetricsList", items);
  return sbx_http_json(r, 200, list);
}

/* ------------------------------------------------------------------ /metrics ---- */

static void sandboxes_by_phase(struct sbx_prom *p, const struct sbx_sandbox_usage *u, size_t n) {
  static const char *const phases[] = {"Running", "Pending", "Suspended", "Expired", "Completed"};
  sbx_prom_family(p, "sbx_sandboxes", "gauge", "Sandboxes by phase.");
  for (size_t k = 0; k < sizeof phases / sizeof *phases; k++) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += strcmp(u[i].phase, phases[k]) == 0;
    sbx_prom_sample(p, "sbx_sandboxes", (const char *[]){"phase", phases[k], NULL}, (double)count);
  }
}

static void requests(struct sbx_prom *p) {
  sbx_prom_family(p, "sbx_api_requests_total", "counter", "API requests answered (HTTP and stream), by status code.");
  pthread_mutex_lock(&count_lock);
  for (unsigned c = 0; c < 600; c++) {
    if (!by_code[c]) continue;
    char code[8];
    snprintf(code, sizeof code, "%u", c);
    sbx_prom_sample(p, "sbx_api_requests_total", (const char *[]){"code", code, NULL}, (double)by_code[c]);
  }
  pthread_mutex_unlock(&count_lock);
}

static void people(struct sbx_prom *p, const struct sbx_person_usage *u, size_t n) {
  static const struct {
    const char *name, *type, *help;
  } fam[] = {
      {"sbx_user_sandboxes", "gauge", "Sandboxes a person has (running or not)."},
      {"sbx_user_cpu_seconds_total", "counter", "CPU time used by a person's sandboxes now present."},
      {"sbx_user_cpu_millicores", "gauge", "CPU a person's sandboxes use now (over the last second)."},
      {"sbx_user_memory_bytes", "gauge", "Memory a person's sandboxes use now."},
      {"sbx_user_pids", "gauge", "Processes in a person's sandboxes."},
      {"sbx_user_disk_bytes", "gauge", "Disk a person holds: writable layers and claims (PVCs)."},
  };
  for (size_t f = 0; f < sizeof fam / sizeof *fam; f++) {
    sbx_prom_family(p, fam[f].name, fam[f].type, fam[f].help);
    for (size_t i = 0; i < n; i++) {
      char uid[16], name[256];
      snprintf(uid, sizeof uid, "%u", (unsigned)u[i].uid);
      user_name(u[i].uid, name, sizeof name);
      const char *l[] = {"uid", uid, "user", name, NULL, NULL, NULL};
      double v[] = {(double)u[i].sandboxes, (double)u[i].cpu_usec / 1e6, (double)u[i].cpu_millis,
                    (double)u[i].memory_bytes, (double)u[i].pids};
      if (f < 5) {
        sbx_prom_sample(p, fam[f].name, l, v[f]);
        continue;
      }
      l[4] = "kind";
      l[5] = "writable";
      sbx_prom_sample(p, fam[f].name, l, (double)u[i].writable_bytes);
      l[5] = "claims";
      sbx_prom_sample(p, fam[f].name, l, (double)u[i].claims_bytes);
    }
  }
}

int sbx_api_prometheus(const struct sbx_http_req *r) {
  if (strcmp(r->method, "GET") != 0) return sbx_http_status(r, 405, "MethodNotAllowed", "/metrics is read-only: use GET");
  /* every user's use is there: root and the admin group only (docs/operations.md) */
  if (!r->who->admin)
    return sbx_http_status(r, 403, "Forbidden",
                           "/metrics shows every user's use: only root and the admin group may read it "
                           "(everyone may see each person's totals with `sbx top --users`)");
  _cleanup_free_ struct sbx_sandbox_usage *u = NULL;
  _cleanup_free_ struct sbx_person_usage *pu = NULL;
  size_t n, np;
  sbx_error_t err = {0};
  if (sbx_usage_sandboxes(r->d, NULL, NULL, SBX_OWNER_ANY, &u, &n, &err) < 0 || sbx_usage_people(r->d, u, n, &pu, &np, &err) < 0)
    return sbx_http_status(r, 500, "InternalError", err.msg);
  struct sbx_prom p;
  sbx_prom_init(&p);
  sandboxes_by_phase(&p, u, n);
  sbx_starts_metrics(&p);
  /* image pulls: left out until sbx pulls images (only `host` and rootfs:DIR exist) */
  requests(&p);
  people(&p, pu, np);
  /* Quotas hook: when src/daemon/controller/quota.c exists, write its per-person use and
   * limits here as sbx_quota_used{uid,user,resource} and sbx_quota_limit{uid,user,resource}
   * (resource: cpu, memory, pids, storage), from the same person list. */
  size_t len;
  char *text = sbx_prom_take(&p, &len);
  if (!text) return sbx_http_status(r, 500, "InternalError", "out of memory writing /metrics");
  return sbx_http_text(r, 200, text, SBX_PROM_CONTENT_TYPE);
}
