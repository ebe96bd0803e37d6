/* manifest.c: YAML/JSON documents into json-c objects with a path -> line map (see
 * manifest.h).
 *
 * Design: libyaml's event API drives a small builder. A stack of frames holds the open
 * mappings and sequences; each frame knows its own path, so every value added to it gets
 * its path ("a.b[2].c") and line recorded in the document's line map in one place
 * (add_value). Because JSON is a subset of YAML's flow syntax, the same parser reads JSON
 * manifests and their lines too. Plain scalars are typed here (resolve_plain) with the
 * YAML 1.1 rules Kubernetes' reader uses; quoted ones stay strings. Everything that could
 * make a small input expand (aliases, merge keys) or blow the stack (depth) is refused
 * while the events arrive, so no work is done past the first problem. */
#include "lib/manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lib/names.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

struct frame {
  json_object *obj; /* borrowed: owned by its parent or by the builder's root */
  char *path;
  bool is_map;
  char *key; /* mapping: the key waiting for its value, NULL when a key comes next */
  int key_line;
  size_t index; /* sequence: next index */
};

struct builder {
  const char *source;
  const char *buf;
  size_t len;
  sbx_error_t *err;
  struct frame stack[SBX_MANIFEST_MAX_DEPTH + 1];
  size_t depth;
  json_object *root;  /* the current document's value, NULL until one arrives */
  json_object *lines; /* the current document's line map */
  int doc_line;
  size_t line_base; /* lines before the slice being parsed (JSON streams) */
  struct sbx_manifest_doc *docs;
  size_t ndocs, cap;
};

static int fail_at(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct builder *b, const yaml_mark_t *m, const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  sbx_error_set(b->err, 0, "%s: line %zu column %zu: %s", b->source,
                b->line_base + m->line + 1, m->column + 1, why);
  if (b->err) b->err->errnum = EINVAL;
  return -1;
}

static char *path_join(const char *parent, const char *key) {
  char *p = NULL;
  int r = (parent && *parent) ? asprintf(&p, "%s.%s", parent, key) : asprintf(&p, "%s", key);
  return r < 0 ? NULL : p;
}

static char *path_index(const char *parent, size_t i) {
  char *p = NULL;
  return asprintf(&p, "%s[%zu]", parent ? parent : "", i) < 0 ? NULL : p;
}

static int oom(struct builder *b) {
  sbx_error_set(b->err, ENOMEM, "%s: out of memory", b->source);
  return -1;
}

/* Attach v (ownership taken) to the open container, or make it the document's root.
 * On success *path_out (if not NULL) is the new value's path, malloc'd. */
static int add_value(struct builder *b, json_object *v, const yaml_mark_t *m, char **path_out) {
  char *path = NULL;
  int line = (int)(b->line_base + m->line + 1);
  if (b->depth == 0) {
    b->root = v;
    b->doc_line = line;
    path = strdup("");
  } else {
    struct frame *f = &b->stack[b->depth - 1];
    if (f->is_map) {
      path = path_join(f->path, f->key);
      line = f->key_line;
      if (path) json_object_object_add(f->obj, f->key, v);
      free(f->key);
      f->key = NULL;
    } else {
      path = path_index(f->path, f->index++);
      if (path) json_object_array_add(f->obj, v);
    }
    if (!path) {
      json_object_put(v);
      return oom(b);
    }
    json_object_object_add(b->lines, path, json_object_new_int(line));
  }
  if (!path) return oom(b);
  if (path_out)
    *path_out = path;
  else
    free(path);
  return 0;
}

static bool eq_any(const char *s, const char *const *set) {
  for (; *set; set++)
    if (strcmp(s, *set) == 0) return true;
  return false;
}

static bool all_digits(const char *s, int base) {
  if (!*s) return false;
  for (; *s; s++) {
    int d;
    if (*s >= '0' && *s <= '9')
      d = *s - '0';
    else if (*s >= 'a' && *s <= 'f')
      d = *s - 'a' + 10;
    else if (*s >= 'A' && *s <= 'F')
      d = *s - 'A' + 10;
    else
      return false;
    if (d >= base) return false;
  }
  return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_float_text(const char *s) {
  if (*s == '-' || *s == '+') s++;
  size_t intd = 0, fracd = 0;
  while (*s >= '0' && *s <= '9') s++, intd++;
  if (*s == '.') {
    s++;
    while (*s >= '0' && *s <= '9') s++, fracd++;
    if (intd == 0 && fracd == 0) return false;
  } else if (intd == 0) {
    return false;
  }
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '-' || *s == '+') s++;
    if (!(*s >= '0' && *s <= '9')) return false;
    while (*s >= '0' && *s <= '9') s++;
  }
  return *s == '\0';
}

/* Integer in the YAML 1.1 forms; false if s is not one or does not fit an int64. */
static bool parse_int(const char *s, int64_t *out) {
  bool neg = false;
  if (*s == '-' || *s == '+') neg = (*s++ == '-');
  int base = 10;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    base = 16, s += 2;
  else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
    base = 8, s += 2;
  else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
    base = 2, s += 2;
  else if (s[0] == '0' && s[1])
    base = 8, s += 1;
  if (!all_digits(s, base)) return false;
  errno = 0;
  unsigned long long u = strtoull(s, NULL, base);
  if (errno == ERANGE) return false;
  if (neg) {
    if (u > (unsigned long long)INT64_MAX + 1) return false;
    *out = (int64_t)(0 - u);
  } else {
    if (u > (unsigned long long)INT64_MAX) return false;
    *out = (int64_t)u;
  }
  return true;
}

enum resolved { R_STRING, R_NULL, R_BOOL, R_INT, R_FLOAT };

/* Type a plain scalar; the value for the non-string types lands in *v. */
static enum resolved resolve_plain(const char *text, size_t len, json_object **v) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
  static const char *const trues[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                      "on", "On", "ON", NULL};
  static const char *const falses[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                       "off", "Off", "OFF", NULL};
  *v = NULL;
  if (strlen(text) != len) return R_STRING;
  if (eq_any(text, nulls)) return R_NULL;
  if (eq_any(text, trues)) return (*v = json_object_new_boolean(1)), R_BOOL;
  if (eq_any(text, falses)) return (*v = json_object_new_boolean(0)), R_BOOL;
  if (len > 128) return R_STRING;
  char plain[130];
  size_t o = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] != '_') plain[o++] = text[i];
  plain[o] = '\0';
  if (o == 0) return R_STRING;
  int64_t n;
  if (parse_int(plain, &n)) return (*v = json_object_new_int64(n)), R_INT;
  if (is_float_text(plain)) {
    double d = strtod(plain, NULL);
    /* Keep the text as written for serialisation ("0.5" stays "0.5"). */
    *v = json_object_new_double_s(d, plain);
    return R_FLOAT;
  }
  return R_STRING;
}

static int scalar_value(struct builder *b, yaml_event_t *ev, json_object **out) {
  const char *text = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  json_object *v = NULL;
  *out = NULL;
  if (tag && strcmp(tag, "!") != 0) {
    if (strcmp(tag, TAG_PREFIX "str") == 0) {
      plain = false;
    } else {
      static const char *const typed[] = {"int", "float", "bool", "null", NULL};
      const char *t = strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0
                          ? tag + strlen(TAG_PREFIX)
                          : NULL;
      if (!t || !eq_any(t, typed)) {
        char q[160];
        sbx_escape_for_message(tag, 100, q, sizeof q);
        return fail_at(b, &ev->start_mark, "the tag \"%s\" is not supported", q);
      }
      enum resolved r = resolve_plain(text, len, &v);
      bool ok = (strcmp(t, "int") == 0 && r == R_INT) ||
                (strcmp(t, "float") == 0 && (r == R_INT || r == R_FLOAT)) ||
                (strcmp(t, "bool") == 0 && r == R_BOOL) ||
                (strcmp(t, "null") == 0 && r == R_NULL);
      if (!ok) {
        json_object_put(v);
        char q[160];
        sbx_escape_for_message(text, 100, q, sizeof q);
        return fail_at(b, &ev->start_mark, "\"%s\" is not a valid !!%s", q, t);
      }
      if (strcmp(t, "float") == 0 && r == R_INT) {
        int64_t n = json_object_get_int64(v);
        json_object_put(v);
        v = json_object_new_double((double)n);
      }
      *out = v;
      return 0;
    }
  }
  if (plain) {
    if (resolve_plain(text, len, &v) != R_STRING) {
      *out = v; /* NULL for null */
      return 0;
    }
  }
  *out = json_object_new_string_len(text, (int)len);
  return *out ? 0 : oom(b);
}

static int check_collection_tag(struct builder *b, const yaml_event_t *ev, const char *tag,
                                const char *want) {
  if (!tag || strcmp(tag, "!") == 0) return 0;
  if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0 &&
      strcmp(tag + strlen(TAG_PREFIX), want) == 0)
    return 0;
  char q[160];
  sbx_escape_for_message(tag, 100, q, sizeof q);
  return fail_at(b, &ev->start_mark, "the tag \"%s\" is not supported", q);
}

static int open_collection(struct builder *b, yaml_event_t *ev, bool is_map) {
  const char *tag = (const char *)(is_map ? ev->data.mapping_start.tag
                                          : ev->data.sequence_start.tag);
  if (check_collection_tag(b, ev, tag, is_map ? "map" : "seq") < 0) return -1;
  if (b->depth > 0 && b->stack[b->depth - 1].is_map && !b->stack[b->depth - 1].key)
    return fail_at(b, &ev->start_mark,
                   "a mapping key must be a plain value, not a %s",
                   is_map ? "mapping" : "sequence");
  if (b->depth >= SBX_MANIFEST_MAX_DEPTH)
    return fail_at(b, &ev->start_mark, "nested more than %d levels deep",
                   SBX_MANIFEST_MAX_DEPTH);
  json_object *c = is_map ? json_object_new_object() : json_object_new_array();
  if (!c) return oom(b);
  char *path = NULL;
  if (add_value(b, c, &ev->start_mark, &path) < 0) return -1;
  struct frame *f = &b->stack[b->depth++];
  *f = (struct frame){.obj = c, .path = path, .is_map = is_map};
  return 0;
}

static void close_collection(struct builder *b) {
  struct frame *f = &b->stack[--b->depth];
  free(f->path);
  free(f->key);
  *f = (struct frame){0};
}

static int on_scalar(struct builder *b, yaml_event_t *ev) {
  struct frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
  if (f && f->is_map && !f->key) {
    const char *k = (const char *)ev->data.scalar.value;
    size_t klen = ev->data.scalar.length;
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(k, "<<") == 0)
      return fail_at(b, &ev->start_mark,
                     "merge keys (<<) are not supported: write the fields out");
    if (strlen(k) != klen)
      return fail_at(b, &ev->start_mark, "a mapping key must not contain a NUL character");
    if (json_object_object_get_ex(f->obj, k, NULL)) {
      char q[160];
      sbx_escape_for_message(k, 100, q, sizeof q);
      return fail_at(b, &ev->start_mark, "the key \"%s\" appears twice in the same mapping",
                     q);
    }
    f->key = strdup(k);
    if (!f->key) return oom(b);
    f->key_line = (int)(b->line_base + ev->start_mark.line + 1);
    return 0;
  }
  json_object *v = NULL;
  if (scalar_value(b, ev, &v) < 0) return -1;
  return add_value(b, v, &ev->start_mark, NULL);
}

static void reset_doc(struct builder *b) {
  while (b->depth) close_collection(b);
  json_object_put(b->root);
  json_object_put(b->lines);
  b->root = NULL;
  b->lines = NULL;
}

static int end_doc(struct builder *b, const yaml_mark_t *m) {
  if (!b->root) { /* empty or null document: skipped */
    reset_doc(b);
    return 0;
  }
  if (!json_object_is_type(b->root, json_type_object)) {
    yaml_mark_t at = *m;
    at.line = (size_t)(b->doc_line > 0 ? b->doc_line - 1 : 0) - b->line_base;
    at.column = 0;
    return fail_at(b, &at,
                   "a manifest document must be a mapping (apiVersion, kind, metadata, ...), "
                   "not a %s",
                   json_type_to_name(json_object_get_type(b->root)));
  }
  if (b->ndocs == b->cap) {
    size_t ncap = b->cap ? b->cap * 2 : 4;
    struct sbx_manifest_doc *nd = realloc(b->docs, ncap * sizeof *nd);
    if (!nd) return oom(b);
    b->docs = nd;
    b->cap = ncap;
  }
  b->docs[b->ndocs++] = (struct sbx_manifest_doc){
      .obj = b->root, .lines = b->lines, .line = b->doc_line};
  b->root = NULL;
  b->lines = NULL;
  return 0;
}

static int parser_failed(struct builder *b, yaml_parser_t *p) {
  const char *problem = p->problem ? p->problem : "invalid YAML";
  yaml_mark_t m = p->problem_mark;
  if (p->error == YAML_MEMORY_ERROR) return oom(b);
  if (p->error == YAML_READER_ERROR) {
    /* The reader reports a byte offset: turn it into a line and column. */
    size_t off = p->problem_offset < b->len ? p->problem_offset : b->len;
    m.line = 0;
    m.column = 0;
    for (size_t i = 0; i < off; i++) {
      if (b->buf[i] == '\n')
        m.line++, m.column = 0;
      else
        m.column++;
    }
    if (p->problem_value != -1)
      return fail_at(b, &m, "%s (byte 0x%02x)", problem, (unsigned)p->problem_value & 0xff);
    return fail_at(b, &m, "%s", problem);
  }
  if (p->context)
    return fail_at(b, &m, "%s (%s that starts at line %zu)", problem, p->context,
                   b->line_base + p->context_mark.line + 1);
  return fail_at(b, &m, "%s", problem);
}

/* Parse buf[0..len) with libyaml, appending its documents to b->docs. */
static int parse_yaml(struct builder *b, const char *buf, size_t len) {
  yaml_parser_t parser;
  b->buf = buf;
  b->len = len;
  if (!yaml_parser_initialize(&parser)) return oom(b);
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  int r = 0;
  bool done = false;
  while (!done && r == 0) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      r = parser_failed(b, &parser);
      break;
    }
    switch (ev.type) {
      case YAML_STREAM_END_EVENT:
        done = true;
        break;
      case YAML_DOCUMENT_START_EVENT:
        reset_doc(b);
        b->lines = json_object_new_object();
        b->doc_line = (int)(b->line_base + ev.start_mark.line + 1);
        if (!b->lines) r = oom(b);
        break;
      case YAML_DOCUMENT_END_EVENT:
        r = end_doc(b, &ev.start_mark);
        break;
      case YAML_ALIAS_EVENT:
        r = fail_at(b, &ev.start_mark,
                    "aliases (*%s) are not supported: write the value out in full",
                    ev.data.alias.anchor ? (const char *)ev.data.alias.anchor : "");
        break;
      case YAML_SCALAR_EVENT:
        r = on_scalar(b, &ev);
        break;
      case YAML_MAPPING_START_EVENT:
        r = open_collection(b, &ev, true);
        break;
      case YAML_SEQUENCE_START_EVENT:
        r = open_collection(b, &ev, false);
        break;
      case YAML_MAPPING_END_EVENT:
      case YAML_SEQUENCE_END_EVENT:
        close_collection(b);
        break;
      default:
        break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  reset_doc(b);
  return r;
}

static size_t skip_space(const char *buf, size_t len, size_t i) {
  while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r')) i++;
  return i;
}

static size_t count_lines(const char *buf, size_t from, size_t to, size_t *col) {
  size_t n = 0;
  *col = 0;
  for (size_t i = from; i < to; i++) {
    if (buf[i] == '\n')
      n++, *col = 0;
    else
      (*col)++;
  }
  return n;
}

/* A stream of JSON objects ("{...}{...}" or one per line, as kubectl accepts; libyaml
 * reads only the first as a document): json-c finds where each one ends, then each is read by the YAML path (JSON being YAML) with
 * its line offset, so typing and line numbers are the same as for YAML. */
static int parse_json_stream(struct builder *b, const char *buf, size_t len) {
  json_tokener *tok = json_tokener_new_ex(SBX_MANIFEST_MAX_DEPTH + 1);
  if (!tok) return oom(b);
  size_t pos = skip_space(buf, len, 0);
  int r = 0;
  while (r == 0 && pos < len) {
    json_tokener_reset(tok);
    size_t chunk = len - pos > INT32_MAX ? INT32_MAX : len - pos;
    json_object *o = json_tokener_parse_ex(tok, buf + pos, (int)chunk);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = pos + json_tokener_get_parse_end(tok);
    json_object_put(o);
    if (je != json_tokener_success) {
      size_t col;
      yaml_mark_t m = {0, 0, 0};
      size_t at = je == json_tokener_continue ? len : end;
      m.line = count_lines(buf, 0, at, &col);
      m.column = col;
      b->line_base = 0;
      r = fail_at(b, &m, "%s",
                  je == json_tokener_continue ? "unexpected end of JSON input"
                                              : json_tokener_error_desc(je));
      break;
    }
    size_t col;
    b->line_base = count_lines(buf, 0, pos, &col);
    r = parse_yaml(b, buf + pos, end - pos);
    pos = skip_space(buf, len, end);
  }
  json_tokener_free(tok);
  return r;
}

int sbx_manifest_parse(const char *buf, size_t len, const char *source_name,
                       struct sbx_manifest_doc **docs, size_t *ndocs, sbx_error_t *err) {
  const char *source = source_name ? source_name : "input";
  struct builder b = {.source = source, .err = err};
  *docs = NULL;
  *ndocs = 0;
  int r = parse_yaml(&b, buf, len);
  size_t first = skip_space(buf, len, 0);
  if (r < 0 && first < len && buf[first] == '{') {
    /* Not one YAML stream; perhaps several JSON objects one after the other. If that
     * fails too within its first object, the YAML parser's message stands. */
    sbx_error_t yerr = {0};
    if (err) yerr = *err;
    sbx_manifest_docs_free(b.docs, b.ndocs);
    b = (struct builder){.source = source, .err = err};
    r = parse_json_stream(&b, buf, len);
    if (r < 0 && b.ndocs == 0 && err) *err = yerr;
  }
  if (r < 0) {
    sbx_manifest_docs_free(b.docs, b.ndocs);
    return -1;
  }
  *docs = b.docs;
  *ndocs = b.ndocs;
  return 0;
}

void sbx_manifest_docs_free(struct sbx_manifest_doc *docs, size_t n) {
  if (!docs) return;
  for (size_t i = 0; i < n; i++) {
    json_object_put(docs[i].obj);
    json_object_put(docs[i].lines);
  }
  free(docs);
}

int sbx_manifest_line(const struct sbx_manifest_doc *d, const char *path) {
  json_object *v;
  if (!d || !d->lines || !path) return 0;
  if (!*path) return d->line;
  if (!json_object_object_get_ex(d->lines, path, &v)) return 0;
  return json_object_get_int(v);
}
