/* backoff.c: restart decisions and crash-loop back-off (see backoff.h). */
#include "lib/backoff.h"

#include <string.h>

bool sbx_restart_wanted(const char *policy, bool init, int exit_code) {
  if (policy && strcmp(policy, "Never") == 0) return false;
  if (init || (policy && strcmp(policy, "OnFailure") == 0)) return exit_code != 0;
  return true;
}

int64_t sbx_backoff_next(unsigned *streak, int64_t ran_ms) {
  if (ran_ms >= SBX_BACKOFF_RESET_MS) *streak = 0;
  int64_t d = SBX_BACKOFF_INITIAL_MS;
  for (unsigned i = 0; i < *streak && d < SBX_BACKOFF_MAX_MS; i++) d *= 2;
  if (d > SBX_BACKOFF_MAX_MS) d = SBX_BACKOFF_MAX_MS;
  if (*streak < 64) (*streak)++;
  return d;
}
