"""crashlib.py: what one private sbxd owns on the host, for the crash tests.

Several daemons run on this host at once (the e2e files run in parallel, and other people's),
so everything is found through this daemon's own traces: the sandbox ids it ever used (state
directories, id slots, records; `Inventory.observe()` collects them as the test goes), its
state directory (mounts, loop devices' backing files) and the host-wide id registry's rows for
its root. `Inventory.orphans()` lists what is left of those ids once everything is deleted.
"""

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import Daemon, build_dir
from sbxlib import host_mounts_under, pid_alive

REGISTRY = Path("/var/lib/sbx-ids/ranges.db")


@contextlib.contextmanager
def private_daemon(extra_args=(), prepare_root=None, start=True):
    """A private sbxd like the fixture's, whose root the caller may prepare first
    (prepare_root(tmp) returns the root path to use); stopped and removed at the end."""
    tmp = Path(tempfile.mkdtemp(prefix="sbx-crash-", dir="/tmp"))
    os.chmod(tmp, 0o755)
    (tmp / "bin").mkdir(mode=0o755)
    shutil.copy2(build_dir() / "sbx", tmp / "bin" / "sbx")
    os.chmod(tmp / "bin" / "sbx", 0o755)
    d = Daemon(build_dir(), tmp, list(extra_args))
    if prepare_root:
        d.root = prepare_root(tmp)
    try:
        if start:
            d.start()
        yield d
    finally:
        problems = d.stop() if d.proc is not None and d.proc.poll() is None else []
        for mp in sorted(host_mounts_under(tmp), key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        if not host_mounts_under(tmp):
            subprocess.run(["rm", "-rf", "--one-file-system", str(tmp)], capture_output=True)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


def query(db, sql, args=()):
    """Rows of a read-only query on an SQLite file (WAL: readers do not block the daemon)."""
    if not Path(db).exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def records(root):
    """{(namespace, name): x-sbx} of every stored Sandbox."""
    out = {}
    for (text,) in query(Path(root) / "sbx.db", "SELECT json FROM objects WHERE kind = 'Sandbox'"):
        o = json.loads(text)
        out[(o["metadata"]["namespace"], o["metadata"]["name"])] = o.get("x-sbx", {})
    return out


def edit_record(root, name, change, ns="default"):
    """Rewrites a stored Sandbox's x-sbx with change(x) (the daemon must be stopped)."""
    con = sqlite3.connect(str(Path(root) / "sbx.db"), timeout=10)
    try:
        rows = con.execute("SELECT json, owner FROM objects WHERE kind = 'Sandbox' AND namespace = ? AND name = ?",
                           (ns, name)).fetchall()
        assert len(rows) == 1, rows
        o = json.loads(rows[0][0])
        change(o.setdefault("x-sbx", {}))
        con.execute("UPDATE objects SET json = ? WHERE kind = 'Sandbox' AND namespace = ? AND name = ? AND owner = ?",
                    (json.dumps(o), ns, name, rows[0][1]))
        con.commit()
    finally:
        con.close()


def slot_holders(root):
    return [h for (h,) in query(Path(root) / "sbx.db", "SELECT holder FROM idslots")]


def slots(root):
    return {s for (s,) in query(Path(root) / "sbx.db", "SELECT slot FROM idslots")}


def registry_rows(root):
    return query(REGISTRY, "SELECT slot, holder FROM id_ranges WHERE store = ?", (str(Path(root).resolve() / "sbx.db"),))


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _ppid(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def shim_processes(ids):
    """{pid: id} of live processes whose command line is `sbx-shim <id>` for one of ids (a
    shim, or its pod holder or a container not yet exec'd: they carry the same one)."""
    out = {}
    for p in _pids():
        c = _cmdline(p)
        if len(c) > 1 and c[0] == b"sbx-shim" and c[1].decode(errors="replace") in ids and pid_alive(p):
            out[p] = c[1].decode()
    return out


def shims_of(sid):
    """Pids of the shims of sandbox `sid` (not their holders: a shim's parent is no shim)."""
    procs = shim_processes({sid})
    return sorted(p for p in procs if _ppid(p) not in procs)


def holders_of(sid):
    procs = shim_processes({sid})
    return sorted(p for p in procs if _ppid(p) in procs)


def cgroup_dirs(ids):
    """Cgroup directories named after one of ids under an `sbx` parent, in every hierarchy."""
    out = []
    for top in Path("/sys/fs/cgroup").iterdir() if Path("/sys/fs/cgroup").is_dir() else []:
        for parent in (top / "sbx", top) if (top / "cgroup.procs").exists() else (top / "sbx",):
            for i in ids:
                if (parent / i).is_dir():
                    out.append(str(parent / i))
    return sorted(set(out))


def procs_in_cgroups(ids):
    """Live processes (sbx-init, the users' commands) whose cgroup is named after one of ids."""
    out = []
    for p in _pids():
        try:
            cg = Path(f"/proc/{p}/cgroup").read_text()
        except OSError:
            continue
        if any(f"/sbx/{i}\n" in cg or f"/sbx/{i}/" in cg for i in ids) and pid_alive(p):
            out.append((p, b" ".join(_cmdline(p))[:80].decode(errors="replace")))
    return out


def loops_backed_under(prefix):
    """Loop devices whose backing file lies under prefix."""
    out = []
    for b in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            f = b.read_text().strip()
        except OSError:
            continue
        if f.startswith(str(prefix).rstrip("/") + "/"):
            out.append((b.parent.parent.name, f))
    return out


class Inventory:
    """The ids one daemon (its state directory `root`) has used, and what is left of them."""

    def __init__(self, root):
        self.root = Path(root)
        self.ids = set()

    def observe(self):
        """Adds every id now visible: state directories, id slots, records, and shims whose
        open files lie in this state directory."""
        sb = self.root / "sandboxes"
        if sb.is_dir():
            self.ids.update(p.name for p in sb.iterdir())
        self.ids.update(slot_holders(self.root))
        self.ids.update(x["id"] for x in records(self.root).values() if x.get("id"))
        mine = str(self.root / "sandboxes") + "/"
        for p in _pids():
            c = _cmdline(p)
            if len(c) > 1 and c[0] == b"sbx-shim":
                try:
                    if any(os.readlink(f"/proc/{p}/fd/{fd}").startswith(mine) for fd in os.listdir(f"/proc/{p}/fd")):
                        self.ids.add(c[1].decode(errors="replace"))
                except OSError:
                    pass

    def orphans(self):
        """Everything left of this daemon's sandboxes, by kind (empty lists when clean); call it
        once every sandbox and volume is deleted."""
        self.observe()
        sb = self.root / "sandboxes"
        return {
            "records": sorted(f"{k[0]}/{k[1]}" for k in records(self.root)),
            "shims and holders": sorted(shim_processes(self.ids).items()),
            "sandbox processes (sbx-init and below)": procs_in_cgroups(self.ids),
            "cgroups": cgroup_dirs(self.ids),
            "mounts under the root": [m for m in host_mounts_under(self.root) if m != str(self.root)],
            "loop devices under the root": loops_backed_under(self.root),
            "state directories": sorted(p.name for p in sb.iterdir()) if sb.is_dir() else [],
            "id slots in the store": slot_holders(self.root),
            "id ranges in the host registry": registry_rows(self.root),
        }
