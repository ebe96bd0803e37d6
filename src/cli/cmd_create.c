/* cmd_create.c: `sbx create secret generic NAME ...` and `sbx create configmap NAME ...`,
 * as kubectl create.
 *
 *   --from-literal=KEY=VALUE     a key with that value
 *   --from-file=[KEY=]PATH       a key with the file's contents (KEY: the file's name); a
 *                                directory gives one key per regular file in it
 *   --from-env-file=PATH         a key per KEY=VALUE line of the file (kubectl's format)
 *   --from-stdin=KEY             a key with a value read from standard input (typed without
 *                                echo on a terminal; stdin_value.h)
 *   --type=TYPE                  (secret) the Secret's type, Opaque by default
 *   -n NS                        namespace
 *
 * A command line is readable by every local user while the command runs (/proc/PID/cmdline,
 * ps) and stays in the shell's history, so a secret's value given with --from-literal is
 * warned about on stderr, with the forms that keep it off the command line. Files are read
 * by sbx with the user's own rights, never by the daemon; only regular files are read, and
 * the whole object is bounded as Kubernetes bounds it (1 MiB of data), so a mistaken
 * --from-file=/dev/zero or a huge file is refused before anything is sent. A Secret's values
 * are sent base64-encoded in `data`; a ConfigMap's in `data` when they are UTF-8 text, else
 * in `binaryData`, as kubectl does. A key given twice is an error. */
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
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/kinds.h"
#include "cli/stdin_value.h"
#include "lib/base64.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

#define MAX_DATA (1u << 20)

enum { OPT_LITERAL = 0x100, OPT_FILE, OPT_ENV_FILE, OPT_STDIN, OPT_TYPE };

static const struct option long_opts[] = {
    {"from-literal", required_argument, NULL, OPT_LITERAL},
    {"from-file", required_argument, NULL, OPT_FILE},
    {"from-env-file", required_argument, NULL, OPT_ENV_FILE},
    {"from-stdin", required_argument, NULL, OPT_STDIN},
    {"type", required_argument, NULL, OPT_TYPE},
    {"namespace", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct builder {
  bool secret;
  json_object *data, *binary; /* owned */
  size_t total;
} builder_t;

static bool is_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    for (size_t j = 1; j < len; j++)
      if ((s[i + j] & 0xC0) != 0x80) return false;
    if (len == 2 && c < 0xC2) return false; /* overlong */
    i += len;
  }
  return true;
}

static int add_value(builder_t *b, const char *key, const void *val, size_t len,
                     sbx_error_t *err) {
  if (json_object_object_get_ex(b->data, key, NULL) ||
      json_object_object_get_ex(b->binary, key, NULL))
    return sbx_error_set(err, 0, "cannot add key %s, another key by that name already exists",
                         key);
  b->total += len + strlen(key);
  if (b->total > MAX_DATA)
    return sbx_error_set(err, 0, "the data is larger than %u MiB, the most a %s can hold",
                         MAX_DATA >> 20, b->secret ? "secret" : "configmap");
  if (!b->secret && is_utf8(val, len) && memchr(val, '\0', len) == NULL) {
    json_object_object_add(b->data, key, json_object_new_string_len(val, (int)len));
    return 0;
  }
  _cleanup_free_ char *enc = sbx_base64_encode(val, len);
  if (!enc) return sbx_error_set(err, ENOMEM, "encoding %s", key);
  json_object_object_add(b->secret ? b->data : b->binary, key, json_object_new_string(enc));
  return 0;
}

/* The error for a path that open() or stat() refused (errno). */
static int cannot_read(const char *path, sbx_error_t *err) {
  if (errno == EACCES)
    return sbx_error_says(err, EACCES, "cannot read %s: permission denied (sbx reads files with the rights of the "
                                       "user who runs it)", path);
  return sbx_error_sys(err, "cannot read %s", path);
}

/* A regular file's bytes, read with our own rights, at most what a whole object may hold;
 * *buf is malloc'd. */
static int read_regular_file(const builder_t *b, const char *path, char **buf, size_t *len, sbx_error_t *err) {
  _cleanup_fd_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return cannot_read(path, err);
  struct stat st;
  if (fstat(fd, &st) < 0) return sbx_error_sys(err, "%s", path);
  if (!S_ISREG(st.st_mode))
    return sbx_error_set(err, 0, "%s is not a regular file", path);
  if ((unsigned long long)st.st_size > MAX_DATA)
    return sbx_error_set(err, 0, "%s is %llu KiB; a %s holds at most %u MiB", path,
                         ((unsigned long long)st.st_size + 1023) / 1024,
                         b->secret ? "secret" : "configmap", MAX_DATA >> 20);
  _cleanup_free_ char *data = malloc(MAX_DATA + 1);
  if (!data) return sbx_error_set(err, ENOMEM, "%s", path);
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, data + n, MAX_DATA + 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sbx_error_sys(err, "reading %s", path);
    if (r == 0) break;
    n += (size_t)r;
    if (n > MAX_DATA)
      return sbx_error_set(err, 0, "%s is larger than %u MiB", path, MAX_DATA >> 20);
  }
  *len = n;
  *buf = data;
  data = NULL;
  return 0;
}

static int add_file(builder_t *b, const char *key, const char *path, sbx_error_t *err) {
  _cleanup_free_ char *buf = NULL;
  size_t len;
  if (read_regular_file(b, path, &buf, &len, err) < 0) return -1;
  return add_value(b, key, buf, len, err);
}

/* One line of an env file (its line end cut off, NUL-terminated in place). */
static int add_env_line(builder_t *b, char *line, size_t len, sbx_error_t *err) {
  if (memchr(line, '\0', len)) return sbx_error_set(err, 0, "the line holds a NUL byte");
  if (len > 0 && line[len - 1] == '\r') line[len - 1] = '\0';
  char key[256];
  const char *value;
  if (sbx_parse_env_line(line, key, sizeof key, &value, err) < 0) return -1;
  if (!*key) return 0; /* blank, or a comment */
  if (!value && !(value = getenv(key)))
    return sbx_error_set(err, 0, "%s has no '=' and names no variable of your environment (KEY=VALUE gives a "
                                 "value)", key);
  return add_value(b, key, value, strlen(value), err);
}

/* --from-env-file=PATH: kubectl's format (sbx_parse_env_line), a UTF-8 byte order mark
 * allowed at its start. An error names the line. */
static int add_env_file(builder_t *b, const char *path, sbx_error_t *err) {
  _cleanup_free_ char *buf = NULL;
  size_t len;
  if (read_regular_file(b, path, &buf, &len, err) < 0) return -1;
  char *p = buf, *end = buf + len;
  if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
  for (unsigned lineno = 1; p < end; lineno++) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *stop = nl ? nl : end;
    *stop = '\0'; /* the buffer has room for one more byte past the data */
    if (add_env_line(b, p, (size_t)(stop - p), err) < 0) return sbx_error_prefix(err, "%s, line %u", path, lineno);
    p = stop + 1;
  }
  return 0;
}

/* --from-stdin=KEY. */
static int add_stdin(builder_t *b, const char *key, sbx_error_t *err) {
  if (sbx_parse_from_stdin(key, err) < 0) return -1;
  _cleanup_free_ char *val = NULL;
  size_t len;
  if (sbx_read_stdin_value(key, MAX_DATA, &val, &len, err) < 0) return -1;
  int r = add_value(b, key, val, len, err);
  explicit_bzero(val, len);
  return r;
}

/* --from-literal=KEY=VALUE; a secret's value on the command line is warned about. */
static int add_literal(builder_t *b, const char *arg, sbx_error_t *err) {
  char key[256];
  const char *value;
  if (sbx_parse_from_literal(arg, key, sizeof key, &value, err) < 0) return -1;
  if (b->secret)
    fprintf(stderr,
            "warning: --from-literal puts the value of %s on the command line, where every user of this machine "
            "can read it while sbx runs (ps, /proc/PID/cmdline) and your shell history keeps it; use "
            "--from-stdin=%s, --from-file=%s=PATH or --from-env-file=PATH instead\n",
            key, key, key);
  return add_value(b, key, value, strlen(value), err);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each regular file of a directory, as kubectl does (subdirectories are skipped). */
static int add_dir(builder_t *b, const char *dir, sbx_error_t *err) {
  DIR *d = opendir(dir);
  if (!d) return sbx_error_sys(err, "%s", dir);
  char *names[1024];
  size_t n = 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) && rc == 0) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
      continue;
    if (n == sizeof names / sizeof *names)
      rc = sbx_error_set(err, 0, "%s: too many files", dir);
    else if (!(names[n++] = strdup(e->d_name)))
      rc = sbx_error_set(err, ENOMEM, "%s", dir);
  }
  closedir(d);
  if (rc == 0) qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n && rc == 0; i++) {
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
      rc = sbx_error_set(err, ENOMEM, "%s", dir);
      break;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) continue;
    if (!sbx_is_config_key(names[i])) continue; /* kubectl skips such names too */
    rc = add_file(b, names[i], path, err);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  return rc;
}

static int add_file_arg(builder_t *b, const char *arg, sbx_error_t *err) {
  char key[256];
  const char *path;
  bool key_given;
  if (sbx_parse_from_file(arg, key, sizeof key, &path, &key_given, err) < 0) return -1;
  struct stat st;
  if (stat(path, &st) < 0) return cannot_read(path, err);
  if (S_ISDIR(st.st_mode)) {
    if (key_given) return sbx_error_set(err, 0, "cannot give a key name for a directory path");
    return add_dir(b, path, err);
  }
  if (!*key) return sbx_error_set(err, 0, "--from-file=%s: no file name to use as the key", arg);
  return add_file(b, key, path, err);
}

int sbx_cmd_create(int argc, char **argv, const sbx_cmd_t *self) {
  const char *ns = "default", *type = NULL;
  _cleanup_free_ char **pos = calloc((size_t)argc + 1, sizeof *pos);
  _cleanup_free_ const char **sources = calloc((size_t)argc + 1, sizeof *sources);
  _cleanup_free_ int *source_kind = calloc((size_t)argc + 1, sizeof *source_kind);
  if (!pos || !sources || !source_kind) return SBX_EXIT_FAILURE;
  size_t npos = 0, nsources = 0;
  bool stdin_used = false;
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "-:n:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case 1: pos[npos++] = optarg; break;
    case OPT_STDIN:
      if (stdin_used) {
        sbx_cmd_usage_error(self, "--from-stdin can be given once: standard input holds one value");
        return SBX_EXIT_FAILURE;
      }
      stdin_used = true;
      /* fall through */
    case OPT_LITERAL:
    case OPT_FILE:
    case OPT_ENV_FILE:
      source_kind[nsources] = opt;
      sources[nsources++] = optarg;
      break;
    case OPT_TYPE: type = optarg; break;
    case 'n': ns = optarg; break;
    case 'h': sbx_cmd_usage(self); return 0;
    default: sbx_cmd_flag_error(self, opt, argv); return SBX_EXIT_FAILURE;
    }
  }
  while (optind < argc) pos[npos++] = argv[optind++];

  const char *what = npos > 0 ? pos[0] : "", *name = NULL;
  bool secret = false;
  if (strcmp(what, "secret") == 0) {
    if (npos < 2 || strcmp(pos[1], "generic") != 0) {
      sbx_cmd_usage_error(self, "sbx creates generic secrets: sbx create secret generic NAME "
                                "--from-stdin=KEY (or --from-file, --from-env-file)");
      return SBX_EXIT_FAILURE;
    }
    secret = true;
    name = npos == 3 ? pos[2] : NULL;
  } else if (strcmp(what, "configmap") == 0 || strcmp(what, "cm") == 0) {
    name = npos == 2 ? pos[1] : NULL;
    if (type) {
      sbx_cmd_usage_error(self, "--type is for secrets");
      return SBX_EXIT_FAILURE;
    }
  } else {
    sbx_cmd_usage_error(self, "sbx creates secrets and configmaps (sandboxes: sbx apply -f)");
    return SBX_EXIT_FAILURE;
  }
  if (!name) {
    sbx_cmd_usage_error(self, "give exactly one name: sbx create %s NAME",
                        secret ? "secret generic" : "configmap");
    return SBX_EXIT_FAILURE;
  }

  sbx_error_t err = {0};
  const sbx_kind_t *kind = sbx_kind_lookup(secret ? "secret" : "configmap");
  char path[1024], objpath[1024], display[64];
  /* the name is checked first, so that no file is read in vain */
  if (sbx_kind_path(kind, ns, NULL, path, sizeof path, &err) < 0 ||
      sbx_kind_path(kind, ns, name, objpath, sizeof objpath, &err) < 0) {
    fprintf(stderr, "error: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
  builder_t b = {.secret = secret, .data = json_object_new_object(),
                 .binary = json_object_new_object()};
  _cleanup_json_ json_object *data_owner = b.data, *binary_owner = b.binary;
  for (size_t i = 0; i < nsources; i++) {
    int r = source_kind[i] == OPT_LITERAL    ? add_literal(&b, sources[i], &err)
            : source_kind[i] == OPT_FILE     ? add_file_arg(&b, sources[i], &err)
            : source_kind[i] == OPT_ENV_FILE ? add_env_file(&b, sources[i], &err)
                                             : add_stdin(&b, sources[i], &err);
    if (r < 0) {
      fprintf(stderr, "error: %s\n", err.msg);
      return SBX_EXIT_FAILURE;
    }
  }

  _cleanup_json_ json_object *obj = json_object_new_object();
  json_object *md = json_object_new_object();
  json_object_object_add(obj, "apiVersion", json_object_new_string("v1"));
  json_object_object_add(obj, "kind", json_object_new_string(kind->kind));
  json_object_object_add(md, "name", json_object_new_string(name));
  json_object_object_add(md, "namespace", json_object_new_string(ns));
  json_object_object_add(obj, "metadata", md);
  if (secret) json_object_object_add(obj, "type", json_object_new_string(type ? type : "Opaque"));
  json_object_object_add(obj, "data", json_object_get(b.data));
  if (json_object_object_length(b.binary) > 0)
    json_object_object_add(obj, "binaryData", json_object_get(b.binary));

  _cleanup_json_ json_object *answer = NULL;
  int r = sbx_api_call("POST", path, obj, &answer, &err);
  if (r < 0) {
    fprintf(stderr, r == SBX_API_SERVER_ERROR ? "%s\n" : "sbx: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
  printf("%s/%s created\n", sbx_kind_display(kind, display, sizeof display), name);
  return 0;
}
