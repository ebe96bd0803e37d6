"""test_apply_bad_input.py: hostile and broken manifests and requests.

Every case gets a clear error or a defined outcome; afterwards the daemon still answers
and what existed before (a sandbox, its volume, its files) is unchanged.
"""

import json
import socket
import threading

import pytest

from sbxlib import explain, marker, unique_name
from workspaces import apply, applied, container, exec_in, get, sandbox, wait_ready

SLEEP = ["/usr/bin/python3", "-c", "import time; time.sleep(100000)"]


@pytest.fixture(scope="module")
def existing(sbx, users):
    """A running sandbox with a file in its volume, which no bad input may disturb."""
    name = unique_name("victim")
    c = container("main", SLEEP, volumeMounts=[{"name": "work", "mountPath": "/work"}])
    applied(sbx, sandbox(name, [c], claims={"work": "32Mi"}))
    wait_ready(sbx, name)
    token = marker()
    assert exec_in(sbx, name, "sh", "-c", f"echo {token} > /work/keep").returncode == 0
    before = get(sbx, name)
    yield name, token, before
    sbx("delete", "sandbox", name, user="alice", timeout=60)
    sbx("delete", "pvc", f"work-{name}", user="alice")


def still_intact(sbx, daemon, existing):
    name, token, before = existing
    daemon.assert_alive()
    now = get(sbx, name)
    assert now["spec"] == before["spec"] and now["metadata"]["uid"] == before["metadata"]["uid"]
    r = exec_in(sbx, name, "cat", "/work/keep")
    assert r.stdout.strip() == token, explain(r)


BAD_YAML = "apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata:\n  name: x\n spec: [\n"


@pytest.mark.parametrize("text, expect", [
    (BAD_YAML, "line"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n", "Deployment"),
    ("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata:\n  name: a/b\nspec:\n  podTemplate:\n"
     "    spec:\n      containers: [{name: m, image: host, command: [true]}]\n", "metadata.name"),
    ("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata:\n  name: \"..\"\nspec:\n  podTemplate:\n"
     "    spec:\n      containers: [{name: m, image: host, command: [true]}]\n", "metadata.name"),
    ("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata:\n  name: \"a\\0b\"\nspec:\n  podTemplate:\n"
     "    spec:\n      containers: [{name: m, image: host, command: [true]}]\n", "metadata.name"),
    ("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata:\n  name: " + "a" * 300 + "\nspec:\n  podTemplate:\n"
     "    spec:\n      containers: [{name: m, image: host, command: [true]}]\n", "metadata.name"),
])
def test_broken_manifests_are_refused(sbx, daemon, users, existing, text, expect):
    r = apply(sbx, text=text)
    assert r.returncode != 0, explain(r)
    assert expect in r.stderr, explain(r)
    still_intact(sbx, daemon, existing)


@pytest.mark.parametrize("quantity", ["-1", "1.5.5Gi", "99999999Ei"])
def test_bad_quantities_name_the_field(sbx, daemon, users, existing, quantity):
    name = unique_name("qty")
    c = container("main", SLEEP, resources={"limits": {"memory": quantity}})
    r = apply(sbx, sandbox(name, [c]))
    assert r.returncode != 0, explain(r)
    assert "spec.podTemplate.spec.containers[0].resources.limits.memory" in r.stderr, explain(r)
    assert sbx("get", "sandbox", name, user="alice").returncode != 0
    still_intact(sbx, daemon, existing)


def test_unknown_and_unsupported_fields_are_refused_with_path_and_line(sbx, daemon, users, existing):
    text = ("apiVersion: agents.x-k8s.io/v1alpha1\nkind: Sandbox\nmetadata:\n  name: fields\nspec:\n"
            "  podTemplate:\n    spec:\n      containers:\n      - name: m\n        image: host\n"
            "        command: [\"true\"]\n        lifecycle:\n          preStop: {}\n")
    r = apply(sbx, text=text)
    assert r.returncode != 0 and "spec.podTemplate.spec.containers[0].lifecycle" in r.stderr, explain(r)
    assert "line 12" in r.stderr, explain(r)
    r = apply(sbx, text=text.replace("lifecycle:\n          preStop: {}", "flavour: vanilla"))
    assert r.returncode != 0 and "flavour" in r.stderr, explain(r)
    still_intact(sbx, daemon, existing)


def test_mount_over_proc_is_refused(sbx, daemon, users, existing):
    c = container("main", SLEEP, volumeMounts=[{"name": "v", "mountPath": "/proc"}])
    r = apply(sbx, sandbox(unique_name("proc"), [c], volumes=[{"name": "v", "emptyDir": {}}]))
    assert r.returncode != 0 and "/proc" in r.stderr, explain(r)
    still_intact(sbx, daemon, existing)


def test_one_bad_document_changes_nothing(sbx, daemon, users, existing):
    good = sandbox(unique_name("good"), [container("main", SLEEP)])
    bad = sandbox(unique_name("bad"), [container("main", SLEEP, resources={"limits": {"cpu": "lots"}})])
    r = apply(sbx, good, bad)
    assert r.returncode != 0, explain(r)
    assert sbx("get", "sandbox", good["metadata"]["name"], user="alice").returncode != 0
    still_intact(sbx, daemon, existing)


def test_a_bad_update_leaves_the_sandbox_as_it_was(sbx, daemon, users, existing):
    name = existing[0]
    c = container("main", SLEEP, volumeMounts=[{"name": "work", "mountPath": "/work"}],
                  resources={"limits": {"memory": "1.5.5Gi"}})
    r = apply(sbx, sandbox(name, [c], claims={"work": "32Mi"}))
    assert r.returncode != 0, explain(r)
    # changing the claims of an existing sandbox is refused: they are immutable
    c2 = container("main", SLEEP, volumeMounts=[{"name": "work", "mountPath": "/work"}])
    r = apply(sbx, sandbox(name, [c2], claims={"work": "1Gi"}))
    assert r.returncode != 0 and "immutable" in r.stderr, explain(r)
    still_intact(sbx, daemon, existing)


def test_a_50_megabyte_manifest_is_refused(sbx, daemon, users, existing):
    text = "# " + "x" * (50 << 20) + "\n"
    r = apply(sbx, text=text)
    assert r.returncode != 0 and "MiB" in r.stderr, explain(r)
    still_intact(sbx, daemon, existing)


def _raw(daemon, data, close_early=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(daemon.sock))
    try:
        s.sendall(data)
        if close_early:
            return b""
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    except OSError:
        return b""
    finally:
        s.close()


def test_huge_and_half_sent_requests_do_not_hurt_the_daemon(sbx, daemon, users, existing):
    path = "/apis/agents.x-k8s.io/v1alpha1/namespaces/default/sandboxes"
    big = 50 << 20
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {big}\r\n\r\n").encode()
    out = _raw(daemon, head + b"{" + b" " * (9 << 20))
    assert b"413" in out.split(b"\r\n", 1)[0] or out == b"", out[:200]
    # a client that promises a body and goes away half-way
    for _ in range(5):
        _raw(daemon, head.replace(str(big).encode(), b"1000") + b'{"apiVersion": "agents', close_early=True)
    # a body that is not JSON
    body = b"{not json"
    out = _raw(daemon, (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                        "Connection: close\r\n\r\n").encode() + body)
    assert b" 400 " in out.split(b"\r\n", 1)[0], out[:300]
    still_intact(sbx, daemon, existing)


def test_two_applies_of_one_name_at_once(sbx, daemon, users, existing):
    name = unique_name("race")
    results = []

    def go(mark):
        results.append(apply(sbx, sandbox(name, [container("main", SLEEP + [mark])])))
    threads = [threading.Thread(target=go, args=(m,)) for m in ("a", "b")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    try:
        assert all(r.returncode == 0 for r in results), [explain(r) for r in results]
        outs = " ".join(r.stdout for r in results)
        assert outs.count("created") == 1, outs
        lst = json.loads(sbx("get", "sandboxes", "-o", "json", user="alice").stdout)
        assert [i["metadata"]["name"] for i in lst["items"]].count(name) == 1
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)
    still_intact(sbx, daemon, existing)
