"""common.py: what every benchmark of bench/run shares.

A benchmark is a module with NAME (its --only name), TITLE and run(ctx, res): it measures
through the Context (the private sbxd, the compiled helper program, the run sizes) and fills
its Result: summary rows (one per measurement: sbx, peers, ratio, target, verdict) and
markdown detail tables. A peer that is missing or fails is written into its cell as
"failed: why" and the benchmark goes on; when sbx itself cannot be measured the benchmark
raises SbxFailed, which the runner turns into a failed row and a non-zero exit status.

Statistics are plain: medians, percentiles by linear interpolation, and the spread as
p10..p90 (or min..max for fewer than five samples).
"""

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOL_DIR = Path("/usr/local/libexec/sbx-bench")  # under /usr: sbx's `host` image shows it
TOOL = TOOL_DIR / "sbxbench"
API = "agents.x-k8s.io/v1alpha1"


class SbxFailed(Exception):
    """sbx itself could not be measured (the run exits non-zero)."""


class PeerFailed(Exception):
    """a peer could not be measured (its cell says why; the run goes on)."""


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


def quote(argv):
    return " ".join(shlex.quote(str(a)) for a in argv)


def tail(r, n=300):
    """The end of a failed command's output, on one line."""
    text = ((r.stderr or "") + (r.stdout or "")).strip().replace("\n", " / ")
    return f"exit status {r.returncode}: {text[-n:]}"


# --- statistics -------------------------------------------------------------------------------

def percentile(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(xs):
    return percentile(xs, 0.5)


def spread(xs, fmt="{:.1f}"):
    """p10..p90, or min..max for a handful of samples"""
    if len(xs) < 2:
        return "-"
    lo, hi = (percentile(xs, 0.1), percentile(xs, 0.9)) if len(xs) >= 5 else (min(xs), max(xs))
    return f"{fmt.format(lo)}..{fmt.format(hi)}"


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def cell(s):
    """a markdown table cell: no pipes, no newlines, not too long"""
    return str(s).replace("|", "/").replace("\n", " ")[:220]


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


class Result:
    """What one benchmark reports."""

    def __init__(self, name, title):
        self.name, self.title = name, title
        self.rows = []      # (measurement, sbx, peers, ratio, target, verdict)
        self.details = []   # markdown blocks
        self.plots = []     # (path, caption)
        self.sbx_error = None
        self.seconds = 0.0

    def row(self, measurement, sbx, peers="-", ratio="-", target="-", verdict="-"):
        self.rows.append((measurement, sbx, peers, ratio, target, verdict))

    def detail(self, text):
        self.details.append(text)


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "missed")


# --- the machine ------------------------------------------------------------------------------

def meminfo(key="MemAvailable"):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def proc_status(pid, key):
    """a /proc/PID/status field in bytes (VmRSS...), 0 when the process is gone"""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pss(pid):
    """proportional set size of a process in bytes (0 when gone)"""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def processes():
    """{pid: (ppid, comm, exe)} of every process"""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            comm = st[st.index("(") + 1:st.rindex(")")]
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            try:
                exe = os.readlink(f"/proc/{d}/exe")
            except OSError:
                exe = ""
            out[int(d)] = (ppid, comm, exe)
        except (OSError, ValueError):
            continue
    return out


def cgroup_cpu_usage_file(pid):
    """the file holding the CPU time (ns, or usage_usec on v2) of the cgroup PID is in, as seen
    from the host: (path, is_v2) or (None, None)"""
    try:
        lines = open(f"/proc/{pid}/cgroup").read().splitlines()
    except OSError:
        return None, None
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if "cpuacct" in ctrls.split(","):
            for mnt in ("cpuacct", "cpu,cpuacct", "cpuacct,cpu"):
                f = Path("/sys/fs/cgroup") / mnt / path.lstrip("/") / "cpuacct.usage"
                if f.exists():
                    return f, False
    for line in lines:
        if line.startswith("0::"):
            path = line[3:].lstrip("/")
            for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                f = Path(base) / path / "cpu.stat"
                if f.exists():
                    return f, True
    return None, None


def read_cpu_ns(f, v2):
    try:
        if v2:
            for line in f.read_text().splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) * 1000
            return 0
        return int(f.read_text())
    except (OSError, ValueError):
        return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=20.0, netns_pid=None):
    """until something accepts on 127.0.0.1:port (on the host)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def kill_group(proc, sig=signal.SIGTERM):
    """end a process we started in its own session, and its children"""
    if proc and proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- the private daemon and its CLI -----------------------------------------------------------

class Sbxd:
    """A private sbxd (own --root and --socket) and the sbx CLI pointed at it."""

    def __init__(self, build, tmp, name="sbx", args=()):
        self.build, self.root, self.sock = build, tmp / f"{name}-root", tmp / f"{name}.sock"
        self.log = tmp / f"{name}d.log"
        self.args = list(args)
        self.proc = None
        self.env = dict(os.environ, SBX_SOCKET=str(self.sock))
        self.sbx = str(build / "sbx")

    def cli(self, *args, input=None, timeout=120, check=False):
        r = sh([self.sbx, *map(str, args)], env=self.env, input=input, timeout=timeout)
        if check and r.returncode != 0:
            raise SbxFailed(f"sbx {quote(args)[:120]}: {tail(r)}")
        return r

    def popen(self, *args, **kw):
        return subprocess.Popen([self.sbx, *map(str, args)], env=self.env, start_new_session=True, **kw)

    def answers(self):
        try:
            return self.cli("version", timeout=5).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self):
        sbxd = self.build / "sbxd"
        if not os.access(sbxd, os.X_OK) or not os.access(self.build / "sbx", os.X_OK):
            return f"sbxd/sbx not found in {self.build} (build first, or set SBX_BUILD)"
        self.root.mkdir(mode=0o700)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([str(sbxd), "--root", str(self.root), "--socket", str(self.sock), *self.args],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         start_new_session=True)
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return f"sbxd did not start: {self.log.read_text(errors='replace')[-2000:]}"
            time.sleep(0.1)
        return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # --- workspaces (sbx apply and friends, kubectl's verbs) ---

    def has_verb(self, verb):
        r = self.cli(verb, "--help", timeout=10)
        text = (r.stdout + r.stderr).lower()
        return r.returncode == 0 and "unknown command" not in text

    def need(self, *verbs):
        missing = [v for v in verbs if not self.has_verb(v)]
        if missing:
            raise SbxFailed(f"this sbx has no `{'`, `'.join(missing)}` (the workspace features are not built yet)")

    def apply(self, docs, timeout=300):
        text = "\n---\n".join(json.dumps(d) for d in docs)
        return self.cli("apply", "-f", "-", input=text, timeout=timeout, check=True)

    def list(self):
        r = self.cli("get", "sandboxes", "-o", "json", check=True)
        return json.loads(r.stdout).get("items", [])

    def get(self, name):
        r = self.cli("get", "sandbox", name, "-o", "json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def wait_ready(self, names, timeout=300, interval=0.2):
        """until every named sandbox has condition Ready=True; polls one list per round"""
        want = set(names)
        deadline = time.monotonic() + timeout
        last = {}
        while True:
            ready = set()
            for o in self.list():
                n = o.get("metadata", {}).get("name")
                last[n] = o
                if n in want and is_ready(o):
                    ready.add(n)
            if ready >= want:
                return
            if time.monotonic() > deadline:
                missing = sorted(want - ready)
                why = ready_message(last.get(missing[0], {}))
                raise SbxFailed(f"{len(missing)} of {len(want)} sandboxes not Ready after {timeout}s "
                                f"({missing[0]}: {why})")
            time.sleep(interval)

    def delete(self, names, timeout=300):
        """delete the sandboxes and wait until none of them is listed"""
        names = list(names)
        for i in range(0, len(names), 50):
            self.cli("delete", "sandbox", *names[i:i + 50], timeout=timeout)
        want = set(names)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = {o.get("metadata", {}).get("name") for o in self.list()} & want
            if not left:
                return
            time.sleep(0.2)
        raise SbxFailed(f"sandboxes still listed {timeout}s after delete")

    def container_pid(self, name, timeout=60):
        """the host pid of the sandbox's first container once it runs (its netns is the pod's)"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            o = self.get(name) or {}
            for c in o.get("status", {}).get("podStatus", {}).get("containerStatuses", []):
                if c.get("pid"):
                    return int(c["pid"])
            time.sleep(0.05)
        raise SbxFailed(f"sandbox {name}: no running container pid after {timeout}s: {ready_message(o)}")

    def delete_everything(self):
        """the safety net at the end of a run: sandboxes outlive their daemon, so none may be
        left behind when the private sbxd stops"""
        if not self.proc or self.proc.poll() is not None or not self.has_verb("apply"):
            return
        try:
            names = [o["metadata"]["name"] for o in self.list()]
            if names:
                log(f"deleting {len(names)} sandboxes left behind")
                self.delete(names, timeout=120)
        except (SbxFailed, ValueError, KeyError, subprocess.TimeoutExpired) as e:
            log(f"could not delete every sandbox: {e}")

    def shim_path(self):
        return os.path.realpath(self.build / "sbx-shim")


def is_ready(obj):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in obj.get("status", {}).get("conditions", []))


def ready_message(obj):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == "Ready":
            return f"{c.get('reason')}: {c.get('message')}"
    return "no Ready condition"


def sandbox(name, command, cpu=None, env=None, labels=None, annotations=None):
    """a Sandbox manifest with one container on the host image"""
    c = {"name": "main", "image": "host", "command": list(map(str, command))}
    if env:
        c["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if cpu:
        c["resources"] = {"requests": {"cpu": cpu}}
    md = {"name": name}
    if labels:
        md["labels"] = labels
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": API, "kind": "Sandbox", "metadata": md,
            "spec": {"podTemplate": {"spec": {"containers": [c]}}}}


# --- the run ----------------------------------------------------------------------------------

class Context:
    """What the benchmarks share in one run."""

    def __init__(self, quick, runs, build, tmp, sbxd, cgparent, img_dir, cache):
        self.quick, self.runs, self.build, self.tmp = quick, runs, build, tmp
        self.sbxd, self.cgparent, self.img_dir, self.cache = sbxd, cgparent, img_dir, cache
        self._rootfs = None

    def rootfs(self):
        if self._rootfs is None:
            from . import setup
            self._rootfs = setup.ensure_rootfs(self.cache)
        return self._rootfs

    def reps(self, full):
        """repetitions: `full` normally, 1 with --quick"""
        return 1 if self.quick else full


def tool(*args):
    return [str(TOOL), *map(str, args)]


def run_tool(*args, timeout=600, prefix=()):
    r = sh([*prefix, *tool(*args)], timeout=timeout)
    if r.returncode != 0:
        raise PeerFailed(tail(r))
    return r.stdout


def have(cmd):
    return shutil.which(cmd) is not None
