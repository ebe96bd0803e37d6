"""test_workspaces.py: declared workspaces end to end: apply, status, lifecycle, volumes.

Each test applies Sandbox manifests with the real `sbx` as a real user and checks what
the user and the host see: Ready conditions with upstream's reasons, restarts, suspend and
resume, shutdown times, restart policies with back-off, admission, persistent volumes that
outlive their sandbox, and a daemon killed with SIGKILL (and a simulated reboot) that
re-adopts or brings back every workspace.
"""

import json
import subprocess
import os
import signal
import time
from pathlib import Path

from sbxlib import explain, host_mounts_under, host_pids_with_marker, marker, pid_alive, unique_name, wait_until
from workspaces import (
    applied, apply, configmap, container, container_status, exec_in, get, http_get_as, ready, sandbox, secret,
    start_forward, wait_condition, wait_ready)

REPO = Path(__file__).resolve().parents[2]
SLEEP = "import time; time.sleep(100000)"

def sleeper(mark, name="main", **extra):
    return container(name, ["/usr/bin/python3", "-c", f"{SLEEP} # {mark}"], **extra)

# ---- the issue's "done when": the JupyterLab example -------------------------------------

def test_jupyterlab_example_serves_and_keeps_files(sbx, sbx_popen, users):
    alice = users["alice"]
    text = (REPO / "examples" / "jupyterlab.yaml").read_text()
    r = apply(sbx, text=text, user="alice")
    assert r.returncode == 0, explain(r)
    assert "secret/jupyter-hf-token created" in r.stdout, r.stdout
    assert "sandbox.agents.x-k8s.io/jupyterlab-sandbox created" in r.stdout, r.stdout
    try:
        wait_ready(sbx, "jupyterlab-sandbox", timeout=120)
        # the init container prepared the workspace; the token came from the Secret
        r = exec_in(sbx, "jupyterlab-sandbox", "sh", "-c", "ls /home/jovyan; echo HF=$HF_TOKEN; id -u")
        assert r.returncode == 0, explain(r)
        assert "work" in r.stdout and "HF=" in r.stdout and "HF=\n" not in r.stdout, r.stdout
        # Jupyter answers through the forward
        fwd, port = start_forward(sbx_popen, "jupyterlab-sandbox", "0:8888")
        try:
            res = None
            for _ in range(60):
                res = http_get_as(alice, port, "/api")
                if res.returncode == 0 and res.stdout.startswith("200"):
                    break
                time.sleep(0.5)
            assert res.stdout.startswith("200") and '"version"' in res.stdout, res.stdout + res.stderr
        finally:
            fwd.send_signal(signal.SIGINT)
            fwd.wait(timeout=10)
        # a notebook file written in the workspace survives delete and re-apply
        token = marker()
        r = exec_in(sbx, "jupyterlab-sandbox", "sh", "-c", f"echo {token} > /home/jovyan/work/keep.txt")
        assert r.returncode == 0, explain(r)
        r = sbx("delete", "sandbox", "jupyterlab-sandbox", user="alice", timeout=90)
        assert r.returncode == 0, explain(r)
        pvcs = sbx("get", "pvc", user="alice")
        assert "workspace-jupyterlab-sandbox" in pvcs.stdout, explain(pvcs)
        # the owner reaches the files on the host, owned by their own uid
        found = [p for p in Path("/").glob("tmp/sbx-e2e-*/root/volumes/*/default/workspace-jupyterlab-sandbox/work/keep.txt")
                 if p.read_text().strip() == token]
        assert found and found[0].stat().st_uid == alice.uid, found
        r = apply(sbx, text=text, user="alice")
        assert r.returncode == 0, explain(r)
        wait_ready(sbx, "jupyterlab-sandbox", timeout=120)
        r = exec_in(sbx, "jupyterlab-sandbox", "cat", "/home/jovyan/work/keep.txt")
        assert r.stdout.strip() == token, explain(r)
    finally:
        sbx("delete", "sandbox", "jupyterlab-sandbox", user="alice", timeout=90)
        sbx("delete", "pvc", "workspace-jupyterlab-sandbox", user="alice", timeout=60)
        sbx("delete", "secret", "jupyter-hf-token", user="alice")

# ---- apply ---------------------------------------------------------------------------------

def test_apply_reports_created_configured_unchanged(sbx, users):
    name = unique_name("apply")
    obj = sandbox(name, [sleeper(marker())])
    assert f"sandbox.agents.x-k8s.io/{name} created" in applied(sbx, obj)
    assert f"sandbox.agents.x-k8s.io/{name} unchanged" in applied(sbx, obj)
    obj["metadata"]["labels"] = {"team": "ml"}
    assert f"sandbox.agents.x-k8s.io/{name} configured" in applied(sbx, obj)
    try:
        wait_ready(sbx, name)
        o = get(sbx, name)
        assert ready(o)["status"] == "True" and ready(o)["reason"] == "DependenciesReady", o
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)

def test_get_answers_in_the_version_asked(sbx, users):
    name = unique_name("versions")
    applied(sbx, sandbox(name, [sleeper(marker())], api="agents.x-k8s.io/v1beta1"))
    try:
        r = sbx("get", "sandboxes.v1alpha1.agents.x-k8s.io", name, "-o", "json", user="alice")
        if r.returncode != 0:  # the CLI may not take a versioned kind: ask the API
            r = sbx("get", "sandbox", name, "-o", "json", user="alice")
        o = json.loads(r.stdout)
        if o["apiVersion"].endswith("v1alpha1"):
            assert o["spec"].get("replicas") == 1 and "operatingMode" not in o["spec"], o
        else:
            assert o["spec"].get("operatingMode") == "Running", o
        y = sbx("get", "sandbox", name, "-o", "yaml", user="alice")
        assert y.returncode == 0 and "apiVersion: agents.x-k8s.io/" in y.stdout, explain(y)
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)

def test_template_change_restarts_and_keeps_writable_layer(sbx, users):
    name = unique_name("restart")
    m1, m2 = marker(), marker()
    applied(sbx, sandbox(name, [sleeper(m1)]))
    try:
        wait_ready(sbx, name)
        r = exec_in(sbx, name, "sh", "-c", "echo installed > /opt/pkg.txt")
        assert r.returncode == 0, explain(r)
        assert f"sandbox.agents.x-k8s.io/{name} configured" in applied(sbx, sandbox(name, [sleeper(m2)]))
        wait_until(lambda: host_pids_with_marker(m2), 60)
        wait_ready(sbx, name)
        assert not host_pids_with_marker(m1), "the old template's process still runs"
        r = exec_in(sbx, name, "cat", "/opt/pkg.txt")
        assert r.stdout.strip() == "installed", explain(r)
        d = sbx("describe", "sandbox", name, user="alice")
        assert "TemplateChanged" in d.stdout, explain(d)
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)

# ---- lifecycle -----------------------------------------------------------------------------

def test_suspend_and_resume_keep_the_workspace(sbx, users):
    name = unique_name("suspend")
    mark = marker()
    applied(sbx, sandbox(name, [sleeper(mark, volumeMounts=[{"name": "work", "mountPath": "/work"}])],
                         claims={"work": "64Mi"}))
    try:
        wait_ready(sbx, name)
        assert exec_in(sbx, name, "sh", "-c", "echo kept > /work/a; echo layer > /opt/b").returncode == 0
        r = sbx("scale", "sandbox", name, "--replicas=0", user="alice")
        assert r.returncode == 0 and "scaled" in r.stdout, explain(r)
        o = wait_condition(sbx, name, lambda o: ready(o).get("reason") == "SandboxSuspended"
                           and not host_pids_with_marker(mark))
        assert ready(o)["status"] == "False"
        assert sbx("scale", "sandbox", name, "--replicas=1", user="alice").returncode == 0
        wait_ready(sbx, name)
        r = exec_in(sbx, name, "sh", "-c", "cat /work/a /opt/b")
        assert r.stdout.split() == ["kept", "layer"], explain(r)
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)
        sbx("delete", "pvc", f"work-{name}", user="alice")

def test_shutdown_time_retain_and_delete(sbx, users):
    past = "2020-01-01T00:00:00Z"
    keep, gone = unique_name("expire-keep"), unique_name("expire-del")
    m1, m2 = marker(), marker()
    applied(sbx, sandbox(keep, [sleeper(m1)], spec_extra={"shutdownTime": past, "shutdownPolicy": "Retain"}),
            sandbox(gone, [sleeper(m2)], spec_extra={"shutdownTime": past, "shutdownPolicy": "Delete"}))
    try:
        o = wait_condition(sbx, keep, lambda o: ready(o).get("reason") == "SandboxExpired")
        assert ready(o)["status"] == "False"
        assert wait_until(lambda: sbx("get", "sandbox", gone, user="alice").returncode != 0, 30), \
            "a sandbox past its shutdown time with policy Delete is still there"
        assert not host_pids_with_marker(m1) and not host_pids_with_marker(m2)
        # a later shutdown time brings it back
        applied(sbx, sandbox(keep, [sleeper(m1)], spec_extra={"shutdownTime": "2999-01-01T00:00:00Z"}))
        wait_ready(sbx, keep)
    finally:
        sbx("delete", "sandbox", keep, user="alice", timeout=60)

def test_restart_policies_and_crash_loop_backoff(sbx, users):
    fail = ["/bin/sh", "-c", "echo trying; exit 3"]
    onfail, never = unique_name("onfailure"), unique_name("never")
    applied(sbx, sandbox(onfail, [container("main", fail)], pod_extra={"restartPolicy": "OnFailure"}),
            sandbox(never, [container("main", fail)], pod_extra={"restartPolicy": "Never"}))
    try:
        o = wait_condition(sbx, onfail, lambda o: container_status(o).get("restartCount", 0) >= 2, timeout=60)
        o = wait_condition(sbx, onfail, lambda o: container_status(o).get("state", {}).get("waiting", {})
                           .get("reason") == "CrashLoopBackOff", timeout=60)
        last = container_status(o).get("lastState", {}).get("terminated", {})
        assert last.get("exitCode") == 3, o
        o = wait_condition(sbx, never, lambda o: container_status(o).get("state", {}).get("terminated"), timeout=30)
        term = container_status(o)["state"]["terminated"]
        assert term["exitCode"] == 3 and term["reason"] == "Error", o
        time.sleep(3)
        assert container_status(get(sbx, never)).get("restartCount", 0) == 0
        logs = sbx("logs", never, user="alice")
        assert "trying" in logs.stdout, explain(logs)
    finally:
        sbx("delete", "sandbox", onfail, never, user="alice", timeout=60)

def test_admission_keeps_an_oversized_sandbox_pending(sbx, users):
    name = unique_name("pending")
    big = sleeper(marker(), resources={"requests": {"cpu": "512"}})
    applied(sbx, sandbox(name, [big]))
    try:
        o = wait_condition(sbx, name, lambda o: "Insufficient cpu" in ready(o).get("message", ""))
        assert ready(o)["status"] == "False" and ready(o)["reason"] == "DependenciesNotReady", o
        assert o["status"]["podStatus"]["phase"] == "Pending", o
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)

def test_init_containers_run_first_and_containers_share_localhost(sbx, users):
    name = unique_name("pod")
    server = container("server", ["/usr/bin/python3", "-c",
                                  "import socket,time\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                                  "s.bind(('127.0.0.1', 7000)); s.listen()\nwhile True:\n c,_=s.accept(); c.sendall(open('/shared/init.txt','rb').read()); c.close()"],
                       volumeMounts=[{"name": "shared", "mountPath": "/shared"}])
    client = sleeper(marker(), "client")
    init = [container("prepare", ["/bin/sh", "-c", "echo prepared-by-init > /shared/init.txt"],
                      volumeMounts=[{"name": "shared", "mountPath": "/shared"}])]
    applied(sbx, sandbox(name, [server, client], init=init, volumes=[{"name": "shared", "emptyDir": {}}]))
    try:
        wait_ready(sbx, name)
        code = "import socket; s=socket.create_connection(('127.0.0.1', 7000)); print(s.recv(100).decode())"
        # Ready says the server's container started, not that it listens yet: ask until it answers
        assert wait_until(lambda: "prepared-by-init" in exec_in(sbx, name, "/usr/bin/python3", "-c", code,
                                                                container="client").stdout, 20)
        # separate writable layers: a file made in one container is not in the other
        assert exec_in(sbx, name, "sh", "-c", "echo x > /opt/only-client", container="client").returncode == 0
        assert exec_in(sbx, name, "test", "-e", "/opt/only-client", container="server").returncode == 1
        o = get(sbx, name)
        init_state = container_status(o, "prepare")["state"]["terminated"]
        assert init_state["exitCode"] == 0 and init_state["reason"] == "Completed", o
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)

# ---- configuration: env, secrets, config maps, volumes -------------------------------------

def test_env_from_secrets_configmaps_and_fields(sbx, users):
    name, sec, cm = unique_name("env"), unique_name("sec"), unique_name("cm")
    c = sleeper(marker(), env=[
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": sec, "key": "token"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "mode"}}},
        {"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "PLAIN", "value": "v"}],
        envFrom=[{"configMapRef": {"name": cm}, "prefix": "CM_"}],
        volumeMounts=[{"name": "s", "mountPath": "/etc/creds", "readOnly": True},
                      {"name": "c", "mountPath": "/etc/conf"}])
    applied(sbx, secret(sec, token="s3cr3t-value"), configmap(cm, mode="fast", other="o"),
            sandbox(name, [c], volumes=[{"name": "s", "secret": {"secretName": sec}},
                                        {"name": "c", "configMap": {"name": cm}}]))
    try:
        wait_ready(sbx, name)
        r = exec_in(sbx, name, "sh", "-c",
                    "echo $TOKEN $MODE $ME $PLAIN $CM_other; cat /etc/creds/token; echo; cat /etc/conf/mode")
        assert r.stdout.split() == ["s3cr3t-value", "fast", name, "v", "o", "s3cr3t-value", "fast"], explain(r)
        # the secret volume is read-only
        assert exec_in(sbx, name, "sh", "-c", "echo x > /etc/creds/token").returncode != 0
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)
        sbx("delete", "secret", sec, user="alice")
        sbx("delete", "configmap", cm, user="alice")

def test_missing_secret_key_is_dependencies_not_ready(sbx, users):
    name, sec = unique_name("nokey"), unique_name("sec")
    c = sleeper(marker(), env=[{"name": "T", "valueFrom": {"secretKeyRef": {"name": sec, "key": "absent"}}}])
    applied(sbx, secret(sec, present="1"), sandbox(name, [c]))
    try:
        o = wait_condition(sbx, name, lambda o: "absent" in ready(o).get("message", ""))
        assert ready(o)["reason"] == "DependenciesNotReady", o
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)
        sbx("delete", "secret", sec, user="alice")

def test_another_users_secret_is_not_found(sbx, users):
    sec, name = unique_name("alice-sec"), unique_name("bob-steals")
    applied(sbx, secret(sec, token="alice-only"), user="alice")
    c = sleeper(marker(), env=[{"name": "T", "valueFrom": {"secretKeyRef": {"name": sec, "key": "token"}}}])
    applied(sbx, sandbox(name, [c]), user="bob")
    try:
        o = wait_condition(sbx, name, lambda o: "not found" in ready(o).get("message", ""), user="bob")
        assert ready(o)["status"] == "False", o
        assert sbx("get", "secret", sec, user="bob").returncode != 0
    finally:
        sbx("delete", "sandbox", name, user="bob", timeout=60)
        sbx("delete", "secret", sec, user="alice")

def test_pvc_capacity_is_enforced_and_outlives_the_sandbox(sbx, users):
    alice = users["alice"]
    name = unique_name("cap")
    c = sleeper(marker(), volumeMounts=[{"name": "data", "mountPath": "/data"}],
                securityContext={"runAsUser": 1000, "runAsGroup": 1000})
    applied(sbx, sandbox(name, [c], claims={"data": "32Mi"}))
    try:
        wait_ready(sbx, name)
        r = exec_in(sbx, name, "sh", "-c", "dd if=/dev/zero of=/data/big bs=1M count=64 2>&1; echo rc=$?; id -u; stat -c %u /data/big")
        assert "No space left on device" in r.stdout and "rc=1" in r.stdout, explain(r)
        assert r.stdout.split()[-2:] == ["1000", "1000"], explain(r)
        pvc = get(sbx, f"data-{name}", kind="pvc")
        assert pvc["status"]["phase"] == "Bound" and pvc["status"]["capacity"]["storage"] == "32Mi", pvc
        assert sbx("delete", "pvc", f"data-{name}", user="alice").returncode != 0, "a PVC in use was deleted"
        assert sbx("delete", "sandbox", name, user="alice", timeout=60).returncode == 0
        files = list(Path("/").glob(f"tmp/sbx-e2e-*/root/volumes/{alice.uid}/default/data-{name}/big"))
        assert files and files[0].stat().st_uid == alice.uid, files
        r = sbx("delete", "pvc", f"data-{name}", user="alice")
        assert r.returncode == 0, explain(r)
        assert not list(Path("/").glob(f"tmp/sbx-e2e-*/root/volumes/{alice.uid}/default/data-{name}/big"))
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)
        sbx("delete", "pvc", f"data-{name}", user="alice")

def test_ephemeral_storage_bounds_the_writable_layer(sbx, users):
    name = unique_name("ephemeral")
    c = sleeper(marker(), resources={"limits": {"ephemeral-storage": "32Mi"}})
    applied(sbx, sandbox(name, [c]))
    try:
        wait_ready(sbx, name)
        r = exec_in(sbx, name, "sh", "-c", "dd if=/dev/zero of=/opt/fill bs=1M count=64 2>&1; echo rc=$?")
        assert "No space left on device" in r.stdout, explain(r)
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)

def test_security_context_is_honoured(sbx, users):
    name = unique_name("secctx")
    c = sleeper(marker(), securityContext={"runAsUser": 1234, "runAsGroup": 4321, "readOnlyRootFilesystem": True,
                                           "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})
    applied(sbx, sandbox(name, [c]))
    try:
        wait_ready(sbx, name)
        r = exec_in(sbx, name, "sh", "-c", "id -u; id -g; grep CapBnd /proc/self/status; touch /opt/x; echo rc=$?")
        out = r.stdout.split()
        assert out[0] == "1234" and out[1] == "4321", explain(r)
        assert "CapBnd:" in r.stdout and "0000000000000400" in r.stdout, explain(r)  # only NET_BIND_SERVICE
        assert "rc=1" in r.stdout, explain(r)
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)

def test_host_path_only_where_allowed_and_read_only(sbx, users):
    from conftest import SHARED_DATA
    (SHARED_DATA / "lake.csv").write_text("a,b\n")
    ok, bad = unique_name("lake"), unique_name("etc")
    c = sleeper(marker(), volumeMounts=[{"name": "lake", "mountPath": "/data"}])
    applied(sbx, sandbox(ok, [c], volumes=[{"name": "lake", "hostPath": {"path": str(SHARED_DATA)}}]))
    r = apply(sbx, sandbox(bad, [c], volumes=[{"name": "lake", "hostPath": {"path": "/etc"}}]))
    try:
        if r.returncode == 0:  # refused at start rather than at apply
            o = wait_condition(sbx, bad, lambda o: "not allowed" in ready(o).get("message", ""))
            assert ready(o)["status"] == "False"
        else:
            assert "not allowed" in r.stderr, explain(r)
        wait_ready(sbx, ok)
        r = exec_in(sbx, ok, "sh", "-c", "cat /data/lake.csv; echo x > /data/new; echo rc=$?")
        assert "a,b" in r.stdout and "rc=0" not in r.stdout and "Read-only" in r.stderr, explain(r)
        assert not (SHARED_DATA / "new").exists()
    finally:
        sbx("delete", "sandbox", ok, bad, user="alice", timeout=60)

# ---- people ----------------------------------------------------------------------------

def test_other_users_see_nothing(sbx, users):
    name = unique_name("private")
    applied(sbx, sandbox(name, [sleeper(marker())]), user="alice")
    try:
        wait_ready(sbx, name)
        for args in (("get", "sandbox", name), ("describe", "sandbox", name), ("logs", name),
                     ("exec", name, "--", "true"), ("delete", "sandbox", name)):
            r = sbx(*args, user="bob")
            assert r.returncode != 0 and "not found" in r.stderr.lower(), explain(r)
        assert name not in sbx("get", "sandboxes", user="bob").stdout
        assert name in sbx("get", "sandboxes", "-A").stdout  # root sees everyone's
        assert ready(get(sbx, name))["status"] == "True"
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)

# ---- the daemon dies -------------------------------------------------------------------

def test_daemon_kill9_readopts_running_workspaces(own_daemon, users):
    d = own_daemon
    sbx = d.run
    name, mark = unique_name("readopt"), marker()
    c = container("main", ["/usr/bin/python3", "-c",
                           f"import time,sys\nwhile True:\n print('tick # {mark}', flush=True); time.sleep(0.2)"])
    applied(sbx, sandbox(name, [c]))
    wait_ready(sbx, name)
    # Ready says the container started; its command may not have exec'd yet
    assert wait_until(lambda: len(host_pids_with_marker(mark)) == 1, 10)
    pids = host_pids_with_marker(mark)
    d.kill9()
    time.sleep(1)
    assert pid_alive(pids[0]), "the sandbox died with the daemon"
    d.restart()
    o = get(sbx, name)
    assert ready(o)["status"] == "True", o
    assert host_pids_with_marker(mark) == pids, "the sandbox was restarted instead of re-adopted"
    n1 = sbx("logs", name, user="alice").stdout.count("tick")
    time.sleep(1)
    n2 = sbx("logs", name, user="alice").stdout.count("tick")
    assert n2 > n1, "logs stopped flowing after the daemon restart"
    assert sbx("delete", "sandbox", name, user="alice", timeout=60).returncode == 0
    assert wait_until(lambda: not host_pids_with_marker(mark), 20)
    assert not [m for m in host_mounts_under(d.root) if "/sandboxes/" in m]

def test_reboot_brings_workspaces_back_with_their_volumes(own_daemon, users):
    d = own_daemon
    sbx = d.run
    name, mark = unique_name("reboot"), marker()
    c = sleeper(mark, volumeMounts=[{"name": "work", "mountPath": "/work"}])
    applied(sbx, sandbox(name, [c], claims={"work": "64Mi"}))
    wait_ready(sbx, name)
    assert exec_in(sbx, name, "sh", "-c", "echo survived > /work/f").returncode == 0
    # the "reboot": the daemon and every process of the workspace die at once
    d.kill9()
    killed = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # only this daemon's shims: their argv[1] is a sandbox id under its state dir
        if len(cmd) > 1 and cmd[0].endswith(b"sbx-shim") and cmd[1] and \
                (d.root / "sandboxes" / cmd[1].decode(errors="replace")).exists():
            os.kill(int(p), signal.SIGKILL)
            killed.append(cmd[1].decode())
    for p in host_pids_with_marker(mark):
        os.kill(p, signal.SIGKILL)
    assert wait_until(lambda: not host_pids_with_marker(mark), 10)
    d.restart()
    wait_ready(sbx, name, timeout=60)
    r = exec_in(sbx, name, "cat", "/work/f")
    assert r.stdout.strip() == "survived", explain(r)
    assert sbx("delete", "sandbox", name, user="alice", timeout=60).returncode == 0
    # nothing the killed supervisors (the workspace's and the warm pool's) held is left
    assert killed
    left = [c for i in killed for c in Path("/sys/fs/cgroup").glob(f"**/sbx/{i}")]
    assert not left, f"cgroups left behind: {left}"


def test_oom_killed_container_is_reported(sbx, users):
    name = unique_name("oom")
    hog = container("main", ["/usr/bin/python3", "-c", "x = bytearray(512 << 20); import time; time.sleep(100)"],
                    resources={"limits": {"memory": "64Mi"}})
    applied(sbx, sandbox(name, [hog], pod_extra={"restartPolicy": "Never"}))
    try:
        o = wait_condition(sbx, name, lambda o: container_status(o).get("state", {}).get("terminated"), timeout=60)
        term = container_status(o)["state"]["terminated"]
        assert term["reason"] == "OOMKilled" and term["exitCode"] == 137, o
        d = sbx("describe", "sandbox", name, user="alice")
        assert "OOMKilled" in d.stdout, explain(d)
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)


# ---- attacks on the workspace machinery ------------------------------------------------

def test_a_planted_symlink_cannot_lead_a_sub_path_out_of_its_volume(daemon, sbx, users, host_canary):
    """alice owns her volume's directory on the host, so she can plant symlinks in it (or
    from inside a sandbox); a subPath through them must stay inside the volume."""
    alice = users["alice"]
    name = unique_name("subpath")
    first = sleeper(marker(), volumeMounts=[{"name": "work", "mountPath": "/work"}])
    applied(sbx, sandbox(name, [first], claims={"work": "32Mi"}))
    try:
        wait_ready(sbx, name)
        vol = daemon.root / "volumes" / str(alice.uid) / "default" / f"work-{name}"
        # one planted on the host as alice, one from inside the sandbox
        r = subprocess.run(["setpriv", f"--reuid={alice.uid}", f"--regid={alice.gid}", "--init-groups", "--",
                            "ln", "-s", str(host_canary.canary.parent), str(vol / "to-root")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert exec_in(sbx, name, "ln", "-s", "../../../../../../root", "/work/up").returncode == 0
        mounts = [{"name": "work", "mountPath": "/work"},
                  {"name": "work", "mountPath": "/a", "subPath": "to-root"},
                  {"name": "work", "mountPath": "/b", "subPath": "up"}]
        applied(sbx, sandbox(name, [sleeper(marker(), volumeMounts=mounts)], claims={"work": "32Mi"}))
        o = wait_condition(sbx, name, lambda o: ready(o).get("status") == "True" or
                           container_status(o).get("state", {}).get("waiting") or
                           container_status(o).get("lastState", {}).get("terminated"), timeout=60)
        if ready(o).get("status") == "True":
            # resolved inside the volume: whatever it shows, it is not the host's /root
            r = exec_in(sbx, name, "sh", "-c", "cat /a/* /b/* 2>/dev/null; ls -a /a /b")
            assert host_canary.secret not in r.stdout, explain(r)
        else:
            # or refused: the link's target does not exist inside the volume
            term = container_status(o).get("lastState", {}).get("terminated") or \
                container_status(o).get("state", {}).get("terminated", {})
            assert "subPath" in term.get("message", ""), o
        # whatever the sandbox did, the host's /root is untouched and was never mounted
        assert host_canary.canary.read_text().strip() == host_canary.secret
        assert not [m for m in host_mounts_under("/root")]
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)
        sbx("delete", "pvc", f"work-{name}", user="alice")


def test_users_cannot_reach_a_shims_exec_socket(daemon, sbx, users):
    """exec goes through sbxd, which checks the owner; the shim's own socket is root's."""
    name = unique_name("execsock")
    applied(sbx, sandbox(name, [sleeper(marker())]))
    try:
        wait_ready(sbx, name)
        socks = list((daemon.root / "sandboxes").glob("*/exec.sock"))
        assert socks
        code = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
                "try:\n s.connect(sys.argv[1]); print('connected')\nexcept OSError as e:\n print('refused', e.errno)\n")
        for who in ("alice", "bob"):
            u = users[who]
            r = subprocess.run(["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--init-groups", "--",
                                "/usr/bin/python3", "-c", code, str(socks[0])], capture_output=True, text=True)
            assert r.stdout.startswith("refused"), (who, r.stdout, r.stderr)
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)
