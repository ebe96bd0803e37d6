/* curl_lazy.c: libcurl, loaded only when a verb speaks HTTP.
 *
 * libcurl pulls in some thirty shared libraries (TLS, LDAP, SSH, HTTP/2 ...), and loading
 * them costs `sbx` milliseconds at every start, also for `sbx run`, which never uses HTTP
 * (it speaks the stream protocol). So sbx is not linked against libcurl: these functions,
 * with libcurl's own names and signatures, load libcurl.so.4 with dlopen on first use and
 * forward to it. The rest of the CLI calls libcurl as usual. */
#define CURL_DISABLE_TYPECHECK /* these are the functions, not the type-checking macros */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void *lib;

static void *sym(const char *name) {
  if (!lib) {
    lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      fprintf(stderr, "sbx: cannot load libcurl (%s); install libcurl4\n", dlerror());
      exit(1);
    }
    /* no TLS: the daemon is on a unix socket, and initialising OpenSSL costs milliseconds */
    CURLcode (*init)(long) = (CURLcode(*)(long))dlsym(lib, "curl_global_init");
    if (!init || init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
      fprintf(stderr, "sbx: cannot initialise libcurl\n");
      exit(1);
    }
  }
  void *f = dlsym(lib, name);
  if (!f) {
    fprintf(stderr, "sbx: libcurl lacks %s; install a newer libcurl4\n", name);
    exit(1);
  }
  return f;
}

#define FORWARD(ret, name, params, args)       \
  ret name params {                            \
    static ret(*fn) params;                    \
    if (!fn) *(void **)&fn = sym(#name);       \
    return fn args;                            \
  }

FORWARD(CURL *, curl_easy_init, (void), ())
FORWARD(CURLcode, curl_easy_perform, (CURL * c), (c))
FORWARD(const char *, curl_easy_strerror, (CURLcode code), (code))
FORWARD(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s))

void curl_easy_cleanup(CURL *c) { ((void (*)(CURL *))sym("curl_easy_cleanup"))(c); }

void curl_slist_free_all(struct curl_slist *l) { ((void (*)(struct curl_slist *))sym("curl_slist_free_all"))(l); }

/* The option's number says its argument's type (curl.h: CURLOPTTYPE_*). */
CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...) {
  static CURLcode (*fn)(CURL *, CURLoption, ...);
  if (!fn) *(void **)&fn = sym("curl_easy_setopt");
  va_list ap;
  va_start(ap, opt);
  CURLcode r;
  if (opt < CURLOPTTYPE_OBJECTPOINT) r = fn(c, opt, va_arg(ap, long));
  else if (opt < CURLOPTTYPE_FUNCTIONPOINT) r = fn(c, opt, va_arg(ap, void *));
  else if (opt < CURLOPTTYPE_OFF_T) r = fn(c, opt, va_arg(ap, void (*)(void)));
  else r = fn(c, opt, va_arg(ap, curl_off_t));
  va_end(ap);
  return r;
}

/* Every CURLINFO_* takes a pointer. */
CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...) {
  static CURLcode (*fn)(CURL *, CURLINFO, ...);
  if (!fn) *(void **)&fn = sym("curl_easy_getinfo");
  va_list ap;
  va_start(ap, info);
  CURLcode r = fn(c, info, va_arg(ap, void *));
  va_end(ap);
  return r;
}
