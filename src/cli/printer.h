/* printer.h: how `sbx get` shows objects: kubectl's tables, `-o name`, `-o json`,
 * `-o yaml`, and the one-line form of a server error.
 *
 * Everything here is pure (objects in, text out, the current time passed in), so the
 * exact output is unit-tested without a daemon. Tables follow kubectl's layout: upper-case
 * headers, columns left-aligned and padded to the widest cell plus three spaces, the last
 * column unpadded. Which columns a kind has is a small table in printer.c, the Sandbox's
 * being the CRD's printer columns (READY, REASON, AGE). */
#ifndef SBX_CLI_PRINTER_H
#define SBX_CLI_PRINTER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "cli/kinds.h"
#include "lib/error.h"

typedef enum sbx_output {
  SBX_OUTPUT_TABLE,
  SBX_OUTPUT_WIDE,
  SBX_OUTPUT_NAME,
  SBX_OUTPUT_JSON,
  SBX_OUTPUT_YAML,
} sbx_output_t;

typedef struct sbx_print_opts {
  sbx_output_t output;
  bool all_namespaces; /* NAMESPACE first, OWNER added */
  time_t now;          /* for AGE */
} sbx_print_opts_t;

#define SBX_OWNER_ANNOTATION "sbx.x-k8s.io/owner-uid"

/* "wide", "name", "json", "yaml" (and "" for the table). Returns 0 or -1. */
int sbx_output_parse(const char *s, sbx_output_t *out, sbx_error_t *err);

/* kubectl's AGE: "0s", "45s", "3m20s", "12m", "2h30m", "10h", "3d4h", "30d", "2y15d", "9y";
 * "<invalid>" when more than a second in the future. */
void sbx_format_age(int64_t seconds, char *buf, size_t size);

/* RFC 3339 ("2024-05-01T10:00:00Z", fractions and offsets allowed). Returns 0 or -1. */
int sbx_parse_timestamp(const char *s, time_t *out);

/* Sort objects by namespace, then name. */
void sbx_sort_objects(json_object **items, size_t n);

/* Print items as opts->output says: a table (with header), names, or for JSON and YAML
 * the single object (single) or a LIST_KIND of them. Returns 0 or -1. */
int sbx_print_objects(FILE *out, const sbx_kind_t *kind, json_object **items, size_t n,
                      bool single, const sbx_print_opts_t *opts, sbx_error_t *err);

/* JSON as kubectl prints it: keys sorted, four-space indentation, "{}" and "[]" when empty.
 * Returns a malloc'd string ending in a newline, or NULL. */
char *sbx_json_pretty(json_object *o);

/* The line kubectl prints for a failed request, from the response body (a Status object,
 * or anything else) and the HTTP status:
 *   Error from server (NotFound): sandboxes.agents.x-k8s.io "x" not found */
void sbx_status_message(json_object *body, long http_code, char *buf, size_t size);

#endif
