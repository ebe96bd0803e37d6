"""setup.py: what bench/run prepares before measuring, and the machine's description.

- the peers, from Debian (scripts/install-deps.sh --bench);
- a real root filesystem (`debootstrap --variant=minbase bookworm`), built once into the
  cache and reused; it is published by a rename, so a half-built one is never picked up;
- the helper program (bench/c/sbxbench.c), compiled with the host's cc and installed under
  /usr/local/libexec/sbx-bench, where sbx's `host` image (which shows the host's /usr) and the
  host both run the same file. It is rebuilt when the source changes (the source's digest
  is kept next to it).
"""

import datetime
import hashlib
import os
import platform
import shutil
import subprocess

from .common import REPO, TOOL, TOOL_DIR, log, sh


def install_peers():
    r = subprocess.run([str(REPO / "scripts" / "install-deps.sh"), "--bench"])
    if r.returncode != 0:
        raise SystemExit("bench: installing the peers failed")


def ensure_rootfs(cache):
    rootfs, done = cache / "rootfs", cache / "rootfs.complete"
    if rootfs.is_dir() and done.exists():
        return rootfs
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f"rootfs.tmp-{os.getpid()}"
    mirror = os.environ.get("SBX_BENCH_MIRROR", "http://deb.debian.org/debian")
    log(f"building the root filesystem with debootstrap into {rootfs} (once, ~30 s)")
    r = sh(["debootstrap", "--variant=minbase", "bookworm", str(tmp), mirror])
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit(f"bench: debootstrap failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    if rootfs.exists():
        shutil.rmtree(rootfs)
    tmp.rename(rootfs)
    done.write_text(datetime.datetime.now(datetime.timezone.utc).isoformat() + "\n")
    return rootfs


def build_tool():
    """compile bench/c/sbxbench.c unless the installed one was built from the same source"""
    src = REPO / "bench" / "c" / "sbxbench.c"
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    stamp = TOOL_DIR / "sbxbench.sha256"
    if TOOL.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return
    cc = os.environ.get("CC", "cc")
    TOOL_DIR.mkdir(parents=True, exist_ok=True)
    tmp = TOOL_DIR / f".sbxbench.{os.getpid()}"
    r = sh([cc, "-std=gnu17", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", str(tmp), str(src)])
    if r.returncode != 0:
        raise SystemExit(f"bench: compiling {src} failed:\n{r.stderr[-3000:]}")
    os.chmod(tmp, 0o755)
    tmp.rename(TOOL)
    stamp.write_text(digest + "\n")
    log(f"built {TOOL}")


def cgroup_mode():
    if sh(["stat", "-fc", "%T", "/sys/fs/cgroup"]).stdout.strip() == "cgroup2fs":
        return "v2 (unified)"
    if os.path.isdir("/sys/fs/cgroup/unified"):
        return "hybrid (v1 controllers, v2 mount at /sys/fs/cgroup/unified)"
    return "v1"


def machine():
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:")), 0)
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    try:
        osname = next(l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release")
                      if l.startswith("PRETTY_NAME="))
    except (OSError, StopIteration):
        osname = "?"
    return [("CPU", f"{os.cpu_count()} x {model}"), ("memory", f"{mem / 1048576:.1f} GiB"),
            ("kernel", platform.release()), ("cgroups", cgroup_mode()), ("OS", osname),
            ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))]


def version(argv, env=None):
    try:
        r = sh(argv, timeout=10, env=env)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"
