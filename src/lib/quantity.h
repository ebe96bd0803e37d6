/* quantity.h: Kubernetes resource quantities ("500m", "2", "1.5", "4Gi", "128M", "1e3").
 *
 * A quantity is parsed exactly (no floating point) into thousandths ("milli-units"), with
 * overflow refused, so "0.5" CPU is 500 and "4Gi" of memory is 4294967296000. The accessors
 * give the two views the runtime needs: CPU in millicores, bytes rounded up. */
#ifndef SBX_QUANTITY_H
#define SBX_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

/* Parse `s`; on success *milli = value * 1000 (rounded up to a whole milli-unit).
 * Refuses empty strings, signs other than a leading '+', negative values, junk, unknown
 * suffixes, and anything that overflows int64. Returns 0 or -1 with err naming the input. */
int sbx_quantity_parse(const char *s, int64_t *milli, sbx_error_t *err);

/* CPU: "500m" -> 500, "2" -> 2000. Must be > 0. */
int sbx_quantity_cpu_millis(const char *s, int64_t *millis, sbx_error_t *err);

/* Memory/storage: "4Gi" -> 4294967296, "1.5Ki" -> 1536, "100m" -> 1 (rounded up). Must be > 0. */
int sbx_quantity_bytes(const char *s, int64_t *bytes, sbx_error_t *err);

/* The other way, for messages and quota objects: millicores as "2" or "1500m"; bytes with
 * the largest binary suffix that divides them exactly ("4Gi", "1536Ki", "1000"). */
void sbx_quantity_format_cpu(int64_t millis, char *out, size_t n);
void sbx_quantity_format_bytes(int64_t bytes, char *out, size_t n);
/* Bytes for a message, rounded down to the unit shown: "2.0Ti", "1.5Gi", "480Mi". */
void sbx_bytes_human(int64_t bytes, char *out, size_t size);
/* The words for a process killed for memory, the same in exec, run, logs and describe:
 * "killed: out of memory (limit 4Gi)"; limit 0: none of its own (what bounded it). */
void sbx_oom_message(int64_t limit, char *out, size_t size);

#endif
