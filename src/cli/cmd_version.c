/* cmd_version.c: `sbx version`: this client's version and the daemon's (GET /version),
 * printed as kubectl prints its own; with -o json|yaml the same as an object. The client's
 * version is printed even when the daemon cannot be reached. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/printer.h"
#include "lib/cleanup.h"
#include "lib/wire.h"
#include "lib/yaml_emit.h"

#if defined(__x86_64__)
#define SBX_ARCH "amd64"
#elif defined(__aarch64__)
#define SBX_ARCH "arm64"
#elif defined(__i386__)
#define SBX_ARCH "386"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SBX_ARCH "ppc64le"
#elif defined(__s390x__)
#define SBX_ARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define SBX_ARCH "riscv64"
#else
#define SBX_ARCH "unknown"
#endif

enum { OPT_CLIENT = 0x100 };

static const struct option long_opts[] = {
    {"client", no_argument, NULL, OPT_CLIENT},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int sbx_cmd_version(int argc, char **argv, const sbx_cmd_t *self) {
  bool client_only = false;
  const char *output = "";
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, ":o:h", long_opts, NULL)) != -1) {
    switch (opt) {
    case OPT_CLIENT: client_only = true; break;
    case 'o': output = optarg; break;
    case 'h': sbx_cmd_usage(self); return 0;
    default: sbx_cmd_flag_error(self, opt, argv); return SBX_EXIT_FAILURE;
    }
  }
  if (optind < argc) {
    sbx_cmd_usage_error(self, "unexpected argument \"%s\"", argv[optind]);
    return SBX_EXIT_FAILURE;
  }
  bool as_json = strcmp(output, "json") == 0, as_yaml = strcmp(output, "yaml") == 0;
  if (*output && !as_json && !as_yaml) {
    sbx_cmd_usage_error(self, "unknown output format \"%s\" (allowed: json, yaml)", output);
    return SBX_EXIT_FAILURE;
  }

  sbx_error_t err = {0};
  int rc = 0;
  _cleanup_json_ json_object *server = NULL;
  if (!client_only) {
    int r = sbx_api_call("GET", "/version", NULL, &server, &err);
    if (r < 0) rc = SBX_EXIT_FAILURE;
  }

  if (as_json || as_yaml) {
    _cleanup_json_ json_object *doc = json_object_new_object();
    json_object *client = json_object_new_object();
    json_object_object_add(client, "gitVersion", json_object_new_string("v" SBX_VERSION));
    json_object_object_add(client, "platform", json_object_new_string("linux/" SBX_ARCH));
    json_object_object_add(doc, "clientVersion", client);
    if (server) json_object_object_add(doc, "serverVersion", json_object_get(server));
    if (as_yaml) {
      if (sbx_yaml_write(stdout, doc, SBX_YAML_SORT_KEYS, &err) < 0) rc = SBX_EXIT_FAILURE;
    } else {
      _cleanup_free_ char *text = sbx_json_pretty(doc);
      if (text) fputs(text, stdout);
      else rc = SBX_EXIT_FAILURE;
    }
  } else {
    printf("Client Version: v%s\n", SBX_VERSION);
    const char *sv = sbx_json_str(server, "gitVersion");
    if (sv) printf("Server Version: %s\n", sv);
  }
  fflush(stdout);
  if (rc != 0) fprintf(stderr, "%s%s\n", strncmp(err.msg, "Error from server", 17) ? "sbx: " : "",
                       err.msg);
  return rc;
}
