"""workspace.py: benchmark 2, how long until a user's Jupyter answers.

The same Jupyter (Debian's jupyter-notebook 6.4, the host's /usr/bin/python3) with the same
command and environment is started three ways, and each time the clock runs from the
launch until `GET /api` on Jupyter's port answers 200:

  sbx     `sbx apply -f -` of a Sandbox (image host) whose container runs Jupyter; the clock
          starts before `sbx apply` runs and so includes the CLI, the daemon, the shim, the
          sandbox's set-up and Jupyter's own start-up.
  bare    Jupyter started directly on the host (a fresh HOME), answering on loopback.
  podman  `podman run -d --rm --network none --rootfs /:O ...`: the host's root as a
          read-only lower layer with a throw-away overlay on top, the only way to run the
          same Jupyter under podman here (no registry is reachable and the debootstrap rootfs
          has no Jupyter). --network none gives loopback only, as an sbx sandbox has.

Readiness is judged the same way for all three: a poller (python, one GET every 20 ms,
1 s timeout) runs in the workload's network namespace (`nsenter --net=/proc/PID/ns/net`
with PID the container's process, which sbx reports in the sandbox's status and podman in
`podman inspect`; on the host's own namespace for bare) and prints the CLOCK_MONOTONIC time
of the first answer. The poller starts as soon as the process exists, long before Jupyter
listens (Jupyter takes about a second), so finding the pid does not delay the measurement.
sbx port-forward is not on this path: benchmark 3 measures it.

Between repetitions the sandbox is deleted and the bench waits until it is gone; the order
alternates so that a shared machine's drift hits all three alike. One unmeasured warm-up of
each first (the first Jupyter start reads its files from disk).
"""

import os
import subprocess
import tempfile
import time

from . import coldstart
from .common import PeerFailed, SbxFailed, free_port, kill_group, log, median, ratio, sandbox, sh, spread, table, tail, verdict

NAME, TITLE = "workspace", "Workspace ready: a Jupyter sandbox until Jupyter answers HTTP"
PORT = 8888

POLLER = r"""
import sys, time, urllib.request
port, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=1) as r:
            if r.status == 200:
                print(f"{time.monotonic():.6f}", flush=True)
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.02)
sys.exit(1)
"""


def jupyter_argv(port):
    return ["/usr/bin/python3", "-m", "notebook", "--ip=127.0.0.1", f"--port={port}", "--no-browser",
            "--NotebookApp.token=", "--allow-root", "--notebook-dir=/tmp"]


ENV = {"HOME": "/tmp", "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime", "PYTHONDONTWRITEBYTECODE": "1"}


def poll(ctx, port, pid=None, timeout=90):
    """the monotonic time Jupyter first answered, polled from PID's network namespace"""
    script = ctx.tmp / "poll.py"
    if not script.exists():
        script.write_text(POLLER)
    argv = ["/usr/bin/python3", str(script), str(port), str(timeout)]
    if pid:
        argv = ["nsenter", f"--net=/proc/{pid}/ns/net", *argv]
    r = sh(argv, timeout=timeout + 30)
    if r.returncode != 0:
        return None, tail(r)
    return float(r.stdout.split()[0]), None


def run_sbx(ctx, i):
    sbx = ctx.sbxd
    name = f"jupyter-{i}"
    doc = sandbox(name, jupyter_argv(PORT), env=ENV)
    t0 = time.monotonic()
    sbx.apply([doc])
    t_apply = time.monotonic()
    pid = sbx.container_pid(name, timeout=90)
    t_pid = time.monotonic()
    t1, err = poll(ctx, PORT, pid)
    if err:
        logs = sbx.cli("logs", name, timeout=20)
        raise SbxFailed(f"Jupyter in sandbox {name} never answered: {err}; logs: {(logs.stdout + logs.stderr)[-300:]}")
    sbx.delete([name])
    return t1 - t0, {"apply returned": t_apply - t0, "container pid known": t_pid - t0}


def run_bare(ctx, i):
    home = tempfile.mkdtemp(prefix="jupyter-home-", dir=ctx.tmp)
    port = free_port()
    env = dict(os.environ, **ENV)
    env.update(HOME=home, JUPYTER_RUNTIME_DIR=f"{home}/jupyter-runtime")
    t0 = time.monotonic()
    p = subprocess.Popen(jupyter_argv(port), env=env, cwd=home, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        t1, err = poll(ctx, port)
    finally:
        kill_group(p)
    if err:
        raise PeerFailed(f"Jupyter on the host never answered: {err}")
    return t1 - t0, {}


def run_podman(ctx, i):
    base = coldstart.podman_base(ctx.tmp)
    t0 = time.monotonic()
    r = sh([*base, "run", "-d", "--rm", "--network", "none", f"--cgroup-parent={ctx.cgparent}/podman",
            *coldstart.rlimit_flags(), *[f"-e={k}={v}" for k, v in ENV.items()],
            "--rootfs", "/:O", *jupyter_argv(PORT)], timeout=120)
    if r.returncode != 0:
        raise PeerFailed(f"podman run: {tail(r)}")
    cid = r.stdout.strip().splitlines()[-1]
    try:
        t_run = time.monotonic()
        r = sh([*base, "inspect", "-f", "{{.State.Pid}}", cid], timeout=60)
        if r.returncode != 0 or not r.stdout.strip().isdigit():
            raise PeerFailed(f"podman inspect: {tail(r)}")
        t1, err = poll(ctx, PORT, int(r.stdout.strip()))
        if err:
            raise PeerFailed(f"Jupyter under podman never answered: {err}")
    finally:
        sh([*base, "rm", "-f", "-t", "0", cid], timeout=120)
    return t1 - t0, {"podman run returned": t_run - t0}


def run(ctx, res):
    ctx.sbxd.need("apply", "delete")
    reps = ctx.reps(5)
    ways = {"sbx": run_sbx, "bare": run_bare, "podman": run_podman}
    times = {k: [] for k in ways}
    parts = {k: {} for k in ways}
    errors = {}
    for i in range(reps + (0 if ctx.quick else 1)):
        warm = not ctx.quick and i == 0
        for k, fn in ways.items():
            if k in errors:
                continue
            log(f"workspace: {k} {'warm-up' if warm else f'run {i}'}")
            try:
                t, part = fn(ctx, i)
            except PeerFailed as e:
                errors[k] = str(e)
                continue
            if warm:
                continue
            times[k].append(t)
            for pk, pv in part.items():
                parts[k].setdefault(pk, []).append(pv)

    s = median(times["sbx"])
    b = median(times["bare"]) if times["bare"] else None
    p = median(times["podman"]) if times["podman"] else None
    peers = ", ".join([f"bare {b:.2f} s" if b else f"bare failed: {errors.get('bare')}",
                       f"podman {p:.2f} s" if p else f"podman failed: {errors.get('podman')}"])
    res.row("apply → Jupyter answers, median", f"{s:.2f} s", peers,
            f"{ratio(s, b)} (sbx/bare)" + (f", {ratio(p, s)} (podman/sbx)" if p else ""),
            "within 10% of bare", verdict(s <= b * 1.10) if b else "n/a")

    rows = []
    for k in ways:
        if times[k]:
            extra = "; ".join(f"{pk} {median(pv):.2f} s" for pk, pv in parts[k].items())
            rows.append((k, f"{median(times[k]):.2f}", spread(times[k], "{:.2f}"), len(times[k]),
                         ratio(median(times[k]), b) if b else "n/a", extra or "-"))
        else:
            rows.append((k, "failed", "", "", "", errors.get(k, "not run")))
    res.detail(table(["way", "median s", "spread s", "runs", "vs bare", "where the time went (medians)"], rows))
    res.detail("Command (all three): `" + " ".join(jupyter_argv(PORT)) + "` with HOME=/tmp "
               f"(bare: a fresh directory). {reps} runs each after a warm-up, alternating; the sandbox is "
               "deleted (and gone) between runs. Ready = first `GET /api` answered 200 from inside the "
               "workload's network namespace (poll every 20 ms).")
