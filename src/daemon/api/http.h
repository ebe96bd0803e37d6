/* http.h: what every REST handler of sbxd shares (api.c routes, one file per resource).
 *
 * api.c parses the Kubernetes-shaped path
 *     /apis/GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]
 *     /api/v1/[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]
 * into a struct sbx_http_req, finds the resource in its route table and calls the
 * handler. Handlers answer with sbx_http_json() or sbx_http_status(); errors are Status
 * objects. Another user's object is always answered exactly like a missing one. */
#ifndef SBX_HTTP_H
#define SBX_HTTP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/daemon.h"

struct MHD_Connection;

/* What a handler answered: the code and the JSON body (a reference the request owns).
 * The HTTP entry queues it on the connection; the stream entry sends it in a frame. */
struct sbx_http_resp {
  unsigned code;
  json_object *body;
  char *text;               /* or a text body (malloc'd; /metrics, /healthz), served as content_type */
  const char *content_type;
  struct MHD_Response *stream; /* or a streaming response (a watch), queued as it is */
};

struct sbx_http_req {
  struct sbx_daemon *d;
  struct MHD_Connection *c;
  const char *method;             /* GET, POST, PUT, PATCH, DELETE */
  const struct sbx_caller *who;
  const char *api_version;        /* "v1" or "agents.x-k8s.io/v1beta1": what the URL asked */
  const char *ns;                 /* NULL: across namespaces */
  const char *name;               /* NULL: the collection */
  const char *subresource;        /* NULL, or e.g. "status", "log" */
  const char *body;               /* request body (NUL-terminated), NULL if none */
  size_t body_len;
  json_object *body_json;         /* or the body already parsed (stream entry) */
  json_object *query;             /* query arguments (stream entry); NULL: the connection's */
  struct sbx_http_resp *resp;     /* where the answer goes */
};

typedef int (*sbx_http_handler_fn)(const struct sbx_http_req *r);

/* Answer with o (a new reference is taken) or a Status; both return 1 (MHD_YES). */
int sbx_http_json(const struct sbx_http_req *r, unsigned code, json_object *o);
int sbx_http_status(const struct sbx_http_req *r, unsigned code, const char *reason, const char *message);
/* the Status object of such an answer (a new reference), e.g. for a watch's ERROR event */
json_object *sbx_http_status_object(unsigned code, const char *reason, const char *message);
/* queue a handler's answer on a libmicrohttpd connection */
int sbx_http_queue(struct MHD_Connection *c, const struct sbx_http_resp *resp);
/* a store or validation error: ENOENT -> 404 NotFound "<what> \"name\" not found",
 * EEXIST -> 409 AlreadyExists, EINVAL -> 422 Invalid, EBUSY and ESTALE -> 409 Conflict,
 * EACCES/EPERM/EUSERS -> 403 Forbidden, ENOSPC -> 507 InsufficientStorage, else 500 */
int sbx_http_error(const struct sbx_http_req *r, const char *what, const sbx_error_t *err);
/* the query argument `key`, or NULL */
const char *sbx_http_query(const struct sbx_http_req *r, const char *key);
/* whether the query has `key` at all (?verbose counts, with or without a value) */
bool sbx_http_query_has(const struct sbx_http_req *r, const char *key);
/* ?allUsers=true: the owner to list (SBX_OWNER_ANY for everyone, else the caller);
 * -1 with a 403 already answered when a non-admin asks for everyone */
int sbx_http_list_owner(const struct sbx_http_req *r, uid_t *owner, int *answered);
/* the request body as a JSON object; NULL with a 400 answered into *answered */
json_object *sbx_http_body_json(const struct sbx_http_req *r, int *answered);
/* What the user sees of a stored object: a deep copy without our bookkeeping ("x-sbx"),
 * with the owner as an annotation when owner != SBX_OWNER_ANY, and apiVersion set when
 * not NULL. */
json_object *sbx_http_served(json_object *stored, uid_t owner, const char *apiversion);
/* {"apiVersion":…,"kind":list_kind,"metadata":{},"items":items} (takes items) */
json_object *sbx_http_list(const char *apiversion, const char *list_kind, json_object *items);

/* Answer with a streaming libmicrohttpd response (taken; watch.c) */
int sbx_http_stream(const struct sbx_http_req *r, unsigned code, struct MHD_Response *m);

/* Answer with a text body (taken: freed with the request) of the given content type. */
int sbx_http_text(const struct sbx_http_req *r, unsigned code, char *text, const char *content_type);

/* the stream protocol's `api` operation: one REST request in a frame (api.c) */
void sbx_api_stream(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *req, int *fds,
                    size_t nfds);

/* /healthz, /livez, /readyz (health.c): 1 when url is one of them (answered), else 0 */
int sbx_api_health(const struct sbx_http_req *r, const char *url);

/* resource handlers (one file each) */
int sbx_api_sandboxes(const struct sbx_http_req *r);
int sbx_api_events(const struct sbx_http_req *r);
int sbx_api_resourcequotas(const struct sbx_http_req *r); /* api_quota.c */
int sbx_api_secrets(const struct sbx_http_req *r);                /* api_core.c */
int sbx_api_configmaps(const struct sbx_http_req *r);             /* api_core.c */
int sbx_api_persistentvolumeclaims(const struct sbx_http_req *r); /* api_core.c */
/* api_metrics.c: metrics.k8s.io PodMetrics, sbx's per-person totals, Prometheus /metrics,
 * and the count of answered requests by code that /metrics shows */
int sbx_api_podmetrics(const struct sbx_http_req *r);
int sbx_api_usermetrics(const struct sbx_http_req *r);
int sbx_api_prometheus(const struct sbx_http_req *r);
void sbx_api_count(unsigned code);

#endif
