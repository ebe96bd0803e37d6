/* api.h: the API room, the daemon's front doors: the socket and its two protocols
 * (server.c), who the caller is (caller.c), and the HTTP routes (api.c). The API calls
 * the controller and the store; nothing below calls it. */
#ifndef SBX_API_H
#define SBX_API_H

#include "daemon/daemon.h"

/* caller.c: who is on the other end of a unix socket */
int sbx_caller_from_socket(struct sbx_daemon *d, int fd, struct sbx_caller *c, sbx_error_t *err);

/* server.c */
int sbx_server_listen(struct sbx_daemon *d, sbx_error_t *err);
int sbx_server_start_http(struct sbx_daemon *d, sbx_error_t *err);
void sbx_server_accept_loop(struct sbx_daemon *d);

/* api.c: libmicrohttpd access handler */
int sbx_api_handler(void *cls, void *connection, const char *url, const char *method, const char *version,
                    const char *upload_data, size_t *upload_data_size, void **con_cls);
void sbx_api_request_done(void *cls, void *connection, void **con_cls, int toe);

#endif
