/* starts.c: how many sandboxes started, failed to start, and how long starts took
 * (usage.h), for /metrics. `sbx run` is timed from the request to the shim that runs it,
 * a pod from the reconciler's decision (admitted) to its spawned shim. */
#include <pthread.h>
#include <time.h>

#include "daemon/controller/usage.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t started[SBX_START_KINDS], failed[SBX_START_KINDS];
/* a warm-pool run takes milliseconds, a cold pod with volumes seconds */
#define BOUNDS {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
static struct sbx_histogram durations[SBX_START_KINDS] = {{.nbounds = 12, .bounds = BOUNDS},
                                                          {.nbounds = 12, .bounds = BOUNDS}};
static const char *const kind_names[SBX_START_KINDS] = {"run", "pod"};

double sbx_starts_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sbx_starts_record(enum sbx_start_kind kind, double seconds) {
  pthread_mutex_lock(&lock);
  started[kind]++;
  sbx_histogram_observe(&durations[kind], seconds);
  pthread_mutex_unlock(&lock);
}

void sbx_starts_failed(enum sbx_start_kind kind) {
  pthread_mutex_lock(&lock);
  failed[kind]++;
  pthread_mutex_unlock(&lock);
}

void sbx_starts_metrics(struct sbx_prom *p) {
  pthread_mutex_lock(&lock);
  sbx_prom_family(p, "sbx_sandbox_starts_total", "counter", "Sandboxes started (kind: run or pod).");
  for (int k = 0; k < SBX_START_KINDS; k++)
    sbx_prom_sample(p, "sbx_sandbox_starts_total", (const char *[]){"kind", kind_names[k], NULL}, (double)started[k]);
  sbx_prom_family(p, "sbx_sandbox_start_failures_total", "counter", "Sandbox starts that failed.");
  for (int k = 0; k < SBX_START_KINDS; k++)
    sbx_prom_sample(p, "sbx_sandbox_start_failures_total", (const char *[]){"kind", kind_names[k], NULL},
                    (double)failed[k]);
  sbx_prom_family(p, "sbx_sandbox_start_duration_seconds", "histogram",
                  "Time from a run request (or a pod's admission) to its running shim.");
  for (int k = 0; k < SBX_START_KINDS; k++)
    sbx_prom_histogram(p, "sbx_sandbox_start_duration_seconds", (const char *[]){"kind", kind_names[k], NULL},
                       &durations[k]);
  pthread_mutex_unlock(&lock);
}
