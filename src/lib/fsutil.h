/* fsutil.h: small file-system helpers shared by the daemon, the shim and the image code. */
#ifndef SBX_FSUTIL_H
#define SBX_FSUTIL_H

#include <linux/openat2.h>
#include <sys/types.h>

/* Remove a directory tree without following symlinks or crossing into other mounts.
 * Only for trees nothing else is writing to (a stopped sandbox's state). Missing is fine.
 * Returns 0, or -1 if something could not be removed (errno set). */
int sbx_remove_tree(const char *path);

#include <stdint.h>

/* The disk space `path` holds, for sbx top: a mount root answers its file system's used
 * bytes (statfs: blocks less free blocks); a directory the allocated blocks of everything
 * below it on the same file system (symlinks not followed); a file its allocated blocks.
 * Missing: 0. Returns 0, or -1 with errno. */
int sbx_disk_used(const char *path, uint64_t *bytes);

/* openat2(dirfd, path, how) done with the rights of the user `uid` (their primary group
 * `gid` and their supplementary groups), in a short-lived child process: what that user
 * could not reach is refused (EACCES) exactly as if they had opened it themselves. For a
 * root daemon that opens a path a user named (a hostPath, a rootfs) on their behalf. uid 0:
 * opened directly. Returns the descriptor (close-on-exec), or -1 with errno. */
int sbx_openat2_as_user(int dirfd, const char *path, const struct open_how *how, uid_t uid, gid_t gid);

#endif
