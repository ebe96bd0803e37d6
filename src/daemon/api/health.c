/* health.c: /healthz, /livez and /readyz, as the Kubernetes API server serves them, for
 * anyone (no object is read and nothing is told about anyone's sandboxes).
 *
 * /livez (and its older name /healthz): the daemon answers. /readyz: start-up is over:
 * volumes re-mounted and running sandboxes adopted ("recovery"), the reconciler's first
 * pass done ("reconciler"), the warm pool's first fill done ("warm-pool"). Each answers
 * "ok" (200) when every check passes; when one fails, or with ?verbose, one line per check
 *   [+]ping ok
 *   [-]recovery failed: volumes and running sandboxes are still being recovered
 *   readyz check failed
 * with 500 on failure, as Kubernetes does; ?exclude=NAME leaves a check out. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/api/http.h"

#define PLAIN_TEXT "text/plain; charset=utf-8"

struct check {
  const char *name;
  const char *failure; /* NULL: passes */
};

static void answer(const struct sbx_http_req *r, const char *what, const struct check *checks, size_t n) {
  const char *exclude = sbx_http_query(r, "exclude");
  bool ok = true;
  char text[1024];
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (exclude && strcmp(exclude, checks[i].name) == 0) continue;
    if (checks[i].failure) ok = false;
    o += (size_t)snprintf(text + o, sizeof text - o, checks[i].failure ? "[-]%s failed: %s\n" : "[+]%s ok\n",
                          checks[i].name, checks[i].failure);
    if (o >= sizeof text) o = sizeof text - 1;
  }
  if (ok && !sbx_http_query_has(r, "verbose")) {
    sbx_http_text(r, 200, strdup("ok"), PLAIN_TEXT);
    return;
  }
  snprintf(text + o, sizeof text - o, "%s check %s\n", what, ok ? "passed" : "failed");
  sbx_http_text(r, ok ? 200 : 500, strdup(text), PLAIN_TEXT);
}

int sbx_api_health(const struct sbx_http_req *r, const char *url) {
  struct sbx_daemon *d = r->d;
  if (strcmp(url, "/livez") == 0 || strcmp(url, "/healthz") == 0) {
    const struct check live[] = {{"ping", NULL}};
    answer(r, url + 1, live, 1);
    return 1;
  }
  if (strcmp(url, "/readyz") == 0) {
    const struct check ready[] = {
        {"ping", NULL},
        {"recovery", atomic_load(&d->recovered) ? NULL : "volumes and running sandboxes are still being recovered"},
        {"reconciler", atomic_load(&d->reconciled) ? NULL : "the reconciler has not finished its first pass"},
        {"warm-pool", atomic_load(&d->pool_filled) ? NULL : "the warm pool is being filled"},
    };
    answer(r, "readyz", ready, sizeof ready / sizeof ready[0]);
    return 1;
  }
  return 0;
}
