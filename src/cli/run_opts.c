/* run_opts.c: `sbx run` flags -> run request (see run_opts.h). */
#include "cli/run_opts.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/names.h"
#include "lib/rootfs.h"

enum {
  OPT_RM = 0x100,
  OPT_NAME,
  OPT_IMAGE,
  OPT_CPUS,
  OPT_MEMORY,
  OPT_PIDS,
  OPT_NETWORK,
};

static const struct option long_opts[] = {
    {"rm", no_argument, NULL, OPT_RM},
    {"name", required_argument, NULL, OPT_NAME},
    {"image", required_argument, NULL, OPT_IMAGE},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"pids", required_argument, NULL, OPT_PIDS},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"volume", required_argument, NULL, 'v'},
    {"env", required_argument, NULL, 'e'},
    {"workdir", required_argument, NULL, 'w'},
    {"user", required_argument, NULL, 'u'},
    {"interactive", no_argument, NULL, 'i'},
    {"tty", no_argument, NULL, 't'},
    {"namespace", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void sbx_run_opts_free(sbx_run_opts_t *o) {
  json_object_put(o->req);
  o->req = NULL;
  for (size_t i = 0; i < o->npaths; i++) {
    free(o->paths[i].path);
    free(o->paths[i].flag);
  }
  o->npaths = 0;
}

int sbx_run_parse_volume(const char *spec, char **src, char **dst, bool *read_only,
                         sbx_error_t *err) {
  *src = *dst = NULL;
  *read_only = false;
  _cleanup_free_ char *s = strdup(spec);
  if (!s) return sbx_error_set(err, ENOMEM, "-v");
  char *colon = strrchr(s, ':');
  if (!colon) return sbx_error_set(err, 0, "-v %s: expected SRC:DST[:ro]", spec);
  if (colon[1] != '/') {
    /* A mode suffix, or a relative destination. */
    bool ro = strcmp(colon + 1, "ro") == 0;
    if (!ro && strcmp(colon + 1, "rw") != 0) {
      if (memchr(s, ':', (size_t)(colon - s)))
        return sbx_error_set(err, 0, "-v %s: unknown mode \"%s\" (use :ro or :rw)", spec,
                             colon + 1);
      return sbx_error_set(err, 0, "-v %s: the destination \"%s\" must be an absolute path",
                           spec, colon + 1);
    }
    *read_only = ro;
    *colon = '\0';
    colon = strrchr(s, ':');
    if (!colon) return sbx_error_set(err, 0, "-v %s: expected SRC:DST[:ro]", spec);
  }
  const char *d = colon + 1;
  *colon = '\0';
  if (!*s) return sbx_error_set(err, 0, "-v %s: SRC is empty", spec);
  if (d[0] != '/')
    return sbx_error_set(err, 0, "-v %s: the destination \"%s\" must be an absolute path",
                         spec, d);
  *src = strdup(s);
  *dst = strdup(d);
  if (!*src || !*dst) {
    free(*src);
    free(*dst);
    *src = *dst = NULL;
    return sbx_error_set(err, ENOMEM, "-v");
  }
  return 0;
}

static bool all_digits(const char *s, size_t n) {
  if (n == 0 || n > 10) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return strtoull(s, NULL, 10) < 4294967295ull; /* (uid_t)-1 is "no id" */
}

static int add_path(sbx_run_opts_t *o, const char *path, bool directory, const char *flag,
                    const char *flag_arg, sbx_error_t *err) {
  if (o->npaths >= SBX_WIRE_MAX_FDS)
    return sbx_error_set(err, E2BIG, "too many paths to share: at most %d (--image and -v)",
                         SBX_WIRE_MAX_FDS);
  sbx_run_path_t *p = &o->paths[o->npaths];
  p->path = strdup(path);
  p->directory = directory;
  if (asprintf(&p->flag, "%s%s", flag, flag_arg) < 0) p->flag = NULL;
  if (!p->path || !p->flag) {
    free(p->path);
    free(p->flag);
    *p = (sbx_run_path_t){0};
    return sbx_error_set(err, ENOMEM, "run");
  }
  o->npaths++;
  return 0;
}

/* Flags collected before the request is built (so fd indexes follow a fixed order: the
 * image first, then the mounts as given). */
typedef struct collected {
  const char *name, *ns, *image_dir, *cpus, *memory, *network, *workdir, *user;
  long long pids;
  bool rm, has_pids;
  json_object *env;    /* array of "K=V" */
  json_object *mounts; /* array of {destination, readOnly}; "fd" added later */
  json_object *srcs;   /* array of SRC strings parallel to mounts */
  json_object *specs;  /* the -v arguments, for messages */
} collected_t;

static int add_env(collected_t *c, const char *arg, sbx_error_t *err) {
  const char *eq = strchr(arg, '=');
  size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
  _cleanup_free_ char *name = strndup(arg, nlen);
  if (!name) return sbx_error_set(err, ENOMEM, "-e");
  if (!sbx_is_env_name(name))
    return sbx_error_set(err, 0,
                         "-e %s: \"%s\" is not a valid variable name (letters, digits and '_', "
                         "not starting with a digit)",
                         arg, name);
  if (eq) return json_object_array_add(c->env, json_object_new_string(arg)) ? -1 : 0;
  /* -e NAME: the caller's value; an unset variable is left out, as docker does. */
  const char *val = getenv(name);
  if (!val) return 0;
  _cleanup_free_ char *kv = NULL;
  if (asprintf(&kv, "%s=%s", name, val) < 0) return sbx_error_set(err, ENOMEM, "-e");
  json_object_array_add(c->env, json_object_new_string(kv));
  return 0;
}

static int add_volume(collected_t *c, const char *arg, sbx_error_t *err) {
  _cleanup_free_ char *src = NULL, *dst = NULL;
  bool ro;
  if (sbx_run_parse_volume(arg, &src, &dst, &ro, err) < 0) return -1;
  for (size_t i = 0; i < json_object_array_length(c->mounts); i++) {
    json_object *m = json_object_array_get_idx(c->mounts, i);
    if (strcmp(sbx_json_str(m, "destination"), dst) == 0)
      return sbx_error_set(err, 0, "-v %s: %s is already the destination of -v %s", arg,
                           dst, json_object_get_string(json_object_array_get_idx(c->specs, i)));
  }
  json_object *m = json_object_new_object();
  json_object_object_add(m, "destination", json_object_new_string(dst));
  json_object_object_add(m, "readOnly", json_object_new_boolean(ro));
  json_object_array_add(c->mounts, m);
  json_object_array_add(c->srcs, json_object_new_string(src));
  json_object_array_add(c->specs, json_object_new_string(arg));
  return 0;
}

static int parse_flag(int opt, const char *arg, collected_t *c, sbx_run_opts_t *o,
                      sbx_error_t *err) {
  switch (opt) {
  case OPT_RM: c->rm = true; return 0;
  case 'i': o->interactive = true; return 0;
  case 't': o->tty = true; return 0;
  case 'h': o->help = true; return 0;
  case 'e': return add_env(c, arg, err);
  case 'v': return add_volume(c, arg, err);
  }
  if (!*arg) {
    const struct option *lo = long_opts;
    while (lo->name && lo->val != opt) lo++;
    return sbx_error_set(err, 0, "--%s: the value is empty", lo->name ? lo->name : "?");
  }
  switch (opt) {
  case OPT_NAME: c->name = arg; return 0;
  case 'n': c->ns = arg; return 0;
  case OPT_CPUS: c->cpus = arg; return 0;
  case OPT_MEMORY: c->memory = arg; return 0;
  case OPT_IMAGE:
    if (strcmp(arg, "host") == 0) {
      c->image_dir = NULL;
      return 0;
    }
    if (strncmp(arg, "rootfs:", 7) == 0 && arg[7]) {
      c->image_dir = arg + 7;
      return 0;
    }
    return sbx_error_set(err, 0,
                         "--image %s: only `host` and `rootfs:DIR` images are supported so far",
                         arg);
  case OPT_PIDS: {
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || *end || v <= 0 || v > INT_MAX)
      return sbx_error_set(err, 0, "--pids %s: expected a whole number greater than 0",
                           arg);
    c->pids = v;
    c->has_pids = true;
    return 0;
  }
  case OPT_NETWORK:
    if (strcmp(arg, "none") != 0 && strcmp(arg, "private") != 0)
      return sbx_error_set(err, 0, "--network %s: expected none or private", arg);
    c->network = arg;
    return 0;
  case 'w':
    if (arg[0] != '/')
      return sbx_error_set(err, 0, "-w %s: the working directory must be an absolute path",
                           arg);
    c->workdir = arg;
    return 0;
  case 'u': {
    const char *colon = strchr(arg, ':');
    size_t ulen = colon ? (size_t)(colon - arg) : strlen(arg);
    if (!all_digits(arg, ulen) || (colon && !all_digits(colon + 1, strlen(colon + 1))))
      return sbx_error_set(err, 0, "-u %s: expected UID or UID:GID (numbers)", arg);
    c->user = arg;
    return 0;
  }
  }
  return sbx_error_set(err, 0, "unknown flag");
}

static void add_str(json_object *o, const char *key, const char *v) {
  if (v) json_object_object_add(o, key, json_object_new_string(v));
}

static int build_request(collected_t *c, char **cmd, int ncmd, sbx_run_opts_t *o,
                         sbx_error_t *err) {
  json_object *r = json_object_new_object();
  if (!r) return sbx_error_set(err, ENOMEM, "run");
  o->req = r;
  add_str(r, "op", "run");
  add_str(r, "name", c->name);
  add_str(r, "namespace", c->ns ? c->ns : "default");
  if (c->image_dir) {
    if (add_path(o, c->image_dir, true, "--image rootfs:", c->image_dir, err) < 0) return -1;
    o->paths[o->npaths - 1].image = true;
    add_str(r, "image", "rootfs");
    json_object_object_add(r, "imageFd", json_object_new_int(0));
  } else {
    add_str(r, "image", "host");
  }
  add_str(r, "cpus", c->cpus);
  add_str(r, "memory", c->memory);
  if (c->has_pids) json_object_object_add(r, "pids", json_object_new_int64(c->pids));
  add_str(r, "network", c->network);
  size_t nm = json_object_array_length(c->mounts);
  for (size_t i = 0; i < nm; i++) {
    json_object *m = json_object_array_get_idx(c->mounts, i);
    json_object_object_add(m, "fd", json_object_new_int((int)o->npaths));
    if (add_path(o, json_object_get_string(json_object_array_get_idx(c->srcs, i)), false, "-v ",
                 json_object_get_string(json_object_array_get_idx(c->specs, i)), err) < 0)
      return -1;
  }
  if (nm) json_object_object_add(r, "mounts", json_object_get(c->mounts));
  if (json_object_array_length(c->env)) json_object_object_add(r, "env", json_object_get(c->env));
  add_str(r, "workingDir", c->workdir);
  add_str(r, "user", c->user);
  json_object_object_add(r, "tty", json_object_new_boolean(o->tty));
  json_object_object_add(r, "stdin", json_object_new_boolean(o->interactive));
  json_object_object_add(r, "rm", json_object_new_boolean(c->rm));
  json_object *argv = json_object_new_array();
  for (int i = 0; i < ncmd; i++) json_object_array_add(argv, json_object_new_string(cmd[i]));
  json_object_object_add(r, "command", argv);
  return 0;
}

int sbx_run_parse(int argc, char **argv, sbx_run_opts_t *o, sbx_error_t *err) {
  *o = (sbx_run_opts_t){0};
  collected_t c = {.env = json_object_new_array(),
                   .mounts = json_object_new_array(),
                   .srcs = json_object_new_array(),
                   .specs = json_object_new_array()};
  int r = -1;
  if (!c.env || !c.mounts || !c.srcs || !c.specs) {
    sbx_error_set(err, ENOMEM, "run");
    goto out;
  }

  /* '+': stop at the first non-option; ':': report a missing value as ':'. */
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "+:v:e:w:u:itn:h", long_opts, NULL)) != -1) {
    if (opt == '?') {
      if (optopt && optopt < 0x100) sbx_error_set(err, 0, "unknown flag: -%c", optopt);
      else sbx_error_set(err, 0, "unknown flag: %s", argv[optind - 1]);
      goto out;
    }
    if (opt == ':') {
      sbx_error_set(err, 0, "flag needs a value: %s", argv[optind - 1]);
      goto out;
    }
    if (parse_flag(opt, optarg, &c, o, err) < 0) goto out;
    if (o->help) {
      r = 0;
      goto out;
    }
  }
  if (optind >= argc) {
    sbx_error_set(err, 0, "no command given: sbx run [OPTIONS] [--] CMD [ARG...]");
    goto out;
  }
  r = build_request(&c, argv + optind, argc - optind, o, err);

out:
  json_object_put(c.env);
  json_object_put(c.mounts);
  json_object_put(c.srcs);
  json_object_put(c.specs);
  return r;
}

int sbx_run_open_paths(const sbx_run_opts_t *o, int *fds, sbx_error_t *err) {
  for (size_t i = 0; i < o->npaths; i++) {
    const sbx_run_path_t *p = &o->paths[i];
    if (p->image) { /* rootfs:DIR: the rule apply follows too (lib/rootfs.h) */
      struct open_how how = sbx_rootfs_open_how();
      fds[i] = (int)syscall(SYS_openat2, AT_FDCWD, p->path, &how, sizeof how);
      if (fds[i] < 0 ? sbx_rootfs_open_failed(errno, p->path, err) < 0
                     : sbx_rootfs_check(fds[i], p->path, getuid(), err) < 0) {
        sbx_wire_close_fds(fds, fds[i] < 0 ? i : i + 1);
        return -1;
      }
      continue;
    }
    /* for reading, not O_PATH: the daemon takes the descriptor as proof the caller may read it */
    fds[i] = open(p->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (p->directory ? O_DIRECTORY : 0));
    if (fds[i] < 0) {
      int e = errno;
      sbx_wire_close_fds(fds, i);
      return sbx_error_set(err, e, "%s: cannot open %s", p->flag, p->path);
    }
  }
  return 0;
}
