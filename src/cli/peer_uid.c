/* peer_uid.c: the owner of a local TCP peer, from inet_diag or /proc/net/tcp (peer_uid.h).
 *
 * inet_diag's exact lookup (no NLM_F_DUMP) takes the socket's own view of the 4-tuple:
 * source = the peer's address and port, destination = ours. The kernel may fall back to a
 * listening socket on that port, so every answer's 4-tuple is checked again, and only an
 * answer from a socket that has an owner is believed (sbx_tcp_entry_owner). */
#include "cli/peer_uid.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/cleanup.h"

/* address bytes (network order) and port (host order) of a sockaddr */
static size_t addr_of(const struct sockaddr_storage *ss, const void **bytes, uint16_t *port) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    *bytes = &a->sin_addr;
    *port = ntohs(a->sin_port);
    return 4;
  }
  const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
  *bytes = &a->sin6_addr;
  *port = ntohs(a->sin6_port);
  return 16;
}

/* Whether an inet_diag address of a socket of `family` is `want` (alen bytes). An IPv6
 * socket connected to an IPv4 address (a dual-stack client of our IPv4 listener) reports it
 * v4-mapped, ::ffff:a.b.c.d. */
static bool diag_addr_is(const uint32_t diag[4], uint8_t family, const void *want, size_t alen) {
  if (alen == 4 && family == AF_INET6) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(diag, mapped, sizeof mapped) == 0 && memcmp(&diag[3], want, 4) == 0;
  }
  return memcmp(diag, want, alen) == 0;
}

/* Ask inet_diag for the socket whose local end is `local` and remote end `remote`. Returns
 * how many answers have exactly that 4-tuple (the last in *e), or -1 (err) when netlink
 * failed or the kernel said no such socket. */
static int diag_lookup(const struct sockaddr_storage *local, const struct sockaddr_storage *remote, sbx_tcp_entry_t *e,
                       sbx_error_t *err) {
  _cleanup_fd_ int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return sbx_error_sys(err, "netlink sock_diag");
  struct timeval tv = {.tv_sec = 2};
  setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 r;
  } req;
  memset(&req, 0, sizeof req);
  req.nlh.nlmsg_len = sizeof req;
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST;
  req.nlh.nlmsg_seq = 1;
  req.r.sdiag_family = (uint8_t)local->ss_family;
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = ~0u;
  const void *la, *ra;
  uint16_t lport, rport;
  size_t alen = addr_of(local, &la, &lport);
  addr_of(remote, &ra, &rport);
  req.r.id.idiag_sport = htons(lport);
  req.r.id.idiag_dport = htons(rport);
  memcpy(req.r.id.idiag_src, la, alen);
  memcpy(req.r.id.idiag_dst, ra, alen);
  req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(nl, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
    return sbx_error_sys(err, "netlink sock_diag request");
  union {
    struct nlmsghdr h;
    char buf[8192];
  } resp;
  ssize_t n = recv(nl, resp.buf, sizeof resp.buf, 0);
  if (n < 0) return sbx_error_sys(err, "netlink sock_diag answer");
  int matches = 0;
  for (struct nlmsghdr *h = &resp.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      struct nlmsgerr *ne = NLMSG_DATA(h);
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof *ne)) break;
      if (ne->error == -ENOENT) return sbx_error_says(err, ENOENT, "the peer is not a socket of this machine");
      return sbx_error_set(err, -ne->error, "netlink sock_diag");
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
    const struct inet_diag_msg *m = NLMSG_DATA(h);
    if (m->id.idiag_sport != req.r.id.idiag_sport || m->id.idiag_dport != req.r.id.idiag_dport ||
        !diag_addr_is(m->id.idiag_src, m->idiag_family, la, alen) ||
        !diag_addr_is(m->id.idiag_dst, m->idiag_family, ra, alen))
      continue; /* not the peer itself (a listener the kernel fell back to) */
    *e = (sbx_tcp_entry_t){.state = m->idiag_state, .inode = m->idiag_inode, .uid = m->idiag_uid};
    matches++;
  }
  return matches;
}

/* One hex address of /proc/net/tcp (each 32-bit word printed in host order) into bytes. */
static bool hex_addr(const char *hex, size_t len, unsigned char *out) {
  if (strlen(hex) != len * 2) return false;
  for (size_t w = 0; w < len / 4; w++) {
    char word[9];
    memcpy(word, hex + w * 8, 8);
    word[8] = '\0';
    char *end;
    uint32_t v = (uint32_t)strtoul(word, &end, 16);
    if (*end) return false;
    memcpy(out + w * 4, &v, 4);
  }
  return true;
}

size_t sbx_proc_net_tcp_find(FILE *f, const struct sockaddr_storage *local, const struct sockaddr_storage *remote,
                             sbx_tcp_entry_t *e) {
  const void *la, *ra;
  uint16_t lport, rport;
  size_t alen = addr_of(local, &la, &lport);
  addr_of(remote, &ra, &rport);
  size_t matches = 0;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char lhex[40], rhex[40];
    unsigned lp, rp, st, u;
    unsigned long long ino;
    if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %u %*d %llu", lhex, &lp, rhex,
               &rp, &st, &u, &ino) != 7)
      continue; /* the header, or a line of another shape */
    unsigned char lb[16], rb[16];
    if (!hex_addr(lhex, alen, lb) || !hex_addr(rhex, alen, rb)) continue;
    if (lp == lport && rp == rport && memcmp(lb, la, alen) == 0 && memcmp(rb, ra, alen) == 0) {
      *e = (sbx_tcp_entry_t){.state = st, .inode = ino, .uid = (uid_t)u};
      matches++;
    }
  }
  return matches;
}

int sbx_tcp_entry_owner(size_t matches, const sbx_tcp_entry_t *e, uid_t *uid, sbx_error_t *err) {
  if (matches == 0) return sbx_error_says(err, ENOENT, "the peer is not a socket of this machine");
  if (matches > 1) return sbx_error_says(err, EEXIST, "%zu sockets answer for the peer's address", matches);
  /* The states the peer of a live accepted connection is in: we have not closed our end, so
   * it is ESTABLISHED, or FIN_WAIT1/2 once it shut down its write half. TIME_WAIT (a
   * minisock, uid 0), SYN_SENT/SYN_RECV (a handshake, not our peer) and the rest are not. */
  if (e->state != TCP_ESTABLISHED && e->state != TCP_FIN_WAIT1 && e->state != TCP_FIN_WAIT2)
    return sbx_error_says(err, ENOTCONN, "the peer's socket is in TCP state %u, not a connected one", e->state);
  if (e->inode == 0)
    return sbx_error_says(err, ENOTCONN, "the peer's socket is closed (no process holds it, so it has no owner)");
  *uid = e->uid;
  return 0;
}

/* The peer's entries: netlink, or /proc/net/tcp{,6} if netlink fails in any way (its "no
 * such socket" cannot be told from "no tcp_diag module"; the same rules judge both). */
static int peer_entries(const struct sockaddr_storage *mine, const struct sockaddr_storage *peer, sbx_tcp_entry_t *e,
                        sbx_error_t *err) {
  /* the peer's socket: its local address is our peer's, its remote ours */
  int n = diag_lookup(peer, mine, e, err);
  if (n >= 0) return n;
  _cleanup_fclose_ FILE *f = fopen(mine->ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", "re");
  if (!f) return err->errnum == ENOENT ? -1 : sbx_error_sys(err, "netlink failed, and /proc/net/tcp cannot be read");
  return (int)sbx_proc_net_tcp_find(f, peer, mine, e);
}

int sbx_tcp_peer_uid(int fd, const struct sockaddr_storage *peer, uid_t *uid, sbx_error_t *err) {
  struct sockaddr_storage mine;
  socklen_t ml = sizeof mine;
  if (getsockname(fd, (struct sockaddr *)&mine, &ml) < 0) return sbx_error_sys(err, "the connection's address");
  if ((mine.ss_family != AF_INET && mine.ss_family != AF_INET6) || peer->ss_family != mine.ss_family)
    return sbx_error_says(err, EAFNOSUPPORT, "not a TCP/IP connection");
  sbx_tcp_entry_t e;
  int n = peer_entries(&mine, peer, &e, err);
  if (n < 0 || sbx_tcp_entry_owner((size_t)n, &e, uid, err) < 0) return -1;
  /* After the lookup: our end still holds the 4-tuple, so the owned peer just seen is the
   * one whose bytes are queued on it (peer_uid.h). */
  struct tcp_info ti;
  socklen_t tl = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0) return sbx_error_sys(err, "the connection's state");
  if (ti.tcpi_state != TCP_ESTABLISHED && ti.tcpi_state != TCP_CLOSE_WAIT)
    return sbx_error_says(err, ECONNRESET, "the connection was reset before its owner was known");
  return 0;
}
