/* yaml_emit.c: JSON -> YAML through libyaml's emitter (see yaml_emit.h).
 *
 * One recursive walk turns each JSON value into emitter events; the output is collected in
 * a memory stream. Only the choice of scalar style is ours: strings a YAML 1.1 reader would
 * resolve to another type are double-quoted, multi-line strings ask for the literal style,
 * everything else is left to libyaml (which quotes on its own when the characters demand). */
#include "lib/yaml_emit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/cleanup.h"

static bool in_list(const char *s, const char *const *list) {
  for (; *list; list++)
    if (strcmp(s, *list) == 0) return true;
  return false;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool sbx_yaml_plain_is_ambiguous(const char *s) {
  /* YAML 1.1 null, bool, merge and value keys. */
  static const char *const words[] = {
      "~",   "null", "Null", "NULL", "y",    "Y",     "yes",   "Yes",   "YES", "n",
      "N",   "no",   "No",   "NO",   "true", "True",  "TRUE",  "false", "False",
      "FALSE", "on", "On",   "ON",   "off",  "Off",   "OFF",   "<<",    "=",   NULL};
  if (*s == '\0' || in_list(s, words)) return true;

  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  /* Infinity and not-a-number. */
  static const char *const specials[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", NULL};
  if (in_list(p, specials)) return true;
  /* Numbers in every 1.1 spelling (decimal, 0x, 0o, 0b, 1_000, 1e3, .5, sexagesimal 1:30)
   * and timestamps (2024-01-02, 2024-01-02T03:04:05Z) all start with a digit, or a dot and
   * a digit. Quoting a few more strings than strictly needed is harmless: a quoted scalar
   * always reads back as a string. */
  if (!(is_digit(*p) || (*p == '.' && is_digit(p[1])))) return false;
  if (p == s && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) &&
      s[4] == '-')
    return true; /* a date or timestamp */
  for (; *p; p++)
    if (!strchr("0123456789abcdefABCDEF_.:xXoO+-", *p)) return false;
  return true;
}

typedef struct emit {
  yaml_emitter_t em;
  unsigned flags;
  sbx_error_t *err;
} emit_t;

static int fail(emit_t *e) {
  return sbx_error_set(e->err, 0, "emit YAML: %s",
                       e->em.problem ? e->em.problem : "unknown libyaml error");
}

static int emit_event(emit_t *e, yaml_event_t *ev) {
  if (!yaml_emitter_emit(&e->em, ev)) return fail(e);
  return 0;
}

static int emit_scalar(emit_t *e, const char *text, size_t len, yaml_scalar_style_t style) {
  yaml_event_t ev;
  if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)len, 1, 1, style))
    return sbx_error_set(e->err, ENOMEM, "emit YAML");
  return emit_event(e, &ev);
}

static int emit_string(emit_t *e, const char *s, size_t len, bool is_key) {
  yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
  if (strlen(s) != len || sbx_yaml_plain_is_ambiguous(s))
    style = YAML_DOUBLE_QUOTED_SCALAR_STYLE; /* embedded NUL, or would change type */
  else if (memchr(s, '\n', len))
    style = is_key ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_LITERAL_SCALAR_STYLE;
  return emit_scalar(e, s, len, style);
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int emit_value(emit_t *e, json_object *o);

static int emit_object(emit_t *e, json_object *o) {
  yaml_event_t ev;
  if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
    return sbx_error_set(e->err, ENOMEM, "emit YAML");
  if (emit_event(e, &ev) < 0) return -1;

  size_t n = (size_t)json_object_object_length(o), i = 0;
  _cleanup_free_ const char **keys = calloc(n ? n : 1, sizeof *keys);
  if (!keys) return sbx_error_set(e->err, ENOMEM, "emit YAML");
  json_object_object_foreach(o, k, v) {
    (void)v;
    if (i < n) keys[i++] = k;
  }
  n = i;
  if (e->flags & SBX_YAML_SORT_KEYS) qsort(keys, n, sizeof *keys, cmp_keys);
  for (i = 0; i < n; i++) {
    if (emit_string(e, keys[i], strlen(keys[i]), true) < 0) return -1;
    if (emit_value(e, json_object_object_get(o, keys[i])) < 0) return -1;
  }
  if (!yaml_mapping_end_event_initialize(&ev)) return sbx_error_set(e->err, ENOMEM, "emit YAML");
  return emit_event(e, &ev);
}

static int emit_array(emit_t *e, json_object *o) {
  yaml_event_t ev;
  if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE))
    return sbx_error_set(e->err, ENOMEM, "emit YAML");
  if (emit_event(e, &ev) < 0) return -1;
  size_t n = json_object_array_length(o);
  for (size_t i = 0; i < n; i++)
    if (emit_value(e, json_object_array_get_idx(o, i)) < 0) return -1;
  if (!yaml_sequence_end_event_initialize(&ev)) return sbx_error_set(e->err, ENOMEM, "emit YAML");
  return emit_event(e, &ev);
}

static int emit_value(emit_t *e, json_object *o) {
  char num[64];
  switch (json_object_get_type(o)) {
  case json_type_null:
    return emit_scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE);
  case json_type_boolean:
    return json_object_get_boolean(o) ? emit_scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE)
                                      : emit_scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE);
  case json_type_int:
    if (json_object_get_int64(o) == INT64_MAX && json_object_get_uint64(o) > INT64_MAX)
      snprintf(num, sizeof num, "%" PRIu64, json_object_get_uint64(o));
    else
      snprintf(num, sizeof num, "%" PRId64, json_object_get_int64(o));
    return emit_scalar(e, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
  case json_type_double: {
    /* json-c's own text for the number: the one it parsed, or its shortest form. */
    const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    return emit_scalar(e, t, strlen(t), YAML_PLAIN_SCALAR_STYLE);
  }
  case json_type_string:
    return emit_string(e, json_object_get_string(o), (size_t)json_object_get_string_len(o), false);
  case json_type_object:
    return emit_object(e, o);
  case json_type_array:
    return emit_array(e, o);
  }
  return sbx_error_set(e->err, 0, "emit YAML: unknown JSON type");
}

static int write_handler(void *data, unsigned char *buf, size_t size) {
  return fwrite(buf, 1, size, (FILE *)data) == size;
}

static int emit_document(FILE *out, json_object *obj, unsigned flags, sbx_error_t *err) {
  emit_t e = {.flags = flags, .err = err};
  if (!yaml_emitter_initialize(&e.em)) return sbx_error_set(err, ENOMEM, "emit YAML");
  yaml_emitter_set_output(&e.em, write_handler, out);
  yaml_emitter_set_unicode(&e.em, 1);
  yaml_emitter_set_indent(&e.em, 2);
  yaml_emitter_set_width(&e.em, -1); /* never fold long strings */

  yaml_event_t ev;
  int r = -1;
  if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || emit_event(&e, &ev) < 0)
    goto out;
  if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) || emit_event(&e, &ev) < 0)
    goto out;
  if (emit_value(&e, obj) < 0) goto out;
  if (!yaml_document_end_event_initialize(&ev, 1) || emit_event(&e, &ev) < 0) goto out;
  if (!yaml_stream_end_event_initialize(&ev) || emit_event(&e, &ev) < 0) goto out;
  if (!yaml_emitter_flush(&e.em)) {
    fail(&e);
    goto out;
  }
  r = 0;
out:
  if (r < 0 && err && err->msg[0] == '\0') sbx_error_set(err, ENOMEM, "emit YAML");
  yaml_emitter_delete(&e.em);
  return r;
}

char *sbx_yaml_from_json(json_object *obj, unsigned flags, sbx_error_t *err) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) {
    sbx_error_sys(err, "emit YAML");
    return NULL;
  }
  if (err) sbx_error_clear(err);
  int r = emit_document(f, obj, flags, err);
  if (fclose(f) != 0 && r == 0) r = sbx_error_sys(err, "emit YAML");
  if (r < 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

int sbx_yaml_write(FILE *out, json_object *obj, unsigned flags, sbx_error_t *err) {
  _cleanup_free_ char *text = sbx_yaml_from_json(obj, flags, err);
  if (!text) return -1;
  if (fputs(text, out) == EOF) return sbx_error_sys(err, "write YAML");
  return 0;
}
