"""test_pod_shim.py: sbx-shim's pod mode, started directly with hand-written pod specs
(podshim.py lays out the descriptors as sbxd does; no daemon is involved).

Covered: shared network between containers, separate mount namespaces and writable layers,
init containers first and to completion with a shared volume, logs, status.json states and
exit codes, restartPolicy OnFailure / Never with the crash-loop back-off, a writable layer
that survives a restart, SIGTERM within the grace period leaving no cgroup, and exec (exit
code, pid namespace, same capabilities and no_new_privs as the container, tty)."""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conftest import build_dir
from podshim import CGROUP_PARENT, PodShim, Prepared, container
from sbxlib import wait_until

PY = "/usr/bin/python3"


@pytest.fixture(scope="module")
def prepared():
    if os.geteuid() != 0:
        pytest.skip("runs as root")
    tmp = Path(tempfile.mkdtemp(prefix="sbx-podshim-", dir="/tmp"))
    try:
        yield Prepared(build_dir(), tmp)
    finally:
        for h in Path("/sys/fs/cgroup").iterdir():
            d = h / CGROUP_PARENT
            if d.is_dir():
                try:
                    d.rmdir()
                except OSError:
                    pass
        if not os.environ.get("SBX_E2E_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def pods(prepared):
    started = []

    def make(*a, **kw):
        p = PodShim(prepared, *a, **kw).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def state_of(pod, name):
    s = pod.cstatus(name)
    return next(iter(s["state"])) if s else None


def running(pod, *names):
    return wait_until(lambda: all(state_of(pod, n) == "running" for n in names), 20)


def test_containers_share_loopback_but_not_mounts(pods):
    server = (f"import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
              f"s.bind(('127.0.0.1', 7777)); s.listen(1)\nopen('/mine','w').write('server')\n"
              f"c,_=s.accept(); c.sendall(b'hello-from-server'); c.close()\nimport time; time.sleep(60)\n")
    client = ("import socket, time, os\nopen('/mine','w').write('client')\n"
              "for i in range(100):\n"
              "    try:\n        s=socket.create_connection(('127.0.0.1', 7777)); break\n"
              "    except OSError: time.sleep(0.1)\n"
              "print('got', s.recv(100).decode(), flush=True)\n"
              "print('mine', open('/mine').read(), flush=True)\ntime.sleep(60)\n")
    pod = pods([container("server", [PY, "-c", server]), container("client", [PY, "-c", client])])
    assert running(pod, "server", "client"), pod.status()
    assert wait_until(lambda: "got hello-from-server" in pod.log("client"), 20), (pod.log("client"), pod.stderr())
    # separate writable layers: each container's /mine is its own
    assert "mine client" in pod.log("client")
    up = pod.state / "containers"
    assert (up / "server" / "upper" / "mine").read_text() == "server"
    assert (up / "client" / "upper" / "mine").read_text() == "client"
    st = pod.status()
    assert st["phase"] == "Running" and st["netnsPid"] > 0 and st["shimPid"] == pod.proc.pid
    assert os.readlink(f"/proc/{st['netnsPid']}/ns/net") == os.readlink(
        f"/proc/{pod.cstatus('server')['pid']}/ns/net")
    assert os.readlink(f"/proc/{pod.cstatus('server')['pid']}/ns/mnt") != os.readlink(
        f"/proc/{pod.cstatus('client')['pid']}/ns/mnt")
    assert os.readlink(f"/proc/{st['netnsPid']}/ns/net") != os.readlink("/proc/self/ns/net")


def test_init_container_runs_first_and_shares_the_volume(pods):
    mount = [{"volume": "work", "mountPath": "/work", "subPath": "", "readOnly": False}]
    sub = [{"volume": "work", "mountPath": "/sub", "subPath": "a/b", "readOnly": True}]
    pod = pods([container("main", ["sh", "-c", "cat /work/a/b/prepared; cat /sub/prepared; "
                                   "touch /sub/x 2>/dev/null || echo sub-readonly; sleep 60"],
                          mounts=mount + sub)],
               init_containers=[container("prep", ["sh", "-c", "sleep 1; mkdir -p /work/a/b; "
                                                   "echo prepared-by-init > /work/a/b/prepared; echo init-done"],
                                          mounts=mount)],
               volumes=["work"])
    # while the init container runs, the main one has not started
    assert wait_until(lambda: state_of(pod, "prep") == "running", 20), pod.status()
    assert state_of(pod, "main") == "waiting"
    assert pod.status()["phase"] == "Pending"
    assert running(pod, "main"), (pod.status(), pod.stderr())
    prep = pod.cstatus("prep")["state"]["terminated"]
    assert prep["exitCode"] == 0 and prep["reason"] == "Completed"
    assert wait_until(lambda: "sub-readonly" in pod.log("main"), 20), pod.log("main")
    assert pod.log("main").count("prepared-by-init") == 2
    assert "init-done" in pod.log("prep")
    # the file in the volume is the host owner's (idmapped)
    assert (pod.volume_dirs["work"] / "a" / "b" / "prepared").stat().st_uid == 0


def test_on_failure_restarts_with_back_off_and_keeps_the_writable_layer(pods):
    script = "if [ -e /marker ]; then echo seen-marker; fi; touch /marker; echo run; exit 3"
    pod = pods([container("crash", ["sh", "-c", script])], restart_policy="OnFailure")
    assert wait_until(lambda: (pod.cstatus("crash") or {}).get("restartCount", 0) >= 2, 30), pod.status()
    assert wait_until(lambda: state_of(pod, "crash") == "waiting", 20)
    s = pod.cstatus("crash")
    assert s["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert s["lastState"]["terminated"]["exitCode"] == 3
    assert s["lastState"]["terminated"]["reason"] == "Error"
    assert "seen-marker" in pod.log("crash")   # the file written in / survived the restart
    # each instance has its own log; the one before is kept as crash.previous.log
    assert pod.log("crash").count("run") == 1
    assert pod.log("crash", previous=True).count("run") == 1
    reasons = {e["reason"] for e in pod.status()["events"]}
    assert {"Created", "Started", "BackOff"} <= reasons
    assert pod.status()["phase"] == "Running"


def test_on_failure_does_not_restart_success_and_never_does_not_restart(pods):
    ok = pods([container("ok", ["sh", "-c", "echo fine"])], restart_policy="OnFailure")
    bad = pods([container("bad", ["sh", "-c", "exit 7"])], restart_policy="Never")
    assert ok.proc.wait(timeout=30) == 0
    assert bad.proc.wait(timeout=30) == 0
    s = ok.cstatus("ok")
    assert s["state"]["terminated"]["exitCode"] == 0 and s["restartCount"] == 0
    assert ok.status()["phase"] == "Succeeded"
    s = bad.cstatus("bad")
    assert s["state"]["terminated"]["exitCode"] == 7 and s["restartCount"] == 0
    assert bad.status()["phase"] == "Failed"
    assert ok.cgroup_dirs() == [] and bad.cgroup_dirs() == []


def test_sigterm_stops_within_the_grace_period_and_leaves_no_cgroup(pods):
    stubborn = "trap '' TERM; echo up; while true; do sleep 1; done"
    pod = pods([container("polite", ["sleep", "600"]), container("stubborn", ["sh", "-c", stubborn])], grace=2)
    assert running(pod, "polite", "stubborn")
    assert wait_until(lambda: "up" in pod.log("stubborn"), 10)
    assert pod.cgroup_dirs() != []
    pids = [pod.cstatus(n)["pid"] for n in ("polite", "stubborn")]
    t0 = time.monotonic()
    assert pod.stop(timeout=20) == 0, pod.stderr()
    assert time.monotonic() - t0 < 15
    assert pod.cgroup_dirs() == []
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    st = pod.status()
    assert state_of(pod, "polite") == "terminated" and state_of(pod, "stubborn") == "terminated"
    assert pod.cstatus("stubborn")["state"]["terminated"]["signal"] == 9
    assert "Killing" in {e["reason"] for e in st["events"]}
    assert not (pod.state / "exec.sock").exists()
    assert (pod.state / "containers" / "polite" / "upper").is_dir()   # state kept


def test_exec(pods):
    pod = pods([container("app", ["sleep", "600"], uid=1000, gid=1000, supplementalGroups=[2000],
                          capabilities=["CAP_KILL", "CAP_CHOWN"], workingDir="/tmp")])
    assert running(pod, "app")
    app_pid = pod.cstatus("app")["pid"]
    ack, out, err, ex = pod.exec(["sh", "-c", "echo out; echo err >&2; exit 5"])
    assert ack == {"ok": True} and out == "out\n" and err == "err\n", (ack, out, err, ex)
    assert ex["type"] == "exit" and ex["exitCode"] == 5 and ex["signal"] == 0
    # same confinement as the container's own processes
    _, out, _, ex = pod.exec(["sh", "-c", "grep -E '^(Cap(Eff|Prm|Bnd)|NoNewPrivs|Seccomp|Uid|Gid|Groups):' "
                                          "/proc/self/status; pwd; ps -e -o pid= | wc -l"], magic=True)
    mine = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    mine = {k: v.strip() for k, v in mine.items()}
    theirs = {}
    main = [c for c in Path(f"/proc/{app_pid}/task/{app_pid}/children").read_text().split()]
    for line in Path(f"/proc/{main[0]}/status").read_text().splitlines():
        k, v = line.split(":", 1)
        theirs[k] = v.strip()
    for k in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp"):  # ids: the host shows its own view
        assert mine[k] == theirs[k], (k, mine, theirs)
    assert mine["NoNewPrivs"] == "1" and mine["Seccomp"] == "2"
    assert mine["Uid"].split()[0] == "1000" and mine["Groups"] == "2000"
    assert "/tmp" in out.splitlines()
    # its pid namespace: only the container's processes (init, sleep, sh, grep/ps ...)
    assert int(out.splitlines()[-1]) < 10
    # not found / not runnable
    _, _, err, ex = pod.exec(["no-such-command-xyz"])
    assert ex["exitCode"] == 127, (err, ex)
    _, _, _, ex = pod.exec(["/etc/passwd"])
    assert ex["exitCode"] == 126
    # an unknown container is refused
    ack, _, _, ex = pod.exec(["true"], container="nope")
    assert ack["ok"] is False and ex["type"] == "error"
    # the exec'd process was in the container's cgroup: none of it is left behind
    assert (pod.state / "exec.sock").stat().st_mode & 0o777 == 0o600


def test_read_only_root_and_hostname(pods):
    pod = pods([container("ro", ["sh", "-c", "touch /x 2>/dev/null || echo root-ro; touch /tmp/y && echo tmp-rw; "
                                 "hostname; sleep 60"], readOnlyRootFilesystem=True)], name="podname")
    assert running(pod, "ro")
    assert wait_until(lambda: "podname" in pod.log("ro"), 10), (pod.log("ro"), pod.stderr())
    log = pod.log("ro")
    assert "root-ro" in log and "tmp-rw" in log


def test_exec_with_a_tty(pods):
    pod = pods([container("app", ["sleep", "600"])])
    assert running(pod, "app")
    ack, out, _, ex = pod.exec(["sh", "-c", "tty; test -t 0 && test -t 1 && echo is-a-tty"], tty=True)
    assert ack == {"ok": True}, (ack, ex)
    assert "/dev/pts/" in out and "is-a-tty" in out, out
    assert ex["exitCode"] == 0
