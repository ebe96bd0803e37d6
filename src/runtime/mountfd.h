/* mountfd.h: mounting by file descriptor with the new mount API.
 *
 * Nothing here takes a path that a sandbox could swap: targets are opened inside a root with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) (and without following a final symlink),
 * new file systems are made with fsopen/fsconfig/fsmount and attached with move_mount onto
 * that fd, and bind mounts are detached trees from open_tree(OPEN_TREE_CLONE), optionally
 * idmapped, then moved into place. */
#ifndef SBX_MOUNTFD_H
#define SBX_MOUNTFD_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/error.h"

/* openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV? no: mounts inside
 * are fine. `flags` are open flags (O_PATH, O_DIRECTORY, O_NOFOLLOW ...). */
int sbx_open_in_root(int rootfd, const char *path, int flags, mode_t mode, sbx_error_t *err);

/* Open (creating each missing component as a directory, mode 0755) the directory `path`
 * inside rootfd; every existing component must be a real directory, never a symlink, so an
 * image cannot redirect a mount point. Returns an O_PATH fd or -1. */
int sbx_mkdir_in_root(int rootfd, const char *path, sbx_error_t *err);
/* Same, for a file mount point: parents as above, the last component created as an empty
 * regular file if missing (mode 0644), and refused if it is a symlink or a directory. */
int sbx_mkfile_in_root(int rootfd, const char *path, sbx_error_t *err);

/* New file system, detached: fsopen(fstype) + string options ("key=value" or "flag", NULL-ended)
 * + fsmount with attributes (MOUNT_ATTR_*). Returns the mount fd. */
int sbx_fs_new(const char *fstype, const char *const *options, unsigned attrs, sbx_error_t *err);

/* Detached clone of the tree at (dirfd, path) ("" means dirfd itself), optionally recursive,
 * with attributes set and, if userns_fd >= 0, idmapped through that user namespace. */
int sbx_tree_clone(int dirfd, const char *path, bool recursive, unsigned attrs, int userns_fd,
                   sbx_error_t *err);

/* Attach a detached mount (or any mount fd) onto the target fd. */
int sbx_mount_move(int mntfd, int targetfd, sbx_error_t *err);

/* Make the mount at targetfd read-only (clone + set attr + move back on top). */
int sbx_remount_ro(int targetfd, bool recursive, sbx_error_t *err);

#endif
