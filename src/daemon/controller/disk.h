/* disk.h: the disk bounds sbxd keeps (docs/security.md): its options, and the
 * admission of capacity promises against the file system under --root.
 *
 * Every image sbx makes on the daemon's file system is one of two kinds:
 * - a *claim* (a PersistentVolumeClaim, an ephemeral-storage limit, an emptyDir sizeLimit):
 *   a person asked for that many bytes, so the bytes are promised. A claim is admitted only
 *   if, with the claims already made, the bytes still to be written fit in
 *   --storage-overcommit times the free space; with a ratio of 1 or less its image is also
 *   reserved (fallocate), so the host can never refuse a write the claim's file system
 *   accepted. Refused: ENOSPC, with a message naming the sizes.
 * - a *cap* (--default-ephemeral-storage on the writable layers of a pod that gave no
 *   limit): a ceiling, not a request; sparse, and not promised (a workspace that asked for
 *   nothing reserves nothing). Its file name (layer.img) keeps it out of the sum.
 * The sum is read from the images themselves (apparent size minus allocated blocks), so it
 * survives restarts and needs no bookkeeping of its own. */
#ifndef SBX_DISK_H
#define SBX_DISK_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/daemon.h"
#include "lib/error.h"

/* sbxd's options (main.c's table ends with SBX_DISK_OPTIONS; their values are in
 * struct sbx_daemon, their defaults SBX_DISK_DEFAULTS) */
enum {
  SBX_DISK_OPT_FIRST = 0x300,
  SBX_DISK_OPT_DEFAULT_EPHEMERAL = SBX_DISK_OPT_FIRST,
  SBX_DISK_OPT_LOG_MAX_SIZE,
  SBX_DISK_OPT_LOG_MAX_FILES,
  SBX_DISK_OPT_OVERCOMMIT,
  SBX_DISK_OPT_LAST = SBX_DISK_OPT_OVERCOMMIT,
};
#define SBX_DISK_OPTIONS                                                                         \
  {"default-ephemeral-storage", required_argument, NULL, SBX_DISK_OPT_DEFAULT_EPHEMERAL},        \
      {"log-max-size", required_argument, NULL, SBX_DISK_OPT_LOG_MAX_SIZE},                      \
      {"log-max-files", required_argument, NULL, SBX_DISK_OPT_LOG_MAX_FILES},                    \
      {"storage-overcommit", required_argument, NULL, SBX_DISK_OPT_OVERCOMMIT}
#define SBX_DISK_DEFAULTS                                                                        \
  .default_ephemeral_bytes = 10LL << 30, .log_max_bytes = 10LL << 20, .log_max_files = 5,         \
  .storage_overcommit = 1.0
#define SBX_DISK_USAGE                                                                           \
  "  --default-ephemeral-storage SIZE\n"                                                         \
  "                       bound of a sandbox's writable layer when it gives no ephemeral-storage\n" \
  "                       limit (default 10Gi; 0: unbounded)\n"                                  \
  "  --log-max-size SIZE  a container's log rotates at SIZE (default 10Mi)\n"                     \
  "  --log-max-files N    log files kept per container, the current one included (default 5)\n"  \
  "  --storage-overcommit RATIO\n"                                                               \
  "                       claims may promise RATIO times the free space of --root; at 1.0\n"     \
  "                       (default) or below each claim's image is reserved on disk\n"

/* Parse one of the options above into d; -1 with a message that says what is wanted. */
int sbx_disk_option(struct sbx_daemon *d, int opt, const char *arg, sbx_error_t *err);

/* The admission rule (pure): `asks` more bytes fit if asks + promised <= ratio * free.
 * Refused: -1, ENOSPC, "WHAT asks 2.0Ti; 480Mi is free on WHERE (over-commit 1.0)". */
int sbx_disk_admit(const char *what, int64_t asks, int64_t free_bytes, int64_t promised, double ratio,
                   const char *where, sbx_error_t *err);

/* Bytes the claims under d->root may still write: for every claim image, its size minus the
 * blocks it already holds. */
int64_t sbx_disk_promised(struct sbx_daemon *d);

/* Admit and create the claim image `image` of `bytes` for `what` (a message's subject, e.g.
 * persistentvolumeclaim "data"): one admission at a time, so two claims cannot both take
 * the last free bytes. */
int sbx_disk_claim_create(struct sbx_daemon *d, const char *what, const char *image, int64_t bytes, uid_t uid,
                          gid_t gid, sbx_error_t *err);

#endif
