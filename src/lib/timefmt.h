/* timefmt.h: RFC 3339 times, the way Kubernetes objects write them ("2026-11-26T18:40:47Z"),
 * and absolute deadlines for timed waits. */
#ifndef SBX_TIMEFMT_H
#define SBX_TIMEFMT_H

#include <stddef.h>
#include <time.h>

/* now, in UTC, into buf (at least 21 bytes) */
void sbx_now_rfc3339(char *buf, size_t n);
/* "2026-11-26T18:00:00Z", with optional fraction and a Z or ±HH:MM offset, to seconds
 * since the epoch; -1 if it is not such a time */
time_t sbx_parse_rfc3339(const char *s);
/* the time on `clock` timeout_ms from now, for pthread_cond_timedwait and the like */
struct timespec sbx_deadline_ms(clockid_t clock, int timeout_ms);

#endif
