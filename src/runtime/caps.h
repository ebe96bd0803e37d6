/* caps.h: capabilities inside a sandbox.
 *
 * A sandbox keeps at most Podman's default set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL,
 * NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT), all of them meaningful
 * only inside its own user namespace. Everything else is dropped from the bounding set;
 * the inheritable and ambient sets are emptied. */
#ifndef SBX_CAPS_H
#define SBX_CAPS_H

#include <stdint.h>

#include "lib/error.h"

/* Podman's default set as a bit mask (bit n = capability n). */
uint64_t sbx_caps_default_mask(void);

/* Parse a capability name ("NET_RAW", "CAP_NET_RAW", any case) to its number, -1 if
 * unknown. */
int sbx_caps_from_name(const char *name);
/* The name of capability number c without "CAP_" ("CHOWN"). */
const char *sbx_caps_name(int c);

/* Restrict the calling process to `keep`: drop every other capability from the bounding
 * set, set permitted and effective to `keep`, clear inheritable and ambient.
 * Needs CAP_SETPCAP (held by root of a fresh user namespace). */
int sbx_caps_apply(uint64_t keep, sbx_error_t *err);

/* Make the calling child die (SIGKILL) when its parent does. Call it only AFTER the last
 * change of credentials: the kernel clears the parent-death signal on every change of
 * uid, gid or capabilities (commit_creds), so set before a setresuid it is silently gone.
 * `parent_end` is a pipe or socket whose other end only the parent holds: if the parent
 * died before the signal was set, it has hung up and the child exits at once. */
void sbx_die_with_parent(int parent_end);

#endif
