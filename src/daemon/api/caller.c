/* caller.c: who is on the other end of the daemon's socket: the uid, gid and pid from
 * SO_PEERCRED, and whether that caller is an administrator (root, or in the admin group by
 * primary group or SO_PEERGROUPS). Every request of either protocol is attributed this way. */
#include <errno.h>
#include <sys/socket.h>

#include "daemon/api/api.h"

int sbx_caller_from_socket(struct sbx_daemon *d, int fd, struct sbx_caller *c, sbx_error_t *err) {
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) return sbx_error_sys(err, "SO_PEERCRED");
  c->uid = cr.uid;
  c->gid = cr.gid;
  c->pid = cr.pid;
  c->admin = cr.uid == 0;
  if (!c->admin && d->admin_gid != (gid_t)-1) {
    gid_t groups[256];
    socklen_t glen = sizeof groups;
    if (cr.gid == d->admin_gid) c->admin = true;
    else if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
      for (size_t i = 0; i < glen / sizeof(gid_t); i++)
        if (groups[i] == d->admin_gid) c->admin = true;
  }
  return 0;
}
