"""portforward.py: benchmark 3, what `sbx port-forward` costs a connection.

One server program (`sbxbench server PORT`: echo, sink and source modes, a thread per
connection) runs twice: on the host, and as the container of a Sandbox (image host) in its
own network namespace. The same C client reaches it three ways, all as root (the forward
serves its owner's uid only, and root owns the sandbox here):

  direct            client → host server on 127.0.0.1 (the floor: loopback TCP)
  socat             client → `socat TCP-LISTEN:P,fork TCP:127.0.0.1:HOSTPORT` → host server
  sbx port-forward  client → `sbx port-forward NAME LOCAL:9000` → sandbox's server

Measured per path: upload and download throughput of 1 GiB (256 MiB with --quick; timed by
the client until the sink confirms the byte count, or until the last byte arrived), the
latency of 10,000 round trips of 64 bytes on one connection (1,000 with --quick; TCP_NODELAY,
100 unmeasured first), and the cost of a fresh connection (connect + one 1-byte round trip +
close, 200 times; a forward asks the daemon for a socket into the sandbox per connection).
Paths alternate within each repetition; throughput is the median of 3 (1 with --quick).
"""

import os
import select
import subprocess
import time

from . import plots
from .common import (PeerFailed, SbxFailed, free_port, have, kill_group, log, median, percentile, run_tool,
                     sandbox, sh, spread, table, tool, verdict)

NAME, TITLE = "portforward", "Port-forward: throughput and latency through `sbx port-forward`"
REMOTE = 9000


def start_forward(sbx, name, local):
    """`sbx port-forward NAME LOCAL:REMOTE` in the background, once it says it listens"""
    p = sbx.popen("port-forward", name, f"{local}:{REMOTE}", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    out = b""
    while b"Forwarding from" not in out and p.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([p.stdout], [], [], 0.2)
        if ready:
            out += os.read(p.stdout.fileno(), 4096)
    text = out.decode(errors="replace")
    if "Forwarding from 127.0.0.1:" not in text:
        err = ""
        if p.poll() is not None:
            err = p.stderr.read().decode(errors="replace")
        kill_group(p)
        raise SbxFailed(f"sbx port-forward did not start: {text.strip()[-200:]} {err.strip()[-300:]}")
    # "Forwarding from 127.0.0.1:PORT -> REMOTE"
    return p, int(text.split("Forwarding from 127.0.0.1:")[1].split()[0])


def wait_server(port, prefix=(), timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sh([*prefix, *tool("conn", port, 1)], timeout=10).returncode == 0:
            return True
        time.sleep(0.1)
    return False


def run(ctx, res):
    sbx = ctx.sbxd
    sbx.need("apply", "port-forward", "delete")
    size = (256 if ctx.quick else 1024) << 20
    nlat = 1000 if ctx.quick else 10000
    nconn = 50 if ctx.quick else 200
    reps = ctx.reps(3)
    procs = []
    name = "pf-echo"
    paths, errors = {}, {}
    try:
        hport = free_port()
        host_srv = subprocess.Popen(tool("server", hport), stdout=subprocess.DEVNULL, start_new_session=True)
        procs.append(host_srv)
        if not wait_server(hport):
            raise PeerFailed("the server does not start on the host")
        paths["direct"] = hport

        if have("socat"):
            sport = free_port()
            procs.append(subprocess.Popen(["socat", f"TCP-LISTEN:{sport},bind=127.0.0.1,reuseaddr,fork",
                                           f"TCP:127.0.0.1:{hport}"], stderr=subprocess.DEVNULL,
                                          start_new_session=True))
            if wait_server(sport):
                paths["socat"] = sport
            else:
                errors["socat"] = "socat relay does not answer"
        else:
            errors["socat"] = "socat is not installed"

        sbx.apply([sandbox(name, tool("server", REMOTE))])
        sbx.wait_ready([name], timeout=60)
        pid = sbx.container_pid(name)
        if not wait_server(REMOTE, prefix=["nsenter", f"--net=/proc/{pid}/ns/net"]):
            raise SbxFailed("the server in the sandbox does not answer in its network namespace")
        fwd, lport = start_forward(sbx, name, free_port())
        procs.append(fwd)
        paths["sbx port-forward"] = lport

        up = {k: [] for k in paths}
        down = {k: [] for k in paths}
        lat, conn = {}, {}
        for i in range(reps):
            for k, port in paths.items():
                log(f"portforward: {k} throughput {size >> 20} MiB, run {i}")
                try:
                    up[k].append(size / float(run_tool("up", port, size)) / 2**20)
                    down[k].append(size / float(run_tool("down", port, size)) / 2**20)
                except PeerFailed as e:
                    if k == "sbx port-forward":
                        raise SbxFailed(f"transfer through the forward: {e}")
                    errors[k] = str(e)
        for k, port in paths.items():
            log(f"portforward: {k} latency, {nlat} round trips")
            try:
                lat[k] = [int(x) / 1000 for x in run_tool("lat", port, nlat, 64).split()]
                conn[k] = [int(x) / 1000 for x in run_tool("conn", port, nconn).split()]
            except PeerFailed as e:
                if k == "sbx port-forward":
                    raise SbxFailed(f"round trips through the forward: {e}")
                errors[k] = str(e)
    finally:
        for p in procs:
            kill_group(p)
        try:
            sbx.delete([name], timeout=60)
        except SbxFailed:
            pass

    S = "sbx port-forward"
    ok = {k for k in paths if k not in errors and up[k] and k in lat}

    def peer_cells(fn):
        return ", ".join(f"{k} {fn(k)}" if k in ok else f"{k} failed: {errors.get(k, '?')}" for k in ("direct", "socat"))

    for label, d in (("upload", up), ("download", down)):
        s = median(d[S])
        dr = median(d["direct"]) if "direct" in ok else None
        res.row(f"{label} throughput, {size >> 20} MiB, median", f"{s:.0f} MiB/s",
                peer_cells(lambda k: f"{median(d[k]):.0f} MiB/s"),
                f"{s / dr:.2f}x direct" if dr else "n/a", ">= 0.9x direct", verdict(s >= 0.9 * dr) if dr else "n/a")
    s50, s99 = percentile(lat[S], 0.5), percentile(lat[S], 0.99)
    d50 = percentile(lat["direct"], 0.5) if "direct" in ok else None
    res.row(f"64 B round trip p50 / p99 ({nlat})", f"{s50:.0f} / {s99:.0f} µs",
            peer_cells(lambda k: f"{percentile(lat[k], 0.5):.0f} / {percentile(lat[k], 0.99):.0f} µs"),
            f"+{s50 - d50:.0f} µs p50 over direct" if d50 else "n/a", "p50 added <= 50 µs",
            verdict(s50 - d50 <= 50) if d50 else "n/a")

    rows = []
    for k in ("direct", "socat", S):
        if k not in ok:
            rows.append((k, "failed", errors.get(k, "?"), "", "", "", "", ""))
            continue
        rows.append((k, f"{median(up[k]):.0f} ({spread(up[k], '{:.0f}')})", f"{median(down[k]):.0f} ({spread(down[k], '{:.0f}')})",
                     f"{percentile(lat[k], 0.5):.1f}", f"{percentile(lat[k], 0.9):.1f}", f"{percentile(lat[k], 0.99):.1f}",
                     f"{percentile(lat[k], 0.999):.1f}", f"{percentile(conn[k], 0.5):.0f} / {percentile(conn[k], 0.99):.0f}"))
    res.detail(table(["path", "upload MiB/s (spread)", "download MiB/s (spread)", "rtt p50 µs", "p90 µs", "p99 µs",
                      "p99.9 µs", "new connection p50 / p99 µs"], rows))
    res.detail(f"Throughput: {size >> 20} MiB each way, {reps} runs per path; latency: {nlat} round trips of "
               f"64 B on one connection; new connection: {nconn} times connect + 1-byte round trip + close. "
               "Client and servers: bench/c/sbxbench.c.")
    plots.latency_cdf(ctx, res, {k: lat[k] for k in ("direct", "socat", S) if k in ok})
