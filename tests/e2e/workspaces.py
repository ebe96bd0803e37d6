"""workspaces.py: helpers for the declarative-workspace tests (sbx apply and friends).

Manifests are built as Python dicts and sent as JSON documents (JSON is YAML), so a test
states exactly the fields it means; YAML-specific behaviour (line numbers, multi-document
files) is tested with literal text.
"""

import json
import os
import socket
import subprocess
import time

from sbxlib import explain, wait_until

API = "agents.x-k8s.io/v1alpha1"


def container(name="main", command=None, **extra):
    c = {"name": name, "image": "host",
         "command": command or ["/usr/bin/python3", "-c", "import time; time.sleep(100000)"]}
    c.update(extra)
    return c


def sandbox(name, containers=None, init=None, volumes=None, claims=None, api=API, spec_extra=None,
            pod_extra=None, labels=None):
    pod = {"containers": containers or [container()]}
    if init:
        pod["initContainers"] = init
    if volumes:
        pod["volumes"] = volumes
    pod.update(pod_extra or {})
    spec = {"podTemplate": {"spec": pod}}
    if claims:
        spec["volumeClaimTemplates"] = [
            {"metadata": {"name": n}, "spec": {"accessModes": ["ReadWriteOnce"],
                                               "resources": {"requests": {"storage": size}}}}
            for n, size in claims.items()]
    spec.update(spec_extra or {})
    md = {"name": name}
    if labels:
        md["labels"] = labels
    return {"apiVersion": api, "kind": "Sandbox", "metadata": md, "spec": spec}


def secret(name, **data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def configmap(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def apply(sbx, *objs, user="alice", text=None):
    """`sbx apply -f -` of the objects (JSON documents) or of literal text."""
    if text is None:
        text = "\n---\n".join(json.dumps(o) for o in objs)
    return sbx("apply", "-f", "-", user=user, input=text, timeout=120)


def applied(sbx, *objs, user="alice"):
    r = apply(sbx, *objs, user=user)
    assert r.returncode == 0, explain(r)
    return r.stdout


def get(sbx, name, user="alice", kind="sandbox"):
    r = sbx("get", kind, name, "-o", "json", user=user)
    assert r.returncode == 0, explain(r)
    return json.loads(r.stdout)


def ready(obj):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == "Ready":
            return c
    return {}


def wait_ready(sbx, name, user="alice", timeout=90):
    r = sbx("wait", "--for=condition=Ready", f"sandbox/{name}", f"--timeout={timeout}s", user=user,
            timeout=timeout + 30)
    if r.returncode != 0:
        obj = sbx("get", "sandbox", name, "-o", "json", user=user).stdout
        raise AssertionError(f"{name} not Ready: {explain(r)}\n{obj}")


def wait_condition(sbx, name, pred, user="alice", timeout=60):
    last = {}

    def check():
        nonlocal last
        r = sbx("get", "sandbox", name, "-o", "json", user=user)
        if r.returncode != 0:
            return False
        last = json.loads(r.stdout)
        return pred(last)
    ok = wait_until(check, timeout, interval=0.3)
    assert ok, f"{name}: condition not reached in {timeout}s; last object:\n{json.dumps(last, indent=1)}"
    return last


def container_status(obj, name="main"):
    ps = obj.get("status", {}).get("podStatus", {})
    for c in ps.get("containerStatuses", []) + ps.get("initContainerStatuses", []):
        if c.get("name") == name:
            return c
    return {}


def exec_in(sbx, name, *cmd, user="alice", container=None, input=None):
    args = ["exec"] + (["-i"] if input is not None else []) + [name]
    if container:
        args += ["-c", container]
    return sbx(*args, "--", *cmd, user=user, input=input)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http_get_as(user, port, path="/", timeout=20):
    """GET http://127.0.0.1:port/path as a unix user (a forward serves its owner only)."""
    code = ("import sys, urllib.request\n"
            f"r = urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout={timeout})\n"
            "sys.stdout.write(str(r.status) + '\\n' + r.read().decode(errors='replace'))\n")
    argv = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--",
            "/usr/bin/python3", "-c", code]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 10, cwd="/")


def start_forward(sbx_popen, name, spec, user="alice"):
    """`sbx port-forward NAME spec` in the background; returns (proc, local port)."""
    p = sbx_popen("port-forward", name, spec, user=user)
    line = b""
    deadline = time.monotonic() + 20
    os.set_blocking(p.stdout.fileno(), False)
    while b"Forwarding from" not in line and time.monotonic() < deadline:
        chunk = p.stdout.read() or b""
        line += chunk
        if p.poll() is not None:
            break
        time.sleep(0.05)
    text = line.decode(errors="replace")
    assert "Forwarding from" in text, f"port-forward did not start: {text} {p.stderr.read()}"
    port = int(text.split("Forwarding from 127.0.0.1:")[1].split()[0])
    return p, port
