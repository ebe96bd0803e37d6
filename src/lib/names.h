/* names.h: validation of object names and other identifiers that reach the file system.
 *
 * Every name a user gives (a sandbox name, a container name, a namespace) is checked here
 * before it is used anywhere; the rules are Kubernetes' (RFC 1123 DNS labels and
 * subdomains), which also keep names safe as path components: no '/', no "..", no NUL,
 * no leading dot, bounded length. */
#ifndef SBX_NAMES_H
#define SBX_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

#define SBX_DNS_LABEL_MAX 63
#define SBX_DNS_SUBDOMAIN_MAX 253

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters. */
bool sbx_is_dns_label(const char *s);
/* RFC 1123 subdomain: labels joined by '.', at most 253 characters. */
bool sbx_is_dns_subdomain(const char *s);

/* Validate `name` as a DNS label; on failure err says what is wrong with it, naming
 * `what` ("sandbox name", "metadata.name"), and printing the offending name safely
 * escaped and truncated. Returns 0 or -1. */
int sbx_name_validate_label(const char *name, const char *what, sbx_error_t *err);

/* Label and annotation keys: [prefix/]name, prefix a DNS subdomain, name at most 63 of
 * [A-Za-z0-9-_.] starting and ending alphanumeric. */
bool sbx_is_qualified_name(const char *s);
/* A label value: empty, or at most 63 of [A-Za-z0-9-_.] starting and ending alphanumeric. */
bool sbx_is_label_value(const char *s);

/* Environment variable name as a shell accepts it: [A-Za-z_][A-Za-z0-9_]* . */
bool sbx_is_env_name(const char *s);

/* Copy `s` into out (size outsz) with control and non-ASCII bytes escaped as \xNN and
 * cut at `max` input characters with "..." appended, for error messages. */
void sbx_escape_for_message(const char *s, size_t max, char *out, size_t outsz);

/* 2*nbytes lowercase hex digits of randomness (nbytes <= 32) into out (2*nbytes+1 bytes) */
void sbx_random_hex(char *out, size_t nbytes);

#endif
