/* reconcile.c: make every declared workspace what its Sandbox object says.
 *
 * One thread walks the stored Sandboxes that came from manifests (x-sbx.mode "pod") each
 * time something changes (an apply, a shim's end; sbx_reconcile_kick) and once a second
 * (shutdown times, back-off). For each it compares what is wanted with what runs:
 *
 *   wanted running, nothing runs   -> admission (requests must fit what the machine has
 *                                     left, else Pending with the reason), volumes, the
 *                                     pod spec (secrets resolved), then its shim
 *   running an older pod template  -> stop it; the next pass starts the new template
 *   suspended / expired / deleted  -> stop it (SIGTERM to the shim: graceful stop)
 *
 * Stopping only sends the signal: the shim's end is noticed by the supervisor, which calls
 * sbx_pod_finished(); so no pass ever waits for a sandbox. A shim that dies on its own
 * while wanted is started again after a back-off (1 s doubling to 5 min, lib/backoff.h; a run
 * of 10 minutes resets it); a pod whose
 * containers all completed under restartPolicy Never/OnFailure stays completed until its
 * template changes or it is resumed. Every read-modify-write of a Sandbox object (here,
 * in the REST handlers, at a shim's end) holds d->objects_lock, so no update is lost.
 * The bookkeeping lives in the object's internal "x-sbx" and survives sbxd restarts. */
#include "daemon/controller/reconcile.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/controller/podspec.h"
#include "daemon/controller/quota.h"
#include "daemon/controller/volumes.h"
#include "daemon/log.h"
#include "daemon/controller/controller.h"
#include "daemon/controller/usage.h"
#include "daemon/store/objects.h"
#include "lib/backoff.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/quantity.h"
#include "lib/timefmt.h"
#include "lib/wire.h"
#include "runtime/cgroup.h"

#define MAX_EVENTS 50

static pthread_cond_t kick_cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static bool kicked;

void sbx_reconcile_kick(void) {
  pthread_mutex_lock(&kick_lock);
  kicked = true;
  pthread_cond_signal(&kick_cond);
  pthread_mutex_unlock(&kick_lock);
}

void sbx_pod_event(json_object *obj, const char *type, const char *reason, const char *message) {
  json_object *x = sbx_internal(obj), *events;
  if (!json_object_object_get_ex(x, "events", &events)) {
    events = json_object_new_array();
    json_object_object_add(x, "events", events);
  }
  char ts[32];
  sbx_now_rfc3339(ts, sizeof ts);
  size_t n = json_object_array_length(events);
  json_object *last = n ? json_object_array_get_idx(events, n - 1) : NULL;
  if (last && strcmp(sbx_json_str(last, "reason") ?: "", reason) == 0 &&
      strcmp(sbx_json_str(last, "message") ?: "", message) == 0) {
    json_object_object_add(last, "count", json_object_new_int((int)sbx_json_int(last, "count", 1) + 1));
    json_object_object_add(last, "lastTimestamp", json_object_new_string(ts));
    return;
  }
  json_object *e = json_object_new_object();
  json_object_object_add(e, "type", json_object_new_string(type));
  json_object_object_add(e, "reason", json_object_new_string(reason));
  json_object_object_add(e, "message", json_object_new_string(message));
  json_object_object_add(e, "time", json_object_new_string(ts));
  json_object_object_add(e, "lastTimestamp", json_object_new_string(ts));
  json_object_object_add(e, "count", json_object_new_int(1));
  json_object_array_add(events, e);
  if (n + 1 > MAX_EVENTS) json_object_array_del_idx(events, 0, n + 1 - MAX_EVENTS);
}

uint64_t sbx_template_hash(json_object *obj) {
  json_object *t = sbx_json_path(obj, "spec.podTemplate");
  const char *s = t ? json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN) : "";
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static bool is_pod(json_object *obj) { return strcmp(sbx_json_str(sbx_internal(obj), "mode") ?: "", "pod") == 0; }


/* What the object wants: "Running", or why not ("Suspended", "Expired") */
static const char *wanted(json_object *obj) {
  json_object *x = sbx_internal(obj);
  if (sbx_json_bool(x, "expired", 0)) return "Expired";
  if (strcmp(sbx_json_str(sbx_json_path(obj, "spec"), "operatingMode") ?: "Running", "Suspended") == 0)
    return "Suspended";
  return "Running";
}

static bool running(json_object *obj) { return sbx_json_int(sbx_internal(obj), "shimPid", 0) > 0; }

/* Sum of the requests of every admitted pod except `self` */
static void admitted_requests(json_object *all, json_object *self, int64_t *cpu, int64_t *mem) {
  *cpu = *mem = 0;
  for (size_t i = 0; i < json_object_array_length(all); i++) {
    json_object *o = json_object_array_get_idx(all, i);
    if (!is_pod(o) || !running(o)) continue;
    if (strcmp(sbx_json_str(sbx_internal(o), "id") ?: "", sbx_json_str(sbx_internal(self), "id") ?: "-") == 0) continue;
    struct sbx_pod_resources r;
    sbx_pod_resources(o, &r);
    *cpu += r.cpu_request;
    *mem += r.mem_request;
  }
}

/* NULL if it fits; else the reason, in `buf`: what the machine has left, then the owner's
 * quota (so one person's requests can never take the whole machine). */
static const char *admission(struct sbx_daemon *d, json_object *all, json_object *obj, char *buf, size_t n) {
  struct sbx_pod_resources r;
  sbx_pod_resources(obj, &r);
  int64_t cpu, mem, cap_cpu, cap_mem;
  admitted_requests(all, obj, &cpu, &mem);
  sbx_machine_capacity(&cap_cpu, &cap_mem);
  if (r.cpu_request > cap_cpu - cpu) {
    snprintf(buf, n, "Insufficient cpu: the sandbox requests %" PRId64 "m, %" PRId64 "m of the machine's %" PRId64
             "m are left; it starts when others stop or are suspended",
             r.cpu_request, cap_cpu - cpu > 0 ? cap_cpu - cpu : 0, cap_cpu);
    return buf;
  }
  if (r.mem_request > cap_mem - mem) {
    char a[32], b[32], c[32];
    sbx_bytes_human(r.mem_request, a, sizeof a);
    sbx_bytes_human(cap_mem - mem > 0 ? cap_mem - mem : 0, b, sizeof b);
    sbx_bytes_human(cap_mem, c, sizeof c);
    snprintf(buf, n, "Insufficient memory: the sandbox requests %s, %s of the machine's %s are left; it starts when others stop or are suspended", a, b, c);
    return buf;
  }
  sbx_error_t err = {0};
  if (sbx_quota_admit(d, sbx_object_owner(obj), &(struct sbx_quota){.requests_cpu = r.cpu_request,
                                                            .requests_memory = r.mem_request}, &err) < 0) {
    snprintf(buf, n, "%.*s", (int)(n > 1 ? n - 1 : 0), err.msg);
    return buf;
  }
  return NULL;
}

static void set_str(json_object *x, const char *key, const char *v) {
  if (v) json_object_object_add(x, key, json_object_new_string(v));
  else json_object_object_del(x, key);
}

/* Write a listed object back (objects_lock held): the list added the owner annotation. */
static int store_back(struct sbx_daemon *d, json_object *o, sbx_error_t *err) {
  const char *ns = sbx_json_str(sbx_json_path(o, "metadata"), "namespace") ?: "default";
  const char *name = sbx_json_str(sbx_json_path(o, "metadata"), "name") ?: "";
  _cleanup_json_ json_object *stored = NULL;
  json_object_deep_copy(o, &stored, NULL);
  json_object *meta = sbx_json_path(stored, "metadata.annotations");
  if (meta) json_object_object_del(meta, SBX_ANN_OWNER);
  return sbx_store_update(d->store, "Sandbox", ns, name, sbx_object_owner(o), stored, err);
}

/* Start the pod of `obj` (objects_lock held). Failures are recorded in the object. */
static void start_pod(struct sbx_daemon *d, json_object *all, json_object *obj) {
  json_object *x = sbx_internal(obj);
  const char *ns = sbx_json_str(sbx_json_path(obj, "metadata"), "namespace") ?: "default";
  const char *name = sbx_json_str(sbx_json_path(obj, "metadata"), "name") ?: "";
  uid_t owner = sbx_object_owner(obj);
  gid_t gid = (gid_t)sbx_json_int(x, "ownerGid", owner);
  char why[600];
  sbx_error_t err = {0};
  time_t now = time(NULL);
  if (sbx_json_int(x, "nextStartAt", 0) > now) return; /* backing off */
  pid_t watched = sbx_supervisor_pid(d, ns, name, owner);
  if (watched > 0) {
    /* started by an earlier pass whose record did not reach the store (a full disk): the
     * shim runs, so it is recorded now rather than doubled */
    json_object_object_add(x, "shimPid", json_object_new_int(watched));
    set_str(x, "runningHash", sbx_json_str(x, "startingHash"));
    return;
  }

  const char *pending = admission(d, all, obj, why, sizeof why);
  if (pending) {
    if (strcmp(sbx_json_str(x, "pending") ?: "", pending) != 0) sbx_pod_event(obj, "Warning", "FailedScheduling", pending);
    set_str(x, "pending", pending);
    return;
  }
  set_str(x, "pending", NULL);
  double started = sbx_starts_clock();

  const char *state_dir = sbx_json_str(x, "stateDir"), *id = sbx_json_str(x, "id");
  struct sbx_pod_resources r;
  sbx_pod_resources(obj, &r);
  _cleanup_volumes_ json_object *vols = NULL;
  struct sbx_podspec ps = {0};
  const char *hostname = sbx_json_str(sbx_json_path(obj, "spec.podTemplate.spec"), "hostname") ?: name;
  struct sbx_podspec_ctx ctx = {.d = d, .ns = ns, .name = name, .hostname = hostname, .id = id, .state_dir = state_dir,
                                .owner = owner, .owner_gid = gid,
                                .host_id_base = SBX_ID_BASE + (uint32_t)sbx_json_int(x, "idSlot", 0) * SBX_ID_SLOT_SIZE,
                                .id_count = SBX_ID_SLOT_SIZE};
  pid_t shim = -1;
  if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
    sbx_error_sys(&err, "create %s", state_dir);
    goto failed;
  }
  if (sbx_ephemeral_prepare(d, name, state_dir, r.ephemeral_limit, &err) < 0 ||
      sbx_volumes_prepare(d, obj, owner, gid, state_dir, &vols, &err) < 0) {
    if (err.errnum == ENOSPC) { /* the disk cannot hold a claim: Pending, as admission */
      if (strcmp(sbx_json_str(x, "pending") ?: "", err.msg) != 0) sbx_pod_event(obj, "Warning", "FailedScheduling", err.msg);
      set_str(x, "pending", err.msg);
      return;
    }
    if (strcmp(sbx_json_str(x, "depsError") ?: "", err.msg) != 0) sbx_pod_event(obj, "Warning", "FailedMount", err.msg);
    set_str(x, "depsError", err.msg);
    return;
  }
  ctx.volumes = vols;
  if (sbx_podspec_build(&ctx, obj, &ps, &err) < 0) {
    if (strcmp(sbx_json_str(x, "depsError") ?: "", err.msg) != 0) sbx_pod_event(obj, "Warning", "Failed", err.msg);
    set_str(x, "depsError", err.msg);
    return;
  }
  set_str(x, "depsError", NULL);
  /* a fresh status for the new run: the shim rewrites it at once */
  char path[4200];
  snprintf(path, sizeof path, "%s/status.json", state_dir);
  unlink(path);
  /* the intent first: a daemon that dies after the spawn and before the pid is recorded
   * finds the shim by its name (sbx-shim <id>) and adopts it with this hash (run.c) */
  char ts[32], hash[24];
  snprintf(hash, sizeof hash, "%016" PRIx64, sbx_template_hash(obj));
  json_object_object_add(x, "startingHash", json_object_new_string(hash));
  if (store_back(d, obj, &err) < 0) {
    sbx_podspec_release(&ps);
    goto failed;
  }
  int rc = sbx_shim_spawn(d, ps.spec, -1, ps.fds, ps.nfds, &shim, &err);
  sbx_podspec_release(&ps);
  if (rc < 0) goto failed;
  sbx_now_rfc3339(ts, sizeof ts);
  json_object_object_add(x, "shimPid", json_object_new_int(shim));
  json_object_object_add(x, "runningHash", json_object_new_string(hash));
  json_object_object_add(x, "startedAt", json_object_new_string(ts));
  set_str(x, "stopping", NULL);
  sbx_pod_event(obj, "Normal", "Scheduled", "started the sandbox's pod");
  sbx_starts_record(SBX_START_POD, sbx_starts_clock() - started);
  if (sbx_supervisor_watch(d, shim, ns, name, owner, &err) < 0) sbx_log(SBX_LOG_ERROR, "watch %s: %s", name, err.msg);
  return;
failed:
  sbx_starts_failed(SBX_START_POD);
  sbx_log(SBX_LOG_ERROR, "start %s/%s: %s", ns, name, err.msg);
  sbx_pod_event(obj, "Warning", "Failed", err.msg);
  json_object_object_add(x, "nextStartAt", json_object_new_int64(now + 10));
}

static void stop_pod(struct sbx_daemon *d, json_object *obj, const char *why, const char *message) {
  json_object *x = sbx_internal(obj);
  if (sbx_json_str(x, "stopping")) return; /* already asked */
  const char *ns = sbx_json_str(sbx_json_path(obj, "metadata"), "namespace") ?: "default";
  const char *name = sbx_json_str(sbx_json_path(obj, "metadata"), "name") ?: "";
  set_str(x, "stopping", why);
  sbx_pod_event(obj, "Normal", "Killing", message);
  if (sbx_supervisor_signal(d, ns, name, sbx_object_owner(obj), SIGTERM) < 0) {
    /* not watched (it died meanwhile): its end is handled as a finish */
    json_object_object_del(x, "shimPid");
    set_str(x, "stopping", NULL);
  }
}

enum outcome { UNCHANGED, CHANGED, REMOVED };

/* One object, objects_lock held */
static enum outcome reconcile_one(struct sbx_daemon *d, json_object *all, json_object *obj) {
  _cleanup_json_ json_object *before = NULL;
  json_object_deep_copy(sbx_internal(obj), &before, NULL);
  json_object *x = sbx_internal(obj);
  time_t now = time(NULL);
  const char *st = sbx_json_str(sbx_json_path(obj, "spec"), "shutdownTime");
  if (st && !sbx_json_bool(x, "expired", 0)) {
    time_t t = sbx_parse_rfc3339(st);
    if (t >= 0 && now >= t) {
      bool del = strcmp(sbx_json_str(sbx_json_path(obj, "spec"), "shutdownPolicy") ?: "Retain", "Delete") == 0;
      json_object_object_add(x, "expired", json_object_new_boolean(1));
      if (del) json_object_object_add(x, "deleteWhenStopped", json_object_new_boolean(1));
      sbx_pod_event(obj, "Normal", "SandboxExpired",
                    del ? "the shutdown time has passed; the sandbox is deleted (its volumes are kept)"
                        : "the shutdown time has passed; the sandbox is stopped and kept");
    }
  }
  {
    /* the Ready condition's transition time is kept in x-sbx by computing it here */
    _cleanup_json_ json_object *rt = running(obj) ? sbx_sandbox_runtime_status(obj) : NULL;
    json_object_put(sbx_pod_status(obj, rt));
  }
  if (sbx_json_bool(x, "deleteWhenStopped", 0) && !running(obj)) {
    sbx_error_t err = {0};
    if (sbx_pod_remove(d, obj, &err) == 0) return REMOVED;
    sbx_log(SBX_LOG_ERROR, "remove %s: %s", sbx_json_str(sbx_json_path(obj, "metadata"), "name") ?: "?", err.msg);
  }
  const char *want = wanted(obj);
  char hash[24];
  snprintf(hash, sizeof hash, "%016" PRIx64, sbx_template_hash(obj));
  if (running(obj)) {
    if (strcmp(want, "Running") != 0)
      stop_pod(d, obj, want, strcmp(want, "Suspended") == 0 ? "suspending: processes stop, volumes and the writable layer stay"
                                                            : "stopping: the shutdown time has passed");
    else if (strcmp(sbx_json_str(x, "runningHash") ?: "", hash) != 0)
      stop_pod(d, obj, "TemplateChanged", "the pod template changed; restarting the sandbox with the new one");
  } else if (strcmp(want, "Running") == 0 && !sbx_json_bool(x, "completed", 0)) {
    start_pod(d, all, obj);
  }
  return json_object_equal(before, sbx_internal(obj)) ? UNCHANGED : CHANGED;
}

/* Finish removing a sandbox that is stopped: volumes released (PVCs kept), state, ids. */
int sbx_pod_remove(struct sbx_daemon *d, json_object *obj, sbx_error_t *err) {
  json_object *x = sbx_internal(obj);
  const char *state_dir = sbx_json_str(x, "stateDir"), *id = sbx_json_str(x, "id");
  const char *ns = sbx_json_str(sbx_json_path(obj, "metadata"), "namespace") ?: "default";
  const char *name = sbx_json_str(sbx_json_path(obj, "metadata"), "name") ?: "";
  if (id && sbx_cgroup_remove_leftover_any("/proc/self/mountinfo", "/sys/fs/cgroup", d->policy.cgroup_parent, id,
                                           err) < 0)
    sbx_log(SBX_LOG_ERROR, "remove %s: %s", name, err->msg);
  if (state_dir) {
    sbx_volumes_release(d, state_dir);
    if (sbx_remove_tree(state_dir) < 0) return sbx_error_sys(err, "remove %s", state_dir);
  }
  if (id) sbx_store_idslot_release(d->store, id, err);
  if (sbx_store_delete(d->store, "Sandbox", ns, name, sbx_object_owner(obj), err) < 0 && err->errnum != ENOENT) return -1;
  return 0;
}

void sbx_pod_finished(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner) {
  sbx_error_t err = {0};
  pthread_mutex_lock(&d->objects_lock);
  _cleanup_json_ json_object *obj = NULL, *rt = NULL;
  if (sbx_store_get(d->store, "Sandbox", ns, name, owner, &obj, NULL, &err) < 0) goto out;
  json_object *x = sbx_internal(obj);
  const char *stopping = sbx_json_str(x, "stopping");
  rt = sbx_sandbox_runtime_status(obj);
  const char *phase = sbx_json_str(rt, "phase") ?: "";
  json_object_object_del(x, "shimPid");
  if (sbx_json_bool(x, "deleteWhenStopped", 0)) {
    if (sbx_pod_remove(d, obj, &err) < 0) sbx_log(SBX_LOG_ERROR, "remove %s: %s", name, err.msg);
    goto out;
  }
  if (stopping) {
    sbx_pod_event(obj, "Normal", "Stopped", strcmp(stopping, "Suspended") == 0 ? "the sandbox is suspended" : "the pod stopped");
    json_object_object_del(x, "stopping");
    json_object_object_del(x, "crashes");
    json_object_object_del(x, "nextStartAt");
  } else if (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0) {
    json_object_object_add(x, "completed", json_object_new_boolean(1));
    sbx_pod_event(obj, strcmp(phase, "Failed") == 0 ? "Warning" : "Normal", "Completed",
                  strcmp(phase, "Failed") == 0 ? "the pod failed and its restart policy does not restart it"
                                               : "every container completed");
  } else {
    /* the shim died on its own: start again after a back-off, which a long healthy run
     * (10 minutes, as the kubelet's) resets: crashes months apart are not a crash loop */
    unsigned streak = (unsigned)sbx_json_int(x, "crashes", 0);
    time_t started = sbx_parse_rfc3339(sbx_json_str(x, "startedAt") ?: "");
    time_t now = time(NULL);
    int64_t ran_ms = started >= 0 && now > started ? (int64_t)(now - started) * 1000 : 0;
    int delay = (int)(sbx_backoff_next(&streak, ran_ms) / 1000);
    json_object_object_add(x, "crashes", json_object_new_int((int)streak));
    json_object_object_add(x, "nextStartAt", json_object_new_int64(now + delay));
    char msg[200];
    snprintf(msg, sizeof msg, "the sandbox's supervisor ended unexpectedly; restarting in %d s", delay);
    sbx_pod_event(obj, "Warning", "BackOff", msg);
  }
  if (sbx_store_update(d->store, "Sandbox", ns, name, owner, obj, &err) < 0)
    sbx_log(SBX_LOG_ERROR, "record the end of %s: %s", name, err.msg);
out:
  pthread_mutex_unlock(&d->objects_lock);
  sbx_reconcile_kick();
}

static void pass(struct sbx_daemon *d) {
  sbx_error_t err = {0};
  pthread_mutex_lock(&d->objects_lock);
  _cleanup_json_ json_object *all = NULL;
  if (sbx_store_list(d->store, "Sandbox", NULL, SBX_OWNER_ANY, &all, &err) < 0) {
    pthread_mutex_unlock(&d->objects_lock);
    sbx_log(SBX_LOG_ERROR, "reconcile: %s", err.msg);
    return;
  }
  for (size_t i = 0; i < json_object_array_length(all); i++) {
    json_object *o = json_object_array_get_idx(all, i);
    if (!is_pod(o)) continue;
    if (reconcile_one(d, all, o) == CHANGED && store_back(d, o, &err) < 0)
      sbx_log(SBX_LOG_ERROR, "reconcile %s: %s", sbx_json_str(sbx_json_path(o, "metadata"), "name") ?: "?", err.msg);
  }
  pthread_mutex_unlock(&d->objects_lock);
}

static void *loop(void *arg) {
  struct sbx_daemon *d = arg;
  for (;;) {
    pass(d);
    atomic_store(&d->reconciled, true); /* /readyz: the first pass is done */
    pthread_mutex_lock(&kick_lock);
    if (!kicked) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1;
      pthread_cond_timedwait(&kick_cond, &kick_lock, &ts);
    }
    kicked = false;
    pthread_mutex_unlock(&kick_lock);
  }
  return NULL;
}

int sbx_reconcile_start(struct sbx_daemon *d, sbx_error_t *err) {
  pthread_t t;
  if (pthread_create(&t, NULL, loop, d) != 0) return sbx_error_says(err, EAGAIN, "cannot start the reconciler");
  pthread_detach(t);
  return 0;
}
