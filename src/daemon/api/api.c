/* api.c: the Kubernetes-shaped REST API's entry: libmicrohttpd's access handler.
 *
 * It learns who is calling (SO_PEERCRED), gathers the body within the caller's share of
 * bytes in flight (share.c: a body over MAX_BODY is refused from its Content-Length before
 * it is read, and one that would cost more to parse than the share holds is refused before
 * it is parsed), parses the path
 * (/api/v1/... and /apis/GROUP/VERSION/...) and hands the request to the resource's
 * handler from the route table; each resource lives in a file of its own (api_*.c), and
 * the answers they share are in http.c. Query parameters are checked first (query.c),
 * for both entries: HTTP and the stream protocol's `api` operation. The routes are listed in docs/protocol.md. */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/api/http.h"
#include "daemon/api/api.h"
#include "daemon/api/query.h"
#include "lib/cleanup.h"
#include "lib/names.h"
#include "lib/wire.h"

#define MAX_BODY (8u << 20)

struct request {
  long long start; /* sbx_log_now_ns() at the request's first call, for the access log */
  char *body;
  size_t len, reserved; /* reserved: the room of body, held from the caller's share */
  bool too_large, over_share;
  struct sbx_held held; /* of the caller's share: the body and its parse */
};

struct route {
  const char *group;    /* "" for the core group (/api/v1) */
  const char *resource; /* plural */
  sbx_http_handler_fn handler;
};

static const struct route routes[] = {
    {SBX_API_GROUP, "sandboxes", sbx_api_sandboxes},
    {"", "events", sbx_api_events},
    {"", "secrets", sbx_api_secrets},
    {"", "configmaps", sbx_api_configmaps},
    {"", "persistentvolumeclaims", sbx_api_persistentvolumeclaims},
    {"metrics.k8s.io", "pods", sbx_api_podmetrics},
    {"metrics.sbx.x-k8s.io", "users", sbx_api_usermetrics},
    {"", "resourcequotas", sbx_api_resourcequotas},
};

static bool version_served(const char *group, const char *v) {
  if (group[0] == '\0') return strcmp(v, "v1") == 0;
  if (strcmp(group, "metrics.k8s.io") == 0) return strcmp(v, "v1beta1") == 0;
  if (strcmp(group, "metrics.sbx.x-k8s.io") == 0) return strcmp(v, "v1alpha1") == 0;
  return strcmp(v, "v1alpha1") == 0 || strcmp(v, "v1beta1") == 0;
}

static int split(char *path, char **parts, int max) {
  int n = 0;
  for (char *s = strtok(path, "/"); s; s = strtok(NULL, "/")) {
    if (n == max) return -1;
    parts[n++] = s;
  }
  return n;
}

/* Route one request; returns the MHD result. */
static int route(struct sbx_http_req *r, char *path) {
  char *p[10];
  int n = split(path, p, 10), i;
  const char *group;
  if (n >= 3 && strcmp(p[0], "api") == 0) {
    group = "";
    i = 2;
  } else if (n >= 4 && strcmp(p[0], "apis") == 0) {
    group = p[1];
    i = 3;
  } else {
    return sbx_http_status(r, 404, "NotFound", "the server could not find the requested resource");
  }
  const char *version = p[i - 1];
  char apiversion[128];
  snprintf(apiversion, sizeof apiversion, "%s%s%s", group, group[0] ? "/" : "", version);
  r->api_version = apiversion;
  if (i + 1 < n && strcmp(p[i], "namespaces") == 0) {
    r->ns = p[i + 1];
    i += 2;
    if (!sbx_is_dns_label(r->ns)) return sbx_http_status(r, 400, "BadRequest", "namespace must be a DNS label");
  }
  if (i >= n || n - i > 3) return sbx_http_status(r, 404, "NotFound", "the server could not find the requested resource");
  const char *resource = p[i];
  r->name = i + 1 < n ? p[i + 1] : NULL;
  r->subresource = i + 2 < n ? p[i + 2] : NULL;
  int answered;
  if (sbx_query_check(r, &answered) < 0) return answered;
  for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++)
    if (strcmp(routes[k].group, group) == 0 && strcmp(routes[k].resource, resource) == 0 &&
        version_served(group, version))
      return routes[k].handler(r);
  return sbx_http_status(r, 404, "NotFound", "the server could not find the requested resource");
}

/* One request, from either entry: /version, /metrics, the health checks or a resource route. */
static void serve(struct sbx_http_req *req, const char *url) {
  int answered;
  if ((strcmp(url, "/metrics") == 0 || strcmp(url, "/version") == 0) && sbx_query_check(req, &answered) < 0) return;
  if (strcmp(url, "/metrics") == 0) {
    sbx_api_prometheus(req);
    return;
  }
  if (sbx_api_health(req, url)) return;
  if (strcmp(url, "/version") == 0) {
    _cleanup_json_ json_object *v = json_object_new_object();
    json_object_object_add(v, "gitVersion", json_object_new_string("v" SBX_VERSION));
    json_object_object_add(v, "platform", json_object_new_string("linux"));
    sbx_http_json(req, 200, v);
    return;
  }
  char path[1024];
  if (strlen(url) >= sizeof path) {
    sbx_http_status(req, 414, "RequestURITooLong", "path too long");
    return;
  }
  strcpy(path, url);
  route(req, path);
}

/* Answer at once, before the body is read (libmicrohttpd then drops it). */
static int refuse_early(struct sbx_daemon *d, struct MHD_Connection *c, const char *method, unsigned code,
                        const char *reason, const char *message) {
  struct sbx_http_resp resp = {0};
  struct sbx_http_req req = {.d = d, .c = c, .method = method, .resp = &resp};
  sbx_http_status(&req, code, reason, message);
  int ret = sbx_http_queue(c, &resp);
  json_object_put(resp.body);
  return ret;
}

#define OVER_SHARE                                                                                               \
  "your requests in flight hold too much memory (or this body would take too much to parse): send fewer or " \
  "smaller requests at once"

/* The first call of a request: who sends it, and a body refused or its room reserved from
 * its Content-Length, before a byte of it is read. */
static int request_begins(struct sbx_daemon *d, struct MHD_Connection *c, const char *method, void **con_cls) {
  struct request *r = calloc(1, sizeof *r);
  if (!r) return MHD_NO;
  r->start = sbx_log_now_ns();
  *con_cls = r;
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  struct sbx_caller who;
  sbx_error_t err = {0};
  r->held = (struct sbx_held){.d = d, .uid = (uid_t)-1};
  if (ci && sbx_caller_from_socket(d, ci->connect_fd, &who, &err) == 0) r->held.uid = who.uid;
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (!cl) return MHD_YES; /* chunked: reserved as it comes */
  unsigned long long n = strtoull(cl, NULL, 10);
  if (n > MAX_BODY) return refuse_early(d, c, method, 413, "RequestEntityTooLarge", "request body larger than 8 MiB");
  if (n == 0) return MHD_YES;
  if (!sbx_share_reserve(&r->held, n, 0)) return refuse_early(d, c, method, 429, "TooManyRequests", OVER_SHARE);
  r->reserved = n;
  if (!(r->body = malloc(n + 1))) return MHD_NO;
  r->body[0] = '\0';
  return MHD_YES;
}

/* One piece of the body: kept within its reservation (made now for a chunked body). */
static int body_piece(struct request *r, const char *data, size_t n) {
  if (r->len + n > MAX_BODY) {
    r->too_large = true;
    return MHD_YES;
  }
  if (r->over_share) return MHD_YES; /* the rest is read and dropped; the answer is 429 */
  if (r->len + n > r->reserved) {
    size_t more = r->len + n - r->reserved;
    if (!sbx_share_reserve(&r->held, more, 0)) {
      r->over_share = true;
      return MHD_YES;
    }
    char *nb = realloc(r->body, r->reserved + more + 1);
    if (!nb) return MHD_NO;
    r->body = nb;
    r->reserved += more;
  }
  memcpy(r->body + r->len, data, n);
  r->len += n;
  r->body[r->len] = '\0';
  return MHD_YES;
}

int sbx_api_handler(void *cls, void *connection, const char *url, const char *method, const char *version,
                    const char *upload_data, size_t *upload_data_size, void **con_cls) {
  struct sbx_daemon *d = cls;
  struct MHD_Connection *c = connection;
  (void)version;
  if (!*con_cls) return request_begins(d, c, method, con_cls);
  struct request *r = *con_cls;
  if (*upload_data_size > 0) {
    int ret = body_piece(r, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return ret;
  }
  struct sbx_http_resp resp = {0};
  struct sbx_http_req req = {.d = d, .c = c, .method = method, .body = r->body, .body_len = r->len, .resp = &resp};
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  struct sbx_caller who = {.uid = (uid_t)-1};
  sbx_error_t err = {0};
  if (r->too_large)
    sbx_http_status(&req, 413, "RequestEntityTooLarge", "request body larger than 8 MiB");
  else if (r->over_share || (r->len && !sbx_share_reserve(&r->held, sbx_json_parse_cost(r->body, r->len), 0)))
    sbx_http_status(&req, 429, "TooManyRequests", OVER_SHARE);
  else if (!ci || sbx_caller_from_socket(d, ci->connect_fd, &who, &err) < 0)
    sbx_http_status(&req, 500, "InternalError", "cannot tell who is calling");
  else if (r->too_large)
    sbx_http_status(&req, 413, "RequestEntityTooLarge", "request body larger than 8 MiB");
  else {
    req.who = &who;
    serve(&req, url);
  }
  sbx_api_count(resp.code);
  int ret = sbx_http_queue(c, &resp);
  sbx_log_access("http", who.uid, method, url, resp.code, r->start);
  json_object_put(resp.body);
  free(resp.text);
  return ret;
}

void sbx_api_stream(struct sbx_daemon *d, int conn, const struct sbx_caller *who, json_object *q, int *fds,
                    size_t nfds) {
  (void)fds;
  (void)nfds;
  struct sbx_http_resp resp = {0};
  json_object *query = NULL, *body = NULL;
  json_object_object_get_ex(q, "query", &query);
  json_object_object_get_ex(q, "body", &body);
  const char *method = sbx_json_str(q, "method"), *path = sbx_json_str(q, "path");
  struct sbx_http_req req = {.d = d, .method = method ? method : "", .who = who, .body_json = body,
                             .query = query && json_object_is_type(query, json_type_object) ? query : NULL,
                             .resp = &resp};
  if (!method || !path || path[0] != '/')
    sbx_http_status(&req, 400, "BadRequest", "an api request needs a method and an absolute path");
  else
    serve(&req, path);
  sbx_api_count(resp.code);
  _cleanup_json_ json_object *reply = json_object_new_object();
  json_object_object_add(reply, "ok", json_object_new_boolean(1));
  json_object_object_add(reply, "code", json_object_new_int((int)resp.code));
  /* the reply takes the reference; a text body travels as a JSON string */
  json_object_object_add(reply, "body", resp.text ? json_object_new_string(resp.text) : resp.body);
  if (resp.text) json_object_put(resp.body);
  free(resp.text);
  sbx_error_t err;
  sbx_wire_send(conn, reply, NULL, 0, &err);
}

void sbx_api_request_done(void *cls, void *connection, void **con_cls, int toe) {
  (void)cls;
  (void)connection;
  (void)toe;
  struct request *r = *con_cls;
  if (r) {
    sbx_share_release(&r->held);
    free(r->body);
    free(r);
  }
  *con_cls = NULL;
}
