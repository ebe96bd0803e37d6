/* cmd_apply.c: `sbx apply -f FILE|-|DIR [-f ...] [-R] [-n NS]`, as kubectl apply.
 *
 * Two phases, so that a bad document changes nothing:
 *   1. read every input (a directory gives its *.yaml, *.yml and *.json files in name order,
 *      its subdirectories too with -R; `-` is stdin), each at most SBX_APPLY_MAX_INPUT
 *      bytes; parse each into documents and validate every document, and work out where
 *      each goes (kind, version, namespace). Any error: print them all, send nothing.
 *   2. for each document in order: GET it; absent: POST ("created"); present and equal in
 *      what the user controls (apply.c): "unchanged"; else PUT ("configured"). A POST that
 *      finds the name taken meanwhile (another apply won the race) is retried as an update.
 * Server refusals in phase 2 are printed and the next document is still applied, as
 * kubectl does; the exit status says whether all went well.
 *
 * Parsing and validation are the manifest library's (lib/manifest.h, lib/validate.h); the
 * one place that calls them is load_input(). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/api.h"
#include "cli/apply.h"
#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/manifest.h"
#include "lib/validate.h"
#include "lib/wire.h"

#define SBX_APPLY_MAX_INPUT (8u << 20)
#define MAX_INPUTS 4096

typedef struct input {
  char *source; /* the name errors use: the path, or "stdin" */
  char *buf;
  size_t len;
  struct sbx_manifest_doc *docs;
  size_t ndocs;
  sbx_apply_target_t *targets;
} input_t;

typedef struct inputs {
  input_t *v;
  size_t n, cap;
} inputs_t;

static const struct option long_opts[] = {
    {"filename", required_argument, NULL, 'f'},
    {"recursive", no_argument, NULL, 'R'},
    {"namespace", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int add_input(inputs_t *in, const char *source, sbx_error_t *err) {
  if (in->n >= MAX_INPUTS)
    return sbx_error_set(err, 0, "more than %d files to apply", MAX_INPUTS);
  if (in->n == in->cap) {
    size_t cap = in->cap ? in->cap * 2 : 8;
    input_t *v = realloc(in->v, cap * sizeof *v);
    if (!v) return sbx_error_set(err, ENOMEM, "apply");
    in->v = v;
    in->cap = cap;
  }
  in->v[in->n] = (input_t){.source = strdup(source)};
  if (!in->v[in->n].source) return sbx_error_set(err, ENOMEM, "apply");
  in->n++;
  return 0;
}

static void inputs_free(inputs_t *in) {
  for (size_t i = 0; i < in->n; i++) {
    free(in->v[i].source);
    free(in->v[i].buf);
    free(in->v[i].targets);
    sbx_manifest_docs_free(in->v[i].docs, in->v[i].ndocs);
  }
  free(in->v);
}

static bool manifest_name(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0 ||
                 strcmp(dot, ".json") == 0);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The manifests of directory `dir`, in name order; subdirectories too when recursive. */
static int add_dir(inputs_t *in, const char *dir, bool recursive, int depth, sbx_error_t *err) {
  if (depth > 32) return sbx_error_set(err, 0, "%s: directories nested too deep", dir);
  DIR *d = opendir(dir);
  if (!d) return sbx_error_sys(err, "%s", dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      char **v = realloc(names, cap * sizeof *v);
      if (!v) {
        rc = sbx_error_set(err, ENOMEM, "apply");
        break;
      }
      names = v;
    }
    if (!(names[n] = strdup(e->d_name))) {
      rc = sbx_error_set(err, ENOMEM, "apply");
      break;
    }
    n++;
  }
  closedir(d);
  if (rc == 0) qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n && rc == 0; i++) {
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]) < 0) {
      rc = sbx_error_set(err, ENOMEM, "apply");
      break;
    }
    struct stat st;
    if (stat(path, &st) < 0) continue; /* a dangling link, or gone meanwhile */
    if (S_ISDIR(st.st_mode)) {
      if (recursive) rc = add_dir(in, path, true, depth + 1, err);
    } else if (manifest_name(names[i])) {
      rc = add_input(in, path, err);
    }
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc;
}

static int add_arg(inputs_t *in, const char *arg, bool recursive, bool *stdin_used,
                   sbx_error_t *err) {
  if (strcmp(arg, "-") == 0) {
    if (*stdin_used) return sbx_error_set(err, 0, "-f - (stdin) can be given only once");
    *stdin_used = true;
    return add_input(in, "-", err);
  }
  if (strstr(arg, "://"))
    return sbx_error_set(err, 0, "%s: sbx reads local files only, not URLs", arg);
  struct stat st;
  if (stat(arg, &st) < 0) {
    if (errno == ENOENT) return sbx_error_set(err, 0, "the path \"%s\" does not exist", arg);
    return sbx_error_sys(err, "%s", arg);
  }
  if (S_ISDIR(st.st_mode)) {
    size_t before = in->n;
    if (add_dir(in, arg, recursive, 0, err) < 0) return -1;
    if (in->n == before)
      return sbx_error_set(err, 0, "%s: no .yaml, .yml or .json files in this directory%s",
                           arg, recursive ? "" : " (-R looks into subdirectories)");
    return 0;
  }
  return add_input(in, arg, err);
}

/* "50 MiB", rounded up; small sizes in KiB or bytes. */
static void human_size(unsigned long long n, char *buf, size_t size) {
  if (n >= (1ull << 20)) snprintf(buf, size, "%llu MiB", (n + (1ull << 20) - 1) >> 20);
  else if (n >= 1024) snprintf(buf, size, "%llu KiB", (n + 1023) >> 10);
  else snprintf(buf, size, "%llu bytes", n);
}

static int too_big(const char *source, unsigned long long size, bool at_least,
                   sbx_error_t *err) {
  char h[64];
  human_size(size, h, sizeof h);
  return sbx_error_set(err, 0, "%s is %s%s; sbx accepts at most %u MiB", source,
                       at_least ? "more than " : "", h, SBX_APPLY_MAX_INPUT >> 20);
}

/* Read one input with the caller's own rights, at most SBX_APPLY_MAX_INPUT bytes. */
static int read_input(input_t *in, sbx_error_t *err) {
  bool is_stdin = strcmp(in->source, "-") == 0;
  if (is_stdin) {
    free(in->source);
    if (!(in->source = strdup("stdin"))) return sbx_error_set(err, ENOMEM, "apply");
  }
  _cleanup_fd_ int fd = is_stdin ? dup(STDIN_FILENO)
                                 : open(in->source, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return sbx_error_sys(err, "%s", in->source);
  struct stat st;
  if (fstat(fd, &st) < 0) return sbx_error_sys(err, "%s", in->source);
  if (S_ISDIR(st.st_mode)) return sbx_error_set(err, 0, "%s is a directory", in->source);
  if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > SBX_APPLY_MAX_INPUT)
    return too_big(in->source, (unsigned long long)st.st_size, false, err);
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap + 1);
  if (!buf) return sbx_error_set(err, ENOMEM, "apply");
  for (;;) {
    if (len > SBX_APPLY_MAX_INPUT) { /* one byte more than allowed is enough to know */
      free(buf);
      return too_big(in->source, SBX_APPLY_MAX_INPUT, true, err);
    }
    if (len == cap) {
      cap = cap * 2 > SBX_APPLY_MAX_INPUT + 1 ? SBX_APPLY_MAX_INPUT + 1 : cap * 2;
      char *b = realloc(buf, cap + 1);
      if (!b) {
        free(buf);
        return sbx_error_set(err, ENOMEM, "apply");
      }
      buf = b;
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      sbx_error_sys(err, "reading %s", in->source);
      free(buf);
      return -1;
    }
    if (r == 0) break;
    len += (size_t)r;
  }
  if (len > SBX_APPLY_MAX_INPUT) {
    free(buf);
    return too_big(in->source, SBX_APPLY_MAX_INPUT, true, err);
  }
  buf[len] = '\0';
  in->buf = buf;
  in->len = len;
  return 0;
}

/* Phase 1 for one input: parse, validate every document, find where each goes. Prints
 * what is wrong ("error: SOURCE: message"); returns the number of errors. */
static int load_input(input_t *in, const char *ns_flag) {
  sbx_error_t err = {0};
  if (read_input(in, &err) < 0) {
    fprintf(stderr, "error: %s\n", err.msg);
    return 1;
  }
  if (sbx_manifest_parse(in->buf, in->len, in->source, &in->docs, &in->ndocs, &err) < 0) {
    /* the parser's message already starts with the source's name */
    fprintf(stderr, "error: %s\n", err.msg);
    return 1;
  }
  in->targets = calloc(in->ndocs ? in->ndocs : 1, sizeof *in->targets);
  if (!in->targets) {
    fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  int errors = 0;
  for (size_t i = 0; i < in->ndocs; i++) {
    sbx_error_t e = {0};
    if (sbx_validate(in->docs[i].obj, &in->docs[i], &e) < 0 ||
        sbx_apply_target(in->docs[i].obj, ns_flag, &in->targets[i], &e) < 0) {
      fprintf(stderr, "error: %s: %s\n", in->source, e.msg);
      errors++;
    }
  }
  return errors;
}

typedef enum { APPLY_OK, APPLY_FAILED, APPLY_UNREACHABLE } apply_rc_t;

static apply_rc_t report(int r, const sbx_error_t *err) {
  if (r == SBX_API_SERVER_ERROR) {
    fprintf(stderr, "%s\n", err->msg);
    return APPLY_FAILED;
  }
  fprintf(stderr, "sbx: %s\n", err->msg);
  return APPLY_UNREACHABLE;
}

/* Phase 2 for one document. */
static apply_rc_t apply_one(const sbx_apply_target_t *t, json_object *doc) {
  _cleanup_json_ json_object *body = sbx_apply_body(doc, t);
  if (!body) {
    fprintf(stderr, "sbx: out of memory\n");
    return APPLY_FAILED;
  }
  for (int attempt = 0; attempt < 2; attempt++) {
    sbx_error_t err = {0};
    long code = 0;
    _cleanup_json_ json_object *live = NULL;
    int r = sbx_api_request("GET", t->path, NULL, &live, &code, &err);
    const char *result;
    _cleanup_json_ json_object *answer = NULL;
    if (r == SBX_API_SERVER_ERROR && code == 404) {
      r = sbx_api_request("POST", t->collection, body, &answer, &code, &err);
      if (r == SBX_API_SERVER_ERROR && code == 409 && attempt == 0) continue; /* lost a race */
      result = "created";
    } else if (r < 0) {
      return report(r, &err);
    } else if (sbx_apply_unchanged(t->kind, body, live)) {
      result = "unchanged";
    } else {
      r = sbx_api_request("PUT", t->path, body, &answer, &code, &err);
      result = "configured";
    }
    if (r < 0) return report(r, &err);
    printf("%s/%s %s\n", t->display, t->name, result);
    fflush(stdout);
    return APPLY_OK;
  }
  return APPLY_FAILED;
}

int sbx_cmd_apply(int argc, char **argv, const sbx_cmd_t *self) {
  const char *ns_flag = NULL;
  bool recursive = false;
  _cleanup_free_ char **files = calloc((size_t)argc + 1, sizeof *files);
  if (!files) return SBX_EXIT_FAILURE;
  size_t nfiles = 0;
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "-:f:Rn:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1:
      sbx_cmd_usage_error(self, "unexpected argument \"%s\": give files with -f", optarg);
      return SBX_EXIT_FAILURE;
    case 'f': files[nfiles++] = optarg; break;
    case 'R': recursive = true; break;
    case 'n': ns_flag = optarg; break;
    case 'h': sbx_cmd_usage(self); return 0;
    default: sbx_cmd_flag_error(self, opt, argv); return SBX_EXIT_FAILURE;
    }
  }
  if (optind < argc) {
    sbx_cmd_usage_error(self, "unexpected argument \"%s\": give files with -f", argv[optind]);
    return SBX_EXIT_FAILURE;
  }
  if (nfiles == 0) {
    sbx_cmd_usage_error(self, "must specify one of -f and -k (sbx knows -f)");
    return SBX_EXIT_FAILURE;
  }

  inputs_t in = {0};
  sbx_error_t err = {0};
  bool stdin_used = false;
  int rc = 0;
  for (size_t i = 0; i < nfiles; i++)
    if (add_arg(&in, files[i], recursive, &stdin_used, &err) < 0) {
      fprintf(stderr, "error: %s\n", err.msg);
      rc = SBX_EXIT_FAILURE;
      goto out;
    }

  int errors = 0;
  size_t ndocs = 0;
  for (size_t i = 0; i < in.n; i++) {
    errors += load_input(&in.v[i], ns_flag);
    ndocs += in.v[i].ndocs;
  }
  if (errors) {
    fprintf(stderr, "error: nothing was applied: %d error%s in the input\n", errors,
            errors == 1 ? "" : "s");
    rc = SBX_EXIT_FAILURE;
    goto out;
  }
  if (ndocs == 0) {
    fprintf(stderr, "error: no objects passed to apply\n");
    rc = SBX_EXIT_FAILURE;
    goto out;
  }

  for (size_t i = 0; i < in.n; i++)
    for (size_t j = 0; j < in.v[i].ndocs; j++) {
      apply_rc_t r = apply_one(&in.v[i].targets[j], in.v[i].docs[j].obj);
      if (r != APPLY_OK) rc = SBX_EXIT_FAILURE;
      if (r == APPLY_UNREACHABLE) goto out;
    }
out:
  inputs_free(&in);
  return rc;
}
