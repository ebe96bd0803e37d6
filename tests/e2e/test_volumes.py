"""test_volumes.py: Secrets, ConfigMaps and PersistentVolumeClaims over the REST API, as the
daemon serves them (api_core.c, volumes.c), spoken directly over the unix socket by the real
test users (a small http.client program run under setpriv, so SO_PEERCRED sees them).

What is checked: create/get/list/replace/delete of Secrets and ConfigMaps with Kubernetes'
answers (201, 409 AlreadyExists, 200, 404); stringData folded into base64 data; refusals of
bad bodies that change nothing; immutable Secrets; another user's objects answer exactly
like missing ones; the state database is root's alone; PVCs appear for a sandbox's
volumeClaimTemplates, are not writable over REST, cannot be deleted while a sandbox uses
them and vanish completely (image, mount) when deleted; the owner's volume directory on
the host is theirs alone; a hostPath outside --allow-host-path is refused with a message
that says what is allowed; and the root-only C harness of capacity enforcement (ENOSPC
past an image's size, nothing outside touched) passes.
"""

import json
import os
import pwd
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import build_dir
from sbxlib import UNIX_HTTP, unique_name, wait_until

CLIENT = UNIX_HTTP + r'''
sock, method, path = sys.argv[1:4]
body = sys.stdin.buffer.read()
c = UnixHTTP(sock, timeout=30)
c.request(method, path, body=body or None, headers={"Content-Type": "application/json"} if body else {})
r = c.getresponse()
sys.stdout.write(json.dumps({"status": r.status, "body": r.read().decode(errors="replace")}))
'''


def rest(daemon, method, path, body=None, user=None):
    """(HTTP status, parsed JSON body) of one request, made as `user` (a User, a short name
    such as "alice", or None for root)."""
    argv = ["/usr/bin/python3", "-c", CLIENT, str(daemon.sock), method, path]
    if user is not None:
        u = daemon._user(user)
        argv = ["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--init-groups", "--", *argv]
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    r = subprocess.run(argv, input=data, capture_output=True, timeout=60, cwd="/")
    assert r.returncode == 0, f"client failed: {r.stderr.decode(errors='replace')}"
    out = json.loads(r.stdout)
    try:
        parsed = json.loads(out["body"]) if out["body"] else None
    except ValueError:
        parsed = out["body"]
    return out["status"], parsed


NS = "/api/v1/namespaces/default"
SANDBOXES = "/apis/agents.x-k8s.io/v1beta1/namespaces/default/sandboxes"


def secret(name, **string_data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": string_data}


def configmap(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def b64(s):
    import base64
    return base64.b64encode(s.encode()).decode()


def names(listing):
    return {it["metadata"]["name"] for it in listing["items"]}


# --- Secrets and ConfigMaps ---------------------------------------------------------------

@pytest.mark.smoke
def test_secret_crud(daemon, users):
    name = unique_name("sec")
    st, obj = rest(daemon, "POST", f"{NS}/secrets", secret(name, token="hunter2"), user="alice")
    assert st == 201, obj
    assert obj["kind"] == "Secret" and obj["apiVersion"] == "v1"
    assert obj["data"] == {"token": b64("hunter2")}, "stringData is folded into base64 data"
    assert "stringData" not in obj
    assert obj["type"] == "Opaque"
    assert obj["metadata"]["namespace"] == "default" and obj["metadata"]["uid"]
    assert "x-sbx" not in obj
    try:
        st, again = rest(daemon, "POST", f"{NS}/secrets", secret(name, token="other"), user="alice")
        assert st == 409 and again["reason"] == "AlreadyExists", again
        st, got = rest(daemon, "GET", f"{NS}/secrets/{name}", user="alice")
        assert st == 200 and got["data"]["token"] == b64("hunter2"), got
        # replace: 200, identity kept
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                "data": {"token": b64("new-value")}, "type": "Opaque"}
        st, rep = rest(daemon, "PUT", f"{NS}/secrets/{name}", body, user="alice")
        assert st == 200, rep
        assert rep["metadata"]["uid"] == obj["metadata"]["uid"]
        assert rep["data"] == {"token": b64("new-value")}
        # PUT of a new name creates: 201
        other = unique_name("sec")
        st, created = rest(daemon, "PUT", f"{NS}/secrets/{other}", secret(other, a="b"), user="alice")
        assert st == 201, created
        st, lst = rest(daemon, "GET", f"{NS}/secrets", user="alice")
        assert st == 200 and lst["kind"] == "SecretList" and {name, other} <= names(lst), lst
        st, everywhere = rest(daemon, "GET", "/api/v1/secrets", user="alice")
        assert st == 200 and {name, other} <= names(everywhere), everywhere
        st, gone = rest(daemon, "DELETE", f"{NS}/secrets/{other}", user="alice")
        assert st == 200, gone
        st, _ = rest(daemon, "GET", f"{NS}/secrets/{other}", user="alice")
        assert st == 404
    finally:
        rest(daemon, "DELETE", f"{NS}/secrets/{name}", user="alice")


def test_configmap_crud(daemon, users):
    name = unique_name("cm")
    st, obj = rest(daemon, "POST", f"{NS}/configmaps", configmap(name, mode="fast", **{"cfg.yaml": "a: 1\n"}),
                   user="alice")
    assert st == 201, obj
    assert obj["data"] == {"mode": "fast", "cfg.yaml": "a: 1\n"}
    try:
        body = configmap(name, mode="slow")
        body["binaryData"] = {"blob": b64("\x00\x01")}
        st, rep = rest(daemon, "PUT", f"{NS}/configmaps/{name}", body, user="alice")
        assert st == 200 and rep["data"] == {"mode": "slow"} and rep["binaryData"] == body["binaryData"], rep
        st, lst = rest(daemon, "GET", "/api/v1/configmaps", user="alice")
        assert st == 200 and lst["kind"] == "ConfigMapList" and name in names(lst)
    finally:
        st, _ = rest(daemon, "DELETE", f"{NS}/configmaps/{name}", user="alice")
        assert st == 200
    st, _ = rest(daemon, "GET", f"{NS}/configmaps/{name}", user="alice")
    assert st == 404


def test_bad_bodies_are_refused_and_change_nothing(daemon, users):
    name = unique_name("sec")
    st, orig = rest(daemon, "POST", f"{NS}/secrets", secret(name, token="keep-me"), user="alice")
    assert st == 201, orig
    try:
        bad = [
            ("PUT", f"{NS}/secrets/{name}", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}},
             400),
            ("PUT", f"{NS}/secrets/{name}", secret("another-name", token="x"), 400),
            ("PUT", f"{NS}/secrets/{name}",
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "other"}}, 400),
            ("PUT", f"{NS}/secrets/{name}",
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {"token": "!!notb64"}}, 422),
            ("PUT", f"{NS}/secrets/{name}",
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {"../x": b64("y")}}, 422),
            ("PUT", f"{NS}/secrets/{name}",
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {"t": 5}}, 422),
            ("PUT", f"{NS}/secrets/{name}", secret(name, big="x" * (1024 * 1024 + 1)), 422),
            ("PUT", f"{NS}/secrets/{name}", b"{not json", 400),
            ("POST", f"{NS}/secrets", secret("Bad_Name", a="b"), 422),
        ]
        for method, path, body, code in bad:
            st, ans = rest(daemon, method, path, body, user="alice")
            assert st == code, (method, path, str(body)[:200], ans)
            assert ans["kind"] == "Status" and ans["message"], ans
        st, ans = rest(daemon, "GET", f"{NS}/secrets/a%2Fb", user="alice")
        assert st == 404, ans
        st, now = rest(daemon, "GET", f"{NS}/secrets/{name}", user="alice")
        assert st == 200 and now["data"] == {"token": b64("keep-me")}, now
    finally:
        rest(daemon, "DELETE", f"{NS}/secrets/{name}", user="alice")


def test_immutable_secret_keeps_its_data(daemon, users):
    name = unique_name("sec")
    body = secret(name, token="fixed")
    body["immutable"] = True
    st, obj = rest(daemon, "POST", f"{NS}/secrets", body, user="alice")
    assert st == 201, obj
    try:
        st, ans = rest(daemon, "PUT", f"{NS}/secrets/{name}", secret(name, token="changed"), user="alice")
        assert st == 422 and "immutable" in ans["message"], ans
        st, now = rest(daemon, "GET", f"{NS}/secrets/{name}", user="alice")
        assert now["data"] == {"token": b64("fixed")}
    finally:
        st, _ = rest(daemon, "DELETE", f"{NS}/secrets/{name}", user="alice")
        assert st == 200, "an immutable secret can still be deleted"


def test_another_users_secret_is_not_found(daemon, users):
    name = unique_name("sec")
    st, obj = rest(daemon, "POST", f"{NS}/secrets", secret(name, token="alice-only"), user="alice")
    assert st == 201, obj
    try:
        st, ans = rest(daemon, "GET", f"{NS}/secrets/{name}", user="bob")
        assert st == 404 and ans["reason"] == "NotFound", ans
        st_missing, missing = rest(daemon, "GET", f"{NS}/secrets/{unique_name('none')}", user="bob")
        assert st_missing == 404 and missing["reason"] == ans["reason"], "the same answer as a missing one"
        st, ans = rest(daemon, "DELETE", f"{NS}/secrets/{name}", user="bob")
        assert st == 404, ans
        st, lst = rest(daemon, "GET", "/api/v1/secrets", user="bob")
        assert st == 200 and name not in names(lst)
        assert "alice-only" not in json.dumps(lst)
        st, ans = rest(daemon, "GET", "/api/v1/secrets?allUsers=true", user="bob")
        assert st == 403, ans
        # bob may have his own of that name; alice's is untouched
        st, bobs = rest(daemon, "POST", f"{NS}/secrets", secret(name, token="bob-only"), user="bob")
        assert st == 201, bobs
        st, still = rest(daemon, "GET", f"{NS}/secrets/{name}", user="alice")
        assert still["data"]["token"] == b64("alice-only")
        st, everyone = rest(daemon, "GET", "/api/v1/secrets?allUsers=true")
        owners = {it["metadata"]["annotations"]["sbx.x-k8s.io/owner-uid"] for it in everyone["items"]
                  if it["metadata"]["name"] == name}
        assert owners == {str(users["alice"].uid), str(users["bob"].uid)}, everyone
    finally:
        rest(daemon, "DELETE", f"{NS}/secrets/{name}", user="alice")
        rest(daemon, "DELETE", f"{NS}/secrets/{name}", user="bob")


def test_state_database_is_root_only(daemon, users):
    name = unique_name("sec")
    st, _ = rest(daemon, "POST", f"{NS}/secrets", secret(name, token="on-disk"), user="alice")
    assert st == 201
    try:
        root = Path(daemon.root)
        assert stat.S_IMODE(root.stat().st_mode) & 0o044 == 0, "the state dir must not be listable by others"
        files = [p for p in root.iterdir() if p.name.startswith("sbx.db")]
        assert any(p.name == "sbx.db" for p in files), files
        for p in files:
            st_ = p.stat()
            assert st_.st_uid == 0 and stat.S_IMODE(st_.st_mode) & 0o077 == 0, (p, oct(st_.st_mode))
        u = users["alice"]
        r = subprocess.run(["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--init-groups", "--",
                            "/usr/bin/cat", str(root / "sbx.db")], capture_output=True, timeout=30)
        assert r.returncode != 0 and b"on-disk" not in r.stdout
    finally:
        rest(daemon, "DELETE", f"{NS}/secrets/{name}", user="alice")


# --- PersistentVolumeClaims -----------------------------------------------------------------

def sandbox_with_claim(name, storage="16Mi", volumes=None):
    pod = {"containers": [{"name": "main", "image": "host",
                           "command": ["/usr/bin/python3", "-c", "import time; time.sleep(100000)"],
                           "volumeMounts": [{"name": "work", "mountPath": "/work"}]}]}
    if volumes:
        pod["volumes"] = volumes
    return {"apiVersion": "agents.x-k8s.io/v1beta1", "kind": "Sandbox", "metadata": {"name": name},
            "spec": {"podTemplate": {"spec": pod},
                     "volumeClaimTemplates": [{"metadata": {"name": "work"},
                                               "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": storage}}}}]}}


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


def test_pvc_rest_lifecycle(daemon, users):
    name = unique_name("pvc")
    claim = f"work-{name}"
    alice = users["alice"]
    st, ans = rest(daemon, "POST", f"{NS}/persistentvolumeclaims",
                   {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "x"}}, user="alice")
    assert st == 405 and "volumeClaimTemplates" in ans["message"], ans
    st, sb = rest(daemon, "POST", SANDBOXES, sandbox_with_claim(name), user="alice")
    assert st == 201, sb
    try:
        def found():
            s, o = rest(daemon, "GET", f"{NS}/persistentvolumeclaims/{claim}", user="alice")
            return o if s == 200 else None
        pvc = wait_until(found, 60, interval=0.5)
        assert pvc, f"no PVC {claim} appeared for the sandbox's volumeClaimTemplate"
        assert pvc["kind"] == "PersistentVolumeClaim" and pvc["status"]["phase"] == "Bound", pvc
        assert pvc["status"]["capacity"]["storage"] == "16Mi"
        assert pvc["spec"]["resources"]["requests"]["storage"] == "16Mi"
        assert "x-sbx" not in pvc, "internal bookkeeping is never served"
        st, lst = rest(daemon, "GET", "/api/v1/persistentvolumeclaims", user="alice")
        assert st == 200 and lst["kind"] == "PersistentVolumeClaimList" and claim in names(lst)
        st, ans = rest(daemon, "GET", f"{NS}/persistentvolumeclaims/{claim}", user="bob")
        assert st == 404, ans
        st, ans = rest(daemon, "DELETE", f"{NS}/persistentvolumeclaims/{claim}", user="bob")
        assert st == 404, ans
        st, ans = rest(daemon, "PUT", f"{NS}/persistentvolumeclaims/{claim}", pvc, user="alice")
        assert st == 405, ans
        # on the host: alice's files, reachable by alice only
        owner_dir = Path(daemon.root) / "volumes" / str(alice.uid)
        mnt = owner_dir / "default" / claim
        assert mounted(mnt), f"{mnt} is not mounted"
        s = owner_dir.stat()
        assert s.st_uid == alice.uid and stat.S_IMODE(s.st_mode) == 0o700, oct(s.st_mode)
        assert mnt.stat().st_uid == alice.uid
        assert stat.S_IMODE((Path(daemon.root) / "volumes").stat().st_mode) == 0o711
        u = users["bob"]
        r = subprocess.run(["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--init-groups", "--",
                            "/usr/bin/ls", str(mnt)], capture_output=True, timeout=30)
        assert r.returncode != 0, "bob can list alice's volume"
        image = Path(daemon.root) / "volume-images" / str(alice.uid) / "default" / f"{claim}.img"
        assert image.exists() and stat.S_IMODE(image.stat().st_mode) == 0o600
        # in use: refused
        st, ans = rest(daemon, "DELETE", f"{NS}/persistentvolumeclaims/{claim}", user="alice")
        assert st == 409 and ans["reason"] == "Conflict" and f"in use by sandbox {name}" in ans["message"], ans
        assert mounted(mnt)
    finally:
        rest(daemon, "DELETE", f"{SANDBOXES}/{name}", user="alice")
    # the sandbox is gone, its claim is kept until deleted
    st, pvc = rest(daemon, "GET", f"{NS}/persistentvolumeclaims/{claim}", user="alice")
    assert st == 200, "deleting the sandbox must keep its volume"
    st, ans = rest(daemon, "DELETE", f"{NS}/persistentvolumeclaims/{claim}", user="alice")
    assert st == 200, ans
    assert not mounted(mnt)
    assert not image.exists()
    st, _ = rest(daemon, "GET", f"{NS}/persistentvolumeclaims/{claim}", user="alice")
    assert st == 404


def status_message(daemon, name, user):
    st, obj = rest(daemon, "GET", f"{SANDBOXES}/{name}", user=user)
    assert st == 200, obj
    return " ".join(c.get("message", "") for c in obj.get("status", {}).get("conditions", []))


def test_host_path_outside_the_allow_list_is_refused(daemon, users):
    name = unique_name("hp")
    body = sandbox_with_claim(name, volumes=[{"name": "etc", "hostPath": {"path": "/etc"}}])
    body["spec"].pop("volumeClaimTemplates")
    body["spec"]["podTemplate"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "etc", "mountPath": "/e"}]
    st, obj = rest(daemon, "POST", SANDBOXES, body, user="alice")
    try:
        assert st == 403, obj  # refused at admission, not left to fail at mount time
        msg = obj.get("message", "")
        assert "hostPath /etc is not allowed: the administrator allows" in msg, msg
        assert "/tmp/sbx-e2e-shared-data" in msg, "the message names what is allowed: " + msg
    finally:
        rest(daemon, "DELETE", f"{SANDBOXES}/{name}", user="alice")


def test_capacity_harness_as_root():
    """The C harness (tests/unit/test_volumes_host.c) mounts real ext4 images on loop devices
    and checks ENOSPC past capacity with the host untouched; it must pass on this host."""
    exe = build_dir() / "tests" / "unit" / "unit-volumes_host"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: build with tests enabled", pytrace=False)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
