/* base64.h: standard base64 (RFC 4648 section 4, with '=' padding), as Kubernetes uses
 * for Secret `data` and ConfigMap `binaryData` values.
 *
 * Decoding is strict, like Go's encoding/base64.StdEncoding: only the standard alphabet,
 * correct padding, no whitespace, and the unused bits of the last character must be zero. */
#ifndef SBX_BASE64_H
#define SBX_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Encode in[0..n) into a malloc'd NUL-terminated string, NULL when out of memory. */
char *sbx_base64_encode(const void *in, size_t n);

/* Decode s[0..n) into a malloc'd buffer (NUL-terminated for convenience), its length in
 * *outlen. Returns NULL with errno EINVAL when s is not valid base64, ENOMEM when out of
 * memory. */
unsigned char *sbx_base64_decode(const char *s, size_t n, size_t *outlen);

/* True when s[0..n) is valid base64. */
bool sbx_base64_valid(const char *s, size_t n);

#endif
