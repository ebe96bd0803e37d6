/* peer_uid.h: which user owns the other end of a TCP connection made on this machine.
 *
 * `sbx port-forward` must serve only its own user, and a loopback peer is a socket of this
 * same kernel, so its owner is knowable: the peer's socket is the one whose local address is
 * our remote one and whose remote address is our local one. The kernel is asked for it by
 * exact 4-tuple with NETLINK_SOCK_DIAG (inet_diag), which answers with the socket's owner uid
 * (the user that created it); /proc/net/tcp{,6} is read instead only if netlink fails. A peer
 * that is not a socket of this machine (a remote host) has no such entry: unknown, refused. */
#ifndef SBX_CLI_PEER_UID_H
#define SBX_CLI_PEER_UID_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lib/error.h"

/* The owner of the peer of the connected TCP socket fd. Returns 0, or -1 (err; ENOENT when
 * no local socket is the peer). */
int sbx_tcp_peer_uid(int fd, uid_t *uid, sbx_error_t *err);

/* Look through /proc/net/tcp-format text for the socket whose local address is `local` and
 * remote address is `remote` (both AF_INET, or both AF_INET6). Returns 0 with *uid, or -1
 * (ENOENT if no line matches). */
int sbx_proc_net_tcp_find(FILE *f, const struct sockaddr_storage *local, const struct sockaddr_storage *remote,
                          uid_t *uid, sbx_error_t *err);

#endif
