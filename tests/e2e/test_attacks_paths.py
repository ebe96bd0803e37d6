"""test_attacks_paths.py: a volume's path is checked once and never opened again by name.

The hole (docs/security.md): sbxd walked a claim's or a hostPath's path safely,
then the pod spec opened the same path again as root; O_NOFOLLOW guards only the last
component. A user owns directories on those paths (their claims directory
<root>/volumes/<uid>/, their own directories in an --allow-host-path data lake) and can
swap one of them for a symlink in between, while a slow mkfs of a large emptyDir holds the
start. Their pod then mounted another user's claim read-write, or /etc, or /root.

The attacks run as the real users: sbxtest-alice swaps a component of her paths for a
symlink (to bob's claims, to /, to bob's private directory) every time her pod's emptyDir is
being formatted (she watches /proc for the mkfs, as any user can), over several starts of
her pod; afterwards her pod must have seen only her own files, bob's files are unchanged and
unread, and nothing of alice's landed in bob's claim. A hostPath naming a directory alice
cannot enter herself is refused, as is one that goes through a symlink.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from sbxlib import explain, unique_name
from workspaces import applied, container, exec_in, sandbox, wait_condition, wait_ready, ready

STARTS = 8  # pod starts raced per attack: each one a swap timed on the mkfs (when seen)

# Run as alice: whenever sbxd formats an image under NEEDLE (an emptyDir being made), swap
# each DIR with its SYMLINK (renameat2 RENAME_EXCHANGE: the name never goes missing), hold
# that while the mkfs runs and a while after, then swap back. Prints how many swaps it made.
SWAPPER = r'''
import ctypes, json, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
pairs, needle = json.loads(sys.argv[1]), sys.argv[2].encode()
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
def exchange():
    for a, b in pairs:
        if libc.renameat2(-100, a.encode(), -100, b.encode(), 2) != 0:
            raise OSError(ctypes.get_errno(), f"exchange {a} {b}")
# only processes new in the last two seconds are read: a scan takes a millisecond
first_seen = {p: 0.0 for p in os.listdir("/proc") if p.isdigit()}
def formatting():
    now = time.monotonic()
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    for gone in first_seen.keys() - set(pids):  # a pid used again is a new process
        del first_seen[gone]
    for p in pids:
        if now - first_seen.setdefault(p, now) > 2:
            continue
        try:
            argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if os.path.basename(argv[0]).startswith(b"mkfs") and any(needle in a for a in argv):
            return True
    return False
swaps = 0
while not stop:
    if not formatting():
        time.sleep(0.001)
        continue
    exchange()
    swaps += 1
    while formatting() and not stop:
        time.sleep(0.001)
    time.sleep(0.5)
    exchange()
print(swaps, flush=True)
'''


def as_user(u, argv):
    return ["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--init-groups", "--", *argv]


def run_as(u, *argv):
    r = subprocess.run(as_user(u, list(argv)), capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 0, explain(r)
    return r


def tree_digest(top):
    """Every entry under top (names, modes, owners, sizes, change times), and the access
    times of its files: any write shows, and so does the first read of a file written since
    (relatime). Nothing is read here, so that the digest itself changes nothing (listing a
    directory does touch its access time: directories' are left out)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            read = st.st_atime_ns if n in filenames else 0
            h.update(f"{p} {st.st_mode} {st.st_uid} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {read}\n".encode())
    return h.hexdigest()


class Swapper:
    """SWAPPER running as `user` over `pairs` [(dir, symlink)], timed on mkfs under needle."""

    def __init__(self, user, pairs, needle):
        import json
        self.pairs = pairs
        self.proc = subprocess.Popen(as_user(user, [sys.executable, "-c", SWAPPER, json.dumps(pairs), needle]),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        for d, _ in self.pairs:  # whatever happened, the real directory is back in place
            assert not os.path.islink(d), f"{d} left a symlink: {err}"
        assert self.proc.returncode == 0, err
        return int(out.strip() or 0)


def empty_dir(size="2Gi"):
    """A large bounded emptyDir: formatting it is the slow step the attacker times."""
    return {"name": "scratch", "emptyDir": {"sizeLimit": size}}


def fast_stop(spec):
    spec["spec"]["podTemplate"]["spec"]["terminationGracePeriodSeconds"] = 1
    return spec


def delete(sbx, name, user):
    r = sbx("delete", "sandbox", name, user=user, timeout=90)
    assert r.returncode == 0 or "not found" in r.stderr, explain(r)


def raced_starts(sbx, spec, swapper, probe):
    """Start alice's pod STARTS times while swapper races it; probe(i) looks inside each
    time (and returns the CompletedProcess). Stops the swapper; the outputs of the probes."""
    name, seen = spec["metadata"]["name"], []
    for i in range(STARTS):
        applied(sbx, spec, user="alice")
        wait_ready(sbx, name, user="alice")
        r = probe(i)
        assert r.returncode == 0, explain(r)
        seen.append(r.stdout)
        delete(sbx, name, "alice")
    swaps = swapper.stop()
    assert swaps >= STARTS // 2, f"the race was not run: {swaps} swaps in {STARTS} starts"
    return seen


def test_swapped_claims_directory_never_mounts_another_users_claim(daemon, sbx, users):
    alice, bob = users["alice"], users["bob"]
    name = unique_name("claim")  # both users' sandboxes and so their claims have one name
    claim = f"data-{name}"
    vols = daemon.root / "volumes"
    bob_claim = vols / str(bob.uid) / "default" / claim
    mounts = [{"name": "data", "mountPath": "/data"}, {"name": "scratch", "mountPath": "/scratch"}]
    c = container(volumeMounts=mounts)
    spec = fast_stop(sandbox(name, [c], volumes=[empty_dir()], claims={"data": "16Mi"}))
    swapper = None
    try:
        applied(sbx, spec, user="bob")
        wait_ready(sbx, name, user="bob")
        secret = bob_claim / "bob-secret.txt"
        secret.write_text(bob.secret + "\n")
        os.chown(secret, bob.uid, bob.gid)
        os.chmod(secret, 0o644)
        delete(sbx, name, "bob")  # the claim stays mounted, as every claim does
        bob_before = tree_digest(bob_claim)

        applied(sbx, spec, user="alice")  # alice's claim of the same name, and her directories
        wait_ready(sbx, name, user="alice")
        delete(sbx, name, "alice")
        mine = vols / str(alice.uid)
        run_as(alice, "ln", "-s", str(vols / str(bob.uid) / "default"), str(mine / "swap"))
        swapper = Swapper(alice, [(str(mine / "default"), str(mine / "swap"))], f"{daemon.root}/sandboxes/")

        def probe(i):
            r = exec_in(sbx, name, "sh", "-c", f"ls -a /data; cat /data/* 2>&1; touch /data/alice-was-here-{i}",
                        user="alice")
            assert "bob-secret" not in r.stdout + r.stderr, f"alice's pod mounted bob's claim:\n{explain(r)}"
            return r
        seen = raced_starts(sbx, spec, swapper, probe)
        swapper = None
        for out in seen:
            assert "bob-secret" not in out and bob.secret not in out, out
        assert tree_digest(bob_claim) == bob_before, "bob's claim was read or changed"
        assert sorted(os.listdir(bob_claim)) == ["bob-secret.txt", "lost+found"]
        alice_claim = mine / "default" / claim
        assert {f"alice-was-here-{i}" for i in range(STARTS)} <= set(os.listdir(alice_claim))
    finally:
        if swapper:
            swapper.stop()
        for u in ("alice", "bob"):
            delete(sbx, name, u)
            sbx("delete", "pvc", claim, user=u, timeout=60)
        shutil.rmtree(vols / str(alice.uid) / "swap", ignore_errors=True)
        (vols / str(alice.uid) / "swap").unlink(missing_ok=True)


@pytest.fixture
def lake(users):
    """A directory of the administrator's data lake (--allow-host-path SHARED_DATA) where
    alice owns a directory of her own and bob keeps a private one (0700) with a secret in a
    world-readable file."""
    alice, bob = users["alice"], users["bob"]
    top = SHARED_DATA / unique_name("lake")
    top.mkdir(mode=0o755)
    for u in (alice, bob):
        d = top / u.name
        d.mkdir(mode=0o755)
        os.chown(d, u.uid, u.gid)
    private = top / bob.name / "private"
    private.mkdir(mode=0o700)
    (private / "secret.txt").write_text(bob.secret + "\n")
    os.chmod(private / "secret.txt", 0o644)
    for p in (private, private / "secret.txt"):
        os.chown(p, bob.uid, bob.gid)
    yield top
    subprocess.run(["rm", "-rf", "--one-file-system", str(top)], capture_output=True)


def test_swapped_data_lake_directory_never_mounts_etc_root_or_bobs(daemon, sbx, users, lake, host_canary):
    alice, bob = users["alice"], users["bob"]
    home = lake / alice.name
    # alice's directories d1/etc, d2/root, d3/private, each with her marker; and symlinks
    # that, swapped for d1, d2, d3, make those paths /etc, /root and bob's private directory
    targets = {"d1": ("etc", "/"), "d2": ("root", "/"), "d3": ("private", str(lake / bob.name))}
    pairs, volumes, mounts = [], [], []
    for i, (d, (leaf, link_to)) in enumerate(sorted(targets.items())):
        run_as(alice, "mkdir", "-p", str(home / d / leaf))
        run_as(alice, "touch", str(home / d / leaf / f"alice-marker-{d}"))
        run_as(alice, "ln", "-s", link_to, str(home / f"swap-{d}"))
        pairs.append((str(home / d), str(home / f"swap-{d}")))
        volumes.append({"name": f"h{i}", "hostPath": {"path": str(home / d / leaf), "type": "Directory"}})
        mounts.append({"name": f"h{i}", "mountPath": f"/h{i}"})
    volumes.append(empty_dir())  # after the hostPaths: they are checked, then this is formatted
    mounts.append({"name": "scratch", "mountPath": "/scratch"})
    name = unique_name("lake")
    spec = fast_stop(sandbox(name, [container(volumeMounts=mounts)], volumes=volumes))
    bob_before, canary_before = tree_digest(lake / bob.name), host_canary.canary.read_text()
    etc_before = sorted(os.listdir("/etc"))
    swapper = Swapper(alice, pairs, f"{daemon.root}/sandboxes/")
    try:
        def probe(_):
            r = exec_in(sbx, name, "sh", "-c", "for d in /h0 /h1 /h2; do echo $d: $(ls -A $d); done; cat /h2/* 2>&1",
                        user="alice")
            assert bob.secret not in r.stdout, f"alice's pod read bob's private directory:\n{explain(r)}"
            return r
        seen = raced_starts(sbx, spec, swapper, probe)
        swapper = None
        for out in seen:
            lines = out.splitlines()
            assert lines[:3] == ["/h0: alice-marker-d1", "/h1: alice-marker-d2", "/h2: alice-marker-d3"], out
            assert bob.secret not in out and host_canary.secret not in out, out
        assert tree_digest(lake / bob.name) == bob_before, "bob's directory was read or changed"
        assert host_canary.canary.read_text() == canary_before
        assert sorted(os.listdir("/etc")) == etc_before
    finally:
        if swapper:
            swapper.stop()
        delete(sbx, name, "alice")


def refused_with(sbx, name, spec, text):
    applied(sbx, spec, user="alice")
    try:
        o = wait_condition(sbx, name, lambda o: text in ready(o).get("message", ""), user="alice")
        assert ready(o)["status"] == "False"
        assert "Running" not in str(o.get("status", {}).get("podStatus", {}).get("phase", ""))
    finally:
        delete(sbx, name, "alice")


def test_host_path_is_opened_with_the_owners_rights(sbx, users, lake):
    """bob's private directory in the lake is not alice's to enter; sbxd, root, could:
    the hostPath is refused, and her pod never sees bob's secret."""
    bob = users["bob"]
    name = unique_name("lakepriv")
    vol = [{"name": "h", "hostPath": {"path": str(lake / bob.name / "private")}}]
    spec = sandbox(name, [container(volumeMounts=[{"name": "h", "mountPath": "/h"}])], volumes=vol)
    before = tree_digest(lake / bob.name)
    refused_with(sbx, name, spec, "permission denied")
    assert tree_digest(lake / bob.name) == before


def test_host_path_through_a_symlink_is_refused(sbx, users, lake):
    """a symlink of alice's inside the lake pointing at bob's directory is not followed"""
    alice, bob = users["alice"], users["bob"]
    run_as(alice, "ln", "-s", str(lake / bob.name), str(lake / alice.name / "to-bob"))
    name = unique_name("lakelink")
    vol = [{"name": "h", "hostPath": {"path": str(lake / alice.name / "to-bob" / "private")}}]
    spec = sandbox(name, [container(volumeMounts=[{"name": "h", "mountPath": "/h"}])], volumes=vol)
    refused_with(sbx, name, spec, "a symlink is on its way")
