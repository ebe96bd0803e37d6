/* api_sandboxes.c: REST for agents.x-k8s.io Sandboxes (v1alpha1 and v1beta1).
 *
 *   GET    .../sandboxes                 (all namespaces), .../namespaces/NS/sandboxes
 *   GET    .../namespaces/NS/sandboxes/NAME
 *   DELETE .../namespaces/NS/sandboxes/NAME
 * Objects belong to the caller; another user's is "not found". */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/http.h"
#include "lib/cleanup.h"
#include "lib/names.h"
#include "lib/wire.h"

#define WHAT "sandboxes." SBX_API_GROUP

int sbx_api_sandboxes(const struct sbx_http_req *r) {
  sbx_error_t err = {0};
  int answered;
  if (r->name && !sbx_is_dns_label(r->name)) {
    char msg[200], esc[100];
    sbx_escape_for_message(r->name, 63, esc, sizeof esc);
    snprintf(msg, sizeof msg, WHAT " \"%s\" not found", esc);
    return sbx_http_status(r, 404, "NotFound", msg);
  }
  if (!r->name) {
    if (strcmp(r->method, "GET") != 0) return sbx_http_status(r, 405, "MethodNotAllowed", "use GET on a collection");
    uid_t owner;
    if (sbx_http_list_owner(r, &owner, &answered) < 0) return answered;
    _cleanup_json_ json_object *items = NULL;
    if (sbx_store_list(r->d->store, "Sandbox", r->ns, owner, &items, &err) < 0) return sbx_http_error(r, WHAT, &err);
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(items); i++)
      json_object_array_add(out, sbx_http_served(json_object_array_get_idx(items, i), SBX_OWNER_ANY, r->api_version));
    _cleanup_json_ json_object *list = sbx_http_list(r->api_version, "SandboxList", out);
    return sbx_http_json(r, 200, list);
  }
  if (!r->ns) return sbx_http_status(r, 404, "NotFound", "the server could not find the requested resource");
  if (strcmp(r->method, "GET") == 0) {
    _cleanup_json_ json_object *obj = NULL;
    if (sbx_store_get(r->d->store, "Sandbox", r->ns, r->name, r->who->uid, &obj, NULL, &err) < 0)
      return sbx_http_error(r, WHAT, &err);
    _cleanup_json_ json_object *out = sbx_http_served(obj, r->who->uid, r->api_version);
    return sbx_http_json(r, 200, out);
  }
  if (strcmp(r->method, "DELETE") == 0) {
    if (sbx_sandbox_delete(r->d, r->ns, r->name, r->who->uid, &err) < 0) return sbx_http_error(r, WHAT, &err);
    char msg[200];
    snprintf(msg, sizeof msg, WHAT " \"%s\" deleted", r->name);
    return sbx_http_status(r, 200, "Deleted", msg);
  }
  return sbx_http_status(r, 405, "MethodNotAllowed", "method not allowed on a sandbox");
}
