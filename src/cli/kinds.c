/* kinds.c: the kind table and resource-argument resolution (see kinds.h). */
#include "cli/kinds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const sbx_kind_t kinds[] = {
    {.kind = "Sandbox", .list_kind = "SandboxList", .plural = "sandboxes", .singular = "sandbox",
     .short_names = {"sbx", NULL}, .group = "agents.x-k8s.io", .version = "v1alpha1",
     .namespaced = true},
    {.kind = "Secret", .list_kind = "SecretList", .plural = "secrets", .singular = "secret",
     .short_names = {NULL}, .group = "", .version = "v1", .namespaced = true},
    {.kind = "ConfigMap", .list_kind = "ConfigMapList", .plural = "configmaps",
     .singular = "configmap", .short_names = {"cm", NULL}, .group = "", .version = "v1",
     .namespaced = true},
    {.kind = "PersistentVolumeClaim", .list_kind = "PersistentVolumeClaimList",
     .plural = "persistentvolumeclaims", .singular = "persistentvolumeclaim",
     .short_names = {"pvc", NULL}, .group = "", .version = "v1", .namespaced = true},
    {.kind = "ResourceQuota", .list_kind = "ResourceQuotaList", .plural = "resourcequotas",
     .singular = "resourcequota", .short_names = {"quota", NULL}, .group = "", .version = "v1",
     .namespaced = true},
};

const sbx_kind_t *sbx_kind_sandbox(void) { return &kinds[0]; }

static bool names_kind(const sbx_kind_t *k, const char *s, size_t len) {
  const char *cands[] = {k->kind, k->plural, k->singular};
  for (size_t i = 0; i < sizeof cands / sizeof *cands; i++)
    if (strlen(cands[i]) == len && strncasecmp(cands[i], s, len) == 0) return true;
  for (size_t i = 0; k->short_names[i]; i++)
    if (strlen(k->short_names[i]) == len && strncasecmp(k->short_names[i], s, len) == 0)
      return true;
  return false;
}

const sbx_kind_t *sbx_kind_lookup(const char *name) {
  const char *dot = strchr(name, '.');
  size_t head = dot ? (size_t)(dot - name) : strlen(name);
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
    const sbx_kind_t *k = &kinds[i];
    if (!names_kind(k, name, head)) continue;
    if (!dot) return k;
    /* Qualified: ".GROUP" or ".VERSION.GROUP". */
    const char *rest = dot + 1;
    if (k->group[0] && strcasecmp(rest, k->group) == 0) return k;
    size_t vlen = strlen(k->version);
    if (strncasecmp(rest, k->version, vlen) == 0 &&
        ((k->group[0] && rest[vlen] == '.' && strcasecmp(rest + vlen + 1, k->group) == 0) ||
         (!k->group[0] && rest[vlen] == '\0')))
      return k;
  }
  return NULL;
}

const char *sbx_kind_api_version(const sbx_kind_t *k, char *buf, size_t size) {
  if (k->group[0]) snprintf(buf, size, "%s/%s", k->group, k->version);
  else snprintf(buf, size, "%s", k->version);
  return buf;
}

const char *sbx_kind_display(const sbx_kind_t *k, char *buf, size_t size) {
  if (k->group[0]) snprintf(buf, size, "%s.%s", k->singular, k->group);
  else snprintf(buf, size, "%s", k->singular);
  return buf;
}

static int unknown_kind(const char *name, sbx_error_t *err) {
  char known[256] = "";
  size_t off = 0;
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds && off < sizeof known; i++)
    off += (size_t)snprintf(known + off, sizeof known - off, "%s%s", i ? ", " : "",
                            kinds[i].plural);
  return sbx_error_set(err, 0, "unknown resource type \"%s\" (known: %s)", name, known);
}

int sbx_resource_args(char **args, size_t nargs, const sbx_kind_t **kind, sbx_ref_t **refs,
                      size_t *nrefs, sbx_error_t *err) {
  *kind = NULL;
  *refs = NULL;
  *nrefs = 0;
  if (nargs == 0) return 0;
  bool slash_form = strchr(args[0], '/') != NULL;
  size_t first = slash_form ? 0 : 1;
  sbx_ref_t *out = calloc(nargs, sizeof *out);
  if (!out) return sbx_error_set(err, ENOMEM, "resource arguments");
  size_t n = 0;

  if (!slash_form) {
    *kind = sbx_kind_lookup(args[0]);
    if (!*kind) {
      free(out);
      return unknown_kind(args[0], err);
    }
  }
  for (size_t i = first; i < nargs; i++) {
    const char *arg = args[i];
    const char *slash = strchr(arg, '/');
    if (!slash_form) {
      if (slash) {
        free(out);
        return sbx_error_set(err, 0,
                             "there is no need to give a resource type as a separate argument "
                             "when passing arguments in KIND/NAME form (e.g. '%s' instead of "
                             "'%s %s')",
                             arg, args[0], arg);
      }
      if (!*arg) {
        free(out);
        return sbx_error_set(err, 0, "empty name");
      }
      out[n++] = (sbx_ref_t){.kind = *kind, .name = arg};
      continue;
    }
    if (!slash) {
      free(out);
      return sbx_error_set(err, 0,
                           "\"%s\" is not in KIND/NAME form: arguments in KIND/NAME form "
                           "cannot be mixed with a kind and names",
                           arg);
    }
    char kname[128];
    size_t klen = (size_t)(slash - arg);
    if (klen == 0 || klen >= sizeof kname || !slash[1] || strchr(slash + 1, '/')) {
      free(out);
      return sbx_error_set(err, 0, "\"%s\" is not in KIND/NAME form", arg);
    }
    memcpy(kname, arg, klen);
    kname[klen] = '\0';
    const sbx_kind_t *k = sbx_kind_lookup(kname);
    if (!k) {
      free(out);
      return unknown_kind(kname, err);
    }
    if (!*kind) *kind = k;
    out[n++] = (sbx_ref_t){.kind = k, .name = slash + 1};
  }
  if (n == 0) {
    free(out);
    out = NULL;
  }
  *refs = out;
  *nrefs = n;
  return 0;
}

/* A path segment we are willing to build a URL from: what object names and namespaces
 * (DNS subdomains and labels) are made of, in either case so that the server, not the
 * client, is the one saying a name is wrong. */
static bool safe_segment(const char *s) {
  if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > 253) return false;
  for (; *s; s++) {
    char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '.' || c == '_'))
      return false;
  }
  return true;
}

int sbx_kind_path(const sbx_kind_t *k, const char *ns, const char *name, char *buf, size_t size,
                  sbx_error_t *err) {
  if (ns && !safe_segment(ns))
    return sbx_error_set(err, 0,
                         "invalid namespace \"%s\": use lowercase letters, digits and '-'", ns);
  if (name && !safe_segment(name))
    return sbx_error_set(err, 0,
                         "invalid name \"%s\": use lowercase letters, digits, '-' and '.'", name);
  char av[128];
  bool in_ns = ns && k->namespaced;
  int n = snprintf(buf, size, "/%s/%s%s%s/%s%s%s", k->group[0] ? "apis" : "api",
                   sbx_kind_api_version(k, av, sizeof av), in_ns ? "/namespaces/" : "",
                   in_ns ? ns : "", k->plural, name ? "/" : "", name ? name : "");
  if (n < 0 || (size_t)n >= size) return sbx_error_set(err, ENAMETOOLONG, "path too long");
  return 0;
}
