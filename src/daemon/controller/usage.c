/* usage.c: what each sandbox and each person uses (usage.h): cgroup numbers, a CPU rate
 * from a sampler thread, and disk (writable layers and claims). */
#include "daemon/controller/usage.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/controller/quota.h"
#include "daemon/controller/volumes.h"
#include "daemon/store/objects.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/wire.h"
#include "runtime/capfs.h"

#define MOUNTINFO "/proc/self/mountinfo"
#define CGROUP_FS "/sys/fs/cgroup"
#define SAMPLE_EVERY_MS 1000
#define PVC_KIND "PersistentVolumeClaim"

/* ------------------------------------------------------------------ pure parts ---- */

int64_t sbx_usage_rate_millis(uint64_t usec_then, int64_t ns_then, uint64_t usec_now, int64_t ns_now) {
  if (ns_now <= ns_then || usec_now < usec_then) return -1;
  /* usec per ns of wall time, times 1000 millicores per CPU: usec * 1e6 / ns */
  return (int64_t)((double)(usec_now - usec_then) * 1e6 / (double)(ns_now - ns_then) + 0.5);
}

void sbx_usage_add(struct sbx_person_usage *p, const struct sbx_sandbox_usage *s) {
  p->sandboxes++;
  if (s->running) p->running++;
  if (s->cpu_millis > 0) p->cpu_millis += s->cpu_millis;
  p->cpu_usec += s->cg.cpu_usec;
  p->memory_bytes += s->cg.memory_bytes;
  p->pids += s->cg.pids;
  p->writable_bytes += s->writable_bytes;
  /* claims are added per claim by the caller: two sandboxes may share one */
}

struct sbx_person_usage *sbx_usage_person(struct sbx_person_usage **people, size_t *n, uid_t uid) {
  size_t i = 0;
  while (i < *n && (*people)[i].uid < uid) i++;
  if (i < *n && (*people)[i].uid == uid) return &(*people)[i];
  struct sbx_person_usage *np = realloc(*people, (*n + 1) * sizeof *np);
  if (!np) return NULL;
  memmove(np + i + 1, np + i, (*n - i) * sizeof *np);
  memset(&np[i], 0, sizeof np[i]);
  np[i].uid = uid;
  *people = np;
  (*n)++;
  return &np[i];
}

/* --------------------------------------------------------------------- sampler ---- */

struct sample {
  char id[40];
  uint64_t usec[2]; /* [0] the one before, [1] the last */
  int64_t ns[2];
  int count;
  bool seen; /* in the current pass */
};

static pthread_mutex_t samples_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sample *samples;
static size_t nsamples;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* the running sandbox's cgroup numbers; -1 with err when its cgroup cannot be read */
static int read_cgroup(struct sbx_daemon *d, uid_t owner, const char *id, struct sbx_cgroup_usage *u,
                       sbx_error_t *err) {
  struct sbx_cgroup *cg = NULL;
  char group[256];
  sbx_policy_group(d, owner, group, sizeof group);
  if (sbx_cgroup_open(MOUNTINFO, CGROUP_FS, group, id, &cg, err) < 0) return -1;
  int r = sbx_cgroup_usage(cg, u, err);
  sbx_cgroup_free(cg);
  return r;
}

static void record(const char *id, uint64_t usec, int64_t ns) {
  struct sample *s = NULL;
  for (size_t i = 0; i < nsamples && !s; i++)
    if (strcmp(samples[i].id, id) == 0) s = &samples[i];
  if (!s) {
    struct sample *ns_ = realloc(samples, (nsamples + 1) * sizeof *ns_);
    if (!ns_) return;
    samples = ns_;
    s = &samples[nsamples++];
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
  }
  s->usec[0] = s->usec[1];
  s->ns[0] = s->ns[1];
  s->usec[1] = usec;
  s->ns[1] = ns;
  if (s->count < 2) s->count++;
  s->seen = true;
}

/* the rate of sandbox id over the last window; -1 when not sampled twice yet */
static int64_t rate_of(const char *id, int64_t *window_ms) {
  int64_t rate = -1;
  *window_ms = 0;
  pthread_mutex_lock(&samples_lock);
  for (size_t i = 0; i < nsamples; i++)
    if (strcmp(samples[i].id, id) == 0 && samples[i].count == 2) {
      rate = sbx_usage_rate_millis(samples[i].usec[0], samples[i].ns[0], samples[i].usec[1], samples[i].ns[1]);
      *window_ms = (samples[i].ns[1] - samples[i].ns[0]) / 1000000;
    }
  pthread_mutex_unlock(&samples_lock);
  return rate;
}

static bool is_running(json_object *obj, const char **id) {
  json_object *x;
  if (!json_object_object_get_ex(obj, SBX_INTERNAL, &x)) return false;
  *id = sbx_json_str(x, "id");
  return *id && sbx_json_int(x, "shimPid", 0) > 0;
}

static void sample_pass(struct sbx_daemon *d) {
  _cleanup_json_ json_object *items = NULL;
  sbx_error_t err = {0};
  if (sbx_store_list(d->store, "Sandbox", NULL, SBX_OWNER_ANY, &items, &err) < 0) return;
  pthread_mutex_lock(&samples_lock);
  for (size_t i = 0; i < nsamples; i++) samples[i].seen = false;
  pthread_mutex_unlock(&samples_lock);
  for (size_t i = 0; i < json_object_array_length(items); i++) {
    const char *id;
    struct sbx_cgroup_usage u;
    json_object *obj = json_object_array_get_idx(items, i);
    if (!is_running(obj, &id) || read_cgroup(d, sbx_object_owner(obj), id, &u, &err) < 0) continue;
    pthread_mutex_lock(&samples_lock);
    record(id, u.cpu_usec, now_ns());
    pthread_mutex_unlock(&samples_lock);
  }
  /* forget sandboxes that are gone */
  pthread_mutex_lock(&samples_lock);
  size_t k = 0;
  for (size_t i = 0; i < nsamples; i++)
    if (samples[i].seen) samples[k++] = samples[i];
  nsamples = k;
  pthread_mutex_unlock(&samples_lock);
}

static void *sampler(void *arg) {
  struct sbx_daemon *d = arg;
  for (;;) {
    sample_pass(d);
    usleep(SAMPLE_EVERY_MS * 1000);
  }
  return NULL;
}

int sbx_usage_sampler_start(struct sbx_daemon *d, sbx_error_t *err) {
  pthread_t t;
  int r = pthread_create(&t, NULL, sampler, d);
  if (r != 0) {
    errno = r;
    return sbx_error_sys(err, "start the usage sampler");
  }
  pthread_detach(t);
  return 0;
}

/* ------------------------------------------------------------------------ disk ---- */

/* used bytes of the owner's claim: its mounted file system, else its image's blocks */
static uint64_t claim_bytes(struct sbx_daemon *d, uid_t owner, const char *ns, const char *claim) {
  char image[4200], mount[4200];
  uint64_t bytes = 0, on_image = 0;
  sbx_pvc_paths(d, owner, ns, claim, image, mount, sizeof image);
  sbx_error_t err = {0};
  if (sbx_is_mount_root(mount, &err) == 1) {
    if (sbx_disk_used(mount, &bytes) == 0) return bytes;
  }
  return sbx_disk_used(image, &on_image) == 0 ? on_image : 0;
}

static uint64_t writable_bytes(json_object *obj) {
  const char *state = sbx_sandbox_state_dir(obj);
  if (!state) return 0;
  uint64_t sum = 0, b;
  char path[4200];
  const char *layers[] = {"upper", "containers"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", state, layers[i]);
    if (sbx_disk_used(path, &b) == 0) sum += b;
  }
  return sum;
}

/* ------------------------------------------------------------------ the views ---- */

/* A coarse phase for counting: a declared sandbox not running waits (Pending) unless it
 * is suspended, expired or finished; a run that is not running has ended. */
static const char *phase_of(json_object *obj, bool running) {
  if (running) return "Running";
  json_object *x = sbx_internal(obj);
  if (sbx_json_bool(x, "expired", 0)) return "Expired";
  if (strcmp(sbx_json_str(sbx_json_path(obj, "spec"), "operatingMode") ?: "", "Suspended") == 0) return "Suspended";
  if (strcmp(sbx_json_str(x, "mode") ?: "", "pod") != 0 || sbx_json_bool(x, "completed", 0)) return "Completed";
  return "Pending";
}

static void fill(struct sbx_daemon *d, json_object *obj, json_object *claims, struct sbx_sandbox_usage *u) {
  memset(u, 0, sizeof *u);
  json_object *meta = sbx_json_path(obj, "metadata");
  snprintf(u->ns, sizeof u->ns, "%s", sbx_json_str(meta, "namespace") ?: "default");
  snprintf(u->name, sizeof u->name, "%s", sbx_json_str(meta, "name") ?: "");
  u->owner = sbx_object_owner(obj);
  u->cpu_millis = -1;
  const char *id = NULL;
  sbx_error_t err = {0};
  if (is_running(obj, &id) && read_cgroup(d, u->owner, id, &u->cg, &err) == 0) {
    u->running = true;
    u->cpu_millis = rate_of(id, &u->window_ms);
  }
  if (id) snprintf(u->id, sizeof u->id, "%s", id);
  u->phase = phase_of(obj, u->running);
  u->writable_bytes = writable_bytes(obj);
  for (size_t i = 0; claims && i < json_object_array_length(claims); i++) {
    json_object *c = json_object_array_get_idx(claims, i);
    const char *cns = sbx_json_str(sbx_json_path(c, "metadata"), "namespace") ?: "default";
    const char *cname = sbx_json_str(sbx_json_path(c, "metadata"), "name");
    if (cname && strcmp(cns, u->ns) == 0 && sbx_object_owner(c) == u->owner && sbx_sandbox_uses_claim(obj, cname))
      u->claims_bytes += claim_bytes(d, u->owner, cns, cname);
  }
}

int sbx_usage_sandboxes(struct sbx_daemon *d, const char *ns, const char *only_name, uid_t owner,
                        struct sbx_sandbox_usage **out, size_t *n, sbx_error_t *err) {
  *out = NULL;
  *n = 0;
  _cleanup_json_ json_object *items = NULL, *claims = NULL;
  if (sbx_store_list(d->store, "Sandbox", ns, owner, &items, err) < 0 ||
      sbx_store_list(d->store, PVC_KIND, ns, owner, &claims, err) < 0)
    return -1;
  size_t total = json_object_array_length(items);
  struct sbx_sandbox_usage *u = calloc(total ? total : 1, sizeof *u);
  if (!u) return sbx_error_set(err, ENOMEM, "usage");
  size_t k = 0;
  for (size_t i = 0; i < total; i++) {
    json_object *obj = json_object_array_get_idx(items, i);
    if (only_name && strcmp(sbx_json_str(sbx_json_path(obj, "metadata"), "name") ?: "", only_name) != 0) continue;
    fill(d, obj, claims, &u[k++]);
  }
  if (only_name && k == 0) {
    free(u);
    return sbx_error_says(err, ENOENT, "sandbox \"%s\" not found", only_name);
  }
  *out = u;
  *n = k;
  return 0;
}

int sbx_usage_people(struct sbx_daemon *d, const struct sbx_sandbox_usage *sb, size_t nsb,
                     struct sbx_person_usage **out, size_t *n, sbx_error_t *err) {
  *out = NULL;
  *n = 0;
  _cleanup_json_ json_object *claims = NULL;
  if (sbx_store_list(d->store, PVC_KIND, NULL, SBX_OWNER_ANY, &claims, err) < 0) return -1;
  struct sbx_person_usage *people = NULL;
  size_t np = 0;
  for (size_t i = 0; i < nsb; i++) {
    struct sbx_person_usage *p = sbx_usage_person(&people, &np, sb[i].owner);
    if (!p) goto oom;
    sbx_usage_add(p, &sb[i]);
  }
  for (size_t i = 0; i < json_object_array_length(claims); i++) {
    json_object *c = json_object_array_get_idx(claims, i);
    const char *cname = sbx_json_str(sbx_json_path(c, "metadata"), "name");
    if (!cname) continue;
    uid_t owner = sbx_object_owner(c);
    struct sbx_person_usage *p = sbx_usage_person(&people, &np, owner);
    if (!p) goto oom;
    p->claims_bytes += claim_bytes(d, owner, sbx_json_str(sbx_json_path(c, "metadata"), "namespace") ?: "default", cname);
  }
  *out = people;
  *n = np;
  return 0;
oom:
  free(people);
  return sbx_error_set(err, ENOMEM, "usage per person");
}
