"""overhead.py: benchmark 5, what isolation costs a program once it runs.

The same binary (sbxbench, compiled at bench time) runs on the host and inside
`sbx run --rm --image host` (the host image shows /usr, where the binary is installed):

- CPU-bound: `sbxbench cpu ITERS`, a dependent chain of integer mixing, timed inside the
  program (wall seconds), so start-up and teardown do not count;
- syscall-heavy: `sbxbench sys N`: N getpid, N open+close of /dev/null and N 64-byte pwrites
  to a memfd, ns per call of each (seccomp's filter runs on every one of them inside sbx).

Host and sandbox runs alternate (host, sbx, host, sbx...) so that drift of a shared machine
hits both alike; the medians are compared. ITERS is calibrated to about 1 s on the host
(0.3 s with --quick).
"""

from .common import PeerFailed, SbxFailed, median, run_tool, spread, table, tool, verdict, log

NAME, TITLE = "overhead", "Isolation overhead: the same program on the host and in `sbx run`"


def calibrate(target_s):
    n = 20_000_000
    while True:
        w = float(run_tool("cpu", n).split()[0])
        if w >= 0.1:
            return max(1, int(n * target_s / w))
        n *= 4


def run(ctx, res):
    sbx = ctx.sbxd
    reps = ctx.reps(7)
    iters = calibrate(0.3 if ctx.quick else 1.0)
    nsys = 100_000 if ctx.quick else 1_000_000
    inside = [sbx.sbx, "run", "--rm", "--image", "host", "--"]

    def in_sbx(*args):
        r = sbx.cli(*inside[1:], *tool(*args), timeout=300)
        if r.returncode != 0:
            raise SbxFailed(f"sbx run of sbxbench {args[0]}: exit status {r.returncode}: "
                            f"{(r.stderr + r.stdout).strip()[-300:]}")
        return r.stdout

    cpu = {"host": [], "sbx": []}
    sys_ = {"host": [], "sbx": []}
    log(f"overhead: cpu {iters} iterations and {nsys} system calls of each kind, {reps}x host and sbx")
    for _ in range(reps):
        cpu["host"].append(float(run_tool("cpu", iters).split()[0]))
        cpu["sbx"].append(float(in_sbx("cpu", iters).split()[0]))
    for _ in range(reps):
        for who, out in (("host", run_tool("sys", nsys)), ("sbx", in_sbx("sys", nsys))):
            sys_[who].append({l.split()[0]: float(l.split()[1]) for l in out.splitlines() if l.strip()})

    ch, cs = median(cpu["host"]), median(cpu["sbx"])
    res.row("CPU-bound kernel, median wall time", f"{cs:.3f} s", f"host {ch:.3f} s",
            f"{cs / ch:.3f}x ({(cs / ch - 1) * 100:+.1f}%)", "<= 3% slower", verdict(cs <= ch * 1.03))

    kinds = ("getpid", "openclose", "write")
    med = {w: {k: median([d[k] for d in sys_[w]]) for k in kinds} for w in sys_}
    tot = {w: sum(med[w].values()) for w in med}
    res.row("syscall mix (getpid + open/close + 64 B write), ns per round", f"{tot['sbx']:.0f} ns",
            f"host {tot['host']:.0f} ns", f"{tot['sbx'] / tot['host']:.3f}x ({(tot['sbx'] / tot['host'] - 1) * 100:+.1f}%)",
            "<= 15% slower", verdict(tot["sbx"] <= tot["host"] * 1.15))

    worst = max(kinds, key=lambda k: med["sbx"][k] / med["host"][k])
    res.row(f"  of which {worst} alone (the dearest), ns per call", f"{med['sbx'][worst]:.0f} ns",
            f"host {med['host'][worst]:.0f} ns", f"{med['sbx'][worst] / med['host'][worst]:.3f}x", "-", "-")

    rows = [("CPU-bound (s)", f"{ch:.3f}", spread(cpu["host"], "{:.3f}"), f"{cs:.3f}", spread(cpu["sbx"], "{:.3f}"),
             f"{cs / ch:.3f}")]
    for k in kinds:
        h, s = med["host"][k], med["sbx"][k]
        rows.append((f"{k} (ns/call)", f"{h:.1f}", spread([d[k] for d in sys_["host"]]), f"{s:.1f}",
                     spread([d[k] for d in sys_["sbx"]]), f"{s / h:.3f}"))
    rows.append(("sum of the three (ns)", f"{tot['host']:.0f}", "", f"{tot['sbx']:.0f}", "", f"{tot['sbx'] / tot['host']:.3f}"))
    res.detail(table(["measurement", "host median", "host spread", "sbx median", "sbx spread", "sbx/host"], rows))
    res.detail(f"{reps} alternating runs each; CPU kernel: `sbxbench cpu {iters}` (splitmix64 chain, timed "
               f"inside the program); syscalls: `sbxbench sys {nsys}`; sandbox: "
               "`sbx run --rm --image host -- /usr/local/libexec/sbx-bench/sbxbench ...`.")
