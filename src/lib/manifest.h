/* manifest.h: a buffer of YAML (one or more documents) or JSON read into json-c objects,
 * each document with a map from field path to the YAML line it was written on.
 *
 * The path syntax is the one every validation error uses: keys joined by '.', sequence
 * indexes in brackets, e.g. "spec.podTemplate.spec.containers[0].image". The line of a
 * mapping value is the line of its key; the line of a sequence item is the line where the
 * item starts. Lines count from 1.
 *
 * Scalars are typed the way Kubernetes' YAML reader (YAML 1.1) types them: a plain
 * (unquoted) scalar that reads as null, a bool (true/false, yes/no, on/off, y/n), an integer
 * (decimal, 0x hex, 0o or leading-0 octal, 0b binary, '_' separators) or a float becomes
 * that JSON type; a quoted scalar, or one tagged !!str, stays a string. Aliases and merge
 * keys (`<<`) are refused (no billion-laughs expansion), as are duplicate keys, non-scalar
 * keys, custom tags and nesting deeper than SBX_MANIFEST_MAX_DEPTH. Empty documents are
 * skipped; a document that is not a mapping is refused. JSON is read as YAML (it is
 * YAML's flow syntax), and a stream of JSON objects one after the other ("{..}{..}", as
 * kubectl accepts) as one document per object. The size of the buffer is the caller's to
 * bound. */
#ifndef SBX_MANIFEST_H
#define SBX_MANIFEST_H

#include <json-c/json.h>
#include <stddef.h>

#include "lib/error.h"

#define SBX_MANIFEST_MAX_DEPTH 64

struct sbx_manifest_doc {
  json_object *obj;   /* the document: always a JSON object */
  json_object *lines; /* object: field path -> line (int) */
  int line;           /* line where the document's content starts */
};

/* Parse buf[0..len) (need not be NUL-terminated). On success *docs is a malloc'd array of
 * *ndocs documents (possibly 0 when every document is empty). On failure returns -1 and err
 * says "SOURCE: line L column C: what" (SOURCE is source_name, or "input" when NULL). */
int sbx_manifest_parse(const char *buf, size_t len, const char *source_name,
                       struct sbx_manifest_doc **docs, size_t *ndocs, sbx_error_t *err);

void sbx_manifest_docs_free(struct sbx_manifest_doc *docs, size_t n);

/* Line of `path` in the document, 0 if unknown (d may be NULL). */
int sbx_manifest_line(const struct sbx_manifest_doc *d, const char *path);

#endif
