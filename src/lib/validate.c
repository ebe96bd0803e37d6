/* validate.c: manifest validation against a table of honoured fields (see validate.h).
 *
 * Design: each object type of the API (ObjectMeta, PodSpec, Container, Volume, ...) is a
 * `struct schema`: the fields sbx honours, each with its JSON kind and what checks its
 * value (a sub-schema, an item description for arrays and maps, an enum, a range, or a
 * checker function), plus the names of the fields that exist upstream but that sbx does
 * not honour, and optionally a whole-object check for rules between fields (exactly one
 * volume source, limit >= request, unique names). One generic walker (check_object /
 * check_value) follows the tables, so adding a field is one line in a table. The walker's
 * recursion is bounded by the tables' own depth: ignored subtrees are never descended.
 *
 * Upstream field names were written from the Kubernetes core/v1 API and the agent-sandbox
 * CRDs; they are names only, to tell "not supported by sbx" from "unknown field".
 * JSON null counts as absent, as it does for Kubernetes. */
#include "lib/validate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/names.h"
#include "lib/quantity.h"

#define QUOTE 64

struct vctx {
  const struct sbx_manifest_doc *doc;
  sbx_error_t *err;
  bool beta;              /* Sandbox v1beta1 */
  bool subdomain_name;    /* Secret/ConfigMap: metadata.name is a DNS subdomain */
  json_object *spec;      /* Sandbox spec, for the volume claim templates */
};

/* ---- errors ------------------------------------------------------------------------- */

/* Line of path, or of its nearest parent the line map knows. */
static int line_of(const struct vctx *c, const char *path) {
  if (!c->doc) return 0;
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", path);
  for (;;) {
    int l = sbx_manifest_line(c->doc, buf);
    if (l > 0) return l;
    char *dot = strrchr(buf, '.');
    char *br = strrchr(buf, '[');
    char *cut = dot > br ? dot : br;
    if (!cut) return c->doc->line;
    *cut = '\0';
  }
}

static int verr(struct vctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int verr(struct vctx *c, const char *path, const char *fmt, ...) {
  char why[700];
  char p[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  sbx_escape_for_message(path, 250, p, sizeof p);
  int line = line_of(c, path);
  if (line > 0)
    sbx_error_set(c->err, 0, "%s: %s (line %d)", p, why, line);
  else
    sbx_error_set(c->err, 0, "%s: %s", p, why);
  if (c->err) c->err->errnum = EINVAL;
  return -1;
}

static const char *type_name(json_object *v) {
  switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "boolean";
    case json_type_double: return "number";
    case json_type_int: return "integer";
    case json_type_object: return "object";
    case json_type_array: return "array";
    case json_type_string: return "string";
  }
  return "value";
}

static void quote(const char *s, char *out, size_t n) { sbx_escape_for_message(s, QUOTE, out, n); }
#define QBUF char q[QUOTE * 4 + 8]

static char *join(const char *path, const char *key) {
  char *p = NULL;
  if (asprintf(&p, "%s%s%s", path, *path ? "." : "", key) < 0) abort();
  return p;
}
static char *join_index(const char *path, size_t i) {
  char *p = NULL;
  if (asprintf(&p, "%s[%zu]", path, i) < 0) abort();
  return p;
}

/* ---- tables ------------------------------------------------------------------------- */

enum vkind { K_STR, K_INT, K_BOOL, K_OBJ, K_ARR, K_QTY, K_IGNORE, K_CUSTOM };

struct vctx;
typedef int (*checker)(struct vctx *c, json_object *v, const char *path);

enum { F_REQ = 1, F_RANGE = 2, F_BYTES = 4 /* K_QTY: a byte count, not CPU */ };

struct schema;
struct field {
  const char *name;
  enum vkind kind;
  unsigned flags;
  const struct schema *sub;  /* K_OBJ */
  const struct field *item;  /* K_ARR: what each item is */
  const char *const *enums;  /* K_STR: allowed values */
  int64_t min, max;          /* K_INT with F_RANGE */
  checker check;             /* extra check on the value (K_CUSTOM: the whole check) */
};

struct schema {
  const char *what;
  const struct field *fields;     /* ends with {NULL} */
  const char *const *upstream;    /* upstream names sbx does not honour */
  checker check;                  /* whole-object rules, after the fields */
};

static const struct field *find_field(const struct schema *s, const char *name) {
  for (const struct field *f = s->fields; f->name; f++)
    if (strcmp(f->name, name) == 0) return f;
  return NULL;
}

static bool in_list(const char *const *list, const char *s) {
  for (; list && *list; list++)
    if (strcmp(*list, s) == 0) return true;
  return false;
}

static int check_object(struct vctx *c, json_object *o, const struct schema *s, const char *path);

/* A string value without NUL bytes; *out is the C string. */
static int get_string(struct vctx *c, json_object *v, const char *path, const char **out) {
  if (!json_object_is_type(v, json_type_string))
    return verr(c, path, "expected string, got %s", type_name(v));
  const char *s = json_object_get_string(v);
  if (strlen(s) != (size_t)json_object_get_string_len(v))
    return verr(c, path, "must not contain a NUL character");
  *out = s;
  return 0;
}

static int check_enum(struct vctx *c, const char *s, const char *const *enums, const char *path) {
  if (in_list(enums, s)) return 0;
  char list[256] = "";
  for (const char *const *e = enums; *e; e++) {
    size_t n = strlen(list);
    snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", **e ? *e : "\"\"");
  }
  QBUF;
  quote(s, q, sizeof q);
  return verr(c, path, "\"%s\" is not one of %s", q, list);
}

/* The text of a quantity value (a string, or a number as written). */
static int quantity_text(struct vctx *c, json_object *v, const char *path, char *buf, size_t n) {
  if (json_object_is_type(v, json_type_int)) {
    snprintf(buf, n, "%" PRId64, json_object_get_int64(v));
  } else if (json_object_is_type(v, json_type_double)) {
    snprintf(buf, n, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
  } else {
    const char *s;
    if (!json_object_is_type(v, json_type_string))
      return verr(c, path, "expected a quantity (string or number), got %s", type_name(v));
    if (get_string(c, v, path, &s) < 0) return -1;
    snprintf(buf, n, "%s", s);
    if (strlen(s) >= n) snprintf(buf, n, "%.*s", (int)(n - 1), s);
  }
  return 0;
}

/* Check a quantity; *val gets milli-units (CPU) or bytes. Zero is allowed. */
static int check_quantity(struct vctx *c, json_object *v, const char *path, bool bytes,
                          int64_t *val) {
  char text[200];
  if (quantity_text(c, v, path, text, sizeof text) < 0) return -1;
  sbx_error_t qe = {0};
  int64_t x = 0;
  int r = bytes ? sbx_quantity_bytes(text, &x, &qe) : sbx_quantity_parse(text, &x, &qe);
  if (r < 0 && bytes && qe.errnum == EINVAL) {
    int64_t m;
    sbx_error_t qe2 = {0};
    if (sbx_quantity_parse(text, &m, &qe2) == 0 && m == 0) r = 0, x = 0;
  }
  if (r < 0) {
    const char *why = strstr(qe.msg, "\": ");
    why = why ? why + 3 : qe.msg;
    QBUF;
    quote(text, q, sizeof q);
    if (qe.errnum == ERANGE) return verr(c, path, "\"%s\" is %s", q, why);
    return verr(c, path, "\"%s\" is not a quantity: %s", q, why);
  }
  if (val) *val = x;
  return 0;
}

static int check_value(struct vctx *c, const struct field *f, json_object *v, const char *path) {
  const char *s;
  switch (f->kind) {
    case K_IGNORE:
      return 0;
    case K_CUSTOM:
      return f->check(c, v, path);
    case K_STR:
      if (get_string(c, v, path, &s) < 0) return -1;
      if (f->enums && check_enum(c, s, f->enums, path) < 0) return -1;
      break;
    case K_INT:
      if (!json_object_is_type(v, json_type_int))
        return verr(c, path, "expected integer, got %s", type_name(v));
      if (f->flags & F_RANGE) {
        int64_t n = json_object_get_int64(v);
        if (n < f->min || n > f->max)
          return verr(c, path, "%" PRId64 " is out of range (%" PRId64 " to %" PRId64 ")", n,
                      f->min, f->max);
      }
      break;
    case K_BOOL:
      if (!json_object_is_type(v, json_type_boolean))
        return verr(c, path, "expected boolean, got %s", type_name(v));
      break;
    case K_QTY:
      if (check_quantity(c, v, path, f->flags & F_BYTES, NULL) < 0) return -1;
      break;
    case K_OBJ:
      if (check_object(c, v, f->sub, path) < 0) return -1;
      break;
    case K_ARR: {
      if (!json_object_is_type(v, json_type_array))
        return verr(c, path, "expected array, got %s", type_name(v));
      size_t n = json_object_array_length(v);
      for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *ip = join_index(path, i);
        json_object *it = json_object_array_get_idx(v, i);
        if (!it) return verr(c, ip, "must not be null");
        if (check_value(c, f->item, it, ip) < 0) return -1;
      }
      break;
    }
  }
  if (f->check && f->kind != K_CUSTOM) return f->check(c, v, path);
  return 0;
}

static int check_object(struct vctx *c, json_object *o, const struct schema *s, const char *path) {
  if (!json_object_is_type(o, json_type_object))
    return verr(c, path, "expected object, got %s", type_name(o));
  json_object_object_foreach(o, key, val) {
    _cleanup_free_ char *kp = join(path, key);
    const struct field *f = find_field(s, key);
    if (!f) {
      if (in_list(s->upstream, key)) return verr(c, kp, "not supported by sbx");
      return verr(c, kp, "unknown field");
    }
    if (!val) continue; /* null: absent */
    if (check_value(c, f, val, kp) < 0) return -1;
  }
  for (const struct field *f = s->fields; f->name; f++) {
    json_object *v = NULL;
    if ((f->flags & F_REQ) && (!json_object_object_get_ex(o, f->name, &v) || !v)) {
      _cleanup_free_ char *kp = join(path, f->name);
      return verr(c, kp, "required");
    }
  }
  return s->check ? s->check(c, o, path) : 0;
}

/* ---- value checkers ------------------------------------------------------------------ */

static json_object *get(json_object *o, const char *k) {
  json_object *v = NULL;
  if (!o || !json_object_object_get_ex(o, k, &v)) return NULL;
  return v;
}

static const char *str_of(json_object *o, const char *k) {
  json_object *v = get(o, k);
  return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int chk_dns_label(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  if (sbx_is_dns_label(s)) return 0;
  sbx_error_t ne = {0};
  sbx_name_validate_label(s, "the name", &ne);
  return verr(c, path, "%s", ne.msg);
}

static int chk_object_name(struct vctx *c, json_object *v, const char *path) {
  if (!c->subdomain_name) return chk_dns_label(c, v, path);
  const char *s = json_object_get_string(v);
  if (sbx_is_dns_subdomain(s)) return 0;
  QBUF;
  quote(s, q, sizeof q);
  if (!*s) return verr(c, path, "must not be empty");
  return verr(c, path,
              "\"%s\" (%zu characters) is not a lowercase RFC 1123 subdomain: a-z, 0-9, '-' "
              "and '.', each part starting and ending with a letter or digit, at most 253 "
              "characters",
              q, strlen(s));
}

/* A normalised absolute path ('.' parts and repeated '/' removed) into out; -1 if the
 * path is relative or has a ".." part. */
static int normalize_abs(const char *s, char *out, size_t n) {
  if (s[0] != '/') return -1;
  size_t o = 0;
  const char *p = s;
  while (*p) {
    while (*p == '/') p++;
    const char *e = strchrnul(p, '/');
    size_t len = (size_t)(e - p);
    if (len == 0) break;
    if (len == 2 && p[0] == '.' && p[1] == '.') return -1;
    if (!(len == 1 && p[0] == '.')) {
      if (o + len + 2 >= n) return -1;
      out[o++] = '/';
      memcpy(out + o, p, len);
      o += len;
    }
    p = e;
  }
  if (o == 0) out[o++] = '/';
  out[o] = '\0';
  return 0;
}

static bool has_dotdot(const char *s) {
  for (const char *p = s; *p;) {
    const char *e = strchrnul(p, '/');
    if (e - p == 2 && p[0] == '.' && p[1] == '.') return true;
    p = *e ? e + 1 : e;
  }
  return false;
}

static int chk_abs_path(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  char norm[4096];
  QBUF;
  quote(s, q, sizeof q);
  if (s[0] != '/') return verr(c, path, "\"%s\" must be an absolute path", q);
  if (normalize_abs(s, norm, sizeof norm) < 0)
    return verr(c, path, "\"%s\" must not contain \"..\" (and at most 4095 bytes)", q);
  return 0;
}

static int chk_rel_path(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  QBUF;
  quote(s, q, sizeof q);
  if (s[0] == '/') return verr(c, path, "\"%s\" must be a relative path", q);
  if (has_dotdot(s)) return verr(c, path, "\"%s\" must not contain \"..\"", q);
  return 0;
}

static int chk_key_path(struct vctx *c, json_object *v, const char *path) {
  if (!*json_object_get_string(v)) return verr(c, path, "must not be empty");
  return chk_rel_path(c, v, path);
}

static int chk_mount_path(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  char norm[4096];
  if (chk_abs_path(c, v, path) < 0) return -1;
  normalize_abs(s, norm, sizeof norm);
  QBUF;
  quote(s, q, sizeof q);
  if (strcmp(norm, "/") == 0) return verr(c, path, "\"%s\": cannot mount over the root", q);
  static const char *const banned[] = {"/proc", "/sys", "/dev", NULL};
  for (const char *const *b = banned; *b; b++) {
    size_t n = strlen(*b);
    if (strncmp(norm, *b, n) == 0 && (norm[n] == '\0' || norm[n] == '/'))
      return verr(c, path, "\"%s\": sbx does not mount volumes over or under %s", q, *b);
  }
  return 0;
}

static int chk_image(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  if (strcmp(s, "host") == 0) return 0;
  if (strncmp(s, "rootfs:", 7) == 0) {
    char norm[4096];
    QBUF;
    quote(s + 7, q, sizeof q);
    if (normalize_abs(s + 7, norm, sizeof norm) < 0)
      return verr(c, path, "rootfs:\"%s\": the directory must be an absolute path without \"..\"",
                  q);
    return 0;
  }
  QBUF;
  quote(s, q, sizeof q);
  return verr(c, path, "image \"%s\" cannot be pulled: sbx runs `host` or `rootfs:DIR` images", q);
}

bool sbx_is_port_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--")) return false;
  bool letter = false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] >= 'a' && s[i] <= 'z')
      letter = true;
    else if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return false;
  }
  return letter;
}

static int chk_port_name(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  if (sbx_is_port_name(s)) return 0;
  QBUF;
  quote(s, q, sizeof q);
  return verr(c, path,
              "\"%s\" is not a port name: at most 15 of a-z, 0-9 and '-', with at least one "
              "letter, no leading, trailing or doubled '-'",
              q);
}

static int chk_protocol(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  if (strcmp(s, "TCP") == 0) return 0;
  QBUF;
  quote(s, q, sizeof q);
  if (strcmp(s, "UDP") == 0 || strcmp(s, "SCTP") == 0)
    return verr(c, path, "protocol %s is not supported by sbx (TCP only)", q);
  return verr(c, path, "\"%s\" is not one of TCP, UDP, SCTP", q);
}

static int chk_env_name(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  QBUF;
  quote(s, q, sizeof q);
  if (!*s) return verr(c, path, "must not be empty");
  if (strchr(s, '=')) return verr(c, path, "\"%s\" must not contain '='", q);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return verr(c, path, "\"%s\" must not contain control characters", q);
  return 0;
}

static int chk_field_path(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  if (strcmp(s, "metadata.name") == 0 || strcmp(s, "metadata.namespace") == 0) return 0;
  QBUF;
  quote(s, q, sizeof q);
  return verr(c, path, "\"%s\" is not supported by sbx (metadata.name or metadata.namespace)", q);
}

static int chk_field_api(struct vctx *c, json_object *v, const char *path) {
  if (strcmp(json_object_get_string(v), "v1") == 0) return 0;
  return verr(c, path, "must be v1");
}

const char *const sbx_safe_capabilities[] = {
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT", NULL};

static const char *const all_capabilities[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
    "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE", NULL};

static const char *cap_base(const char *s) { return strncmp(s, "CAP_", 4) == 0 ? s + 4 : s; }

static int chk_cap_drop(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  if (strcmp(s, "ALL") == 0 || in_list(all_capabilities, cap_base(s))) return 0;
  QBUF;
  quote(s, q, sizeof q);
  return verr(c, path, "\"%s\" is not a capability", q);
}

static int chk_cap_add(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  QBUF;
  quote(s, q, sizeof q);
  if (in_list(sbx_safe_capabilities, cap_base(s))) return 0;
  if (!in_list(all_capabilities, cap_base(s)) && strcmp(s, "ALL") != 0)
    return verr(c, path, "\"%s\" is not a capability", q);
  return verr(c, path,
              "adding \"%s\" is not supported by sbx: a container may add only CHOWN, "
              "DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, "
              "SETUID, SYS_CHROOT",
              q);
}

static int chk_no_priv_esc(struct vctx *c, json_object *v, const char *path) {
  if (!json_object_get_boolean(v)) return 0;
  return verr(c, path, "true is not supported: sbx always sets no_new_privs");
}

static int chk_not_privileged(struct vctx *c, json_object *v, const char *path) {
  if (!json_object_get_boolean(v)) return 0;
  return verr(c, path, "true is not supported: sbx never runs privileged containers");
}

static int chk_access_mode(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  if (strcmp(s, "ReadWriteOnce") == 0 || strcmp(s, "ReadWriteOncePod") == 0) return 0;
  QBUF;
  quote(s, q, sizeof q);
  if (strcmp(s, "ReadOnlyMany") == 0 || strcmp(s, "ReadWriteMany") == 0)
    return verr(c, path, "\"%s\" is not supported by sbx (ReadWriteOnce, ReadWriteOncePod)", q);
  return verr(c, path, "\"%s\" is not one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, "
              "ReadWriteOncePod", q);
}

static bool digits(const char *s, int n) {
  for (int i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}
static int num(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

bool sbx_is_rfc3339(const char *s) {
  /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
  if (strlen(s) < 20) return false;
  if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
    return false;
  if (s[10] != 'T' && s[10] != 't') return false;
  if (!digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
      !digits(s + 17, 2))
    return false;
  int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
  int h = num(s + 11, 2), mi = num(s + 14, 2), se = num(s + 17, 2);
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
    return false;
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return false;
  const char *p = s + 19;
  if (*p == '.') {
    p++;
    if (!(*p >= '0' && *p <= '9')) return false;
    while (*p >= '0' && *p <= '9') p++;
  }
  if ((*p == 'Z' || *p == 'z') && p[1] == '\0') return true;
  if ((*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) &&
      p[6] == '\0')
    return num(p + 1, 2) <= 23 && num(p + 4, 2) <= 59;
  return false;
}

static int chk_rfc3339(struct vctx *c, json_object *v, const char *path) {
  const char *s = json_object_get_string(v);
  if (sbx_is_rfc3339(s)) return 0;
  QBUF;
  quote(s, q, sizeof q);
  return verr(c, path, "\"%s\" is not an RFC 3339 date-time (e.g. 2025-06-01T18:00:00Z)", q);
}

static int chk_label_map(struct vctx *c, json_object *v, const char *path, bool labels) {
  if (!json_object_is_type(v, json_type_object))
    return verr(c, path, "expected object, got %s", type_name(v));
  size_t total = 0;
  json_object_object_foreach(v, key, val) {
    _cleanup_free_ char *kp = join(path, key);
    QBUF;
    quote(key, q, sizeof q);
    if (!sbx_is_qualified_name(key))
      return verr(c, kp, "\"%s\" is not a valid key: [prefix/]name, name at most 63 of "
                  "[A-Za-z0-9-_.] starting and ending with a letter or digit", q);
    const char *s;
    if (!val) continue;
    if (get_string(c, val, kp, &s) < 0) return -1;
    total += strlen(key) + strlen(s);
    if (labels && !sbx_is_label_value(s)) {
      quote(s, q, sizeof q);
      return verr(c, kp, "\"%s\" is not a valid label value: at most 63 of [A-Za-z0-9-_.] "
                  "starting and ending with a letter or digit", q);
    }
  }
  if (total > 256 * 1024) return verr(c, path, "too large (at most 256 KiB in all)");
  return 0;
}
static int chk_labels(struct vctx *c, json_object *v, const char *path) {
  return chk_label_map(c, v, path, true);
}
static int chk_annotations(struct vctx *c, json_object *v, const char *path) {
  return chk_label_map(c, v, path, false);
}

static bool is_alnum(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* Keys of Secret/ConfigMap data: [-._a-zA-Z0-9]+, at most 253, not "." or "..". */
static int chk_data_key(struct vctx *c, const char *key, const char *path) {
  QBUF;
  quote(key, q, sizeof q);
  size_t n = strlen(key);
  bool ok = n > 0 && n <= 253 && strcmp(key, ".") != 0 && strcmp(key, "..") != 0;
  for (size_t i = 0; ok && i < n; i++)
    if (!is_alnum(key[i]) && key[i] != '-' && key[i] != '_' && key[i] != '.') ok = false;
  if (!ok)
    return verr(c, path, "\"%s\" is not a valid key: at most 253 of [-._a-zA-Z0-9], not "
                "\".\" or \"..\"", q);
  return 0;
}

static int chk_data_map(struct vctx *c, json_object *v, const char *path, bool b64) {
  if (!json_object_is_type(v, json_type_object))
    return verr(c, path, "expected object, got %s", type_name(v));
  json_object_object_foreach(v, key, val) {
    _cleanup_free_ char *kp = join(path, key);
    if (chk_data_key(c, key, kp) < 0) return -1;
    if (!val) continue;
    if (!json_object_is_type(val, json_type_string))
      return verr(c, kp, "expected string, got %s", type_name(val));
    if (b64 && !sbx_base64_valid(json_object_get_string(val),
                                 (size_t)json_object_get_string_len(val)))
      return verr(c, kp, "is not valid base64 (use stringData for plain text)");
    /* Plain text values may hold any bytes, NUL included (they are file contents). */
  }
  return 0;
}
static int chk_b64_map(struct vctx *c, json_object *v, const char *path) {
  return chk_data_map(c, v, path, true);
}
static int chk_text_map(struct vctx *c, json_object *v, const char *path) {
  return chk_data_map(c, v, path, false);
}

/* resources.requests / limits: cpu, memory, ephemeral-storage. */
static int chk_resource_map(struct vctx *c, json_object *v, const char *path) {
  if (!json_object_is_type(v, json_type_object))
    return verr(c, path, "expected object, got %s", type_name(v));
  json_object_object_foreach(v, key, val) {
    _cleanup_free_ char *kp = join(path, key);
    bool cpu = strcmp(key, "cpu") == 0;
    if (!cpu && strcmp(key, "memory") != 0 && strcmp(key, "ephemeral-storage") != 0) {
      QBUF;
      quote(key, q, sizeof q);
      return verr(c, kp, "the resource \"%s\" is not supported by sbx (cpu, memory, "
                  "ephemeral-storage)", q);
    }
    if (!val) continue;
    if (check_quantity(c, val, kp, !cpu, NULL) < 0) return -1;
  }
  return 0;
}

static int chk_storage_map(struct vctx *c, json_object *v, const char *path) {
  if (!json_object_is_type(v, json_type_object))
    return verr(c, path, "expected object, got %s", type_name(v));
  json_object_object_foreach(v, key, val) {
    _cleanup_free_ char *kp = join(path, key);
    if (strcmp(key, "storage") != 0) {
      QBUF;
      quote(key, q, sizeof q);
      return verr(c, kp, "the resource \"%s\" is not supported by sbx (storage)", q);
    }
    int64_t b = 0;
    if (!val) continue;
    if (check_quantity(c, val, kp, true, &b) < 0) return -1;
    if (b <= 0) return verr(c, kp, "must be more than 0");
  }
  if (!get(v, "storage")) {
    _cleanup_free_ char *kp = join(path, "storage");
    return verr(c, kp, "required (the volume's capacity, e.g. 20Gi)");
  }
  return 0;
}

/* ---- object rules -------------------------------------------------------------------- */

static int obj_resources(struct vctx *c, json_object *o, const char *path) {
  json_object *req = get(o, "requests"), *lim = get(o, "limits");
  if (!req || !lim) return 0;
  json_object_object_foreach(lim, key, lv) {
    json_object *rv = get(req, key);
    if (!rv || !lv) continue;
    bool cpu = strcmp(key, "cpu") == 0;
    int64_t l = 0, r = 0;
    _cleanup_free_ char *lp = join(path, "limits");
    _cleanup_free_ char *lkp = join(lp, key);
    if (check_quantity(c, lv, lkp, !cpu, &l) < 0 || check_quantity(c, rv, lkp, !cpu, &r) < 0)
      return -1;
    if (l < r) {
      char lt[100], rt[100];
      quantity_text(c, lv, lkp, lt, sizeof lt);
      quantity_text(c, rv, lkp, rt, sizeof rt);
      return verr(c, lkp, "the limit %s is less than the request %s", lt, rt);
    }
  }
  return 0;
}

static int obj_env(struct vctx *c, json_object *o, const char *path) {
  if (get(o, "value") && get(o, "valueFrom")) {
    _cleanup_free_ char *p = join(path, "valueFrom");
    return verr(c, p, "may not be set together with value");
  }
  return 0;
}

static int exactly_one(struct vctx *c, json_object *o, const char *path,
                       const char *const *names, const char *what) {
  const char *found = NULL;
  for (const char *const *n = names; *n; n++) {
    if (!get(o, *n)) continue;
    if (found) {
      _cleanup_free_ char *p = join(path, *n);
      return verr(c, p, "may not be set together with %s (a %s has exactly one)", found, what);
    }
    found = *n;
  }
  if (!found) {
    char list[200] = "";
    for (const char *const *n = names; *n; n++) {
      size_t l = strlen(list);
      snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", *n);
    }
    return verr(c, path, "needs one of %s", list);
  }
  return 0;
}

static int obj_env_source(struct vctx *c, json_object *o, const char *path) {
  static const char *const n[] = {"secretKeyRef", "configMapKeyRef", "fieldRef", NULL};
  return exactly_one(c, o, path, n, "valueFrom");
}

static int obj_env_from(struct vctx *c, json_object *o, const char *path) {
  static const char *const n[] = {"secretRef", "configMapRef", NULL};
  return exactly_one(c, o, path, n, "envFrom entry");
}

static int obj_volume(struct vctx *c, json_object *o, const char *path) {
  static const char *const n[] = {"emptyDir", "configMap", "secret", "persistentVolumeClaim",
                                  "hostPath", NULL};
  return exactly_one(c, o, path, n, "volume");
}

static int obj_container(struct vctx *c, json_object *o, const char *path) {
  /* port numbers and names unique within the container */
  json_object *ports = get(o, "ports");
  size_t n = json_object_is_type(ports, json_type_array) ? json_object_array_length(ports) : 0;
  for (size_t i = 0; i < n; i++) {
    json_object *pi = json_object_array_get_idx(ports, i);
    for (size_t j = 0; j < i; j++) {
      json_object *pj = json_object_array_get_idx(ports, j);
      _cleanup_free_ char *pp = join(path, "ports");
      _cleanup_free_ char *ip = join_index(pp, i);
      if (json_object_get_int64(get(pi, "containerPort")) ==
          json_object_get_int64(get(pj, "containerPort"))) {
        _cleanup_free_ char *kp = join(ip, "containerPort");
        return verr(c, kp, "port %" PRId64 " is listed twice",
                    json_object_get_int64(get(pi, "containerPort")));
      }
      const char *a = str_of(pi, "name"), *b = str_of(pj, "name");
      if (a && b && strcmp(a, b) == 0) {
        _cleanup_free_ char *kp = join(ip, "name");
        return verr(c, kp, "the port name \"%s\" is used twice", a);
      }
    }
  }
  json_object *mounts = get(o, "volumeMounts");
  n = json_object_is_type(mounts, json_type_array) ? json_object_array_length(mounts) : 0;
  for (size_t i = 0; i < n; i++) {
    char a[4096], b[4096];
    const char *pa = str_of(json_object_array_get_idx(mounts, i), "mountPath");
    if (!pa || normalize_abs(pa, a, sizeof a) < 0) continue;
    for (size_t j = 0; j < i; j++) {
      const char *pb = str_of(json_object_array_get_idx(mounts, j), "mountPath");
      if (!pb || normalize_abs(pb, b, sizeof b) < 0 || strcmp(a, b) != 0) continue;
      _cleanup_free_ char *mp = join(path, "volumeMounts");
      _cleanup_free_ char *ip = join_index(mp, i);
      _cleanup_free_ char *kp = join(ip, "mountPath");
      QBUF;
      quote(pa, q, sizeof q);
      return verr(c, kp, "\"%s\" is mounted twice", q);
    }
  }
  return 0;
}

/* Effective runAsNonRoot/runAsUser of a container under the pod's security context. */
static int check_non_root(struct vctx *c, json_object *pod_sc, json_object *ctr, const char *path) {
  json_object *sc = get(ctr, "securityContext");
  json_object *nr = get(sc, "runAsNonRoot") ? get(sc, "runAsNonRoot") : get(pod_sc, "runAsNonRoot");
  if (!nr || !json_object_get_boolean(nr)) return 0;
  json_object *uid = get(sc, "runAsUser") ? get(sc, "runAsUser") : get(pod_sc, "runAsUser");
  if (uid && json_object_get_int64(uid) != 0) return 0;
  _cleanup_free_ char *p = join(path, uid ? "securityContext.runAsUser" : "securityContext");
  return verr(c, p,
              "runAsNonRoot is true but the container would run as root: set runAsUser to a "
              "non-zero id");
}

static bool volume_exists(json_object *volumes, json_object *vcts, const char *name) {
  size_t n = json_object_is_type(volumes, json_type_array) ? json_object_array_length(volumes) : 0;
  for (size_t i = 0; i < n; i++) {
    const char *v = str_of(json_object_array_get_idx(volumes, i), "name");
    if (v && strcmp(v, name) == 0) return true;
  }
  n = json_object_is_type(vcts, json_type_array) ? json_object_array_length(vcts) : 0;
  for (size_t i = 0; i < n; i++) {
    const char *v = str_of(get(json_object_array_get_idx(vcts, i), "metadata"), "name");
    if (v && strcmp(v, name) == 0) return true;
  }
  return false;
}

static int obj_pod_spec(struct vctx *c, json_object *o, const char *path) {
  static const char *const lists[] = {"initContainers", "containers", NULL};
  json_object *containers = get(o, "containers");
  if (!json_object_is_type(containers, json_type_array) ||
      json_object_array_length(containers) == 0) {
    _cleanup_free_ char *p = join(path, "containers");
    return verr(c, p, "needs at least one container");
  }
  json_object *volumes = get(o, "volumes");
  json_object *vcts = get(c->spec, "volumeClaimTemplates");
  json_object *pod_sc = get(o, "securityContext");

  /* volume names unique, and distinct from the claim templates' */
  size_t nv = json_object_is_type(volumes, json_type_array) ? json_object_array_length(volumes) : 0;
  for (size_t i = 0; i < nv; i++) {
    const char *a = str_of(json_object_array_get_idx(volumes, i), "name");
    if (!a) continue;
    _cleanup_free_ char *vp = join(path, "volumes");
    _cleanup_free_ char *ip = join_index(vp, i);
    _cleanup_free_ char *kp = join(ip, "name");
    for (size_t j = 0; j < i; j++) {
      const char *b = str_of(json_object_array_get_idx(volumes, j), "name");
      if (b && strcmp(a, b) == 0) return verr(c, kp, "the volume name \"%s\" is used twice", a);
    }
    if (volume_exists(NULL, vcts, a))
      return verr(c, kp, "\"%s\" is also the name of a volumeClaimTemplate", a);
  }

  size_t total = 0;
  for (const char *const *l = lists; *l; l++) {
    json_object *arr = get(o, *l);
    total += json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
  }
  if (total > SBX_VALIDATE_MAX_CONTAINERS)
    return verr(c, path, "%zu containers: sbx runs at most %d in one sandbox", total,
                SBX_VALIDATE_MAX_CONTAINERS);

  for (const char *const *l = lists; *l; l++) {
    json_object *arr = get(o, *l);
    size_t n = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
    _cleanup_free_ char *lp = join(path, *l);
    for (size_t i = 0; i < n; i++) {
      json_object *ctr = json_object_array_get_idx(arr, i);
      _cleanup_free_ char *cp = join_index(lp, i);
      const char *name = str_of(ctr, "name");
      /* unique names across init containers and containers */
      for (const char *const *m = lists; name && m <= l; m++) {
        json_object *arr2 = get(o, *m);
        size_t n2 = m == l ? i : arr2 ? json_object_array_length(arr2) : 0;
        for (size_t j = 0; arr2 && j < n2; j++) {
          const char *other = str_of(json_object_array_get_idx(arr2, j), "name");
          if (other && strcmp(other, name) == 0) {
            _cleanup_free_ char *kp = join(cp, "name");
            return verr(c, kp, "the container name \"%s\" is used twice", name);
          }
        }
      }
      if (check_non_root(c, pod_sc, ctr, cp) < 0) return -1;
      json_object *mounts = get(ctr, "volumeMounts");
      size_t nm = json_object_is_type(mounts, json_type_array) ? json_object_array_length(mounts) : 0;
      for (size_t k = 0; k < nm; k++) {
        const char *vn = str_of(json_object_array_get_idx(mounts, k), "name");
        if (!vn || volume_exists(volumes, vcts, vn)) continue;
        _cleanup_free_ char *mp = join(cp, "volumeMounts");
        _cleanup_free_ char *ip = join_index(mp, k);
        _cleanup_free_ char *kp = join(ip, "name");
        QBUF;
        quote(vn, q, sizeof q);
        return verr(c, kp, "no volume or volumeClaimTemplate is named \"%s\"", q);
      }
    }
  }
  return 0;
}

static int obj_vct_list(struct vctx *c, json_object *v, const char *path) {
  size_t n = json_object_array_length(v);
  for (size_t i = 0; i < n; i++) {
    const char *a = str_of(get(json_object_array_get_idx(v, i), "metadata"), "name");
    if (!a) continue;
    for (size_t j = 0; j < i; j++) {
      const char *b = str_of(get(json_object_array_get_idx(v, j), "metadata"), "name");
      if (b && strcmp(a, b) == 0) {
        _cleanup_free_ char *ip = join_index(path, i);
        _cleanup_free_ char *kp = join(ip, "metadata.name");
        return verr(c, kp, "the claim template name \"%s\" is used twice", a);
      }
    }
  }
  return 0;
}

static int obj_configmap(struct vctx *c, json_object *o, const char *path) {
  json_object *data = get(o, "data"), *bin = get(o, "binaryData");
  if (!data || !bin) return 0;
  json_object_object_foreach(bin, key, val) {
    (void)val;
    if (get(data, key) || json_object_object_get_ex(data, key, NULL)) {
      _cleanup_free_ char *bp = join(path, "binaryData");
      _cleanup_free_ char *kp = join(bp, key);
      return verr(c, kp, "the key is also in data");
    }
  }
  return 0;
}

/* ---- the tables ---------------------------------------------------------------------- */

#define END {NULL}
#define STR(n) {n, K_STR}
#define STRQ(n, fl) {n, K_STR, fl}
#define STRC(n, fl, fn) {n, K_STR, fl, .check = fn}
#define BOOL(n) {n, K_BOOL}
#define INTR(n, fl, lo, hi) {n, K_INT, (fl) | F_RANGE, .min = lo, .max = hi}
#define OBJ(n, fl, s) {n, K_OBJ, fl, .sub = &s}
#define ARR(n, fl, it) {n, K_ARR, fl, .item = &it}
#define CUSTOM(n, fl, fn) {n, K_CUSTOM, fl, .check = fn}
#define IGNORE(n) {n, K_IGNORE}

static const struct field item_str = STR("");
static const struct field item_cap_add = STRC("", 0, chk_cap_add);
static const struct field item_cap_drop = STRC("", 0, chk_cap_drop);
static const struct field item_gid = INTR("", 0, 0, 65535);
static const struct field item_access_mode = STRC("", 0, chk_access_mode);

/* metadata */
static const char *const up_meta[] = {"generateName", "deletionTimestamp",
                                      "deletionGracePeriodSeconds", "ownerReferences",
                                      "finalizers", NULL};
static const struct field f_meta[] = {
    STRC("name", F_REQ, chk_object_name),
    STRC("namespace", 0, chk_dns_label),
    CUSTOM("labels", 0, chk_labels),
    CUSTOM("annotations", 0, chk_annotations),
    /* set by the server; carried back when `get -o yaml` output is re-applied */
    IGNORE("uid"), IGNORE("resourceVersion"), IGNORE("creationTimestamp"),
    IGNORE("generation"), IGNORE("managedFields"), IGNORE("selfLink"),
    END};
static const struct schema s_meta = {"ObjectMeta", f_meta, up_meta, NULL};

static const char *const up_tmpl_meta[] = {"name", "namespace", "generateName", "uid",
                                           "resourceVersion", "generation",
                                           "creationTimestamp", "deletionTimestamp",
                                           "deletionGracePeriodSeconds", "ownerReferences",
                                           "finalizers", "managedFields", NULL};
static const struct field f_tmpl_meta[] = {
    CUSTOM("labels", 0, chk_labels), CUSTOM("annotations", 0, chk_annotations), END};
static const struct schema s_tmpl_meta = {"pod template metadata", f_tmpl_meta, up_tmpl_meta,
                                          NULL};

/* env */
static const struct field f_key_sel[] = {STRQ("name", F_REQ), STRQ("key", F_REQ), BOOL("optional"),
                                         END};
static const struct schema s_key_sel = {"key selector", f_key_sel, NULL, NULL};
static const struct field f_field_ref[] = {STRC("fieldPath", F_REQ, chk_field_path),
                                           STRC("apiVersion", 0, chk_field_api), END};
static const struct schema s_field_ref = {"ObjectFieldSelector", f_field_ref, NULL, NULL};
static const char *const up_env_source[] = {"resourceFieldRef", "fileKeyRef", NULL};
static const struct field f_env_source[] = {OBJ("secretKeyRef", 0, s_key_sel),
                                            OBJ("configMapKeyRef", 0, s_key_sel),
                                            OBJ("fieldRef", 0, s_field_ref), END};
static const struct schema s_env_source = {"EnvVarSource", f_env_source, up_env_source,
                                           obj_env_source};
static const struct field f_env[] = {STRC("name", F_REQ, chk_env_name), STR("value"),
                                     OBJ("valueFrom", 0, s_env_source), END};
static const struct schema s_env = {"EnvVar", f_env, NULL, obj_env};
static const struct field item_env = OBJ("", 0, s_env);

static const struct field f_ref[] = {STRQ("name", F_REQ), BOOL("optional"), END};
static const struct schema s_ref = {"reference", f_ref, NULL, NULL};
static const struct field f_env_from[] = {STR("prefix"), OBJ("secretRef", 0, s_ref),
                                          OBJ("configMapRef", 0, s_ref), END};
static const struct schema s_env_from = {"EnvFromSource", f_env_from, NULL, obj_env_from};
static const struct field item_env_from = OBJ("", 0, s_env_from);

/* ports */
static const char *const up_port[] = {"hostIP", "hostPort", NULL};
static const struct field f_port[] = {INTR("containerPort", F_REQ, 1, 65535),
                                      STRC("name", 0, chk_port_name),
                                      STRC("protocol", 0, chk_protocol), END};
static const struct schema s_port = {"ContainerPort", f_port, up_port, NULL};
static const struct field item_port = OBJ("", 0, s_port);

/* resources */
static const char *const up_resources[] = {"claims", NULL};
static const struct field f_resources[] = {CUSTOM("requests", 0, chk_resource_map),
                                           CUSTOM("limits", 0, chk_resource_map), END};
static const struct schema s_resources = {"ResourceRequirements", f_resources, up_resources,
                                          obj_resources};

/* security contexts */
static const struct field f_caps[] = {ARR("add", 0, item_cap_add), ARR("drop", 0, item_cap_drop),
                                      END};
static const struct schema s_caps = {"Capabilities", f_caps, NULL, NULL};
static const char *const up_sc[] = {"appArmorProfile", "procMount", "seLinuxOptions",
                                    "seccompProfile", "windowsOptions", NULL};
static const struct field f_sc[] = {
    INTR("runAsUser", 0, 0, 65535), INTR("runAsGroup", 0, 0, 65535), BOOL("runAsNonRoot"),
    {"allowPrivilegeEscalation", K_BOOL, 0, .check = chk_no_priv_esc},
    {"privileged", K_BOOL, 0, .check = chk_not_privileged},
    BOOL("readOnlyRootFilesystem"), OBJ("capabilities", 0, s_caps), END};
static const struct schema s_sc = {"SecurityContext", f_sc, up_sc, NULL};

static const char *const up_pod_sc[] = {"appArmorProfile", "fsGroupChangePolicy",
                                        "seLinuxChangePolicy", "seLinuxOptions",
                                        "seccompProfile", "supplementalGroupsPolicy", "sysctls",
                                        "windowsOptions", NULL};
static const struct field f_pod_sc[] = {
    INTR("runAsUser", 0, 0, 65535), INTR("runAsGroup", 0, 0, 65535),
    INTR("fsGroup", 0, 0, 65535), BOOL("runAsNonRoot"), ARR("supplementalGroups", 0, item_gid),
    END};
static const struct schema s_pod_sc = {"PodSecurityContext", f_pod_sc, up_pod_sc, NULL};

/* volume mounts */
static const char *const up_mount[] = {"mountPropagation", "recursiveReadOnly", "subPathExpr",
                                       NULL};
static const struct field f_mount[] = {STRQ("name", F_REQ),
                                       STRC("mountPath", F_REQ, chk_mount_path),
                                       STRC("subPath", 0, chk_rel_path), BOOL("readOnly"), END};
static const struct schema s_mount = {"VolumeMount", f_mount, up_mount, NULL};
static const struct field item_mount = OBJ("", 0, s_mount);

static const char *const pull_enum[] = {"Always", "IfNotPresent", "Never", NULL};

/* containers */
static const char *const up_container[] = {
    "lifecycle", "livenessProbe", "readinessProbe", "startupProbe",
    "resizePolicy", "restartPolicy", "restartPolicyRules", "stdin", "stdinOnce", "tty",
    "terminationMessagePath", "terminationMessagePolicy", "volumeDevices", NULL};
static const struct field f_container[] = {
    STRC("name", F_REQ, chk_dns_label),
    STRC("image", F_REQ, chk_image),
    /* honoured trivially: sbx never pulls an image (host and rootfs: are local) */
    {"imagePullPolicy", K_STR, 0, .enums = pull_enum},
    ARR("command", 0, item_str),
    ARR("args", 0, item_str),
    STRC("workingDir", 0, chk_abs_path),
    ARR("env", 0, item_env),
    ARR("envFrom", 0, item_env_from),
    ARR("ports", 0, item_port),
    OBJ("resources", 0, s_resources),
    OBJ("securityContext", 0, s_sc),
    ARR("volumeMounts", 0, item_mount),
    END};
static const struct schema s_container = {"Container", f_container, up_container,
                                          obj_container};
static const struct field item_container = OBJ("", 0, s_container);

/* volumes */
static const char *const medium_enum[] = {"", "Memory", NULL};
static const struct field f_empty_dir[] = {{"medium", K_STR, 0, .enums = medium_enum},
                                           {"sizeLimit", K_QTY, F_BYTES}, END};
static const struct schema s_empty_dir = {"EmptyDirVolumeSource", f_empty_dir, NULL, NULL};
static const struct field f_key_to_path[] = {STRQ("key", F_REQ), STRC("path", F_REQ, chk_key_path),
                                             INTR("mode", 0, 0, 0777), END};
static const struct schema s_key_to_path = {"KeyToPath", f_key_to_path, NULL, NULL};
static const struct field item_key_to_path = OBJ("", 0, s_key_to_path);
static const struct field f_cm_vol[] = {STRQ("name", F_REQ), ARR("items", 0, item_key_to_path),
                                        INTR("defaultMode", 0, 0, 0777), BOOL("optional"), END};
static const struct schema s_cm_vol = {"ConfigMapVolumeSource", f_cm_vol, NULL, NULL};
static const struct field f_secret_vol[] = {STRQ("secretName", F_REQ),
                                            ARR("items", 0, item_key_to_path),
                                            INTR("defaultMode", 0, 0, 0777), BOOL("optional"),
                                            END};
static const struct schema s_secret_vol = {"SecretVolumeSource", f_secret_vol, NULL, NULL};
static const struct field f_pvc_vol[] = {STRQ("claimName", F_REQ), BOOL("readOnly"), END};
static const struct schema s_pvc_vol = {"PersistentVolumeClaimVolumeSource", f_pvc_vol, NULL,
                                        NULL};
static const char *const host_path_types[] = {"", "DirectoryOrCreate", "Directory",
                                              "FileOrCreate", "File", "Socket", "CharDevice",
                                              "BlockDevice", NULL};
static const struct field f_host_path[] = {STRC("path", F_REQ, chk_abs_path),
                                           {"type", K_STR, 0, .enums = host_path_types}, END};
static const struct schema s_host_path = {"HostPathVolumeSource", f_host_path, NULL, NULL};
static const char *const up_volume[] = {
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi",
    "downwardAPI", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo",
    "glusterfs", "image", "iscsi", "nfs", "photonPersistentDisk", "portworxVolume",
    "projected", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume", NULL};
static const struct field f_volume[] = {STRC("name", F_REQ, chk_dns_label),
                                        OBJ("emptyDir", 0, s_empty_dir),
                                        OBJ("configMap", 0, s_cm_vol),
                                        OBJ("secret", 0, s_secret_vol),
                                        OBJ("persistentVolumeClaim", 0, s_pvc_vol),
                                        OBJ("hostPath", 0, s_host_path), END};
static const struct schema s_volume = {"Volume", f_volume, up_volume, obj_volume};
static const struct field item_volume = OBJ("", 0, s_volume);

/* pod spec */
static const char *const restart_enum[] = {"Always", "OnFailure", "Never", NULL};
static const char *const up_pod_spec[] = {
    "activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "dnsConfig",
    "dnsPolicy", "enableServiceLinks", "ephemeralContainers", "hostAliases", "hostIPC",
    "hostNetwork", "hostPID", "hostUsers", "hostnameOverride", "imagePullSecrets", "nodeName",
    "nodeSelector", "os", "overhead", "preemptionPolicy", "priority", "priorityClassName",
    "readinessGates", "resourceClaims", "resources", "runtimeClassName", "schedulerName",
    "schedulingGates", "schedulingGroup", "serviceAccount", "serviceAccountName",
    "setHostnameAsFQDN", "shareProcessNamespace", "subdomain", "tolerations",
    "topologySpreadConstraints", NULL};
static const struct field f_pod_spec[] = {
    ARR("initContainers", 0, item_container),
    ARR("containers", F_REQ, item_container),
    ARR("volumes", 0, item_volume),
    {"restartPolicy", K_STR, 0, .enums = restart_enum},
    INTR("terminationGracePeriodSeconds", 0, 0, 3600),
    STRC("hostname", 0, chk_dns_label),
    OBJ("securityContext", 0, s_pod_sc),
    END};
static const struct schema s_pod_spec = {"PodSpec", f_pod_spec, up_pod_spec, obj_pod_spec};

static const struct field f_pod_template[] = {OBJ("metadata", 0, s_tmpl_meta),
                                              OBJ("spec", F_REQ, s_pod_spec), END};
static const struct schema s_pod_template = {"PodTemplate", f_pod_template, NULL, NULL};

/* volume claim templates */
static const char *const up_vct_meta[] = {"labels", "annotations", "namespace", "generateName",
                                          "uid", "resourceVersion", "generation",
                                          "creationTimestamp", "deletionTimestamp",
                                          "deletionGracePeriodSeconds", "ownerReferences",
                                          "finalizers", "managedFields", NULL};
static const struct field f_vct_meta[] = {STRC("name", F_REQ, chk_dns_label), END};
static const struct schema s_vct_meta = {"claim template metadata", f_vct_meta, up_vct_meta,
                                         NULL};
static const char *const up_vct_res[] = {"limits", NULL};
static const struct field f_vct_res[] = {CUSTOM("requests", F_REQ, chk_storage_map), END};
static const struct schema s_vct_res = {"VolumeResourceRequirements", f_vct_res, up_vct_res,
                                        NULL};
static const char *const up_vct_spec[] = {"dataSource", "dataSourceRef", "selector",
                                          "volumeAttributesClassName", "volumeMode",
                                          "volumeName", NULL};
static const struct field f_vct_spec[] = {ARR("accessModes", 0, item_access_mode),
                                          OBJ("resources", F_REQ, s_vct_res),
                                          STR("storageClassName"), END};
static const struct schema s_vct_spec = {"PersistentVolumeClaimSpec", f_vct_spec, up_vct_spec,
                                         NULL};
static const struct field f_vct[] = {OBJ("metadata", F_REQ, s_vct_meta),
                                     OBJ("spec", F_REQ, s_vct_spec), END};
static const struct schema s_vct = {"PersistentVolumeClaimTemplate", f_vct, NULL, NULL};
static const struct field item_vct = OBJ("", 0, s_vct);

/* Sandbox */
static const char *const policy_enum[] = {"Retain", "Delete", NULL};
static const char *const mode_enum[] = {"Running", "Suspended", NULL};
static const char *const up_sandbox_spec[] = {"service", NULL};
static const struct field f_spec_alpha[] = {
    OBJ("podTemplate", F_REQ, s_pod_template),
    INTR("replicas", 0, 0, 1),
    {"shutdownPolicy", K_STR, 0, .enums = policy_enum},
    STRC("shutdownTime", 0, chk_rfc3339),
    {"volumeClaimTemplates", K_ARR, 0, .item = &item_vct, .check = obj_vct_list},
    END};
static const struct field f_spec_beta[] = {
    OBJ("podTemplate", F_REQ, s_pod_template),
    {"operatingMode", K_STR, 0, .enums = mode_enum},
    {"shutdownPolicy", K_STR, 0, .enums = policy_enum},
    STRC("shutdownTime", 0, chk_rfc3339),
    {"volumeClaimTemplates", K_ARR, 0, .item = &item_vct, .check = obj_vct_list},
    END};
static const struct schema s_spec_alpha = {"SandboxSpec", f_spec_alpha, up_sandbox_spec, NULL};
static const struct schema s_spec_beta = {"SandboxSpec", f_spec_beta, up_sandbox_spec, NULL};

static const struct field f_sandbox_alpha[] = {STRQ("apiVersion", F_REQ), STRQ("kind", F_REQ),
                                               OBJ("metadata", F_REQ, s_meta),
                                               OBJ("spec", F_REQ, s_spec_alpha),
                                               IGNORE("status"), END};
static const struct field f_sandbox_beta[] = {STRQ("apiVersion", F_REQ), STRQ("kind", F_REQ),
                                              OBJ("metadata", F_REQ, s_meta),
                                              OBJ("spec", F_REQ, s_spec_beta),
                                              IGNORE("status"), END};
static const struct schema s_sandbox_alpha = {"Sandbox", f_sandbox_alpha, NULL, NULL};
static const struct schema s_sandbox_beta = {"Sandbox", f_sandbox_beta, NULL, NULL};

/* Secret, ConfigMap */
static const struct field f_secret[] = {STRQ("apiVersion", F_REQ), STRQ("kind", F_REQ),
                                        OBJ("metadata", F_REQ, s_meta),
                                        CUSTOM("data", 0, chk_b64_map),
                                        CUSTOM("stringData", 0, chk_text_map),
                                        STR("type"), BOOL("immutable"), END};
static const struct schema s_secret = {"Secret", f_secret, NULL, NULL};
static const struct field f_configmap[] = {STRQ("apiVersion", F_REQ), STRQ("kind", F_REQ),
                                           OBJ("metadata", F_REQ, s_meta),
                                           CUSTOM("data", 0, chk_text_map),
                                           CUSTOM("binaryData", 0, chk_b64_map),
                                           BOOL("immutable"), END};
static const struct schema s_configmap = {"ConfigMap", f_configmap, NULL, obj_configmap};

/* ---- entry point ----------------------------------------------------------------------- */

int sbx_validate(json_object *obj, const struct sbx_manifest_doc *doc, sbx_error_t *err) {
  struct vctx c = {.doc = doc, .err = err};
  if (!json_object_is_type(obj, json_type_object)) {
    sbx_error_set(err, 0, "a manifest must be an object, not %s", type_name(obj));
    if (err) err->errnum = EINVAL;
    return -1;
  }
  json_object *av = get(obj, "apiVersion"), *kv = get(obj, "kind");
  const char *api, *kind;
  if (!av) return verr(&c, "apiVersion", "required");
  if (get_string(&c, av, "apiVersion", &api) < 0) return -1;
  if (!kv) return verr(&c, "kind", "required");
  if (get_string(&c, kv, "kind", &kind) < 0) return -1;

  const struct schema *s = NULL;
  if (strcmp(kind, "Sandbox") == 0 && strcmp(api, "agents.x-k8s.io/v1alpha1") == 0) {
    s = &s_sandbox_alpha;
  } else if (strcmp(kind, "Sandbox") == 0 && strcmp(api, "agents.x-k8s.io/v1beta1") == 0) {
    s = &s_sandbox_beta;
    c.beta = true;
  } else if (strcmp(kind, "Secret") == 0 && strcmp(api, "v1") == 0) {
    s = &s_secret;
    c.subdomain_name = true;
  } else if (strcmp(kind, "ConfigMap") == 0 && strcmp(api, "v1") == 0) {
    s = &s_configmap;
    c.subdomain_name = true;
  }
  if (!s) {
    char qk[QUOTE * 4 + 8], qa[QUOTE * 4 + 8];
    quote(kind, qk, sizeof qk);
    quote(api, qa, sizeof qa);
    int line = line_of(&c, "kind");
    sbx_error_set(err, 0,
                  "kind %s in apiVersion %s is not supported (sbx serves Sandbox, Secret, "
                  "ConfigMap)",
                  qk, qa);
    if (line > 0) {
      size_t n = strlen(err ? err->msg : "");
      if (err) snprintf(err->msg + n, sizeof err->msg - n, " (line %d)", line);
    }
    if (err) err->errnum = EINVAL;
    return -1;
  }
  json_object *spec = get(obj, "spec");
  if (json_object_is_type(spec, json_type_object)) c.spec = spec;
  if (c.beta && get(spec, "replicas"))
    return verr(&c, "spec.replicas",
                "unknown field (v1beta1 says spec.operatingMode: Running or Suspended; "
                "replicas is v1alpha1's)");
  if (!c.beta && s == &s_sandbox_alpha && get(spec, "operatingMode"))
    return verr(&c, "spec.operatingMode",
                "unknown field (v1alpha1 says spec.replicas: 1 or 0; operatingMode is "
                "v1beta1's)");
  return check_object(&c, obj, s, "");
}
