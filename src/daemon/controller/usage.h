/* usage.h: what each sandbox and each person uses of the machine (usage.c), for sbx top,
 * the metrics.k8s.io view and /metrics; and the counts of sandbox starts (starts.c).
 *
 * CPU, memory and processes come from the sandbox's cgroup (<parent>/<id>, its pod's
 * containers included); the CPU rate is the change of the CPU time between the last two
 * samples of a sampler thread that reads every running sandbox once a second. Disk is the
 * writable layer (<state>/upper of a run, <state>/containers of a pod: a capfs's used
 * bytes, else the blocks of the files) and the claims: the used bytes of each PVC's file
 * system (statfs while mounted, else its image file's allocated blocks). A person's total
 * adds up their sandboxes and every claim they own, used by a sandbox or not. */
#ifndef SBX_USAGE_H
#define SBX_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/daemon.h"
#include "lib/prom.h"
#include "runtime/cgroup.h"

struct sbx_sandbox_usage {
  char ns[64], name[254], id[40];
  uid_t owner;
  bool running;                 /* a shim runs it: the cgroup numbers are live */
  const char *phase;            /* Running, Pending, Suspended, Expired or Completed (a static string) */
  struct sbx_cgroup_usage cg;   /* zero when not running */
  int64_t cpu_millis;           /* CPU rate over the window, millicores; -1: not sampled yet */
  int64_t window_ms;            /* the window of cpu_millis */
  uint64_t writable_bytes, claims_bytes;
};

struct sbx_person_usage {
  uid_t uid;
  size_t sandboxes, running;
  int64_t cpu_millis; /* sum of the known rates */
  uint64_t cpu_usec, memory_bytes, pids, writable_bytes, claims_bytes;
};

/* The sandboxes of `owner` (SBX_OWNER_ANY: everyone's) in ns (NULL: all), ordered by
 * namespace and name; only_name: that one sandbox (ENOENT if absent). *out is malloc'd. */
int sbx_usage_sandboxes(struct sbx_daemon *d, const char *ns, const char *only_name, uid_t owner,
                        struct sbx_sandbox_usage **out, size_t *n, sbx_error_t *err);
/* Every person who holds a sandbox or a claim, by uid: the sums of everyone's sandboxes
 * `sb` (from sbx_usage_sandboxes with SBX_OWNER_ANY) plus each person's claims. */
int sbx_usage_people(struct sbx_daemon *d, const struct sbx_sandbox_usage *sb, size_t nsb,
                     struct sbx_person_usage **out, size_t *n, sbx_error_t *err);
/* The sampler thread (CPU rates). */
int sbx_usage_sampler_start(struct sbx_daemon *d, sbx_error_t *err);

/* --- pure parts (unit-tested) --- */
/* millicores used between two readings of CPU time (usec) taken at two times (ns);
 * -1 when the window is empty or the counter went back (a restarted cgroup) */
int64_t sbx_usage_rate_millis(uint64_t usec_then, int64_t ns_then, uint64_t usec_now, int64_t ns_now);
/* add a sandbox's numbers to a person's */
void sbx_usage_add(struct sbx_person_usage *p, const struct sbx_sandbox_usage *s);
/* the person entry of uid in a uid-sorted array, inserted (zeroed) when absent; NULL when out of memory */
struct sbx_person_usage *sbx_usage_person(struct sbx_person_usage **people, size_t *n, uid_t uid);

/* --- starts.c: sandbox starts, for /metrics --- */
enum sbx_start_kind { SBX_START_RUN, SBX_START_POD, SBX_START_KINDS };
/* a start that took `seconds` from the request (run) or the decision (pod) to a running shim */
void sbx_starts_record(enum sbx_start_kind kind, double seconds);
void sbx_starts_failed(enum sbx_start_kind kind);
/* write sbx_sandbox_starts_total, sbx_sandbox_start_failures_total and
 * sbx_sandbox_start_duration_seconds */
void sbx_starts_metrics(struct sbx_prom *p);
/* seconds since an arbitrary point (CLOCK_MONOTONIC), to time a start */
double sbx_starts_clock(void);

#endif
