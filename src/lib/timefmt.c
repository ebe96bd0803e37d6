/* timefmt.c: RFC 3339 times (timefmt.h). */
#include "lib/timefmt.h"

#include <stdio.h>

void sbx_now_rfc3339(char *buf, size_t n) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t sbx_parse_rfc3339(const char *s) {
  struct tm tm = {0};
  const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if (!rest) return -1;
  if (*rest == '.')
    for (rest++; *rest >= '0' && *rest <= '9'; rest++) {
    }
  time_t t = timegm(&tm);
  if ((rest[0] == 'Z' || rest[0] == 'z') && rest[1] == '\0') return t;
  int hh, mm;
  char tail;
  if ((*rest == '+' || *rest == '-') && sscanf(rest + 1, "%2d:%2d%c", &hh, &mm, &tail) == 2 && hh < 24 && mm < 60)
    return *rest == '+' ? t - (hh * 3600 + mm * 60) : t + (hh * 3600 + mm * 60);
  return -1;
}

struct timespec sbx_deadline_ms(clockid_t clock, int timeout_ms) {
  struct timespec until;
  clock_gettime(clock, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  return until;
}
