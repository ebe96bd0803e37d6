/* pool.c: the warm pool of spare sandboxes.
 *
 * On cgroup v1 the slowest step of starting a sandbox is joining its cgroup: the kernel
 * waits for an RCU grace period (about 15 ms on our machines), longer than everything else
 * together. So the daemon keeps a few spares: shims that have already cloned their
 * sandbox's namespaces, written its id map and joined it to a cgroup, and now wait on a
 * control socket. `sbx run` claims one (it gets the spare's id, id range and state
 * directory) and sends it the spec and descriptors; the spare applies the limits, builds
 * the root file system and execs. A spare holds no user data and no user configuration
 * until it is claimed. The pool is refilled after each claim, outside the request's path.
 * If the daemon dies, every spare sees its control socket close and removes itself (its
 * state directory); a new daemon releases the id slots of spares nobody claimed, found by
 * the slots' holders, and kills a spare still on its way out (sbx_pool_reclaim_stale).
 *
 * Each spare waits in a person's cgroup group (<top>/user-<uid>, quota.c): the group of the
 * last person who claimed one (at start, a group of the pool's own, <top>/pool). A claim
 * takes a spare of the claimer's group when there is one; otherwise the spare's shim moves
 * its waiting process to the claimer's group first, which is one cgroup migration (on v1
 * an RCU grace period: the cost the pool exists to avoid, paid on a person's first run
 * after someone else's). A spare's one waiting process counts toward its group's pids.
 *
 * This is the runtime's version of agent-sandbox's SandboxWarmPool. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/controller/pool.h"
#include "daemon/controller/controller.h"
#include "daemon/controller/quota.h"
#include "daemon/controller/volumes.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/names.h"
#include "lib/wire.h"
#include "runtime/cgroup.h"

struct sbx_spare {
  struct sbx_spare_info info;
  struct sbx_spare *next;
};

static void discard(struct sbx_daemon *d, struct sbx_spare_info *s) {
  sbx_error_t err;
  if (s->ctl >= 0) close(s->ctl); /* the spare sees the end of its control socket and leaves */
  s->ctl = -1;
  if (s->pid > 0)
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) {
    }
  sbx_remove_tree(s->state_dir);
  sbx_store_idslot_release(d->store, s->id, &err);
}

static int spawn_one(struct sbx_daemon *d, uid_t owner, sbx_error_t *err) {
  struct sbx_spare *sp = calloc(1, sizeof *sp);
  if (!sp) return sbx_error_set(err, ENOMEM, "pool");
  struct sbx_spare_info *s = &sp->info;
  s->ctl = -1;
  s->owner = owner;
  sbx_random_hex(s->id, 8);
  snprintf(s->state_dir, sizeof s->state_dir, "%s/sandboxes/%s", d->root, s->id);
  if (sbx_store_idslot_alloc(d->store, s->id, SBX_ID_SLOTS, &s->slot, err) < 0) {
    free(sp);
    return -1;
  }
  if (mkdir(s->state_dir, 0700) < 0) {
    sbx_error_sys(err, "create %s", s->state_dir);
    goto fail;
  }
  json_object *spec = json_object_new_object();
  json_object_object_add(spec, "spare", json_object_new_boolean(1));
  json_object_object_add(spec, "id", json_object_new_string(s->id));
  json_object_object_add(spec, "stateDir", json_object_new_string(s->state_dir));
  json_object_object_add(spec, "hostIdBase", json_object_new_int64(SBX_ID_BASE + (int64_t)s->slot * SBX_ID_SLOT_SIZE));
  json_object_object_add(spec, "idCount", json_object_new_int64(SBX_ID_SLOT_SIZE));
  sbx_policy_place(d, owner, spec);
  json_object_object_add(spec, "removeOnExit", json_object_new_boolean(1));
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    json_object_put(spec);
    sbx_error_sys(err, "socketpair");
    goto fail;
  }
  int rc = sbx_shim_spawn(d, spec, sv[1], NULL, 0, &s->pid, err);
  json_object_put(spec);
  close(sv[1]);
  if (rc < 0) {
    close(sv[0]);
    goto fail;
  }
  s->ctl = sv[0];
  pthread_mutex_lock(&d->lock);
  sp->next = d->spares;
  d->spares = sp;
  d->nspares++;
  pthread_mutex_unlock(&d->lock);
  return 0;
fail:
  discard(d, s);
  free(sp);
  return -1;
}

void sbx_pool_fill(struct sbx_daemon *d) {
  for (;;) {
    pthread_mutex_lock(&d->lock);
    bool full = d->nspares + d->spares_starting >= d->pool_size;
    if (!full) d->spares_starting++;
    uid_t owner = d->pool_owner;
    pthread_mutex_unlock(&d->lock);
    if (full) return;
    sbx_error_t err = {0};
    int r = spawn_one(d, owner, &err);
    pthread_mutex_lock(&d->lock);
    d->spares_starting--;
    pthread_mutex_unlock(&d->lock);
    if (r < 0) {
      sbx_log(SBX_LOG_WARN, "warm pool: %s", err.msg);
      return;
    }
  }
}

int sbx_pool_take(struct sbx_daemon *d, uid_t owner, struct sbx_spare_info *out) {
  for (;;) {
    pthread_mutex_lock(&d->lock);
    d->pool_owner = owner;
    struct sbx_spare **pick = &d->spares;
    for (struct sbx_spare **p = &d->spares; *p; p = &(*p)->next)
      if ((*p)->info.owner == owner) {
        pick = p;
        break;
      }
    struct sbx_spare *sp = *pick;
    if (sp) {
      *pick = sp->next;
      d->nspares--;
    }
    pthread_mutex_unlock(&d->lock);
    if (!sp) return 0;
    *out = sp->info;
    free(sp);
    /* a spare that died while waiting (killed by hand, out of memory) is cleaned up here */
    if (waitpid(out->pid, NULL, WNOHANG) == 0) return 1;
    out->pid = -1;
    discard(d, out);
  }
}

void sbx_pool_give_back(struct sbx_daemon *d, const struct sbx_spare_info *s) {
  struct sbx_spare *sp = calloc(1, sizeof *sp);
  if (!sp) {
    struct sbx_spare_info copy = *s;
    discard(d, &copy);
    return;
  }
  sp->info = *s;
  pthread_mutex_lock(&d->lock);
  sp->next = d->spares;
  d->spares = sp;
  d->nspares++;
  pthread_mutex_unlock(&d->lock);
}

/* Everything of an id no record owns: its shims (a spare of a previous daemon, or a shim
 * started just before a crash), its cgroup, its mounts and state directory, its id slot. */
static void reclaim_one(struct sbx_daemon *d, const char *id, json_object *shims) {
  sbx_error_t err = {0};
  json_object *pids = NULL;
  size_t n = json_object_object_get_ex(shims, id, &pids) ? json_object_array_length(pids) : 0;
  for (size_t i = 0; i < n; i++)
    sbx_shim_kill(json_object_get_int(json_object_array_get_idx(pids, i)));
  if (sbx_cgroup_remove_leftover_any("/proc/self/mountinfo", "/sys/fs/cgroup", d->policy.cgroup_parent, id, &err) < 0)
    sbx_log(SBX_LOG_WARN, "remove the cgroup of %s: %s", id, err.msg);
  char path[4200];
  snprintf(path, sizeof path, "%s/sandboxes/%s", d->root, id);
  sbx_volumes_release(d, path);
  sbx_remove_tree(path);
  if (sbx_store_idslot_release(d->store, id, &err) < 0 && err.errnum != ENOENT)
    sbx_log(SBX_LOG_WARN, "release the id range of %s: %s", id, err.msg);
}

void sbx_pool_reclaim_stale(struct sbx_daemon *d, json_object *live_ids, json_object *shims) {
  /* the ids to look at: every state directory, and every id slot (a spare removes its own
   * directory when the daemon goes, so its slot is the only trace it leaves) */
  _cleanup_json_ json_object *ids = NULL;
  sbx_error_t err = {0};
  if (sbx_store_idslot_holders(d->store, &ids, &err) < 0) {
    sbx_log(SBX_LOG_WARN, "%s", err.msg);
    ids = json_object_new_array();
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/sandboxes", d->root);
  DIR *dir = opendir(path);
  for (struct dirent *e; dir && (e = readdir(dir));)
    if (e->d_name[0] != '.') json_object_array_add(ids, json_object_new_string(e->d_name));
  if (dir) closedir(dir);
  _cleanup_json_ json_object *done = json_object_new_object();
  for (size_t i = 0; i < json_object_array_length(ids); i++) {
    const char *id = json_object_get_string(json_object_array_get_idx(ids, i));
    if (json_object_object_get_ex(live_ids, id, NULL) || json_object_object_get_ex(done, id, NULL)) continue;
    json_object_object_add(done, id, NULL);
    reclaim_one(d, id, shims);
  }
}
