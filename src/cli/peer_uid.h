/* peer_uid.h: which user owns the other end of a TCP connection made on this machine.
 *
 * `sbx port-forward` must serve only its own user, and a loopback peer is a socket of this
 * same kernel, so its owner is knowable: the peer's socket is the one whose local address is
 * our remote one and whose remote address is our local one. The kernel is asked for it by
 * exact 4-tuple with NETLINK_SOCK_DIAG (inet_diag), which answers with the socket's owner uid
 * (the user that created it); /proc/net/tcp{,6} is read instead only if netlink fails.
 *
 * An answer is believed only when it can name an owner. The kernel also answers for sockets
 * that have none: a connection its client already closed lives on as a TIME_WAIT "minisock"
 * (reported with uid 0 and inode 0, and with the state FIN_WAIT2 while our side is still
 * open), an orphaned socket has no inode, and a handshake in progress (SYN_SENT, SYN_RECV) is
 * not the peer of an accepted connection. So the answer must be exactly one socket with the
 * exact 4-tuple, in a state the peer of a live accepted connection is in (ESTABLISHED, or
 * FIN_WAIT1/2 after it shut down its write half), with a non-zero inode (a socket a process
 * still holds). Anything else is "unknown peer", and the caller refuses the connection.
 *
 * The lookup and the use are apart in time, so the accepted socket itself is checked after
 * the lookup: it must still be ESTABLISHED or CLOSE_WAIT. While it is, it holds its 4-tuple
 * in the kernel's table, so no other client socket can have completed a handshake on that
 * tuple (a new one's SYN meets our socket, which resets it or is reset): the owned peer seen
 * is the one that sent the bytes queued on it. Without this, a client could send, close, and
 * have its port reused by another user's new connection (TIME_WAIT reuse on loopback) before
 * the lookup, which would then name the wrong owner. A peer that closes after the check was
 * the owner: the bytes queued are its own, and what is sent back can reach only its socket
 * (or nobody), since no other socket can take over that connection's sequence numbers. */
#ifndef SBX_CLI_PEER_UID_H
#define SBX_CLI_PEER_UID_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lib/error.h"

/* What the kernel said about one socket. */
typedef struct sbx_tcp_entry {
  unsigned state;            /* TCP_ESTABLISHED... as netinet/tcp.h numbers them */
  unsigned long long inode;  /* 0: no process holds it (a minisock, an orphan) */
  uid_t uid;
} sbx_tcp_entry_t;

/* The owner of the peer of the accepted TCP socket fd, whose peer address accept() gave
 * (`peer`). Returns 0, or -1 (err) when the owner is not known for sure. */
int sbx_tcp_peer_uid(int fd, const struct sockaddr_storage *peer, uid_t *uid, sbx_error_t *err);

/* The owner named by the entries that matched a peer's exact 4-tuple (`matches` of them, the
 * last in *e): 0 with *uid only for exactly one entry of a socket that has an owner; else -1
 * (err says why). */
int sbx_tcp_entry_owner(size_t matches, const sbx_tcp_entry_t *e, uid_t *uid, sbx_error_t *err);

/* Look through /proc/net/tcp-format text for sockets whose local address is `local` and
 * remote address is `remote` (both AF_INET, or both AF_INET6). Returns how many lines match,
 * the last in *e. */
size_t sbx_proc_net_tcp_find(FILE *f, const struct sockaddr_storage *local, const struct sockaddr_storage *remote,
                             sbx_tcp_entry_t *e);

#endif
