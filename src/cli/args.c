/* args.c: parsers of the verbs' small argument languages (see args.h). */
#include "cli/args.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/kinds.h"

#define WEEK_MS (7LL * 24 * 3600 * 1000)

int sbx_parse_duration_ms(const char *s, long long *ms, sbx_error_t *err) {
  if (!s || !*s) return sbx_error_set(err, 0, "empty duration");
  const char *p = s;
  bool neg = false;
  if (*p == '-' || *p == '+') neg = *p++ == '-';
  /* a bare number: seconds */
  char *end;
  errno = 0;
  long long bare = strtoll(p, &end, 10);
  if (end != p && !*end && !errno && isdigit((unsigned char)*p)) {
    if (bare > LLONG_MAX / 1000) return sbx_error_set(err, 0, "duration \"%s\" is too long", s);
    *ms = neg ? WEEK_MS : bare * 1000;
    return 0;
  }
  static const struct {
    const char *unit;
    double ms;
  } units[] = {{"ms", 1}, {"h", 3600e3}, {"m", 60e3}, {"s", 1e3}, {"us", 1e-3}, {"µs", 1e-3},
               {"ns", 1e-6}};
  double total = 0;
  bool any = false;
  while (*p) {
    if (!isdigit((unsigned char)*p) && *p != '.')
      return sbx_error_set(err, 0, "invalid duration \"%s\" (examples: 30s, 5m, 1h30m, 500ms)",
                           s);
    errno = 0;
    double v = strtod(p, &end);
    if (end == p || errno) return sbx_error_set(err, 0, "invalid duration \"%s\"", s);
    p = end;
    bool found = false;
    for (size_t i = 0; i < sizeof units / sizeof *units && !found; i++) {
      size_t n = strlen(units[i].unit);
      if (strncmp(p, units[i].unit, n) == 0) {
        total += v * units[i].ms;
        p += n;
        found = true;
      }
    }
    if (!found)
      return sbx_error_set(err, 0, "invalid duration \"%s\": a number needs a unit (ms, s, m, h)",
                           s);
    any = true;
  }
  if (!any) return sbx_error_set(err, 0, "invalid duration \"%s\"", s);
  if (total > 1e15) return sbx_error_set(err, 0, "duration \"%s\" is too long", s);
  *ms = neg ? (total > 0 ? WEEK_MS : 0) : (long long)(total + 0.5);
  return 0;
}

int sbx_parse_wait_for(const char *s, sbx_wait_for_t *w, sbx_error_t *err) {
  memset(w, 0, sizeof *w);
  if (!s || !*s) return sbx_error_set(err, 0, "--for must be given: condition=NAME or delete");
  if (strcasecmp(s, "delete") == 0) {
    w->delete_ = true;
    return 0;
  }
  if (strncasecmp(s, "condition=", 10) != 0)
    return sbx_error_set(err, 0,
                         "unrecognized condition: \"%s\" (sbx waits for condition=NAME[=VALUE] "
                         "or delete)",
                         s);
  const char *c = s + 10, *eq = strchr(c, '=');
  size_t clen = eq ? (size_t)(eq - c) : strlen(c);
  const char *value = eq ? eq + 1 : "True";
  if (clen == 0 || clen >= sizeof w->condition)
    return sbx_error_set(err, 0, "--for=%s: give a condition name, e.g. condition=Ready", s);
  if (!*value || strlen(value) >= sizeof w->value)
    return sbx_error_set(err, 0, "--for=%s: give a condition value, e.g. condition=Ready=true",
                         s);
  memcpy(w->condition, c, clen);
  w->condition[clen] = '\0';
  snprintf(w->value, sizeof w->value, "%s", value);
  return 0;
}

int sbx_parse_replicas(const char *s, int *replicas, sbx_error_t *err) {
  if (!s || !*s) return sbx_error_set(err, 0, "--replicas must be given (0 or 1)");
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (*end || end == s || errno || v < 0)
    return sbx_error_set(err, 0, "--replicas=%s: not a number of replicas", s);
  if (v > 1)
    return sbx_error_set(err, 0,
                         "--replicas=%s: a sandbox runs one pod or none: use 1 to run it, 0 to "
                         "suspend it",
                         s);
  *replicas = (int)v;
  return 0;
}

bool sbx_is_config_key(const char *key) {
  size_t n = strlen(key);
  if (n == 0 || n > 253 || strcmp(key, ".") == 0 || strcmp(key, "..") == 0) return false;
  for (const char *p = key; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return false;
  return true;
}

static int bad_key(const char *key, sbx_error_t *err) {
  return sbx_error_set(err, 0,
                       "\"%.*s\" is not a valid key name: a key is made of letters, digits, "
                       "'-', '_' and '.' (at most 253)",
                       64, key);
}

int sbx_parse_from_literal(const char *s, char *keybuf, size_t keysize, const char **value,
                           sbx_error_t *err) {
  const char *eq = strchr(s, '=');
  if (!eq || eq == s)
    return sbx_error_set(err, 0, "invalid literal source %.64s, expected key=value", s);
  size_t n = (size_t)(eq - s);
  if (n >= keysize) return bad_key(s, err);
  memcpy(keybuf, s, n);
  keybuf[n] = '\0';
  if (!sbx_is_config_key(keybuf)) return bad_key(keybuf, err);
  *value = eq + 1;
  return 0;
}

int sbx_parse_from_file(const char *s, char *keybuf, size_t keysize, const char **path,
                        bool *key_given, sbx_error_t *err) {
  const char *eq = strchr(s, '=');
  *key_given = eq != NULL;
  if (eq) {
    size_t n = (size_t)(eq - s);
    if (n == 0) return sbx_error_set(err, 0, "key name for file path %s missing", eq + 1);
    if (!eq[1]) return sbx_error_set(err, 0, "file path for key name %.*s missing", (int)n, s);
    if (n >= keysize) return bad_key(s, err);
    memcpy(keybuf, s, n);
    keybuf[n] = '\0';
    *path = eq + 1;
  } else {
    if (!*s) return sbx_error_set(err, 0, "--from-file needs a path");
    *path = s;
    size_t len = strlen(s);
    while (len > 1 && s[len - 1] == '/') len--;
    const char *base = s;
    for (size_t i = 0; i < len; i++)
      if (s[i] == '/') base = s + i + 1;
    size_t n = (size_t)(s + len - base);
    if (n >= keysize) return bad_key(base, err);
    memcpy(keybuf, base, n);
    keybuf[n] = '\0';
    if (n == 0) keybuf[0] = '\0';
  }
  if (*keybuf && !sbx_is_config_key(keybuf)) return bad_key(keybuf, err);
  return 0;
}

int sbx_parse_from_stdin(const char *s, sbx_error_t *err) {
  if (!*s) return sbx_error_set(err, 0, "--from-stdin needs a key: --from-stdin=KEY");
  return sbx_is_config_key(s) ? 0 : bad_key(s, err);
}

int sbx_parse_env_line(const char *line, char *keybuf, size_t keysize, const char **value, sbx_error_t *err) {
  while (isspace((unsigned char)*line)) line++;
  *keybuf = '\0';
  *value = NULL;
  if (!*line || *line == '#') return 0;
  const char *eq = strchr(line, '=');
  size_t n = eq ? (size_t)(eq - line) : strlen(line);
  if (n >= keysize) return bad_key(line, err);
  memcpy(keybuf, line, n);
  keybuf[n] = '\0';
  if (!sbx_is_config_key(keybuf) || isdigit((unsigned char)*keybuf)) {
    int r = sbx_error_set(err, 0, "\"%.64s\" is not a valid key name: letters, digits, '-', '_' and '.', not "
                                  "starting with a digit; a line is KEY=VALUE, or # a comment", keybuf);
    *keybuf = '\0';
    return r;
  }
  if (eq) *value = eq + 1;
  return 0;
}

int sbx_parse_pod_arg(const char *arg, const char **name, sbx_error_t *err) {
  const char *slash = strchr(arg, '/');
  if (!slash) {
    *name = arg;
  } else {
    char kind[64];
    size_t n = (size_t)(slash - arg);
    if (n == 0 || n >= sizeof kind)
      return sbx_error_set(err, 0, "\"%.64s\" is not NAME or TYPE/NAME", arg);
    memcpy(kind, arg, n);
    kind[n] = '\0';
    const sbx_kind_t *k = sbx_kind_lookup(kind);
    bool pod = strcasecmp(kind, "pod") == 0 || strcasecmp(kind, "pods") == 0 ||
               strcasecmp(kind, "po") == 0;
    if (!pod && (!k || strcmp(k->kind, "Sandbox") != 0))
      return sbx_error_set(err, 0, "\"%.64s\": only sandboxes (or pod/NAME) have logs and run "
                                   "commands", arg);
    *name = slash + 1;
  }
  if (!**name || strchr(*name, '/'))
    return sbx_error_set(err, 0, "\"%.64s\" is not NAME or TYPE/NAME", arg);
  return 0;
}

int sbx_tail_offset(int fd, off_t size, long lines, off_t *start, sbx_error_t *err) {
  if (lines < 0 || size <= 0) {
    *start = 0;
    return 0;
  }
  if (lines == 0) {
    *start = size;
    return 0;
  }
  char buf[8192];
  off_t pos = size;
  long seen = 0;
  bool last_byte = true; /* the file's last byte: a newline there ends the last line */
  while (pos > 0) {
    size_t n = pos < (off_t)sizeof buf ? (size_t)pos : sizeof buf;
    pos -= (off_t)n;
    ssize_t r;
    do r = pread(fd, buf, n, pos);
    while (r < 0 && errno == EINTR);
    if (r < 0) return sbx_error_sys(err, "reading the log");
    if ((size_t)r != n) return sbx_error_set(err, 0, "the log changed while it was read");
    for (size_t i = n; i-- > 0;) {
      if (buf[i] == '\n') {
        if (last_byte) {
          last_byte = false;
          continue;
        }
        if (++seen == lines) {
          *start = pos + (off_t)i + 1;
          return 0;
        }
      }
      last_byte = false;
    }
  }
  *start = 0;
  return 0;
}
