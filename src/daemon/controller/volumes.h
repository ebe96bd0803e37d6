/* volumes.h: what a sandbox's volumes are on the host, and the stored objects behind them
 * (PersistentVolumeClaims, Secrets, ConfigMaps).
 *
 * Host layout under --root:
 *   volume-images/<owner>/<ns>/<claim>.img   PVC images (root only: dirs 0700, files 0600)
 *   volumes/                                 0711 root
 *   volumes/<owner>/                         0700 owned by the owner: only they reach it
 *   volumes/<owner>/<ns>/<claim>/            the PVC's ext4, its root owned by the owner
 *   sandboxes/<id>/volumes/<name>/           emptyDir, secret, configMap volumes (state dir)
 *   sandboxes/<id>/containers/               capfs of the writable layers: ephemeral.img (a
 *                                            limit) or layer.img (--default-ephemeral-storage)
 *
 * Every function returns 0 or -1 with err (errnum ENOENT for "not found", EINVAL for a
 * refused request, EBUSY for a claim still in use). A volume is handed out as a descriptor,
 * never as a path to open again: its owner may change the directories on that path at any
 * moment (docs/security.md). */
#ifndef SBX_VOLUMES_H
#define SBX_VOLUMES_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/daemon.h"
#include "lib/error.h"

/* --- PersistentVolumeClaims ---------------------------------------------------------------
 * Ensure the claim `claim` of `owner` in `ns` exists, is formatted and mounted; *dir_fd
 * (if not NULL) is an O_RDONLY descriptor of its file system's root, taken from the mount.
 * Absent: created with `bytes` of capacity (bytes <= 0: ENOENT instead, for a claim that
 * must already exist). Present with another requested size: EINVAL ("volumeClaimTemplates
 * are immutable; delete the pvc to resize"). */
int sbx_pvc_ensure(struct sbx_daemon *d, const char *ns, const char *claim, uid_t owner, gid_t owner_gid,
                   int64_t bytes, json_object *labels_or_NULL, int *dir_fd, sbx_error_t *err);
/* Delete a claim: EBUSY ("in use by sandbox X") while one of the owner's Sandboxes in that
 * namespace references it; else unmount, remove image and mount point, delete the object. */
int sbx_pvc_remove(struct sbx_daemon *d, const char *ns, const char *claim, uid_t owner, sbx_error_t *err);
/* A claim's image file and mount point (buffers of `size`). */
void sbx_pvc_paths(struct sbx_daemon *d, uid_t owner, const char *ns, const char *claim, char *image, char *mount,
                   size_t size);
/* Does the stored Sandbox use the claim (a volumeClaimTemplate's, or a volume's claimName)? */
bool sbx_sandbox_uses_claim(json_object *sandbox, const char *claim);
/* At daemon start: mount every stored claim that is not mounted (after a host reboot).
 * Goes on past failures; -1 with the first one in err. */
int sbx_pvc_recover(struct sbx_daemon *d, sbx_error_t *err);

/* --- a sandbox's volumes --------------------------------------------------------------------
 * Make every volume of the stored v1beta1 Sandbox's pod template, and every
 * volumeClaimTemplate, exist on the host. *out is a new JSON array (free it with
 * sbx_volumes_free), one entry per volume:
 *   {"name":"workspace","fd":12,"path":"for messages","readOnly":false,"idmap":true,
 *    "kind":"persistentVolumeClaim"|"emptyDir"|"secret"|"configMap"|"hostPath"}
 * fd: an O_RDONLY descriptor of the volume's directory, owned by the array.
 * idmap: files are owned by the owner on the host (mount idmapped owner -> container user);
 * false for hostPath (the host's own files, mounted as they are). */
int sbx_volumes_prepare(struct sbx_daemon *d, json_object *sandbox, uid_t owner, gid_t owner_gid,
                        const char *state_dir, json_object **out, sbx_error_t *err);
/* hostPath volumes, as admission (at create and replace): each path must lie under an
 * --allow-host-path directory; else -1, errnum EACCES, the message naming the path and the
 * allowed directories. */
int sbx_host_paths_admit(struct sbx_daemon *d, json_object *sandbox, sbx_error_t *err);
/* What the sandbox's owner gets of its hostPath volumes, for its served status: adds
 * status.readOnlyVolumes {"NAME": "why"} for each hostPath mounted read-only whatever its
 * volumeMounts say (non-admins, or a directory the administrator shares read-only). */
void sbx_host_paths_status(struct sbx_daemon *d, json_object *sandbox, json_object *status);
/* Close the descriptors of sbx_volumes_prepare's array and free it (NULL: nothing). */
void sbx_volumes_free(json_object *vols);
static inline void sbx_volumes_freep(json_object **vols) { sbx_volumes_free(*vols); }
#define _cleanup_volumes_ __attribute__((cleanup(sbx_volumes_freep)))
/* Unmount every file system mounted under state_dir (tmpfs and capfs of emptyDirs, the
 * bounded writable layer); before the state dir is removed. */
void sbx_volumes_release(struct sbx_daemon *d, const char *state_dir);
/* A capfs on <state>/containers (the writable layers) of `bytes` (the pod's
 * ephemeral-storage limit: a claim, ENOSPC if the disk cannot hold it), or with bytes <= 0
 * of --default-ephemeral-storage (a cap; nothing when that is 0). Already mounted: nothing
 * to do. */
int sbx_ephemeral_prepare(struct sbx_daemon *d, const char *sandbox, const char *state_dir, int64_t bytes,
                          sbx_error_t *err);

/* --- Secret and ConfigMap values (env, envFrom) -------------------------------------------
 * kind "Secret" or "ConfigMap". Another user's object answers exactly like a missing one. */
int sbx_config_value(struct sbx_daemon *d, uid_t owner, const char *ns, const char *kind, const char *name,
                     const char *key, char **value, size_t *len, sbx_error_t *err);
/* *data_decoded: a new object key -> decoded string (Secret data; ConfigMap data and
 * binaryData). */
int sbx_config_data(struct sbx_daemon *d, uid_t owner, const char *ns, const char *kind, const char *name,
                    json_object **data_decoded, sbx_error_t *err);

/* --- pure parts (unit-tested) ---------------------------------------------------------------- */
/* --allow-host-path DIR[:rw|:ro]: DIR absolute; stored as given (the caller canonicalises). */
int sbx_host_path_rule_parse(const char *arg, struct sbx_host_path_rule *rule, sbx_error_t *err);
/* The rule whose dir equals `path` or is a parent of it (by whole components; the longest
 * wins), or -1. `path` must be absolute, without "." or ".." components (-2 if not). */
int sbx_host_path_match(const struct sbx_host_path_rule *rules, size_t n, const char *path);
/* A secret/configMap item path: relative, no "..", no empty or "." components, <= 4096. */
bool sbx_volume_item_path_ok(const char *path);
/* A Secret/ConfigMap data key: [-._a-zA-Z0-9]+, at most 253, not "." or "..". */
bool sbx_config_key_ok(const char *key);
/* Bytes as a quantity: "20Gi", "512Mi", "1536Ki", else plain bytes "1000". */
void sbx_bytes_quantity(int64_t bytes, char *buf, size_t size);

#endif
