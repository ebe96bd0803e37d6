"""test_crash_windows.py: leaks and crash windows of a daemon that runs for a year.

Each test reproduces one reported failure and fails without its fix:

* a pod's namespace holder outliving a `kill -9` of its shim (parent-death signal set before
  the holder changed its ids, which clears it);
* every daemon stop leaking the id slots of its warm-pool spares;
* a shim spawned before its pid was recorded (a crash in between): the next daemon started a
  second one;
* two daemons on one --root; two daemons on two roots handing out the same host id ranges;
  the ranges of a removed root held forever;
* a zero-length sbx.db taken for a fresh store, and the running sandboxes cleaned up;
* `sbx delete` failing on a full state file system, and `apply` then blaming the id ranges;
* the crash back-off never reset by a long healthy run;
* a directory above --root that the sandboxes' ids cannot search, found only by overlay's
  "Permission denied".
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import crashlib
from conftest import build_dir
from crashlib import private_daemon
from sbxlib import explain, pid_alive, unique_name, wait_until
from workspaces import applied, apply, container, get, ready, sandbox, wait_ready


def sleeper():
    return container("main", ["/usr/bin/python3", "-c", "import time; time.sleep(100000)"])


def sandbox_id(root, name):
    return crashlib.records(root)[("default", name)]["id"]


def running_workspace(d, what):
    """A Ready workspace of alice's: (its name, its sandbox id)."""
    name = unique_name(what)
    applied(d.run, sandbox(name, [sleeper()]))
    wait_ready(d.run, name)
    return name, sandbox_id(d.root, name)


def stop_daemon(d):
    """SIGTERM (a clean stop: spares leave by themselves)."""
    d.proc.send_signal(signal.SIGTERM)
    d.proc.wait(timeout=20)


# ---- 1. the pod holder dies with its shim ------------------------------------------------

def test_pod_holder_dies_when_its_shim_is_killed(own_daemon, users):
    d = own_daemon
    name, sid = running_workspace(d, "holder")
    try:
        shims, holders = crashlib.shims_of(sid), crashlib.holders_of(sid)
        assert len(shims) == 1 and holders, (shims, holders)
        os.kill(shims[0], signal.SIGKILL)
        # the holder gets SIGKILL from the kernel as its parent dies
        assert wait_until(lambda: not any(pid_alive(h) for h in holders), 20), \
            f"the pod holder(s) {holders} outlived their killed shim"
    finally:
        assert d.run("delete", "sandbox", name, user="alice", timeout=90).returncode == 0


# ---- 2. spares' id slots come back at every restart ----------------------------------------

def test_daemon_restarts_do_not_leak_the_spares_id_slots(users):
    with private_daemon(["--warm-pool", "3"]) as d:
        inv = crashlib.Inventory(d.root)
        for _ in range(3):
            wait_until(lambda: len(crashlib.slot_holders(d.root)) == 3, 20)
            inv.observe()
            stop_daemon(d)
            d.start()
        assert wait_until(lambda: len(crashlib.slot_holders(d.root)) == 3, 20)
        held = crashlib.slot_holders(d.root)
        assert len(held) == 3, f"id slots after 3 restarts with a pool of 3: {held}"
        assert sorted(h for _, h in crashlib.registry_rows(d.root)) == sorted(held)
        # the spares are the only holders, and nothing of the stopped daemons' spares is left
        old = inv.ids - set(held)
        assert not crashlib.shim_processes(old) and not crashlib.cgroup_dirs(old)


# ---- 3. a shim started just before a crash is adopted, not doubled --------------------------

def test_shim_spawned_before_its_pid_was_recorded_is_adopted(own_daemon, users):
    d = own_daemon
    name, sid = running_workspace(d, "window")
    try:
        shim = crashlib.shims_of(sid)
        assert len(shim) == 1
        # the state a kill -9 between the spawn and the store's update leaves
        d.kill9()
        crashlib.edit_record(d.root, name, lambda x: x.pop("shimPid", None))
        d.restart()
        wait_ready(d.run, name)
        time.sleep(2)  # a few reconciler passes: a second shim would have been started by now
        assert crashlib.shims_of(sid) == shim, "a second shim was started for one sandbox"
        assert crashlib.records(d.root)[("default", name)].get("shimPid") == shim[0]
        assert d.run("delete", "sandbox", name, user="alice", timeout=90).returncode == 0
        assert wait_until(lambda: not crashlib.shim_processes({sid}), 20)
        assert not crashlib.cgroup_dirs({sid})
    finally:
        d.run("delete", "sandbox", name, user="alice", timeout=90)


# ---- 4. one daemon per root; host-wide id ranges ----------------------------------------------

def test_second_daemon_on_one_root_is_refused_and_touches_nothing(users):
    with private_daemon(["--warm-pool", "2"]) as d:
        assert wait_until(lambda: len(crashlib.slot_holders(d.root)) == 2, 20)
        spares = crashlib.slot_holders(d.root)
        pids = {sid: crashlib.shims_of(sid) for sid in spares}
        r = subprocess.run([str(build_dir() / "sbxd"), "--root", str(d.root), "--socket", str(d.tmp / "other.sock")],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, "a second sbxd started on a root that one already uses"
        assert f"pid {d.proc.pid}" in r.stderr and "sbxd.lock" in r.stderr, r.stderr
        assert crashlib.slot_holders(d.root) == spares
        assert {sid: crashlib.shims_of(sid) for sid in spares} == pids, "the first daemon's spares were touched"
        d.assert_alive()


def test_two_roots_get_disjoint_id_ranges_and_a_removed_root_frees_its_own(users):
    with private_daemon(["--warm-pool", "3"]) as a, private_daemon(["--warm-pool", "3"]) as b:
        assert wait_until(lambda: len(crashlib.slots(a.root)) == 3 and len(crashlib.slots(b.root)) == 3, 20)
        r = a.run("run", "--rm", "--", "cat", "/proc/self/uid_map")
        assert r.returncode == 0, explain(r)
        sa, sb = crashlib.slots(a.root), crashlib.slots(b.root)
        assert not sa & sb, f"two daemons hold the same host id ranges: {sorted(sa & sb)}"
        b_root = b.root.resolve()
        stop_daemon(b)
        subprocess.run(["rm", "-rf", "--one-file-system", str(b_root)], check=True)
        # any daemon's start drops the ranges of a root that has no store any more
        stop_daemon(a)
        a.start()
        assert not crashlib.registry_rows(b_root), "the ranges of a removed root are held forever"


# ---- 5. a lost store stops the daemon -----------------------------------------------------------

def test_empty_store_next_to_running_sandboxes_stops_the_daemon(own_daemon, users):
    d = own_daemon
    name, sid = running_workspace(d, "lost")
    shim = crashlib.shims_of(sid)
    cgroups = crashlib.cgroup_dirs({sid})
    d.kill9()
    db = d.root / "sbx.db"
    backup = d.tmp / "backup"
    backup.mkdir()
    for f in d.root.glob("sbx.db*"):
        shutil.copy2(f, backup / f.name)
        f.unlink()
    db.write_bytes(b"")  # what a crash of the file system, or an operator's mistake, leaves
    try:
        r = subprocess.run([str(build_dir() / "sbxd"), "--root", str(d.root), "--socket", str(d.sock)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, f"sbxd started on an empty store next to a running sandbox:\n{r.stderr}"
        assert "empty" in r.stderr and "refusing to start" in r.stderr and str(db) in r.stderr, r.stderr
        assert (d.root / "sandboxes" / sid).is_dir(), "the running sandbox's state was deleted"
        assert crashlib.shims_of(sid) == shim and crashlib.cgroup_dirs({sid}) == cgroups
    finally:
        for f in d.root.glob("sbx.db*"):
            f.unlink()
        for f in backup.iterdir():
            shutil.copy2(f, d.root / f.name)
        d.restart()
        assert d.run("delete", "sandbox", name, user="alice", timeout=90).returncode == 0


# ---- 6. a full state file system -----------------------------------------------------------------

def _tmpfs_root(tmp):
    root = tmp / "root"
    root.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "sbx-e2e-full", str(root)], check=True)
    return root


def _fill(path):
    """Writes a file until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 512):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_delete_works_on_a_full_disk_and_errors_name_the_disk(users):
    with private_daemon(["--warm-pool", "0"], prepare_root=_tmpfs_root) as d:
        name, other = unique_name("full"), unique_name("full2")
        applied(d.run, sandbox(name, [sleeper()]))
        wait_ready(d.run, name)
        _fill(d.root / "filler")
        r = apply(d.run, sandbox(other, [sleeper()]))
        assert r.returncode != 0, explain(r)
        assert "no free host id range" not in r.stderr and "full" in r.stderr, explain(r)
        r = d.run("delete", "sandbox", name, user="alice", timeout=90)
        assert r.returncode == 0, f"delete failed on a full disk: {explain(r)}"
        assert not crashlib.records(d.root), "the deleted sandbox is still recorded"
        (d.root / "filler").unlink()
        applied(d.run, sandbox(other, [sleeper()]))
        wait_ready(d.run, other)
        assert d.run("delete", "sandbox", other, user="alice", timeout=90).returncode == 0


# ---- 7. the crash back-off resets after a healthy run ----------------------------------------------

def test_crash_backoff_resets_after_ten_minutes_of_running(own_daemon, users):
    d = own_daemon
    name, sid = running_workspace(d, "backoff")
    try:
        # nine crashes long ago, and this run started eleven minutes ago
        d.kill9()
        long_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 660))
        crashlib.edit_record(d.root, name, lambda x: x.update(crashes=9, startedAt=long_ago))
        d.restart()
        wait_ready(d.run, name)
        os.kill(crashlib.shims_of(sid)[0], signal.SIGKILL)

        def described():
            return d.run("describe", "sandbox", name, user="alice").stdout
        assert wait_until(lambda: "restarting in" in described(), 30), described()
        text = described()
        assert "restarting in 1 s" in text, f"the back-off was not reset by an 11-minute run:\n{text}"
        wait_ready(d.run, name, timeout=60)
        assert ready(get(d.run, name))["status"] == "True"
    finally:
        d.run("delete", "sandbox", name, user="alice", timeout=90)


# ---- 9. a root the sandboxes cannot reach ------------------------------------------------------------

def test_unsearchable_directory_above_root_is_named_at_start(users):
    def locked_root(tmp):
        locked = tmp / "locked"
        locked.mkdir(mode=0o700)
        return locked / "root"
    with private_daemon(prepare_root=locked_root, start=False) as d:
        r = subprocess.run([str(build_dir() / "sbxd"), "--root", str(d.root), "--socket", str(d.sock)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, "sbxd started under a directory its sandboxes cannot search"
        locked = str(d.root.parent)
        assert f"{locked} (mode 0700" in r.stderr and f"chmod o+x {locked}" in r.stderr, r.stderr
