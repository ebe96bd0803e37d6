/* peer_uid.c: the owner of a local TCP peer, from inet_diag or /proc/net/tcp (peer_uid.h).
 *
 * inet_diag's exact lookup (no NLM_F_DUMP) takes the socket's own view of the 4-tuple:
 * source = the peer's address and port, destination = ours. The kernel may fall back to a
 * listening socket on that port, so the answer's 4-tuple is checked again before its uid is
 * believed. */
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

static int diag_lookup(const struct sockaddr_storage *mine, const struct sockaddr_storage *peer, uid_t *uid,
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
  req.r.sdiag_family = (uint8_t)mine->ss_family;
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = ~0u;
  const void *pa, *ma;
  uint16_t pport, mport;
  size_t alen = addr_of(peer, &pa, &pport);
  addr_of(mine, &ma, &mport);
  req.r.id.idiag_sport = htons(pport);
  req.r.id.idiag_dport = htons(mport);
  memcpy(req.r.id.idiag_src, pa, alen);
  memcpy(req.r.id.idiag_dst, ma, alen);
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
  for (struct nlmsghdr *h = &resp.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      struct nlmsgerr *e = NLMSG_DATA(h);
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e)) break;
      if (e->error == -ENOENT) return sbx_error_set(err, ENOENT, "the peer is not a socket of this machine");
      return sbx_error_set(err, -e->error, "netlink sock_diag");
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
    const struct inet_diag_msg *m = NLMSG_DATA(h);
    if (m->id.idiag_sport != req.r.id.idiag_sport || m->id.idiag_dport != req.r.id.idiag_dport ||
        memcmp(m->id.idiag_src, pa, alen) != 0 || memcmp(m->id.idiag_dst, ma, alen) != 0)
      continue; /* not the peer itself (a listener the kernel fell back to) */
    *uid = m->idiag_uid;
    return 0;
  }
  return sbx_error_set(err, ENOENT, "the peer is not a socket of this machine");
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

int sbx_proc_net_tcp_find(FILE *f, const struct sockaddr_storage *local, const struct sockaddr_storage *remote,
                          uid_t *uid, sbx_error_t *err) {
  const void *la, *ra;
  uint16_t lport, rport;
  size_t alen = addr_of(local, &la, &lport);
  addr_of(remote, &ra, &rport);
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char lhex[40], rhex[40];
    unsigned lp, rp, st, u;
    if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %u", lhex, &lp, rhex, &rp, &st,
               &u) != 6)
      continue; /* the header, or a line of another shape */
    unsigned char lb[16], rb[16];
    if (!hex_addr(lhex, alen, lb) || !hex_addr(rhex, alen, rb)) continue;
    if (lp == lport && rp == rport && memcmp(lb, la, alen) == 0 && memcmp(rb, ra, alen) == 0) {
      *uid = (uid_t)u;
      return 0;
    }
  }
  return sbx_error_set(err, ENOENT, "the peer is not a socket of this machine");
}

int sbx_tcp_peer_uid(int fd, uid_t *uid, sbx_error_t *err) {
  struct sockaddr_storage mine, peer;
  socklen_t ml = sizeof mine, pl = sizeof peer;
  if (getsockname(fd, (struct sockaddr *)&mine, &ml) < 0 || getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
    return sbx_error_sys(err, "the connection's addresses");
  if ((mine.ss_family != AF_INET && mine.ss_family != AF_INET6) || peer.ss_family != mine.ss_family)
    return sbx_error_set(err, EAFNOSUPPORT, "not a TCP/IP connection");
  if (diag_lookup(&mine, &peer, uid, err) == 0) return 0;
  if (err->errnum == ENOENT) return -1; /* the kernel answered: no such local socket */
  _cleanup_fclose_ FILE *f = fopen(mine.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", "re");
  if (!f) return sbx_error_sys(err, "netlink failed, and /proc/net/tcp cannot be read");
  /* the peer's socket: its local address is our peer's, its remote ours */
  return sbx_proc_net_tcp_find(f, &peer, &mine, uid, err);
}
