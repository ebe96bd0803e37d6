/* prom.c: the Prometheus text exposition format 0.0.4 (prom.h): escaping, numbers,
 * samples and histograms, into a growing buffer. */
#include "lib/prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbx_histogram_observe(struct sbx_histogram *h, double value) {
  size_t i = 0;
  while (i < h->nbounds && value > h->bounds[i]) i++;
  h->counts[i]++;
  h->count++;
  h->sum += value;
}

void sbx_prom_init(struct sbx_prom *p) { memset(p, 0, sizeof *p); }

void sbx_prom_free(struct sbx_prom *p) {
  free(p->buf);
  memset(p, 0, sizeof *p);
}

char *sbx_prom_take(struct sbx_prom *p, size_t *len) {
  char *text = NULL;
  if (!p->failed) {
    text = p->buf ? p->buf : strdup("");
    *len = p->len;
    p->buf = NULL;
  }
  sbx_prom_free(p);
  return text;
}

static void put(struct sbx_prom *p, const char *s, size_t n) {
  if (p->failed) return;
  if (p->len + n + 1 > p->cap) {
    size_t cap = p->cap ? p->cap : 4096;
    while (p->len + n + 1 > cap) cap *= 2;
    char *nb = realloc(p->buf, cap);
    if (!nb) {
      p->failed = true;
      return;
    }
    p->buf = nb;
    p->cap = cap;
  }
  memcpy(p->buf + p->len, s, n);
  p->len += n;
  p->buf[p->len] = '\0';
}

static void puts_(struct sbx_prom *p, const char *s) { put(p, s, strlen(s)); }

/* s with \ and newline escaped, and " too when quoted (label values) */
static void put_escaped(struct sbx_prom *p, const char *s, bool quoted) {
  for (; *s; s++) {
    if (*s == '\\') puts_(p, "\\\\");
    else if (*s == '\n') puts_(p, "\\n");
    else if (*s == '"' && quoted) puts_(p, "\\\"");
    else put(p, s, 1);
  }
}

/* Integers as integers (exact up to 2^53), others in the shortest form that reads back the same. */
static void put_number(struct sbx_prom *p, double v) {
  char buf[64];
  if (isnan(v)) snprintf(buf, sizeof buf, "NaN");
  else if (isinf(v)) snprintf(buf, sizeof buf, v > 0 ? "+Inf" : "-Inf");
  else if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(long long)v)
    snprintf(buf, sizeof buf, "%lld", (long long)v);
  else {
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, sizeof buf, "%.17g", v);
  }
  puts_(p, buf);
}

void sbx_prom_family(struct sbx_prom *p, const char *name, const char *type, const char *help) {
  puts_(p, "# HELP ");
  puts_(p, name);
  puts_(p, " ");
  put_escaped(p, help, false);
  puts_(p, "\n# TYPE ");
  puts_(p, name);
  puts_(p, " ");
  puts_(p, type);
  puts_(p, "\n");
}

/* name{labels[,le="bound"]} value\n */
static void sample(struct sbx_prom *p, const char *name, const char *suffix, const char *const *labels,
                   const char *le, double value) {
  puts_(p, name);
  puts_(p, suffix);
  bool any = (labels && labels[0]) || le;
  if (any) puts_(p, "{");
  bool first = true;
  for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
    if (!first) puts_(p, ",");
    first = false;
    puts_(p, labels[i]);
    puts_(p, "=\"");
    put_escaped(p, labels[i + 1], true);
    puts_(p, "\"");
  }
  if (le) {
    if (!first) puts_(p, ",");
    puts_(p, "le=\"");
    puts_(p, le);
    puts_(p, "\"");
  }
  if (any) puts_(p, "}");
  puts_(p, " ");
  put_number(p, value);
  puts_(p, "\n");
}

void sbx_prom_sample(struct sbx_prom *p, const char *name, const char *const *labels, double value) {
  sample(p, name, "", labels, NULL, value);
}

void sbx_prom_histogram(struct sbx_prom *p, const char *name, const char *const *labels,
                        const struct sbx_histogram *h) {
  uint64_t cumulative = 0;
  char le[64];
  for (size_t i = 0; i < h->nbounds; i++) {
    cumulative += h->counts[i];
    struct sbx_prom tmp;
    sbx_prom_init(&tmp);
    put_number(&tmp, h->bounds[i]);
    snprintf(le, sizeof le, "%s", tmp.buf ? tmp.buf : "0");
    sbx_prom_free(&tmp);
    sample(p, name, "_bucket", labels, le, (double)cumulative);
  }
  sample(p, name, "_bucket", labels, "+Inf", (double)h->count);
  sample(p, name, "_sum", labels, NULL, h->sum);
  sample(p, name, "_count", labels, NULL, (double)h->count);
}
