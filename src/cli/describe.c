/* describe.c: kubectl-style descriptions of sandboxes, secrets, configmaps and PVCs (see
 * describe.h).
 *
 * Text is first written with tabs into a memory stream, one "line" per '\n'; tw_flush()
 * then aligns it: for each column, a run of consecutive lines that have a cell in that
 * column (a cell is text ended by a tab) is padded to the run's widest cell plus two
 * spaces. Lines without tabs ("Containers:") break runs, as in text/tabwriter. */
#include "cli/describe.h"
#include "lib/base64.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/printer.h"
#include "lib/cleanup.h"

/* --- the tab writer ------------------------------------------------------------------- */

typedef struct tw {
  FILE *f;
  char *buf;
  size_t len;
} tw_t;

static int tw_open(tw_t *t) {
  t->buf = NULL;
  t->len = 0;
  t->f = open_memstream(&t->buf, &t->len);
  return t->f ? 0 : -1;
}

__attribute__((format(printf, 2, 3))) static void w(tw_t *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(t->f, fmt, ap);
  va_end(ap);
}

static size_t text_width(const char *s, size_t n) {
  size_t wdt = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) wdt++;
  return wdt;
}

#define TW_MAX_COLS 8

typedef struct twline {
  const char *start;
  size_t len;
  size_t ncells;                   /* tab-terminated cells */
  const char *cell[TW_MAX_COLS];   /* each cell's start */
  size_t cell_len[TW_MAX_COLS];
  size_t width[TW_MAX_COLS];       /* the padded width of its column run */
} twline_t;

static int tw_flush(tw_t *t, FILE *out) {
  if (fclose(t->f) != 0) {
    free(t->buf);
    return -1;
  }
  size_t nlines = 0;
  for (size_t i = 0; i < t->len; i++)
    if (t->buf[i] == '\n') nlines++;
  twline_t *lines = calloc(nlines + 1, sizeof *lines);
  if (!lines) {
    free(t->buf);
    return -1;
  }
  size_t n = 0;
  for (char *p = t->buf, *end = t->buf + t->len; p < end && n < nlines; n++) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    twline_t *l = &lines[n];
    l->start = p;
    l->len = (size_t)(nl - p);
    const char *c = p;
    for (char *q = p; q < nl; q++) {
      if (*q != '\t' || l->ncells >= TW_MAX_COLS) continue;
      l->cell[l->ncells] = c;
      l->cell_len[l->ncells++] = (size_t)(q - c);
      c = q + 1;
    }
    p = nl + 1;
  }
  for (size_t col = 0; col < TW_MAX_COLS; col++) {
    size_t i = 0;
    while (i < n) {
      if (lines[i].ncells <= col) {
        i++;
        continue;
      }
      size_t j = i, widest = 0;
      for (; j < n && lines[j].ncells > col; j++) {
        size_t cw = text_width(lines[j].cell[col], lines[j].cell_len[col]);
        if (cw > widest) widest = cw;
      }
      for (size_t k = i; k < j; k++) lines[k].width[col] = widest + 2;
      i = j;
    }
  }
  for (size_t i = 0; i < n; i++) {
    twline_t *l = &lines[i];
    const char *rest = l->start;
    for (size_t c = 0; c < l->ncells; c++) {
      fwrite(l->cell[c], 1, l->cell_len[c], out);
      fprintf(out, "%*s", (int)(l->width[c] - text_width(l->cell[c], l->cell_len[c])), "");
      rest = l->cell[c] + l->cell_len[c] + 1;
    }
    fwrite(rest, 1, (size_t)(l->start + l->len - rest), out);
    fputc('\n', out);
  }
  free(lines);
  free(t->buf);
  return 0;
}

/* --- reading fields ------------------------------------------------------------------- */

static json_object *get(json_object *o, const char *key) {
  json_object *v = NULL;
  if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
    return NULL;
  return v;
}

static const char *str(json_object *o, const char *key) {
  json_object *v = get(o, key);
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static json_object *arr(json_object *o, const char *key) {
  json_object *v = get(o, key);
  return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

static size_t alen(json_object *a) { return a ? json_object_array_length(a) : 0; }

static const char *or_none(const char *s) { return s && *s ? s : "<none>"; }

/* A scalar as text (numbers and booleans too); "" for anything else. */
static const char *scalar(json_object *v, char *buf, size_t size) {
  if (!v) return "";
  if (json_object_is_type(v, json_type_string)) return json_object_get_string(v);
  if (json_object_is_type(v, json_type_int)) {
    snprintf(buf, size, "%" PRId64, json_object_get_int64(v));
    return buf;
  }
  if (json_object_is_type(v, json_type_boolean)) return json_object_get_boolean(v) ? "true" : "false";
  if (json_object_is_type(v, json_type_double)) {
    snprintf(buf, size, "%g", json_object_get_double(v));
    return buf;
  }
  return "";
}

/* Control characters in user-provided text would garble the terminal. */
static void put_safe(tw_t *t, const char *s) {
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '\n' || c == '\t') fputc(' ', t->f);
    else if (c < 0x20 || c == 0x7f) fputc('?', t->f);
    else fputc(c, t->f);
  }
}

static void kv(tw_t *t, int indent, const char *key, const char *value) {
  w(t, "%*s%s:\t", indent, "", key);
  put_safe(t, value);
  w(t, "\n");
}

/* "Mon, 02 Jan 2006 15:04:05 -0700" in local time; the text as given if it does not parse. */
static void format_time(const char *ts, char *buf, size_t size) {
  time_t tt;
  struct tm tm;
  if (!ts || sbx_parse_timestamp(ts, &tt) < 0 || !localtime_r(&tt, &tm) ||
      strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
    snprintf(buf, size, "%s", ts ? ts : "<unknown>");
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of an object, sorted; *n of them. NULL when none (or out of memory). */
static const char **sorted_keys(json_object *o, size_t *n) {
  *n = 0;
  if (!o || !json_object_is_type(o, json_type_object) || json_object_object_length(o) == 0)
    return NULL;
  size_t cap = (size_t)json_object_object_length(o);
  const char **keys = calloc(cap, sizeof *keys);
  if (!keys) return NULL;
  json_object_object_foreach(o, k, v) {
    (void)v;
    if (*n < cap) keys[(*n)++] = k;
  }
  qsort(keys, *n, sizeof *keys, cmp_str);
  return keys;
}

/* "Labels:  a=b" then one per line under it, sorted; skip: a key left out. */
static void string_map(tw_t *t, int indent, const char *title, json_object *m, const char *sep,
                       const char *skip1, const char *skip2) {
  size_t n;
  _cleanup_free_ const char **keys = sorted_keys(m, &n);
  bool first = true;
  for (size_t i = 0; i < n; i++) {
    if ((skip1 && strcmp(keys[i], skip1) == 0) || (skip2 && strcmp(keys[i], skip2) == 0)) continue;
    char buf[64];
    if (first) w(t, "%*s%s:\t", indent, "", title);
    else w(t, "%*s\t", indent, "");
    put_safe(t, keys[i]);
    w(t, "%s", sep);
    put_safe(t, scalar(get(m, keys[i]), buf, sizeof buf));
    w(t, "\n");
    first = false;
  }
  if (first) kv(t, indent, title, "<none>");
}

static void metadata(tw_t *t, json_object *obj) {
  json_object *md = get(obj, "metadata");
  kv(t, 0, "Name", str(md, "name"));
  kv(t, 0, "Namespace", str(md, "namespace"));
  string_map(t, 0, "Labels", get(md, "labels"), "=", NULL, NULL);
  string_map(t, 0, "Annotations", get(md, "annotations"), ": ", SBX_OWNER_ANNOTATION,
             "kubectl.kubernetes.io/last-applied-configuration");
}

static void owner(tw_t *t, json_object *obj) {
  const char *uid = str(get(get(obj, "metadata"), "annotations"), SBX_OWNER_ANNOTATION);
  if (!uid) return;
  char *end;
  errno = 0;
  unsigned long u = strtoul(uid, &end, 10);
  struct passwd *pw = !errno && *uid && !*end ? getpwuid((uid_t)u) : NULL;
  if (pw) {
    char buf[300];
    snprintf(buf, sizeof buf, "%s (uid %s)", pw->pw_name, uid);
    kv(t, 0, "Owner", buf);
  } else {
    kv(t, 0, "Owner", uid);
  }
}

/* --- events --------------------------------------------------------------------------- */

static const char *event_time(json_object *e) {
  const char *keys[] = {"lastTimestamp", "eventTime", "time", "firstTimestamp"};
  for (size_t i = 0; i < 4; i++) {
    const char *s = str(e, keys[i]);
    if (s && *s) return s;
  }
  return NULL;
}

static int64_t age_of(const char *ts, time_t now) {
  time_t tt;
  if (!ts || sbx_parse_timestamp(ts, &tt) < 0) return -1;
  return (int64_t)(now - tt);
}

static int cmp_events(const void *a, const void *b) {
  const char *x = event_time(*(json_object *const *)a), *y = event_time(*(json_object *const *)b);
  time_t tx = 0, ty = 0;
  if (x) sbx_parse_timestamp(x, &tx);
  if (y) sbx_parse_timestamp(y, &ty);
  return tx < ty ? -1 : tx > ty;
}

static void events(tw_t *t, json_object *list, time_t now) {
  json_object *items = arr(list, "items");
  size_t n = alen(items);
  if (n == 0) {
    w(t, "Events:\t<none>\n");
    return;
  }
  json_object **ev = calloc(n, sizeof *ev);
  if (!ev) return;
  for (size_t i = 0; i < n; i++) ev[i] = json_object_array_get_idx(items, i);
  qsort(ev, n, sizeof *ev, cmp_events);
  w(t, "Events:\n");
  w(t, "  Type\tReason\tAge\tFrom\tMessage\n");
  w(t, "  ----\t------\t----\t----\t-------\n");
  for (size_t i = 0; i < n; i++) {
    json_object *e = ev[i];
    char age[64], first[32];
    int64_t last_age = age_of(event_time(e), now);
    if (last_age < 0) snprintf(age, sizeof age, "<unknown>");
    else sbx_format_age(last_age, age, sizeof age);
    int64_t count = get(e, "count") ? json_object_get_int64(get(e, "count")) : 1;
    int64_t first_age = age_of(str(e, "firstTimestamp"), now);
    if (count > 1 && first_age >= 0) {
      sbx_format_age(first_age, first, sizeof first);
      size_t l = strlen(age);
      snprintf(age + l, sizeof age - l, " (x%" PRId64 " over %s)", count, first);
    }
    const char *from = str(get(e, "source"), "component");
    if (!from) from = str(e, "reportingComponent");
    w(t, "  ");
    put_safe(t, or_none(str(e, "type")));
    w(t, "\t");
    put_safe(t, or_none(str(e, "reason")));
    w(t, "\t%s\t", age);
    put_safe(t, from && *from ? from : "sbxd");
    w(t, "\t");
    put_safe(t, str(e, "message"));
    w(t, "\n");
  }
  free(ev);
}

/* --- sandboxes ------------------------------------------------------------------------ */

static json_object *condition(json_object *obj, const char *type) {
  json_object *conds = arr(get(obj, "status"), "conditions");
  for (size_t i = 0; i < alen(conds); i++) {
    json_object *c = json_object_array_get_idx(conds, i);
    const char *ty = str(c, "type");
    if (ty && strcmp(ty, type) == 0) return c;
  }
  return NULL;
}

static json_object *pod_status(json_object *obj) {
  json_object *ps = get(get(obj, "status"), "podStatus");
  return ps ? ps : get(obj, "status"); /* `sbx run` sandboxes keep them in status */
}

static json_object *status_of(json_object *list, const char *name) {
  for (size_t i = 0; i < alen(list); i++) {
    json_object *s = json_object_array_get_idx(list, i);
    const char *n = str(s, "name");
    if (n && name && strcmp(n, name) == 0) return s;
  }
  /* an unnamed single status belongs to the single container */
  if (alen(list) == 1 && !str(json_object_array_get_idx(list, 0), "name"))
    return json_object_array_get_idx(list, 0);
  return NULL;
}

static void string_list(tw_t *t, int indent, const char *title, json_object *a) {
  if (alen(a) == 0) return;
  w(t, "%*s%s:\n", indent, "", title);
  for (size_t i = 0; i < alen(a); i++) {
    char buf[64];
    w(t, "%*s", indent + 2, "");
    put_safe(t, scalar(json_object_array_get_idx(a, i), buf, sizeof buf));
    w(t, "\n");
  }
}

static void state(tw_t *t, const char *title, json_object *st) {
  json_object *run = get(st, "running"), *term = get(st, "terminated"), *wait = get(st, "waiting");
  char buf[64];
  if (run) {
    kv(t, 4, title, "Running");
    format_time(str(run, "startedAt"), buf, sizeof buf);
    kv(t, 6, "Started", buf);
  } else if (term) {
    kv(t, 4, title, "Terminated");
    kv(t, 6, "Reason", or_none(str(term, "reason")));
    if (str(term, "message") && *str(term, "message")) kv(t, 6, "Message", str(term, "message"));
    char code[32];
    kv(t, 6, "Exit Code", scalar(get(term, "exitCode"), code, sizeof code)[0] ? code : "0");
    int64_t sig = get(term, "signal") ? json_object_get_int64(get(term, "signal")) : 0;
    if (sig) {
      snprintf(code, sizeof code, "%" PRId64, sig);
      kv(t, 6, "Signal", code);
    }
    if (str(term, "startedAt")) {
      format_time(str(term, "startedAt"), buf, sizeof buf);
      kv(t, 6, "Started", buf);
    }
    if (str(term, "finishedAt")) {
      format_time(str(term, "finishedAt"), buf, sizeof buf);
      kv(t, 6, "Finished", buf);
    }
  } else if (wait) {
    kv(t, 4, title, "Waiting");
    kv(t, 6, "Reason", or_none(str(wait, "reason")));
    if (str(wait, "message") && *str(wait, "message")) kv(t, 6, "Message", str(wait, "message"));
  } else {
    kv(t, 4, title, "<none>");
  }
}

static void ports(tw_t *t, json_object *c) {
  json_object *ps = arr(c, "ports");
  if (alen(ps) == 0) return;
  char line[1024] = "";
  size_t off = 0;
  for (size_t i = 0; i < alen(ps) && off < sizeof line; i++) {
    json_object *p = json_object_array_get_idx(ps, i);
    char num[32];
    const char *proto = str(p, "protocol"), *name = str(p, "name");
    off += (size_t)snprintf(line + off, sizeof line - off, "%s%s/%s%s%s%s", i ? ", " : "",
                            scalar(get(p, "containerPort"), num, sizeof num), proto ? proto : "TCP",
                            name ? " (" : "", name ? name : "", name ? ")" : "");
  }
  kv(t, 4, alen(ps) > 1 ? "Ports" : "Port", line);
}

static void resources(tw_t *t, json_object *c) {
  json_object *res = get(c, "resources");
  const char *titles[] = {"Limits", "Requests"}, *keys[] = {"limits", "requests"};
  for (size_t i = 0; i < 2; i++) {
    size_t n;
    json_object *m = get(res, keys[i]);
    _cleanup_free_ const char **k = sorted_keys(m, &n);
    if (n == 0) continue;
    w(t, "    %s:\n", titles[i]);
    for (size_t j = 0; j < n; j++) {
      char buf[64];
      kv(t, 6, k[j], scalar(get(m, k[j]), buf, sizeof buf));
    }
  }
}

static void env(tw_t *t, json_object *c) {
  json_object *e = arr(c, "env");
  if (alen(e) == 0) {
    kv(t, 4, "Environment", "<none>");
  } else {
    w(t, "    Environment:\n");
    for (size_t i = 0; i < alen(e); i++) {
      json_object *v = json_object_array_get_idx(e, i), *from = get(v, "valueFrom");
      char val[700];
      json_object *sk = get(from, "secretKeyRef"), *ck = get(from, "configMapKeyRef"),
                  *fr = get(from, "fieldRef");
      json_object *opt = get(sk ? sk : ck, "optional");
      const char *optional = opt && json_object_get_boolean(opt) ? "true" : "false";
      if (sk)
        snprintf(val, sizeof val, "<set to the key '%s' in secret '%s'>\tOptional: %s",
                 or_none(str(sk, "key")), or_none(str(sk, "name")), optional);
      else if (ck)
        snprintf(val, sizeof val, "<set to the key '%s' of config map '%s'>\tOptional: %s",
                 or_none(str(ck, "key")), or_none(str(ck, "name")), optional);
      else if (fr)
        snprintf(val, sizeof val, "(%s:%s)", str(fr, "apiVersion") ? str(fr, "apiVersion") : "v1",
                 or_none(str(fr, "fieldPath")));
      else
        snprintf(val, sizeof val, "%s", str(v, "value") ? str(v, "value") : "");
      w(t, "      ");
      put_safe(t, str(v, "name"));
      w(t, ":\t");
      /* the tab inside val separates kubectl's Optional column */
      for (const char *p = val; *p; p++) {
        if (*p == '\t') fputc('\t', t->f);
        else {
          char one[2] = {*p, 0};
          put_safe(t, one);
        }
      }
      w(t, "\n");
    }
  }
  json_object *ef = arr(c, "envFrom");
  if (alen(ef) == 0) return;
  w(t, "    Environment Variables from:\n");
  for (size_t i = 0; i < alen(ef); i++) {
    json_object *f = json_object_array_get_idx(ef, i);
    json_object *ref = get(f, "secretRef") ? get(f, "secretRef") : get(f, "configMapRef");
    json_object *opt = get(ref, "optional");
    w(t, "      ");
    put_safe(t, or_none(str(ref, "name")));
    w(t, "\t%s\t", get(f, "secretRef") ? "Secret" : "ConfigMap");
    if (str(f, "prefix")) {
      w(t, "with prefix '");
      put_safe(t, str(f, "prefix"));
      w(t, "'\t");
    }
    w(t, "Optional: %s\n", opt && json_object_get_boolean(opt) ? "true" : "false");
  }
}

/* Each mount as `sbx` enforces it: a volume in status.readOnlyVolumes (a hostPath the owner
 * may only read) shows "ro" and why, whatever the manifest asked. */
static void mounts(tw_t *t, json_object *c, json_object *forced_ro) {
  json_object *m = arr(c, "volumeMounts");
  if (alen(m) == 0) {
    kv(t, 4, "Mounts", "<none>");
    return;
  }
  w(t, "    Mounts:\n");
  for (size_t i = 0; i < alen(m); i++) {
    json_object *v = json_object_array_get_idx(m, i), *ro = get(v, "readOnly");
    const char *sub = str(v, "subPath");
    w(t, "      ");
    put_safe(t, str(v, "mountPath"));
    w(t, " from ");
    put_safe(t, str(v, "name"));
    const char *why = str(forced_ro, str(v, "name") ? str(v, "name") : "");
    bool is_ro = (ro && json_object_get_boolean(ro)) || why;
    w(t, " (%s%s", is_ro ? "ro" : "rw", sub && *sub ? ",path=\"" : "");
    if (sub && *sub) {
      put_safe(t, sub);
      w(t, "\"");
    }
    w(t, ")");
    if (why && !(ro && json_object_get_boolean(ro))) {
      w(t, " (");
      put_safe(t, why);
      w(t, ")");
    }
    w(t, "\n");
  }
}

static void container(tw_t *t, json_object *c, json_object *st, json_object *forced_ro) {
  w(t, "  ");
  put_safe(t, or_none(str(c, "name")));
  w(t, ":\n");
  kv(t, 4, "Image", or_none(str(c, "image")));
  ports(t, c);
  string_list(t, 4, "Command", arr(c, "command"));
  string_list(t, 4, "Args", arr(c, "args"));
  if (str(c, "workingDir")) kv(t, 4, "Working Dir", str(c, "workingDir"));
  if (st) {
    state(t, "State", get(st, "state"));
    json_object *last = get(st, "lastState");
    if (last && json_object_object_length(last) > 0) state(t, "Last State", last);
    json_object *ready = get(st, "ready");
    kv(t, 4, "Ready", ready && json_object_get_boolean(ready) ? "True" : "False");
    char n[32];
    const char *rc = scalar(get(st, "restartCount"), n, sizeof n);
    kv(t, 4, "Restart Count", *rc ? rc : "0");
  } else {
    kv(t, 4, "State", "<none>");
    kv(t, 4, "Ready", "False");
    kv(t, 4, "Restart Count", "0");
  }
  resources(t, c);
  env(t, c);
  mounts(t, c, forced_ro);
}

static void containers(tw_t *t, const char *title, json_object *list, json_object *statuses,
                       json_object *forced_ro) {
  if (alen(list) == 0) return;
  w(t, "%s:\n", title);
  for (size_t i = 0; i < alen(list); i++) {
    json_object *c = json_object_array_get_idx(list, i);
    container(t, c, status_of(statuses, str(c, "name")), forced_ro);
  }
}

static void volumes(tw_t *t, json_object *pod) {
  json_object *vs = arr(pod, "volumes");
  if (alen(vs) == 0) {
    w(t, "Volumes:\t<none>\n");
    return;
  }
  w(t, "Volumes:\n");
  char buf[64];
  for (size_t i = 0; i < alen(vs); i++) {
    json_object *v = json_object_array_get_idx(vs, i), *x;
    w(t, "  ");
    put_safe(t, or_none(str(v, "name")));
    w(t, ":\n");
    if ((x = get(v, "persistentVolumeClaim"))) {
      kv(t, 4, "Type", "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)");
      kv(t, 4, "ClaimName", or_none(str(x, "claimName")));
      kv(t, 4, "ReadOnly", get(x, "readOnly") && json_object_get_boolean(get(x, "readOnly")) ? "true" : "false");
    } else if ((x = get(v, "secret"))) {
      kv(t, 4, "Type", "Secret (a volume populated by a Secret)");
      kv(t, 4, "SecretName", or_none(str(x, "secretName")));
      kv(t, 4, "Optional", get(x, "optional") && json_object_get_boolean(get(x, "optional")) ? "true" : "false");
    } else if ((x = get(v, "configMap"))) {
      kv(t, 4, "Type", "ConfigMap (a volume populated by a ConfigMap)");
      kv(t, 4, "Name", or_none(str(x, "name")));
      kv(t, 4, "Optional", get(x, "optional") && json_object_get_boolean(get(x, "optional")) ? "true" : "false");
    } else if ((x = get(v, "emptyDir"))) {
      kv(t, 4, "Type", "EmptyDir (a temporary directory that shares a pod's lifetime)");
      kv(t, 4, "Medium", str(x, "medium") ? str(x, "medium") : "");
      const char *sl = scalar(get(x, "sizeLimit"), buf, sizeof buf);
      kv(t, 4, "SizeLimit", *sl ? sl : "<unset>");
    } else if ((x = get(v, "hostPath"))) {
      kv(t, 4, "Type", "HostPath (bare host directory volume)");
      kv(t, 4, "Path", or_none(str(x, "path")));
      kv(t, 4, "HostPathType", str(x, "type") ? str(x, "type") : "");
    } else {
      kv(t, 4, "Type", "<unknown>");
    }
  }
}

static void claim_templates(tw_t *t, json_object *spec, const char *sandbox) {
  json_object *vct = arr(spec, "volumeClaimTemplates");
  if (alen(vct) == 0) return;
  w(t, "Volume Claims:\n");
  for (size_t i = 0; i < alen(vct); i++) {
    json_object *v = json_object_array_get_idx(vct, i);
    const char *name = str(get(v, "metadata"), "name");
    char claim[300], buf[64];
    snprintf(claim, sizeof claim, "%s-%s", or_none(name), sandbox ? sandbox : "");
    w(t, "  ");
    put_safe(t, or_none(name));
    w(t, ":\n");
    kv(t, 4, "Claim", claim);
    const char *req = scalar(get(get(get(get(v, "spec"), "resources"), "requests"), "storage"), buf,
                             sizeof buf);
    kv(t, 4, "Requested", *req ? req : "<unset>");
  }
}

/* Whether the sandbox is being restarted because its pod template changed. */
static const char *template_change(json_object *obj, json_object *evlist) {
  json_object *c = condition(obj, "PodTemplateChanged");
  const char *st = str(c, "status");
  if (st && strcmp(st, "True") == 0) return str(c, "message") ? str(c, "message") : "";
  /* the most recent event says so */
  json_object *items = arr(evlist, "items"), *latest = NULL;
  for (size_t i = 0; i < alen(items); i++) {
    json_object *e = json_object_array_get_idx(items, i);
    if (!latest || cmp_events(&latest, &e) <= 0) latest = e;
  }
  const char *reason = str(latest, "reason");
  if (reason && strcmp(reason, "TemplateChanged") == 0) return str(latest, "message") ? str(latest, "message") : "";
  return NULL;
}

static void describe_sandbox(tw_t *t, json_object *obj, json_object *evlist, time_t now) {
  (void)now;
  json_object *spec = get(obj, "spec"), *pod = get(get(spec, "podTemplate"), "spec");
  json_object *ps = pod_status(obj);
  char buf[64];
  metadata(t, obj);
  owner(t, obj);
  kv(t, 0, "API Version", or_none(str(obj, "apiVersion")));
  format_time(str(get(obj, "metadata"), "creationTimestamp"), buf, sizeof buf);
  kv(t, 0, "Created", buf);

  json_object *ready = condition(obj, "Ready");
  w(t, "Status:\n");
  kv(t, 2, "Ready", or_none(str(ready, "status")));
  kv(t, 2, "Reason", or_none(str(ready, "reason")));
  if (str(ready, "message") && *str(ready, "message")) kv(t, 2, "Message", str(ready, "message"));
  if (str(ps, "phase")) kv(t, 2, "Phase", str(ps, "phase"));
  const char *change = template_change(obj, evlist);
  if (change) {
    char note[600];
    snprintf(note, sizeof note, "the pod template changed%s%s", *change ? ": " : "", change);
    kv(t, 2, "Restarting", note);
  }

  const char *mode = str(spec, "operatingMode");
  json_object *replicas = get(spec, "replicas");
  if (!mode) mode = replicas && json_object_get_int64(replicas) == 0 ? "Suspended" : "Running";
  kv(t, 0, "Operating Mode", mode);
  const char *shut = str(spec, "shutdownTime");
  if (shut) format_time(shut, buf, sizeof buf);
  kv(t, 0, "Shutdown Time", shut ? buf : "<none>");
  kv(t, 0, "Shutdown Policy", str(spec, "shutdownPolicy") ? str(spec, "shutdownPolicy") : "Retain");
  if (str(pod, "restartPolicy")) kv(t, 0, "Restart Policy", str(pod, "restartPolicy"));

  json_object *forced_ro = get(get(obj, "status"), "readOnlyVolumes");
  containers(t, "Init Containers", arr(pod, "initContainers"), arr(ps, "initContainerStatuses"), forced_ro);
  containers(t, "Containers", arr(pod, "containers"), arr(ps, "containerStatuses"), forced_ro);
  volumes(t, pod);
  claim_templates(t, spec, str(get(obj, "metadata"), "name"));
}

/* --- core kinds ----------------------------------------------------------------------- */

size_t sbx_base64_decoded_len(const char *s) {
  size_t n = 0;
  unsigned char *raw = s ? sbx_base64_decode(s, strlen(s), &n) : NULL;
  free(raw);
  return raw ? n : 0;
}

static void describe_secret(tw_t *t, json_object *obj) {
  metadata(t, obj);
  w(t, "\n");
  kv(t, 0, "Type", str(obj, "type") ? str(obj, "type") : "Opaque");
  w(t, "\nData\n====\n");
  size_t n;
  json_object *data = get(obj, "data");
  _cleanup_free_ const char **keys = sorted_keys(data, &n);
  for (size_t i = 0; i < n; i++) {
    char size[64];
    snprintf(size, sizeof size, "%zu bytes", sbx_base64_decoded_len(str(data, keys[i])));
    kv(t, 0, keys[i], size);
  }
}

static void describe_configmap(tw_t *t, json_object *obj) {
  metadata(t, obj);
  w(t, "\nData\n====\n");
  size_t n;
  json_object *data = get(obj, "data");
  _cleanup_free_ const char **keys = sorted_keys(data, &n);
  for (size_t i = 0; i < n; i++) {
    put_safe(t, keys[i]);
    w(t, ":\n----\n");
    /* values are shown as written, newlines kept, other control characters masked */
    for (const char *p = str(data, keys[i]); p && *p; p++) {
      unsigned char c = (unsigned char)*p;
      fputc(c == '\n' || c >= 0x20 ? (c == 0x7f ? '?' : (int)c) : '?', t->f);
    }
    w(t, "\n\n");
  }
  w(t, "\nBinaryData\n====\n");
  json_object *bin = get(obj, "binaryData");
  _cleanup_free_ const char **bkeys = sorted_keys(bin, &n);
  for (size_t i = 0; i < n; i++) {
    char size[64];
    snprintf(size, sizeof size, "%zu bytes", sbx_base64_decoded_len(str(bin, bkeys[i])));
    kv(t, 0, bkeys[i], size);
  }
  w(t, "\n");
}

static void describe_pvc(tw_t *t, json_object *obj) {
  json_object *md = get(obj, "metadata"), *spec = get(obj, "spec"), *st = get(obj, "status");
  kv(t, 0, "Name", str(md, "name"));
  kv(t, 0, "Namespace", str(md, "namespace"));
  kv(t, 0, "StorageClass", str(spec, "storageClassName") ? str(spec, "storageClassName") : "sbx-local");
  kv(t, 0, "Status", str(st, "phase") ? str(st, "phase") : "Pending");
  kv(t, 0, "Volume", str(spec, "volumeName") ? str(spec, "volumeName") : "");
  string_map(t, 0, "Labels", get(md, "labels"), "=", NULL, NULL);
  string_map(t, 0, "Annotations", get(md, "annotations"), ": ", SBX_OWNER_ANNOTATION, NULL);
  kv(t, 0, "Capacity", str(get(st, "capacity"), "storage") ? str(get(st, "capacity"), "storage") : "");
  json_object *modes = arr(st, "accessModes") ? arr(st, "accessModes") : arr(spec, "accessModes");
  char line[256] = "";
  size_t off = 0;
  for (size_t i = 0; i < alen(modes) && off < sizeof line; i++) {
    const char *m = json_object_get_string(json_object_array_get_idx(modes, i));
    const char *abbr = strcmp(m, "ReadWriteOnce") == 0      ? "RWO"
                       : strcmp(m, "ReadOnlyMany") == 0     ? "ROX"
                       : strcmp(m, "ReadWriteMany") == 0    ? "RWX"
                       : strcmp(m, "ReadWriteOncePod") == 0 ? "RWOP"
                                                            : m;
    off += (size_t)snprintf(line + off, sizeof line - off, "%s%s", i ? "," : "", abbr);
  }
  kv(t, 0, "Access Modes", line);
  kv(t, 0, "VolumeMode", str(spec, "volumeMode") ? str(spec, "volumeMode") : "Filesystem");
}

/* kubectl describe quota's table: every resource used, with its hard limit ("none": no
 * limit for this person) */
static void describe_quota(tw_t *t, json_object *obj) {
  json_object *md = get(obj, "metadata"), *st = get(obj, "status");
  kv(t, 0, "Name", str(md, "name"));
  kv(t, 0, "Namespace", str(md, "namespace"));
  kv(t, 0, "Scope", str(get(md, "annotations"), "sbx.x-k8s.io/scope") ? str(get(md, "annotations"), "sbx.x-k8s.io/scope")
                                                                       : "person");
  w(t, "Resource\tUsed\tHard\n--------\t----\t----\n");
  size_t n;
  json_object *used = get(st, "used"), *hard = get(st, "hard");
  _cleanup_free_ const char **keys = sorted_keys(used, &n);
  for (size_t i = 0; i < n; i++) {
    put_safe(t, keys[i]);
    w(t, "\t");
    put_safe(t, str(used, keys[i]));
    w(t, "\t");
    put_safe(t, str(hard, keys[i]) ? str(hard, keys[i]) : "none");
    w(t, "\n");
  }
}

int sbx_describe(FILE *out, const sbx_kind_t *k, json_object *obj, json_object *evlist,
                 time_t now) {
  tw_t t;
  if (tw_open(&t) < 0) return -1;
  if (strcmp(k->kind, "Sandbox") == 0) describe_sandbox(&t, obj, evlist, now);
  else if (strcmp(k->kind, "Secret") == 0) describe_secret(&t, obj);
  else if (strcmp(k->kind, "ConfigMap") == 0) describe_configmap(&t, obj);
  else if (strcmp(k->kind, "PersistentVolumeClaim") == 0) describe_pvc(&t, obj);
  else if (strcmp(k->kind, "ResourceQuota") == 0) return describe_quota(&t, obj), tw_flush(&t, out);
  else metadata(&t, obj);
  if (strcmp(k->kind, "Secret") != 0 || alen(arr(evlist, "items")) > 0) {
    if (strcmp(k->kind, "Secret") == 0) w(&t, "\n");
    events(&t, evlist, now);
  }
  return tw_flush(&t, out);
}
