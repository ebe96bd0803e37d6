"""test_schema_compat.py: what sbx honours is what upstream agent-sandbox accepts.

A manifest that uses every field sbx honours (the "kitchen sink") must (1) apply and become
Ready here, and (2) consist only of fields that exist, with the same types, in the
upstream CRD schemas vendored in third_party/agent-sandbox-crds (newest release: v1alpha1
and v1beta1; v0.4.6: v1alpha1). So a team's manifest that works on sbx also works on a cluster.
"""

import copy
from pathlib import Path

import pytest
import yaml

from conftest import SHARED_DATA
from sbxlib import explain, unique_name
from workspaces import apply, configmap, secret, wait_ready

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "third_party" / "agent-sandbox-crds"


def kitchen_sink(name, sec, cm, api="agents.x-k8s.io/v1alpha1"):
    mode = {"replicas": 1} if api.endswith("v1alpha1") else {"operatingMode": "Running"}
    ctr = {
        "name": "main", "image": "host", "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c"], "args": ["sleep 100000"], "workingDir": "/work",
        "env": [{"name": "PLAIN", "value": "v"},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": sec, "key": "token", "optional": False}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "mode"}}},
                {"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "envFrom": [{"configMapRef": {"name": cm}, "prefix": "CM_"}, {"secretRef": {"name": sec, "optional": True}}],
        "ports": [{"name": "http", "containerPort": 8888, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
                      "limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "256Mi"}},
        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True,
                            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": False,
                            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
        "volumeMounts": [{"name": "work", "mountPath": "/work"},
                         {"name": "scratch", "mountPath": "/scratch", "subPath": "sub"},
                         {"name": "mem", "mountPath": "/mem"},
                         {"name": "creds", "mountPath": "/creds", "readOnly": True},
                         {"name": "conf", "mountPath": "/conf"},
                         {"name": "lake", "mountPath": "/lake", "readOnly": True}],
    }
    init = copy.deepcopy(ctr)
    init.update(name="prepare", command=["/bin/sh", "-c"], args=["echo ready > /work/init.txt"])
    del init["ports"]
    spec = {
        **mode,
        "shutdownTime": "2999-01-01T00:00:00Z", "shutdownPolicy": "Retain",
        "podTemplate": {
            "metadata": {"labels": {"app": "sink"}, "annotations": {"note": "every honoured field"}},
            "spec": {
                "initContainers": [init], "containers": [ctr],
                "restartPolicy": "OnFailure", "terminationGracePeriodSeconds": 5, "hostname": "sink",
                "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                                    "runAsNonRoot": True, "supplementalGroups": [2000]},
                "volumes": [
                    {"name": "scratch", "emptyDir": {"sizeLimit": "32Mi"}},
                    {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
                    {"name": "creds", "secret": {"secretName": sec, "defaultMode": 0o400,
                                                 "items": [{"key": "token", "path": "token"}]}},
                    {"name": "conf", "configMap": {"name": cm, "optional": False}},
                    {"name": "lake", "hostPath": {"path": str(SHARED_DATA), "type": "Directory"}},
                ],
            },
        },
        "volumeClaimTemplates": [{"metadata": {"name": "work"},
                                  "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                                           "resources": {"requests": {"storage": "64Mi"}}}}],
    }
    return {"apiVersion": api, "kind": "Sandbox",
            "metadata": {"name": name, "namespace": "default", "labels": {"team": "ml"},
                         "annotations": {"owner": "alice"}},
            "spec": spec}


def leaves(obj, path=()):
    """(path tuple, value) for every scalar; list items are marked "[]"."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, path + (k,))
    elif isinstance(obj, list):
        for v in obj:
            yield from leaves(v, path + ("[]",))
    else:
        yield path, obj


def schema_type_ok(schema, value):
    if schema.get("x-kubernetes-int-or-string") or "anyOf" in schema:
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    t = schema.get("type")
    return {"string": isinstance(value, str), "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            None: True}.get(t, True)


def lookup(schema, path):
    """The schema of a path, or None if the upstream schema has no such field."""
    for part in path:
        if schema is None:
            return None
        if part == "[]":
            schema = schema.get("items")
        elif "properties" in schema:
            schema = schema["properties"].get(part)
        elif isinstance(schema.get("additionalProperties"), dict):
            schema = schema["additionalProperties"]
        elif schema.get("type") == "object" and not schema.get("properties"):
            return {}  # free-form object (metadata): anything goes
        else:
            return None
    return schema


def upstream_schemas():
    out = []
    for f in (CRDS / "agents.x-k8s.io_sandboxes.yaml", CRDS / "v0.4.6" / "agents.x-k8s.io_sandboxes.yaml"):
        crd = yaml.safe_load(f.read_text())
        for v in crd["spec"]["versions"]:
            out.append((f"{f.parent.name}/{v['name']}", v["name"], v["schema"]["openAPIV3Schema"]))
    return out


@pytest.fixture(scope="module")
def schemas():
    # part of the repository: missing is a broken checkout, never a reason to skip
    assert CRDS.is_dir(), f"the vendored upstream CRDs are missing from {CRDS}"
    return upstream_schemas()


def test_every_honoured_field_exists_upstream(schemas):
    checked = 0
    for label, version, schema in schemas:
        doc = kitchen_sink("sink", "s", "c", api=f"agents.x-k8s.io/{version}")
        for path, value in leaves(doc):
            if path[0] in ("apiVersion", "kind"):
                continue
            s = lookup(schema, path)
            assert s is not None, f"{label}: {'.'.join(path)} does not exist upstream"
            assert schema_type_ok(s, value), f"{label}: {'.'.join(path)}={value!r} has the wrong type upstream"
            if "enum" in s:
                assert value in s["enum"], f"{label}: {'.'.join(path)}={value!r} not in {s['enum']}"
            checked += 1
    assert checked > 100


def test_the_example_manifest_exists_upstream(schemas):
    docs = [d for d in yaml.safe_load_all((REPO / "examples" / "jupyterlab.yaml").read_text()) if d]
    sb = next(d for d in docs if d["kind"] == "Sandbox")
    version = sb["apiVersion"].split("/")[1]
    for label, v, schema in schemas:
        if v != version:
            continue
        for path, value in leaves(sb):
            if path[0] in ("apiVersion", "kind"):
                continue
            s = lookup(schema, path)
            assert s is not None and schema_type_ok(s, value), f"{label}: {'.'.join(path)}"


@pytest.mark.parametrize("api", ["agents.x-k8s.io/v1alpha1", "agents.x-k8s.io/v1beta1"])
def test_the_kitchen_sink_runs(sbx, users, api):
    (SHARED_DATA / "lake.txt").write_text("lake\n")
    name, sec, cm = unique_name("sink"), unique_name("sec"), unique_name("cm")
    r = apply(sbx, secret(sec, token="t0k3n"), configmap(cm, mode="fast"), kitchen_sink(name, sec, cm, api))
    assert r.returncode == 0, explain(r)
    try:
        wait_ready(sbx, name, timeout=90)
        r = sbx("exec", name, "--", "/bin/sh", "-c",
                "for f in /work/init.txt /creds/token /conf/mode /lake/lake.txt; do cat $f; echo; done; hostname; id -u; "
                "echo $PLAIN $TOKEN $MODE $ME $CM_mode; echo x > /scratch/f && echo x > /mem/f && echo ok",
                user="alice")
        out = r.stdout.split()
        assert out[:5] == ["ready", "t0k3n", "fast", "lake", "sink"], explain(r)
        assert out[5] == "1000" and out[6:11] == ["v", "t0k3n", "fast", name, "fast"], explain(r)
        assert out[-1] == "ok", explain(r)
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)
        sbx("delete", "pvc", f"work-{name}", user="alice")
        sbx("delete", "secret", sec, user="alice")
        sbx("delete", "configmap", cm, user="alice")
