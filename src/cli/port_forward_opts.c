/* port_forward_opts.c: `sbx port-forward`'s arguments and named ports (see
 * port_forward_opts.h). The port forms follow kubectl (client-go's parsePorts): a word with
 * at most one ':', a local side that may be empty or 0 (any free port), a remote side that
 * must be 1-65535 or, as kubectl allows for pods, a port's name. */
#include "cli/port_forward_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/kinds.h"
#include "lib/wire.h"

/* 0..65535 in decimal, nothing else; -1 if not */
static long parse_number(const char *s) {
  if (!*s || strlen(s) > 5) return -1;
  long v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9') return -1;
    v = v * 10 + (*c - '0');
  }
  return v <= 65535 ? v : -1;
}

/* A port name as Kubernetes allows it (IANA_SVC_NAME): 1-15 of [a-z0-9-], at least one
 * letter, no '-' at either end, no "--". */
static bool port_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--")) return false;
  bool letter = false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] >= 'a' && s[i] <= 'z') letter = true;
    else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-') return false;
  }
  return letter;
}

int sbx_pf_parse_port(const char *arg, sbx_pf_port_t *p, sbx_error_t *err) {
  memset(p, 0, sizeof *p);
  const char *colon = strchr(arg, ':');
  if (colon && strchr(colon + 1, ':')) return sbx_error_set(err, 0, "invalid port format '%s'", arg);
  char local[16] = "";
  const char *remote = colon ? colon + 1 : arg;
  if (colon) {
    size_t n = (size_t)(colon - arg);
    if (n >= sizeof local) return sbx_error_set(err, 0, "error parsing local port '%.*s': not a port number", (int)n, arg);
    memcpy(local, arg, n);
    local[n] = '\0';
  }
  if (!*remote) return sbx_error_set(err, 0, "invalid port format '%s': the remote port is missing", arg);
  long r = parse_number(remote);
  if (r < 0) {
    if (!port_name_ok(remote))
      return sbx_error_set(err, 0, "error parsing remote port '%s': not a port number (1-65535) nor a port name", remote);
    snprintf(p->remote_name, sizeof p->remote_name, "%s", remote);
    p->local_from_remote = !colon;
  } else if (r == 0) {
    return sbx_error_set(err, 0, "remote port must be > 0 ('%s')", arg);
  } else {
    p->remote = (int)r;
  }
  if (!colon) {
    p->local = p->remote; /* "8888": the same number here; "http": once resolved */
    return 0;
  }
  if (!*local) {
    p->local = 0;
    return 0;
  }
  long l = parse_number(local);
  if (l < 0) return sbx_error_set(err, 0, "error parsing local port '%s': not a port number (0-65535)", local);
  p->local = (int)l;
  return 0;
}

int sbx_pf_parse_target(const char *arg, const char **name, sbx_error_t *err) {
  const char *slash = strchr(arg, '/');
  if (!slash) {
    if (!*arg) return sbx_error_set(err, 0, "empty sandbox name");
    *name = arg;
    return 0;
  }
  char kind[128];
  size_t n = (size_t)(slash - arg);
  if (n == 0 || n >= sizeof kind || !slash[1] || strchr(slash + 1, '/'))
    return sbx_error_set(err, 0, "\"%s\" is not in TYPE/NAME form", arg);
  memcpy(kind, arg, n);
  kind[n] = '\0';
  /* kubectl's pods are sbx's sandboxes (a sandbox runs one pod) */
  bool pod = strcasecmp(kind, "pod") == 0 || strcasecmp(kind, "pods") == 0 || strcasecmp(kind, "po") == 0;
  if (!pod && sbx_kind_lookup(kind) != sbx_kind_sandbox())
    return sbx_error_set(err, 0, "cannot port-forward to a \"%s\": use NAME, pod/NAME or sandbox/NAME", kind);
  *name = slash + 1;
  return 0;
}

static const struct option long_opts[] = {
    {"address", required_argument, NULL, 'a'},
    {"namespace", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int add_addresses(sbx_pf_opts_t *o, char *list, sbx_error_t *err) {
  /* comma separated, like kubectl's --address; the words stay in argv */
  for (char *save = NULL, *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
    unsigned char buf[16];
    if (strcmp(a, "localhost") != 0 && inet_pton(AF_INET, a, buf) != 1 && inet_pton(AF_INET6, a, buf) != 1)
      return sbx_error_set(err, 0, "--address: %s is not an IP address nor localhost", a);
    if (o->naddresses == SBX_PF_MAX_ADDRESSES) return sbx_error_set(err, 0, "--address: too many addresses");
    o->addresses[o->naddresses++] = a;
  }
  if (o->naddresses == 0) return sbx_error_set(err, 0, "--address: give an IP address or localhost");
  return 0;
}

int sbx_pf_parse(int argc, char **argv, sbx_pf_opts_t *o, sbx_error_t *err) {
  memset(o, 0, sizeof *o);
  o->ns = "default";
  const char *pos[SBX_PF_MAX_PORTS + 2];
  size_t npos = 0;
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "-:n:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1:
      if (npos == sizeof pos / sizeof *pos) return sbx_error_set(err, 0, "too many ports (at most %d)", SBX_PF_MAX_PORTS);
      pos[npos++] = optarg;
      break;
    case 'n': o->ns = optarg; break;
    case 'a':
      if (add_addresses(o, optarg, err) < 0) return -1;
      break;
    case 'h': o->help = true; return 0;
    case ':': return sbx_error_set(err, 0, "flag needs a value: %s", argv[optind - 1]);
    default: return sbx_error_set(err, 0, "unknown flag: %s", argv[optind - 1]);
    }
  }
  while (optind < argc) {
    if (npos == sizeof pos / sizeof *pos) return sbx_error_set(err, 0, "too many ports (at most %d)", SBX_PF_MAX_PORTS);
    pos[npos++] = argv[optind++];
  }
  if (npos == 0) return sbx_error_set(err, 0, "TYPE/NAME and list of ports are required for port-forward");
  if (npos == 1) return sbx_error_set(err, 0, "at least 1 PORT is required for port-forward");
  if (sbx_pf_parse_target(pos[0], &o->name, err) < 0) return -1;
  for (size_t i = 1; i < npos; i++)
    if (sbx_pf_parse_port(pos[i], &o->ports[o->nports++], err) < 0) return -1;
  if (o->naddresses == 0) o->addresses[o->naddresses++] = "localhost";
  return 0;
}

int sbx_pf_named_port(json_object *sandbox, const char *sandbox_name, const char *port_name, int *number,
                      sbx_error_t *err) {
  json_object *spec, *tmpl, *pspec, *containers;
  if (json_object_object_get_ex(sandbox, "spec", &spec) && json_object_object_get_ex(spec, "podTemplate", &tmpl) &&
      json_object_object_get_ex(tmpl, "spec", &pspec) && json_object_object_get_ex(pspec, "containers", &containers) &&
      json_object_is_type(containers, json_type_array)) {
    for (size_t i = 0; i < json_object_array_length(containers); i++) {
      json_object *ports;
      if (!json_object_object_get_ex(json_object_array_get_idx(containers, i), "ports", &ports) ||
          !json_object_is_type(ports, json_type_array))
        continue;
      for (size_t j = 0; j < json_object_array_length(ports); j++) {
        json_object *p = json_object_array_get_idx(ports, j);
        const char *n = sbx_json_str(p, "name");
        long long num = sbx_json_int(p, "containerPort", 0);
        if (n && strcmp(n, port_name) == 0 && num > 0 && num <= 65535) {
          *number = (int)num;
          return 0;
        }
      }
    }
  }
  return sbx_error_set(err, 0, "sandbox '%s' does not have a named port '%s'", sandbox_name, port_name);
}

int sbx_pf_resolve_ports(sbx_pf_opts_t *o, json_object *sandbox, sbx_error_t *err) {
  for (size_t i = 0; i < o->nports; i++) {
    sbx_pf_port_t *p = &o->ports[i];
    if (!p->remote_name[0]) continue;
    if (sbx_pf_named_port(sandbox, o->name, p->remote_name, &p->remote, err) < 0) return -1;
    if (p->local_from_remote) p->local = p->remote;
  }
  return 0;
}
