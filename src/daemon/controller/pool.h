/* pool.h: the warm pool of spare sandboxes (see pool.c). */
#ifndef SBX_POOL_H
#define SBX_POOL_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

struct sbx_daemon;

struct sbx_spare_info {
  char id[40];
  uint32_t slot;
  char state_dir[4096];
  pid_t pid;
  int ctl; /* control socket: the claim is sent here */
  uid_t owner; /* the person whose cgroup group it waits in (SBX_POOL_NOBODY: the pool's own) */
};

#define SBX_POOL_NOBODY ((uid_t)-1)

/* Start spares until the pool holds its size (--warm-pool). Never fails loudly: a pool
 * that cannot be filled only makes starts slower. */
void sbx_pool_fill(struct sbx_daemon *d);
/* Take a spare for `owner`: 1 (and *out) or 0 when the pool is empty. One waiting in the
 * owner's own cgroup group is preferred; any other is moved there by its shim at the claim
 * (one cgroup migration). The refill then prepares the next spare in the owner's group. */
int sbx_pool_take(struct sbx_daemon *d, uid_t owner, struct sbx_spare_info *out);
/* Return an unused spare (the claim was refused before anything was sent). */
void sbx_pool_give_back(struct sbx_daemon *d, const struct sbx_spare_info *s);
/* At start: release what no sandbox record owns: the ids of state directories and of id
 * slots (a spare of a stopped daemon leaves only its slot) that are not keys of live_ids,
 * with their shims (in `shims`, sbx_shims_running's map), cgroups, mounts and state. */
void sbx_pool_reclaim_stale(struct sbx_daemon *d, json_object *live_ids, json_object *shims);

#endif
