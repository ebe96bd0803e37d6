/* rootfs.h: the one rule for a `rootfs:DIR` image, whoever names it: `sbx run --image
 * rootfs:DIR` (the CLI opens DIR as the caller; sbxd checks the descriptor again) and a
 * manifest's `image: rootfs:DIR` (sbxd opens DIR with the owner's rights).
 *
 * DIR is opened for reading, following no symlink anywhere on its path (name the real
 * directory: what the path means must not change between the check and the mount); it is a
 * directory its user owns (root: any); and its /proc, /sys and /dev, where present, are real
 * directories, since sbx mounts over them. */
#ifndef SBX_ROOTFS_H
#define SBX_ROOTFS_H

#include <linux/openat2.h>
#include <sys/types.h>

#include "lib/error.h"

/* How DIR is opened (for openat2 or sbx_openat2_as_user). */
struct open_how sbx_rootfs_open_how(void);
/* The verdict for a failed open of DIR (errnum: its errno). Always returns -1. */
int sbx_rootfs_open_failed(int errnum, const char *dir, sbx_error_t *err);
/* The verdict for the opened DIR (fd) of `user`: 0, or -1 with err. */
int sbx_rootfs_check(int fd, const char *dir, uid_t user, sbx_error_t *err);

#endif
