/* api.h: the API room, the daemon's front doors: the socket and its two protocols
 * (server.c), who the caller is (caller.c), and the HTTP routes (api.c). The API calls
 * the controller and the store; nothing below calls it. */
#ifndef SBX_API_H
#define SBX_API_H

#include "daemon/daemon.h"

/* caller.c: who is on the other end of a unix socket */
int sbx_caller_from_socket(struct sbx_daemon *d, int fd, struct sbx_caller *c, sbx_error_t *err);

/* share.c: what one uid may hold at once. Connections: --max-connections-per-user
 * (default SBX_SHARE_CONNS), HTTP ones until they close; descriptors received with stream
 * requests and not yet handled; bytes of requests being read or parsed (the text, then
 * sbx_json_parse_cost). take: all or nothing, false when over the share. */
#define SBX_SHARE_CONNS 64
#define SBX_SHARE_FDS 128
#define SBX_SHARE_BYTES (32u << 20)
bool sbx_share_take(const struct sbx_daemon *d, uid_t uid, int conns, int fds, size_t bytes);
void sbx_share_give(uid_t uid, int conns, int fds, size_t bytes);
/* What one request holds of its uid's share; sbx_share_reserve is a sbx_wire_bounds
 * reserve callback (ctx: the struct sbx_held), release gives it all back. */
struct sbx_held {
  const struct sbx_daemon *d;
  uid_t uid;
  int fds;
  size_t bytes;
};
bool sbx_share_reserve(void *ctx, size_t bytes, size_t fds);
void sbx_share_release(struct sbx_held *h);

/* server.c */
int sbx_server_listen(struct sbx_daemon *d, sbx_error_t *err);
int sbx_server_start_http(struct sbx_daemon *d, sbx_error_t *err);
void sbx_server_accept_loop(struct sbx_daemon *d);
/* Raise RLIMIT_NOFILE's soft limit to the hard one (every user's share of descriptors must
 * fit); prints what it got. */
void sbx_server_raise_nofile(void);

/* api.c: libmicrohttpd access handler */
int sbx_api_handler(void *cls, void *connection, const char *url, const char *method, const char *version,
                    const char *upload_data, size_t *upload_data_size, void **con_cls);
void sbx_api_request_done(void *cls, void *connection, void **con_cls, int toe);

#endif
