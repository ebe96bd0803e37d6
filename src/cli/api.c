/* api.c: REST calls to sbxd over its unix socket with libcurl (see api.h). */
#include "cli/api.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/printer.h"
#include "lib/cleanup.h"

#define MAX_RESPONSE (64u << 20)

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

typedef struct buffer {
  char *data;
  size_t len;
  bool too_big;
} buffer_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
  buffer_t *b = userdata;
  size_t n = size * nmemb;
  if (b->len + n > MAX_RESPONSE) {
    b->too_big = true;
    return 0;
  }
  char *p = realloc(b->data, b->len + n + 1);
  if (!p) return 0;
  memcpy(p + b->len, ptr, n);
  b->len += n;
  p[b->len] = '\0';
  b->data = p;
  return n;
}

static json_object *parse_body(const buffer_t *b) {
  if (!b->data || b->len == 0) return NULL;
  json_tokener *tok = json_tokener_new();
  if (!tok) return NULL;
  json_object *o = json_tokener_parse_ex(tok, b->data, (int)b->len);
  if (json_tokener_get_error(tok) != json_tokener_success) {
    json_object_put(o);
    o = NULL;
  }
  json_tokener_free(tok);
  return o;
}

static void free_headers(struct curl_slist **h) { curl_slist_free_all(*h); }
static void free_curl(CURL **c) {
  if (*c) curl_easy_cleanup(*c);
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
  const char *sock = sbx_socket_path();
  __attribute__((cleanup(free_curl))) CURL *c = curl_easy_init();
  if (!c) return sbx_error_set(err, ENOMEM, "cannot start an HTTP client");
  __attribute__((cleanup(free_headers))) struct curl_slist *headers = NULL;
  _cleanup_free_ char *url = NULL;
  if (asprintf(&url, "http://localhost%s", path) < 0) return sbx_error_set(err, ENOMEM, "request");
  buffer_t resp = {0};
  _cleanup_free_ char *resp_data = NULL;

  headers = curl_slist_append(headers, "Accept: application/json");
  if (body) headers = curl_slist_append(headers, "Content-Type: application/json");
  if (!headers) return sbx_error_set(err, ENOMEM, "request");
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "sbx/" SBX_VERSION);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
  if (body) {
    const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, text);
  }

  CURLcode rc = curl_easy_perform(c);
  resp_data = resp.data;
  if (rc == CURLE_COULDNT_CONNECT) {
    long oserr = 0;
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
    return sbx_api_unreachable(err, sock, oserr ? (int)oserr : ECONNREFUSED);
  }
  if (rc == CURLE_WRITE_ERROR && resp.too_big)
    return sbx_error_set(err, EFBIG, "%s %s: the answer of sbxd is larger than %u MiB", method,
                         path, MAX_RESPONSE >> 20);
  if (rc != CURLE_OK)
    return sbx_error_set(err, 0, "%s %s: no answer from sbxd at %s: %s", method, path, sock,
                         curl_easy_strerror(rc));

  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  *http_code = code;
  json_object *parsed = parse_body(&resp);
  if (code < 200 || code > 299) {
    char line[SBX_ERROR_MSG_MAX];
    sbx_status_message(parsed, code, line, sizeof line);
    json_object_put(parsed);
    sbx_error_set(err, 0, "%s", line);
    return SBX_API_SERVER_ERROR;
  }
  if (!parsed && resp.len > 0)
    return sbx_error_set(err, EPROTO, "%s %s: sbxd answered something that is not JSON", method,
                         path);
  *out = parsed;
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
