/* names.c: checks for user-given names (RFC 1123 labels and subdomains, environment
 * variable names) and the escaping helper every error message uses to quote them.
 *
 * Design: the predicates are plain byte scanners over ASCII classes, never locale-aware
 * (isalpha() would accept letters of the current locale). sbx_name_validate_label() runs
 * the same scan but stops at the first offending byte so the message can say exactly
 * what is wrong, then repeats the whole rule so the user knows what to type instead.
 *
 * Inputs are C strings: a name cannot contain NUL here. A caller holding a
 * length-prefixed buffer (a JSON string may carry "\u0000") must compare that length
 * with strlen() first, or the name it checks is only the part before the NUL. */
#include "lib/names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/random.h>

#define LABEL_RULE                                                                       \
  "must be a lowercase RFC 1123 label: a-z, 0-9 and '-', starting and ending with a "   \
  "letter or digit, at most 63 characters"

/* Longest part of an offending name quoted in a message (input bytes). */
#define QUOTE_MAX 64

static bool is_lower_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Is s[0..n) a label body ([a-z0-9]([-a-z0-9]*[a-z0-9])?), length unchecked? */
static bool label_span_ok(const char *s, size_t n) {
  if (n == 0) return false;
  if (!is_lower_alnum((unsigned char)s[0]) || !is_lower_alnum((unsigned char)s[n - 1]))
    return false;
  for (size_t i = 1; i + 1 < n; i++)
    if (!is_lower_alnum((unsigned char)s[i]) && s[i] != '-') return false;
  return true;
}

bool sbx_is_dns_label(const char *s) {
  if (!s) return false;
  size_t n = strnlen(s, SBX_DNS_LABEL_MAX + 1);
  return n <= SBX_DNS_LABEL_MAX && label_span_ok(s, n);
}

/* Like Kubernetes' IsDNS1123Subdomain: the whole name is bounded (253), each
 * '.'-separated part must be a label body; empty parts ("a..b", ".a", "a.") fail. As in
 * Kubernetes, a part's own length is not limited to 63. */
bool sbx_is_dns_subdomain(const char *s) {
  if (!s) return false;
  size_t n = strnlen(s, SBX_DNS_SUBDOMAIN_MAX + 1);
  if (n == 0 || n > SBX_DNS_SUBDOMAIN_MAX) return false;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '.') {
      if (!label_span_ok(s + start, i - start)) return false;
      start = i + 1;
    }
  }
  return true;
}

bool sbx_is_env_name(const char *s) {
  if (!s || !*s) return false;
  unsigned char c = (unsigned char)s[0];
  if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')) return false;
  for (const char *p = s + 1; *p; p++) {
    c = (unsigned char)*p;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '_'))
      return false;
  }
  return true;
}

/* Bytes written as \xNN: controls, DEL, non-ASCII, and also '"' and '\\' so that a quoted
 * escaped name is unambiguous (a literal "\x41" in the input cannot pass for 'A'). */
static bool needs_escape(unsigned char c) {
  return c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
}

void sbx_escape_for_message(const char *s, size_t max, char *out, size_t outsz) {
  static const char hex[] = "0123456789abcdef";
  if (!out || outsz == 0) return;
  if (!s) s = "(null)";
  size_t o = 0;
  size_t i = 0;
  bool cut = false;
  for (; s[i]; i++) {
    if (i >= max) {
      cut = true;
      break;
    }
    unsigned char c = (unsigned char)s[i];
    size_t need = needs_escape(c) ? 4 : 1;
    /* Keep room for the terminator; never split an escape sequence. */
    if (o + need + 1 > outsz) {
      cut = true;
      break;
    }
    if (need == 4) {
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 0xf];
    } else {
      out[o++] = (char)c;
    }
  }
  if (cut) {
    /* Make room for "..." by dropping whole characters already written. */
    while (o > 0 && o + 4 > outsz) {
      if (o >= 4 && out[o - 4] == '\\' && out[o - 3] == 'x')
        o -= 4;
      else
        o--;
    }
    if (o + 4 <= outsz) {
      memcpy(out + o, "...", 3);
      o += 3;
    }
  }
  out[o] = '\0';
}

/* Describe the first thing wrong with `name` (already known not to be a valid label). */
static void diagnose(const char *name, size_t len, char *buf, size_t bufsz) {
  if (len > SBX_DNS_LABEL_MAX) {
    snprintf(buf, bufsz, "is %zu characters long", len);
    return;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c >= 'A' && c <= 'Z') {
      snprintf(buf, bufsz, "contains the upper-case letter '%c' (use '%c')", c, c - 'A' + 'a');
      return;
    }
    if (c == '/') {
      snprintf(buf, bufsz, "contains '/'");
      return;
    }
    if (c == '.') {
      snprintf(buf, bufsz, "contains '.'");
      return;
    }
    if (c >= 0x80) {
      snprintf(buf, bufsz, "contains the non-ASCII byte \\x%02x", c);
      return;
    }
    if (c < 0x20 || c == 0x7f) {
      snprintf(buf, bufsz, "contains the control character \\x%02x", c);
      return;
    }
    if (!is_lower_alnum(c) && c != '-') {
      snprintf(buf, bufsz, "contains the character '%c'", c);
      return;
    }
  }
  if (name[0] == '-') {
    snprintf(buf, bufsz, "starts with '-'");
    return;
  }
  snprintf(buf, bufsz, "ends with '-'");
}

int sbx_name_validate_label(const char *name, const char *what, sbx_error_t *err) {
  if (!what) what = "name";
  if (!name || !*name) {
    sbx_error_set(err, 0, "%s must not be empty: it " LABEL_RULE, what);
  } else {
    if (sbx_is_dns_label(name)) return 0;
    char quoted[QUOTE_MAX * 4 + 8];
    char why[96];
    sbx_escape_for_message(name, QUOTE_MAX, quoted, sizeof quoted);
    diagnose(name, strlen(name), why, sizeof why);
    sbx_error_set(err, 0, "%s \"%s\" %s: it " LABEL_RULE, what, quoted, why);
  }
  /* errnum set after the message so no strerror() text is appended to it. */
  if (err) err->errnum = EINVAL;
  return -1;
}

void sbx_random_hex(char *out, size_t nbytes) {
  unsigned char b[32];
  if (nbytes > sizeof b) nbytes = sizeof b;
  if (getrandom(b, nbytes, 0) != (ssize_t)nbytes)
    for (size_t i = 0; i < nbytes; i++) b[i] = (unsigned char)rand();
  for (size_t i = 0; i < nbytes; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static bool is_alnum(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static bool qualified_name_part(const char *s, size_t n) {
  if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1])) return false;
  for (size_t i = 0; i < n; i++)
    if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return false;
  return true;
}

bool sbx_is_qualified_name(const char *s) {
  if (!s) return false;
  const char *slash = strchr(s, '/');
  if (!slash) return qualified_name_part(s, strlen(s));
  size_t pn = (size_t)(slash - s);
  if (pn == 0 || pn > SBX_DNS_SUBDOMAIN_MAX) return false;
  char prefix[SBX_DNS_SUBDOMAIN_MAX + 1];
  memcpy(prefix, s, pn);
  prefix[pn] = '\0';
  return sbx_is_dns_subdomain(prefix) && qualified_name_part(slash + 1, strlen(slash + 1));
}

bool sbx_is_label_value(const char *s) { return s && (!*s || qualified_name_part(s, strlen(s))); }
