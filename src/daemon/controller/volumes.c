/* volumes.c: a sandbox's volumes on the host, PersistentVolumeClaims, and the values of
 * Secrets and ConfigMaps (volumes.h has the layout and the contracts).
 *
 * Design:
 * - PVCs are stored objects (kind PersistentVolumeClaim, keyed by owner like everything
 *   else) whose internal "x-sbx" says where the image and the mount are and whether the
 *   image was formatted. The object is stored first (formatted false), then the image is
 *   made, then the object says formatted true: a crash in between leaves a claim whose
 *   image is simply made again, and a formatted claim whose image has vanished is an error,
 *   never silently replaced by an empty one. Removal goes the other way (the object goes
 *   last). One mutex serialises every PVC change in this daemon.
 * - <root>/volumes/<owner> belongs to the owner, who may therefore rename or replace
 *   anything inside it. Below it every directory is walked one component at a time with
 *   O_NOFOLLOW|O_DIRECTORY and mounts are made and unmade through those fds, so a symlink
 *   planted by the owner can never redirect a mount or an unmount.
 * - A path is never used again once checked: every volume is handed on as a descriptor
 *   (a PVC's or a bounded emptyDir's from the mount itself, the others from the safe walk),
 *   and the pod spec passes those descriptors to the shim. docs/security.md.
 * - State-dir volumes (emptyDir, secret, configMap) live in <state>/volumes/<name>, which
 *   only root can reach; their files are owned by the owner, the lead idmaps them to the
 *   container user.
 * - hostPath: the requested path must lie, by whole components and without "..", under a
 *   directory given with --allow-host-path; it is then opened beneath that directory with
 *   openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): users may own directories in there
 *   and swap their entries, so no symlink is followed at all.
 * - Secrets of other users are looked up with the owner's uid only: they answer exactly
 *   like missing ones. */
#include "daemon/controller/quota.h"
#include "daemon/controller/volumes.h"
#include "daemon/log.h"
#include "daemon/store/objects.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/names.h"
#include "lib/quantity.h"
#include "lib/timefmt.h"
#include "lib/wire.h"
#include "runtime/capfs.h"
#include "daemon/controller/disk.h"

#define PVC_KIND "PersistentVolumeClaim"
#define DEFAULT_MEMORY_EMPTYDIR (64LL << 20)

static pthread_mutex_t pvc_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---------------------------------------------------------------------------------------
 * pure parts */

int sbx_host_path_rule_parse(const char *arg, struct sbx_host_path_rule *rule, sbx_error_t *err) {
  size_t n = strlen(arg);
  bool rw = false;
  if (n > 3 && strcmp(arg + n - 3, ":rw") == 0) {
    rw = true;
    n -= 3;
  } else if (n > 3 && strcmp(arg + n - 3, ":ro") == 0) {
    n -= 3;
  }
  if (n == 0 || arg[0] != '/') return sbx_error_says(err, EINVAL, "must be an absolute directory, optionally with :rw");
  if (n >= PATH_MAX) return sbx_error_says(err, EINVAL, "path too long");
  rule->dir = strndup(arg, n);
  if (!rule->dir) return sbx_error_set(err, ENOMEM, "out of memory");
  rule->rw = rw;
  return 0;
}

/* "/a//b/" -> "/a/b"; -1 for a relative path or a "." / ".." component */
static int normalize_abs(const char *path, char *out, size_t size) {
  if (!path || path[0] != '/') return -1;
  size_t o = 0;
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    const char *e = strchrnul(p, '/');
    size_t len = (size_t)(e - p);
    if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) return -1;
    if (o + 1 + len + 1 > size) return -1;
    out[o++] = '/';
    memcpy(out + o, p, len);
    o += len;
    p = e;
  }
  if (o == 0) out[o++] = '/';
  out[o] = '\0';
  return 0;
}

int sbx_host_path_match(const struct sbx_host_path_rule *rules, size_t n, const char *path) {
  char norm[PATH_MAX], dir[PATH_MAX];
  if (normalize_abs(path, norm, sizeof norm) < 0) return -2;
  int best = -1;
  size_t best_len = 0;
  for (size_t i = 0; i < n; i++) {
    if (normalize_abs(rules[i].dir, dir, sizeof dir) < 0) continue;
    size_t len = strlen(dir);
    bool under = strcmp(dir, "/") == 0 ||
                 (strncmp(norm, dir, len) == 0 && (norm[len] == '\0' || norm[len] == '/'));
    if (under && (best < 0 || len > best_len)) {
      best = (int)i;
      best_len = len;
    }
  }
  return best;
}

bool sbx_volume_item_path_ok(const char *path) {
  if (!path || !*path || path[0] == '/' || strlen(path) > 4096) return false;
  for (const char *p = path;;) {
    const char *e = strchrnul(p, '/');
    size_t len = (size_t)(e - p);
    if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) return false;
    if (!*e) return true;
    p = e + 1;
  }
}

bool sbx_config_key_ok(const char *key) {
  size_t n = key ? strlen(key) : 0;
  if (n == 0 || n > 253 || strcmp(key, ".") == 0 || strcmp(key, "..") == 0) return false;
  for (size_t i = 0; i < n; i++) {
    char c = key[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.'))
      return false;
  }
  return true;
}

void sbx_bytes_quantity(int64_t bytes, char *buf, size_t size) {
  static const char *const suffix[] = {"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"};
  for (int i = 0; i < 6; i++) {
    int64_t unit = (int64_t)1 << (10 * (6 - i));
    if (bytes > 0 && bytes % unit == 0) {
      snprintf(buf, size, "%lld%s", (long long)(bytes / unit), suffix[i]);
      return;
    }
  }
  snprintf(buf, size, "%lld", (long long)bytes);
}

/* ---------------------------------------------------------------------------------------
 * directories */

/* The directory `name` inside dirfd, made (mode, uid:gid) if missing; `enforce` also sets
 * mode and owner of an existing one. Never follows a symlink. Returns an O_PATH fd. */
static int subdir(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, bool enforce, sbx_error_t *err) {
  bool made = false;
  if (mkdirat(dirfd, name, mode) == 0)
    made = true;
  else if (errno != EEXIST)
    return sbx_error_sys(err, "create directory %s", name);
  int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return sbx_error_sys(err, "open directory %s (a symlink or not a directory?)", name);
  if (made || enforce) {
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0 || chmod(self, mode) < 0) {
      sbx_error_sys(err, "set owner and mode of %s", name);
      close(fd);
      return -1;
    }
  }
  return fd;
}

/* mkdir -p of a root-only path (all components root's, `mode`) */
static int mkdirs_root(const char *path, mode_t mode, sbx_error_t *err) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return sbx_error_set(err, ENAMETOOLONG, "%s", path);
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p) continue;
    char c = *p;
    *p = '\0';
    if (mkdir(buf, mode) < 0 && errno != EEXIST) return sbx_error_sys(err, "create %s", buf);
    if (!c) break;
    *p = c;
  }
  return 0;
}

/* An O_RDONLY descriptor of the directory an (O_PATH) fd refers to: from the fd, not a path */
static int reopen_dir(int fd, const char *what, sbx_error_t *err) {
  int r = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (r < 0) sbx_error_sys(err, "open %s", what);
  return r;
}

void sbx_volumes_free(json_object *vols) {
  for (size_t i = 0; vols && i < json_object_array_length(vols); i++) {
    json_object *v = json_object_array_get_idx(vols, i);
    int fd = (int)sbx_json_int(v, "fd", -1);
    if (fd >= 0) close(fd);
  }
  json_object_put(vols);
}

/* ---------------------------------------------------------------------------------------
 * PersistentVolumeClaims */

void sbx_pvc_paths(struct sbx_daemon *d, uid_t owner, const char *ns, const char *claim, char *image, char *mount,
                   size_t size) {
  snprintf(image, size, "%s/volume-images/%u/%s/%s.img", d->root, (unsigned)owner, ns, claim);
  snprintf(mount, size, "%s/volumes/%u/%s/%s", d->root, (unsigned)owner, ns, claim);
}

/* The claim's mount point, made if `create`, as an O_PATH fd (walked without symlinks);
 * *nsfd (if not NULL) gets the namespace directory. ENOENT if absent and !create. */
static int pvc_mount_dir(struct sbx_daemon *d, uid_t owner, gid_t gid, const char *ns, const char *claim, bool create,
                         int *nsfd, sbx_error_t *err) {
  _cleanup_fd_ int root = open(d->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return sbx_error_sys(err, "open %s", d->root);
  char o[16];
  snprintf(o, sizeof o, "%u", (unsigned)owner);
  _cleanup_fd_ int vols = -1, odir = -1, nd = -1;
  if (create) {
    vols = subdir(root, "volumes", 0711, 0, 0, true, err);
    if (vols < 0) return -1;
    odir = subdir(vols, o, 0700, owner, gid, true, err);
    if (odir < 0) return -1;
    nd = subdir(odir, ns, 0755, owner, gid, false, err);
    if (nd < 0) return -1;
    int fd = subdir(nd, claim, 0755, owner, gid, false, err);
    if (fd >= 0 && nsfd) *nsfd = sbx_steal_fd(&nd);
    return fd;
  }
  const int fl = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  if ((vols = openat(root, "volumes", fl)) < 0 || (odir = openat(vols, o, fl)) < 0 || (nd = openat(odir, ns, fl)) < 0)
    return sbx_error_sys(err, "open the volume directory of %s", claim);
  int fd = openat(nd, claim, fl);
  if (fd < 0) return sbx_error_sys(err, "open the volume directory of %s", claim);
  if (nsfd) *nsfd = sbx_steal_fd(&nd);
  return fd;
}

static void add_str(json_object *o, const char *k, const char *v) { json_object_object_add(o, k, json_object_new_string(v)); }

static json_object *access_modes(void) {
  json_object *a = json_object_new_array();
  json_object_array_add(a, json_object_new_string("ReadWriteOnce"));
  return a;
}

static json_object *pvc_new_object(const char *ns, const char *claim, int64_t bytes, json_object *labels,
                                   const char *image, const char *mount) {
  char now[40], uid[40], hex[33], q[32];
  sbx_now_rfc3339(now, sizeof now);
  sbx_random_hex(hex, 16);
  snprintf(uid, sizeof uid, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
  sbx_bytes_quantity(bytes, q, sizeof q);
  json_object *o = json_object_new_object();
  add_str(o, "apiVersion", "v1");
  add_str(o, "kind", PVC_KIND);
  json_object *md = json_object_new_object();
  add_str(md, "name", claim);
  add_str(md, "namespace", ns);
  add_str(md, "creationTimestamp", now);
  add_str(md, "uid", uid);
  if (labels && json_object_is_type(labels, json_type_object)) {
    json_object *l = NULL;
    json_object_deep_copy(labels, &l, NULL);
    json_object_object_add(md, "labels", l);
  }
  json_object_object_add(o, "metadata", md);
  json_object *spec = json_object_new_object(), *res = json_object_new_object(), *req = json_object_new_object();
  json_object_object_add(spec, "accessModes", access_modes());
  add_str(req, "storage", q);
  json_object_object_add(res, "requests", req);
  json_object_object_add(spec, "resources", res);
  add_str(spec, "storageClassName", "sbx-local");
  add_str(spec, "volumeMode", "Filesystem");
  char vname[64];
  snprintf(vname, sizeof vname, "pvc-%s", uid);
  add_str(spec, "volumeName", vname);
  json_object_object_add(o, "spec", spec);
  json_object *st = json_object_new_object(), *cap = json_object_new_object();
  add_str(st, "phase", "Bound");
  json_object_object_add(st, "accessModes", access_modes());
  add_str(cap, "storage", q);
  json_object_object_add(st, "capacity", cap);
  json_object_object_add(o, "status", st);
  json_object *x = json_object_new_object();
  add_str(x, "image", image);
  add_str(x, "mount", mount);
  json_object_object_add(x, "bytes", json_object_new_int64(bytes));
  json_object_object_add(x, "formatted", json_object_new_boolean(0));
  json_object_object_add(o, SBX_INTERNAL, x);
  return o;
}

static int pvc_names_ok(const char *ns, const char *claim, sbx_error_t *err) {
  if (!ns || !sbx_is_dns_label(ns)) return sbx_error_says(err, EINVAL, "namespace must be a DNS label");
  if (!claim || !sbx_is_dns_subdomain(claim)) {
    char esc[80];
    sbx_escape_for_message(claim ? claim : "", 63, esc, sizeof esc);
    return sbx_error_says(err, EINVAL, "persistentvolumeclaim name \"%s\" is not a DNS subdomain", esc);
  }
  return 0;
}

/* A claim the disk cannot hold yet stays Pending, as a PVC waiting for its volume does,
 * with the reason as a condition (`sbx describe pvc` shows it); admitted, it is Bound. */
static void pvc_set_pending(struct sbx_daemon *d, const char *ns, const char *claim, uid_t owner, json_object *obj,
                            const char *why) {
  json_object *st = json_object_object_get(obj, "status");
  if (!st) return;
  json_object *cond = json_object_new_object(), *conds = json_object_new_array();
  char now[40];
  sbx_now_rfc3339(now, sizeof now);
  add_str(cond, "type", "Provisioned");
  add_str(cond, "status", "False");
  add_str(cond, "reason", "InsufficientStorage");
  add_str(cond, "message", why);
  add_str(cond, "lastTransitionTime", now);
  json_object_array_add(conds, cond);
  add_str(st, "phase", "Pending");
  json_object_object_del(st, "capacity");
  json_object_object_add(st, "conditions", conds);
  sbx_error_t e = {0};
  if (sbx_store_update(d->store, PVC_KIND, ns, claim, owner, obj, &e) < 0)
    sbx_log(SBX_LOG_WARN, "persistentvolumeclaim %s: %s", claim, e.msg);
}

static void pvc_set_bound(json_object *obj) {
  json_object *st = json_object_object_get(obj, "status");
  json_object *x = json_object_object_get(obj, SBX_INTERNAL);
  if (!st || !x) return;
  char q[32];
  sbx_bytes_quantity(sbx_json_int(x, "bytes", 0), q, sizeof q);
  json_object *cap = json_object_new_object();
  add_str(cap, "storage", q);
  add_str(st, "phase", "Bound");
  json_object_object_add(st, "capacity", cap);
  json_object_object_del(st, "conditions");
}

static int pvc_ensure_locked(struct sbx_daemon *d, const char *ns, const char *claim, uid_t owner, gid_t gid,
                             int64_t bytes, json_object *labels, int *dir_fd, sbx_error_t *err) {
  char image[PATH_MAX], mount[PATH_MAX];
  sbx_pvc_paths(d, owner, ns, claim, image, mount, sizeof image);
  _cleanup_json_ json_object *obj = NULL;
  if (sbx_store_get(d->store, PVC_KIND, ns, claim, owner, &obj, NULL, err) < 0) {
    if (err->errnum != ENOENT) return -1;
    if (bytes <= 0) return sbx_error_says(err, ENOENT, "persistentvolumeclaim \"%s\" not found", claim);
    if (access(image, F_OK) == 0)
      return sbx_error_says(err, EEXIST,
                           "an image for persistentvolumeclaim \"%s\" exists at %s without its object; "
                           "move it away to create the claim afresh",
                           claim, image);
    if (sbx_quota_admit(d, owner, &(struct sbx_quota){.claims = 1, .storage = bytes}, err) < 0) return -1;
    obj = pvc_new_object(ns, claim, bytes, labels, image, mount);
    if (sbx_store_create(d->store, PVC_KIND, ns, claim, owner, obj, err) < 0) return -1;
  }
  json_object *x = NULL;
  json_object_object_get_ex(obj, SBX_INTERNAL, &x);
  int64_t have = sbx_json_int(x, "bytes", 0);
  if (bytes > 0 && have != bytes) {
    char a[32], b[32];
    sbx_bytes_quantity(have, a, sizeof a);
    sbx_bytes_quantity(bytes, b, sizeof b);
    return sbx_error_says(err, EINVAL,
                         "persistentvolumeclaim \"%s\" has %s, the template asks for %s: volumeClaimTemplates are "
                         "immutable; delete the pvc to resize",
                         claim, a, b);
  }
  const char *img = sbx_json_str(x, "image") ?: image;
  snprintf(image, sizeof image, "%s", img);
  if (!sbx_json_bool(x, "formatted", 0)) {
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", image);
    *strrchr(parent, '/') = '\0';
    if (mkdirs_root(parent, 0700, err) < 0) return -1;
    unlink(image); /* a half-made image of a crash before "formatted" */
    char what[300];
    snprintf(what, sizeof what, "persistentvolumeclaim \"%s\"", claim);
    if (sbx_disk_claim_create(d, what, image, have, owner, gid, err) < 0) {
      if (err->errnum == ENOSPC) pvc_set_pending(d, ns, claim, owner, obj, err->msg);
      return err->errnum == ENOSPC ? -1 : sbx_error_prefix(err, "%s", what);
    }
    json_object_object_add(x, "formatted", json_object_new_boolean(1));
    pvc_set_bound(obj);
    if (sbx_store_update(d->store, PVC_KIND, ns, claim, owner, obj, err) < 0) return -1;
  } else if (access(image, F_OK) < 0) {
    return sbx_error_says(err, EIO,
                         "the image of persistentvolumeclaim \"%s\" (%s) is missing; delete the pvc to start afresh",
                         claim, image);
  }
  _cleanup_fd_ int mfd = pvc_mount_dir(d, owner, gid, ns, claim, true, NULL, err);
  /* the file system's root comes from the mount itself: the owner may rename or replace
   * the directories above the mount point at any moment, so its path means nothing later */
  if (mfd < 0 || sbx_capfs_mount_at(image, mfd, dir_fd, err) < 0)
    return sbx_error_prefix(err, "persistentvolumeclaim \"%s\"", claim);
  return 0;
}

int sbx_pvc_ensure(struct sbx_daemon *d, const char *ns, const char *claim, uid_t owner, gid_t owner_gid,
                   int64_t bytes, json_object *labels_or_NULL, int *dir_fd, sbx_error_t *err) {
  if (dir_fd) *dir_fd = -1;
  if (pvc_names_ok(ns, claim, err) < 0) return -1;
  pthread_mutex_lock(&pvc_lock);
  int r = pvc_ensure_locked(d, ns, claim, owner, owner_gid, bytes, labels_or_NULL, dir_fd, err);
  pthread_mutex_unlock(&pvc_lock);
  return r;
}

bool sbx_sandbox_uses_claim(json_object *sb, const char *claim) {
  const char *name = sbx_json_str(sbx_json_path(sb, "metadata"), "name");
  if (!name) return false;
  json_object *vcts = sbx_json_path(sb, "spec.volumeClaimTemplates");
  for (size_t k = 0; vcts && k < json_object_array_length(vcts); k++) {
    const char *t = sbx_json_str(sbx_json_path(json_object_array_get_idx(vcts, k), "metadata"), "name");
    size_t tl = t ? strlen(t) : 0;
    if (t && strncmp(claim, t, tl) == 0 && claim[tl] == '-' && strcmp(claim + tl + 1, name) == 0) return true;
  }
  json_object *vols = sbx_json_path(sb, "spec.podTemplate.spec.volumes");
  for (size_t k = 0; vols && k < json_object_array_length(vols); k++) {
    const char *c = sbx_json_str(sbx_json_path(json_object_array_get_idx(vols, k), "persistentVolumeClaim"), "claimName");
    if (c && strcmp(c, claim) == 0) return true;
  }
  return false;
}

/* The name of one of the owner's sandboxes in ns that uses the claim, or NULL. */
static char *pvc_user(struct sbx_daemon *d, const char *ns, const char *claim, uid_t owner, sbx_error_t *err,
                      int *failed) {
  _cleanup_json_ json_object *items = NULL;
  *failed = 0;
  if (sbx_store_list(d->store, "Sandbox", ns, owner, &items, err) < 0) {
    *failed = 1;
    return NULL;
  }
  for (size_t i = 0; i < json_object_array_length(items); i++) {
    json_object *sb = json_object_array_get_idx(items, i);
    if (sbx_sandbox_uses_claim(sb, claim)) return strdup(sbx_json_str(sbx_json_path(sb, "metadata"), "name"));
  }
  return NULL;
}

static int pvc_remove_locked(struct sbx_daemon *d, const char *ns, const char *claim, uid_t owner, sbx_error_t *err) {
  int failed;
  _cleanup_json_ json_object *obj = NULL;
  if (sbx_store_get(d->store, PVC_KIND, ns, claim, owner, &obj, NULL, err) < 0) {
    if (err->errnum == ENOENT) sbx_error_says(err, ENOENT, "persistentvolumeclaim \"%s\" not found", claim);
    return -1;
  }
  _cleanup_free_ char *user = pvc_user(d, ns, claim, owner, err, &failed);
  if (failed) return -1;
  if (user)
    return sbx_error_says(err, EBUSY, "persistentvolumeclaim \"%s\" is in use by sandbox %s; delete the sandbox first",
                         claim, user);
  json_object *x = NULL;
  json_object_object_get_ex(obj, SBX_INTERNAL, &x);
  _cleanup_fd_ int nsfd = -1;
  _cleanup_fd_ int mfd = pvc_mount_dir(d, owner, 0, ns, claim, false, &nsfd, err);
  if (mfd >= 0) {
    close(sbx_steal_fd(&mfd));
    if (sbx_umount_at(nsfd, claim, true, err) < 0) return sbx_error_prefix(err, "persistentvolumeclaim \"%s\"", claim);
    unlinkat(nsfd, claim, AT_REMOVEDIR); /* not empty: the owner put files there; theirs */
  } else if (err->errnum != ENOENT) {
    return -1;
  }
  const char *image = sbx_json_str(x, "image");
  if (image && unlink(image) < 0 && errno != ENOENT) return sbx_error_sys(err, "remove the image %s", image);
  return sbx_store_delete(d->store, PVC_KIND, ns, claim, owner, err);
}

int sbx_pvc_remove(struct sbx_daemon *d, const char *ns, const char *claim, uid_t owner, sbx_error_t *err) {
  if (pvc_names_ok(ns, claim, err) < 0) return -1;
  pthread_mutex_lock(&pvc_lock);
  int r = pvc_remove_locked(d, ns, claim, owner, err);
  pthread_mutex_unlock(&pvc_lock);
  return r;
}

int sbx_pvc_recover(struct sbx_daemon *d, sbx_error_t *err) {
  _cleanup_json_ json_object *items = NULL;
  if (sbx_store_list(d->store, PVC_KIND, NULL, SBX_OWNER_ANY, &items, err) < 0) return -1;
  int r = 0;
  for (size_t i = 0; i < json_object_array_length(items); i++) {
    json_object *o = json_object_array_get_idx(items, i), *md = sbx_json_path(o, "metadata");
    const char *ns = sbx_json_str(md, "namespace"), *name = sbx_json_str(md, "name");
    const char *own = sbx_json_str(sbx_json_path(md, "annotations"), SBX_ANN_OWNER);
    json_object *x = NULL;
    json_object_object_get_ex(o, SBX_INTERNAL, &x);
    if (!ns || !name || !own || !sbx_json_bool(x, "formatted", 0)) continue;
    uid_t owner = (uid_t)strtoul(own, NULL, 10);
    struct passwd *pw = getpwuid(owner);
    sbx_error_t e = {0};
    if (sbx_pvc_ensure(d, ns, name, owner, pw ? pw->pw_gid : (gid_t)owner, 0, NULL, NULL, &e) < 0) {
      sbx_log(SBX_LOG_ERROR, "volume %s/%s of uid %u: %s", ns, name, (unsigned)owner, e.msg);
      if (r == 0) *err = e;
      r = -1;
    }
  }
  return r;
}

/* ---------------------------------------------------------------------------------------
 * Secret and ConfigMap values */

static const char *lower_kind(const char *kind) { return strcmp(kind, "Secret") == 0 ? "secret" : "configmap"; }

static int config_get(struct sbx_daemon *d, uid_t owner, const char *ns, const char *kind, const char *name,
                      json_object **obj, sbx_error_t *err) {
  if (strcmp(kind, "Secret") != 0 && strcmp(kind, "ConfigMap") != 0)
    return sbx_error_says(err, EINVAL, "unknown kind %s", kind);
  char esc[80];
  sbx_escape_for_message(name ? name : "", 63, esc, sizeof esc);
  if (!name || !sbx_is_dns_subdomain(name) || !ns || !sbx_is_dns_label(ns))
    return sbx_error_says(err, ENOENT, "%s \"%s\" not found", lower_kind(kind), esc);
  if (sbx_store_get(d->store, kind, ns, name, owner, obj, NULL, err) < 0) {
    if (err->errnum == ENOENT) sbx_error_says(err, ENOENT, "%s \"%s\" not found", lower_kind(kind), esc);
    return -1;
  }
  return 0;
}

/* One key's decoded value: 0, 1 when the key is absent, -1 on a broken value. */
static int config_lookup(json_object *obj, const char *kind, const char *key, char **value, size_t *len,
                         sbx_error_t *err) {
  bool secret = strcmp(kind, "Secret") == 0;
  json_object *v;
  if (json_object_object_get_ex(json_object_object_get(obj, "data"), key, &v) && json_object_is_type(v, json_type_string)) {
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (!secret) {
      *value = malloc(n + 1);
      if (!*value) return sbx_error_set(err, ENOMEM, "out of memory");
      memcpy(*value, s, n);
      (*value)[n] = '\0';
      *len = n;
      return 0;
    }
    *value = (char *)sbx_base64_decode(s, n, len);
    if (!*value) return sbx_error_says(err, EINVAL, "key \"%s\" of the secret is not valid base64", key);
    return 0;
  }
  if (!secret && json_object_object_get_ex(json_object_object_get(obj, "binaryData"), key, &v) &&
      json_object_is_type(v, json_type_string)) {
    *value = (char *)sbx_base64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), len);
    if (!*value) return sbx_error_says(err, EINVAL, "binaryData key \"%s\" is not valid base64", key);
    return 0;
  }
  return 1;
}

int sbx_config_value(struct sbx_daemon *d, uid_t owner, const char *ns, const char *kind, const char *name,
                     const char *key, char **value, size_t *len, sbx_error_t *err) {
  _cleanup_json_ json_object *obj = NULL;
  *value = NULL;
  *len = 0;
  if (config_get(d, owner, ns, kind, name, &obj, err) < 0) return -1;
  int r = config_lookup(obj, kind, key ? key : "", value, len, err);
  if (r == 1) {
    char esc[80];
    sbx_escape_for_message(key ? key : "", 63, esc, sizeof esc);
    return sbx_error_says(err, ENOENT, "key \"%s\" not found in %s \"%s\"", esc, lower_kind(kind), name);
  }
  return r;
}

int sbx_config_data(struct sbx_daemon *d, uid_t owner, const char *ns, const char *kind, const char *name,
                    json_object **data_decoded, sbx_error_t *err) {
  _cleanup_json_ json_object *obj = NULL;
  *data_decoded = NULL;
  if (config_get(d, owner, ns, kind, name, &obj, err) < 0) return -1;
  _cleanup_json_ json_object *out = json_object_new_object();
  const char *fields[] = {"data", "binaryData"};
  for (int f = 0; f < 2; f++) {
    json_object *m = json_object_object_get(obj, fields[f]);
    if (!m || !json_object_is_type(m, json_type_object)) continue;
    json_object_object_foreach(m, k, v) {
      (void)v;
      _cleanup_free_ char *val = NULL;
      size_t len;
      int r = config_lookup(obj, kind, k, &val, &len, err);
      if (r < 0) return -1;
      if (r == 0) json_object_object_add(out, k, json_object_new_string_len(val, (int)len));
    }
  }
  *data_decoded = sbx_steal_ptr(&out);
  return 0;
}

/* ---------------------------------------------------------------------------------------
 * a sandbox's volumes */

struct prep {
  struct sbx_daemon *d;
  json_object *sandbox;
  const char *ns, *name, *state_dir;
  uid_t owner;
  gid_t gid;
  json_object *out;
};

/* One volume, its descriptor `fd` (taken over: closed by sbx_volumes_free) */
static void out_add(struct prep *p, const char *name, const char *kind, const char *path, bool ro, bool idmap, int fd) {
  json_object *o = json_object_new_object();
  add_str(o, "name", name);
  add_str(o, "kind", kind);
  add_str(o, "path", path);
  json_object_object_add(o, "fd", json_object_new_int(fd));
  json_object_object_add(o, "readOnly", json_object_new_boolean(ro));
  json_object_object_add(o, "idmap", json_object_new_boolean(idmap));
  json_object_array_add(p->out, o);
}

static void out_add_claim(struct prep *p, const char *name, const char *claim, bool ro, int fd) {
  char image[PATH_MAX], mount[PATH_MAX];
  sbx_pvc_paths(p->d, p->owner, p->ns, claim, image, mount, sizeof image);
  out_add(p, name, "persistentVolumeClaim", mount, ro, true, fd);
}

static bool out_has(struct prep *p, const char *name) {
  for (size_t i = 0; i < json_object_array_length(p->out); i++)
    if (strcmp(sbx_json_str(json_object_array_get_idx(p->out, i), "name") ?: "", name) == 0) return true;
  return false;
}

static bool owner_is_admin(struct sbx_daemon *d, uid_t owner, gid_t gid) {
  if (owner == 0) return true;
  if (d->admin_gid == (gid_t)-1) return false;
  if (gid == d->admin_gid) return true;
  struct passwd pw, *res = NULL;
  char buf[4096];
  if (getpwuid_r(owner, &pw, buf, sizeof buf, &res) != 0 || !res) return false;
  gid_t groups[256];
  int n = 256;
  if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0) return false;
  for (int i = 0; i < n; i++)
    if (groups[i] == d->admin_gid) return true;
  return false;
}

/* <state>/volumes/<name> as an O_PATH fd, made (0700, owned by the owner) if missing */
static int state_volume_dir(struct prep *p, const char *name, char *path, size_t size, sbx_error_t *err) {
  _cleanup_fd_ int st = open(p->state_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (st < 0) return sbx_error_sys(err, "open %s", p->state_dir);
  _cleanup_fd_ int vols = subdir(st, "volumes", 0700, 0, 0, false, err);
  if (vols < 0) return -1;
  snprintf(path, size, "%s/volumes/%s", p->state_dir, name);
  return subdir(vols, name, 0700, p->owner, p->gid, false, err);
}

static int64_t pod_sum(json_object *sandbox, const char *resource) {
  json_object *cs = sbx_json_path(sandbox, "spec.podTemplate.spec.containers");
  int64_t sum = 0;
  for (size_t i = 0; cs && i < json_object_array_length(cs); i++) {
    const char *q = sbx_json_str(sbx_json_path(json_object_array_get_idx(cs, i), "resources.limits"), resource);
    int64_t b;
    sbx_error_t e;
    if (!q || sbx_quantity_bytes(q, &b, &e) < 0) return 0; /* a container without a limit: none for the pod */
    if (sum > INT64_MAX - b) return 0;
    sum += b;
  }
  return sum;
}

static int prep_empty_dir(struct prep *p, const char *name, json_object *src, sbx_error_t *err) {
  const char *medium = sbx_json_str(src, "medium") ?: "";
  const char *limit = sbx_json_str(src, "sizeLimit");
  int64_t bytes = 0;
  if (limit && sbx_quantity_bytes(limit, &bytes, err) < 0) return sbx_error_prefix(err, "volume %s: sizeLimit", name);
  if (medium[0] && strcmp(medium, "Memory") != 0)
    return sbx_error_says(err, EINVAL, "volume %s: emptyDir medium \"%s\" is not supported (\"\" or Memory)", name, medium);
  char path[PATH_MAX], image[PATH_MAX];
  snprintf(path, sizeof path, "%s/volumes/%s", p->state_dir, name);
  snprintf(image, sizeof image, "%s/volume-images/%s.img", p->state_dir, name);
  bool memory = strcmp(medium, "Memory") == 0;
  if (!memory && bytes <= 0) bytes = pod_sum(p->sandbox, "ephemeral-storage");
  int64_t want = bytes < SBX_CAPFS_MIN_BYTES ? SBX_CAPFS_MIN_BYTES : (bytes + 4095) & ~(int64_t)4095;
  struct stat st;
  if (!memory && stat(image, &st) == 0 && (bytes <= 0 || st.st_size != want)) {
    /* the size changed with the template: scratch space starts afresh */
    if (sbx_umount(path, true, err) < 0) return sbx_error_prefix(err, "volume %s", name);
    unlink(image);
  }
  _cleanup_fd_ int fd = state_volume_dir(p, name, path, sizeof path, err);
  if (fd < 0) return sbx_error_prefix(err, "volume %s", name);
  int root = -1;
  if (memory) {
    if (bytes <= 0) {
      int64_t mem = pod_sum(p->sandbox, "memory");
      bytes = mem > 0 ? mem / 2 : DEFAULT_MEMORY_EMPTYDIR;
    }
    if (sbx_tmpfs_mount_at(fd, bytes, 0700, p->owner, p->gid, &root, err) < 0)
      return sbx_error_prefix(err, "volume %s: tmpfs", name);
  } else if (bytes > 0) {
    char idir[PATH_MAX];
    snprintf(idir, sizeof idir, "%s/volume-images", p->state_dir);
    if (mkdir(idir, 0700) < 0 && errno != EEXIST) return sbx_error_sys(err, "create %s", idir);
    char what[300];
    snprintf(what, sizeof what, "emptyDir %s of sandbox \"%s\"", name, p->name);
    if (access(image, F_OK) < 0 && sbx_disk_claim_create(p->d, what, image, bytes, p->owner, p->gid, err) < 0)
      return err->errnum == ENOSPC ? -1 : sbx_error_prefix(err, "volume %s", name);
    if (sbx_capfs_mount_at(image, fd, &root, err) < 0) return sbx_error_prefix(err, "volume %s", name);
  } else if ((root = reopen_dir(fd, path, err)) < 0) {
    return sbx_error_prefix(err, "volume %s", name);
  }
  out_add(p, name, "emptyDir", path, false, true, root);
  return 0;
}

static int mode_of(json_object *o, const char *key, int dflt, const char *vol, sbx_error_t *err) {
  json_object *m;
  if (!json_object_object_get_ex(o, key, &m)) return dflt;
  int64_t v = json_object_get_int64(m);
  if (!json_object_is_type(m, json_type_int) || v < 0 || v > 0777)
    return sbx_error_says(err, EINVAL, "volume %s: %s must be a file mode from 0 to 0777 (511)", vol, key);
  return (int)v;
}

/* Write one file at rel (parents made 0755) inside dirfd. */
static int write_item(struct prep *p, int dirfd, const char *rel, const char *data, size_t len, int mode,
                      sbx_error_t *err) {
  char buf[4097];
  snprintf(buf, sizeof buf, "%s", rel);
  _cleanup_fd_ int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0) return sbx_error_sys(err, "dup");
  char *part = buf;
  for (char *slash; (slash = strchr(part, '/')); part = slash + 1) {
    *slash = '\0';
    int next = subdir(cur, part, 0755, p->owner, p->gid, false, err);
    if (next < 0) return -1;
    close(cur);
    cur = next;
  }
  _cleanup_fd_ int fd = openat(cur, part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return sbx_error_sys(err, "create %s", rel);
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sbx_error_sys(err, "write %s", rel);
    off += (size_t)n;
  }
  if (fchown(fd, p->owner, p->gid) < 0 || fchmod(fd, (mode_t)mode) < 0) return sbx_error_sys(err, "set mode of %s", rel);
  return 0;
}

/* secret / configMap volume: the files written afresh on every start */
static int prep_config(struct prep *p, const char *vname, const char *kind, json_object *src, sbx_error_t *err) {
  const char *objname = sbx_json_str(src, strcmp(kind, "Secret") == 0 ? "secretName" : "name");
  bool optional = sbx_json_bool(src, "optional", 0);
  int defmode = mode_of(src, "defaultMode", 0644, vname, err);
  if (defmode < 0) return -1;
  _cleanup_json_ json_object *obj = NULL;
  if (config_get(p->d, p->owner, p->ns, kind, objname, &obj, err) < 0) {
    if (!(optional && err->errnum == ENOENT)) return sbx_error_prefix(err, "volume %s", vname);
    obj = NULL;
  }
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/volumes/%s", p->state_dir, vname);
  if (sbx_umount(path, true, err) < 0) return sbx_error_prefix(err, "volume %s", vname);
  if (sbx_remove_tree(path) < 0 && errno != ENOENT) return sbx_error_sys(err, "volume %s: clear %s", vname, path);
  _cleanup_fd_ int dir = state_volume_dir(p, vname, path, sizeof path, err);
  if (dir < 0) return sbx_error_prefix(err, "volume %s", vname);
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", dir);
  _cleanup_fd_ int wdir = open(self, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (wdir < 0 || chmod(self, 0755) < 0) return sbx_error_sys(err, "volume %s: open %s", vname, path);
  json_object *items = json_object_object_get(src, "items");
  if (obj && items && json_object_array_length(items) > 0) {
    for (size_t i = 0; i < json_object_array_length(items); i++) {
      json_object *it = json_object_array_get_idx(items, i);
      const char *key = sbx_json_str(it, "key"), *rel = sbx_json_str(it, "path");
      if (!key || !rel || !sbx_volume_item_path_ok(rel))
        return sbx_error_says(err, EINVAL, "volume %s: items[%zu]: path must be relative, without \"..\"", vname, i);
      int mode = mode_of(it, "mode", defmode, vname, err);
      if (mode < 0) return -1;
      _cleanup_free_ char *val = NULL;
      size_t len = 0;
      int r = config_lookup(obj, kind, key, &val, &len, err);
      if (r < 0) return sbx_error_prefix(err, "volume %s", vname);
      if (r == 1) {
        if (optional) continue;
        return sbx_error_says(err, ENOENT, "volume %s: key \"%s\" not found in %s \"%s\"", vname, key, lower_kind(kind),
                             objname);
      }
      if (write_item(p, wdir, rel, val, len, mode, err) < 0) return sbx_error_prefix(err, "volume %s", vname);
    }
  } else if (obj) {
    _cleanup_json_ json_object *all = NULL;
    if (sbx_config_data(p->d, p->owner, p->ns, kind, objname, &all, err) < 0) return sbx_error_prefix(err, "volume %s", vname);
    json_object_object_foreach(all, k, v) {
      if (!sbx_config_key_ok(k)) return sbx_error_says(err, EINVAL, "volume %s: key \"%s\" cannot be a file name", vname, k);
      if (write_item(p, wdir, k, json_object_get_string(v), (size_t)json_object_get_string_len(v), defmode, err) < 0)
        return sbx_error_prefix(err, "volume %s", vname);
    }
  }
  out_add(p, vname, strcmp(kind, "Secret") == 0 ? "secret" : "configMap", path, true, true, sbx_steal_fd(&wdir));
  return 0;
}

/* The --allow-host-path rule under which `path` lies (its index), or -1 with err (errnum
 * `errnum`) naming the path and the directories the administrator allows: that list is no
 * secret from local users (it is on sbxd's command line), and it says what to ask for. */
static int host_path_rule(struct sbx_daemon *d, const char *name, const char *path, int errnum, sbx_error_t *err) {
  char esc[200];
  sbx_escape_for_message(path, 120, esc, sizeof esc);
  int k = sbx_host_path_match(d->host_paths, d->nhost_paths, path);
  if (k >= 0) return k;
  char allowed[1024] = "";
  size_t o = 0;
  for (size_t i = 0; i < d->nhost_paths && o < sizeof allowed - 1; i++)
    o += (size_t)snprintf(allowed + o, sizeof allowed - o, "%s%s", i ? ", " : "", d->host_paths[i].dir);
  if (k == -2)
    return sbx_error_says(err, errnum, "volume %s: hostPath %s is not allowed: it must be absolute, without . or ..",
                          name, esc);
  return sbx_error_says(err, errnum, "volume %s: hostPath %s is not allowed: the administrator allows %s", name, esc,
                        d->nhost_paths ? allowed : "no host paths (sbxd --allow-host-path DIR)");
}

/* Calls fn for each hostPath volume of a stored Sandbox's pod template; stops at -1. */
static int each_host_path(json_object *sandbox, int (*fn)(const char *name, const char *path, void *arg), void *arg) {
  json_object *vols = sbx_json_path(sandbox, "spec.podTemplate.spec.volumes");
  for (size_t i = 0; vols && json_object_is_type(vols, json_type_array) && i < json_object_array_length(vols); i++) {
    json_object *v = json_object_array_get_idx(vols, i), *src;
    if (json_object_object_get_ex(v, "hostPath", &src) &&
        fn(sbx_json_str(v, "name") ?: "", sbx_json_str(src, "path") ?: "", arg) < 0)
      return -1;
  }
  return 0;
}

/* Why a hostPath under `rule` is mounted read-only for this owner whatever the manifest
 * says, or NULL if it may be writable (root and the admin group, under a :rw rule). */
static const char *read_only_why(struct sbx_daemon *d, const struct sbx_host_path_rule *rule, uid_t owner, gid_t gid) {
  if (!rule->rw) return "read-only: the administrator shares it read-only";
  return owner_is_admin(d, owner, gid) ? NULL : "read-only for non-admins";
}

struct host_path_check {
  struct sbx_daemon *d;
  uid_t owner;
  gid_t gid;
  sbx_error_t *err;
  json_object *read_only; /* volume name -> why it is read-only */
};

static int admit_one(const char *name, const char *path, void *arg) {
  struct host_path_check *c = arg;
  return host_path_rule(c->d, name, path, EACCES, c->err) < 0 ? -1 : 0;
}

int sbx_host_paths_admit(struct sbx_daemon *d, json_object *sandbox, sbx_error_t *err) {
  struct host_path_check c = {.d = d, .err = err};
  return each_host_path(sandbox, admit_one, &c);
}

static int read_only_one(const char *name, const char *path, void *arg) {
  struct host_path_check *c = arg;
  sbx_error_t err = {0};
  int k = host_path_rule(c->d, name, path, EINVAL, &err);
  if (k < 0) return 0;
  const char *why = read_only_why(c->d, &c->d->host_paths[k], c->owner, c->gid);
  if (why) json_object_object_add(c->read_only, name, json_object_new_string(why));
  return 0;
}

void sbx_host_paths_status(struct sbx_daemon *d, json_object *sandbox, json_object *status) {
  json_object *x = sbx_internal(sandbox);
  struct host_path_check c = {.d = d, .owner = sbx_object_owner(sandbox),
                              .gid = (gid_t)sbx_json_int(x, "ownerGid", sbx_object_owner(sandbox)),
                              .read_only = json_object_new_object()};
  each_host_path(sandbox, read_only_one, &c);
  if (json_object_object_length(c.read_only) > 0 && status)
    json_object_object_add(status, "readOnlyVolumes", c.read_only);
  else
    json_object_put(c.read_only);
}

static int prep_host_path(struct prep *p, const char *name, json_object *src, sbx_error_t *err) {
  const char *path = sbx_json_str(src, "path"), *type = sbx_json_str(src, "type") ?: "";
  if (!path) return sbx_error_says(err, EINVAL, "volume %s: hostPath needs a path", name);
  if (type[0] && strcmp(type, "Directory") != 0)
    return sbx_error_says(err, EINVAL, "volume %s: hostPath type %s is not supported: only an existing Directory", name,
                         type);
  char esc[200];
  sbx_escape_for_message(path, 120, esc, sizeof esc);
  int k = host_path_rule(p->d, name, path, EINVAL, err);
  if (k < 0) return -1;
  const struct sbx_host_path_rule *rule = &p->d->host_paths[k];
  char norm[PATH_MAX];
  normalize_abs(path, norm, sizeof norm);
  const char *rel = norm + (strcmp(rule->dir, "/") == 0 ? 0 : strlen(rule->dir));
  while (*rel == '/') rel++;
  /* The allowed directory is canonical (sbxd resolved it at start), so no symlink may be
   * on its way now; below it, users may own directories and swap their entries at will:
   * the path is resolved once, beneath it, following no symlink, with the owner's own
   * rights (what they cannot reach on the host they cannot mount), and the descriptor
   * (never the path again) is what reaches the shim. */
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                         .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  _cleanup_fd_ int root = (int)syscall(SYS_openat2, AT_FDCWD, rule->dir, &how, sizeof how);
  if (root < 0) return sbx_error_sys(err, "volume %s: open the allowed directory %s", name, rule->dir);
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = sbx_openat2_as_user(root, *rel ? rel : ".", &how, p->owner, p->gid);
  if (fd < 0) {
    if (errno == EACCES)
      return sbx_error_says(err, EACCES, "volume %s: hostPath %s: permission denied (you cannot open it yourself)",
                           name, esc);
    if (errno == ELOOP)
      return sbx_error_says(err, EINVAL,
                           "volume %s: hostPath %s is not allowed: a symlink is on its way; name the real directory",
                           name, esc);
    return sbx_error_sys(err, "volume %s: hostPath %s", name, esc);
  }
  bool ro = read_only_why(p->d, rule, p->owner, p->gid) != NULL;
  out_add(p, name, "hostPath", norm, ro, false, fd);
  return 0;
}

static int prep_claim(struct prep *p, const char *name, json_object *src, sbx_error_t *err) {
  const char *claim = sbx_json_str(src, "claimName");
  if (!claim) return sbx_error_says(err, EINVAL, "volume %s: persistentVolumeClaim needs a claimName", name);
  int fd;
  if (sbx_pvc_ensure(p->d, p->ns, claim, p->owner, p->gid, 0, NULL, &fd, err) < 0)
    return sbx_error_prefix(err, "volume %s", name);
  out_add_claim(p, name, claim, sbx_json_bool(src, "readOnly", 0), fd);
  return 0;
}

static int prepare(struct prep *p, sbx_error_t *err) {
  json_object *vcts = sbx_json_path(p->sandbox, "spec.volumeClaimTemplates");
  for (size_t i = 0; vcts && i < json_object_array_length(vcts); i++) {
    json_object *t = json_object_array_get_idx(vcts, i);
    const char *tname = sbx_json_str(sbx_json_path(t, "metadata"), "name");
    const char *q = sbx_json_str(sbx_json_path(t, "spec.resources.requests"), "storage");
    if (!tname || !sbx_is_dns_label(tname))
      return sbx_error_says(err, EINVAL, "volumeClaimTemplates[%zu]: metadata.name must be a DNS label", i);
    if (!q) return sbx_error_says(err, EINVAL, "volumeClaimTemplates[%zu]: spec.resources.requests.storage is required", i);
    int64_t bytes;
    if (sbx_quantity_bytes(q, &bytes, err) < 0) return sbx_error_prefix(err, "volumeClaimTemplates[%zu]", i);
    if (out_has(p, tname)) return sbx_error_says(err, EINVAL, "volumeClaimTemplates: %s appears twice", tname);
    char claim[300];
    snprintf(claim, sizeof claim, "%s-%s", tname, p->name);
    int fd;
    if (sbx_pvc_ensure(p->d, p->ns, claim, p->owner, p->gid, bytes, sbx_json_path(t, "metadata.labels"), &fd, err) < 0)
      return -1;
    out_add_claim(p, tname, claim, false, fd);
  }
  json_object *vols = sbx_json_path(p->sandbox, "spec.podTemplate.spec.volumes");
  for (size_t i = 0; vols && i < json_object_array_length(vols); i++) {
    json_object *v = json_object_array_get_idx(vols, i), *src;
    const char *name = sbx_json_str(v, "name");
    if (!name || !sbx_is_dns_label(name))
      return sbx_error_says(err, EINVAL, "spec.podTemplate.spec.volumes[%zu].name must be a DNS label", i);
    if (out_has(p, name)) {
      /* a volume named like a claim template: fine only if it is that claim */
      char claim[300];
      snprintf(claim, sizeof claim, "%s-%s", name, p->name);
      const char *c = sbx_json_str(sbx_json_path(v, "persistentVolumeClaim"), "claimName");
      if (c && strcmp(c, claim) == 0) continue;
      return sbx_error_says(err, EINVAL, "volume name %s is used twice (a volumeClaimTemplate has it too)", name);
    }
    if (json_object_object_get_ex(v, "persistentVolumeClaim", &src)) {
      if (prep_claim(p, name, src, err) < 0) return -1;
    } else if (json_object_object_get_ex(v, "emptyDir", &src)) {
      if (prep_empty_dir(p, name, src, err) < 0) return -1;
    } else if (json_object_object_get_ex(v, "secret", &src)) {
      if (prep_config(p, name, "Secret", src, err) < 0) return -1;
    } else if (json_object_object_get_ex(v, "configMap", &src)) {
      if (prep_config(p, name, "ConfigMap", src, err) < 0) return -1;
    } else if (json_object_object_get_ex(v, "hostPath", &src)) {
      if (prep_host_path(p, name, src, err) < 0) return -1;
    } else {
      return sbx_error_says(err, EINVAL,
                           "volume %s: not supported (emptyDir, secret, configMap, persistentVolumeClaim, hostPath)",
                           name);
    }
  }
  return 0;
}

int sbx_volumes_prepare(struct sbx_daemon *d, json_object *sandbox, uid_t owner, gid_t owner_gid,
                        const char *state_dir, json_object **out, sbx_error_t *err) {
  *out = NULL;
  json_object *md = sbx_json_path(sandbox, "metadata");
  struct prep p = {.d = d, .sandbox = sandbox, .ns = sbx_json_str(md, "namespace") ?: "default",
                   .name = sbx_json_str(md, "name"), .state_dir = state_dir, .owner = owner, .gid = owner_gid,
                   .out = json_object_new_array()};
  if (!p.name || !sbx_is_dns_label(p.name) || !sbx_is_dns_label(p.ns)) {
    json_object_put(p.out);
    return sbx_error_says(err, EINVAL, "the sandbox needs a name and namespace that are DNS labels");
  }
  if (prepare(&p, err) < 0) {
    sbx_volumes_free(p.out);
    return -1;
  }
  *out = p.out;
  return 0;
}

/* mountinfo escapes ' ', '\t', '\n', '\\' as \ooo */
static void unescape_octal(char *s) {
  char *o = s;
  for (char *i = s; *i;) {
    if (i[0] == '\\' && i[1] >= '0' && i[1] <= '7' && i[2] >= '0' && i[2] <= '7' && i[3] >= '0' && i[3] <= '7') {
      *o++ = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
      i += 4;
    } else {
      *o++ = *i++;
    }
  }
  *o = '\0';
}

static int by_length_desc(const void *a, const void *b) {
  size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
  return la < lb ? 1 : la > lb ? -1 : 0;
}

void sbx_volumes_release(struct sbx_daemon *d, const char *state_dir) {
  (void)d;
  if (!state_dir || !*state_dir) return;
  _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return;
  size_t plen = strlen(state_dir), n = 0, cap = 0;
  char **mps = NULL, *line = NULL;
  size_t lsz = 0;
  while (getline(&line, &lsz, f) > 0) {
    char *save = NULL, *tok = strtok_r(line, " ", &save);
    for (int i = 0; tok && i < 4; i++) tok = strtok_r(NULL, " ", &save);
    if (!tok) continue;
    unescape_octal(tok);
    if (strncmp(tok, state_dir, plen) != 0 || tok[plen] != '/') continue;
    if (n == cap) {
      char **nm = realloc(mps, (cap = cap ? cap * 2 : 8) * sizeof *nm);
      if (!nm) break;
      mps = nm;
    }
    if (!(mps[n] = strdup(tok))) break;
    n++;
  }
  free(line);
  if (n) qsort(mps, n, sizeof *mps, by_length_desc);
  for (size_t i = 0; i < n; i++) {
    sbx_error_t e = {0};
    if (sbx_umount(mps[i], true, &e) < 0) sbx_log(SBX_LOG_WARN, "release %s: %s", mps[i], e.msg);
    free(mps[i]);
  }
  free(mps);
}

/* Is the directory fd empty? -1 with err if it cannot be read. */
static int dir_empty(int fd, const char *dir, sbx_error_t *err) {
  int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dp = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (!dp) {
    if (dfd >= 0) close(dfd);
    return sbx_error_sys(err, "read %s", dir);
  }
  bool empty = true;
  for (struct dirent *de; (de = readdir(dp));)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) empty = false;
  closedir(dp);
  return empty;
}

int sbx_ephemeral_prepare(struct sbx_daemon *d, const char *sandbox, const char *state_dir, int64_t bytes,
                          sbx_error_t *err) {
  /* a limit is a claim (ephemeral.img, admitted and reserved); none: the default cap
   * (layer.img, sparse, promised to nobody; disk.h) */
  bool cap = bytes <= 0;
  if (cap) bytes = d->default_ephemeral_bytes;
  char dir[PATH_MAX], image[PATH_MAX], other[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/containers", state_dir);
  snprintf(image, sizeof image, "%s/%s", state_dir, cap ? "layer.img" : "ephemeral.img");
  snprintf(other, sizeof other, "%s/%s", state_dir, cap ? "ephemeral.img" : "layer.img");
  /* no bound wanted (any more): layers already on an image stay there */
  if (bytes <= 0 && access(image, F_OK) < 0 && access(other, F_OK) < 0) return 0;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) return sbx_error_sys(err, "create %s", dir);
  _cleanup_fd_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return sbx_error_sys(err, "open %s", dir);
  int m = sbx_is_mount_root_at(fd, err);
  if (m != 0) return m < 0 ? -1 : 0;
  if (access(image, F_OK) < 0 && access(other, F_OK) == 0) {
    snprintf(image, sizeof image, "%s", other); /* the layers stay on the file system they are on */
  } else if (access(image, F_OK) < 0) {
    /* first bounded start: the writable layers must not exist yet, or they would vanish
     * under the new file system */
    int empty = dir_empty(fd, dir, err);
    if (empty < 0) return -1;
    if (!empty && cap) {
      sbx_log(SBX_LOG_WARN, "sandbox %s: its writable layers predate --default-ephemeral-storage and stay unbounded",
              sandbox);
      return 0;
    }
    if (!empty)
      return sbx_error_says(err, EINVAL,
                           "an ephemeral-storage limit cannot be added to a sandbox whose writable layers already "
                           "exist; delete and re-create the sandbox");
    char what[300];
    snprintf(what, sizeof what, "the ephemeral-storage of sandbox \"%s\"", sandbox);
    if (cap ? sbx_capfs_create(image, bytes, false, 0, 0, err) : sbx_disk_claim_create(d, what, image, bytes, 0, 0, err))
      return err->errnum == ENOSPC ? -1 : sbx_error_prefix(err, "ephemeral storage");
  }
  if (sbx_capfs_mount_at(image, fd, NULL, err) < 0) return sbx_error_prefix(err, "ephemeral storage");
  return 0;
}
