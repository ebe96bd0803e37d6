/* quota.h: per-person limits and quotas (quota.c).
 *
 * Limits: every sandbox's cgroup lives in its owner's group <top>/user-<uid>, whose CPU
 * weight is the same for everyone and whose memory, pids and CPU are bounded by the
 * administrator's --user-* settings; <top> itself is bounded so that --reserve-memory and
 * --reserve-cpu stay for the system and sbxd. Quotas: what one person may hold
 * (sandboxes, pod requests, claims, storage, secrets and config maps), refused with a
 * Kubernetes-like "exceeded quota" message. root is exempt from quotas (never from the
 * cgroup limits). */
#ifndef SBX_QUOTA_H
#define SBX_QUOTA_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/daemon.h"

/* Everything "not set" (so sbx_policy_apply computes defaults from the machine). */
void sbx_policy_init(struct sbx_policy *p);
/* One sbxd option of this room (--cgroup-parent, --default-*, --user-*, --reserve-*,
 * --quota-*), `name` without the dashes. A bad value is an error naming the option. */
int sbx_policy_option(struct sbx_policy *p, const char *name, const char *value, sbx_error_t *err);
/* At start: defaults for what was not set, checks, and the top cgroup's limits. */
int sbx_policy_apply(struct sbx_daemon *d, sbx_error_t *err);

/* The machine's CPUs (millicores) and memory (bytes), as admission counts them. */
void sbx_machine_capacity(int64_t *cpu_milli, int64_t *mem);

/* Add "cgroupParent" (the owner's group) and "cgroupGroup" (its limits) to a shim spec. */
void sbx_policy_place(const struct sbx_daemon *d, uid_t owner, json_object *spec);
/* the cgroup path (below the cgroup root) of a person's group: <cgroup-parent>/user-UID, or
 * <cgroup-parent>/pool for owner (uid_t)-1; each sandbox's cgroup is <group>/<id> */
void sbx_policy_group(const struct sbx_daemon *d, uid_t owner, char *buf, size_t size);
/* A sandbox's CPU limit as the cgroups can take it (cgroup v1 refuses a quota above its
 * parent's: bounded by --user-cpu and the top's); 0 stays 0. */
int64_t sbx_policy_cpu_limit(const struct sbx_daemon *d, int64_t millis);

/* What `owner` holds now (requests: of their running pods). */
int sbx_quota_used(struct sbx_daemon *d, uid_t owner, struct sbx_quota *used, sbx_error_t *err);
/* Whether `add` more fits `owner`'s quota: 0, or -1 with err EDQUOT and the message
 * "exceeded quota: default, requested: R=N, used: R=N, limited: R=N". */
int sbx_quota_admit(struct sbx_daemon *d, uid_t owner, const struct sbx_quota *add, sbx_error_t *err);
/* The ResourceQuota object `owner` sees in namespace `ns` (a new reference). */
json_object *sbx_quota_object(struct sbx_daemon *d, uid_t owner, const char *ns, sbx_error_t *err);

/* The bytes of a Secret's or ConfigMap's data (decoded when base64), as the 1 MiB per
 * object bound and the objects.bytes quota count them. */
size_t sbx_object_data_bytes(json_object *obj, bool secret);

#endif
