"""test_user_errors.py: what a new user sees when something is not right.

Each test follows a mistake or a wait that a data scientist met while following the
workspace guide, and checks that sbx says what is wrong and what to do, in the place the
user looks: `sbx get` and `sbx wait` say why a sandbox is Pending; `sbx exec` says a
suspended sandbox is suspended (and how to resume it) and waits for one that is starting;
`sbx port-forward` says a local port is taken and picks a free one for `:PORT`; a hostPath
the administrator does not allow is refused by `apply` itself, and `describe` shows a
hostPath mount read-only when it is enforced so.
"""

import json
import os
import re
import shutil

import pytest

from conftest import SHARED_DATA, _running_daemon
from sbxlib import explain, unique_name, wait_until
from workspaces import applied, container, get, ready, sandbox, wait_condition, wait_ready


def cleanup(sbx, *names, user="alice"):
    for n in names:
        sbx("delete", "sandbox", n, user=user, timeout=120)


# --- 2. a Pending sandbox says why ---------------------------------------------------------

def test_pending_for_cpu_shows_why_in_get_and_wait(sbx, users):
    """A sandbox asking for more CPU than the machine has stays Pending: `sbx get` shows
    "Pending (Insufficient cpu)" and `sbx wait` ends its time-out with the reason."""
    name = unique_name("bigcpu")
    big = container(resources={"requests": {"cpu": "100000"}})
    applied(sbx, sandbox(name, [big]))
    try:
        wait_condition(sbx, name, lambda o: "Insufficient cpu" in ready(o).get("message", ""))
        r = sbx("get", "sandbox", name, user="alice")
        assert r.returncode == 0, explain(r)
        header, row = r.stdout.splitlines()[:2]
        assert header.split() == ["NAME", "READY", "REASON", "STATUS", "AGE"], r.stdout
        assert "Pending (Insufficient cpu)" in row, r.stdout
        r = sbx("wait", "--for=condition=Ready", f"sandbox/{name}", "--timeout=1s", user="alice")
        assert r.returncode == 1, explain(r)
        assert "timed out waiting for the condition on sandboxes/" + name in r.stderr, explain(r)
        assert re.search(r"\(Ready=False: Pending: Insufficient cpu: the sandbox requests 100000000m", r.stderr), \
            explain(r)
        # bob sees none of it
        r = sbx("get", "sandbox", name, user="bob")
        assert r.returncode != 0 and name not in r.stdout, explain(r)
    finally:
        cleanup(sbx, name)


# --- 1. exec into a suspended or resuming sandbox ------------------------------------------

def test_exec_suspended_says_so_and_waits_for_resume(sbx, users):
    """exec into a suspended sandbox names the command that resumes it; exec right after
    resuming waits for the container to start instead of failing."""
    name = unique_name("nap")
    applied(sbx, sandbox(name))
    try:
        wait_ready(sbx, name)
        r = sbx("scale", "sandbox", name, "--replicas=0", user="alice")
        assert r.returncode == 0, explain(r)
        wait_condition(sbx, name, lambda o: ready(o).get("reason") == "SandboxSuspended"
                       and o["status"].get("replicas") == 0)
        r = sbx("exec", name, "--", "/bin/echo", "hi", user="alice")
        assert r.returncode == 1, explain(r)
        assert f'sandbox "{name}": it is suspended' in r.stderr, explain(r)
        assert f"sbx scale sandbox {name} --replicas=1" in r.stderr, explain(r)
        assert "No such process" not in r.stderr, explain(r)
        # bob learns nothing about it
        r = sbx("exec", name, "--", "/bin/echo", "hi", user="bob")
        assert r.returncode == 1 and "not found" in r.stderr and "suspended" not in r.stderr, explain(r)

        r = sbx("scale", "sandbox", name, "--replicas=1", user="alice")
        assert r.returncode == 0, explain(r)
        r = sbx("exec", name, "--", "/bin/echo", "hi", user="alice")  # at once: it is starting
        assert r.returncode == 0 and r.stdout == "hi\n", explain(r)
        assert ready(get(sbx, name)).get("status") == "True"
    finally:
        cleanup(sbx, name)


# --- 7. port-forward: a local port another user holds ---------------------------------------

def http_server(body):
    """A container serving `body` on 127.0.0.1:8888 (the sandbox's own loopback)."""
    code = ("import http.server\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        self.send_response(200); self.end_headers(); self.wfile.write(%r)\n"
            "    def log_message(self, *a): pass\n"
            "http.server.HTTPServer(('127.0.0.1', 8888), H).serve_forever()\n" % body.encode())
    return container(command=["/usr/bin/python3", "-c", code])


def test_port_forward_taken_port_suggests_a_free_one(sbx, sbx_popen, users):
    """bob forwards local port P first; alice's `P:8888` is refused with a free port to use
    (not half-started on ::1 only), the suggestion works, and `:8888` picks a free port."""
    from workspaces import free_port, http_get_as, start_forward
    mine, bobs = unique_name("jl-alice"), unique_name("jl-bob")
    applied(sbx, sandbox(mine, [http_server("alice")]), user="alice")
    applied(sbx, sandbox(bobs, [http_server("bob")]), user="bob")
    procs = []
    try:
        wait_ready(sbx, mine)
        wait_ready(sbx, bobs, user="bob")
        bob_fwd, port = start_forward(sbx_popen, bobs, f"{free_port()}:8888", user="bob")
        procs.append(bob_fwd)
        assert wait_until(lambda: http_get_as(users["bob"], port).stdout == "200\nbob", 30)

        r = sbx("port-forward", mine, f"{port}:8888", user="alice", timeout=30)
        assert r.returncode == 1, explain(r)
        assert f"local port {port} is already in use" in r.stderr, explain(r)
        m = re.search(rf"Port (\d+) is free: sbx port-forward {mine} (\d+):8888", r.stderr)
        assert m and m.group(1) == m.group(2) and int(m.group(1)) != port, explain(r)
        assert f"{mine} :8888" in r.stderr, explain(r)

        fwd, got = start_forward(sbx_popen, mine, f"{m.group(1)}:8888")
        procs.append(fwd)
        assert got == int(m.group(1))
        assert wait_until(lambda: http_get_as(users["alice"], got).stdout == "200\nalice", 30)

        fwd, any_port = start_forward(sbx_popen, mine, ":8888")
        procs.append(fwd)
        assert any_port not in (port, got)
        assert wait_until(lambda: http_get_as(users["alice"], any_port).stdout == "200\nalice", 30)
        # bob's forward is untouched, and still his
        assert http_get_as(users["bob"], port).stdout == "200\nbob"
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        cleanup(sbx, mine)
        cleanup(sbx, bobs, user="bob")


# --- 3, 4. hostPath: refused at apply; describe shows what is enforced ----------------------

@pytest.fixture
def rw_lake(users):
    """A private sbxd that shares a data lake writable (`--allow-host-path LAKE:rw`): writable
    for root and the admin group, read-only for everyone else."""
    lake = SHARED_DATA / unique_name("rwlake")
    lake.mkdir()
    os.chmod(lake, 0o1777)  # anyone may write, were the mount writable
    gen = _running_daemon(["--allow-host-path", f"{lake}:rw", "--warm-pool", "0"])
    d = next(gen)
    try:
        yield d, lake
    finally:
        for user in ("alice", None):
            r = d.run("get", "sandboxes", "-o", "name", user=user)
            for n in r.stdout.split():
                d.run("delete", n, user=user, timeout=120)
        next(gen, None)
        shutil.rmtree(lake, ignore_errors=True)


def test_host_path_not_allowed_is_refused_at_apply(rw_lake):
    d, lake = rw_lake
    name = unique_name("etc")
    c = container(volumeMounts=[{"name": "e", "mountPath": "/e"}])
    r = d.run("apply", "-f", "-", user="alice", timeout=60,
              input=json.dumps(sandbox(name, [c], volumes=[{"name": "e", "hostPath": {"path": "/etc"}}])))
    assert r.returncode != 0 and "created" not in r.stdout, explain(r)
    assert "Error from server (Forbidden)" in r.stderr, explain(r)
    assert f'sandboxes "{name}" is forbidden: volume e: hostPath /etc is not allowed: the administrator allows' \
        in r.stderr and str(lake) in r.stderr, explain(r)
    r = d.run("get", "sandbox", name, user="alice")
    assert r.returncode != 0 and "not found" in r.stderr, explain(r)
    # nor can an allowed sandbox be changed into one
    ok = sandbox(name, [c], volumes=[{"name": "e", "hostPath": {"path": str(lake)}}])
    r = d.run("apply", "-f", "-", user="alice", input=json.dumps(ok), timeout=60)
    assert r.returncode == 0, explain(r)
    bad = sandbox(name, [c], volumes=[{"name": "e", "hostPath": {"path": "/usr/share"}}])
    r = d.run("apply", "-f", "-", user="alice", input=json.dumps(bad), timeout=60)
    assert r.returncode != 0 and "Forbidden" in r.stderr, explain(r)
    r = d.run("get", "sandbox", name, "-o", "json", user="alice")
    assert json.loads(r.stdout)["spec"]["podTemplate"]["spec"]["volumes"][0]["hostPath"]["path"] == str(lake)


def test_describe_shows_host_path_read_only_as_enforced(rw_lake):
    """A `:rw` data lake is read-only for alice (not an admin): describe says `ro (read-only
    for non-admins)`, and indeed her write fails; root's own sandbox gets it writable."""
    d, lake = rw_lake
    name = unique_name("lake")
    c = container(volumeMounts=[{"name": "lake", "mountPath": "/data"}])
    doc = json.dumps(sandbox(name, [c], volumes=[{"name": "lake", "hostPath": {"path": str(lake)}}]))
    for user in ("alice", None):
        r = d.run("apply", "-f", "-", user=user, input=doc, timeout=60)
        assert r.returncode == 0, explain(r)
    for user, mode in (("alice", "(ro) (read-only for non-admins)"), (None, "(rw)")):
        r = d.run("wait", "--for=condition=Ready", f"sandbox/{name}", "--timeout=90s", user=user, timeout=120)
        assert r.returncode == 0, explain(r)
        r = d.run("describe", "sandbox", name, user=user)
        assert r.returncode == 0, explain(r)
        assert re.search(r"^\s+/data from lake " + re.escape(mode) + "$", r.stdout, re.M), r.stdout
    r = d.run("exec", name, "--", "sh", "-c", "echo x > /data/alice-was-here", user="alice")
    assert r.returncode != 0 and "Read-only" in r.stderr, explain(r)
    assert not (lake / "alice-was-here").exists()
    r = d.run("exec", name, "--", "sh", "-c", "echo x > /data/root-was-here", user=None)
    assert r.returncode == 0, explain(r)
    assert (lake / "root-was-here").exists()


# --- 5. rootfs:DIR: one verdict for `sbx run` and `sbx apply` -------------------------------

def tiny_rootfs(base, owner):
    """A static-busybox root filesystem owned by `owner` (a User)."""
    for d in ("bin", "etc", "tmp", "proc", "dev", "sys", "root"):
        (base / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", base / "bin" / "busybox")
    (base / "bin" / "sh").symlink_to("busybox")
    for dirpath, dirnames, filenames in os.walk(base):
        for n in [dirpath] + [os.path.join(dirpath, f) for f in dirnames + filenames]:
            os.lchown(n, owner.uid, owner.gid)
    return base


def run_verdict(sbx, path):
    r = sbx("run", "--rm", "--image", f"rootfs:{path}", "--", "/bin/busybox", "echo", "ran", user="alice")
    return "ran" if r.returncode == 0 and r.stdout == "ran\n" else r.stderr


def apply_verdict(sbx, path):
    name = unique_name("rootfs")
    c = container(image=f"rootfs:{path}", command=["/bin/busybox", "sleep", "100000"])
    applied(sbx, sandbox(name, [c]))
    try:
        o = wait_condition(sbx, name, lambda o: ready(o).get("status") == "True"
                           or "image rootfs:" in ready(o).get("message", ""))
        return "ran" if ready(o)["status"] == "True" else ready(o)["message"]
    finally:
        cleanup(sbx, name)


def test_rootfs_rule_is_the_same_for_run_and_apply(sbx, users, scratch, host_canary):
    alice, bob = users["alice"], users["bob"]
    own = tiny_rootfs(scratch / "own", alice)
    bobs = tiny_rootfs(scratch / "bobs", bob)
    os.chmod(bobs, 0o700)
    link = scratch / "link"
    link.symlink_to(own)
    os.lchown(link, alice.uid, alice.gid)
    proc_link = tiny_rootfs(scratch / "proclink", alice)
    (proc_link / "proc").rmdir()
    (proc_link / "proc").symlink_to("/")
    os.lchown(proc_link / "proc", alice.uid, alice.gid)
    cases = {own: "ran",
             bobs: f"image rootfs:{bobs}: permission denied (you cannot open it yourself)",
             link: f"image rootfs:{link}: a symlink is on its way; name the real directory",
             proc_link: f"image rootfs:{proc_link}: /proc in it is a symlink"}
    for path, want in cases.items():
        by_run, by_apply = run_verdict(sbx, path), apply_verdict(sbx, path)
        assert want in by_run, f"sbx run --image rootfs:{path}: {by_run}"
        assert want in by_apply, f"sbx apply of image rootfs:{path}: {by_apply}"
    assert host_canary.canary.read_text() == host_canary.secret + "\n"


# --- 6. killed for memory: said where the user looks ------------------------------------------

HOG = "x = bytearray(1 << 30)"


def test_oom_kill_is_named_in_exec_logs_and_describe(sbx, users):
    """A process over the sandbox's 64Mi: exec exits 137 and says `killed: out of memory
    (limit 64Mi)`; a container killed so ends its log with sbx's note and describe shows
    OOMKilled with the limit."""
    from workspaces import container_status
    shell, hog = unique_name("oomexec"), unique_name("oomctr")
    limits = {"limits": {"memory": "64Mi"}}
    applied(sbx, sandbox(shell, [container(resources=limits)]))
    applied(sbx, sandbox(hog, [container(command=["/usr/bin/python3", "-c", "print('allocating', flush=True); "
                                                  + HOG], resources=limits)],
                         pod_extra={"restartPolicy": "Never"}))
    try:
        wait_ready(sbx, shell)
        r = sbx("exec", shell, "--", "/usr/bin/python3", "-c", HOG, user="alice", timeout=120)
        assert r.returncode == 137, explain(r)
        assert "killed: out of memory (limit 64Mi)" in r.stderr, explain(r)
        r = sbx("exec", shell, "--", "/bin/echo", "still here", user="alice")  # the container lives on
        assert r.returncode == 0 and r.stdout == "still here\n", explain(r)

        wait_condition(sbx, hog, lambda o: container_status(o).get("state", {}).get("terminated"), timeout=120)
        r = sbx("logs", hog, user="alice")
        assert r.returncode == 0, explain(r)
        assert r.stdout.splitlines()[-2:] == ["allocating", "sbx: container main was killed: out of memory "
                                              "(limit 64Mi)"], explain(r)
        r = sbx("describe", "sandbox", hog, user="alice")
        assert re.search(r"State:\s+Terminated\n\s+Reason:\s+OOMKilled\n\s+Message:\s+killed: out of memory "
                         r"\(limit 64Mi\)\n\s+Exit Code:\s+137", r.stdout), r.stdout
        # bob reads none of it
        r = sbx("logs", hog, user="bob")
        assert r.returncode != 0 and "allocating" not in r.stdout, explain(r)
    finally:
        cleanup(sbx, shell, hog)
