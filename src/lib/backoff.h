/* backoff.h: when a pod's container is restarted, Kubernetes-style.
 *
 * Pure arithmetic, unit-tested: which exits restartPolicy restarts, and the crash-loop
 * back-off: 1 s, doubling for each restart in a row, at most 5 minutes; a container that
 * ran for 10 minutes before it ended starts a new streak (back to 1 s). */
#ifndef SBX_BACKOFF_H
#define SBX_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#define SBX_BACKOFF_INITIAL_MS 1000
#define SBX_BACKOFF_MAX_MS (300 * 1000)
#define SBX_BACKOFF_RESET_MS (600 * 1000)

/* restartPolicy ("Always", "OnFailure", "Never"; NULL means Always) applied to an exit:
 * Always restarts always, OnFailure on a non-zero exit, Never not. An init container
 * (init true) is restarted only on failure, and under Never not at all. */
bool sbx_restart_wanted(const char *policy, bool init, int exit_code);

/* The delay before the next restart, given how many restarts in a row came before it
 * (the streak) and how long the container just ran (ms); *streak is updated. */
int64_t sbx_backoff_next(unsigned *streak, int64_t ran_ms);

#endif
