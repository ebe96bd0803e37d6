/* selector.h: Kubernetes label and field selectors, parsed and matched (pure; selector.c).
 *
 * Label selectors (?labelSelector=):  a=b  a==b  a!=b  a in (x,y)  a notin (x)  a  !a
 * joined by commas (AND). Keys are qualified names ([prefix/]name), values label values.
 * Field selectors (?fieldSelector=):  f=v  f==v  f!=v  joined by commas, and each field
 * must be one of the fields the caller names (e.g. metadata.name); an object's field is
 * the string at that dotted path, "" when absent (as Kubernetes compares them).
 * Bad input is refused with EINVAL and a message that says what was wrong. */
#ifndef SBX_SELECTOR_H
#define SBX_SELECTOR_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

enum sbx_sel_op { SBX_SEL_EQ, SBX_SEL_NEQ, SBX_SEL_IN, SBX_SEL_NOTIN, SBX_SEL_EXISTS, SBX_SEL_ABSENT };

struct sbx_sel_req {
  char *key;
  enum sbx_sel_op op;
  char **values; /* EQ/NEQ: one; IN/NOTIN: one or more; EXISTS/ABSENT: none */
  size_t nvalues;
};

struct sbx_selector {
  struct sbx_sel_req *reqs;
  size_t n; /* 0: selects everything */
};

/* Parse a label selector (NULL or "" selects everything). 0, or -1 with EINVAL. */
int sbx_label_selector_parse(const char *text, struct sbx_selector *out, sbx_error_t *err);
/* Parse a field selector; `fields` (NULL-terminated) are the fields that may be named. */
int sbx_field_selector_parse(const char *text, const char *const *fields, struct sbx_selector *out,
                             sbx_error_t *err);
void sbx_selector_free(struct sbx_selector *s);

/* Whether a labels map (metadata.labels; NULL: none) satisfies every requirement. */
bool sbx_selector_match_labels(const struct sbx_selector *s, json_object *labels);
/* Whether an object's fields (dotted paths into obj) satisfy every requirement. */
bool sbx_selector_match_fields(const struct sbx_selector *s, json_object *obj);
/* The value a field selector requires of `field` with =/==, or NULL if none. */
const char *sbx_selector_equal_value(const struct sbx_selector *s, const char *field);

#endif
