/* shim_pod.c: sbx-shim in pod mode: one Sandbox object's init containers and containers.
 *
 * The pod's user, net, ipc and uts namespaces are created first and held by a capless
 * holder process (runtime/podns.h; its pid is status.json's netnsPid). Every container is
 * a sandbox in join mode (runtime/sandbox.h): it joins those, gets its own mount, pid and
 * cgroup namespaces, its own image and writable layer under <state>/containers/<name>/
 * (kept across restarts), and its own cgroup below the pod's cgroup <parent>/<id>, which
 * carries the pod's limits. Stdout and stderr go through a pipe the shim drains into
 * <state>/logs/<name>.log, capped and rotated (shim_log.c).
 *
 * One single-threaded poll loop: the signalfd (SIGTERM/SIGINT/SIGHUP: graceful stop), the
 * exec server's socket and sessions (shim_exec.c), each running container's pidfd and log
 * pipe, and a
 * timeout for the next restart or for the end of the grace period. Init containers run one
 * at a time, each to completion; then all containers together. An exit is restarted per
 * restartPolicy after a crash-loop back-off (lib/backoff.h), during which the container is
 * waiting with reason CrashLoopBackOff. status.json is rewritten (tmp + rename) after every
 * change. The shim does not need the daemon: it only writes files the daemon reads.
 * It exits 0 after a stop, or when every container has ended for good. */
#include "shim/shim_group.h"
#include "shim/shim_pod.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/backoff.h"
#include "lib/cleanup.h"
#include "lib/quantity.h"
#include "lib/wire.h"
#include "runtime/caps.h"
#include "runtime/subpath.h"

#define SECCOMP_FD 6
#define MAX_EVENTS 100

int64_t pod_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pod_logmsg(struct pod *p, const char *fmt, ...) {
  char buf[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "sbx-shim[%s]: %s\n", p->id ? p->id : "?", buf);
}

static void now_rfc3339(char *buf, size_t n) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- status.json ------------------------------------------------------------------- */

static void event(struct pod *p, const char *type, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void event(struct pod *p, const char *type, const char *reason, const char *fmt, ...) {
  char msg[1024], ts[32];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  now_rfc3339(ts, sizeof ts);
  /* the same event again (a crash loop): counted, as the kubelet aggregates them */
  size_t n = json_object_array_length(p->events);
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(p->events, i);
    if (strcmp(sbx_json_str(e, "reason") ?: "", reason) == 0 && strcmp(sbx_json_str(e, "message") ?: "", msg) == 0 &&
        strcmp(sbx_json_str(e, "type") ?: "", type) == 0) {
      json_object_object_add(e, "count", json_object_new_int((int)sbx_json_int(e, "count", 1) + 1));
      json_object_object_add(e, "time", json_object_new_string(ts));
      return;
    }
  }
  json_object *e = json_object_new_object();
  json_object_object_add(e, "type", json_object_new_string(type));
  json_object_object_add(e, "reason", json_object_new_string(reason));
  json_object_object_add(e, "message", json_object_new_string(msg));
  json_object_object_add(e, "time", json_object_new_string(ts));
  json_object_object_add(e, "count", json_object_new_int(1));
  json_object_array_add(p->events, e);
  if (n + 1 > MAX_EVENTS) json_object_array_del_idx(p->events, 0, n + 1 - MAX_EVENTS);
}

static json_object *waiting(const char *reason, const char *message) {
  json_object *w = json_object_new_object();
  json_object_object_add(w, "reason", json_object_new_string(reason));
  if (message) json_object_object_add(w, "message", json_object_new_string(message));
  json_object *s = json_object_new_object();
  json_object_object_add(s, "waiting", w);
  return s;
}

static void set_state(struct pod_ctr *c, json_object *st) {
  json_object_put(c->state);
  c->state = st;
}

static const char *image_name(struct pod_ctr *c) {
  json_object *img;
  if (!json_object_object_get_ex(c->spec, "image", &img)) return "";
  const char *ref = sbx_json_str(img, "ref");
  if (ref) return ref;
  return strcmp(sbx_json_str(img, "type") ?: "", "host") == 0 ? "host" : "rootfs";
}

static json_object *ctr_status(struct pod_ctr *c) {
  json_object *s = json_object_new_object();
  json_object_object_add(s, "name", json_object_new_string(c->name));
  json_object_object_add(s, "image", json_object_new_string(image_name(c)));
  json_object_object_add(s, "ready", json_object_new_boolean(c->running));
  json_object_object_add(s, "started", json_object_new_boolean(c->running));
  json_object_object_add(s, "restartCount", json_object_new_int(c->restarts));
  json_object_object_add(s, "pid", json_object_new_int(c->running ? c->sb.pid : 0));
  json_object *st = NULL, *last = NULL;
  json_object_deep_copy(c->state, &st, NULL);
  if (c->last_state) json_object_deep_copy(c->last_state, &last, NULL);
  json_object_object_add(s, "state", st);
  json_object_object_add(s, "lastState", last ? last : json_object_new_object());
  return s;
}

static void write_status(struct pod *p) {
  _cleanup_json_ json_object *st = json_object_new_object();
  json_object_object_add(st, "shimPid", json_object_new_int(getpid()));
  json_object_object_add(st, "netnsPid", json_object_new_int(p->holder.pid > 0 ? p->holder.pid : 0));
  json_object_object_add(st, "phase", json_object_new_string(p->phase));
  json_object *ini = json_object_new_array(), *ctr = json_object_new_array();
  for (size_t i = 0; i < p->nctrs; i++) json_object_array_add(p->ctrs[i].init ? ini : ctr, ctr_status(&p->ctrs[i]));
  json_object_object_add(st, "initContainerStatuses", ini);
  json_object_object_add(st, "containerStatuses", ctr);
  json_object *ev = NULL;
  json_object_deep_copy(p->events, &ev, NULL);
  json_object_object_add(st, "events", ev);
  char tmp[4200], dst[4200];
  snprintf(tmp, sizeof tmp, "%s/status.json.tmp", p->state_dir);
  snprintf(dst, sizeof dst, "%s/status.json", p->state_dir);
  if (json_object_to_file_ext(tmp, st, JSON_C_TO_STRING_PLAIN) < 0 || rename(tmp, dst) < 0)
    pod_logmsg(p, "cannot record status in %s: %s", dst, strerror(errno));
}

/* ---- the spec ---------------------------------------------------------------------- */

static char **string_array(json_object *o, const char *key) {
  json_object *a;
  size_t n = json_object_object_get_ex(o, key, &a) && json_object_is_type(a, json_type_array)
                 ? json_object_array_length(a) : 0;
  char **v = calloc(n + 1, sizeof *v);
  for (size_t i = 0; v && i < n; i++) v[i] = (char *)json_object_get_string(json_object_array_get_idx(a, i));
  return v;
}

static int ctr_parse(struct pod *p, struct pod_ctr *c, json_object *spec, bool init, sbx_error_t *err) {
  c->spec = spec;
  c->init = init;
  c->name = sbx_json_str(spec, "name");
  c->restart_at_ms = -1;
  c->sb.pid = -1;
  c->log_pipe = c->log_fd = -1;
  if (!c->name || !*c->name || strchr(c->name, '/') || strcmp(c->name, ".") == 0 || strcmp(c->name, "..") == 0)
    return sbx_error_set(err, EINVAL, "a container has no valid name");
  if (asprintf(&c->dir, "%s/containers/%s", p->state_dir, c->name) < 0) return sbx_error_set(err, ENOMEM, "spec");
  c->argv = string_array(spec, "command");
  c->envp = string_array(spec, "env");
  if (!c->argv || !c->envp) return sbx_error_set(err, ENOMEM, "spec");
  c->cwd = sbx_json_str(spec, "workingDir");
  c->uid = (uid_t)sbx_json_int(spec, "uid", 0);
  c->gid = (gid_t)sbx_json_int(spec, "gid", 0);
  json_object *a;
  if (json_object_object_get_ex(spec, "supplementalGroups", &a) && json_object_is_type(a, json_type_array)) {
    c->ngroups = json_object_array_length(a);
    c->groups = calloc(c->ngroups + 1, sizeof *c->groups);
    if (!c->groups) return sbx_error_set(err, ENOMEM, "spec");
    for (size_t i = 0; i < c->ngroups; i++) c->groups[i] = (gid_t)json_object_get_int64(json_object_array_get_idx(a, i));
  }
  if (json_object_object_get_ex(spec, "capabilities", &a) && json_object_is_type(a, json_type_array)) {
    c->caps = 0;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
      const char *n = json_object_get_string(json_object_array_get_idx(a, i));
      int cap = sbx_caps_from_name(n);
      if (cap < 0 || cap > 63) return sbx_error_set(err, EINVAL, "container %s: unknown capability %s", c->name, n);
      c->caps |= UINT64_C(1) << cap;
    }
  } else {
    c->caps = sbx_caps_default_mask();
  }
  c->state = waiting("PodInitializing", NULL);
  return 0;
}

static json_object *find_volume(struct pod *p, const char *name) {
  json_object *vols;
  if (!name || !json_object_object_get_ex(p->spec, "volumes", &vols)) return NULL;
  for (size_t i = 0; i < json_object_array_length(vols); i++) {
    json_object *v = json_object_array_get_idx(vols, i);
    if (strcmp(sbx_json_str(v, "name") ?: "", name) == 0) return v;
  }
  return NULL;
}

/* ---- starting and ending a container ----------------------------------------------- */

static int ctr_launch(struct pod *p, struct pod_ctr *c, sbx_error_t *err) {
  json_object *img, *mounts;
  if (!c->argv[0]) return sbx_error_set(err, EINVAL, "container %s has no command (the image has no default)", c->name);
  if (!json_object_object_get_ex(c->spec, "image", &img)) return sbx_error_set(err, EINVAL, "container %s has no image", c->name);
  if (mkdir(c->dir, 0700) < 0 && errno != EEXIST) return sbx_error_sys(err, "create %s", c->dir);

  struct sbx_sandbox_config cfg = {0};
  cfg.id = c->name;
  cfg.state_dir = c->dir;
  cfg.host_id_base = (uint32_t)sbx_json_int(p->spec, "hostIdBase", 0);
  cfg.id_count = (uint32_t)sbx_json_int(p->spec, "idCount", 65536);
  cfg.image_fd = (int)sbx_json_int(img, "fd", -1);
  cfg.host_usr = strcmp(sbx_json_str(img, "type") ?: "", "host") == 0;
  cfg.image_owner_map = sbx_json_bool(c->spec, "imageOwnerMap", 0);
  cfg.owner_uid = (uid_t)sbx_json_int(p->spec, "ownerUid", 0);
  cfg.owner_gid = (gid_t)sbx_json_int(p->spec, "ownerGid", 0);
  if (sbx_json_int(p->spec, "fsGroup", -1) >= 0) {
    cfg.volume_gid_set = true;
    cfg.volume_gid = (gid_t)sbx_json_int(p->spec, "fsGroup", 0);
  }
  cfg.argv = c->argv;
  cfg.envp = c->envp;
  cfg.cwd = c->cwd;
  cfg.uid = c->uid;
  cfg.gid = c->gid;
  cfg.groups = c->groups;
  cfg.ngroups = c->ngroups;
  cfg.caps_set = true;
  cfg.caps = c->caps;
  cfg.read_only_root = sbx_json_bool(c->spec, "readOnlyRootFilesystem", 0);
  cfg.init_fd = POD_INIT_FD;
  cfg.seccomp = p->seccomp;
  cfg.cgroup_parent = p->cg_path;
  cfg.limits.pids_limit = sbx_json_int(json_object_object_get(p->spec, "limits"), "pids", 0) ?: 4096;
  cfg.shm_bytes = 64 << 20;
  cfg.tmp_bytes = 1LL << 30;
  cfg.join = true;
  cfg.join_pidfd = p->holder.pidfd;

  size_t nm = json_object_object_get_ex(c->spec, "mounts", &mounts) ? json_object_array_length(mounts) : 0;
  struct sbx_volume *vols = calloc(nm + 1, sizeof *vols);
  _cleanup_fd_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  _cleanup_fd_ int log = -1;
  int r = -1;
  size_t nv = 0;
  if (!vols || devnull < 0 || pod_log_start(p, c, &log, err) < 0) {
    if (log >= 0) sbx_error_sys(err, "start %s", c->name);
    goto out;
  }
  for (; nv < nm; nv++) {
    json_object *m = json_object_array_get_idx(mounts, nv);
    json_object *v = find_volume(p, sbx_json_str(m, "volume"));
    const char *dst = sbx_json_str(m, "mountPath");
    if (!v || !dst || dst[0] != '/') {
      sbx_error_set(err, EINVAL, "container %s: mount %zu names no volume or no absolute mountPath", c->name, nv);
      goto out;
    }
    int fd = sbx_subpath_open((int)sbx_json_int(v, "fd", -1), sbx_json_str(m, "subPath") ?: "", err);
    if (fd < 0) {
      sbx_error_prefix(err, "volume %s", sbx_json_str(v, "name"));
      goto out;
    }
    struct stat st;
    vols[nv] = (struct sbx_volume){.src_fd = fd, .destination = dst,
                                   .read_only = sbx_json_bool(v, "readOnly", 0) || sbx_json_bool(m, "readOnly", 0),
                                   .is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode),
                                   .no_idmap = !sbx_json_bool(v, "idmap", 1)};
  }
  cfg.volumes = vols;
  cfg.nvolumes = nv;
  cfg.stdio[0] = devnull;
  cfg.stdio[1] = cfg.stdio[2] = log;
  cfg.state_dirfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (cfg.state_dirfd < 0) {
    sbx_error_sys(err, "open %s", c->dir);
    goto out;
  }
  r = sbx_sandbox_start(&cfg, &c->sb, err);
  close(cfg.state_dirfd);
out:
  for (size_t i = 0; i < nv; i++) close(vols[i].src_fd);
  free(vols);
  return r;
}

static void ctr_start(struct pod *p, struct pod_ctr *c) {
  sbx_error_t err = {0};
  c->restart_at_ms = -1;
  set_state(c, waiting("ContainerCreating", NULL));
  event(p, "Normal", "Pulled", "Container image \"%s\" already present on machine", image_name(c));
  if (ctr_launch(p, c, &err) < 0) {
    pod_logmsg(p, "container %s: %s", c->name, err.msg);
    event(p, "Warning", "Failed", "Error: %s", err.msg);
    /* as the kubelet does for a container that cannot start: it ends with 128 */
    char ts[32];
    now_rfc3339(ts, sizeof ts);
    json_object *t = json_object_new_object();
    json_object_object_add(t, "exitCode", json_object_new_int(128));
    json_object_object_add(t, "signal", json_object_new_int(0));
    json_object_object_add(t, "reason", json_object_new_string("Error"));
    json_object_object_add(t, "message", json_object_new_string(err.msg));
    json_object_object_add(t, "startedAt", json_object_new_string(ts));
    json_object_object_add(t, "finishedAt", json_object_new_string(ts));
    json_object *s = json_object_new_object();
    json_object_object_add(s, "terminated", t);
    set_state(c, s);
    c->exit_code = 128;
    c->started_ms = pod_now_ms();
    return; /* the caller's ctr_ended logic runs via ctr_after_end */
  }
  c->running = true;
  c->started_ms = pod_now_ms();
  now_rfc3339(c->started_at, sizeof c->started_at);
  event(p, "Normal", "Created", "Created container %s", c->name);
  event(p, "Normal", "Started", "Started container %s", c->name);
  json_object *r = json_object_new_object();
  json_object_object_add(r, "startedAt", json_object_new_string(c->started_at));
  json_object *s = json_object_new_object();
  json_object_object_add(s, "running", r);
  set_state(c, s);
}

/* After an end (or a failed start): restart later, or done. */
static void ctr_after_end(struct pod *p, struct pod_ctr *c) {
  if (!p->stopping && sbx_restart_wanted(p->policy, c->init, c->exit_code)) {
    int64_t delay = sbx_backoff_next(&c->streak, pod_now_ms() - c->started_ms);
    c->restart_at_ms = pod_now_ms() + delay;
    json_object_put(c->last_state);
    c->last_state = c->state;
    c->state = NULL;
    char msg[512];
    snprintf(msg, sizeof msg, "back-off %llds restarting failed container=%s pod=%s_%s", (long long)delay / 1000,
             c->name, p->name ? p->name : p->id, p->ns ? p->ns : "default");
    set_state(c, waiting("CrashLoopBackOff", msg));
    event(p, "Warning", "BackOff", "Back-off restarting failed container %s in pod %s_%s", c->name,
          p->name ? p->name : p->id, p->ns ? p->ns : "default");
  } else {
    c->done = true;
  }
}

/* Its pid 1 ended: how, then tear its sandbox down. */
static void ctr_reap(struct pod *p, struct pod_ctr *c) {
  int status = 0, code = 0, sig = 0;
  while (waitpid(c->sb.pid, &status, 0) < 0 && errno == EINTR) {
  }
  sbx_sandbox_end_status(&c->sb, status, &code, &sig);
  uint64_t ooms = 0;
  sbx_error_t err;
  if (c->sb.cgroup) sbx_cgroup_oom_kills(c->sb.cgroup, &ooms, &err);
  const char *reason = code == 0 ? "Completed" : "Error";
  char oom[160] = "";
  if (ooms > 0 && sig == SIGKILL) {
    reason = "OOMKilled";
    pod_oom_message(p, oom, sizeof oom);
    char note[200];
    snprintf(note, sizeof note, "sbx: container %s was %s\n", c->name, oom);
    pod_log_note(p, c, note);
  }
  pod_log_close(p, c); /* its last words are in the file before its state says it ended */
  if (sbx_sandbox_destroy(&c->sb, &err) < 0) pod_logmsg(p, "container %s teardown: %s", c->name, err.msg);
  c->sb.pid = -1;
  c->running = false;
  c->exit_code = code;
  char ts[32];
  now_rfc3339(ts, sizeof ts);
  json_object *t = json_object_new_object();
  json_object_object_add(t, "exitCode", json_object_new_int(code));
  json_object_object_add(t, "signal", json_object_new_int(sig));
  json_object_object_add(t, "reason", json_object_new_string(reason));
  if (oom[0]) json_object_object_add(t, "message", json_object_new_string(oom));
  json_object_object_add(t, "startedAt", json_object_new_string(c->started_at));
  json_object_object_add(t, "finishedAt", json_object_new_string(ts));
  json_object *s = json_object_new_object();
  json_object_object_add(s, "terminated", t);
  set_state(c, s);
  ctr_after_end(p, c);
}

void pod_oom_message(struct pod *p, char *buf, size_t size) {
  sbx_oom_message(sbx_json_int(json_object_object_get(p->spec, "limits"), "memoryLimit", 0), buf, size);
}

/* ---- the pod's course -------------------------------------------------------------- */

static bool any_running(struct pod *p) {
  for (size_t i = 0; i < p->nctrs; i++)
    if (p->ctrs[i].running) return true;
  return false;
}

/* Start whatever is due: the next init container, or (inits done) the containers; and
 * work out the phase. Returns true when the pod has ended for good. */
static bool advance(struct pod *p) {
  int64_t now = pod_now_ms();
  if (p->stopping) return !any_running(p);
  /* init containers, one at a time */
  while (p->next_init < p->ninit) {
    struct pod_ctr *c = &p->ctrs[p->next_init];
    if (c->running) return false;
    if (c->done) {
      if (c->exit_code != 0) { /* failed under Never: the pod failed */
        p->phase = "Failed";
        return true;
      }
      p->next_init++;
      continue;
    }
    if (c->restart_at_ms >= 0 && c->restart_at_ms > now) return false;
    if (c->restart_at_ms >= 0) c->restarts++;
    ctr_start(p, c);
    if (!c->running) ctr_after_end(p, c);
    if (c->running || !c->done) return false;
  }
  bool all_done = true, all_ok = true;
  for (size_t i = p->ninit; i < p->nctrs; i++) {
    struct pod_ctr *c = &p->ctrs[i];
    if (!c->running && !c->done && (c->restart_at_ms < 0 ? c->started_ms == 0 : c->restart_at_ms <= now)) {
      if (c->restart_at_ms >= 0) c->restarts++;
      ctr_start(p, c);
      if (!c->running) ctr_after_end(p, c);
    }
    if (!c->done) all_done = false;
    if (c->done && c->exit_code != 0) all_ok = false;
  }
  p->phase = all_done ? (all_ok ? "Succeeded" : "Failed") : "Running";
  return all_done;
}

static int64_t next_timer(struct pod *p) {
  int64_t t = -1;
  for (size_t i = 0; i < p->nctrs; i++)
    if (!p->ctrs[i].running && !p->ctrs[i].done && p->ctrs[i].restart_at_ms >= 0 &&
        (t < 0 || p->ctrs[i].restart_at_ms < t))
      t = p->ctrs[i].restart_at_ms;
  if (p->stopping && p->kill_at_ms >= 0 && (t < 0 || p->kill_at_ms < t)) t = p->kill_at_ms;
  return t;
}

static void stop(struct pod *p) {
  if (p->stopping) return;
  p->stopping = true;
  int64_t grace = sbx_json_int(p->spec, "terminationGracePeriodSeconds", 30);
  p->kill_at_ms = pod_now_ms() + (grace < 0 ? 0 : grace) * 1000;
  for (size_t i = 0; i < p->nctrs; i++) {
    struct pod_ctr *c = &p->ctrs[i];
    c->restart_at_ms = -1;
    if (!c->running) continue;
    event(p, "Normal", "Killing", "Stopping container %s", c->name);
    syscall(SYS_pidfd_send_signal, c->sb.pidfd, SIGTERM, NULL, 0);
  }
  pod_exec_kill_all(p, SIGTERM);
}

static void kill_now(struct pod *p) {
  for (size_t i = 0; i < p->nctrs; i++)
    if (p->ctrs[i].running) syscall(SYS_pidfd_send_signal, p->ctrs[i].sb.pidfd, SIGKILL, NULL, 0);
  pod_exec_kill_all(p, SIGKILL);
  p->kill_at_ms = -1;
}

static struct sbx_seccomp_prog *read_seccomp(void) {
  struct sbx_seccomp_prog *prog = NULL;
  struct stat sst;
  sbx_error_t err;
  if (fstat(SECCOMP_FD, &sst) == 0 && sst.st_size > 0) {
    void *bpf = malloc((size_t)sst.st_size);
    if (bpf && pread(SECCOMP_FD, bpf, (size_t)sst.st_size, 0) == sst.st_size)
      sbx_seccomp_prog_from_data(bpf, (size_t)sst.st_size, &prog, &err);
    free(bpf);
  }
  close(SECCOMP_FD);
  return prog;
}

static int setup(struct pod *p, sbx_error_t *err) {
  json_object *a;
  size_t ni = json_object_object_get_ex(p->spec, "initContainers", &a) ? json_object_array_length(a) : 0;
  json_object *b;
  size_t nc = json_object_object_get_ex(p->spec, "containers", &b) ? json_object_array_length(b) : 0;
  if (nc == 0) return sbx_error_set(err, EINVAL, "the pod has no containers");
  p->ctrs = calloc(ni + nc, sizeof *p->ctrs);
  if (!p->ctrs) return sbx_error_set(err, ENOMEM, "spec");
  for (size_t i = 0; i < ni + nc; i++) {
    if (ctr_parse(p, &p->ctrs[i], json_object_array_get_idx(i < ni ? a : b, i < ni ? i : i - ni), i < ni, err) < 0)
      return -1;
    for (size_t j = 0; j < i; j++)
      if (strcmp(p->ctrs[j].name, p->ctrs[i].name) == 0)
        return sbx_error_set(err, EINVAL, "two containers are named %s", p->ctrs[i].name);
    p->nctrs = i + 1;
  }
  p->ninit = ni;
  char path[4200];
  snprintf(path, sizeof path, "%s/logs", p->state_dir);
  if (mkdir(path, 0700) < 0 && errno != EEXIST) return sbx_error_sys(err, "create %s", path);
  snprintf(path, sizeof path, "%s/containers", p->state_dir);
  if (mkdir(path, 0700) < 0 && errno != EEXIST) return sbx_error_sys(err, "create %s", path);

  p->seccomp = read_seccomp();
  const char *parent = sbx_json_str(p->spec, "cgroupParent") ?: "sbx";
  if (asprintf(&p->cg_path, "%s/%s", parent, p->id) < 0) return sbx_error_set(err, ENOMEM, "cgroup");
  json_object *l = json_object_object_get(p->spec, "limits");
  struct sbx_cgroup_limits lim = {.cpu_request_millis = sbx_json_int(l, "cpuRequestMilli", 0),
                                  .cpu_limit_millis = sbx_json_int(l, "cpuLimitMilli", 0),
                                  .memory_limit_bytes = sbx_json_int(l, "memoryLimit", 0),
                                  .pids_limit = sbx_json_int(l, "pids", 0) ?: 4096};
  /* a previous supervisor of this sandbox may have been killed (a crash, a reboot) */
  if (sbx_cgroup_remove_leftover("/proc/self/mountinfo", "/sys/fs/cgroup", parent, p->id, err) < 0)
    return sbx_error_prefix(err, "remove the cgroup a previous run left");
  struct sbx_cgroup_limits group;
  bool in_group = shim_group_limits(p->spec, &group);
  if (sbx_cgroup_create_in_group("/proc/self/mountinfo", "/sys/fs/cgroup", parent, in_group ? &group : NULL, p->id,
                                 &lim, &p->cg, err) < 0)
    return -1;
  if (sbx_pod_holder_start(sbx_json_str(p->spec, "hostname"), (uint32_t)sbx_json_int(p->spec, "hostIdBase", 0),
                           (uint32_t)sbx_json_int(p->spec, "idCount", 65536), &p->holder, err) < 0)
    return sbx_error_prefix(err, "pod namespaces");
  return pod_exec_listen(p, err);
}

static void teardown(struct pod *p) {
  sbx_error_t err;
  for (size_t i = 0; i < p->nctrs; i++) {
    struct pod_ctr *c = &p->ctrs[i];
    if (c->running) {
      syscall(SYS_pidfd_send_signal, c->sb.pidfd, SIGKILL, NULL, 0);
      ctr_reap(p, c);
    }
  }
  pod_exec_close(p);
  sbx_pod_holder_stop(&p->holder);
  if (p->cg) {
    if (sbx_cgroup_kill_all(p->cg, &err) < 0 || sbx_cgroup_destroy(p->cg, &err) < 0)
      pod_logmsg(p, "pod cgroup teardown: %s", err.msg);
    sbx_cgroup_free(p->cg);
    p->cg = NULL;
    shim_group_release(p->spec);
  }
}

static void free_pod(struct pod *p) {
  for (size_t i = 0; i < p->nctrs; i++) {
    struct pod_ctr *c = &p->ctrs[i];
    pod_log_close(p, c);
    free(c->dir);
    free(c->argv);
    free(c->envp);
    free(c->groups);
    json_object_put(c->state);
    json_object_put(c->last_state);
  }
  free(p->ctrs);
  free(p->cg_path);
  if (p->seccomp) sbx_seccomp_prog_free(p->seccomp);
  json_object_put(p->events);
}

#define MAX_POLL 256

int sbx_pod_shim_main(json_object *spec) {
  struct pod pod = {0}, *p = &pod;
  sbx_error_t err = {0};
  p->spec = spec;
  p->id = sbx_json_str(spec, "id");
  p->name = sbx_json_str(spec, "name");
  p->ns = sbx_json_str(spec, "namespace");
  p->state_dir = sbx_json_str(spec, "stateDir");
  p->policy = sbx_json_str(spec, "restartPolicy") ?: "Always";
  p->phase = "Pending";
  p->events = json_object_new_array();
  p->holder.pid = -1;
  p->holder.pidfd = -1;
  p->exec_listen = -1;
  p->kill_at_ms = -1;
  p->log_max_bytes = sbx_json_int(spec, "logMaxBytes", 10LL << 20);
  p->log_max_files = (int)sbx_json_int(spec, "logMaxFiles", 5);
  if (p->log_max_bytes < 4096) p->log_max_bytes = 4096;
  if (p->log_max_files < 2) p->log_max_files = 2;
  if (!p->id || !p->state_dir) {
    pod_logmsg(p, "spec lacks id or stateDir");
    json_object_put(p->events);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  _cleanup_fd_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

  int rc = 0;
  if (setup(p, &err) < 0) {
    pod_logmsg(p, "start: %s", err.msg);
    event(p, "Warning", "Failed", "Error: %s", err.msg);
    p->phase = "Failed";
    teardown(p);
    write_status(p);
    free_pod(p);
    return 1;
  }
  write_status(p);
  bool ended = advance(p);
  write_status(p);
  while (!ended) {
    struct pollfd pfd[MAX_POLL];
    struct pod_ctr *who[MAX_POLL];
    size_t n = 0;
    pfd[n++] = (struct pollfd){sfd, POLLIN, 0};
    pfd[n++] = (struct pollfd){p->exec_listen, POLLIN, 0};
    size_t first_ctr = n;
    for (size_t i = 0; i < p->nctrs && n < MAX_POLL / 2; i++)
      if (p->ctrs[i].running) {
        who[n] = &p->ctrs[i];
        pfd[n++] = (struct pollfd){p->ctrs[i].sb.pidfd, POLLIN, 0};
      }
    size_t first_log = n;
    for (size_t i = 0; i < p->nctrs && n < MAX_POLL / 2; i++)
      if (p->ctrs[i].log_pipe >= 0) {
        who[n] = &p->ctrs[i];
        pfd[n++] = (struct pollfd){p->ctrs[i].log_pipe, POLLIN, 0};
      }
    size_t first_exec = n;
    n += pod_exec_pollfds(p, pfd + n, MAX_POLL - n);
    int64_t t = next_timer(p), now = pod_now_ms();
    int timeout = t < 0 ? -1 : (t > now ? (int)(t - now) : 0);
    int r = poll(pfd, n, timeout);
    if (r < 0 && errno != EINTR) {
      pod_logmsg(p, "poll: %s", strerror(errno));
      rc = 1;
      break;
    }
    bool changed = false;
    if (r > 0 && pfd[0].revents) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si) {
        stop(p);
        changed = true;
      }
    }
    if (p->stopping && p->kill_at_ms >= 0 && pod_now_ms() >= p->kill_at_ms) kill_now(p);
    if (r > 0 && pfd[1].revents) pod_exec_accept(p);
    for (size_t i = first_log; r > 0 && i < first_exec; i++)
      if (pfd[i].revents) pod_log_drain(p, who[i]);
    for (size_t i = first_ctr; r > 0 && i < first_log; i++)
      if (pfd[i].revents) {
        ctr_reap(p, who[i]);
        changed = true;
      }
    if (r > 0) pod_exec_handle(p, pfd + first_exec, n - first_exec);
    bool before = any_running(p);
    ended = advance(p);
    if (changed || before != any_running(p) || r == 0) write_status(p);
  }
  if (p->stopping) {
    /* a stop: every container reached its end; the phase says how they ended */
    bool ok = true;
    for (size_t i = p->ninit; i < p->nctrs; i++)
      if (p->ctrs[i].exit_code != 0) ok = false;
    p->phase = ok ? "Succeeded" : "Failed";
  }
  teardown(p);
  write_status(p);
  free_pod(p);
  return rc;
}
