"""api.py: benchmark 7, how fast the daemon answers with 100 sandboxes present.

100 Sandboxes (10 with --quick; image host, /bin/sleep infinity) are applied and Ready first.
Then, one request after another (no concurrency), each timed alone:

  CLI (what a user waits for: the sbx process's start-up, its request(s), the output):
    sbx get sandbox api-0            sbx get sandboxes (the list of all)
    sbx apply -f FILE, unchanged      sbx apply -f FILE with a changed annotation (configured)
  HTTP (the daemon alone: python http.client over the unix socket, a new connection per
  request as the CLI makes):
    GET  .../namespaces/default/sandboxes/api-0     GET .../namespaces/default/sandboxes
    PUT  .../sandboxes/api-0 with a changed annotation

Reported: requests per second (1 / mean time), p50 and p99. The target is on the CLI's
`sbx get` of one sandbox (p99 <= 10 ms); the HTTP rows separate the daemon's share from the
CLI's start-up.
"""

import http.client
import json
import socket
import time

from .common import API, SbxFailed, log, percentile, sandbox, table, verdict

NAME, TITLE = "api", "API: `sbx get` and `sbx apply` round trips with 100 sandboxes present"
BASE = f"/apis/{API}/namespaces/default/sandboxes"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def http(sock, method, url, body=None):
    c = UnixHTTP(str(sock))
    try:
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, url, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        payload = r.read()
        if r.status >= 300:
            raise SbxFailed(f"{method} {url}: HTTP {r.status}: {payload[:200]!r}")
        return payload
    finally:
        c.close()


def timed(n, fn):
    xs = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        xs.append(time.perf_counter() - t)
    return xs


def run(ctx, res):
    sbx = ctx.sbxd
    sbx.need("apply", "get", "delete")
    n = 10 if ctx.quick else 100
    r_cli, r_http = (20, 100) if ctx.quick else (200, 1000)
    names = [f"api-{i}" for i in range(n)]
    log(f"api: creating {n} sandboxes")
    sbx.apply([sandbox(x, ["/bin/sleep", "infinity"]) for x in names], timeout=600)
    try:
        sbx.wait_ready(names, timeout=max(120, n * 2))
        f_same = ctx.tmp / "api-0.json"
        f_same.write_text(json.dumps(sandbox(names[0], ["/bin/sleep", "infinity"])))
        first = sbx.cli("apply", "-f", f_same, check=True).stdout
        if "unchanged" not in first:
            log(f"api: re-applying the same manifest said {first.strip()!r}, not 'unchanged'")
        f_conf = ctx.tmp / "api-0-conf.json"

        def apply_configured(i):
            f_conf.write_text(json.dumps(sandbox(names[0], ["/bin/sleep", "infinity"],
                                                 annotations={"bench.sbx/round": f"cli-{i}"})))
            sbx.cli("apply", "-f", f_conf, check=True)

        def put(i):
            http(sbx.sock, "PUT", f"{BASE}/{names[0]}",
                 sandbox(names[0], ["/bin/sleep", "infinity"], annotations={"bench.sbx/round": f"http-{i}"}))

        log("api: CLI round trips")
        cases = [
            ("CLI", "sbx get sandbox NAME", timed(r_cli, lambda i: sbx.cli("get", "sandbox", names[0], check=True))),
            ("CLI", "sbx get sandboxes (all)", timed(r_cli // 2, lambda i: sbx.cli("get", "sandboxes", check=True))),
            ("CLI", "sbx apply, unchanged", timed(r_cli // 2, lambda i: sbx.cli("apply", "-f", f_same, check=True))),
            ("CLI", "sbx apply, configured (annotation)", timed(r_cli // 2, apply_configured)),
        ]
        log("api: HTTP round trips")
        http_error = None
        try:
            cases += [
                ("HTTP", "GET sandbox", timed(r_http, lambda i: http(sbx.sock, "GET", f"{BASE}/{names[0]}"))),
                ("HTTP", "GET sandboxes (list)", timed(r_http // 2, lambda i: http(sbx.sock, "GET", BASE))),
                ("HTTP", "PUT sandbox (annotation changed)", timed(r_http // 5, put)),
            ]
        except (SbxFailed, OSError, http.client.HTTPException) as e:
            http_error = str(e)
    finally:
        sbx.delete(names, timeout=max(120, n * 2))

    rows = []
    for via, what, xs in cases:
        rows.append((via, what, len(xs), f"{len(xs) / sum(xs):.0f}", f"{percentile(xs, 0.5) * 1000:.2f}",
                     f"{percentile(xs, 0.99) * 1000:.2f}"))
    by = {(v, w): xs for v, w, xs in cases}
    g = by[("CLI", "sbx get sandbox NAME")]
    h = by.get(("HTTP", "GET sandbox"))
    hcell = (f"HTTP GET alone {percentile(h, .5) * 1000:.2f} / {percentile(h, .99) * 1000:.2f} ms" if h
             else f"HTTP GET failed: {http_error}")
    res.row(f"`sbx get sandbox` p50 / p99, {n} present", f"{percentile(g, .5) * 1000:.1f} / {percentile(g, .99) * 1000:.1f} ms",
            hcell, "-",
            "p99 <= 10 ms", verdict(percentile(g, .99) <= 0.010))
    lst = by[("CLI", "sbx get sandboxes (all)")]
    res.row(f"`sbx get sandboxes` (list of {n}) p50 / p99", f"{percentile(lst, .5) * 1000:.1f} / {percentile(lst, .99) * 1000:.1f} ms",
            "-", "-", "-", "-")
    for key in ("sbx apply, unchanged", "sbx apply, configured (annotation)"):
        xs = by[("CLI", key)]
        res.row(f"`{key}` per second, p99", f"{len(xs) / sum(xs):.0f} /s, {percentile(xs, .99) * 1000:.1f} ms",
                "-", "-", "-", "-")
    if http_error:
        rows.append(("HTTP", "(all)", "failed", http_error, "", ""))
    res.detail(table(["via", "request", "count", "per second", "p50 ms", "p99 ms"], rows))
    res.detail(f"{n} sandboxes present; requests one after another; HTTP: python http.client over the unix "
               "socket, one connection per request.")
