/* podspec.c: from a stored Sandbox to the pod spec its shim runs (docs/protocol.md).
 *
 * The stored object says what the user asked for, in Kubernetes' words; the pod spec says
 * what the shim must do, with everything resolved: command and args merged, environment
 * values looked up in the owner's Secrets and ConfigMaps, field references filled in, user
 * and groups decided, the capability set computed, the resources summed into the pod's
 * cgroup limits, and every image and volume opened as a descriptor (fd 7 and up in the
 * shim). A reference that cannot be resolved (a missing secret or key) fails the build
 * with a message that names it; the reconciler shows it as DependenciesNotReady. */
#include "daemon/controller/podspec.h"
#include "daemon/controller/quota.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/controller/volumes.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/quantity.h"
#include "lib/rootfs.h"
#include "lib/wire.h"
#include "runtime/caps.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A stored quantity (always a string: lib/convert.c turns `cpu: 2` into "2"; validated on
 * the way in), in millicores or bytes; 0 when absent. */
static int64_t quantity_of(json_object *res, const char *which, const char *key, bool cpu) {
  const char *q = sbx_json_str(sbx_json_path(res, which), key);
  int64_t v = 0;
  sbx_error_t err;
  if (!q || (cpu ? sbx_quantity_cpu_millis(q, &v, &err) : sbx_quantity_bytes(q, &v, &err)) < 0) return 0;
  return v;
}

/* One container's requests and limits; a limit without a request requests the limit. */
static void container_resources(json_object *c, struct sbx_pod_resources *r) {
  json_object *res = sbx_json_path(c, "resources");
  memset(r, 0, sizeof *r);
  r->cpu_limit = quantity_of(res, "limits", "cpu", true);
  r->mem_limit = quantity_of(res, "limits", "memory", false);
  r->ephemeral_limit = quantity_of(res, "limits", "ephemeral-storage", false);
  r->cpu_request = quantity_of(res, "requests", "cpu", true);
  r->mem_request = quantity_of(res, "requests", "memory", false);
  if (!r->cpu_request) r->cpu_request = r->cpu_limit;
  if (!r->mem_request) r->mem_request = r->mem_limit;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

void sbx_pod_resources(json_object *sandbox, struct sbx_pod_resources *out) {
  json_object *ps = sbx_json_path(sandbox, "spec.podTemplate.spec");
  struct sbx_pod_resources sum = {0}, init = {0}, c;
  bool all_cpu = true, all_mem = true;
  size_t n = sbx_json_len(ps, "containers");
  for (size_t i = 0; i < n; i++) {
    container_resources(sbx_json_at(ps, "containers", i), &c);
    sum.cpu_request += c.cpu_request;
    sum.mem_request += c.mem_request;
    sum.cpu_limit += c.cpu_limit;
    sum.mem_limit += c.mem_limit;
    sum.ephemeral_limit += c.ephemeral_limit;
    all_cpu = all_cpu && c.cpu_limit > 0;
    all_mem = all_mem && c.mem_limit > 0;
  }
  /* Kubernetes' rule: init containers run one at a time, so the pod needs the larger of
   * their largest request and the containers' sum */
  for (size_t i = 0; i < sbx_json_len(ps, "initContainers"); i++) {
    container_resources(sbx_json_at(ps, "initContainers", i), &c);
    init.cpu_request = max64(init.cpu_request, c.cpu_request);
    init.mem_request = max64(init.mem_request, c.mem_request);
    init.cpu_limit = max64(init.cpu_limit, c.cpu_limit);
    init.mem_limit = max64(init.mem_limit, c.mem_limit);
    init.ephemeral_limit = max64(init.ephemeral_limit, c.ephemeral_limit);
  }
  out->cpu_request = max64(sum.cpu_request, init.cpu_request);
  out->mem_request = max64(sum.mem_request, init.mem_request);
  /* a pod-wide cap only when every container has one (else one is unbounded) */
  out->cpu_limit = all_cpu && n ? max64(sum.cpu_limit, init.cpu_limit) : 0;
  out->mem_limit = all_mem && n ? max64(sum.mem_limit, init.mem_limit) : 0;
  out->ephemeral_limit = max64(sum.ephemeral_limit, init.ephemeral_limit);
}

static void env_set(json_object *env, const char *name, const char *value) {
  /* later definitions win, as in Kubernetes: replace an earlier NAME= */
  size_t nl = strlen(name);
  for (size_t i = 0; i < json_object_array_length(env); i++) {
    const char *e = json_object_get_string(json_object_array_get_idx(env, i));
    if (strncmp(e, name, nl) == 0 && e[nl] == '=') {
      json_object_array_del_idx(env, i, 1);
      break;
    }
  }
  size_t len = nl + strlen(value) + 2;
  char *kv = malloc(len);
  if (!kv) return;
  snprintf(kv, len, "%s=%s", name, value);
  json_object_array_add(env, json_object_new_string(kv));
  free(kv);
}

static int resolve_ref(const struct sbx_podspec_ctx *x, json_object *ref, const char *kind, char **value,
                       sbx_error_t *err) {
  const char *name = sbx_json_str(ref, "name"), *key = sbx_json_str(ref, "key");
  size_t len;
  if (sbx_config_value(x->d, x->owner, x->ns, kind, name ? name : "", key ? key : "", value, &len, err) < 0) {
    if (err->errnum == ENOENT && sbx_json_bool(ref, "optional", 0)) {
      *value = NULL;
      return 0;
    }
    return -1;
  }
  if (memchr(*value, '\0', len)) {
    free(*value);
    return sbx_error_says(err, EINVAL, "%s \"%s\" key \"%s\" holds a NUL byte and cannot be an environment value",
                         kind, name, key);
  }
  return 0;
}

static int build_env(const struct sbx_podspec_ctx *x, json_object *c, const char *path, uid_t uid,
                     json_object **out, sbx_error_t *err) {
  json_object *env = json_object_new_array();
  env_set(env, "PATH", DEFAULT_PATH);
  env_set(env, "HOSTNAME", x->hostname);
  env_set(env, "HOME", uid == 0 ? "/root" : "/");
  for (size_t i = 0; i < sbx_json_len(c, "envFrom"); i++) {
    json_object *ef = sbx_json_at(c, "envFrom", i), *ref;
    const char *kind = "Secret";
    if (!(ref = sbx_json_path(ef, "secretRef"))) {
      ref = sbx_json_path(ef, "configMapRef");
      kind = "ConfigMap";
    }
    _cleanup_json_ json_object *data = NULL;
    if (sbx_config_data(x->d, x->owner, x->ns, kind, sbx_json_str(ref, "name") ?: "", &data, err) < 0) {
      if (err->errnum == ENOENT && sbx_json_bool(ref, "optional", 0)) continue;
      json_object_put(env);
      return sbx_error_prefix(err, "%s.envFrom[%zu]", path, i);
    }
    const char *prefix = sbx_json_str(ef, "prefix") ?: "";
    json_object_object_foreach(data, k, v) {
      char name[512];
      snprintf(name, sizeof name, "%s%s", prefix, k);
      env_set(env, name, json_object_get_string(v));
    }
  }
  for (size_t i = 0; i < sbx_json_len(c, "env"); i++) {
    json_object *e = sbx_json_at(c, "env", i), *vf = sbx_json_path(e, "valueFrom"), *ref;
    const char *name = sbx_json_str(e, "name");
    if (!name) continue;
    if (!vf) {
      env_set(env, name, sbx_json_str(e, "value") ?: "");
      continue;
    }
    if ((ref = sbx_json_path(vf, "fieldRef"))) {
      const char *fp = sbx_json_str(ref, "fieldPath") ?: "";
      env_set(env, name, strcmp(fp, "metadata.namespace") == 0 ? x->ns : x->name);
      continue;
    }
    const char *kind = (ref = sbx_json_path(vf, "secretKeyRef")) ? "Secret" : "ConfigMap";
    if (!ref) ref = sbx_json_path(vf, "configMapKeyRef");
    char *value = NULL;
    if (resolve_ref(x, ref, kind, &value, err) < 0) {
      json_object_put(env);
      return sbx_error_prefix(err, "%s.env[%zu] (%s)", path, i, name);
    }
    if (value) env_set(env, name, value);
    free(value);
  }
  *out = env;
  return 0;
}

static int64_t sc_int(json_object *csc, json_object *psc, const char *key, int64_t dflt) {
  long long v = sbx_json_int(csc, key, -1);
  if (v < 0) v = sbx_json_int(psc, key, -1);
  return v < 0 ? dflt : v;
}

static json_object *capability_names(json_object *csc) {
  uint64_t mask = sbx_caps_default_mask();
  json_object *caps = sbx_json_path(csc, "capabilities");
  for (size_t i = 0; i < sbx_json_len(caps, "drop"); i++) {
    const char *n = json_object_get_string(sbx_json_at(caps, "drop", i));
    int cap = sbx_caps_from_name(n);
    if (strcasecmp(n, "ALL") == 0) mask = 0;
    else if (cap >= 0) mask &= ~(1ull << cap);
  }
  for (size_t i = 0; i < sbx_json_len(caps, "add"); i++) {
    int cap = sbx_caps_from_name(json_object_get_string(sbx_json_at(caps, "add", i)));
    if (cap >= 0 && (sbx_caps_default_mask() & (1ull << cap))) mask |= 1ull << cap; /* only the safe set */
  }
  json_object *out = json_object_new_array();
  for (int cap = 0; cap < 64; cap++)
    if (mask & (1ull << cap)) {
      char n[64];
      snprintf(n, sizeof n, "CAP_%s", sbx_caps_name(cap));
      json_object_array_add(out, json_object_new_string(n));
    }
  return out;
}

static int add_fd(struct sbx_podspec *ps, int fd, sbx_error_t *err) {
  if (ps->nfds >= SBX_PODSPEC_MAX_FDS) {
    close(fd);
    return sbx_error_says(err, E2BIG, "too many images and volumes: at most %d", SBX_PODSPEC_MAX_FDS);
  }
  ps->fds[ps->nfds] = fd;
  return 7 + (int)ps->nfds++;
}

/* the image as a descriptor: "host" is sbxd's host image, "rootfs:DIR" a directory only
 * root may name here (the owner's own directories are opened by the client for `run`) */
static int image_fd(const struct sbx_podspec_ctx *x, const char *image, bool *host, sbx_error_t *err) {
  *host = strcmp(image, "host") == 0;
  const char *dir = *host ? x->d->host_image : NULL;
  if (!*host) {
    if (strncmp(image, "rootfs:", 7) != 0 || image[7] != '/')
      return sbx_error_says(err, EINVAL, "image \"%s\" is not `host` or `rootfs:/ABSOLUTE/DIR`", image);
    dir = image + 7;
  }
  if (*host) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? sbx_error_sys(err, "open the image %s", dir) : fd;
  }
  /* a user's rootfs lies in directories they own and may swap: resolved once, with the
   * owner's own rights, under the rule `sbx run` follows too (lib/rootfs.h), and handed on
   * as this descriptor */
  struct open_how how = sbx_rootfs_open_how();
  _cleanup_fd_ int fd = sbx_openat2_as_user(AT_FDCWD, dir, &how, x->owner, x->owner_gid);
  if (fd < 0) return sbx_rootfs_open_failed(errno, dir, err);
  if (sbx_rootfs_check(fd, dir, x->owner, err) < 0) return -1;
  return sbx_steal_fd(&fd);
}

static int build_container(const struct sbx_podspec_ctx *x, struct sbx_podspec *ps, json_object *pod,
                           json_object *c, const char *path, json_object **out, sbx_error_t *err) {
  json_object *csc = sbx_json_path(c, "securityContext"), *psc = sbx_json_path(pod, "securityContext");
  const char *name = sbx_json_str(c, "name") ?: "main";
  int64_t uid = sc_int(csc, psc, "runAsUser", 0), gid = sc_int(csc, psc, "runAsGroup", 0);
  bool nonroot = sbx_json_bool(csc, "runAsNonRoot", sbx_json_bool(psc, "runAsNonRoot", 0));
  if (nonroot && uid == 0)
    return sbx_error_says(err, EINVAL, "%s: runAsNonRoot is set but the container would run as root (uid 0); set runAsUser",
                         path);
  _cleanup_json_ json_object *cmd = json_object_new_array();
  for (size_t i = 0; i < sbx_json_len(c, "command"); i++)
    json_object_array_add(cmd, json_object_get(sbx_json_at(c, "command", i)));
  if (json_object_array_length(cmd) == 0)
    return sbx_error_says(err, EINVAL, "%s: the image has no default command; set command", path);
  for (size_t i = 0; i < sbx_json_len(c, "args"); i++)
    json_object_array_add(cmd, json_object_get(sbx_json_at(c, "args", i)));

  bool host;
  const char *image = sbx_json_str(c, "image") ?: "";
  int ifd = image_fd(x, image, &host, err);
  if (ifd < 0) return sbx_error_prefix(err, "%s", path);
  int slot = add_fd(ps, ifd, err);
  if (slot < 0) return -1;

  json_object *o = json_object_new_object();
  json_object *img = json_object_new_object();
  json_object_object_add(img, "type", json_object_new_string(host ? "host" : "dir"));
  json_object_object_add(img, "fd", json_object_new_int(slot));
  json_object_object_add(o, "name", json_object_new_string(name));
  json_object_object_add(o, "image", img);
  json_object_object_add(o, "imageOwnerMap", json_object_new_boolean(!host && x->owner != 0));
  json_object_object_add(o, "command", json_object_get(cmd));
  json_object *env = NULL;
  if (build_env(x, c, path, (uid_t)uid, &env, err) < 0) {
    json_object_put(o);
    return -1;
  }
  json_object_object_add(o, "env", env);
  json_object_object_add(o, "workingDir", json_object_new_string(sbx_json_str(c, "workingDir") ?: "/"));
  json_object_object_add(o, "uid", json_object_new_int64(uid));
  json_object_object_add(o, "gid", json_object_new_int64(gid));
  json_object *groups = json_object_new_array();
  for (size_t i = 0; i < sbx_json_len(psc, "supplementalGroups"); i++)
    json_object_array_add(groups, json_object_new_int64(json_object_get_int64(sbx_json_at(psc, "supplementalGroups", i))));
  long long fsgroup = sbx_json_int(psc, "fsGroup", -1);
  if (fsgroup >= 0) json_object_array_add(groups, json_object_new_int64(fsgroup));
  json_object_object_add(o, "supplementalGroups", groups);
  json_object_object_add(o, "readOnlyRootFilesystem", json_object_new_boolean(sbx_json_bool(csc, "readOnlyRootFilesystem", 0)));
  json_object_object_add(o, "noNewPrivileges", json_object_new_boolean(1));
  json_object_object_add(o, "capabilities", capability_names(csc));
  json_object *mounts = json_object_new_array();
  for (size_t i = 0; i < sbx_json_len(c, "volumeMounts"); i++) {
    json_object *vm = sbx_json_at(c, "volumeMounts", i), *m = json_object_new_object();
    json_object_object_add(m, "volume", json_object_new_string(sbx_json_str(vm, "name") ?: ""));
    json_object_object_add(m, "mountPath", json_object_new_string(sbx_json_str(vm, "mountPath") ?: ""));
    json_object_object_add(m, "subPath", json_object_new_string(sbx_json_str(vm, "subPath") ?: ""));
    json_object_object_add(m, "readOnly", json_object_new_boolean(sbx_json_bool(vm, "readOnly", 0)));
    json_object_array_add(mounts, m);
  }
  json_object_object_add(o, "mounts", mounts);
  struct sbx_pod_resources r;
  container_resources(c, &r);
  json_object_object_add(o, "ephemeralBytes", json_object_new_int64(r.ephemeral_limit));
  json_object_object_add(o, "tty", json_object_new_boolean(0));
  json_object_object_add(o, "stdin", json_object_new_boolean(0));
  *out = o;
  return 0;
}

static int build_containers(const struct sbx_podspec_ctx *x, struct sbx_podspec *ps, json_object *pod,
                            const char *key, sbx_error_t *err) {
  json_object *arr = json_object_new_array();
  json_object_object_add(ps->spec, key, arr);
  for (size_t i = 0; i < sbx_json_len(pod, key); i++) {
    char path[96];
    snprintf(path, sizeof path, "spec.podTemplate.spec.%s[%zu]", key, i);
    json_object *c = NULL;
    if (build_container(x, ps, pod, sbx_json_at(pod, key, i), path, &c, err) < 0) return -1;
    json_object_array_add(arr, c);
  }
  return 0;
}

void sbx_podspec_release(struct sbx_podspec *ps) {
  sbx_wire_close_fds(ps->fds, ps->nfds);
  ps->nfds = 0;
  json_object_put(ps->spec);
  ps->spec = NULL;
}

int sbx_podspec_build(const struct sbx_podspec_ctx *x, json_object *sandbox, struct sbx_podspec *ps,
                      sbx_error_t *err) {
  memset(ps, 0, sizeof *ps);
  json_object *pod = sbx_json_path(sandbox, "spec.podTemplate.spec");
  ps->spec = json_object_new_object();
  json_object *s = ps->spec;
  struct sbx_pod_resources r;
  sbx_pod_resources(sandbox, &r);
  json_object_object_add(s, "mode", json_object_new_string("pod"));
  json_object_object_add(s, "id", json_object_new_string(x->id));
  json_object_object_add(s, "name", json_object_new_string(x->name));
  json_object_object_add(s, "namespace", json_object_new_string(x->ns));
  json_object_object_add(s, "hostname", json_object_new_string(x->hostname));
  json_object_object_add(s, "stateDir", json_object_new_string(x->state_dir));
  json_object_object_add(s, "hostIdBase", json_object_new_int64(x->host_id_base));
  json_object_object_add(s, "idCount", json_object_new_int64(x->id_count));
  json_object_object_add(s, "ownerUid", json_object_new_int64(x->owner));
  json_object_object_add(s, "ownerGid", json_object_new_int64(x->owner_gid));
  long long fsgroup = sbx_json_int(sbx_json_path(pod, "securityContext"), "fsGroup", -1);
  if (fsgroup >= 0) json_object_object_add(s, "fsGroup", json_object_new_int64(fsgroup));
  json_object *lim = json_object_new_object();
  json_object_object_add(lim, "cpuRequestMilli", json_object_new_int64(r.cpu_request));
  json_object_object_add(lim, "cpuLimitMilli", json_object_new_int64(sbx_policy_cpu_limit(x->d, r.cpu_limit)));
  json_object_object_add(lim, "memoryLimit", json_object_new_int64(r.mem_limit ? r.mem_limit : x->d->policy.default_memory));
  json_object_object_add(lim, "pids", json_object_new_int64(x->d->policy.default_pids));
  json_object_object_add(s, "limits", lim);
  sbx_policy_place(x->d, x->owner, s);
  json_object_object_add(s, "restartPolicy", json_object_new_string(sbx_json_str(pod, "restartPolicy") ?: "Always"));
  /* the shim caps and rotates each container's log (--log-max-size, --log-max-files) */
  json_object_object_add(s, "logMaxBytes", json_object_new_int64(x->d->log_max_bytes));
  json_object_object_add(s, "logMaxFiles", json_object_new_int(x->d->log_max_files));
  json_object_object_add(s, "terminationGracePeriodSeconds",
                         json_object_new_int64(sbx_json_int(pod, "terminationGracePeriodSeconds", 30)));

  /* volumes: made to exist on the host and opened by volumes.c */
  json_object *vols = json_object_new_array();
  json_object_object_add(s, "volumes", vols);
  for (size_t i = 0; i < json_object_array_length(x->volumes); i++) {
    json_object *v = json_object_array_get_idx(x->volumes, i);
    /* the descriptor volumes.c held from its safe walk: a path checked there is never
     * opened again here (its owner may have swapped a directory on it meanwhile) */
    int held = (int)sbx_json_int(v, "fd", -1);
    int fd = held >= 0 ? fcntl(held, F_DUPFD_CLOEXEC, 3) : -1;
    if (fd < 0) {
      sbx_error_sys(err, "volume %s: no descriptor", sbx_json_str(v, "name") ?: "?");
      goto fail;
    }
    int slot = add_fd(ps, fd, err);
    if (slot < 0) goto fail;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(sbx_json_str(v, "name") ?: ""));
    json_object_object_add(o, "fd", json_object_new_int(slot));
    json_object_object_add(o, "readOnly", json_object_new_boolean(sbx_json_bool(v, "readOnly", 0)));
    json_object_object_add(o, "idmap", json_object_new_boolean(sbx_json_bool(v, "idmap", 1)));
    json_object_array_add(vols, o);
  }
  if (build_containers(x, ps, pod, "initContainers", err) < 0 || build_containers(x, ps, pod, "containers", err) < 0)
    goto fail;
  return 0;
fail:
  sbx_podspec_release(ps);
  return -1;
}
