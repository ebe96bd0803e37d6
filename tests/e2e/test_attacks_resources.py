"""test_attacks_resources.py: one person against another's share of the machine.

Attacks by the real user sbxtest-alice on sbxtest-bob's share: four CPU burners against his
one, a fork bomb, a memory hog spread over several sandboxes, and filling every quota
(sandboxes, claims, secrets and config maps, pod requests). Each test checks bob (and the
host) afterwards. The defences: each person's sandboxes live in one cgroup group
<top>/user-<uid> with the same CPU weight for everyone and the administrator's memory and
pids bounds; quotas per person (sbxd --quota-*).

These tests start their own sbxd (module fixture) with their own cgroup parent (so the
daemons of other test runs on this host are not disturbed), small per-person limits, small
quotas and no warm pool (so a person's group is empty, and removed, when their last
sandbox ends). No timing thresholds: the CPU test compares the work done.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import Daemon, build_dir
from sbxlib import explain, wait_until
from workspaces import apply, applied, configmap, container, sandbox, secret, wait_ready

USER_PIDS = 200
USER_MEMORY_MI = 256
QUOTA_SANDBOXES = 5
QUOTA_CLAIMS = 2
QUOTA_OBJECTS = 3
QUOTA_OBJECT_BYTES_KI = 64
CPUS = os.cpu_count()


@pytest.fixture(scope="module")
def res_daemon(users):
    build = build_dir()
    tmp = Path(tempfile.mkdtemp(prefix="sbx-e2e-res-", dir="/tmp"))
    os.chmod(tmp, 0o755)
    (tmp / "bin").mkdir(mode=0o755)
    shutil.copy2(build / "sbx", tmp / "bin" / "sbx")
    os.chmod(tmp / "bin" / "sbx", 0o755)
    top = f"sbx-e2e-res-{secrets.token_hex(4)}"
    d = Daemon(build, tmp, [
        "--cgroup-parent", top, "--warm-pool", "0",
        "--user-pids", str(USER_PIDS), "--user-memory", f"{USER_MEMORY_MI}Mi",
        "--quota-sandboxes", str(QUOTA_SANDBOXES), "--quota-claims", str(QUOTA_CLAIMS),
        "--quota-objects", str(QUOTA_OBJECTS), "--quota-object-bytes", f"{QUOTA_OBJECT_BYTES_KI}Ki",
        "--quota-requests-cpu", f"{CPUS * 1000 // 2}m"])
    d.top = top
    d.start()
    try:
        yield d
    finally:
        problems = d.stop()
        d.remove_tmp()
        for ctrl_dir in cgroup_dirs(top):
            try:
                os.rmdir(ctrl_dir)
            except OSError:
                pass
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


def cgroup_dirs(path):
    """The host directories of cgroup `path` (relative to the hierarchy roots), on v2 or v1."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return [f"/sys/fs/cgroup/{path}"]
    return [f"/sys/fs/cgroup/{c}/{path}" for c in ("cpu", "cpuacct", "memory", "pids", "freezer")
            if os.path.isdir(f"/sys/fs/cgroup/{c}")]


def cgroup_file(path, ctrl, name):
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return f"/sys/fs/cgroup/{path}/{name}"
    return f"/sys/fs/cgroup/{ctrl}/{path}/{name}"


def as_user(d, user, *args, **kw):
    return d.run(*args, user=user, **kw)


def popen_as(d, user, *args):
    return d.popen(*args, user=user, stdin=subprocess.PIPE)


def delete_all(d, user):
    for kind in ("sandbox", "secret", "configmap", "pvc"):
        r = d.run("get", kind, "-o", "json", user=user)
        if r.returncode != 0:
            continue
        for it in json.loads(r.stdout).get("items", []):
            d.run("delete", kind, it["metadata"]["name"], user=user, timeout=120)


@pytest.fixture
def clean(res_daemon, users):
    yield res_daemon
    for u in ("alice", "bob"):
        delete_all(res_daemon, users[u])


# ---------------------------------------------------------------------------------- CPU ----

BURN = r"""
import sys, time
start, end = float(sys.argv[1]), float(sys.argv[2])
while time.time() < start:
    time.sleep(0.01)
n = 0
while time.time() < end:
    for _ in range(1000):
        n += 1
print("work", n, flush=True)
"""


def test_four_burners_take_no_more_than_one_persons_share(clean, users):
    """alice runs four CPU burners, bob one, all at once: with a group per person of equal
    weight bob's one burner does about as much work as alice's four together (fair: 0.5 of
    the total); with one cgroup per sandbox it would do a fifth (0.2)."""
    d = clean
    start = time.time() + 6
    end = start + 8
    procs = [(who, popen_as(d, users[who], "run", "--rm", "--", "/usr/bin/python3", "-c", BURN,
                            str(start), str(end)))
             for who in ("alice", "alice", "alice", "alice", "bob")]
    work = {"alice": 0, "bob": 0}
    for who, p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, f"{who}'s burner failed: {err!r}"
        m = re.search(rb"work (\d+)", out)
        assert m, f"{who}'s burner printed {out!r}"
        work[who] += int(m.group(1))
    share = work["bob"] / (work["alice"] + work["bob"])
    print(f"\nbob's share of the work: {share:.2f} ({work})")
    assert CPUS == 1 or share >= 0.35, (
        f"bob's one burner did {share:.2f} of all the work against alice's four (fair: 0.5, one "
        f"cgroup per sandbox: 0.2); work done: {work}")


# ------------------------------------------------------------------------------- pids ----

HOLD_FORKS = r"""
import os, sys
want = int(sys.argv[1])
n = 0
for _ in range(want):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.read(0, 1)  # hold the pid until stdin closes
        os._exit(0)
    n += 1
print("forked", n, flush=True)
sys.stdin.read()
"""


def read_line_with(p, needle, timeout=60):
    deadline = time.monotonic() + timeout
    buf = b""
    os.set_blocking(p.stdout.fileno(), False)
    while time.monotonic() < deadline:
        chunk = p.stdout.read()
        if chunk:
            buf += chunk
            if needle in buf and buf.endswith(b"\n"):
                return buf.decode()
        elif p.poll() is not None:
            break
        time.sleep(0.05)
    return buf.decode()


def test_fork_bomb_stops_at_the_persons_pids_limit(clean, users):
    """alice forks all she can in two sandboxes (each may hold 4096 pids): together they stop
    at her per-person pids limit, and bob can still start a sandbox and fork meanwhile."""
    d = clean
    bombs = [popen_as(d, users["alice"], "run", "--rm", "-i", "--", "/usr/bin/python3", "-c", HOLD_FORKS,
                      str(USER_PIDS * 2)) for _ in range(2)]
    try:
        counts = []
        for p in bombs:
            line = read_line_with(p, b"forked")
            m = re.search(r"forked (\d+)", line)
            assert m, f"a fork bomb said {line!r}; stderr: {p.stderr.read() if p.poll() is not None else ''}"
            counts.append(int(m.group(1)))
        assert sum(counts) < USER_PIDS, (
            f"alice's two sandboxes hold {sum(counts)} forked processes ({counts}), beyond her "
            f"per-person limit of {USER_PIDS}")
        r = as_user(d, users["bob"], "run", "--rm", "--", "/usr/bin/python3", "-c",
                    HOLD_FORKS.replace("sys.stdin.read()", ""), "50", input="")
        assert r.returncode == 0 and "forked 50" in r.stdout, explain(r)
    finally:
        for p in bombs:
            p.stdin.close()
        for p in bombs:
            p.wait(timeout=60)


# ----------------------------------------------------------------------------- memory ----

HOG = r"""
import sys
chunks = []
for i in range(int(sys.argv[1])):
    chunks.append(bytearray(b"x" * (1 << 20)))
print("holding", len(chunks), flush=True)
sys.stdin.read()
"""


def test_memory_hog_across_sandboxes_is_bounded_by_the_persons_memory(clean, users):
    """alice fills 200 MiB in each of two sandboxes, none of which has a memory limit of its
    own: her per-person memory (256 MiB) ends one of them (OOM kill), and bob still gets his
    100 MiB."""
    d = clean
    hogs = [popen_as(d, users["alice"], "run", "--rm", "-i", "--", "/usr/bin/python3", "-c", HOG, "200")
            for _ in range(2)]
    try:
        lines = [read_line_with(p, b"holding", timeout=90) for p in hogs]
        both = all("holding 200" in line and p.poll() is None for line, p in zip(lines, hogs))
        usage = cgroup_file(f"{d.top}/user-{users['alice'].uid}", "memory", "memory.max_usage_in_bytes")
        assert not both, f"alice holds 2 x 200 MiB beyond her per-person {USER_MEMORY_MI} MiB: {lines}"
        if os.path.exists(usage):
            peak = int(Path(usage).read_text())
            assert peak <= USER_MEMORY_MI << 20, f"alice's group peaked at {peak} bytes"
        r = as_user(d, users["bob"], "run", "--rm", "--", "/usr/bin/python3", "-c",
                    HOG.replace("sys.stdin.read()", ""), "100", input="")
        assert r.returncode == 0 and "holding 100" in r.stdout, explain(r)
    finally:
        for p in hogs:
            if p.poll() is None:
                p.stdin.close()
        for p in hogs:
            p.wait(timeout=60)


def test_a_persons_group_is_removed_when_their_last_sandbox_ends(clean, users):
    d = clean
    r = as_user(d, users["bob"], "run", "--rm", "--", "/bin/sh", "-c", "cat /proc/self/cgroup")
    assert r.returncode == 0, explain(r)
    group = f"{d.top}/user-{users['bob'].uid}"
    gone = wait_until(lambda: not any(os.path.exists(p) for p in cgroup_dirs(group)), 10)
    assert gone, f"bob's group {group} is still there after his last sandbox ended"


# ----------------------------------------------------------------------------- quotas ----

def exceeded(text, resource):
    return "exceeded quota" in text and f"limited: {resource}=" in text


def test_sandbox_count_quota_refuses_the_next_one_and_not_bobs(clean, users):
    """alice fills her sandbox quota with ended named runs and declared sandboxes (each
    holds a host id range, suspended or not); the next `sbx run` exits 125 with the quota
    message, the next apply is Forbidden (403); bob's are accepted; describe quota shows it."""
    d = clean
    alice, bob = users["alice"], users["bob"]
    for i in range(QUOTA_SANDBOXES - 1):
        r = as_user(d, alice, "run", "--name", f"q{i}", "--", "/bin/true")
        assert r.returncode == 0, explain(r)
    suspended = sandbox("q-suspended", spec_extra={"replicas": 0})
    applied(d.run, suspended, user=alice)
    r = as_user(d, alice, "run", "--rm", "--", "/bin/true")
    assert r.returncode == 125 and exceeded(r.stderr, "sandboxes"), explain(r)
    r = apply(d.run, sandbox("q-more"), user=alice)
    assert r.returncode != 0 and "Forbidden" in r.stderr and exceeded(r.stderr, "sandboxes"), explain(r)
    r = as_user(d, alice, "describe", "quota")
    assert r.returncode == 0, explain(r)
    assert re.search(rf"sandboxes\s+{QUOTA_SANDBOXES}\s+{QUOTA_SANDBOXES}", r.stdout), r.stdout
    r = as_user(d, bob, "run", "--rm", "--", "/bin/true")
    assert r.returncode == 0, explain(r)
    applied(d.run, sandbox("bob-one"), user=bob)
    wait_ready(d.run, "bob-one", user=bob)


def test_object_quotas_bound_secrets_and_their_bytes(clean, users):
    d = clean
    alice, bob = users["alice"], users["bob"]
    big = "y" * (40 << 10)
    applied(d.run, secret("big-1", v=big), user=alice)
    r = apply(d.run, configmap("big-2", v=big), user=alice)
    assert r.returncode != 0 and "Forbidden" in r.stderr and exceeded(r.stderr, "objects.bytes"), explain(r)
    for i in range(QUOTA_OBJECTS - 1):
        applied(d.run, secret(f"s{i}", v="x"), user=alice)
    r = apply(d.run, secret("one-more", v="x"), user=alice)
    assert r.returncode != 0 and "Forbidden" in r.stderr and exceeded(r.stderr, "objects"), explain(r)
    applied(d.run, secret("bobs", v=big), user=bob)


def test_claim_quota_refuses_the_next_claim_and_not_bobs(clean, users):
    d = clean
    alice, bob = users["alice"], users["bob"]
    applied(d.run, sandbox("claims-a", claims={"one": "16Mi", "two": "16Mi"}), user=alice)
    wait_ready(d.run, "claims-a", user=alice)
    applied(d.run, sandbox("claims-b", claims={"three": "16Mi"}), user=alice)
    wait_until(lambda: "exceeded quota" in as_user(d, alice, "describe", "sandbox", "claims-b").stdout, 30)
    r = as_user(d, alice, "describe", "sandbox", "claims-b")
    assert exceeded(r.stdout, "persistentvolumeclaims"), r.stdout
    r = as_user(d, alice, "get", "pvc", "-o", "name")
    assert "three-claims-b" not in r.stdout, r.stdout
    applied(d.run, sandbox("claims-bob", claims={"one": "16Mi"}), user=bob)
    wait_ready(d.run, "claims-bob", user=bob)


def test_an_idle_pod_requesting_every_cpu_does_not_keep_bob_pending(clean, users):
    """alice's pod requests every CPU of the machine: her requests quota (half the machine)
    keeps it Pending with the quota message instead of admitting it, so bob's pod asking
    for the other half starts."""
    d = clean
    alice, bob = users["alice"], users["bob"]
    greedy = sandbox("greedy", containers=[container(resources={"requests": {"cpu": str(CPUS)}})])
    applied(d.run, greedy, user=alice)
    wait_until(lambda: exceeded(as_user(d, alice, "describe", "sandbox", "greedy").stdout, "requests.cpu"), 20)
    r = as_user(d, alice, "describe", "sandbox", "greedy")
    assert exceeded(r.stdout, "requests.cpu"), r.stdout
    half = f"{CPUS * 1000 // 2}m"
    applied(d.run, sandbox("bobs-half", containers=[container(resources={"requests": {"cpu": half}})]), user=bob)
    wait_ready(d.run, "bobs-half", user=bob)
    applied(d.run, sandbox("alices-half", containers=[container(resources={"requests": {"cpu": half}})]), user=alice)
    wait_ready(d.run, "alices-half", user=alice)
