/* query.h: the query parameters of the REST API (query.c, watch.c).
 *
 * Every parameter a request carries is either honoured or refused with 400, never
 * ignored: sbx_query_check() runs before any handler and refuses unknown parameters,
 * parameters that do not belong to the request (dryRun on a GET), repeated ones and bad
 * values. The handlers then honour them through the helpers here: selectors and paging
 * of lists (sbx_query_answer_list), watches (watch.c), delete-collection and dryRun.
 * docs/protocol.md "Query parameters" lists them. */
#ifndef SBX_API_QUERY_H
#define SBX_API_QUERY_H

#include "daemon/api/http.h"
#include "lib/selector.h"

/* At most this many watches per uid at once (429 beyond) */
#define SBX_WATCHES_PER_UID 16

/* 0, or -1 with a 400 answered: the request's parameters are all known, fit its method
 * and have valid values */
int sbx_query_check(const struct sbx_http_req *r, int *answered);

/* For resources served whole (metrics, resource quotas): 0, or -1 with a 400 answered when the request
 * names a selector, paging, a resourceVersion or a watch */
int sbx_query_whole(const struct sbx_http_req *r, int *answered);

/* ?dryRun=All: validate and admit, store and start nothing */
bool sbx_query_dry_run(const struct sbx_http_req *r);
/* ?watch=true (or 1) */
bool sbx_query_watching(const struct sbx_http_req *r);

/* A listable kind: how its objects are listed, matched and served */
struct sbx_query_kind {
  const char *kind;          /* stored kind, "Sandbox" */
  const char *list_kind;     /* "SandboxList" */
  const char *what;          /* the resource as messages name it */
  const char *list_version;  /* the list's apiVersion; NULL: the URL's */
  const char *const *fields; /* the field selector's fields (NULL-terminated) */
  /* the served form of a stored (or logged) object (a new reference) */
  json_object *(*serve)(const struct sbx_http_req *r, json_object *stored);
  /* delete one (named->ns, named->name of the caller), for delete-collection */
  int (*remove)(const struct sbx_http_req *named, sbx_error_t *err);
};

/* labelSelector and fieldSelector of a request */
struct sbx_query_filter {
  struct sbx_selector labels, fields;
};
/* 0, or -1 with a 400 answered (a malformed selector, an unsupported field) */
int sbx_query_filter(const struct sbx_http_req *r, const char *const *fields, struct sbx_query_filter *f,
                     int *answered);
bool sbx_query_filter_match(const struct sbx_query_filter *f, json_object *obj);
void sbx_query_filter_free(struct sbx_query_filter *f);

/* GET on a collection: the caller's (or, ?allUsers, everyone's) objects that the
 * selectors select, a page at a time (?limit, ?continue), or a watch (?watch=true) */
int sbx_query_answer_list(const struct sbx_http_req *r, const struct sbx_query_kind *k);
/* Answer a list of served items (taken), paged by ?limit and ?continue, at `rv` */
int sbx_query_answer_page(const struct sbx_http_req *r, const char *apiversion, const char *list_kind,
                          json_object *items, int64_t rv);
/* DELETE of one object (r->name): its DeleteOptions body (kubectl sends dryRun there) and
 * ?dryRun honoured, its preconditions (resourceVersion, uid; 409 when they do not hold)
 * checked, then k->remove unless a dry run; answered with a Status */
int sbx_query_delete_one(const struct sbx_http_req *r, const struct sbx_query_kind *k);
/* DELETE on a collection: the caller's objects the selectors select (all of them when
 * there are none), each removed as a DELETE of it would; answered with their list */
int sbx_query_delete_collection(const struct sbx_http_req *r, const struct sbx_query_kind *k);

/* A write's precondition: the body's metadata.resourceVersion (want; NULL or "": none)
 * against the stored object (old; NULL: there is none). 0 when it holds; -1 with 409
 * Conflict answered when the object moved on, or does not exist yet. */
int sbx_query_precondition(const struct sbx_http_req *r, const char *want, json_object *old, int *answered);

/* watch.c: ?watch=true on a collection (HTTP only): a chunked stream of JSON events */
int sbx_query_watch(const struct sbx_http_req *r, const struct sbx_query_kind *k);

#endif
