"""density.py: benchmark 4, what an idle sandbox costs the machine.

For N = 10, 100, 300 (10 with --quick): N Sandboxes (image host, command /bin/sleep
infinity) in one multi-document `sbx apply -f -`, timed until every one reports Ready
(one `sbx get sandboxes -o json` per 0.2 s); then, after 2 s of settling:

- host memory per sandbox: the drop of MemAvailable (/proc/meminfo, median of 5 reads before
  and after) divided by N, minus the workload's own share (the PSS of the `sleep` processes);
  this counts everything: sbx-shim, the namespace holder, sbx-init, kernel objects (namespaces,
  cgroups, mounts, page tables) and the daemon's growth. The machine is shared, so other
  work moves MemAvailable too; the PSS figure below does not move with it.
- sbx processes per sandbox: the PSS (/proc/PID/smaps_rollup) of every process that runs this
  build's sbx-shim binary and of their descendants, minus the `sleep` workload, divided by N
  (spare sandboxes of the warm pool, present before and after, are subtracted);
- daemon RSS: VmRSS of the private sbxd at each N;
- create rate: N / (time from `sbx apply` to all Ready);
- list: median time of `sbx get sandboxes` (the table kubectl prints; 5 runs, 1 with --quick);
- delete rate: N / (time from `sbx delete sandbox ...` to none listed), then the next N starts
  from an empty daemon.
"""

import time

from .common import SbxFailed, log, median, meminfo, processes, proc_status, pss, sandbox, table, verdict

NAME, TITLE = "density", "Density: N idle sandboxes"


def mem_available():
    xs = []
    for _ in range(5):
        xs.append(meminfo("MemAvailable"))
        time.sleep(0.1)
    return median(xs)


def sbx_pss(shim_exe):
    """(PSS of sbx's processes, PSS of the workload, number of workload processes)"""
    procs = processes()
    children = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    roots = [pid for pid, (_, _, exe) in procs.items() if exe == shim_exe]
    seen, ours, work, nwork = set(), 0, 0, 0
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stack += children.get(pid, [])
        if procs[pid][1] == "sleep":
            work += pss(pid)
            nwork += 1
        else:
            ours += pss(pid)
    return ours, work, nwork


def run(ctx, res):
    sbx = ctx.sbxd
    sbx.need("apply", "delete")
    sizes = [10] if ctx.quick else [10, 100, 300]
    shim = sbx.shim_path()
    rows, target = [], {}
    for n in sizes:
        names = [f"idle-{i}" for i in range(n)]
        time.sleep(1)
        avail0 = mem_available()
        ours0, _, _ = sbx_pss(shim)
        log(f"density: applying {n} sandboxes")
        t0 = time.monotonic()
        sbx.apply([sandbox(x, ["/bin/sleep", "infinity"]) for x in names], timeout=600)
        t_apply = time.monotonic() - t0
        sbx.wait_ready(names, timeout=max(120, n * 2))
        t_ready = time.monotonic() - t0
        time.sleep(2)
        avail1 = mem_available()
        ours1, work, nwork = sbx_pss(shim)
        rss = proc_status(sbx.proc.pid, "VmRSS")
        lt = []
        for _ in range(ctx.reps(5)):
            s = time.monotonic()
            sbx.cli("get", "sandboxes", check=True)
            lt.append(time.monotonic() - s)
        if nwork < n:
            log(f"density: only {nwork} of {n} sleep workloads found under this build's sbx-shim processes")
        work_each = work / max(nwork, 1)
        host_each = (avail0 - avail1) / n - work_each
        pss_each = (ours1 - ours0) / n
        log(f"density: deleting {n} sandboxes")
        t0 = time.monotonic()
        sbx.delete(names, timeout=max(120, n * 2))
        t_del = time.monotonic() - t0
        rows.append((n, f"{t_ready:.1f} (apply {t_apply:.1f})", f"{n / t_ready:.1f}", f"{host_each / 2**20:.2f}",
                     f"{pss_each / 2**20:.2f}", f"{work_each / 2**10:.0f}", f"{rss / 2**20:.1f}",
                     f"{median(lt) * 1000:.0f}", f"{n / t_del:.1f}"))
        target[n] = (host_each, pss_each, rss, n / t_ready, median(lt))

    top = max(target)
    host_each, pss_each, rss, rate, lt = target[top]
    res.row(f"host memory per idle sandbox beyond its workload (N={top})", f"{host_each / 2**20:.2f} MiB",
            f"sbx processes' PSS {pss_each / 2**20:.2f} MiB", "-", "<= 1 MiB", verdict(host_each <= 2**20))
    res.row(f"daemon RSS at N={top}", f"{rss / 2**20:.1f} MiB", "-", "-",
            "<= 30 MiB at 300", verdict(rss <= 30 * 2**20) if top == 300 else "n/a (N<300)")
    res.row(f"create rate / list time (N={top})", f"{rate:.1f} /s, list {lt * 1000:.0f} ms", "-", "-", "-", "-")
    res.detail(table(["N", "apply → all Ready s", "create /s", "host MiB per sandbox", "sbx PSS MiB per sandbox",
                      "workload PSS KiB", "sbxd RSS MiB", "get sandboxes ms", "delete /s"], rows))
    res.detail("Workload: `/bin/sleep infinity` in a Sandbox with image host. 'host MiB per sandbox' = "
               "MemAvailable drop / N - the sleep's PSS (counts kernel memory and the daemon's growth; moves "
               "with anything else on the machine); 'sbx PSS' = PSS of sbx-shim and its descendants except the "
               "workload, per sandbox (user-space only).")
