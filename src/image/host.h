/* host.h: the `host` image: a read-only view of the host's system.
 *
 * The image is a small directory tree that the daemon builds once under its root
 * (images/host/rootfs): the merged-/usr links (/bin, /sbin, /lib, /lib64 -> usr/...), empty
 * /home /root /tmp /var /run /srv /mnt /opt, mount points for /usr /proc /sys /dev, and a
 * copy of the host's /etc holding only what every host user may read anyway (world-readable
 * files), minus known secrets (shadow, gshadow, sudoers, ssh host keys, private TLS keys).
 * The sandbox's runtime binds the host's /usr read-only over /usr. */
#ifndef SBX_IMAGE_HOST_H
#define SBX_IMAGE_HOST_H

#include "lib/error.h"

/* Build <dir>/rootfs if it does not exist yet (atomically: built aside, then renamed).
 * Returns 0 or -1. */
int sbx_image_host_prepare(const char *dir, sbx_error_t *err);

/* True if an /etc path (relative, e.g. "ssh/ssh_host_rsa_key") must never be copied. */
int sbx_image_host_is_secret(const char *relpath);

#endif
