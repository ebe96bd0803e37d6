/* quantity.c: exact parsing of Kubernetes resource quantities (see quantity.h).
 *
 * Design: parsing and arithmetic are separate steps. parse() splits the text into its
 * decimal digits (integer and fraction parts run together), a power of ten (from the
 * fraction length, a decimal suffix or an exponent) and a power of two (a binary suffix),
 * so the value is exactly  digits * 10^e10 * 2^e2.  scale() then produces
 * ceil(value * 10^target) as an int64 for the view asked for (target 3: milli-units,
 * target 0: whole units): it multiplies the digit string by 2^e2 in decimal, then either
 * appends zeros or cuts fraction digits off (rounding up when any cut digit is non-zero).
 * No floating point and no intermediate that can overflow; each view refuses only values
 * that do not fit its own int64, so "8E" is a valid byte count (8e18) although it does
 * not fit in milli-units.
 *
 * Grammar accepted (a strict subset of Kubernetes'):
 *   quantity := ['+'] digits ['.' digits] suffix
 *   suffix   := "" | n u m k M G T P E | Ki Mi Gi Ti Pi Ei | (e|E) ['+'|'-'] digits
 * Differences from Kubernetes, on purpose: a '-' sign is refused (nothing here can be
 * negative; Kubernetes parses "-1" and refuses it later); a number needs a digit before
 * and after a decimal point: ".5" and "1." are refused with a hint ("0.5", "1") although
 * Kubernetes reads them, because they are almost always typos and their canonical forms
 * are accepted by both; a lone sign or "." (Kubernetes reads them as 0) is refused. The
 * text is at most QTY_MAX_LEN bytes. */
#include "lib/quantity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/names.h"

#define QTY_MAX_LEN 128
#define QUOTE_MAX 40
/* Exponents beyond this are clamped: any non-zero value is then out of range or rounds
 * up to the smallest unit either way. */
#define EXP_CLAMP 100000

struct parsed {
  unsigned char dig[QTY_MAX_LEN + 32]; /* decimal digits, most significant first */
  size_t n;
  int e10;
  int e2;
};

/* Fill err with 'quantity "<s escaped>": <why>' and errnum (no strerror text appended). */
static int fail(sbx_error_t *err, int errnum, const char *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(sbx_error_t *err, int errnum, const char *s, const char *fmt, ...) {
  char quoted[QUOTE_MAX * 4 + 8];
  char why[256];
  va_list ap;
  sbx_escape_for_message(s, QUOTE_MAX, quoted, sizeof quoted);
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  sbx_error_set(err, 0, "quantity \"%s\": %s", quoted, why);
  if (err) err->errnum = errnum;
  return -1;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static const struct {
  const char *suffix;
  int e10, e2;
} suffixes[] = {
    {"", 0, 0},   {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},
    {"M", 6, 0},  {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},
    {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
};

/* Read the suffix `sfx` (the rest of the text) into p->e10 / p->e2. Returns 0, or -1 if it is not one. */
static int parse_suffix(const char *sfx, struct parsed *p) {
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    if (strcmp(sfx, suffixes[i].suffix) == 0) {
      p->e10 += suffixes[i].e10;
      p->e2 = suffixes[i].e2;
      return 0;
    }
  }
  if (sfx[0] != 'e' && sfx[0] != 'E') return -1;
  const char *q = sfx + 1;
  bool neg = false;
  if (*q == '+' || *q == '-') neg = (*q++ == '-');
  if (!is_digit(*q)) return -1;
  int e = 0;
  for (; is_digit(*q); q++)
    if (e < EXP_CLAMP) e = e * 10 + (*q - '0');
  if (*q) return -1;
  if (e > EXP_CLAMP) e = EXP_CLAMP;
  p->e10 += neg ? -e : e;
  return 0;
}

static int parse(const char *s, struct parsed *p, sbx_error_t *err) {
  memset(p, 0, sizeof *p);
  if (!s || !*s) {
    sbx_error_set(err, 0, "quantity must not be empty (examples: 500m, 2, 1.5, 4Gi)");
    if (err) err->errnum = EINVAL;
    return -1;
  }
  if (strnlen(s, QTY_MAX_LEN + 1) > QTY_MAX_LEN)
    return fail(err, EINVAL, s, "too long (at most %d characters)", QTY_MAX_LEN);
  const char *c = s;
  if (*c == '-') return fail(err, EINVAL, s, "must not be negative");
  if (*c == '+') c++;
  if (*c == '.' && is_digit(c[1]))
    return fail(err, EINVAL, s, "a decimal point needs a digit before it (write 0.5, not .5)");
  if (!is_digit(*c))
    return fail(err, EINVAL, s,
                "must be a number with an optional suffix (examples: 500m, 2, 1.5, 4Gi)");
  for (; is_digit(*c); c++)
    if (p->n > 0 || *c != '0') p->dig[p->n++] = (unsigned char)(*c - '0');
  if (*c == '.') {
    c++;
    if (!is_digit(*c))
      return fail(err, EINVAL, s, "a decimal point needs a digit after it");
    for (; is_digit(*c); c++) {
      if (p->n > 0 || *c != '0') p->dig[p->n++] = (unsigned char)(*c - '0');
      p->e10--;
    }
  }
  if (*c == '.') return fail(err, EINVAL, s, "has more than one decimal point");
  if (parse_suffix(c, p) < 0) {
    char sfx[QUOTE_MAX * 4 + 8];
    sbx_escape_for_message(c, QUOTE_MAX, sfx, sizeof sfx);
    return fail(err, EINVAL, s,
                "unknown suffix \"%s\" (use one of n u m k M G T P E, Ki Mi Gi Ti Pi Ei, "
                "or an exponent such as e3)",
                sfx);
  }
  return 0;
}

/* ceil(value * 10^target) into *out. Returns 0, or -1 if it does not fit an int64. */
static int scale(const struct parsed *in, int target, int64_t *out) {
  struct parsed p = *in;
  /* Multiply by 2^e2 in decimal. 2^60 < 10^19, so at most 19 digits are added to the
   * (fewer than QTY_MAX_LEN) digits of the input: the buffer has room. */
  for (int k = 0; k < p.e2 && p.n > 0; k++) {
    unsigned carry = 0;
    for (size_t i = p.n; i-- > 0;) {
      unsigned d = p.dig[i] * 2u + carry;
      p.dig[i] = (unsigned char)(d % 10);
      carry = d / 10;
    }
    if (carry) {
      memmove(p.dig + 1, p.dig, p.n);
      p.dig[0] = (unsigned char)carry;
      p.n++;
    }
  }
  *out = 0;
  if (p.n == 0) return 0;  /* zero, whatever the exponent */
  long e = (long)p.e10 + target;
  size_t keep = p.n;
  bool round_up = false;
  if (e < 0) {
    size_t cut = (size_t)-e;
    if (cut >= p.n) {
      *out = 1;  /* 0 < value < 1 unit: rounds up to one */
      return 0;
    }
    keep = p.n - cut;
    for (size_t i = keep; i < p.n; i++)
      if (p.dig[i]) round_up = true;
    e = 0;
  } else if (e > 19) {
    return -1;  /* at least 10^20 */
  }
  int64_t v = 0;
  for (size_t i = 0; i < keep; i++)
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, p.dig[i], &v))
      return -1;
  for (long i = 0; i < e; i++)
    if (__builtin_mul_overflow(v, 10, &v)) return -1;
  if (round_up && __builtin_add_overflow(v, 1, &v)) return -1;
  *out = v;
  return 0;
}

int sbx_quantity_parse(const char *s, int64_t *milli, sbx_error_t *err) {
  struct parsed p;
  if (parse(s, &p, err) < 0) return -1;
  int64_t v;
  if (scale(&p, 3, &v) < 0)
    return fail(err, ERANGE, s, "too large (at most 9223372036854775807m, about 9.2P)");
  *milli = v;
  return 0;
}

int sbx_quantity_cpu_millis(const char *s, int64_t *millis, sbx_error_t *err) {
  int64_t v;
  if (sbx_quantity_parse(s, &v, err) < 0) return -1;
  if (v <= 0) return fail(err, EINVAL, s, "a CPU quantity must be positive (at least 1m)");
  *millis = v;
  return 0;
}

int sbx_quantity_bytes(const char *s, int64_t *bytes, sbx_error_t *err) {
  struct parsed p;
  if (parse(s, &p, err) < 0) return -1;
  int64_t v;
  if (scale(&p, 0, &v) < 0)
    return fail(err, ERANGE, s,
                "too large (at most 9223372036854775807 bytes, just under 8Ei)");
  if (v <= 0)
    return fail(err, EINVAL, s, "a size in bytes must be positive (for example 512Mi)");
  *bytes = v;
  return 0;
}

void sbx_quantity_format_cpu(int64_t millis, char *out, size_t n) {
  if (millis % 1000 == 0) snprintf(out, n, "%" PRId64, millis / 1000);
  else snprintf(out, n, "%" PRId64 "m", millis);
}

void sbx_quantity_format_bytes(int64_t bytes, char *out, size_t n) {
  static const char *const suffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
  size_t i = 0;
  while (i + 1 < sizeof suffix / sizeof *suffix && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    i++;
  }
  snprintf(out, n, "%" PRId64 "%s", bytes, suffix[i]);
}

void sbx_bytes_human(int64_t b, char *out, size_t n) {
  if (b >= (1ll << 40)) snprintf(out, n, "%.1fTi", (double)(b / (1ll << 30)) / 1024);
  else if (b >= (1ll << 30)) snprintf(out, n, "%.1fGi", (double)(b / (1ll << 20)) / 1024);
  else snprintf(out, n, "%lldMi", (long long)(b / (1ll << 20)));
}

void sbx_oom_message(int64_t limit, char *out, size_t size) {
  char q[32];
  sbx_quantity_format_bytes(limit, q, sizeof q);
  if (limit > 0) snprintf(out, size, "killed: out of memory (limit %s)", q);
  else snprintf(out, size, "killed: out of memory (no limit of its own: your sandboxes' or the machine's memory ran out)");
}
