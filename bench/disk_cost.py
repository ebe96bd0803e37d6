#!/usr/bin/python3
"""bench/disk_cost.py: what the disk bounds cost at start, side by side (docs/security.md).

    sudo bench/disk_cost.py BASE_BUILD NEW_BUILD [RUNS]

Starts three private sbxd, each with its own --root and --socket in a temporary directory
(--warm-pool 3, the default): BASE_BUILD's (before the bounds), NEW_BUILD's with
--default-ephemeral-storage 0 (only the log pipe is new), and NEW_BUILD's with the default
(10Gi). Then, taking turns so that the machine's load falls on all three alike:

  run        `sbx run --rm -- /bin/true`, RUNS times each (default 20), wall time of the CLI
  workspace  `sbx apply` of a one-container host-image Sandbox until `sbx wait
             --for=condition=Ready` returns, RUNS/2 times each, deleted in between

and prints the median, min and max of each (milliseconds). It measures and never judges.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class Daemon:
    def __init__(self, label, build, args):
        self.label, self.build = label, Path(build)
        self.tmp = Path(tempfile.mkdtemp(prefix="sbx-disk-cost-"))
        os.chmod(self.tmp, 0o755)
        self.env = dict(os.environ, SBX_SOCKET=str(self.tmp / "sock"))
        self.log = open(self.tmp / "sbxd.log", "wb")
        self.proc = subprocess.Popen([str(self.build / "sbxd"), "--root", str(self.tmp / "root"), "--socket",
                                      str(self.tmp / "sock"), *args], stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while self.sbx("version").returncode != 0:
            if time.monotonic() > deadline:
                raise SystemExit(f"{label}: sbxd did not start; see {self.tmp}/sbxd.log")
            time.sleep(0.1)
        time.sleep(1)  # the warm pool fills

    def sbx(self, *args, input=None):
        return subprocess.run([str(self.build / "sbx"), *args], env=self.env, input=input, capture_output=True,
                              text=True, timeout=300)

    def timed(self, *args, input=None):
        t = time.monotonic()
        r = self.sbx(*args, input=input)
        if r.returncode != 0:
            raise SystemExit(f"{self.label}: sbx {' '.join(args)} failed: {r.stderr}")
        return (time.monotonic() - t) * 1000

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()
        mounts = [line.split()[4] for line in open("/proc/self/mountinfo")
                  if line.split()[4].startswith(str(self.tmp) + "/")]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.tmp)], capture_output=True)


def workspace(name):
    return json.dumps({"apiVersion": "agents.x-k8s.io/v1alpha1", "kind": "Sandbox", "metadata": {"name": name},
                       "spec": {"podTemplate": {"spec": {"containers": [{
                           "name": "main", "image": "host",
                           "command": ["/usr/bin/python3", "-c", "import time; print('up', flush=True); time.sleep(1e6)"]}]}}}})


def report(what, samples):
    for label, xs in samples.items():
        print(f"{what:10} {label:32} median {statistics.median(xs):7.1f} ms  min {min(xs):7.1f}  max {max(xs):7.1f}"
              f"  (n={len(xs)})")


def main():
    if len(sys.argv) < 3 or os.geteuid() != 0:
        raise SystemExit(__doc__)
    base, new = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    daemons = [Daemon("before", base, []),
               Daemon("after, --default-ephemeral-storage 0", new, ["--default-ephemeral-storage", "0"]),
               Daemon("after, default 10Gi", new, [])]
    try:
        runs_ms = {d.label: [] for d in daemons}
        for _ in range(runs):
            for d in daemons:
                runs_ms[d.label].append(d.timed("run", "--rm", "--", "/bin/true"))
                time.sleep(0.3)  # the spare is replaced outside the measured path
        report("run", runs_ms)
        ws_ms = {d.label: [] for d in daemons}
        for i in range(max(1, runs // 2)):
            for d in daemons:
                name = f"cost-{i}"
                t = d.timed("apply", "-f", "-", input=workspace(name))
                t += d.timed("wait", "--for=condition=Ready", f"sandbox/{name}", "--timeout=120s")
                ws_ms[d.label].append(t)
                d.timed("delete", "sandbox", name)
        report("workspace", ws_ms)
    finally:
        for d in daemons:
            d.stop()


if __name__ == "__main__":
    main()
