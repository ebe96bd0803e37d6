/* podns.h: the namespaces a pod's containers share, held by a tiny process.
 *
 * A pod is one user namespace (the pod's host id range), one network namespace (loopback
 * up), one ipc and one uts namespace (the pod's hostname). The kernel keeps a namespace
 * alive while a process is in it, so a "holder" process sits in them and sleeps: every
 * container of the pod joins them through the holder's pidfd (sandbox.h, join mode) and
 * the daemon reaches the pod's network through /proc/<holder>/ns/net (port-forward).
 * The holder has no capability left, dies with its parent (PR_SET_PDEATHSIG) and does
 * nothing but wait for that. */
#ifndef SBX_PODNS_H
#define SBX_PODNS_H

#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

struct sbx_pod_holder {
  pid_t pid;
  int pidfd;
};

/* Start the holder: new user (ids 0..count-1 -> host base..), net, ipc and uts namespaces;
 * returns once the hostname is set and loopback is up. */
int sbx_pod_holder_start(const char *hostname, uint32_t host_id_base, uint32_t id_count,
                         struct sbx_pod_holder *h, sbx_error_t *err);

/* Kill and reap the holder (the namespaces go with the last container). */
void sbx_pod_holder_stop(struct sbx_pod_holder *h);

#endif
