/* capfs.h: capacity-bound file systems for volumes and writable layers.
 *
 * A capfs is a sparse image file of N bytes formatted ext4 (by /sbin/mkfs.ext4, run on the
 * host, never inside a sandbox), attached to a free loop device and mounted nosuid,nodev
 * on a directory. Whatever is written there counts against N: writing past it fails with
 * ENOSPC inside and leaves the rest of the host alone. The loop device is configured with
 * LO_FLAGS_AUTOCLEAR, so unmounting the last mount of the file system also frees the loop
 * device; nothing needs to remember which device holds which image.
 *
 * Targets are directory fds, so a caller that walked a path safely (component by component,
 * no symlinks) mounts exactly there; the _at helpers below take such an fd, the path
 * helpers are for directories only root can change. */
#ifndef SBX_CAPFS_H
#define SBX_CAPFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

/* Smallest capacity a capfs gets (ext4 with a journal needs a few MiB). */
#define SBX_CAPFS_MIN_BYTES (8LL << 20)

/* Create a new image at `image` (O_EXCL, mode 0600: EEXIST if something is there) of
 * `bytes` (rounded up to 4 KiB, at least SBX_CAPFS_MIN_BYTES) and format it ext4, its root
 * directory owned by uid:gid. `reserve`: every block is allocated now (fallocate), so the
 * host file system can never refuse a write the image's file system accepted (ENOSPC if
 * the space is not there); else the image is sparse. On failure nothing is left behind. */
int sbx_capfs_create(const char *image, int64_t bytes, bool reserve, uid_t uid, gid_t gid, sbx_error_t *err);
/* The rounding sbx_capfs_create applies: the size an image of `bytes` has. */
int64_t sbx_capfs_size(int64_t bytes);

/* Attach `image` to a free loop device (autoclear) and mount it (ext4, nosuid, nodev) on
 * the directory `dirfd` (an O_PATH or O_RDONLY directory fd). Already a mount root: 0,
 * nothing done. root_fd (NULL if not wanted) gets an O_RDONLY descriptor of the mounted
 * file system's root, taken from the mount itself: use it rather than the path, which its
 * owner may have changed meanwhile. */
int sbx_capfs_mount_at(const char *image, int dirfd, int *root_fd, sbx_error_t *err);
int sbx_capfs_mount(const char *image, const char *dir, sbx_error_t *err);

/* 1 if `dirfd` is the root of a mount, 0 if not, -1 with err. */
int sbx_is_mount_root_at(int dirfd, sbx_error_t *err);
int sbx_is_mount_root(const char *dir, sbx_error_t *err);

/* Unmount what is mounted on the directory `name` inside `parentfd` (a directory fd walked
 * safely; `name` one component, never followed if a symlink). The mount is reached through
 * the parent so that no fd of ours keeps it busy. Nothing mounted (or nothing there): 0.
 * Busy: -1 with EBUSY unless `lazy` (then detached, gone when its last user goes). */
int sbx_umount_at(int parentfd, const char *name, bool lazy, sbx_error_t *err);
/* The same for a path that only root can change. */
int sbx_umount(const char *dir, bool lazy, sbx_error_t *err);

/* Mount a tmpfs of `bytes` on `dirfd`, root mode `mode` owned by uid:gid, nosuid,nodev;
 * root_fd as for sbx_capfs_mount_at. */
int sbx_tmpfs_mount_at(int dirfd, int64_t bytes, mode_t mode, uid_t uid, gid_t gid, int *root_fd, sbx_error_t *err);

#endif
