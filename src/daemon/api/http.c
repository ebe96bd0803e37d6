/* http.c: the answers every REST handler shares: JSON bodies, Status errors, the
 * owner-filtered list, and the served form of a stored object (http.h). */
#include "daemon/api/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/wire.h"

int sbx_http_json(const struct sbx_http_req *r, unsigned code, json_object *o) {
  json_object_put(r->resp->body);
  free(r->resp->text);
  r->resp->text = NULL;
  r->resp->code = code;
  r->resp->body = json_object_get(o);
  return MHD_YES;
}

int sbx_http_text(const struct sbx_http_req *r, unsigned code, char *text, const char *content_type) {
  json_object_put(r->resp->body);
  r->resp->body = NULL;
  free(r->resp->text);
  r->resp->code = code;
  r->resp->text = text;
  r->resp->content_type = content_type;
  return MHD_YES;
}

int sbx_http_stream(const struct sbx_http_req *r, unsigned code, struct MHD_Response *m) {
  sbx_http_json(r, code, NULL);
  r->resp->stream = m;
  return MHD_YES;
}

int sbx_http_queue(struct MHD_Connection *c, const struct sbx_http_resp *resp) {
  if (resp->stream) {
    int ret = MHD_queue_response(c, resp->code, resp->stream);
    MHD_destroy_response(resp->stream);
    return ret;
  }
  size_t len;
  const char *text = resp->text;
  if (text) len = strlen(text);
  else text = json_object_to_json_string_length(resp->body, JSON_C_TO_STRING_PLAIN, &len);
  struct MHD_Response *m = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
  if (!m) return MHD_NO;
  MHD_add_response_header(m, "Content-Type", resp->text ? resp->content_type : "application/json");
  int ret = MHD_queue_response(c, resp->code, m);
  MHD_destroy_response(m);
  return ret;
}

json_object *sbx_http_status_object(unsigned code, const char *reason, const char *message) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "kind", json_object_new_string("Status"));
  json_object_object_add(o, "apiVersion", json_object_new_string("v1"));
  json_object_object_add(o, "metadata", json_object_new_object());
  json_object_object_add(o, "status", json_object_new_string(code < 400 ? "Success" : "Failure"));
  json_object_object_add(o, "message", json_object_new_string(message));
  json_object_object_add(o, "reason", json_object_new_string(reason));
  json_object_object_add(o, "code", json_object_new_int((int)code));
  return o;
}

int sbx_http_status(const struct sbx_http_req *r, unsigned code, const char *reason, const char *message) {
  _cleanup_json_ json_object *o = sbx_http_status_object(code, reason, message);
  return sbx_http_json(r, code, o);
}

int sbx_http_error(const struct sbx_http_req *r, const char *what, const sbx_error_t *err) {
  char msg[1400];
  switch (err->errnum) {
  case ENOENT:
    snprintf(msg, sizeof msg, "%s \"%s\" not found", what, r->name ? r->name : "");
    return sbx_http_status(r, 404, "NotFound", msg);
  case EEXIST:
    snprintf(msg, sizeof msg, "%s \"%s\" already exists", what, r->name ? r->name : "");
    return sbx_http_status(r, 409, "AlreadyExists", msg);
  case EINVAL:
    return sbx_http_status(r, 422, "Invalid", err->msg);
  case EBUSY:
  case ESTALE:
    return sbx_http_status(r, 409, "Conflict", err->msg);
  case EACCES:
  case EPERM:
  case EDQUOT: /* over the person's quota, as Kubernetes answers a ResourceQuota refusal */
  case EUSERS: /* every host id range is taken */
    return sbx_http_status(r, 403, "Forbidden", err->msg);
  case ENOSPC:
    return sbx_http_status(r, 507, "InsufficientStorage", err->msg);
  default:
    return sbx_http_status(r, 500, "InternalError", err->msg[0] ? err->msg : "internal error");
  }
}

const char *sbx_http_query(const struct sbx_http_req *r, const char *key) {
  if (r->query) return sbx_json_str(r->query, key);
  return r->c ? MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, key) : NULL;
}

bool sbx_http_query_has(const struct sbx_http_req *r, const char *key) {
  if (r->query) return json_object_object_get_ex(r->query, key, NULL);
  const char *v;
  size_t vlen;
  return r->c && MHD_lookup_connection_value_n(r->c, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v, &vlen) == MHD_YES;
}

int sbx_http_list_owner(const struct sbx_http_req *r, uid_t *owner, int *answered) {
  const char *all = sbx_http_query(r, "allUsers");
  if (all && strcmp(all, "admin") == 0) {
    /* kubectl's -A: everyone's for those who may see them, one's own for the others */
    *owner = r->who->admin ? SBX_OWNER_ANY : r->who->uid;
  } else if (all && strcmp(all, "true") == 0) {
    if (!r->who->admin) {
      *answered = sbx_http_status(r, 403, "Forbidden", "only root and the admin group may list every user's objects");
      return -1;
    }
    *owner = SBX_OWNER_ANY;
  } else {
    *owner = r->who->uid;
  }
  return 0;
}

json_object *sbx_http_body_json(const struct sbx_http_req *r, int *answered) {
  if (r->body_json) {
    if (json_object_is_type(r->body_json, json_type_object)) return json_object_get(r->body_json);
    *answered = sbx_http_status(r, 400, "BadRequest", "the request body is not a JSON object");
    return NULL;
  }
  if (!r->body || r->body_len == 0) {
    *answered = sbx_http_status(r, 400, "BadRequest", "the request needs a JSON body");
    return NULL;
  }
  if (strlen(r->body) != r->body_len) {
    *answered = sbx_http_status(r, 400, "BadRequest", "the request body holds a NUL byte");
    return NULL;
  }
  const char *why;
  json_object *o = sbx_json_parse_object(r->body, r->body_len, &why);
  if (!o) {
    char msg[300];
    snprintf(msg, sizeof msg, "the request body is not a JSON object: %s", why);
    *answered = sbx_http_status(r, 400, "BadRequest", msg);
  }
  return o;
}

json_object *sbx_http_served(json_object *stored, uid_t owner, const char *apiversion) {
  json_object *o = NULL, *meta, *ann;
  json_object_deep_copy(stored, &o, NULL);
  json_object_object_del(o, SBX_INTERNAL);
  if (apiversion) json_object_object_add(o, "apiVersion", json_object_new_string(apiversion));
  if (owner != SBX_OWNER_ANY && json_object_object_get_ex(o, "metadata", &meta)) {
    if (!json_object_object_get_ex(meta, "annotations", &ann)) {
      ann = json_object_new_object();
      json_object_object_add(meta, "annotations", ann);
    }
    char u[16];
    snprintf(u, sizeof u, "%u", (unsigned)owner);
    json_object_object_add(ann, SBX_ANN_OWNER, json_object_new_string(u));
  }
  return o;
}

json_object *sbx_http_list(const char *apiversion, const char *list_kind, json_object *items) {
  json_object *list = json_object_new_object();
  json_object_object_add(list, "apiVersion", json_object_new_string(apiversion));
  json_object_object_add(list, "kind", json_object_new_string(list_kind));
  json_object_object_add(list, "metadata", json_object_new_object());
  json_object_object_add(list, "items", items);
  return list;
}
