"""fairness.py: benchmark 6, does Bob get the CPU his request promises while Alice loads
every core?

Two Sandboxes (image host, command /bin/sleep infinity) with resources.requests.cpu in the
ratio Alice:Bob = 1:1, then 1:3, scaled so that the two requests together are 75% of the
machine (on 2 cores: 750m:750m and 375m:1125m), which admission control accepts. sbx maps
requests to cgroup CPU shares/weight (DESIGN.md's Kubernetes mapping), so under contention
Bob's share of the machine is B/(A+B). His work is one thread, so what he is promised is
min(1 core, B/(A+B) x cores): on 2 cores, 1 core in both cases.

- Bob's work: `sbx exec BOB -- sbxbench cpu ITERS` (a fixed CPU-bound loop, ~2 s alone,
  0.5 s with --quick), its wall time printed by the program itself.
- Bob alone: his work while Alice's sandbox idles (3 runs, 1 with --quick).
- Contended: Alice starts `stress-ng --cpu 0 --cpu-method matrixprod` (one worker per core)
  with `sbx exec`, 1 s of ramp-up, then Bob's work again.
- Bob's share got = (his median time alone) / (his median time contended), in cores of the
  single core he gets alone; the target is got >= 90% of the promise.
- Per person: Alice (uid 61001) runs four sandboxes, each `sbx run --rm -- stress-ng --cpu 0`
  (every core busy four times over), Bob (uid 61002) one, `sbx run --rm -- sbxbench cpu
  ITERS`; both are plain uids the benchmark switches to with setpriv (no account needed).
  Each person's sandboxes share one cgroup group of equal weight (sbxd's per-person limits),
  so Bob is promised min(1 core, cores / 2) however many sandboxes Alice runs; with a
  cgroup per sandbox alone he would get a fifth of the machine. Bob's share got = (his
  median alone) / (his median contended); the target is >= 90% of the promise.
- Over time: a thread samples both sandboxes' cgroup CPU time (cpuacct.usage, or cpu.stat on
  v2, of the cgroup the container's process is in) every 100 ms; the plot shows the cores
  each used.
"""

import os
import shutil
import subprocess
import threading
import time

from . import plots
from .common import (SbxFailed, cgroup_cpu_usage_file, kill_group, log, median, read_cpu_ns, run_tool, sandbox,
                     sh, spread, table, tool, verdict)

NAME, TITLE = "fairness", "Fairness: Bob's fixed work while Alice loads every core"


class Sampler(threading.Thread):
    def __init__(self, files, interval=0.1):
        super().__init__(daemon=True)
        self.files, self.interval = files, interval
        self.samples = []  # (t, [ns per file])
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            self.samples.append((time.monotonic(), [read_cpu_ns(f, v2) if f else None for f, v2 in self.files]))
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join()

    def cores(self, t_from):
        """(times since t_from, [cores used per file per interval])"""
        t, per = [], [[] for _ in self.files]
        for (t0, a), (t1, b) in zip(self.samples, self.samples[1:]):
            if t1 < t_from:
                continue
            t.append(t1 - t_from)
            for i in range(len(self.files)):
                per[i].append((b[i] - a[i]) / 1e9 / (t1 - t0) if a[i] is not None and b[i] is not None else 0.0)
        return t, per


def calibrate(target_s):
    n = 20_000_000
    while True:
        w = float(run_tool("cpu", n).split()[0])
        if w >= 0.1:
            return max(1, int(n * target_s / w))
        n *= 4


def bob_runs(sbx, bob, iters, reps):
    out = []
    for _ in range(reps):
        r = sbx.cli("exec", bob, "--", *tool("cpu", iters), timeout=600)
        if r.returncode != 0:
            raise SbxFailed(f"sbx exec {bob} -- sbxbench cpu: exit status {r.returncode}: {(r.stderr + r.stdout)[-300:]}")
        out.append(float(r.stdout.split()[0]))
    return out


def run(ctx, res):
    sbx = ctx.sbxd
    sbx.need("apply", "exec", "delete")
    ncpu = os.cpu_count() or 1
    total = int(ncpu * 1000 * 0.75)
    reps = ctx.reps(3)
    iters = calibrate(0.5 if ctx.quick else 2.0)
    alone = None
    rows, series = [], []
    for ra, rb in ((1, 1), (1, 3)):
        ma, mb = total * ra // (ra + rb), total * rb // (ra + rb)
        alice, bob = f"alice-{ra}-{rb}", f"bob-{ra}-{rb}"
        promise = min(1.0, mb / (ma + mb) * ncpu)
        stress = None
        sbx.apply([sandbox(alice, ["/bin/sleep", "infinity"], cpu=f"{ma}m"),
                   sandbox(bob, ["/bin/sleep", "infinity"], cpu=f"{mb}m")])
        try:
            sbx.wait_ready([alice, bob], timeout=60)
            files = [cgroup_cpu_usage_file(sbx.container_pid(alice)), cgroup_cpu_usage_file(sbx.container_pid(bob))]
            sampler = Sampler(files)
            sampler.start()
            try:
                if alone is None:
                    log(f"fairness: Bob alone, {reps} runs of {iters} iterations")
                    t_alone = time.monotonic()
                    alone = bob_runs(sbx, bob, iters, reps)
                    t, (ca, cb) = sampler.cores(t_alone)
                    series.append(("Bob alone (Alice idle)", t, ca, cb, 1.0))
                log(f"fairness: Alice stresses every core, requests {ra}:{rb} ({ma}m:{mb}m)")
                stress = sbx.popen("exec", alice, "--", "stress-ng", "--cpu", "0", "--cpu-method", "matrixprod",
                                   "--timeout", "900s", "--quiet", stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
                t_c = time.monotonic()
                time.sleep(1.0)
                if stress.poll() is not None:
                    raise SbxFailed(f"stress-ng in {alice} ended at once (exit status {stress.returncode})")
                t_b = time.monotonic()
                contended = bob_runs(sbx, bob, iters, reps)
                t_e = time.monotonic()
                t, (ca, cb) = sampler.cores(t_c)
            finally:
                sampler.stop()
            # Alice's and Bob's average use while Bob worked
            s = [x for x in sampler.samples if t_b <= x[0] <= t_e]
            if len(s) >= 2 and None not in s[0][1] and None not in s[-1][1]:
                dt = s[-1][0] - s[0][0]
                a_use, b_use = ((s[-1][1][i] - s[0][1][i]) / 1e9 / dt for i in (0, 1))
            else:
                a_use = b_use = None
            got = median(alone) / median(contended)
            rows.append((f"{ra}:{rb}", f"{ma}m:{mb}m", f"{median(contended):.2f} ({spread(contended, '{:.2f}')})",
                         f"{got:.2f}", f"{promise:.2f}", f"{got / promise * 100:.0f}%",
                         f"{b_use:.2f} / {a_use:.2f}" if a_use is not None else "n/a"))
            res.row(f"Bob's share, requests {ra}:{rb} (cores of 1)", f"{got:.2f} cores",
                    f"promised {promise:.2f}", f"{got / promise * 100:.0f}% of promise", ">= 90% of promise",
                    verdict(got >= 0.9 * promise))
            series.append((f"requests {ra}:{rb} (Alice stress-ng from t=0, Bob's work from t=1 s)", t, ca, cb, promise))
        finally:
            kill_group(stress)
            sbx.delete([alice, bob], timeout=120)
    res.detail(table(["requests A:B", "cpu requests", "Bob's time contended s (spread)", "Bob got (cores)",
                      "promised", "got/promised", "cgroup use while Bob worked: Bob / Alice (cores)"], rows))
    res.detail(f"Bob alone: {median(alone):.2f} s median ({spread(alone, '{:.2f}')}), `sbxbench cpu {iters}` via "
               f"`sbx exec`, {reps} runs per case. {ncpu} cores; requests sum to {total}m.")
    per_person(ctx, res, iters, reps)
    plots.fairness(ctx, res, series)


ALICE_UID, BOB_UID = 61001, 61002


def per_person(ctx, res, iters, reps):
    """Bob's one sandbox against Alice's four, as two people (see the top of this file)."""
    sbx = ctx.sbxd
    ncpu = os.cpu_count() or 1
    cli = ctx.tmp / "bin" / "sbx"  # where any uid can run it
    cli.parent.mkdir(mode=0o755, exist_ok=True)
    shutil.copy2(sbx.sbx, cli)
    os.chmod(cli, 0o755)

    def as_uid(uid, *args):
        return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", str(cli), *map(str, args)]

    def bob_work():
        out = []
        for _ in range(reps):
            r = sh(as_uid(BOB_UID, "run", "--rm", "--", *tool("cpu", iters)), env=sbx.env, timeout=600)
            if r.returncode != 0:
                raise SbxFailed(f"sbx run (as uid {BOB_UID}) -- sbxbench cpu: exit status {r.returncode}: "
                                f"{(r.stderr + r.stdout)[-300:]}")
            out.append(float(r.stdout.split()[0]))
        return out

    log("fairness: per person, Bob alone")
    alone = bob_work()
    log("fairness: per person, Alice's four sandboxes stress every core")
    stress = [subprocess.Popen(as_uid(ALICE_UID, "run", "--rm", "--", "stress-ng", "--cpu", "0", "--cpu-method",
                                      "matrixprod", "--timeout", "900s", "--quiet"),
                               env=sbx.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, start_new_session=True) for _ in range(4)]
    try:
        time.sleep(2.0)
        if any(p.poll() is not None for p in stress):
            raise SbxFailed("a stress-ng sandbox of Alice's ended at once")
        contended = bob_work()
    finally:
        for p in stress:
            kill_group(p)
    promise = min(1.0, ncpu / 2)
    got = median(alone) / median(contended)
    res.row("Bob's share, Alice's 4 sandboxes vs his 1 (per person)", f"{got:.2f} cores", f"promised {promise:.2f}",
            f"{got / promise * 100:.0f}% of promise", ">= 90% of promise", verdict(got >= 0.9 * promise))
    res.detail(f"Per person: Bob alone {median(alone):.2f} s, against Alice's four stress-ng sandboxes "
               f"{median(contended):.2f} s ({spread(contended, '{:.2f}')}), `sbx run` as uids {ALICE_UID} and "
               f"{BOB_UID}, {reps} runs each.")
