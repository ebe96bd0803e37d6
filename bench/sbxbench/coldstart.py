"""coldstart.py: benchmark 1, the wall time of starting a sandbox on a Debian root filesystem,
running /bin/true in it and tearing it down, for

  sbx         sbx run --rm --image rootfs:ROOTFS -- /bin/true          (the private sbxd)
  sbx-nopool  the same against a second sbxd started with --warm-pool 0
  bwrap       bwrap --unshare-all --bind ROOTFS / --proc /proc --dev /dev /bin/true
  runc        runc run on an OCI bundle (`runc spec`, root.path = ROOTFS, args = /bin/true)
  podman      podman --runtime runc run --rm --network=none --rootfs ROOTFS /bin/true

Every tool gets the same root filesystem (the cached debootstrap one). Timing is hyperfine's
(-N: no shell in between; one warm-up run, then the runs), or the same protocol by hand when
hyperfine is missing. One plain run first gives a failing tool a clear error.
"""

import json
import os
import resource
import shutil
import subprocess
import time

from . import plots
from .common import Sbxd, SbxFailed, median, percentile, quote, ratio, sh, spread, table, tail, verdict, log

NAME, TITLE = "coldstart", "Cold start: run `/bin/true` in a fresh sandbox"
TOOLS = ("sbx", "sbx-nopool", "bwrap", "runc", "podman")
TARGETS = [  # (peer, target text, test on (sbx median, peer median))
    ("bwrap", "<= 2x bwrap", lambda s, p: s <= 2 * p),
    ("runc", ">= 3x faster than runc", lambda s, p: p >= 3 * s),
    ("podman", ">= 20x faster than podman", lambda s, p: p >= 20 * s),
]


def runc_bundle(tmp, rootfs, cgparent):
    bundle = tmp / "runc-bundle"
    bundle.mkdir()
    r = sh(["runc", "spec", "--bundle", str(bundle)])
    if r.returncode != 0:
        return None, f"runc spec failed: {r.stderr}"
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["root"] = {"path": str(rootfs), "readonly": True}
    cfg["process"]["args"] = ["/bin/true"]
    cfg["process"]["terminal"] = False
    cfg["linux"]["cgroupsPath"] = f"{cgparent}/runc"
    (bundle / "config.json").write_text(json.dumps(cfg, indent=1))
    return bundle, None


def rlimit_flags():
    """podman raises RLIMIT_NOFILE/NPROC in the container to values a restricted host refuses
    ("error setting rlimit ... operation not permitted"); ask for modest ones instead (they
    do not matter to /bin/true)."""
    out = []
    for name, lim, want in (("nofile", resource.RLIMIT_NOFILE, 1024), ("nproc", resource.RLIMIT_NPROC, 4096)):
        hard = resource.getrlimit(lim)[1]
        v = want if hard == resource.RLIM_INFINITY else min(want, hard)
        out += ["--ulimit", f"{name}={v}:{v}"]
    return out


def podman_base(tmp):
    """podman with private storage under the run's temporary directory"""
    return ["podman", "--root", str(tmp / "podman" / "storage"), "--runroot", str(tmp / "podman" / "run"),
            "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", "runc"]


def measure(name, argv, runs, env, tmp):
    """{"times": [seconds...]} or {"error": "..."}"""
    try:
        r = sh(argv, env=env, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": str(e)}
    if r.returncode != 0:
        return {"error": tail(r, 500)}
    if shutil.which("hyperfine"):
        out = tmp / f"hyperfine-{name}.json"
        r = sh(["hyperfine", "-N", "--style", "none", "--warmup", "1", "--runs", str(runs),
                "--export-json", str(out), quote(argv)], env=env, timeout=1800)
        if r.returncode != 0:
            return {"error": f"hyperfine: {tail(r, 500)}"}
        return {"times": json.loads(out.read_text())["results"][0]["times"]}
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            return {"error": f"run {i}: exit status {r.returncode}"}
        if i:
            times.append(dt)
    return {"times": times}


def run(ctx, res):
    runs = 3 if ctx.quick else 20
    rootfs = ctx.rootfs()
    R = str(rootfs)
    sbx = ctx.sbxd
    results, cmds = {}, {}
    sbx_run = [sbx.sbx, "run", "--rm", "--image", f"rootfs:{R}", "--", "/bin/true"]

    cmds["sbx"] = "sbx run --rm --image rootfs:ROOTFS -- /bin/true"
    log("cold start: sbx")
    results["sbx"] = measure("sbx", sbx_run, runs, sbx.env, ctx.tmp)

    cmds["sbx-nopool"] = "the same, sbxd --warm-pool 0"
    cold = Sbxd(ctx.build, ctx.tmp, "sbx-nopool", ["--warm-pool", "0"])
    try:
        err = cold.start()
        log("cold start: sbx without the warm pool")
        results["sbx-nopool"] = {"error": err} if err else measure("sbx-nopool", sbx_run, runs, cold.env, ctx.tmp)
    finally:
        cold.stop()

    cmds["bwrap"] = "bwrap --unshare-all --bind ROOTFS / --proc /proc --dev /dev /bin/true"
    log("cold start: bwrap")
    results["bwrap"] = measure("bwrap", ["bwrap", "--unshare-all", "--bind", R, "/", "--proc", "/proc",
                                         "--dev", "/dev", "/bin/true"], runs, os.environ, ctx.tmp)

    cmds["runc"] = "runc run --bundle BUNDLE ID (runc spec; root.path=ROOTFS read-only; args /bin/true)"
    if not shutil.which("runc"):
        results["runc"] = {"error": "runc is not installed"}
    else:
        bundle, err = runc_bundle(ctx.tmp, rootfs, ctx.cgparent)
        log("cold start: runc")
        results["runc"] = {"error": err} if err else measure(
            "runc", ["runc", "--root", str(ctx.tmp / "runc-state"), "run", "--bundle", str(bundle),
                     f"sbx-bench-{os.getpid()}"], runs, os.environ, ctx.tmp)

    cmds["podman"] = ("podman --runtime runc run --rm --network=none --rootfs ROOTFS /bin/true "
                      "(private storage, cgroupfs, --ulimit nofile=1024 nproc=4096)")
    log("cold start: podman")
    results["podman"] = measure("podman", [*podman_base(ctx.tmp), "run", "--rm", "--network=none",
                                           f"--cgroup-parent={ctx.cgparent}/podman", *rlimit_flags(),
                                           "--rootfs", R, "/bin/true"], runs, os.environ, ctx.tmp)

    ms = {k: [t * 1000 for t in v["times"]] for k, v in results.items() if "times" in v}
    if "sbx" not in ms:
        raise SbxFailed(f"sbx run: {results['sbx']['error']}")
    s = median(ms["sbx"])
    for peer, target, ok in TARGETS:
        if peer in ms:
            p = median(ms[peer])
            rt = f"{ratio(s, p)} (sbx/{peer})" if peer == "bwrap" else f"{ratio(p, s)} ({peer}/sbx)"
            res.row(f"start + /bin/true + teardown, median (vs {peer})", f"{s:.1f} ms", f"{peer} {p:.1f} ms",
                    rt, target, verdict(ok(s, p)))
        else:
            res.row(f"start + /bin/true + teardown, median (vs {peer})", f"{s:.1f} ms",
                    f"{peer} failed: {results[peer]['error'][:150]}", "n/a", target, "n/a")

    rows = []
    for name in TOOLS:
        if name in ms:
            xs = ms[name]
            rows.append((name, f"{median(xs):.1f}", f"{percentile(xs, 0.1):.1f}", f"{percentile(xs, 0.9):.1f}",
                         len(xs), ratio(median(xs), s)))
        else:
            rows.append((name, "failed", "", "", "", results.get(name, {}).get("error", "not run")[:160]))
    res.detail(table(["tool", "median ms", "p10 ms", "p90 ms", "runs", "median vs sbx"], rows))
    res.detail(f"{runs} runs per tool after one warm-up (hyperfine -N); the same `debootstrap "
               "--variant=minbase bookworm` directory (ROOTFS) for every tool. sbx-nopool is a second "
               "sbxd with `--warm-pool 0`: what a start costs when no prepared spare is ready.\n\n"
               + "\n".join(f"- {k}: `{v}`" for k, v in cmds.items()))
    plots.coldstart(ctx, res, {k: ms[k] for k in TOOLS if k in ms})
