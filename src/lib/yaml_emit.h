/* yaml_emit.h: JSON objects written out as YAML, the way `kubectl get -o yaml` shows them.
 *
 * The conversion walks a json-c tree and drives libyaml's emitter with events (block
 * mappings and sequences, no document markers), so all YAML syntax — indentation, escaping,
 * when a scalar must be quoted because of its characters — is libyaml's job. What libyaml
 * cannot know is that a JSON *string* such as "yes", "1", "~" or "2024-01-02" would be read
 * back as a bool, number, null or timestamp by a YAML 1.1 reader (Kubernetes' and PyYAML
 * are such readers); those strings are emitted double-quoted, like Go's yaml encoder does.
 * Multi-line strings use the literal block style (`|`) when libyaml allows it. */
#ifndef SBX_YAML_EMIT_H
#define SBX_YAML_EMIT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "lib/error.h"

enum {
  SBX_YAML_SORT_KEYS = 1 << 0, /* mapping keys in byte order, as kubectl prints objects */
};

/* True when `s`, written as a plain (unquoted) YAML scalar, would be read back as
 * something other than that string: null, bool, int, float, timestamp, merge key, or the
 * empty string. */
bool sbx_yaml_plain_is_ambiguous(const char *s);

/* Emit `obj` (any JSON value) as one YAML document. Returns a malloc'd NUL-terminated
 * string, or NULL with err filled. */
char *sbx_yaml_from_json(json_object *obj, unsigned flags, sbx_error_t *err);

/* Same, written to `out`. Returns 0 or -1. */
int sbx_yaml_write(FILE *out, json_object *obj, unsigned flags, sbx_error_t *err);

#endif
