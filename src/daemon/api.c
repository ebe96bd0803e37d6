/* api.c: the Kubernetes-shaped REST API (libmicrohttpd handlers).
 *
 * Routes (docs/protocol.md):
 *   GET    /version
 *   GET    /apis/agents.x-k8s.io/{v1alpha1,v1beta1}/sandboxes                  (all namespaces)
 *   GET    /apis/agents.x-k8s.io/{v}/namespaces/NS/sandboxes
 *   GET    /apis/agents.x-k8s.io/{v}/namespaces/NS/sandboxes/NAME
 *   DELETE /apis/agents.x-k8s.io/{v}/namespaces/NS/sandboxes/NAME
 * Every object belongs to the uid that made it; another user's object is "not found",
 * exactly like a missing one. Root and the admin group may list everyone's with
 * ?allUsers=true. Errors are Status objects. Request bodies are bounded. */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "lib/cleanup.h"
#include "lib/names.h"
#include "lib/wire.h"

#define MAX_BODY (8u << 20)

struct request {
  char *body;
  size_t len;
  bool too_large;
};

static int respond_json(struct MHD_Connection *c, unsigned code, json_object *o) {
  size_t len;
  const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(r, "Content-Type", "application/json");
  int ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  return ret;
}

static int respond_status(struct MHD_Connection *c, unsigned code, const char *reason, const char *message) {
  _cleanup_json_ json_object *o = json_object_new_object();
  json_object_object_add(o, "kind", json_object_new_string("Status"));
  json_object_object_add(o, "apiVersion", json_object_new_string("v1"));
  json_object_object_add(o, "metadata", json_object_new_object());
  json_object_object_add(o, "status", json_object_new_string(code < 400 ? "Success" : "Failure"));
  json_object_object_add(o, "message", json_object_new_string(message));
  json_object_object_add(o, "reason", json_object_new_string(reason));
  json_object_object_add(o, "code", json_object_new_int((int)code));
  return respond_json(c, code, o);
}

/* What the user sees of a stored object: without our bookkeeping, with its owner. */
static json_object *served(json_object *stored, uid_t owner, const char *apiversion) {
  json_object *o = NULL, *meta, *ann;
  json_object_deep_copy(stored, &o, NULL);
  json_object_object_del(o, SBX_INTERNAL);
  if (apiversion) json_object_object_add(o, "apiVersion", json_object_new_string(apiversion));
  if (json_object_object_get_ex(o, "metadata", &meta)) {
    if (!json_object_object_get_ex(meta, "annotations", &ann)) {
      ann = json_object_new_object();
      json_object_object_add(meta, "annotations", ann);
    }
    if (owner != SBX_OWNER_ANY) {
      char u[16];
      snprintf(u, sizeof u, "%u", (unsigned)owner);
      json_object_object_add(ann, SBX_ANN_OWNER, json_object_new_string(u));
    }
  }
  return o;
}

static int split(char *path, char **parts, int max) {
  int n = 0;
  for (char *s = strtok(path, "/"); s && n < max; s = strtok(NULL, "/")) parts[n++] = s;
  return n;
}

static int handle_sandboxes(struct sbx_daemon *d, struct MHD_Connection *c, const char *method,
                            const struct sbx_caller *who, const char *version, const char *ns, const char *name) {
  char apiversion[64];
  snprintf(apiversion, sizeof apiversion, "%s/%s", SBX_API_GROUP, version);
  if (ns && !sbx_is_dns_label(ns)) return respond_status(c, 400, "BadRequest", "namespace must be a DNS label");
  if (name && !sbx_is_dns_label(name)) {
    char msg[200], esc[100];
    sbx_escape_for_message(name, 63, esc, sizeof esc);
    snprintf(msg, sizeof msg, "sandboxes.%s \"%s\" not found", SBX_API_GROUP, esc);
    return respond_status(c, 404, "NotFound", msg);
  }
  sbx_error_t err = {0};
  if (!name) {
    if (strcmp(method, "GET") != 0) return respond_status(c, 405, "MethodNotAllowed", "use GET on a collection");
    const char *all = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "allUsers");
    bool everyone = all && strcmp(all, "true") == 0;
    if (everyone && !who->admin)
      return respond_status(c, 403, "Forbidden", "only root and the admin group may list every user's sandboxes");
    _cleanup_json_ json_object *items = NULL;
    if (sbx_store_list(d->store, "Sandbox", ns, everyone ? SBX_OWNER_ANY : who->uid, &items, &err) < 0)
      return respond_status(c, 500, "InternalError", err.msg);
    _cleanup_json_ json_object *list = json_object_new_object();
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(items); i++)
      json_object_array_add(out, served(json_object_array_get_idx(items, i), SBX_OWNER_ANY, apiversion));
    json_object_object_add(list, "apiVersion", json_object_new_string(apiversion));
    json_object_object_add(list, "kind", json_object_new_string("SandboxList"));
    json_object_object_add(list, "metadata", json_object_new_object());
    json_object_object_add(list, "items", out);
    return respond_json(c, 200, list);
  }
  char notfound[200];
  snprintf(notfound, sizeof notfound, "sandboxes.%s \"%s\" not found", SBX_API_GROUP, name);
  if (strcmp(method, "GET") == 0) {
    _cleanup_json_ json_object *obj = NULL;
    if (sbx_store_get(d->store, "Sandbox", ns, name, who->uid, &obj, NULL, &err) < 0)
      return err.errnum == ENOENT ? respond_status(c, 404, "NotFound", notfound)
                                  : respond_status(c, 500, "InternalError", err.msg);
    _cleanup_json_ json_object *out = served(obj, who->uid, apiversion);
    return respond_json(c, 200, out);
  }
  if (strcmp(method, "DELETE") == 0) {
    if (sbx_sandbox_delete(d, ns, name, who->uid, &err) < 0) {
      if (err.errnum == ENOENT) return respond_status(c, 404, "NotFound", notfound);
      return respond_status(c, 500, "InternalError", err.msg);
    }
    char msg[200];
    snprintf(msg, sizeof msg, "sandboxes.%s \"%s\" deleted", SBX_API_GROUP, name);
    return respond_status(c, 200, "Deleted", msg);
  }
  return respond_status(c, 405, "MethodNotAllowed", "method not allowed on a sandbox");
}

int sbx_api_handler(void *cls, void *connection, const char *url, const char *method, const char *version,
                    const char *upload_data, size_t *upload_data_size, void **con_cls) {
  struct sbx_daemon *d = cls;
  struct MHD_Connection *c = connection;
  (void)version;
  if (!*con_cls) {
    struct request *r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    *con_cls = r;
    return MHD_YES;
  }
  struct request *r = *con_cls;
  if (*upload_data_size > 0) {
    if (r->len + *upload_data_size > MAX_BODY) {
      r->too_large = true;
    } else {
      char *nb = realloc(r->body, r->len + *upload_data_size + 1);
      if (!nb) return MHD_NO;
      memcpy(nb + r->len, upload_data, *upload_data_size);
      r->body = nb;
      r->len += *upload_data_size;
      r->body[r->len] = '\0';
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (r->too_large) return respond_status(c, 413, "RequestEntityTooLarge", "request body larger than 8 MiB");

  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  struct sbx_caller who;
  sbx_error_t err = {0};
  if (!ci || sbx_caller_from_socket(d, ci->connect_fd, &who, &err) < 0)
    return respond_status(c, 500, "InternalError", "cannot tell who is calling");

  if (strcmp(url, "/version") == 0) {
    _cleanup_json_ json_object *v = json_object_new_object();
    json_object_object_add(v, "gitVersion", json_object_new_string("v" SBX_VERSION));
    json_object_object_add(v, "platform", json_object_new_string("linux"));
    return respond_json(c, 200, v);
  }
  char path[1024];
  if (strlen(url) >= sizeof path) return respond_status(c, 414, "RequestURITooLong", "path too long");
  strcpy(path, url);
  char *p[8];
  int n = split(path, p, 8);
  if (n >= 4 && strcmp(p[0], "apis") == 0 && strcmp(p[1], SBX_API_GROUP) == 0 &&
      (strcmp(p[2], "v1alpha1") == 0 || strcmp(p[2], "v1beta1") == 0)) {
    if (n == 4 && strcmp(p[3], "sandboxes") == 0) return handle_sandboxes(d, c, method, &who, p[2], NULL, NULL);
    if ((n == 6 || n == 7) && strcmp(p[3], "namespaces") == 0 && strcmp(p[5], "sandboxes") == 0)
      return handle_sandboxes(d, c, method, &who, p[2], p[4], n == 7 ? p[6] : NULL);
  }
  return respond_status(c, 404, "NotFound", "the server could not find the requested resource");
}

void sbx_api_request_done(void *cls, void *connection, void **con_cls, int toe) {
  (void)cls;
  (void)connection;
  (void)toe;
  struct request *r = *con_cls;
  if (r) {
    free(r->body);
    free(r);
  }
  *con_cls = NULL;
}
