"""test_disk.py: every byte a sandbox can make on the host has a bound (docs/security.md).

Each test starts its own sbxd with the disk options it needs (--default-ephemeral-storage,
--log-max-size/--log-max-files, --storage-overcommit), most of them with --root on a small
ext4 file system of their own (a 512 MiB image, loop-mounted under the test's directory and
unmounted at the end), so that the host's free space can be compared exactly and no other
work on the machine disturbs it. alice attacks; bob checks he is unaffected:

* the writable layer: `sbx run` (a spare of the warm pool and a direct start) and a pod
  without an ephemeral-storage limit get ENOSPC past the default bound, the host's disk
  does not move beyond it, and bob still writes his own and starts;
* logs: a container's stdout is a pipe (fallocate on fd 1 fails; the host file does not
  grow), the shim caps and rotates the file, `sbx logs -f` follows across rotations
  without losing or repeating a line, `sbx logs -p` shows the previous instance, and -f
  keeps following while sbxd restarts, and says so when the sandbox is gone;
* claims: a 2Ti claim on a 512 MiB disk is Pending with the sizes named, two claims that
  each fit but not together leave the second Pending, and over-commit 2.0 admits both.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import Daemon, build_dir
from sbxlib import PY, explain, finish, read_until, unique_name, wait_until
from workspaces import apply, container, container_status, get, sandbox, wait_condition, wait_ready

MiB = 1 << 20


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def all_sandboxes(d):
    r = d.run("get", "sandboxes", "-A", "-o", "json")
    return json.loads(r.stdout).get("items") if r.returncode == 0 else ["unknown"]


@contextlib.contextmanager
def private_daemon(*args, small_fs=True):
    """A private sbxd with `args`; with small_fs its --root is a fresh 512 MiB ext4."""
    tmp = Path(tempfile.mkdtemp(prefix="sbx-e2e-disk-", dir="/tmp"))
    os.chmod(tmp, 0o755)
    (tmp / "bin").mkdir(mode=0o755)
    shutil.copy2(build_dir() / "sbx", tmp / "bin" / "sbx")
    os.chmod(tmp / "bin" / "sbx", 0o755)
    if small_fs:
        img = tmp / "disk.img"
        subprocess.run(["truncate", "-s", "512M", str(img)], check=True)
        subprocess.run(["/sbin/mkfs.ext4", "-q", "-F", "-m", "0", str(img)], check=True)
        (tmp / "root").mkdir(mode=0o711)
        subprocess.run(["mount", "-o", "loop", str(img), str(tmp / "root")], check=True)
    # the per-person storage quota (half the file system by default) would answer before
    # the free-space admission these tests attack: it is tested in test_attacks_resources.py
    d = Daemon(build_dir(), tmp, ["--quota-storage", "none", *args])
    try:
        d.start()
        yield d
    finally:
        if d.proc is not None and d.proc.poll() is not None and d.killed_on_purpose:
            d.start()
        if d.proc is not None and d.proc.poll() is None:
            # a failed test leaves its sandboxes: stop them before the daemon, or they outlive
            # it (each is deleted as its owner, alice or bob: root deletes only its own)
            for item in all_sandboxes(d):
                md = item.get("metadata", {}) if isinstance(item, dict) else {}
                for u in ("alice", "bob"):
                    d.run("delete", "sandbox", "-n", md.get("namespace", "default"), md.get("name", ""), user=u,
                          timeout=120)
            wait_until(lambda: not all_sandboxes(d), 120)
        problems = d.stop()
        d.remove_tmp()  # unmounts everything under tmp (the small disk too), then removes it
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


def delete(sbx, name, user="alice"):
    """Delete a sandbox and wait until it is gone (its shim stopped), so that stopping the
    private daemon afterwards leaves nothing running."""
    r = sbx("delete", "sandbox", name, user=user, timeout=120)
    assert r.returncode == 0, explain(r)
    assert wait_until(lambda: sbx("get", "sandbox", name, user=user).returncode != 0, 120), f"{name} stays"


def pod_status(sbx, name, user="alice"):
    return get(sbx, name, user=user).get("status", {}).get("podStatus", {})


# --- the writable layer -----------------------------------------------------------------------

FILL = "dd if=/dev/zero of=/fill bs=1M count=200 2>&1; echo dd-status=$?; sync"


def test_run_writable_layer_is_bounded(users):
    with private_daemon("--default-ephemeral-storage", "64Mi", "--warm-pool", "1") as d:
        root_free = free_bytes(d.root)
        # the first run takes the warm pool's spare, the second (at once) most likely starts
        # directly: both paths must carry the bound
        for _ in range(2):
            r = d.run("run", "--rm", "--", "/bin/sh", "-c", FILL, user="alice", timeout=120)
            assert "No space left on device" in r.stdout, explain(r)
            assert "dd-status=1" in r.stdout, explain(r)
        # the host's disk did not take alice's bytes (the layer is a bounded tmpfs)
        assert free_bytes(d.root) >= root_free - 16 * MiB
        # bob, after her, writes his own bound's worth and starts normally
        r = d.run("run", "--rm", "--", "/bin/sh", "-c",
                  "dd if=/dev/zero of=/mine bs=1M count=48 2>&1 && echo bob-wrote", user="bob", timeout=120)
        assert r.returncode == 0 and "bob-wrote" in r.stdout, explain(r)


def test_pod_writable_layer_is_bounded_by_default(users):
    with private_daemon("--default-ephemeral-storage", "64Mi") as d:
        sbx = d.run
        a, b = unique_name("fill"), unique_name("calm")
        before = free_bytes(d.root)
        assert apply(sbx, sandbox(a, [container("main")]), user="alice").returncode == 0
        wait_ready(sbx, a)
        r = sbx("exec", a, "--", PY, "-c",
                "import os\nfd = os.open('/fill', os.O_WRONLY | os.O_CREAT)\n"
                "try:\n os.posix_fallocate(fd, 0, 200 << 20); print('fallocate-ok')\n"
                "except OSError as e: print('fallocate', e.errno)\n"
                "w = 0\n"
                "try:\n"
                " while True: w += os.write(fd, b'x' * (1 << 20))\n"
                "except OSError as e: print('write', e.errno, w >> 20)\n", user="alice", timeout=120)
        assert r.returncode == 0, explain(r)
        assert "fallocate 28" in r.stdout and "write 28" in r.stdout, explain(r)  # ENOSPC both ways
        wrote = int(r.stdout.split("write 28")[1].split()[0])
        assert wrote <= 64, r.stdout
        # the daemon's disk lost at most the bound (plus the file system's own metadata)
        assert free_bytes(d.root) >= before - 64 * MiB - 16 * MiB
        # bob's workspace starts and writes within its own bound
        assert apply(sbx, sandbox(b, [container("main")]), user="bob").returncode == 0
        wait_ready(sbx, b, user="bob")
        r = sbx("exec", b, "--", "/bin/sh", "-c", "dd if=/dev/zero of=/mine bs=1M count=48 2>&1 && echo bob-wrote",
                user="bob", timeout=120)
        assert r.returncode == 0 and "bob-wrote" in r.stdout, explain(r)
        for n, u in ((a, "alice"), (b, "bob")):
            delete(sbx, n, user=u)


# --- logs -------------------------------------------------------------------------------------

def log_files(d, container_name):
    return sorted(str(p) for p in (d.root / "sandboxes").glob(f"*/logs/{container_name}.*"))


def test_container_stdout_is_a_pipe_it_cannot_fallocate(users):
    with private_daemon("--default-ephemeral-storage", "64Mi") as d:
        sbx = d.run
        name = unique_name("logfill")
        code = ("import os, stat, time\n"
                "print('kind', 'fifo' if stat.S_ISFIFO(os.fstat(1).st_mode) else 'file', flush=True)\n"
                "for what, f in (('fallocate', lambda: os.posix_fallocate(1, 0, 300 << 20)),\n"
                "                ('truncate', lambda: os.ftruncate(1, 300 << 20)),\n"
                "                ('seek', lambda: os.lseek(1, 300 << 20, 0))):\n"
                "    try:\n        f(); print(what, 'ok', flush=True)\n"
                "    except OSError as e:\n        print(what, 'refused', e.errno, flush=True)\n"
                "time.sleep(100000)\n")
        before = free_bytes(d.root)
        assert apply(sbx, sandbox(name, [container("main", [PY, "-c", code])]), user="alice").returncode == 0
        wait_ready(sbx, name)
        assert wait_until(lambda: "seek" in sbx("logs", name, user="alice").stdout, 30)
        out = sbx("logs", name, user="alice").stdout
        assert "kind fifo" in out, out
        for what in ("fallocate", "truncate", "seek"):
            assert f"{what} refused" in out, out
        for f in log_files(d, "main"):
            assert os.path.getsize(f) < 4096, f
        assert free_bytes(d.root) >= before - 32 * MiB
        delete(sbx, name, user="alice")


def printer(line, pause, count=None):
    """A container's Python program: print `line` (an f-string of i) every `pause` seconds."""
    loop = f"range({count})" if count else "itertools.count()"
    return f"import itertools, time\nfor i in {loop}:\n    print(f{line!r}, flush=True)\n    time.sleep({pause})\n"


SLOW_LINES = printer("line {i:05d} " + "x" * 1000, 0.02, 300)


def test_logs_are_capped_rotated_and_followed(users):
    with private_daemon("--log-max-size", "64Ki", "--log-max-files", "3", small_fs=False) as d:
        sbx = d.run
        name = unique_name("rotate")
        doc = sandbox(name, [container("main", [PY, "-c", SLOW_LINES])], pod_extra={"restartPolicy": "Never"})
        assert apply(sbx, doc, user="alice").returncode == 0
        assert wait_until(lambda: sbx("logs", name, user="alice").returncode == 0, 60)
        p = d.popen("logs", "-f", name, user="alice")
        status, out, err = finish(p, timeout=120)
        assert status == 0, err
        got = [int(m) for m in re.findall(rb"line (\d+) ", out)]
        # followed across every rotation: each line once, in order
        assert got and got == list(range(got[0], 300)), (got[:5], len(got), err)
        files = log_files(d, "main")
        names = sorted(os.path.basename(f) for f in files)
        assert names == ["main.log", "main.log.1", "main.log.2"], names
        for f in files:
            assert os.path.getsize(f) <= 64 * 1024, (f, os.path.getsize(f))
        # the files hold the newest lines, whole, oldest first .2, .1, current
        text = b"".join(Path(f).read_bytes() for f in (files[2], files[1], files[0]))
        kept = [int(m) for m in re.findall(rb"line (\d+) ", text)]
        assert kept == list(range(kept[0], 300)), kept[:5]
        assert all(len(line) == 1011 for line in text.splitlines()), "a line was split"
        delete(sbx, name, user="alice")


RUNS = ("n=$(cat /count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /count; echo run-$n; "
        "[ $n -ge 2 ] && exec sleep 100000; exit 3")


def test_logs_previous_is_the_last_terminated_instance(sbx, users):
    name = unique_name("prev")
    doc = sandbox(name, [container("main", ["/bin/sh", "-c", RUNS])], pod_extra={"restartPolicy": "OnFailure"})
    assert apply(sbx, doc, user="alice").returncode == 0
    try:
        wait_condition(sbx, name, lambda o: container_status(o).get("restartCount", 0) >= 1 and
                       "running" in container_status(o).get("state", {}), timeout=120)
        assert wait_until(lambda: sbx("logs", name, user="alice").stdout == "run-2\n", 30)
        r = sbx("logs", name, user="alice")
        assert r.returncode == 0 and r.stdout == "run-2\n", explain(r)
        for flag in ("-p", "--previous"):
            r = sbx("logs", flag, name, user="alice")
            assert r.returncode == 0 and r.stdout == "run-1\n", explain(r)
        # bob sees neither
        r = sbx("logs", "-p", name, user="bob")
        assert r.returncode != 0 and "not found" in r.stderr, explain(r)
    finally:
        delete(sbx, name, user="alice")


def test_logs_previous_without_one_is_not_found(sbx, users):
    name = unique_name("noprev")
    assert apply(sbx, sandbox(name, [container("main")]), user="alice").returncode == 0
    try:
        wait_ready(sbx, name)
        r = sbx("logs", "-p", name, user="alice")
        assert r.returncode != 0, explain(r)
        assert 'previous terminated container "main" in pod' in r.stderr, explain(r)
    finally:
        delete(sbx, name, user="alice")


TICKER = printer("tick {i}", 0.1)


def follow_ticker(d, what):
    """alice's ticking sandbox on d, and `sbx logs -f` of it once it has ticked 3 times."""
    name = unique_name(what)
    assert apply(d.run, sandbox(name, [container("main", [PY, "-c", TICKER])]), user="alice").returncode == 0
    wait_ready(d.run, name)
    p = d.popen("logs", "-f", name, user="alice")
    return name, p, read_until(p, "tick 3\n", timeout=30)


def test_logs_follow_survives_a_daemon_restart(users):
    with private_daemon(small_fs=False) as d:
        sbx = d.run
        name, p, out = follow_ticker(d, "follow")
        try:
            d.kill9()
            time.sleep(2.5)  # the follower notices (it asks every second) and reads on
            d.restart()
            out += read_until(p, "tick 80\n", timeout=60)
            assert p.poll() is None, "logs -f ended with the daemon"
            got = [int(m) for m in re.findall(rb"tick (\d+)\n", out)]
            assert got == list(range(0, got[-1] + 1)), "a line was lost or repeated across the restart"
            delete(sbx, name, user="alice")
            status, rest, err = finish(p, timeout=60)
            assert status == 0, err
            after = [int(m) for m in re.findall(rb"tick (\d+)\n", out + rest)]
            assert after == list(range(0, after[-1] + 1))
            assert b"waiting for sbxd to come back" in err and b"sbxd is back" in err, err
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_logs_follow_says_when_the_sandbox_is_gone(users):
    """sbxd comes back without the sandbox (here: started on another state directory, as
    after losing its store): the follower prints what is left and says why it ends."""
    with private_daemon(small_fs=False) as d:
        sbx = d.run
        name, p, _ = follow_ticker(d, "gone")
        root = d.root
        try:
            d.kill9()
            d.root = root.parent / "other-root"
            d.restart()
            status, _, err = finish(p, timeout=60)
            assert status == 0, err
            assert f'sandbox "{name}" is gone; its log ends here'.encode() in err, err
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            d.kill9()
            d.root = root  # back to the daemon that knows the sandbox, to delete it
            d.restart()
        delete(sbx, name, user="alice")


# --- claims -----------------------------------------------------------------------------------

def claim_doc(name, size):
    return sandbox(name, [container("main", volumeMounts=[{"name": "work", "mountPath": "/work"}])],
                   claims={"work": size})


def wait_pending(sbx, name, needle, user="alice"):
    def pending():
        ps = pod_status(sbx, name, user)
        return ps if ps.get("phase") == "Pending" and needle in ps.get("message", "") else None
    ps = wait_until(pending, 60)
    assert ps, json.dumps(get(sbx, name, user=user).get("status"), indent=1)
    return ps


def test_claims_are_admitted_against_free_space(users):
    with private_daemon("--default-ephemeral-storage", "16Mi", "--warm-pool", "0") as d:
        sbx = d.run
        huge, one, two, small = unique_name("huge"), unique_name("one"), unique_name("two"), unique_name("small")
        assert apply(sbx, claim_doc(huge, "2Ti"), user="alice").returncode == 0
        ps = wait_pending(sbx, huge, "asks 2.0Ti;")
        assert re.search(r"persistentvolumeclaim \"work-" + huge + r"\" asks 2\.0Ti; \d+Mi is free on " +
                         re.escape(str(d.root)) + r" \(over-commit 1\.0\)", ps["message"]), ps
        assert ps["reason"] == "Unschedulable"
        pvc = json.loads(sbx("get", "pvc", f"work-{huge}", "-o", "json", user="alice").stdout)
        assert pvc["status"]["phase"] == "Pending", pvc
        assert "asks 2.0Ti" in pvc["status"]["conditions"][0]["message"]
        assert not list((d.root / "volume-images").rglob(f"work-{huge}.img"))
        # two claims that each fit but not together: the first is reserved, the second waits
        before = free_bytes(d.root)
        assert apply(sbx, claim_doc(one, "300Mi"), user="alice").returncode == 0
        wait_ready(sbx, one)
        assert free_bytes(d.root) <= before - 300 * MiB, "the claim was not reserved"
        assert apply(sbx, claim_doc(small, "100Mi"), user="bob").returncode == 0
        wait_ready(sbx, small, user="bob")
        assert apply(sbx, claim_doc(two, "300Mi"), user="bob").returncode == 0
        wait_pending(sbx, two, "asks 300Mi;", user="bob")
        # alice's full claim takes no more than it reserved ...
        r = sbx("exec", one, "--", "/bin/sh", "-c", "dd if=/dev/zero of=/work/f bs=1M count=400 2>&1; sync; echo done",
                user="alice", timeout=120)
        assert "No space left on device" in r.stdout, explain(r)
        # ... and bob's admitted claim still takes what it was promised
        r = sbx("exec", small, "--", "/bin/sh", "-c", "dd if=/dev/zero of=/work/f bs=1M count=80 conv=fsync 2>&1 && "
                "echo bob-wrote", user="bob", timeout=120)
        assert r.returncode == 0 and "bob-wrote" in r.stdout, explain(r)
        # deleting the first claim lets the second in
        delete(sbx, one, user="alice")
        assert wait_until(lambda: sbx("delete", "pvc", f"work-{one}", user="alice").returncode == 0, 60)
        wait_ready(sbx, two, user="bob")
        for n, u in ((huge, "alice"), (two, "bob"), (small, "bob")):
            delete(sbx, n, user=u)


def test_over_commit_admits_sparse_claims(users):
    with private_daemon("--default-ephemeral-storage", "16Mi", "--warm-pool", "0", "--storage-overcommit", "2.0") as d:
        sbx = d.run
        one, two, three = unique_name("one"), unique_name("two"), unique_name("three")
        assert apply(sbx, claim_doc(one, "300Mi"), claim_doc(two, "300Mi"), user="alice").returncode == 0
        wait_ready(sbx, one)
        wait_ready(sbx, two)
        # past twice the free space: refused even so
        assert apply(sbx, claim_doc(three, "600Mi"), user="alice").returncode == 0
        wait_pending(sbx, three, "(over-commit 2.0)")
        for n in (one, two, three):
            delete(sbx, n, user="alice")
