/* prom.h: the Prometheus text exposition format (version 0.0.4), written by hand.
 *
 * A scrape is a text buffer of metric families: "# HELP name text", "# TYPE name type",
 * then one line per sample, `name{label="value",...} value`. Label values escape \, " and
 * newline; HELP text escapes \ and newline. A histogram is written as its cumulative
 * buckets (`name_bucket{le="0.1"}` ... `le="+Inf"`), `name_sum` and `name_count`.
 *
 * The buffer grows as needed; an allocation failure is remembered and makes
 * sbx_prom_take() answer NULL, so writers need not check every call. Pure: unit-tested. */
#ifndef SBX_PROM_H
#define SBX_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBX_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct sbx_prom {
  char *buf;
  size_t len, cap;
  bool failed; /* out of memory somewhere: the text is incomplete */
};

/* A histogram of fixed upper bounds (ascending; +Inf is implicit). Counts are per bucket,
 * not cumulative; the writer adds them up. Not locked: its owner guards it. */
#define SBX_HISTOGRAM_MAX_BOUNDS 16
struct sbx_histogram {
  size_t nbounds;
  double bounds[SBX_HISTOGRAM_MAX_BOUNDS];
  uint64_t counts[SBX_HISTOGRAM_MAX_BOUNDS + 1]; /* the last one: above every bound */
  uint64_t count;
  double sum;
};

void sbx_histogram_observe(struct sbx_histogram *h, double value);

void sbx_prom_init(struct sbx_prom *p);
void sbx_prom_free(struct sbx_prom *p);
/* The text (malloc'd, NUL-terminated, *len without the NUL), or NULL when out of memory;
 * the writer is empty afterwards. */
char *sbx_prom_take(struct sbx_prom *p, size_t *len);

/* "# HELP" and "# TYPE" of a family; type is counter, gauge, histogram or untyped. */
void sbx_prom_family(struct sbx_prom *p, const char *name, const char *type, const char *help);
/* One sample. labels: NULL, or name/value pairs ending with NULL
 * (const char *l[] = {"phase", "Running", NULL}). */
void sbx_prom_sample(struct sbx_prom *p, const char *name, const char *const *labels, double value);
/* A histogram's buckets, sum and count, each with the given labels plus le. */
void sbx_prom_histogram(struct sbx_prom *p, const char *name, const char *const *labels,
                        const struct sbx_histogram *h);

#endif
