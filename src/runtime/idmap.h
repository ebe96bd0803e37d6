/* idmap.h: user-namespace id maps.
 *
 * Every sandbox maps its ids 0..count-1 onto a host range of its own (base..base+count-1)
 * from a pool no host account uses. Idmapped mounts need user namespaces too: one whose
 * map says how on-disk ids show up inside. sbx_userns_make() creates such a namespace
 * (held by a short-lived child, which is reaped before returning) and returns its fd. */
#ifndef SBX_IDMAP_H
#define SBX_IDMAP_H

#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

struct sbx_idmap_line {
  uint32_t inside, outside, count;
};

/* Write uid_map and gid_map of process `pid` (setgroups stays allowed: we are privileged). */
int sbx_idmap_write(pid_t pid, const struct sbx_idmap_line *uids, size_t nuids,
                    const struct sbx_idmap_line *gids, size_t ngids, sbx_error_t *err);

/* A user namespace with the given maps, as an fd (close-on-exec). */
int sbx_userns_make(const struct sbx_idmap_line *uids, size_t nuids,
                    const struct sbx_idmap_line *gids, size_t ngids, sbx_error_t *err);

/* Can host id `id` (as uid and gid, no groups) search every directory above `dir` ("/"
 * down to dir's parent)? The kernel checks those as the sandbox's ids when the overlay is
 * mounted, and only says "Permission denied". 0, or -1 with err naming the first directory
 * that is not searchable, its mode and owner, and what to do. Forks a child to ask. */
int sbx_ids_can_reach(const char *dir, uint32_t id, sbx_error_t *err);

#endif
