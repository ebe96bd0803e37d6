"""test_cli_verbs.py: the kubectl-shaped verbs that need no pod-mode sandbox: `create secret
generic` / `create configmap`, `get` and `describe` of secrets and configmaps, `delete` of
them, `apply` of Secrets and ConfigMaps (created / unchanged / configured, validation before
any change, the 8 MiB bound), `wait` (on a sandbox of `sbx run`), `scale` argument checks,
and the refusals of `logs`/`exec` for what another user owns.

Secrets and ConfigMaps need the REST resources for them (/api/v1/.../secrets, configmaps);
sandboxes of `sbx apply` and their logs/exec are in test_workspace_access.py.
Every command runs as a real test user (alice, bob) unless the test is about root.
"""

import base64
import json
import os
import re
import subprocess
import time

import pytest

from sbxlib import PY, explain, finish, read_until, unique_name, wait_until


def user_file(user, name, data, mode=0o600):
    """A file in the user's own home (0700), owned by them."""
    p = user.home / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    os.chown(p, user.uid, user.gid)
    os.chmod(p, mode)
    return p


def secret_json(sbx, name, user):
    r = sbx("get", "secret", name, "-o", "json", user=user)
    assert r.returncode == 0, explain(r)
    return json.loads(r.stdout)


def not_found(r):
    return r.returncode != 0 and "not found" in r.stderr.lower()


# --- create secret / configmap -------------------------------------------------------------

def test_create_secret_from_literal_and_file(sbx, users):
    alice = users["alice"]
    name = unique_name("sec")
    f = user_file(alice, f"{name}.key", b"\x00\x01binary\xff")
    r = sbx("create", "secret", "generic", name, "--from-literal=token=hf_abc123",
            f"--from-file={f}", f"--from-file=renamed={f}", user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout == f"secret/{name} created\n"

    obj = secret_json(sbx, name, "alice")
    assert obj["kind"] == "Secret"
    assert obj.get("type", "Opaque") == "Opaque"
    data = obj["data"]
    assert set(data) == {"token", f"{name}.key", "renamed"}
    assert base64.b64decode(data["token"]) == b"hf_abc123"
    assert base64.b64decode(data[f"{name}.key"]) == b"\x00\x01binary\xff"
    assert base64.b64decode(data["renamed"]) == b"\x00\x01binary\xff"

    # kubectl's columns: NAME TYPE DATA AGE
    r = sbx("get", "secrets", user="alice")
    assert r.returncode == 0, explain(r)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "DATA", "AGE"], r.stdout
    row = next(l.split() for l in lines[1:] if l.split()[0] == name)
    assert row[1:3] == ["Opaque", "3"], r.stdout

    # describe: keys and sizes, never the values
    r = sbx("describe", "secret", name, user="alice")
    assert r.returncode == 0, explain(r)
    assert re.search(r"^token:\s+9 bytes$", r.stdout, re.M), r.stdout
    assert re.search(r"^renamed:\s+9 bytes$", r.stdout, re.M), r.stdout
    assert "hf_abc123" not in r.stdout and base64.b64encode(b"hf_abc123").decode() not in r.stdout
    assert re.search(r"^Type:\s+Opaque$", r.stdout, re.M), r.stdout

    r = sbx("delete", "secret", name, user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout == f'secret "{name}" deleted\n'
    assert not_found(sbx("get", "secret", name, user="alice"))


def test_create_configmap(sbx, users):
    alice = users["alice"]
    name = unique_name("cm")
    f = user_file(alice, f"{name}.ini", "[section]\nkey = value\n")
    b = user_file(alice, f"{name}.bin", b"\xff\xfe\x00")
    r = sbx("create", "configmap", name, "--from-literal=mode=dev", f"--from-file=app.ini={f}",
            f"--from-file=blob={b}", user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout == f"configmap/{name} created\n"
    r = sbx("get", "configmap", name, "-o", "json", user="alice")
    assert r.returncode == 0, explain(r)
    obj = json.loads(r.stdout)
    assert obj["data"] == {"mode": "dev", "app.ini": "[section]\nkey = value\n"}
    assert base64.b64decode(obj["binaryData"]["blob"]) == b"\xff\xfe\x00"

    r = sbx("get", "cm", user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout.splitlines()[0].split() == ["NAME", "DATA", "AGE"]
    row = next(l.split() for l in r.stdout.splitlines()[1:] if l.split()[0] == name)
    assert row[1] == "3", r.stdout

    r = sbx("describe", "configmap", name, user="alice")
    assert r.returncode == 0, explain(r)
    assert "app.ini:\n----\n[section]\nkey = value\n" in r.stdout, r.stdout
    assert re.search(r"^blob:\s+3 bytes$", r.stdout, re.M), r.stdout
    assert sbx("delete", "cm", name, user="alice").returncode == 0


def test_create_refusals(sbx, users, host_canary):
    alice = users["alice"]
    name = unique_name("sec")
    r = sbx("create", "secret", "generic", name, "--from-literal=a=1", user="alice")
    assert r.returncode == 0, explain(r)
    # the name is taken
    r = sbx("create", "secret", "generic", name, "--from-literal=a=2", user="alice")
    assert r.returncode != 0 and "already exists" in r.stderr.lower(), explain(r)
    assert base64.b64decode(secret_json(sbx, name, "alice")["data"]["a"]) == b"1"

    other = unique_name("sec")
    cases = [
        # a key twice
        (["--from-literal=a=1", "--from-literal=a=2"], "already exists"),
        # not key=value
        (["--from-literal=novalue"], "key=value"),
        # a file the user may not read: sbx reads with the user's own rights
        ([f"--from-file={host_canary.canary}"], "permission denied"),
        # more than a secret can hold
        ([f"--from-file={user_file(alice, 'big.bin', b'x' * (2 << 20))}"], "mib"),
        # not a regular file
        (["--from-file=zero=/dev/zero"], "not a regular file"),
        # a bad key
        (["--from-literal=a/b=1"], "not a valid key"),
    ]
    for args, needle in cases:
        r = sbx("create", "secret", "generic", other, *args, user="alice", timeout=30)
        assert r.returncode != 0 and needle in r.stderr.lower(), explain(r)
        assert host_canary.secret not in r.stdout + r.stderr
        assert not_found(sbx("get", "secret", other, user="alice")), f"{args} created it anyway"

    # usage errors
    for args in (["secret", name], ["secret", "tls", name], ["pod", name], ["configmap"],
                 ["configmap", name, "--type=x"]):
        r = sbx("create", *args, user="alice")
        assert r.returncode != 0 and "sbx create" in r.stderr, explain(r)
    sbx("delete", "secret", name, user="alice")


def test_secrets_are_per_user(sbx, users):
    name = unique_name("sec")
    r = sbx("create", "secret", "generic", name, "--from-literal=token=alice-only", user="alice")
    assert r.returncode == 0, explain(r)
    # bob sees nothing of it, under the same name
    assert not_found(sbx("get", "secret", name, user="bob"))
    assert not_found(sbx("describe", "secret", name, user="bob"))
    assert not_found(sbx("delete", "secret", name, user="bob"))
    r = sbx("get", "secrets", "-o", "json", user="bob")
    assert r.returncode == 0, explain(r)
    assert name not in r.stdout and "alice-only" not in r.stdout
    # bob may have his own of that name
    r = sbx("create", "secret", "generic", name, "--from-literal=token=bob", user="bob")
    assert r.returncode == 0, explain(r)
    assert base64.b64decode(secret_json(sbx, name, "alice")["data"]["token"]) == b"alice-only"
    assert base64.b64decode(secret_json(sbx, name, "bob")["data"]["token"]) == b"bob"
    for who in ("alice", "bob"):
        assert sbx("delete", "secret", name, user=who).returncode == 0


# --- apply of secrets and configmaps -------------------------------------------------------

def secret_doc(name, token, extra=""):
    return (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n{extra}"
            f"stringData:\n  token: {token}\n")


def test_apply_created_unchanged_configured(sbx):
    s, c = unique_name("sec"), unique_name("cm")
    doc = (secret_doc(s, "one") + "---\n" +
           f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {c}\ndata:\n  a: '1'\n")
    r = sbx("apply", "-f", "-", input=doc, user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout == f"secret/{s} created\nconfigmap/{c} created\n"
    r = sbx("apply", "-f", "-", input=doc, user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout == f"secret/{s} unchanged\nconfigmap/{c} unchanged\n"
    changed = doc.replace("token: one", "token: two")
    r = sbx("apply", "-f", "-", input=changed, user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout == f"secret/{s} configured\nconfigmap/{c} unchanged\n"
    assert base64.b64decode(secret_json(sbx, s, "alice")["data"]["token"]) == b"two"
    # a label is a change too
    labelled = changed.replace(f"  name: {c}\n", f"  name: {c}\n  labels:\n    team: ml\n")
    r = sbx("apply", "-f", "-", input=labelled, user="alice")
    assert r.stdout == f"secret/{s} unchanged\nconfigmap/{c} configured\n", explain(r)
    # JSON is a manifest too
    js = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": c, "labels": {"team": "ml"}},
                     "data": {"a": "1"}})
    r = sbx("apply", "-f", "-", input=js, user="alice")
    assert r.stdout == f"configmap/{c} unchanged\n", explain(r)
    sbx("delete", "secret", s, user="alice")
    sbx("delete", "configmap", c, user="alice")


def test_apply_validates_everything_first(sbx):
    good, bad = unique_name("sec"), unique_name("sec")
    docs = [
        # a wrong kind after a good document
        secret_doc(good, "x") + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n",
        # an unknown field
        secret_doc(good, "x") + "---\n" + secret_doc(bad, "y") + "bogus: 1\n",
        # a name that is not a DNS name
        secret_doc(good, "x") + "---\n" + secret_doc("Bad_Name", "y"),
        # broken YAML at the end
        secret_doc(good, "x") + "---\nkind: [\n",
    ]
    for doc in docs:
        r = sbx("apply", "-f", "-", input=doc, user="alice")
        assert r.returncode == 1, explain(r)
        assert r.stderr.startswith("error: "), explain(r)
        assert r.stdout == "", explain(r)
        assert not_found(sbx("get", "secret", good, user="alice")), f"applied despite:\n{doc}"


def test_apply_namespace_conflict(sbx):
    name = unique_name("sec")
    doc = secret_doc(name, "x").replace(f"  name: {name}\n", f"  name: {name}\n  namespace: team-a\n")
    r = sbx("apply", "-f", "-", "-n", "team-b", input=doc, user="alice")
    assert r.returncode == 1 and "does not match the namespace" in r.stderr, explain(r)
    r = sbx("apply", "-f", "-", "-n", "team-a", input=doc, user="alice")
    assert r.returncode == 0, explain(r)
    assert sbx("get", "secret", name, "-n", "team-a", user="alice").returncode == 0
    assert not_found(sbx("get", "secret", name, user="alice"))
    sbx("delete", "secret", name, "-n", "team-a", user="alice")


def test_apply_size_bound(sbx, users):
    alice = users["alice"]
    big = user_file(alice, "manifest.yaml", b"#\n" * (25 << 20))  # exactly 50 MiB
    r = sbx("apply", "-f", str(big), user="alice", timeout=60)
    assert r.returncode == 1, explain(r)
    assert "manifest.yaml is 50 MiB; sbx accepts at most 8 MiB" in r.stderr, explain(r)
    with open(big, "rb") as f:
        r = sbx("apply", "-f", "-", stdin=f, user="alice", timeout=60)
    assert r.returncode == 1 and "at most 8 MiB" in r.stderr, explain(r)
    big.unlink()


def test_apply_directory(sbx, users, daemon):
    alice = users["alice"]
    d = alice.home / unique_name("dir")
    d.mkdir()
    names = [unique_name("cm") for _ in range(3)]
    (d / "b.yml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {names[1]}\n")
    (d / "a.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {names[0]}\n")
    (d / "notes.txt").write_text("not a manifest")
    (d / "sub").mkdir()
    (d / "sub" / "c.json").write_text(json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": names[2]}}))
    for p in [d, d / "sub", *d.rglob("*")]:
        os.chown(p, alice.uid, alice.gid)
    r = sbx("apply", "-f", str(d), user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout == f"configmap/{names[0]} created\nconfigmap/{names[1]} created\n"
    r = sbx("apply", "-R", "-f", str(d), user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout == (f"configmap/{names[0]} unchanged\nconfigmap/{names[1]} unchanged\n"
                        f"configmap/{names[2]} created\n")
    for n in names:
        sbx("delete", "configmap", n, user="alice")


# --- wait, scale, logs, exec on what exists today ---------------------------------------------

def test_wait_for_ready_and_delete(sbx, sbx_popen):
    name = unique_name("wait")
    p = sbx_popen("run", "--name", name, "--", PY, "-c", "print('up', flush=True); import time; time.sleep(300)",
                  user="alice")
    try:
        read_until(p, "up")
        r = sbx("wait", "--for=condition=Ready", f"sandbox/{name}", "--timeout=30s", user="alice")
        assert r.returncode == 0, explain(r)
        assert r.stdout == f"sandbox.agents.x-k8s.io/{name} condition met\n"
        # a condition that never comes: kubectl's timeout message, in about the time asked
        t0 = time.monotonic()
        r = sbx("wait", "--for=condition=Ready=false", "sandbox", name, "--timeout=1s", user="alice")
        assert r.returncode == 1, explain(r)
        assert r.stderr == f"error: timed out waiting for the condition on sandboxes/{name}\n"
        assert time.monotonic() - t0 < 20
        # bob: not found
        r = sbx("wait", "--for=condition=Ready", f"sandbox/{name}", "--timeout=2s", user="bob")
        assert not_found(r), explain(r)
        # delete, seen by a waiter
        w = sbx_popen("wait", "--for=delete", f"sandbox/{name}", "--timeout=60s", user="alice")
        assert sbx("delete", "sandbox", name, user="alice").returncode == 0
        status, out, err = finish(w, timeout=60)
        assert status == 0, err
        assert out == f"sandbox.agents.x-k8s.io/{name} condition met\n".encode()
    finally:
        sbx("delete", "sandbox", name, user="alice")
        finish(p, timeout=60)


def test_wait_usage(sbx):
    for args in (["sandbox/x"], ["--for=jsonpath={.x}", "sandbox/x"], ["--for=condition=Ready"],
                 ["--for=condition=Ready", "--timeout=soon", "sandbox/x"]):
        r = sbx("wait", *args, user="alice")
        assert r.returncode == 1 and "sbx wait" in r.stderr, explain(r)


def test_scale_usage(sbx):
    for args in (["sandbox", "x", "--replicas=2"], ["sandbox", "x"], ["secret", "x", "--replicas=0"],
                 ["sandbox", "x", "--replicas=-1"]):
        r = sbx("scale", *args, user="alice")
        assert r.returncode == 1 and "sbx scale" in r.stderr, explain(r)
    r = sbx("scale", "sandbox", unique_name("none"), "--replicas=0", user="alice")
    assert not_found(r), explain(r)


def test_logs_exec_refusals(sbx, sbx_popen):
    name = unique_name("run")
    p = sbx_popen("run", "--name", name, "--", PY, "-c", "print('up', flush=True); import time; time.sleep(300)",
                  user="alice")
    try:
        read_until(p, "up")
        # another user's sandbox does not exist for them
        for args in (["logs", name], ["logs", f"pod/{name}"], ["exec", name, "--", "/usr/bin/true"],
                     ["describe", "sandbox", name], ["delete", "sandbox", name]):
            r = sbx(*args, user="bob")
            assert not_found(r), explain(r)
        assert sbx("get", "sandbox", name, user="alice").returncode == 0
        # exec needs `--` before the command, as kubectl does today
        r = sbx("exec", name, "/usr/bin/true", user="alice")
        assert r.returncode == 1 and "--" in r.stderr, explain(r)
        # what does not exist
        for args in (["logs", unique_name("none")], ["exec", unique_name("none"), "--", "/usr/bin/true"]):
            r = sbx(*args, user="alice")
            assert not_found(r), explain(r)
        r = sbx("logs", "secret/x", user="alice")
        assert r.returncode == 1 and "sbx logs" in r.stderr, explain(r)
    finally:
        sbx("delete", "sandbox", name, user="alice")
        finish(p, timeout=60)


def test_get_pvc_columns(sbx):
    r = sbx("get", "pvc", user="alice")
    assert r.returncode == 0, explain(r)
    if r.stdout:
        assert r.stdout.splitlines()[0].split() == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS",
                                                   "MODES", "STORAGECLASS", "AGE"]
    else:
        assert "No resources found" in r.stderr
