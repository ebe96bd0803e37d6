/* api.h: talking to sbxd: its socket, and REST calls over it.
 *
 * A request is a REST call (method, path with its query, JSON body) carried in one frame of
 * the daemon's stream protocol (op "api"), answered with the HTTP status code and body. A call ends in one of three ways the verbs treat differently: success
 * (2xx, parsed body), an error answered by the server (a `Status`, printed the way kubectl
 * prints it; a verb working through several names goes on with the next), or no answer at
 * all (the daemon is not there; no point trying the next name). */
#ifndef SBX_CLI_API_H
#define SBX_CLI_API_H

#include <json-c/json.h>

#include "cli/kinds.h"

#include "lib/error.h"

#define SBX_DEFAULT_SOCKET "/run/sbx/sbx.sock"

/* Returned by sbx_api_call when the server answered with an error. */
#define SBX_API_SERVER_ERROR (-2)

/* $SBX_SOCKET, else /run/sbx/sbx.sock. */
const char *sbx_socket_path(void);

/* Fill err with the one line saying the daemon cannot be reached, with a hint. Returns -1. */
int sbx_api_unreachable(sbx_error_t *err, const char *socket_path, int errnum);

/* One request. body may be NULL. On 2xx returns 0 and *out is the parsed response (NULL if
 * it was empty). Returns SBX_API_SERVER_ERROR with err holding kubectl's
 * "Error from server (Reason): message", or -1 when there was no usable answer. */
int sbx_api_call(const char *method, const char *path, json_object *body, json_object **out,
                 sbx_error_t *err);

/* The same, also saying the HTTP status the server answered (0 when none): a verb that
 * must tell "not there" (404) or "already there" (409) from other refusals asks this. */
int sbx_api_request(const char *method, const char *path, json_object *body, json_object **out,
                    long *http_code, sbx_error_t *err);

/* One request about one named object (GET or DELETE of KIND/NAME in ns). Prints what went
 * wrong, prefixed with `verb` for local errors. Returns 0 (answer in *out), 1 when only this
 * object failed (go on with the next), -1 when the daemon cannot be reached (stop). */
int sbx_api_call_ref(const char *verb, const char *method, const sbx_ref_t *ref, const char *ns,
                     json_object **out);

#endif
