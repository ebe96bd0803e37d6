/* selector.c: parsing and matching of Kubernetes label and field selectors (selector.h).
 *
 * A small hand-written scanner over the selector text, one requirement at a time; the
 * first thing it does not expect ends the parse with a message naming the selector, the
 * position and what was expected there. Keys and values are checked with the same rules
 * the manifest validator applies to labels (lib/names.c). */
#include "lib/selector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/names.h"
#include "lib/wire.h"

#define MAX_REQS 64
#define MAX_TOKEN 320

struct scan {
  const char *what; /* "labelSelector" or "fieldSelector" */
  const char *text;
  size_t pos;
  sbx_error_t *err;
};

static int fail(struct scan *sc, const char *fmt, const char *arg) {
  char quoted[200], msg[400];
  sbx_escape_for_message(sc->text, 120, quoted, sizeof quoted);
  snprintf(msg, sizeof msg, fmt, arg);
  return sbx_error_says(sc->err, EINVAL, "%s \"%s\": %s (at character %zu)", sc->what, quoted, msg, sc->pos + 1);
}

static void skip_spaces(struct scan *sc) {
  while (sc->text[sc->pos] == ' ') sc->pos++;
}

static bool label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '/';
}

/* The next run of characters that `ok` accepts (maybe empty), copied out (malloc'd). */
static char *token(struct scan *sc, bool (*ok)(char)) {
  size_t start = sc->pos;
  while (sc->text[sc->pos] && ok(sc->text[sc->pos])) sc->pos++;
  return strndup(sc->text + start, sc->pos - start);
}

static bool field_value_char(char c) { return c != ',' && c != '\0'; }

static int add_value(struct sbx_sel_req *r, char *v) {
  char **nv = realloc(r->values, (r->nvalues + 1) * sizeof *nv);
  if (!nv) {
    free(v);
    return -1;
  }
  r->values = nv;
  r->values[r->nvalues++] = v;
  return 0;
}

/* A label value after an operator; checked against the label value rule. */
static int label_value(struct scan *sc, struct sbx_sel_req *r) {
  skip_spaces(sc);
  char *v = token(sc, label_char);
  if (!v) return sbx_error_set(sc->err, ENOMEM, "selector");
  if (!sbx_is_label_value(v) || strchr(v, '/')) {
    int rc = fail(sc, "\"%s\" is not a valid label value: at most 63 of [A-Za-z0-9-_.] starting and ending "
                      "with a letter or digit",
                  v);
    free(v);
    return rc;
  }
  skip_spaces(sc);
  return add_value(r, v) < 0 ? sbx_error_set(sc->err, ENOMEM, "selector") : 0;
}

/* "(x, y, …)" of an in/notin requirement */
static int value_set(struct scan *sc, struct sbx_sel_req *r) {
  skip_spaces(sc);
  if (sc->text[sc->pos] != '(') return fail(sc, "expected \"(\" after %s", r->op == SBX_SEL_IN ? "in" : "notin");
  sc->pos++;
  for (;;) {
    if (label_value(sc, r) < 0) return -1;
    char c = sc->text[sc->pos];
    if (c == ')') break;
    if (c != ',') return fail(sc, "expected \",\" or \")\" in a set of values%s", "");
    sc->pos++;
  }
  sc->pos++;
  if (r->nvalues == 1 && r->values[0][0] == '\0')
    return fail(sc, "a set of values needs at least one value%s", "");
  return 0;
}

/* =, == or != at the position: the op set and passed, true; else false */
static bool equality_op(struct scan *sc, struct sbx_sel_req *r) {
  const char *p = sc->text + sc->pos;
  if (p[0] == '!' && p[1] == '=') {
    r->op = SBX_SEL_NEQ;
    sc->pos += 2;
  } else if (p[0] == '=') {
    r->op = SBX_SEL_EQ;
    sc->pos += p[1] == '=' ? 2 : 1;
  } else {
    return false;
  }
  return true;
}

/* the operator word w at the position, followed by a space or "(" (never read past the end) */
static bool word_at(struct scan *sc, const char *w) {
  size_t n = strlen(w);
  if (strncmp(sc->text + sc->pos, w, n) != 0) return false;
  char after = sc->text[sc->pos + n];
  return after == ' ' || after == '(';
}

/* One requirement of a label selector, from sc->pos */
static int label_requirement(struct scan *sc, struct sbx_sel_req *r) {
  skip_spaces(sc);
  bool negated = sc->text[sc->pos] == '!';
  if (negated) {
    sc->pos++;
    skip_spaces(sc);
  }
  size_t key_at = sc->pos;
  r->key = token(sc, label_char);
  if (!r->key) return sbx_error_set(sc->err, ENOMEM, "selector");
  if (!sbx_is_qualified_name(r->key)) {
    sc->pos = key_at;
    return fail(sc, r->key[0] ? "\"%s\" is not a valid label key: [prefix/]name, name at most 63 of "
                                "[A-Za-z0-9-_.] starting and ending with a letter or digit"
                              : "expected a label key%s",
                r->key);
  }
  skip_spaces(sc);
  const char *p = sc->text + sc->pos;
  if (negated) {
    r->op = SBX_SEL_ABSENT;
    return 0;
  }
  if (*p == '\0' || *p == ',') {
    r->op = SBX_SEL_EXISTS;
    return 0;
  }
  if (equality_op(sc, r)) {
    /* a value follows */
  } else if (word_at(sc, "in")) {
    r->op = SBX_SEL_IN;
    sc->pos += 2;
    return value_set(sc, r);
  } else if (word_at(sc, "notin")) {
    r->op = SBX_SEL_NOTIN;
    sc->pos += 5;
    return value_set(sc, r);
  } else {
    return fail(sc, "expected one of =, ==, !=, in, notin, \",\" or the end after the key \"%s\"", r->key);
  }
  return label_value(sc, r);
}

/* One requirement of a field selector: FIELD(=|==|!=)VALUE, FIELD one of `fields` */
static int field_requirement(struct scan *sc, const char *const *fields, struct sbx_sel_req *r) {
  skip_spaces(sc);
  size_t key_at = sc->pos;
  r->key = token(sc, label_char);
  if (!r->key) return sbx_error_set(sc->err, ENOMEM, "selector");
  bool known = false;
  char names[400] = "";
  for (size_t i = 0; fields && fields[i]; i++) {
    known = known || strcmp(fields[i], r->key) == 0;
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", fields[i]);
  }
  if (!known) {
    char m[600];
    snprintf(m, sizeof m, "field label \"%%s\" is not supported here (supported: %s)", names);
    sc->pos = key_at;
    return fail(sc, m, r->key);
  }
  skip_spaces(sc);
  if (!equality_op(sc, r)) return fail(sc, "expected =, == or != after the field \"%s\"", r->key);
  char *v = token(sc, field_value_char);
  if (!v || add_value(r, v) < 0) return sbx_error_set(sc->err, ENOMEM, "selector");
  if (strchr(v, '\\')) return fail(sc, "escaped characters (\\) are not supported in a field value%s", "");
  return 0;
}

static int parse(struct scan *sc, const char *const *fields, struct sbx_selector *out) {
  memset(out, 0, sizeof *out);
  if (!sc->text || !sc->text[0]) return 0;
  if (strlen(sc->text) > 4096) return fail(sc, "too long (at most 4096 characters)%s", "");
  for (;;) {
    if (out->n == MAX_REQS) return fail(sc, "too many requirements (at most 64)%s", "");
    struct sbx_sel_req *nr = realloc(out->reqs, (out->n + 1) * sizeof *nr);
    if (!nr) return sbx_error_set(sc->err, ENOMEM, "selector");
    out->reqs = nr;
    struct sbx_sel_req *r = &out->reqs[out->n++];
    memset(r, 0, sizeof *r);
    if ((sc->what[0] == 'l' ? label_requirement(sc, r) : field_requirement(sc, fields, r)) < 0) return -1;
    skip_spaces(sc);
    if (sc->text[sc->pos] == '\0') return 0;
    if (sc->text[sc->pos] != ',') return fail(sc, "expected \",\" or the end%s", "");
    sc->pos++;
  }
}

int sbx_label_selector_parse(const char *text, struct sbx_selector *out, sbx_error_t *err) {
  struct scan sc = {"labelSelector", text, 0, err};
  int rc = parse(&sc, NULL, out);
  if (rc < 0) sbx_selector_free(out);
  return rc;
}

int sbx_field_selector_parse(const char *text, const char *const *fields, struct sbx_selector *out,
                             sbx_error_t *err) {
  struct scan sc = {"fieldSelector", text, 0, err};
  int rc = parse(&sc, fields, out);
  if (rc < 0) sbx_selector_free(out);
  return rc;
}

void sbx_selector_free(struct sbx_selector *s) {
  for (size_t i = 0; i < s->n; i++) {
    for (size_t k = 0; k < s->reqs[i].nvalues; k++) free(s->reqs[i].values[k]);
    free(s->reqs[i].values);
    free(s->reqs[i].key);
  }
  free(s->reqs);
  memset(s, 0, sizeof *s);
}

static bool in_set(const struct sbx_sel_req *r, const char *v) {
  for (size_t k = 0; k < r->nvalues; k++)
    if (strcmp(r->values[k], v) == 0) return true;
  return false;
}

/* One requirement against a value (NULL: the key is absent) */
static bool satisfied(const struct sbx_sel_req *r, const char *v) {
  switch (r->op) {
  case SBX_SEL_EQ: return v && strcmp(v, r->values[0]) == 0;
  case SBX_SEL_NEQ: return !v || strcmp(v, r->values[0]) != 0;
  case SBX_SEL_IN: return v && in_set(r, v);
  case SBX_SEL_NOTIN: return !v || !in_set(r, v);
  case SBX_SEL_EXISTS: return v != NULL;
  case SBX_SEL_ABSENT: return v == NULL;
  }
  return false;
}

bool sbx_selector_match_labels(const struct sbx_selector *s, json_object *labels) {
  for (size_t i = 0; i < s->n; i++) {
    json_object *v = NULL;
    const char *text = labels && json_object_object_get_ex(labels, s->reqs[i].key, &v) ? json_object_get_string(v)
                                                                                         : NULL;
    if (!satisfied(&s->reqs[i], text)) return false;
  }
  return true;
}

bool sbx_selector_match_fields(const struct sbx_selector *s, json_object *obj) {
  for (size_t i = 0; i < s->n; i++) {
    json_object *v = sbx_json_path(obj, s->reqs[i].key);
    if (!satisfied(&s->reqs[i], v ? json_object_get_string(v) : "")) return false;
  }
  return true;
}

const char *sbx_selector_equal_value(const struct sbx_selector *s, const char *field) {
  for (size_t i = 0; i < s->n; i++)
    if (s->reqs[i].op == SBX_SEL_EQ && strcmp(s->reqs[i].key, field) == 0) return s->reqs[i].values[0];
  return NULL;
}
