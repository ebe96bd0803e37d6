/* cmd_describe.c: `sbx describe KIND [NAME...] | KIND/NAME... [-n NS]`, as kubectl describe.
 *
 * For each object: GET it, GET its events
 * (/api/v1/namespaces/NS/events?fieldSelector=involvedObject.name=NAME; a server without
 * events, or an error there, just means "Events: <none>"), and print describe.c's text;
 * several objects are separated by a blank line. Without a name, every object of the kind
 * in the namespace is described. A missing object is reported in kubectl's words and the
 * others are still described. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/api.h"
#include "cli/cli.h"
#include "cli/describe.h"
#include "cli/kinds.h"
#include "cli/verb_refs.h"
#include "cli/printer.h"
#include "lib/cleanup.h"
#include "lib/wire.h"


/* The object's events, or NULL. */
static json_object *events_of(const char *ns, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "/api/v1/namespaces/%s/events?fieldSelector=involvedObject.name=%s",
           ns, name);
  json_object *list = NULL;
  sbx_error_t err = {0};
  if (sbx_api_call("GET", path, NULL, &list, &err) < 0) return NULL;
  return list;
}

static int show(const sbx_kind_t *kind, json_object *obj, const char *ns, bool *first) {
  const char *name = NULL;
  json_object *md = NULL;
  if (json_object_object_get_ex(obj, "metadata", &md)) name = sbx_json_str(md, "name");
  char check[1024];
  sbx_error_t err = {0};
  _cleanup_json_ json_object *ev =
      name && sbx_kind_path(kind, ns, name, check, sizeof check, &err) == 0 ? events_of(ns, name)
                                                                             : NULL;
  if (!*first) fputc('\n', stdout);
  *first = false;
  if (sbx_describe(stdout, kind, obj, ev, time(NULL)) < 0) {
    fprintf(stderr, "sbx: out of memory\n");
    return 1;
  }
  fflush(stdout);
  return 0;
}

int sbx_cmd_describe(int argc, char **argv, const sbx_cmd_t *self) {
  const char *ns;
  const sbx_kind_t *kind;
  _cleanup_free_ sbx_ref_t *refs = NULL;
  size_t nrefs;
  int parsed = sbx_verb_refs(argc, argv, self, &ns, &kind, &refs, &nrefs);
  if (parsed != 0) return parsed > 0 ? 0 : SBX_EXIT_FAILURE;
  if (!kind) {
    sbx_cmd_usage_error(self, "give what to describe: sbx describe KIND [NAME]");
    return SBX_EXIT_FAILURE;
  }
  bool first = true;
  int rc = 0;
  if (nrefs > 0) {
    for (size_t i = 0; i < nrefs; i++) {
      _cleanup_json_ json_object *obj = NULL;
      int r = sbx_api_call_ref("describe", "GET", &refs[i], ns, &obj);
      if (r < 0) return SBX_EXIT_FAILURE;
      if (r > 0 || !obj) {
        rc = SBX_EXIT_FAILURE;
        continue;
      }
      if (show(refs[i].kind, obj, ns, &first)) rc = SBX_EXIT_FAILURE;
    }
    return rc;
  }

  char path[1024];
  sbx_error_t err = {0};
  if (sbx_kind_path(kind, ns, NULL, path, sizeof path, &err) < 0) {
    sbx_cmd_usage_error(self, "%s", err.msg);
    return SBX_EXIT_FAILURE;
  }
  _cleanup_json_ json_object *list = NULL;
  int r = sbx_api_call("GET", path, NULL, &list, &err);
  if (r < 0) {
    fprintf(stderr, r == SBX_API_SERVER_ERROR ? "%s\n" : "sbx: %s\n", err.msg);
    return SBX_EXIT_FAILURE;
  }
  json_object *items = NULL;
  if (!list || !json_object_object_get_ex(list, "items", &items) ||
      !json_object_is_type(items, json_type_array)) {
    fprintf(stderr, "sbx: sbxd answered %s without a list of items\n", path);
    return SBX_EXIT_FAILURE;
  }
  size_t n = json_object_array_length(items);
  if (n == 0) {
    fprintf(stderr, "No resources found in %s namespace.\n", ns);
    return 0;
  }
  _cleanup_free_ json_object **sorted = calloc(n, sizeof *sorted);
  if (!sorted) return SBX_EXIT_FAILURE;
  for (size_t i = 0; i < n; i++) sorted[i] = json_object_array_get_idx(items, i);
  sbx_sort_objects(sorted, n);
  for (size_t i = 0; i < n; i++)
    if (show(kind, sorted[i], ns, &first)) rc = SBX_EXIT_FAILURE;
  return rc;
}
