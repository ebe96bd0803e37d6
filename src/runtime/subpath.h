/* subpath.h: a volume mount's subPath, resolved inside the volume.
 *
 * Kubernetes mounts `subPath` of a volume rather than its root, creating the directory when
 * it is missing. Here the path is resolved from the volume's directory fd with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): a symlink in the volume (which the
 * sandbox may have written) can never lead outside it. Missing components are made one at a
 * time with mkdirat on their parent's fd and given the owner of the volume's root, so the
 * sandbox user that owns the volume owns them too. The result is an O_PATH fd to mount. */
#ifndef SBX_SUBPATH_H
#define SBX_SUBPATH_H

#include "lib/error.h"

/* True if `sub` is an acceptable subPath: relative, no ".." component (empty is fine). */
int sbx_subpath_valid(const char *sub);

/* O_PATH fd of `sub` inside the directory volfd (volfd itself, re-opened, for ""), created
 * as directories where missing. */
int sbx_subpath_open(int volfd, const char *sub, sbx_error_t *err);

#endif
