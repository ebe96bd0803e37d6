/* base64.c: standard base64 encoding and strict decoding (see base64.h).
 *
 * Design: a 64-character alphabet for encoding and its inverse (a 256-entry table built on
 * first use, -1 for bytes outside the alphabet) for decoding; the input is taken four
 * characters at a time, the last group alone may carry one or two '='. */
#include "lib/base64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *sbx_base64_encode(const void *in, size_t n) {
  const unsigned char *p = in;
  if (n > (SIZE_MAX - 1) / 4 * 3 - 3) {
    errno = ENOMEM;
    return NULL;
  }
  char *out = malloc((n + 2) / 3 * 4 + 1);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
  }
  out[o] = '\0';
  return out;
}

static int value_of(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decode into out (may be NULL to only check); returns the decoded length or -1. */
static long long decode(const char *s, size_t n, unsigned char *out) {
  if (n % 4 != 0) return -1;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    bool last = i + 4 == n;
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      unsigned char c = (unsigned char)s[i + k];
      if (c == '=' && last && k >= 2) {
        pad++;
        v[k] = 0;
        continue;
      }
      if (pad) return -1; /* data after '=' */
      v[k] = value_of(c);
      if (v[k] < 0) return -1;
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    if (pad == 2 && (w & 0xffff)) return -1; /* non-zero unused bits */
    if (pad == 1 && (w & 0xff)) return -1;
    if (out) {
      out[o] = (unsigned char)(w >> 16);
      if (pad < 2) out[o + 1] = (unsigned char)(w >> 8);
      if (pad < 1) out[o + 2] = (unsigned char)w;
    }
    o += (size_t)(3 - pad);
  }
  return (long long)o;
}

bool sbx_base64_valid(const char *s, size_t n) { return decode(s, n, NULL) >= 0; }

unsigned char *sbx_base64_decode(const char *s, size_t n, size_t *outlen) {
  long long len = decode(s, n, NULL);
  if (len < 0) {
    errno = EINVAL;
    return NULL;
  }
  unsigned char *out = malloc((size_t)len + 1);
  if (!out) return NULL;
  decode(s, n, out);
  out[len] = '\0';
  *outlen = (size_t)len;
  return out;
}
