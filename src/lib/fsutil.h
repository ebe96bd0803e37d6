/* fsutil.h: small file-system helpers shared by the daemon, the shim and the image code. */
#ifndef SBX_FSUTIL_H
#define SBX_FSUTIL_H

/* Remove a directory tree without following symlinks or crossing into other mounts.
 * Only for trees nothing else is writing to (a stopped sandbox's state). Missing is fine.
 * Returns 0, or -1 if something could not be removed (errno set). */
int sbx_remove_tree(const char *path);

#endif
