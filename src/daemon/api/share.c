/* share.c: what one uid may hold of sbxd at once (api.h, "shares").
 *
 * Every connection, every descriptor received and not yet handled, and every byte of a
 * request being read or parsed is counted against the uid that sent it (SO_PEERCRED). A
 * user who floods the socket runs out of their own share and is refused, while everyone
 * else is served: nothing they do can take the daemon's descriptors, threads or memory
 * from the others. The limits are in api.h and docs/security.md. */
#include <pthread.h>
#include <stdlib.h>

#include "daemon/api/api.h"

struct share {
  uid_t uid;
  int conns, fds;
  size_t bytes;
  struct share *next;
};
static struct share *shares;
static pthread_mutex_t shares_lock = PTHREAD_MUTEX_INITIALIZER;

static struct share *find(uid_t uid, bool create) {
  struct share *s = shares;
  while (s && s->uid != uid) s = s->next;
  if (!s && create && (s = calloc(1, sizeof *s))) {
    s->uid = uid;
    s->next = shares;
    shares = s;
  }
  return s;
}

bool sbx_share_take(const struct sbx_daemon *d, uid_t uid, int conns, int fds, size_t bytes) {
  pthread_mutex_lock(&shares_lock);
  struct share *s = find(uid, true);
  bool ok = s && s->conns + conns <= d->max_conns_per_user && s->fds + fds <= SBX_SHARE_FDS &&
            bytes <= SBX_SHARE_BYTES - s->bytes;
  if (ok) {
    s->conns += conns;
    s->fds += fds;
    s->bytes += bytes;
  }
  pthread_mutex_unlock(&shares_lock);
  return ok;
}

void sbx_share_give(uid_t uid, int conns, int fds, size_t bytes) {
  pthread_mutex_lock(&shares_lock);
  struct share *s = find(uid, false);
  if (s) {
    s->conns -= conns;
    s->fds -= fds;
    s->bytes -= bytes;
  }
  pthread_mutex_unlock(&shares_lock);
}

bool sbx_share_reserve(void *ctx, size_t bytes, size_t fds) {
  struct sbx_held *h = ctx;
  if (!sbx_share_take(h->d, h->uid, 0, (int)fds, bytes)) return false;
  h->bytes += bytes;
  h->fds += (int)fds;
  return true;
}

void sbx_share_release(struct sbx_held *h) {
  sbx_share_give(h->uid, 0, h->fds, h->bytes);
  h->bytes = 0;
  h->fds = 0;
}
