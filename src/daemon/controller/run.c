/* run.c: `sbx run` on the daemon side, and the life of a sandbox record.
 *
 * A run request (docs/protocol.md) is validated completely before anything changes: names,
 * quantities, paths, ids, descriptors. Then, in order: the Sandbox object is stored (so the
 * name is taken atomically), a spare's id slot and state directory are taken over (or, with
 * no spare, allocated and made), and a warm-pool spare is claimed (or, when the pool is empty, a shim is spawned) with the spec
 * and the descriptors; the client gets a socket to that shim and the daemon steps out of the
 * data path. Any failure undoes the steps before it.
 *
 * The stored object is a Sandbox as the user would have applied it, plus status, plus an
 * internal "x-sbx" member (id, state dir, id slot, shim pid, flags) that is never served. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/controller/reconcile.h"
#include "daemon/controller/pool.h"
#include "daemon/controller/quota.h"
#include "daemon/controller/controller.h"
#include "daemon/controller/usage.h"
#include "daemon/store/objects.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/names.h"
#include "lib/timefmt.h"
#include "lib/quantity.h"
#include "lib/rootfs.h"
#include "lib/wire.h"
#include "runtime/cgroup.h"

#define DEFAULT_SHM (64LL << 20)
#define DEFAULT_TMP (1LL << 30)
#define GRACE_SECONDS 10

/* An absolute path with no "." or ".." components and no empty ones after the first. */
static int check_abs_path(const char *p, const char *what, sbx_error_t *err) {
  if (!p || p[0] != '/') return sbx_error_says(err, EINVAL, "%s must be an absolute path", what);
  if (strlen(p) > 4000) return sbx_error_says(err, EINVAL, "%s is too long", what);
  for (const char *s = p; *s;) {
    while (*s == '/') s++;
    const char *e = strchrnul(s, '/');
    size_t n = (size_t)(e - s);
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
      return sbx_error_says(err, EINVAL, "%s %s must not contain '.' or '..'", what, p);
    for (const char *c = s; c < e; c++)
      if ((unsigned char)*c < 0x20) return sbx_error_says(err, EINVAL, "%s contains a control character", what);
    s = e;
  }
  return 0;
}

static bool under(const char *path, const char *top) {
  size_t n = strlen(top);
  return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

struct run_req {
  const char *name, *ns;
  char genname[32];
  bool host_image;
  int image_fd;
  int64_t cpu_millis, mem_bytes, pids;
  json_object *volumes; /* spec form */
  json_object *env;     /* array of "K=V" */
  const char *cwd;
  uint32_t uid, gid;
  bool tty, in, rm;
  json_object *command;
};

static int parse_user(const char *s, uint32_t *uid, uint32_t *gid, sbx_error_t *err) {
  char *end;
  errno = 0;
  unsigned long u = strtoul(s, &end, 10), g;
  if (errno || end == s || u > 65535 || (*end && *end != ':'))
    return sbx_error_says(err, EINVAL, "--user %s: expected UID[:GID] with numbers from 0 to 65535", s);
  g = u;
  if (*end == ':') {
    const char *gs = end + 1;
    g = strtoul(gs, &end, 10);
    if (errno || end == gs || *end || g > 65535)
      return sbx_error_says(err, EINVAL, "--user %s: expected UID[:GID] with numbers from 0 to 65535", s);
  }
  *uid = (uint32_t)u;
  *gid = (uint32_t)g;
  return 0;
}

/* A path the client sends must have been opened for reading (not O_PATH, which needs no
 * permission on the path itself): that proves the caller could read it anyway. */
static int check_opened_for_reading(int fd, const char *what, sbx_error_t *err) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY)
    return sbx_error_says(err, EACCES, "%s: the source must be opened for reading by the caller", what);
  return 0;
}

static int fd_at(const int *fds, size_t nfds, json_object *o, const char *key, int *out, sbx_error_t *err) {
  long long i = sbx_json_int(o, key, -1);
  if (i < 0 || (size_t)i >= nfds) return sbx_error_says(err, EINVAL, "request names descriptor %lld, which was not sent", i);
  *out = fds[i];
  return 0;
}

static int validate(json_object *q, const int *fds, size_t nfds, const struct sbx_caller *who, struct run_req *r,
                    sbx_error_t *err) {
  json_object *o;
  memset(r, 0, sizeof *r);
  r->name = sbx_json_str(q, "name");
  if (r->name && !*r->name) r->name = NULL;
  if (r->name && sbx_name_validate_label(r->name, "--name", err) < 0) return -1;
  if (!r->name) {
    strcpy(r->genname, "run-");
    sbx_random_hex(r->genname + 4, 5);
    r->name = r->genname;
  }
  r->ns = sbx_json_str(q, "namespace");
  if (!r->ns || !*r->ns) r->ns = "default";
  if (sbx_name_validate_label(r->ns, "namespace", err) < 0) return -1;

  const char *image = sbx_json_str(q, "image");
  if (!image || strcmp(image, "host") == 0) {
    r->host_image = true;
  } else if (strcmp(image, "rootfs") == 0) {
    if (fd_at(fds, nfds, q, "imageFd", &r->image_fd, err) < 0) return -1;
    if (check_opened_for_reading(r->image_fd, "--image rootfs:DIR", err) < 0 ||
        sbx_rootfs_check(r->image_fd, "DIR", who->uid, err) < 0) /* as apply's (lib/rootfs.h) */
      return -1;
  } else {
    return sbx_error_says(err, EINVAL, "--image: only `host` and `rootfs:DIR` are supported");
  }

  const char *s;
  if ((s = sbx_json_str(q, "cpus")) && sbx_quantity_cpu_millis(s, &r->cpu_millis, err) < 0)
    return sbx_error_prefix(err, "--cpus");
  if ((s = sbx_json_str(q, "memory")) && sbx_quantity_bytes(s, &r->mem_bytes, err) < 0)
    return sbx_error_prefix(err, "--memory");
  if (r->mem_bytes > 0 && r->mem_bytes < (6LL << 20))
    return sbx_error_says(err, EINVAL, "--memory: at least 6Mi is needed to start a sandbox");
  r->pids = sbx_json_int(q, "pids", 0); /* 0: the daemon's --default-pids */
  if (json_object_object_get_ex(q, "pids", NULL) && (r->pids < 1 || r->pids > 4194304)) return sbx_error_says(err, EINVAL, "--pids must be between 1 and 4194304");

  const char *net = sbx_json_str(q, "network");
  if (net && strcmp(net, "none") != 0) {
    if (strcmp(net, "private") == 0)
      return sbx_error_says(err, ENOTSUP, "--network private is not supported yet; use --network none (loopback only)");
    return sbx_error_says(err, EINVAL, "--network must be none or private");
  }

  r->volumes = json_object_new_array();
  if (json_object_object_get_ex(q, "mounts", &o)) {
    if (!json_object_is_type(o, json_type_array)) return sbx_error_says(err, EINVAL, "mounts must be a list");
    if (json_object_array_length(o) > 24) return sbx_error_says(err, E2BIG, "at most 24 -v mounts");
    for (size_t i = 0; i < json_object_array_length(o); i++) {
      json_object *m = json_object_array_get_idx(o, i);
      const char *dst = sbx_json_str(m, "destination");
      int fd = -1;
      struct stat st;
      if (check_abs_path(dst, "-v destination", err) < 0) return -1;
      if (strcmp(dst, "/") == 0 || under(dst, "/proc") || under(dst, "/sys") || under(dst, "/dev"))
        return sbx_error_says(err, EINVAL, "-v %s: cannot mount over /, /proc, /sys or /dev", dst);
      if (fd_at(fds, nfds, m, "fd", &fd, err) < 0) return -1;
      if (check_opened_for_reading(fd, "-v", err) < 0) return -1;
      if (fstat(fd, &st) < 0) return sbx_error_sys(err, "-v %s", dst);
      if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return sbx_error_says(err, EINVAL, "-v %s: the source must be a directory or a regular file", dst);
      json_object *v = json_object_new_object();
      json_object_object_add(v, "fd", json_object_new_int(fd)); /* rewritten when spawning */
      json_object_object_add(v, "destination", json_object_new_string(dst));
      json_object_object_add(v, "readOnly", json_object_new_boolean(sbx_json_bool(m, "readOnly", 0)));
      json_object_object_add(v, "isDir", json_object_new_boolean(S_ISDIR(st.st_mode)));
      json_object_array_add(r->volumes, v);
    }
  }

  r->env = json_object_new_array();
  if (json_object_object_get_ex(q, "env", &o) && json_object_is_type(o, json_type_array)) {
    for (size_t i = 0; i < json_object_array_length(o); i++) {
      const char *kv = json_object_get_string(json_object_array_get_idx(o, i));
      const char *eq = kv ? strchr(kv, '=') : NULL;
      char name[256];
      if (!eq || (size_t)(eq - kv) >= sizeof name) return sbx_error_says(err, EINVAL, "-e: expected NAME=VALUE");
      memcpy(name, kv, (size_t)(eq - kv));
      name[eq - kv] = '\0';
      if (!sbx_is_env_name(name)) return sbx_error_says(err, EINVAL, "-e %s: not a valid variable name", name);
      json_object_array_add(r->env, json_object_new_string(kv));
    }
  }
  r->cwd = sbx_json_str(q, "workingDir");
  if (r->cwd && check_abs_path(r->cwd, "--workdir", err) < 0) return -1;
  r->uid = r->gid = 0;
  if ((s = sbx_json_str(q, "user")) && *s && parse_user(s, &r->uid, &r->gid, err) < 0) return -1;
  r->tty = sbx_json_bool(q, "tty", 0);
  r->in = sbx_json_bool(q, "stdin", 0);
  r->rm = sbx_json_bool(q, "rm", 0);
  if (!json_object_object_get_ex(q, "command", &r->command) || !json_object_is_type(r->command, json_type_array) ||
      json_object_array_length(r->command) == 0)
    return sbx_error_says(err, EINVAL, "no command given: sbx run [OPTIONS] -- COMMAND [ARG...]");
  for (size_t i = 0; i < json_object_array_length(r->command); i++)
    if (!json_object_is_type(json_object_array_get_idx(r->command, i), json_type_string))
      return sbx_error_says(err, EINVAL, "command arguments must be strings");
  (void)who;
  return 0;
}

static json_object *env_with_defaults(const struct run_req *r) {
  json_object *env = json_object_new_array();
  char host[80];
  snprintf(host, sizeof host, "HOSTNAME=%s", r->name);
  const char *defaults[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            r->uid == 0 ? "HOME=/root" : "HOME=/tmp", host, r->tty ? "TERM=xterm" : NULL};
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
    if (!defaults[i]) continue;
    size_t n = strchr(defaults[i], '=') - defaults[i] + 1;
    bool overridden = false;
    for (size_t k = 0; k < json_object_array_length(r->env); k++)
      if (strncmp(json_object_get_string(json_object_array_get_idx(r->env, k)), defaults[i], n) == 0) overridden = true;
    if (!overridden) json_object_array_add(env, json_object_new_string(defaults[i]));
  }
  for (size_t k = 0; k < json_object_array_length(r->env); k++)
    json_object_array_add(env, json_object_get(json_object_array_get_idx(r->env, k)));
  return env;
}

/* The Sandbox object a `run` stands for, as kubectl would show it. */
static json_object *make_object(const struct run_req *r, const char *id, const char *ts, const char *image_desc) {
  json_object *obj = json_object_new_object(), *meta = json_object_new_object(), *ann = json_object_new_object();
  json_object_object_add(obj, "apiVersion", json_object_new_string(SBX_API_VERSION));
  json_object_object_add(obj, "kind", json_object_new_string("Sandbox"));
  json_object_object_add(meta, "name", json_object_new_string(r->name));
  json_object_object_add(meta, "namespace", json_object_new_string(r->ns));
  json_object_object_add(meta, "uid", json_object_new_string(id));
  json_object_object_add(meta, "creationTimestamp", json_object_new_string(ts));
  json_object_object_add(ann, "sbx.x-k8s.io/created-by", json_object_new_string("sbx run"));
  json_object_object_add(meta, "annotations", ann);
  json_object_object_add(obj, "metadata", meta);

  json_object *c = json_object_new_object();
  json_object_object_add(c, "name", json_object_new_string("main"));
  json_object_object_add(c, "image", json_object_new_string(image_desc));
  json_object_object_add(c, "command", json_object_get(r->command));
  if (r->cwd) json_object_object_add(c, "workingDir", json_object_new_string(r->cwd));
  json_object *limits = json_object_new_object();
  char q[64];
  if (r->cpu_millis) {
    snprintf(q, sizeof q, "%" PRId64 "m", r->cpu_millis);
    json_object_object_add(limits, "cpu", json_object_new_string(q));
  }
  if (r->mem_bytes) {
    snprintf(q, sizeof q, "%" PRId64, r->mem_bytes);
    json_object_object_add(limits, "memory", json_object_new_string(q));
  }
  json_object *res = json_object_new_object();
  json_object_object_add(res, "limits", limits);
  json_object_object_add(c, "resources", res);
  json_object_object_add(c, "tty", json_object_new_boolean(r->tty));
  json_object_object_add(c, "stdin", json_object_new_boolean(r->in));
  json_object *containers = json_object_new_array();
  json_object_array_add(containers, c);
  json_object *podspec = json_object_new_object(), *tmpl = json_object_new_object(), *spec = json_object_new_object();
  json_object_object_add(podspec, "restartPolicy", json_object_new_string("Never"));
  json_object_object_add(podspec, "containers", containers);
  json_object_object_add(tmpl, "spec", podspec);
  json_object_object_add(spec, "podTemplate", tmpl);
  json_object_object_add(obj, "spec", spec);
  return obj;
}

static void set_status(json_object *obj, const char *ready, const char *reason, const char *message,
                       json_object *state /* containerStatuses[0].state, consumed */) {
  char ts[32];
  sbx_now_rfc3339(ts, sizeof ts);
  json_object *st = json_object_new_object(), *conds = json_object_new_array(), *cond = json_object_new_object();
  json_object_object_add(cond, "type", json_object_new_string("Ready"));
  json_object_object_add(cond, "status", json_object_new_string(ready));
  json_object_object_add(cond, "reason", json_object_new_string(reason));
  if (message) json_object_object_add(cond, "message", json_object_new_string(message));
  json_object_object_add(cond, "lastTransitionTime", json_object_new_string(ts));
  json_object_array_add(conds, cond);
  json_object_object_add(st, "conditions", conds);
  json_object *cs = json_object_new_array(), *c0 = json_object_new_object();
  json_object_object_add(c0, "name", json_object_new_string("main"));
  json_object_object_add(c0, "state", state);
  json_object_object_add(c0, "restartCount", json_object_new_int(0));
  json_object_array_add(cs, c0);
  json_object_object_add(st, "containerStatuses", cs);
  json_object_object_add(obj, "status", st);
}


static bool is_pod(json_object *obj) {
  json_object *x;
  return json_object_object_get_ex(obj, SBX_INTERNAL, &x) && strcmp(sbx_json_str(x, "mode") ?: "", "pod") == 0;
}

void sbx_run_handle(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req, int *fds,
                    size_t nfds) {
  double started = sbx_starts_clock();
  sbx_error_t err = {0};
  struct run_req r;
  if (validate(req, fds, nfds, who, &r, &err) < 0) {
    sbx_stream_reply_error(conn, err.errnum == ENOTSUP ? "NotSupported" : "Invalid", err.msg);
    json_object_put(r.volumes);
    json_object_put(r.env);
    return;
  }
  _cleanup_json_ json_object *volumes = r.volumes;
  _cleanup_json_ json_object *userenv = r.env;
  if (r.pids == 0) r.pids = d->policy.default_pids;
  if (r.mem_bytes == 0) r.mem_bytes = d->policy.default_memory;
  r.cpu_millis = sbx_policy_cpu_limit(d, r.cpu_millis);
  char id[40], ts[32], state_dir[4096], image_desc[64];
  /* a spare from the warm pool, when there is one, brings its id, id range and state */
  struct sbx_spare_info spare;
  bool have_spare = sbx_pool_take(d, who->uid, &spare) == 1;
  if (have_spare) {
    snprintf(id, sizeof id, "%s", spare.id);
    snprintf(state_dir, sizeof state_dir, "%s", spare.state_dir);
  } else {
    sbx_random_hex(id, 8);
    snprintf(state_dir, sizeof state_dir, "%s/sandboxes/%s", d->root, id);
  }
  sbx_now_rfc3339(ts, sizeof ts);
  snprintf(image_desc, sizeof image_desc, "%s", r.host_image ? "host" : "rootfs");

  _cleanup_json_ json_object *obj = make_object(&r, id, ts, image_desc);
  set_status(obj, "False", "SandboxStarting", NULL, json_object_new_object());
  json_object *x = sbx_internal(obj);
  json_object_object_add(x, "id", json_object_new_string(id));
  json_object_object_add(x, "stateDir", json_object_new_string(state_dir));
  /* An unnamed run is removed when it ends, like --rm: nobody knows its generated name.
   * A named one without --rm stays listed with how it ended. */
  bool named = sbx_json_str(req, "name") && *sbx_json_str(req, "name");
  bool remove = r.rm || !named;
  json_object_object_add(x, "removeOnExit", json_object_new_boolean(remove));
  /* the count quota and the create under one lock: two runs cannot both take the last one */
  pthread_mutex_lock(&d->objects_lock);
  int created = sbx_quota_admit(d, who->uid, &(struct sbx_quota){.sandboxes = 1}, &err);
  if (created == 0) created = sbx_store_create(d->store, "Sandbox", r.ns, r.name, who->uid, obj, &err);
  pthread_mutex_unlock(&d->objects_lock);
  if (created < 0) {
    if (err.errnum == EDQUOT) {
      sbx_stream_reply_error(conn, "Forbidden", err.msg);
    } else if (err.errnum == EEXIST) {
      char msg[256];
      snprintf(msg, sizeof msg, "a sandbox named \"%s\" already exists; choose another --name or `sbx delete sandbox %s`",
               r.name, r.name);
      sbx_stream_reply_error(conn, "AlreadyExists", msg);
    } else {
      sbx_stream_reply_error(conn, "InternalError", err.msg);
    }
    if (have_spare) sbx_pool_give_back(d, &spare);
    return;
  }

  uint32_t slot;
  _cleanup_fd_ int host_image_fd = -1;
  _cleanup_json_ json_object *ok = NULL;
  int sp[2] = {-1, -1};
  pid_t shim = -1;
  bool have_slot = have_spare;
  if (have_spare) {
    slot = spare.slot;
  } else if (sbx_store_idslot_alloc(d->store, id, SBX_ID_SLOTS, &slot, &err) < 0) {
    sbx_stream_reply_error(conn, err.errnum == EUSERS ? "Forbidden" : "InternalError", err.msg);
    goto undo;
  }
  have_slot = true;
  if (!have_spare && mkdir(state_dir, 0700) < 0) {
    sbx_error_sys(&err, "create %s", state_dir);
    sbx_stream_reply_error(conn, "InternalError", err.msg);
    goto undo;
  }

  int extra[SBX_WIRE_MAX_FDS];
  size_t nextra = 0;
  if (r.host_image) {
    host_image_fd = open(d->host_image, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (host_image_fd < 0) {
      sbx_error_sys(&err, "open the host image %s", d->host_image);
      sbx_stream_reply_error(conn, "InternalError", err.msg);
      goto undo;
    }
    extra[nextra++] = host_image_fd;
  } else {
    extra[nextra++] = r.image_fd;
  }
  json_object *spec = json_object_new_object();
  json_object *img = json_object_new_object();
  json_object_object_add(img, "type", json_object_new_string(r.host_image ? "host" : "dir"));
  json_object_object_add(img, "fd", json_object_new_int(7));
  json_object_object_add(spec, "image", img);
  for (size_t i = 0; i < json_object_array_length(volumes); i++) {
    json_object *v = json_object_array_get_idx(volumes, i);
    extra[nextra] = (int)sbx_json_int(v, "fd", -1);
    json_object_object_add(v, "fd", json_object_new_int((int)(7 + nextra)));
    nextra++;
  }
  json_object_object_add(spec, "volumes", json_object_get(volumes));
  json_object_object_add(spec, "id", json_object_new_string(id));
  json_object_object_add(spec, "name", json_object_new_string(r.name));
  json_object_object_add(spec, "hostname", json_object_new_string(r.name));
  json_object_object_add(spec, "stateDir", json_object_new_string(state_dir));
  json_object_object_add(spec, "hostIdBase", json_object_new_int64(SBX_ID_BASE + (int64_t)slot * SBX_ID_SLOT_SIZE));
  json_object_object_add(spec, "idCount", json_object_new_int64(SBX_ID_SLOT_SIZE));
  json_object_object_add(spec, "imageOwnerMap", json_object_new_boolean(!r.host_image && who->uid != 0));
  json_object_object_add(spec, "ownerUid", json_object_new_int64(who->uid));
  json_object_object_add(spec, "ownerGid", json_object_new_int64(who->gid));
  json_object_object_add(spec, "command", json_object_get(r.command));
  json_object_object_add(spec, "env", env_with_defaults(&r));
  json_object_object_add(spec, "workingDir", json_object_new_string(r.cwd ? r.cwd : "/"));
  json_object_object_add(spec, "uid", json_object_new_int64(r.uid));
  json_object_object_add(spec, "gid", json_object_new_int64(r.gid));
  json_object_object_add(spec, "tty", json_object_new_boolean(r.tty));
  json_object_object_add(spec, "stdin", json_object_new_boolean(r.in));
  json_object_object_add(spec, "removeOnExit", json_object_new_boolean(remove));
  json_object_object_add(spec, "keepOnDisconnect", json_object_new_boolean(!remove));
  sbx_policy_place(d, who->uid, spec);
  json_object_object_add(spec, "cpuLimitMillis", json_object_new_int64(r.cpu_millis));
  json_object_object_add(spec, "memoryLimitBytes", json_object_new_int64(r.mem_bytes));
  json_object_object_add(spec, "pidsLimit", json_object_new_int64(r.pids));
  json_object_object_add(spec, "shmBytes", json_object_new_int64(DEFAULT_SHM));
  json_object_object_add(spec, "tmpBytes",
                         json_object_new_int64(r.mem_bytes > 0 && r.mem_bytes < DEFAULT_TMP ? r.mem_bytes : DEFAULT_TMP));
  /* the writable layer: a tmpfs of the default ephemeral-storage size (sandbox.h) */
  json_object_object_add(spec, "layerBytes", json_object_new_int64(d->default_ephemeral_bytes));
  json_object_object_add(spec, "gracePeriodSeconds", json_object_new_int(GRACE_SECONDS));

  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
    json_object_put(spec);
    sbx_error_sys(&err, "socketpair");
    sbx_stream_reply_error(conn, "InternalError", err.msg);
    goto undo;
  }
  int rc;
  if (have_spare) {
    /* the claim: the spec, then the client's channel and the image and volume fds */
    int claimfds[SBX_WIRE_MAX_FDS];
    claimfds[0] = sp[1];
    memcpy(claimfds + 1, extra, nextra * sizeof(int));
    rc = sbx_wire_send(spare.ctl, spec, claimfds, nextra + 1, &err);
    close(spare.ctl);
    spare.ctl = -1;
    shim = spare.pid;
    if (rc < 0) sbx_error_prefix(&err, "hand the sandbox to a warm-pool spare");
  } else {
    rc = sbx_shim_spawn(d, spec, sp[1], extra, nextra, &shim, &err);
  }
  json_object_put(spec);
  close(sp[1]);
  if (rc < 0) {
    close(sp[0]);
    sbx_stream_reply_error(conn, "InternalError", err.msg);
    goto undo;
  }
  json_object_object_add(x, "shimPid", json_object_new_int(shim));
  json_object_object_add(x, "idSlot", json_object_new_int64(slot));
  set_status(obj, "True", "SandboxRunning", NULL, json_object_new_object());
  json_object *running = json_object_new_object(), *since = json_object_new_object();
  json_object_object_add(since, "startedAt", json_object_new_string(ts));
  json_object_object_add(running, "running", since);
  set_status(obj, "True", "SandboxRunning", NULL, running);
  if (sbx_store_update(d->store, "Sandbox", r.ns, r.name, who->uid, obj, &err) < 0)
    sbx_log(SBX_LOG_ERROR, "record %s: %s", r.name, err.msg);
  if (sbx_supervisor_watch(d, shim, r.ns, r.name, who->uid, &err) < 0)
    sbx_log(SBX_LOG_ERROR, "watch %s: %s", r.name, err.msg);

  ok = json_object_new_object();
  json_object_object_add(ok, "ok", json_object_new_boolean(1));
  json_object_object_add(ok, "name", json_object_new_string(r.name));
  json_object_object_add(ok, "id", json_object_new_string(id));
  sbx_wire_send(conn, ok, &sp[0], 1, &err);
  close(sp[0]);
  sbx_starts_record(SBX_START_RUN, sbx_starts_clock() - started);
  sbx_pool_fill(d); /* after the reply: the client does not wait for it */
  return;

undo:
  sbx_starts_failed(SBX_START_RUN);
  if (have_spare) {
    /* the spare removes its own state when its control socket closes */
    if (spare.ctl >= 0) close(spare.ctl);
    while (waitpid(spare.pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  if (have_slot) sbx_store_idslot_release(d->store, id, &err);
  sbx_remove_tree(state_dir);
  sbx_store_delete(d->store, "Sandbox", r.ns, r.name, who->uid, &err);
}

static json_object *read_json_file(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) return NULL;
  return json_object_from_file(path);
}

void sbx_run_finished(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner) {
  sbx_error_t err = {0};
  json_object *obj = NULL;
  if (sbx_store_get(d->store, "Sandbox", ns, name, owner, &obj, NULL, &err) < 0) return;
  json_object *x = sbx_internal(obj);
  if (is_pod(obj)) {
    json_object_put(obj);
    sbx_pod_finished(d, ns, name, owner);
    return;
  }
  const char *state_dir = sbx_json_str(x, "stateDir");
  const char *id = sbx_json_str(x, "id");
  /* a shim that was killed left its sandbox's processes running in their cgroup */
  if (id && sbx_cgroup_remove_leftover_any("/proc/self/mountinfo", "/sys/fs/cgroup", d->policy.cgroup_parent, id, &err) < 0)
    sbx_log(SBX_LOG_WARN, "remove the cgroup of %s: %s", name, err.msg);
  if (sbx_json_bool(x, "removeOnExit", 0)) {
    if (state_dir) sbx_remove_tree(state_dir);
    if (id) sbx_store_idslot_release(d->store, id, &err);
    sbx_store_delete(d->store, "Sandbox", ns, name, owner, &err);
    json_object_put(obj);
    return;
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/status.json", state_dir ? state_dir : "/nonexistent");
  _cleanup_json_ json_object *st = read_json_file(path);
  const char *phase = sbx_json_str(st, "phase");
  const char *reason = sbx_json_str(st, "reason");
  if (!phase || strcmp(phase, "Running") == 0) reason = "Error"; /* the shim died without a word */
  json_object *term = json_object_new_object(), *state = json_object_new_object();
  json_object_object_add(term, "exitCode", json_object_new_int((int)sbx_json_int(st, "exitCode", -1)));
  json_object_object_add(term, "signal", json_object_new_int((int)sbx_json_int(st, "signal", 0)));
  json_object_object_add(term, "reason", json_object_new_string(reason ? reason : "Error"));
  if (sbx_json_str(st, "message")) json_object_object_add(term, "message", json_object_new_string(sbx_json_str(st, "message")));
  if (sbx_json_str(st, "finishedAt"))
    json_object_object_add(term, "finishedAt", json_object_new_string(sbx_json_str(st, "finishedAt")));
  json_object_object_add(state, "terminated", term);
  set_status(obj, "False", reason ? reason : "Error", sbx_json_str(st, "message"), state);
  json_object_object_del(x, "shimPid");
  if (sbx_store_update(d->store, "Sandbox", ns, name, owner, obj, &err) < 0)
    sbx_log(SBX_LOG_ERROR, "record the end of %s: %s", name, err.msg);
  json_object_put(obj);
}

/* A declared sandbox: marked for removal, then stopped; the removal happens at its end
 * (reconcile.c), or here when it was not running. Its volumes are kept. */
static int delete_pod(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, sbx_error_t *err) {
  pthread_mutex_lock(&d->objects_lock);
  _cleanup_json_ json_object *obj = NULL;
  int rc = sbx_store_get(d->store, "Sandbox", ns, name, owner, &obj, NULL, err);
  long long grace = obj ? sbx_json_int(sbx_json_path(obj, "spec.podTemplate.spec"), "terminationGracePeriodSeconds", 30) : 0;
  if (rc == 0) {
    json_object *x = sbx_internal(obj);
    json_object_object_add(x, "deleteWhenStopped", json_object_new_boolean(1));
    json_object_object_add(x, "stopping", json_object_new_string("Deleted"));
    rc = sbx_store_update(d->store, "Sandbox", ns, name, owner, obj, err);
  }
  if (rc == 0 && sbx_supervisor_signal(d, ns, name, owner, SIGTERM) < 0) rc = sbx_pod_remove(d, obj, err);
  else if (rc == 0) rc = 1;
  pthread_mutex_unlock(&d->objects_lock);
  if (rc == 1 && sbx_supervisor_wait_gone(d, ns, name, owner, (int)(grace + 15) * 1000) < 0)
    return sbx_error_says(err, ETIMEDOUT, "sandbox %s did not stop in time; it is still being deleted", name);
  return rc < 0 ? -1 : 0;
}

int sbx_sandbox_delete(struct sbx_daemon *d, const char *ns, const char *name, uid_t owner, sbx_error_t *err) {
  _cleanup_json_ json_object *obj = NULL;
  if (sbx_store_get(d->store, "Sandbox", ns, name, owner, &obj, NULL, err) < 0) return -1;
  if (is_pod(obj)) return delete_pod(d, ns, name, owner, err);
  if (sbx_supervisor_signal(d, ns, name, owner, SIGTERM) == 0 &&
      sbx_supervisor_wait_gone(d, ns, name, owner, (GRACE_SECONDS + 10) * 1000) < 0)
    return sbx_error_says(err, ETIMEDOUT, "sandbox %s did not stop in time; try again", name);
  json_object *x = sbx_internal(obj);
  const char *state_dir = sbx_json_str(x, "stateDir");
  const char *id = sbx_json_str(x, "id");
  if (state_dir && sbx_remove_tree(state_dir) < 0)
    return sbx_error_sys(err, "remove %s", state_dir);
  if (id) sbx_store_idslot_release(d->store, id, err);
  if (sbx_store_delete(d->store, "Sandbox", ns, name, owner, err) < 0 && err->errnum != ENOENT) return -1;
  return 0;
}


/* The one shim of a recorded sandbox after a crash: the recorded pid if it still is that
 * sandbox's shim, else one found by its command line (started just before the daemon died,
 * before its pid was recorded: its pid is recorded now). Any other shim of the id is
 * killed, so every crash point ends with one shim. -1 if none runs. */
static pid_t adopt_shim(struct sbx_daemon *d, json_object *shims, json_object *x, const char *id, const char *ns,
                        const char *name, uid_t owner) {
  pid_t recorded = (pid_t)sbx_json_int(x, "shimPid", -1), keep = -1;
  json_object *found = NULL;
  json_object_object_get_ex(shims, id, &found);
  size_t n = found ? json_object_array_length(found) : 0;
  for (size_t i = 0; i < n; i++)
    if (json_object_get_int(json_object_array_get_idx(found, i)) == recorded) keep = recorded;
  for (size_t i = 0; i < n; i++) {
    pid_t p = json_object_get_int(json_object_array_get_idx(found, i));
    if (keep < 0) keep = p;
    else if (p != keep) sbx_shim_kill(p);
  }
  if (keep < 0 || keep == recorded) return keep;
  /* record it, with what it was started from (the intent written before the spawn) */
  sbx_error_t err = {0};
  pthread_mutex_lock(&d->objects_lock);
  _cleanup_json_ json_object *obj = NULL;
  if (sbx_store_get(d->store, "Sandbox", ns, name, owner, &obj, NULL, &err) == 0) {
    json_object *sx = sbx_internal(obj);
    json_object_object_add(sx, "shimPid", json_object_new_int(keep));
    const char *starting = sbx_json_str(sx, "startingHash");
    if (starting) json_object_object_add(sx, "runningHash", json_object_new_string(starting));
    if (sbx_store_update(d->store, "Sandbox", ns, name, owner, obj, &err) < 0)
      sbx_log(SBX_LOG_INFO, "record the shim of %s: %s", name, err.msg);
  }
  pthread_mutex_unlock(&d->objects_lock);
  json_object_object_add(x, "shimPid", json_object_new_int(keep));
  sbx_log(SBX_LOG_INFO, "adopted the shim %d of %s/%s, started before a crash", (int)keep, ns, name);
  return keep;
}

void sbx_run_recover(struct sbx_daemon *d) {
  sbx_error_t err = {0};
  _cleanup_json_ json_object *all = NULL;
  if (sbx_store_list(d->store, "Sandbox", NULL, SBX_OWNER_ANY, &all, &err) < 0) {
    sbx_log(SBX_LOG_ERROR, "cannot list sandboxes: %s", err.msg);
    return;
  }
  _cleanup_json_ json_object *live = json_object_new_object();
  for (size_t i = 0; i < json_object_array_length(all); i++) {
    json_object *o = json_object_array_get_idx(all, i), *x;
    if (json_object_object_get_ex(o, SBX_INTERNAL, &x) && sbx_json_str(x, "id"))
      json_object_object_add(live, sbx_json_str(x, "id"), NULL);
  }
  _cleanup_json_ json_object *shims = sbx_shims_running();
  sbx_pool_reclaim_stale(d, live, shims);
  for (size_t i = 0; i < json_object_array_length(all); i++) {
    json_object *o = json_object_array_get_idx(all, i), *meta, *ann, *x;
    if (!json_object_object_get_ex(o, "metadata", &meta) || !json_object_object_get_ex(o, SBX_INTERNAL, &x)) continue;
    const char *name = sbx_json_str(meta, "name"), *ns = sbx_json_str(meta, "namespace");
    uid_t owner = 0;
    if (json_object_object_get_ex(meta, "annotations", &ann) && sbx_json_str(ann, SBX_ANN_OWNER))
      owner = (uid_t)strtoul(sbx_json_str(ann, SBX_ANN_OWNER), NULL, 10);
    const char *id = sbx_json_str(x, "id") ?: "";
    pid_t shim = adopt_shim(d, shims, x, id, ns, name, owner);
    if (shim > 0 && sbx_supervisor_watch(d, shim, ns, name, owner, &err) == 0) continue;
    /* no shim: a run has ended (or never started); a pod is started again by the reconciler */
    if (!is_pod(o) || sbx_json_int(x, "shimPid", -1) > 0) sbx_run_finished(d, ns, name, owner);
  }
}
