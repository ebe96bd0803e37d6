/* config.c: sbxd's settings, from the command line and the config file, generically over
 * the program's getopt long-option table (config.h says the rules). */
#include "daemon/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OPT_CONFIG 0x10001
#define OPT_CHECK_CONFIG 0x10002

struct item {
  const struct option *opt;
  char *arg;
  int line; /* in the file; 0 on the command line */
};

struct list {
  struct item *v;
  size_t n;
};

static int list_add(struct list *l, const struct option *opt, const char *arg, int line) {
  struct item *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
  if (!nv) return -1;
  l->v = nv;
  nv[l->n] = (struct item){.opt = opt, .arg = arg ? strdup(arg) : NULL, .line = line};
  if (arg && !nv[l->n].arg) return -1;
  l->n++;
  return 0;
}

static void list_free(struct list *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i].arg);
  free(l->v);
}

static bool listed(const char *const *names, const char *name) {
  for (; names && *names; names++)
    if (strcmp(*names, name) == 0) return true;
  return false;
}

static bool in_list(const struct list *l, const struct option *opt) {
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].opt == opt) return true;
  return false;
}

static const struct option *find_option(const struct sbx_conf_spec *spec, const char *name) {
  for (const struct option *o = spec->options; o->name; o++)
    if (strcmp(o->name, name) == 0) return o;
  return NULL;
}

/* edit distance, for "did you mean" (names are short) */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 99;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

static const char *closest(const struct sbx_conf_spec *spec, const char *key) {
  const char *best = NULL;
  size_t bestd = 3; /* at most two edits away */
  for (const struct option *o = spec->options; o->name; o++) {
    if (listed(spec->cli_only, o->name)) continue;
    size_t dd = distance(key, o->name);
    if (dd < bestd) {
      bestd = dd;
      best = o->name;
    }
  }
  return best;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
  return s;
}

static bool parse_bool(const char *v, bool *out) {
  static const char *const yes[] = {"true", "yes", "on", "1", NULL}, *const no[] = {"false", "no", "off", "0", NULL};
  if (listed(yes, v)) *out = true;
  else if (listed(no, v)) *out = false;
  else return false;
  return true;
}

/* One line of the file; adds to l or prints the error. Returns 0 or -1 (an error). */
static int file_line(const struct sbx_conf_spec *spec, const char *path, int lineno, char *raw, struct list *l,
                     FILE *errs) {
  char *s = trim(raw);
  if (!*s || *s == '#') return 0;
  for (char *c = s + 1; *c; c++) /* a comment after a blank */
    if (*c == '#' && (c[-1] == ' ' || c[-1] == '\t')) {
      *c = '\0';
      s = trim(s);
      break;
    }
  const char *P = spec->program;
  char *eq = strchr(s, '=');
  if (!eq) {
    fprintf(errs, "%s: %s:%d: expected \"key = value\", got \"%s\"\n", P, path, lineno, s);
    return -1;
  }
  *eq = '\0';
  char *key = trim(s), *val = trim(eq + 1);
  if (key[0] == '-') {
    while (*key == '-') key++;
    fprintf(errs, "%s: %s:%d: write the key without dashes: \"%s = %s\"\n", P, path, lineno, key, val);
    return -1;
  }
  const struct option *o = find_option(spec, key);
  if (!o) {
    if (strcmp(key, "config") == 0 || strcmp(key, "check-config") == 0) {
      fprintf(errs, "%s: %s:%d: %s can only be given on the command line\n", P, path, lineno, key);
      return -1;
    }
    const char *hint = closest(spec, key);
    if (hint)
      fprintf(errs, "%s: %s:%d: unknown key \"%s\" (did you mean \"%s\"?)\n", P, path, lineno, key, hint);
    else
      fprintf(errs, "%s: %s:%d: unknown key \"%s\" (the keys are %s's long options without dashes: see %s --help)\n",
              P, path, lineno, key, P, P);
    return -1;
  }
  if (listed(spec->cli_only, o->name)) {
    fprintf(errs, "%s: %s:%d: %s can only be given on the command line\n", P, path, lineno, key);
    return -1;
  }
  if (!listed(spec->repeatable, o->name))
    for (size_t i = 0; i < l->n; i++)
      if (l->v[i].opt == o) {
        fprintf(errs, "%s: %s:%d: %s is already set on line %d (it takes one value)\n", P, path, lineno, key,
                l->v[i].line);
        return -1;
      }
  if (o->has_arg == no_argument) {
    bool on;
    if (!parse_bool(val, &on)) {
      fprintf(errs, "%s: %s:%d: %s takes true or false, not \"%s\"\n", P, path, lineno, key, val);
      return -1;
    }
    return on ? list_add(l, o, NULL, lineno) : 0;
  }
  if (!*val && o->has_arg == required_argument) {
    fprintf(errs, "%s: %s:%d: %s needs a value (\"%s = VALUE\")\n", P, path, lineno, key, key);
    return -1;
  }
  return list_add(l, o, *val ? val : NULL, lineno);
}

static int read_file(const struct sbx_conf_spec *spec, const char *path, bool explicit, struct list *l, FILE *errs) {
  FILE *f = fopen(path, "re");
  if (!f) {
    if (errno == ENOENT && !explicit) return 1; /* no file: the defaults and flags alone */
    fprintf(errs, "%s: cannot read the config file %s: %s\n", spec->program, path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  int lineno = 0, bad = 0;
  while (getline(&line, &cap, f) >= 0)
    if (file_line(spec, path, ++lineno, line, l, errs) < 0) bad++;
  free(line);
  fclose(f);
  return bad ? -1 : 0;
}

/* the program's options plus --config and --check-config */
static struct option *full_table(const struct sbx_conf_spec *spec) {
  size_t n = 0;
  while (spec->options[n].name) n++;
  struct option *t = calloc(n + 3, sizeof *t);
  if (!t) return NULL;
  memcpy(t, spec->options, n * sizeof *t);
  t[n] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
  t[n + 1] = (struct option){"check-config", no_argument, NULL, OPT_CHECK_CONFIG};
  return t;
}

static int add_value(struct sbx_conf *conf, const struct item *it, const char *origin_file) {
  struct sbx_conf_value *nv = realloc(conf->values, (conf->nvalues + 1) * sizeof *nv);
  if (!nv) return -1;
  conf->values = nv;
  struct sbx_conf_value *v = &nv[conf->nvalues++];
  v->opt = it->opt;
  v->arg = it->arg ? strdup(it->arg) : NULL;
  if (origin_file)
    snprintf(v->origin, sizeof v->origin, "%s:%d", origin_file, it->line);
  else
    snprintf(v->origin, sizeof v->origin, "%s", it->line < 0 ? "default" : "command line");
  return 0;
}

static void report(const struct sbx_conf_spec *spec, const struct sbx_conf_value *v, const sbx_error_t *err,
                   FILE *errs) {
  if (!err->msg[0]) return; /* the callback printed it */
  if (strcmp(v->origin, "command line") == 0)
    fprintf(errs, "%s: --%s: %s\n", spec->program, v->opt->name, err->msg);
  else if (strcmp(v->origin, "default") == 0)
    fprintf(errs, "%s: the default %s = %s: %s\n", spec->program, v->opt->name, v->arg ? v->arg : "", err->msg);
  else
    fprintf(errs, "%s: %s: %s: %s\n", spec->program, v->origin, v->opt->name, err->msg);
}

int sbx_conf_load(const struct sbx_conf_spec *spec, int argc, char **argv, struct sbx_conf *conf, FILE *errs) {
  *conf = (struct sbx_conf){0};
  struct list cli = {0}, file = {0}, defaults = {0};
  int bad = 0;
  struct option *table = full_table(spec);
  if (!table) return -1;
  const char *config_path = NULL;
  int o;
  optind = 0; /* a fresh scan (the tests parse more than once) */
  while ((o = getopt_long(argc, argv, spec->short_options, table, NULL)) != -1) {
    if (o == '?' || o == ':') {
      bad++;
      continue;
    }
    if (o == OPT_CONFIG) config_path = optarg;
    else if (o == OPT_CHECK_CONFIG) conf->check = true;
    const struct option *opt = NULL;
    for (const struct option *t = spec->options; t->name; t++)
      if (t->val == o) opt = t;
    if (!opt) continue;
    if (listed(spec->cli_only, opt->name)) { /* --help, --version: at once */
      sbx_error_t e = {0};
      if (spec->apply(o, optarg, &e) != 0) {
        fprintf(errs, "%s: --%s: %s\n", spec->program, opt->name, e.msg);
        bad++;
      }
      continue;
    }
    if (list_add(&cli, opt, optarg, 0) < 0) bad++;
  }
  if (optind < argc) {
    fprintf(errs, "%s: unexpected argument %s\n", spec->program, argv[optind]);
    bad++;
  }
  conf->path_explicit = config_path != NULL;
  conf->path = strdup(config_path ? config_path : spec->default_path);
  int r = read_file(spec, conf->path, conf->path_explicit, &file, errs);
  if (r < 0) bad++;
  if (r > 0) {
    free(conf->path);
    conf->path = NULL;
  }
  for (const char *const *d = spec->defaults; d && *d; d++) {
    const char *eq = strchr(*d, '=');
    char name[128];
    snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - *d) : 0, *d);
    const struct option *opt = find_option(spec, name);
    if (opt && list_add(&defaults, opt, eq + 1, -1) < 0) bad++;
  }
  { /* in force: defaults, then the file, then the command line; every value is checked
     * even when other lines were wrong, so one run reports every error */
    for (size_t i = 0; i < defaults.n; i++)
      if (!in_list(&file, defaults.v[i].opt) && !in_list(&cli, defaults.v[i].opt)) add_value(conf, &defaults.v[i], NULL);
    for (size_t i = 0; i < file.n; i++)
      if (!in_list(&cli, file.v[i].opt)) add_value(conf, &file.v[i], conf->path);
    for (size_t i = 0; i < cli.n; i++) add_value(conf, &cli.v[i], NULL);
    for (size_t i = 0; i < conf->nvalues; i++) {
      sbx_error_t e = {0};
      if (spec->apply(conf->values[i].opt->val, conf->values[i].arg, &e) != 0) {
        report(spec, &conf->values[i], &e, errs);
        bad++;
      }
    }
  }
  list_free(&cli);
  list_free(&file);
  list_free(&defaults);
  free(table);
  return bad ? -1 : 0;
}

void sbx_conf_print(const struct sbx_conf_spec *spec, const struct sbx_conf *conf, FILE *out) {
  fprintf(out, "# %s's effective configuration (config file: %s)\n", spec->program,
          conf->path ? conf->path : "none");
  for (const struct option *o = spec->options; o->name; o++) {
    if (listed(spec->cli_only, o->name)) continue;
    bool any = false;
    for (size_t i = 0; i < conf->nvalues; i++) {
      const struct sbx_conf_value *v = &conf->values[i];
      if (v->opt != o) continue;
      any = true;
      fprintf(out, "%s = %s  # %s\n", o->name, v->arg ? v->arg : "true", v->origin);
    }
    if (!any) fprintf(out, "# %s: not set\n", o->name);
  }
}

void sbx_conf_free(struct sbx_conf *conf) {
  for (size_t i = 0; i < conf->nvalues; i++) free(conf->values[i].arg);
  free(conf->values);
  free(conf->path);
  *conf = (struct sbx_conf){0};
}
