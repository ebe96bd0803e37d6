/* api_quota.c: GET /api/v1/[namespaces/NS/]resourcequotas[/default] — the caller's quota,
 * read-only, as a Kubernetes ResourceQuota named "default" whose status lists what the
 * caller holds (used) against what they may (hard). Quotas are per person, not per
 * namespace: every namespace shows the same one. The administrator sets them with sbxd's
 * --quota-* options (controller/quota.c); nothing here can change them. */
#include <string.h>

#include "daemon/api/http.h"
#include "daemon/api/query.h"
#include "daemon/controller/quota.h"
#include "lib/cleanup.h"
#include "lib/wire.h"

int sbx_api_resourcequotas(const struct sbx_http_req *r) {
  if (strcmp(r->method, "GET") != 0)
    return sbx_http_status(r, 405, "MethodNotAllowed",
                           "resource quotas are read-only: the administrator sets them with sbxd --quota-*");
  if (r->subresource || (r->name && strcmp(r->name, "default") != 0))
    return sbx_http_status(r, 404, "NotFound", "resourcequota not found: each person has one, named \"default\"");
  int answered;
  if (sbx_query_whole(r, &answered) < 0) return answered;
  sbx_error_t err = {0};
  _cleanup_json_ json_object *q = sbx_quota_object(r->d, r->who->uid, r->ns, &err);
  if (!q) return sbx_http_error(r, "resourcequotas", &err);
  if (r->name) return sbx_http_json(r, 200, q);
  json_object *items = json_object_new_array();
  json_object_array_add(items, json_object_get(q));
  _cleanup_json_ json_object *list = sbx_http_list("v1", "ResourceQuotaList", items);
  return sbx_http_json(r, 200, list);
}
