/* api.c: REST calls to sbxd over its unix socket (see api.h).
 *
 * The request (method, path, query, JSON body) travels as one frame of the stream protocol
 * (op "api") and the daemon runs it through the same routes as its HTTP API, answering
 * with the status code and the JSON body. That costs the CLI one connect and two frames;
 * an HTTP client library would cost more than the whole request (loading libcurl and
 * OpenSSL took 5 ms of every `sbx get`). Stock HTTP clients keep the HTTP API. */
#include "cli/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/printer.h"
#include "cli/stream.h"
#include "lib/wire.h"
#include "lib/cleanup.h"


const char *sbx_socket_path(void) {
  const char *s = getenv("SBX_SOCKET");
  return s && *s ? s : SBX_DEFAULT_SOCKET;
}

int sbx_api_unreachable(sbx_error_t *err, const char *socket_path, int errnum) {
  const char *hint = errnum == EACCES || errnum == EPERM
                         ? "(no permission to use the socket: check its mode, or $SBX_SOCKET)"
                         : "(is sbxd running? as root: sbxd &)";
  sbx_error_set(err, 0, "cannot reach sbxd at %s: %s %s", socket_path, strerror(errnum), hint);
  if (err) err->errnum = errnum;
  return -1;
}

/* "/path?k=v&k2=v2" -> the path (into buf) and {"k":"v","k2":"v2"}; values are sent as
 * written (the CLI's own query values are names and selectors, never escaped) */
static json_object *split_query(const char *path, char *buf, size_t size) {
  snprintf(buf, size, "%s", path);
  char *q = strchr(buf, '?');
  if (!q) return NULL;
  *q++ = '\0';
  json_object *args = json_object_new_object();
  for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(kv, '=');
    if (eq) *eq = '\0';
    json_object_object_add(args, kv, json_object_new_string(eq ? eq + 1 : ""));
  }
  return args;
}

int sbx_api_call(const char *method, const char *path, json_object *body, json_object **out,
                 sbx_error_t *err) {
  long code;
  return sbx_api_request(method, path, body, out, &code, err);
}

int sbx_api_request(const char *method, const char *path, json_object *body, json_object **out,
                    long *http_code, sbx_error_t *err) {
  *out = NULL;
  *http_code = 0;
  char bare[2048];
  _cleanup_json_ json_object *req = json_object_new_object();
  json_object *query = split_query(path, bare, sizeof bare);
  json_object_object_add(req, "op", json_object_new_string("api"));
  json_object_object_add(req, "method", json_object_new_string(method));
  json_object_object_add(req, "path", json_object_new_string(bare));
  if (query) json_object_object_add(req, "query", query);
  if (body) json_object_object_add(req, "body", json_object_get(body));
  _cleanup_json_ json_object *reply = NULL;
  size_t ngot = 0;
  bool server_error = false;
  int none[1];
  if (sbx_stream_request(req, NULL, 0, &reply, none, &ngot, 0, &server_error, err) < 0)
    return server_error ? SBX_API_SERVER_ERROR : -1;
  long code = sbx_json_int(reply, "code", 0);
  json_object *parsed = json_object_object_get(reply, "body");
  *http_code = code;
  if (code < 200 || code > 299) {
    char line[SBX_ERROR_MSG_MAX];
    sbx_status_message(parsed, code, line, sizeof line);
    sbx_error_set(err, 0, "%s", line);
    return SBX_API_SERVER_ERROR;
  }
  *out = parsed ? json_object_get(parsed) : NULL;
  return 0;
}

int sbx_api_call_ref(const char *verb, const char *method, const sbx_ref_t *ref, const char *ns,
                     json_object **out) {
  sbx_error_t err = {0};
  char path[1024];
  if (sbx_kind_path(ref->kind, ns, ref->name, path, sizeof path, &err) < 0) {
    fprintf(stderr, "sbx %s: %s\n", verb, err.msg);
    return 1;
  }
  int r = sbx_api_call(method, path, NULL, out, &err);
  if (r == SBX_API_SERVER_ERROR) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  if (r < 0) {
    fprintf(stderr, "sbx: %s\n", err.msg);
    return -1;
  }
  return 0;
}
