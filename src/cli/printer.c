/* printer.c: tables, names, JSON and YAML output of objects (see printer.h). */
#include "cli/printer.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/cleanup.h"
#include "lib/wire.h"
#include "lib/yaml_emit.h"

int sbx_output_parse(const char *s, sbx_output_t *out, sbx_error_t *err) {
  static const struct {
    const char *name;
    sbx_output_t out;
  } formats[] = {{"", SBX_OUTPUT_TABLE},     {"wide", SBX_OUTPUT_WIDE},
                 {"name", SBX_OUTPUT_NAME},  {"json", SBX_OUTPUT_JSON},
                 {"yaml", SBX_OUTPUT_YAML}};
  for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
    if (strcmp(s, formats[i].name) == 0) {
      *out = formats[i].out;
      return 0;
    }
  return sbx_error_set(err, 0,
                       "unknown output format \"%s\" (allowed: wide, name, json, yaml)", s);
}

void sbx_format_age(int64_t secs, char *buf, size_t size) {
  if (secs < -1) {
    snprintf(buf, size, "<invalid>");
    return;
  }
  if (secs < 0) secs = 0;
  if (secs < 2 * 60) {
    snprintf(buf, size, "%" PRId64 "s", secs);
    return;
  }
  int64_t mins = secs / 60, hours = secs / 3600, days = hours / 24, years = days / 365;
  if (mins < 10) {
    if (secs % 60) snprintf(buf, size, "%" PRId64 "m%" PRId64 "s", mins, secs % 60);
    else snprintf(buf, size, "%" PRId64 "m", mins);
  } else if (mins < 3 * 60) {
    snprintf(buf, size, "%" PRId64 "m", mins);
  } else if (hours < 8) {
    if (mins % 60) snprintf(buf, size, "%" PRId64 "h%" PRId64 "m", hours, mins % 60);
    else snprintf(buf, size, "%" PRId64 "h", hours);
  } else if (hours < 48) {
    snprintf(buf, size, "%" PRId64 "h", hours);
  } else if (hours < 8 * 24) {
    if (hours % 24) snprintf(buf, size, "%" PRId64 "d%" PRId64 "h", days, hours % 24);
    else snprintf(buf, size, "%" PRId64 "d", days);
  } else if (days < 2 * 365) {
    snprintf(buf, size, "%" PRId64 "d", days);
  } else if (days < 8 * 365) {
    if (days % 365) snprintf(buf, size, "%" PRId64 "y%" PRId64 "d", years, days % 365);
    else snprintf(buf, size, "%" PRId64 "y", years);
  } else {
    snprintf(buf, size, "%" PRId64 "y", years);
  }
}

int sbx_parse_timestamp(const char *s, time_t *out) {
  struct tm tm = {0};
  const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return -1;
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9') return -1;
    while (*p >= '0' && *p <= '9') p++;
  }
  long offset = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1;
    unsigned hh, mm;
    int used = 0;
    if (sscanf(p + 1, "%2u:%2u%n", &hh, &mm, &used) != 2 || used != 5 || hh > 23 || mm > 59)
      return -1;
    offset = sign * (long)(hh * 3600 + mm * 60);
    p += 6;
  } else {
    return -1;
  }
  if (*p) return -1;
  time_t t = timegm(&tm);
  if (t == (time_t)-1) return -1;
  *out = t - offset;
  return 0;
}

/* --- reading fields ------------------------------------------------------------------- */

static json_object *field(json_object *o, const char *key) {
  json_object *v = NULL;
  if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
    return NULL;
  return v;
}

static json_object *first_item(json_object *a) {
  if (!a || !json_object_is_type(a, json_type_array) || json_object_array_length(a) == 0)
    return NULL;
  return json_object_array_get_idx(a, 0);
}

static const char *str_field(json_object *o, const char *key) {
  json_object *v = field(o, key);
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static const char *meta_str(json_object *obj, const char *key) {
  return str_field(field(obj, "metadata"), key);
}

/* The condition of status.conditions with the given type. */
static json_object *condition(json_object *obj, const char *type) {
  json_object *conds = field(field(obj, "status"), "conditions");
  if (!conds || !json_object_is_type(conds, json_type_array)) return NULL;
  for (size_t i = 0; i < json_object_array_length(conds); i++) {
    json_object *c = json_object_array_get_idx(conds, i);
    const char *t = str_field(c, "type");
    if (t && strcmp(t, type) == 0) return c;
  }
  return NULL;
}

/* --- columns -------------------------------------------------------------------------- */

typedef void (*cell_fn)(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size);
typedef struct column {
  const char *header;
  cell_fn cell;
} column_t;

static void put(char *buf, size_t size, const char *s) { snprintf(buf, size, "%s", s ? s : ""); }

static void cell_namespace(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  put(buf, size, meta_str(obj, "namespace"));
}

static void cell_name(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  put(buf, size, meta_str(obj, "name"));
}

static void cell_age(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  const char *ts = meta_str(obj, "creationTimestamp");
  time_t t;
  if (!ts || sbx_parse_timestamp(ts, &t) < 0) {
    put(buf, size, "<unknown>");
    return;
  }
  sbx_format_age((int64_t)(o->now - t), buf, size);
}

static void cell_owner(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  const char *uid = str_field(field(field(obj, "metadata"), "annotations"), SBX_OWNER_ANNOTATION);
  if (!uid || !*uid) {
    put(buf, size, "<none>");
    return;
  }
  char *end;
  errno = 0;
  unsigned long long u = strtoull(uid, &end, 10);
  if (!errno && !*end && uid[0] >= '0' && uid[0] <= '9' && u <= (uid_t)-1) {
    struct passwd *pw = getpwuid((uid_t)u);
    if (pw && pw->pw_name) {
      put(buf, size, pw->pw_name);
      return;
    }
  }
  put(buf, size, uid);
}

static void cell_ready(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  put(buf, size, str_field(condition(obj, "Ready"), "status"));
}

static void cell_reason(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  put(buf, size, str_field(condition(obj, "Ready"), "reason"));
}

static void cell_image(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  json_object *c = first_item(field(field(field(field(obj, "spec"), "podTemplate"), "spec"),
                                    "containers"));
  const char *image = str_field(c, "image");
  put(buf, size, image ? image : "<none>");
}

/* The pod's container statuses: status.podStatus (pod-mode sandboxes, the shim's report)
 * or status.containerStatuses (`sbx run` sandboxes). */
static json_object *container_statuses(json_object *obj) {
  json_object *st = field(obj, "status");
  json_object *cs = field(field(st, "podStatus"), "containerStatuses");
  if (cs && json_object_is_type(cs, json_type_array)) return cs;
  return field(st, "containerStatuses");
}

static void cell_restarts(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  json_object *cs = container_statuses(obj);
  int64_t total = 0;
  if (cs && json_object_is_type(cs, json_type_array))
    for (size_t i = 0; i < json_object_array_length(cs); i++) {
      json_object *n = field(json_object_array_get_idx(cs, i), "restartCount");
      if (n && json_object_is_type(n, json_type_int)) total += json_object_get_int64(n);
    }
  snprintf(buf, size, "%" PRId64, total);
}

/* Number of keys of data (and binaryData, for ConfigMaps). */
static void cell_data(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  size_t n = 0;
  const char *keys[] = {"data", "binaryData"};
  for (size_t i = 0; i < 2; i++) {
    json_object *d = field(obj, keys[i]);
    if (d && json_object_is_type(d, json_type_object)) n += (size_t)json_object_object_length(d);
  }
  snprintf(buf, size, "%zu", n);
}

static void cell_secret_type(json_object *obj, const sbx_print_opts_t *o, char *buf,
                             size_t size) {
  (void)o;
  const char *t = str_field(obj, "type");
  put(buf, size, t && *t ? t : "Opaque");
}

static void cell_pvc_status(json_object *obj, const sbx_print_opts_t *o, char *buf,
                            size_t size) {
  (void)o;
  const char *p = str_field(field(obj, "status"), "phase");
  put(buf, size, p ? p : "Pending");
}

static void cell_pvc_volume(json_object *obj, const sbx_print_opts_t *o, char *buf,
                            size_t size) {
  (void)o;
  put(buf, size, str_field(field(obj, "spec"), "volumeName"));
}

static void cell_pvc_capacity(json_object *obj, const sbx_print_opts_t *o, char *buf,
                              size_t size) {
  (void)o;
  put(buf, size, str_field(field(field(obj, "status"), "capacity"), "storage"));
}

/* kubectl's short forms of access modes, joined by ','. */
static void cell_pvc_access(json_object *obj, const sbx_print_opts_t *o, char *buf,
                            size_t size) {
  (void)o;
  json_object *modes = field(field(obj, "status"), "accessModes");
  if (!modes || !json_object_is_type(modes, json_type_array) ||
      json_object_array_length(modes) == 0)
    modes = field(field(obj, "spec"), "accessModes");
  static const struct {
    const char *mode, *abbr;
  } abbrs[] = {{"ReadWriteOnce", "RWO"}, {"ReadOnlyMany", "ROX"}, {"ReadWriteMany", "RWX"},
               {"ReadWriteOncePod", "RWOP"}};
  buf[0] = '\0';
  if (!modes || !json_object_is_type(modes, json_type_array)) return;
  size_t off = 0;
  for (size_t i = 0; i < json_object_array_length(modes) && off < size; i++) {
    json_object *m = json_object_array_get_idx(modes, i);
    const char *s = json_object_is_type(m, json_type_string) ? json_object_get_string(m) : "";
    const char *out = s;
    for (size_t j = 0; j < sizeof abbrs / sizeof *abbrs; j++)
      if (strcmp(abbrs[j].mode, s) == 0) out = abbrs[j].abbr;
    off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? "," : "", out);
  }
}

static void cell_pvc_class(json_object *obj, const sbx_print_opts_t *o, char *buf,
                           size_t size) {
  (void)o;
  const char *c = str_field(field(obj, "spec"), "storageClassName");
  put(buf, size, c && *c ? c : "sbx-local");
}

static void cell_pvc_mode(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  const char *m = str_field(field(obj, "spec"), "volumeMode");
  put(buf, size, m && *m ? m : "Filesystem");
}

/* The sandbox's state in a word or two: why it is not running when it is not (Suspended,
 * Expired, "Pending (Insufficient cpu)": the admission message up to its first ':'), else
 * the main container's: Running, Completed, "Exited (3)", "OOMKilled (137)", or the reason
 * it is waiting. */
static void cell_status(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  const char *ready_reason = str_field(condition(obj, "Ready"), "reason");
  json_object *pod = field(field(obj, "status"), "podStatus");
  const char *why = str_field(pod, "message");
  if (ready_reason && strcmp(ready_reason, "SandboxSuspended") == 0) {
    put(buf, size, "Suspended");
    return;
  }
  if (ready_reason && strcmp(ready_reason, "SandboxExpired") == 0) {
    put(buf, size, "Expired");
    return;
  }
  if (why && strcmp(str_field(pod, "reason") ?: "", "Unschedulable") == 0) {
    snprintf(buf, size, "Pending (%.*s)", (int)strcspn(why, ":"), why);
    return;
  }
  json_object *cs = first_item(container_statuses(obj));
  json_object *state = field(cs, "state");
  json_object *term = field(state, "terminated");
  if (field(state, "running")) {
    put(buf, size, "Running");
  } else if (term) {
    const char *reason = str_field(term, "reason");
    json_object *code_o = field(term, "exitCode");
    int64_t code = code_o ? json_object_get_int64(code_o) : 0;
    if (reason && strcmp(reason, "OOMKilled") == 0)
      snprintf(buf, size, "OOMKilled (%" PRId64 ")", code);
    else if (code == 0 && (!reason || strcmp(reason, "Completed") == 0))
      put(buf, size, "Completed");
    else
      snprintf(buf, size, "Exited (%" PRId64 ")", code);
  } else if (field(state, "waiting")) {
    const char *reason = str_field(field(state, "waiting"), "reason");
    put(buf, size, reason ? reason : "Waiting");
  } else {
    put(buf, size, "<none>");
  }
}

/* --- sbx top: PodMetrics (numbers in its `sbx` extension) and UserMetrics (at the top) --- */

static json_object *usage_of(json_object *obj) {
  json_object *x = field(obj, "sbx");
  return x ? x : obj;
}

static int64_t usage_int(json_object *obj, const char *key, const char *sub) {
  json_object *o = usage_of(obj);
  if (sub) o = field(o, sub);
  o = field(o, key);
  return o ? json_object_get_int64(o) : 0;
}

/* bytes as kubectl top shows memory (Mi), with Ki below 1Mi and Gi from 10Gi up */
static void cell_bytes_of(int64_t b, char *buf, size_t size) {
  if (b < (1LL << 20)) snprintf(buf, size, "%" PRId64 "Ki", b / 1024);
  else if (b < (10LL << 30)) snprintf(buf, size, "%" PRId64 "Mi", b >> 20);
  else snprintf(buf, size, "%.1fGi", (double)b / (double)(1LL << 30));
}

static void cell_cpu(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  int64_t m = usage_int(obj, "cpuMillicores", NULL);
  if (m < 0) put(buf, size, "-"); /* not sampled yet, or not running */
  else snprintf(buf, size, "%" PRId64 "m", m);
}

static void cell_memory(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  cell_bytes_of(usage_int(obj, "memoryBytes", NULL), buf, size);
}

static void cell_pids(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  snprintf(buf, size, "%" PRId64, usage_int(obj, "pids", NULL));
}

static void cell_writable(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  cell_bytes_of(usage_int(obj, "writableLayerBytes", "disk"), buf, size);
}

static void cell_claims(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  cell_bytes_of(usage_int(obj, "claimsBytes", "disk"), buf, size);
}

static void cell_phase(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  put(buf, size, str_field(field(obj, "sbx"), "phase"));
}

static void cell_uid(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  snprintf(buf, size, "%" PRId64, usage_int(obj, "uid", NULL));
}

static void cell_sandboxes(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  snprintf(buf, size, "%" PRId64 " (%" PRId64 " running)", usage_int(obj, "sandboxes", NULL),
           usage_int(obj, "running", NULL));
}

/* A ResourceQuota's "RESOURCE: used/hard" for each resource it bounds, as kubectl's REQUEST column. */
static void cell_quota(json_object *obj, const sbx_print_opts_t *o, char *buf, size_t size) {
  (void)o;
  json_object *st = field(obj, "status"), *hard = field(st, "hard"), *used = field(st, "used");
  size_t off = 0;
  buf[0] = '\0';
  if (!hard || !json_object_is_type(hard, json_type_object)) return;
  json_object_object_foreach(hard, k, v) {
    if (off >= size) break;
    off += (size_t)snprintf(buf + off, size - off, "%s%s: %s/%s", off ? ", " : "", k,
                            str_field(used, k) ? str_field(used, k) : "0", json_object_get_string(v));
  }
}

typedef struct kind_columns {
  const char *kind;
  column_t cols[8];  /* after NAME; {NULL} ends */
  column_t wide[4];  /* added by -o wide */
} kind_columns_t;

/* kubectl's columns: the Sandbox CRD's additionalPrinterColumns, and the core kinds' own. */
static const kind_columns_t kind_columns[] = {
    {"Sandbox",
     {{"READY", cell_ready}, {"REASON", cell_reason}, {"STATUS", cell_status}, {"AGE", cell_age}, {NULL, NULL}},
     {{"IMAGE", cell_image}, {"RESTARTS", cell_restarts}, {NULL, NULL}}},
    {"Secret",
     {{"TYPE", cell_secret_type}, {"DATA", cell_data}, {"AGE", cell_age}, {NULL, NULL}},
     {{NULL, NULL}}},
    {"ConfigMap", {{"DATA", cell_data}, {"AGE", cell_age}, {NULL, NULL}}, {{NULL, NULL}}},
    {"PersistentVolumeClaim",
     {{"STATUS", cell_pvc_status}, {"VOLUME", cell_pvc_volume}, {"CAPACITY", cell_pvc_capacity},
      {"ACCESS MODES", cell_pvc_access}, {"STORAGECLASS", cell_pvc_class}, {"AGE", cell_age}},
     {{"VOLUMEMODE", cell_pvc_mode}, {NULL, NULL}}},
    {"PodMetrics",
     {{"CPU(cores)", cell_cpu}, {"MEMORY(bytes)", cell_memory}, {"PIDS", cell_pids},
      {"WRITABLE", cell_writable}, {"CLAIMS", cell_claims}, {NULL, NULL}},
     {{"PHASE", cell_phase}, {NULL, NULL}}},
    {"UserMetrics",
     {{"UID", cell_uid}, {"SANDBOXES", cell_sandboxes}, {"CPU(cores)", cell_cpu}, {"MEMORY(bytes)", cell_memory},
      {"PIDS", cell_pids}, {"WRITABLE", cell_writable}, {"CLAIMS", cell_claims}, {NULL, NULL}},
     {{NULL, NULL}}},
    {"ResourceQuota", {{"USED/HARD", cell_quota}, {NULL, NULL}}, {{NULL, NULL}}},
};
static const kind_columns_t default_columns = {"", {{"AGE", cell_age}, {NULL, NULL}}, {{NULL, NULL}}};

static const kind_columns_t *columns_of(const sbx_kind_t *k) {
  for (size_t i = 0; i < sizeof kind_columns / sizeof *kind_columns; i++)
    if (strcmp(kind_columns[i].kind, k->kind) == 0) return &kind_columns[i];
  return &default_columns;
}

/* --- table ---------------------------------------------------------------------------- */

#define MAX_COLS 16
#define CELL_MAX 256

/* Display width of UTF-8 text: code points. */
static size_t text_width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) w++;
  return w;
}

/* Control characters would break the table (or the terminal): shown as '?'. */
static void sanitize(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

static int print_table(FILE *out, const sbx_kind_t *kind, json_object **items, size_t n,
                       const sbx_print_opts_t *o, sbx_error_t *err) {
  const kind_columns_t *kc = columns_of(kind);
  column_t cols[MAX_COLS];
  size_t nc = 0;
  if (o->all_namespaces) cols[nc++] = (column_t){"NAMESPACE", cell_namespace};
  cols[nc++] = (column_t){"NAME", cell_name};
  for (size_t i = 0; kc->cols[i].header && nc < MAX_COLS; i++) cols[nc++] = kc->cols[i];
  if (o->all_namespaces) cols[nc++] = (column_t){"OWNER", cell_owner};
  if (o->output == SBX_OUTPUT_WIDE)
    for (size_t i = 0; kc->wide[i].header && nc < MAX_COLS; i++) cols[nc++] = kc->wide[i];

  _cleanup_free_ char *cells = calloc((n + 1) * nc, CELL_MAX);
  if (!cells) return sbx_error_set(err, ENOMEM, "print table");
  size_t width[MAX_COLS] = {0};
  for (size_t r = 0; r <= n; r++)
    for (size_t c = 0; c < nc; c++) {
      char *cell = cells + (r * nc + c) * CELL_MAX;
      if (r == 0) put(cell, CELL_MAX, cols[c].header);
      else cols[c].cell(items[r - 1], o, cell, CELL_MAX);
      sanitize(cell);
      size_t w = text_width(cell);
      if (w > width[c]) width[c] = w;
    }
  /* kubectl's tabwriter: padding 3, minimum cell width 6, last column unpadded. */
  for (size_t r = 0; r <= n; r++) {
    for (size_t c = 0; c < nc; c++) {
      const char *cell = cells + (r * nc + c) * CELL_MAX;
      fputs(cell, out);
      if (c + 1 < nc) {
        size_t w = width[c] + 3 < 6 ? 6 : width[c] + 3;
        fprintf(out, "%*s", (int)(w - text_width(cell)), "");
      }
    }
    fputc('\n', out);
  }
  return 0;
}

/* --- JSON ----------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void indent(FILE *f, int depth) { fprintf(f, "%*s", depth * 4, ""); }

static void pretty(FILE *f, json_object *o, int depth) {
  if (json_object_is_type(o, json_type_object)) {
    size_t n = (size_t)json_object_object_length(o), i = 0;
    if (n == 0) {
      fputs("{}", f);
      return;
    }
    _cleanup_free_ const char **keys = calloc(n, sizeof *keys);
    if (!keys) return;
    json_object_object_foreach(o, k, v) {
      (void)v;
      if (i < n) keys[i++] = k;
    }
    qsort(keys, i, sizeof *keys, cmp_str);
    fputs("{\n", f);
    for (size_t j = 0; j < i; j++) {
      indent(f, depth + 1);
      json_object *ks = json_object_new_string(keys[j]);
      fputs(ks ? json_object_to_json_string_ext(ks, JSON_C_TO_STRING_NOSLASHESCAPE) : "\"\"", f);
      json_object_put(ks);
      fputs(": ", f);
      pretty(f, json_object_object_get(o, keys[j]), depth + 1);
      fputs(j + 1 < i ? ",\n" : "\n", f);
    }
    indent(f, depth);
    fputc('}', f);
  } else if (json_object_is_type(o, json_type_array)) {
    size_t n = json_object_array_length(o);
    if (n == 0) {
      fputs("[]", f);
      return;
    }
    fputs("[\n", f);
    for (size_t j = 0; j < n; j++) {
      indent(f, depth + 1);
      pretty(f, json_object_array_get_idx(o, j), depth + 1);
      fputs(j + 1 < n ? ",\n" : "\n", f);
    }
    indent(f, depth);
    fputc(']', f);
  } else {
    fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
          f);
  }
}

char *sbx_json_pretty(json_object *o) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  pretty(f, o, 0);
  fputc('\n', f);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* --- objects -------------------------------------------------------------------------- */

static int cmp_objects(const void *a, const void *b) {
  json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
  const char *nx = meta_str(x, "namespace"), *ny = meta_str(y, "namespace");
  int r = strcmp(nx ? nx : "", ny ? ny : "");
  if (r) return r;
  nx = meta_str(x, "name");
  ny = meta_str(y, "name");
  return strcmp(nx ? nx : "", ny ? ny : "");
}

void sbx_sort_objects(json_object **items, size_t n) {
  if (n > 1) qsort(items, n, sizeof *items, cmp_objects);
}

int sbx_print_objects(FILE *out, const sbx_kind_t *kind, json_object **items, size_t n,
                      bool single, const sbx_print_opts_t *opts, sbx_error_t *err) {
  switch (opts->output) {
  case SBX_OUTPUT_TABLE:
  case SBX_OUTPUT_WIDE:
    return print_table(out, kind, items, n, opts, err);
  case SBX_OUTPUT_NAME:
    for (size_t i = 0; i < n; i++) {
      const char *name = meta_str(items[i], "name");
      fprintf(out, "%s/%s\n", kind->singular, name ? name : "");
    }
    return 0;
  case SBX_OUTPUT_JSON:
  case SBX_OUTPUT_YAML:
    break;
  }

  _cleanup_json_ json_object *list = NULL;
  json_object *doc;
  if (single && n == 1) {
    doc = items[0];
  } else {
    char av[128];
    json_object *arr = json_object_new_array();
    list = json_object_new_object();
    if (!arr || !list) {
      json_object_put(arr);
      return sbx_error_set(err, ENOMEM, "print");
    }
    json_object_object_add(list, "apiVersion",
                           json_object_new_string(sbx_kind_api_version(kind, av, sizeof av)));
    json_object_object_add(list, "kind", json_object_new_string(kind->list_kind));
    json_object_object_add(list, "items", arr);
    for (size_t i = 0; i < n; i++) json_object_array_add(arr, json_object_get(items[i]));
    doc = list;
  }
  if (opts->output == SBX_OUTPUT_YAML) return sbx_yaml_write(out, doc, SBX_YAML_SORT_KEYS, err);
  _cleanup_free_ char *text = sbx_json_pretty(doc);
  if (!text) return sbx_error_set(err, ENOMEM, "print");
  fputs(text, out);
  return 0;
}

void sbx_status_message(json_object *body, long http_code, char *buf, size_t size) {
  const char *message = str_field(body, "message");
  const char *reason = str_field(body, "reason");
  if (message && *message && reason && *reason)
    snprintf(buf, size, "Error from server (%s): %s", reason, message);
  else if (message && *message)
    snprintf(buf, size, "Error from server: %s", message);
  else
    snprintf(buf, size, "Error from server: the server answered HTTP status %ld", http_code);
}
