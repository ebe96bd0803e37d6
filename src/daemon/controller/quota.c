/* quota.c: per-person limits (each person's cgroup group) and quotas (what one person may
 * hold), from sbxd's options. See quota.h, and docs/architecture.md "Per-person limits"
 * for the decisions: the hierarchy <top>/user-<uid>/<sandbox>, what the reserve enforces,
 * why suspended sandboxes count, why root is exempt from quotas.
 *
 * Usage is counted from the store each time it is needed (a person's Sandboxes, PVCs,
 * Secrets and ConfigMaps), so it can never drift from what exists; the callers that create
 * hold d->objects_lock, so two creates cannot both take the last unit. */
#include "daemon/controller/quota.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "daemon/controller/podspec.h"
#include "daemon/store/objects.h"
#include "lib/cleanup.h"
#include "lib/quantity.h"
#include "lib/wire.h"
#include "runtime/cgroup.h"

#define UNSET (-1)
#define QUOTA_NAME "default"

void sbx_policy_init(struct sbx_policy *p) {
  *p = (struct sbx_policy){.default_memory = UNSET, .default_pids = UNSET, .user_memory = UNSET,
                           .user_pids = UNSET, .user_cpu = UNSET, .reserve_memory = UNSET, .reserve_cpu = UNSET,
                           .quota = {UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET}};
}

enum unit { COUNT, CPU, BYTES };

/* The options of this room: name, unit, field */
struct option_field {
  const char *name;
  enum unit unit;
  size_t offset;
};
#define P(f) offsetof(struct sbx_policy, f)
static const struct option_field fields[] = {
    {"default-memory", BYTES, P(default_memory)},  {"default-pids", COUNT, P(default_pids)},
    {"user-memory", BYTES, P(user_memory)},        {"user-pids", COUNT, P(user_pids)},
    {"user-cpu", CPU, P(user_cpu)},                {"reserve-memory", BYTES, P(reserve_memory)},
    {"reserve-cpu", CPU, P(reserve_cpu)},          {"quota-sandboxes", COUNT, P(quota.sandboxes)},
    {"quota-requests-cpu", CPU, P(quota.requests_cpu)},
    {"quota-requests-memory", BYTES, P(quota.requests_memory)},
    {"quota-claims", COUNT, P(quota.claims)},      {"quota-storage", BYTES, P(quota.storage)},
    {"quota-objects", COUNT, P(quota.objects)},    {"quota-object-bytes", BYTES, P(quota.object_bytes)},
};
#undef P

static bool cgroup_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._:@+-/", c);
}

int sbx_policy_option(struct sbx_policy *p, const char *name, const char *value, sbx_error_t *err) {
  if (strcmp(name, "cgroup-parent") == 0) {
    bool ok = value[0] && value[0] != '/' && value[strlen(value) - 1] != '/' && !strstr(value, "//") &&
              strlen(value) < 200;
    for (const char *c = value; ok && *c; c++) ok = cgroup_name_char(*c);
    if (!ok || strstr(value, ".."))
      return sbx_error_says(err, EINVAL,
                            "%s: give a relative cgroup path such as sbx or sbx-test/run1 "
                            "(letters, digits and . _ : @ + - /, no leading or trailing /, no ..)",
                            value);
    free(p->cgroup_parent);
    p->cgroup_parent = strdup(value);
    return 0;
  }
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
    if (strcmp(fields[i].name, name) != 0) continue;
    int64_t *f = (int64_t *)((char *)p + fields[i].offset), v = 0;
    sbx_error_t e = {0};
    if (strcmp(value, "0") == 0 || strcmp(value, "none") == 0) {
      v = 0;
    } else if (fields[i].unit == COUNT) {
      char *end;
      errno = 0;
      long long n = strtoll(value, &end, 10);
      if (errno || *end || end == value || n < 0 || n > 1000000000LL)
        return sbx_error_says(err, EINVAL, "%s: give a whole number (0 or none: no limit)", value);
      v = n;
    } else if ((fields[i].unit == CPU ? sbx_quantity_cpu_millis(value, &v, &e)
                                      : sbx_quantity_bytes(value, &v, &e)) < 0) {
      return sbx_error_says(err, EINVAL, "%s (e.g. %s; 0 or none: no limit)", e.msg,
                            fields[i].unit == CPU ? "2 or 500m" : "4Gi or 512Mi");
    }
    *f = v;
    return 0;
  }
  return sbx_error_says(err, EINVAL, "unknown option --%s", name);
}

void sbx_machine_capacity(int64_t *cpu_milli, int64_t *mem) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  *cpu_milli = (n > 0 ? n : 1) * 1000;
  *mem = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
}

static void set_default(int64_t *f, int64_t v) {
  if (*f == UNSET) *f = v;
}

/* A computed default size, rounded down to `unit` so it reads well ("8Gi", not "8589934591") */
static int64_t round_down(int64_t v, int64_t unit) { return v > unit ? v / unit * unit : v; }

int sbx_policy_apply(struct sbx_daemon *d, sbx_error_t *err) {
  struct sbx_policy *p = &d->policy;
  int64_t cpu, mem;
  sbx_machine_capacity(&cpu, &mem);
  if (!p->cgroup_parent) p->cgroup_parent = strdup("sbx");
  set_default(&p->reserve_memory, mem >= (4LL << 30) ? 1LL << 30 : mem / 4);
  set_default(&p->reserve_cpu, 0);
  if (p->reserve_memory >= mem)
    return sbx_error_says(err, EINVAL, "--reserve-memory must be less than the machine's memory");
  if (p->reserve_cpu >= cpu)
    return sbx_error_says(err, EINVAL, "--reserve-cpu must be less than the machine's CPUs");
  int64_t sandbox_mem = mem - p->reserve_memory, sandbox_cpu = cpu - p->reserve_cpu;
  set_default(&p->default_memory, 0);
  set_default(&p->default_pids, 4096);
  if (p->default_pids == 0) p->default_pids = 4194304; /* "none": the most pids.max bounds */
  set_default(&p->user_memory, round_down(sandbox_mem / 4 * 3, 1LL << 20));
  set_default(&p->user_pids, 16384);
  set_default(&p->user_cpu, 0);
  set_default(&p->quota.sandboxes, 64);
  set_default(&p->quota.requests_cpu, cpu / 2);
  set_default(&p->quota.requests_memory, round_down(sandbox_mem / 2, 1LL << 20));
  set_default(&p->quota.claims, 32);
  struct statvfs vfs;
  set_default(&p->quota.storage,
              statvfs(d->root, &vfs) == 0 ? round_down((int64_t)(vfs.f_blocks * vfs.f_frsize / 2), 1LL << 30) : 0);
  set_default(&p->quota.objects, 256);
  set_default(&p->quota.object_bytes, 16LL << 20);
  /* the reserve: every sandbox together stays below the machine less the reserve */
  struct sbx_cgroup_limits top = {.memory_limit_bytes = sandbox_mem,
                                  .cpu_limit_millis = p->reserve_cpu > 0 ? sandbox_cpu : 0};
  if (sbx_cgroup_group_ensure("/proc/self/mountinfo", "/sys/fs/cgroup", p->cgroup_parent, &top, err) < 0)
    return sbx_error_prefix(err, "--cgroup-parent %s", p->cgroup_parent);
  return 0;
}

int64_t sbx_policy_cpu_limit(const struct sbx_daemon *d, int64_t millis) {
  if (millis <= 0) return millis;
  int64_t cpu, mem;
  sbx_machine_capacity(&cpu, &mem);
  if (d->policy.reserve_cpu > 0 && millis > cpu - d->policy.reserve_cpu) millis = cpu - d->policy.reserve_cpu;
  if (d->policy.user_cpu > 0 && millis > d->policy.user_cpu) millis = d->policy.user_cpu;
  return millis;
}

void sbx_policy_group(const struct sbx_daemon *d, uid_t owner, char *buf, size_t size) {
  if (owner == (uid_t)-1) /* a warm-pool spare nobody claimed yet */
    snprintf(buf, size, "%s/pool", d->policy.cgroup_parent);
  else
    snprintf(buf, size, "%s/user-%u", d->policy.cgroup_parent, (unsigned)owner);
}

void sbx_policy_place(const struct sbx_daemon *d, uid_t owner, json_object *spec) {
  char parent[256];
  sbx_policy_group(d, owner, parent, sizeof parent);
  json_object *g = json_object_new_object();
  json_object_object_add(g, "cpuLimitMillis", json_object_new_int64(sbx_policy_cpu_limit(d, d->policy.user_cpu)));
  json_object_object_add(g, "memoryLimitBytes", json_object_new_int64(d->policy.user_memory));
  json_object_object_add(g, "pidsLimit", json_object_new_int64(d->policy.user_pids));
  json_object_object_add(spec, "cgroupParent", json_object_new_string(parent));
  json_object_object_add(spec, "cgroupGroup", g);
}

/* ------------------------------------------------------------------ usage ---- */

static size_t map_bytes(json_object *m, bool b64) {
  size_t total = 0;
  if (!m || !json_object_is_type(m, json_type_object)) return 0;
  json_object_object_foreach(m, key, v) {
    size_t n = (size_t)json_object_get_string_len(v);
    total += strlen(key) + (b64 ? n / 4 * 3 : n);
  }
  return total;
}

size_t sbx_object_data_bytes(json_object *obj, bool secret) {
  return map_bytes(json_object_object_get(obj, "data"), secret) +
         map_bytes(json_object_object_get(obj, secret ? "stringData" : "binaryData"), !secret);
}

static int list(struct sbx_daemon *d, const char *kind, uid_t owner, json_object **out, sbx_error_t *err) {
  return sbx_store_list(d->store, kind, NULL, owner, out, err);
}

int sbx_quota_used(struct sbx_daemon *d, uid_t owner, struct sbx_quota *u, sbx_error_t *err) {
  memset(u, 0, sizeof *u);
  _cleanup_json_ json_object *sbs = NULL, *pvcs = NULL, *secrets = NULL, *cms = NULL;
  if (list(d, "Sandbox", owner, &sbs, err) < 0 || list(d, "PersistentVolumeClaim", owner, &pvcs, err) < 0 ||
      list(d, "Secret", owner, &secrets, err) < 0 || list(d, "ConfigMap", owner, &cms, err) < 0)
    return sbx_error_prefix(err, "quota usage");
  u->sandboxes = (int64_t)json_object_array_length(sbs);
  for (size_t i = 0; i < json_object_array_length(sbs); i++) {
    json_object *o = json_object_array_get_idx(sbs, i), *x = sbx_internal(o);
    if (strcmp(sbx_json_str(x, "mode") ?: "", "pod") != 0 || sbx_json_int(x, "shimPid", 0) <= 0) continue;
    struct sbx_pod_resources r;
    sbx_pod_resources(o, &r);
    u->requests_cpu += r.cpu_request;
    u->requests_memory += r.mem_request;
  }
  u->claims = (int64_t)json_object_array_length(pvcs);
  for (size_t i = 0; i < json_object_array_length(pvcs); i++) {
    const char *q = sbx_json_str(sbx_json_path(json_object_array_get_idx(pvcs, i), "spec.resources.requests"),
                                 "storage");
    int64_t b;
    sbx_error_t e;
    if (q && sbx_quantity_bytes(q, &b, &e) == 0) u->storage += b;
  }
  u->objects = (int64_t)(json_object_array_length(secrets) + json_object_array_length(cms));
  for (size_t i = 0; i < json_object_array_length(secrets); i++)
    u->object_bytes += (int64_t)sbx_object_data_bytes(json_object_array_get_idx(secrets, i), true);
  for (size_t i = 0; i < json_object_array_length(cms); i++)
    u->object_bytes += (int64_t)sbx_object_data_bytes(json_object_array_get_idx(cms, i), false);
  return 0;
}

/* The quota's resources: their names (as a ResourceQuota shows them), units, fields */
struct resource {
  const char *name;
  enum unit unit;
  size_t offset;
};
#define Q(f) offsetof(struct sbx_quota, f)
static const struct resource resources[] = {
    {"sandboxes", COUNT, Q(sandboxes)},         {"requests.cpu", CPU, Q(requests_cpu)},
    {"requests.memory", BYTES, Q(requests_memory)}, {"persistentvolumeclaims", COUNT, Q(claims)},
    {"requests.storage", BYTES, Q(storage)},    {"objects", COUNT, Q(objects)},
    {"objects.bytes", BYTES, Q(object_bytes)},
};
#undef Q
#define NRES (sizeof resources / sizeof *resources)

static int64_t field(const struct sbx_quota *q, size_t i) {
  return *(const int64_t *)((const char *)q + resources[i].offset);
}

static void format(size_t i, int64_t v, char *out, size_t n) {
  if (resources[i].unit == CPU) sbx_quantity_format_cpu(v, out, n);
  else if (resources[i].unit == BYTES) sbx_quantity_format_bytes(v, out, n);
  else snprintf(out, n, "%" PRId64, v);
}

static bool exempt(uid_t owner) { return owner == 0; }

int sbx_quota_admit(struct sbx_daemon *d, uid_t owner, const struct sbx_quota *add, sbx_error_t *err) {
  if (exempt(owner)) return 0;
  struct sbx_quota used;
  if (sbx_quota_used(d, owner, &used, err) < 0) return -1;
  for (size_t i = 0; i < NRES; i++) {
    int64_t hard = field(&d->policy.quota, i), want = field(add, i), have = field(&used, i);
    if (hard <= 0 || want <= 0 || have + want <= hard) continue;
    char a[32], b[32], c[32];
    format(i, want, a, sizeof a);
    format(i, have, b, sizeof b);
    format(i, hard, c, sizeof c);
    return sbx_error_says(err, EDQUOT,
                          "exceeded quota: " QUOTA_NAME ", requested: %s=%s, used: %s=%s, limited: %s=%s "
                          "(see `sbx describe quota`; the administrator sets it with sbxd --quota-*)",
                          resources[i].name, a, resources[i].name, b, resources[i].name, c);
  }
  return 0;
}

json_object *sbx_quota_object(struct sbx_daemon *d, uid_t owner, const char *ns, sbx_error_t *err) {
  struct sbx_quota used;
  if (sbx_quota_used(d, owner, &used, err) < 0) return NULL;
  json_object *o = json_object_new_object(), *meta = json_object_new_object(), *spec = json_object_new_object(),
              *status = json_object_new_object(), *hard = json_object_new_object(), *usedj = json_object_new_object();
  json_object_object_add(o, "apiVersion", json_object_new_string("v1"));
  json_object_object_add(o, "kind", json_object_new_string("ResourceQuota"));
  json_object_object_add(meta, "name", json_object_new_string(QUOTA_NAME));
  json_object_object_add(meta, "namespace", json_object_new_string(ns ? ns : "default"));
  json_object *ann = json_object_new_object();
  char uid[16];
  snprintf(uid, sizeof uid, "%u", (unsigned)owner);
  json_object_object_add(ann, SBX_ANN_OWNER, json_object_new_string(uid));
  json_object_object_add(ann, "sbx.x-k8s.io/scope", json_object_new_string(exempt(owner) ? "exempt (root)" : "person"));
  json_object_object_add(meta, "annotations", ann);
  json_object_object_add(o, "metadata", meta);
  for (size_t i = 0; i < NRES; i++) {
    char v[32];
    format(i, field(&used, i), v, sizeof v);
    json_object_object_add(usedj, resources[i].name, json_object_new_string(v));
    if (exempt(owner) || field(&d->policy.quota, i) <= 0) continue;
    format(i, field(&d->policy.quota, i), v, sizeof v);
    json_object_object_add(hard, resources[i].name, json_object_new_string(v));
  }
  json_object_object_add(spec, "hard", hard);
  json_object_object_add(o, "spec", spec);
  json_object_object_add(status, "hard", json_object_get(hard));
  json_object_object_add(status, "used", usedj);
  json_object_object_add(o, "status", status);
  return o;
}
