"""test_api_semantics.py: the REST API's query parameters, spoken over HTTP on the daemon's
unix socket as the real users sbxtest-alice and sbxtest-bob (a small python client run
under setpriv), the way stock kubectl and client libraries use them:

- labelSelector (equality and set-based) and fieldSelector on list, and on DELETE of a
  collection: alice's `delete -l app=big` removes exactly her app=big sandboxes; her
  app=small and unlabelled ones stay, and so does bob's app=big;
- dryRun=All on create, replace and delete (sandboxes and secrets), and kubectl's
  DeleteOptions body (dryRun, preconditions, propagationPolicy), change nothing: no
  object, no PVC, nothing started, the old object unchanged and still there;
- resourceVersion: a replace at a stale version is 409 Conflict and changes nothing, at
  the current one it succeeds;
- watch=true streams JSON events: an update made after the watch started arrives, a
  watch resumes from a resourceVersion, a too-old one is 410 Gone, the stream ends at
  timeoutSeconds (with a bookmark), a fieldSelector narrows it, and bob's changes never
  reach alice's watch; at most 16 watches per user;
- limit/continue page a list;
- unknown parameters, parameters that do not fit the request and malformed selectors
  are 400, and the daemon stays up; the stream protocol's `api` operation (the CLI) gets
  the same answers.
"""

import json
import os
import secrets
import select
import subprocess
import textwrap
import time

import pytest

from sbxlib import UNIX_HTTP, explain, read_until

API = "/apis/agents.x-k8s.io/v1beta1/namespaces/default/sandboxes"
CORE = "/api/v1/namespaces/default"

# One batch of requests: argv[1] the socket, stdin a JSON list of [method, path, body];
# prints a JSON list of [status, body] (body parsed when it is JSON).
CLIENT = UNIX_HTTP + textwrap.dedent("""
    out = []
    for method, path, body in json.load(sys.stdin):
        c = UnixHTTP(sys.argv[1], timeout=60)
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        text = r.read().decode()
        try:
            out.append([r.status, json.loads(text)])
        except ValueError:
            out.append([r.status, text])
        c.close()
    print(json.dumps(out))
""")

# A watch: prints "STATUS <code>" then each line of the body as it arrives.
WATCHER = UNIX_HTTP + textwrap.dedent("""
    c = UnixHTTP(sys.argv[1], timeout=120)
    c.request("GET", sys.argv[2])
    r = c.getresponse()
    print("STATUS", r.status, flush=True)
    while True:
        line = r.readline()
        if not line:
            break
        print(line.decode().rstrip("\\n"), flush=True)
    print("END", flush=True)
""")


def as_user(daemon, user, argv):
    u = daemon._user(user)
    if u is None:
        return argv
    return ["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--init-groups", "--", *argv]


def call(daemon, user, *requests):
    """Sends requests [(method, path, body)] as user; returns [(status, body)]."""
    r = subprocess.run(as_user(daemon, user, ["/usr/bin/python3", "-c", CLIENT, str(daemon.sock)]),
                       input=json.dumps([list(q) for q in requests]), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, explain(r)
    return [tuple(x) for x in json.loads(r.stdout)]


def one(daemon, user, method, path, body=None):
    return call(daemon, user, (method, path, body))[0]


def watch(daemon, user, path):
    return subprocess.Popen(as_user(daemon, user, ["/usr/bin/python3", "-c", WATCHER, str(daemon.sock), path]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def events_of(raw):
    """The JSON events of a watcher's output"""
    return [json.loads(l) for l in raw.decode().splitlines() if l.startswith("{")]


def sandbox(name, labels=None, claims=None):
    meta = {"name": name, "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    spec = {"operatingMode": "Suspended",
            "podTemplate": {"spec": {"containers": [{"name": "main", "image": "host",
                                                     "command": ["/bin/sleep", "100000"]}]}}}
    if claims:
        spec["volumeClaimTemplates"] = [
            {"metadata": {"name": c}, "spec": {"accessModes": ["ReadWriteOnce"],
                                               "resources": {"requests": {"storage": "16Mi"}}}}
            for c in claims]
    return {"apiVersion": "agents.x-k8s.io/v1beta1", "kind": "Sandbox", "metadata": meta, "spec": spec}


def body_rv(daemon):
    """The resourceVersion of a fresh list"""
    status, body = one(daemon, "alice", "GET", API)
    assert status == 200, body
    return body["metadata"]["resourceVersion"]


def names(list_body):
    return sorted(o["metadata"]["name"] for o in list_body["items"])


def tag():
    return secrets.token_hex(3)


@pytest.fixture
def cleanup(daemon):
    made = []
    yield made
    for user, path in made:
        one(daemon, user, "DELETE", path)


def create(daemon, user, cleanup, obj, base=API):
    status, body = one(daemon, user, "POST", base, obj)
    assert status == 201, body
    cleanup.append((user, f"{base}/{obj['metadata']['name']}"))
    return body


# ---- selectors -------------------------------------------------------------------------------

def test_delete_collection_by_label_deletes_exactly_the_selected(daemon, users, cleanup):
    t = tag()
    big, big2, small, plain = (f"big-{t}", f"big2-{t}", f"small-{t}", f"plain-{t}")
    create(daemon, "alice", cleanup, sandbox(big, {"app": "big", "t": t}))
    create(daemon, "alice", cleanup, sandbox(big2, {"app": "big", "t": t}))
    create(daemon, "alice", cleanup, sandbox(small, {"app": "small", "t": t}))
    create(daemon, "alice", cleanup, sandbox(plain))
    bobs = f"bobbig-{t}"
    create(daemon, "bob", cleanup, sandbox(bobs, {"app": "big", "t": t}))

    status, body = one(daemon, "alice", "GET", f"{API}?labelSelector=app%3Dbig,t%3D{t}")
    assert status == 200 and names(body) == sorted([big, big2]), body

    # a dry run of the delete answers what it would delete and deletes nothing
    status, body = one(daemon, "alice", "DELETE", f"{API}?labelSelector=app%3Dbig&dryRun=All")
    assert status == 200 and names(body) == sorted([big, big2]), body
    status, body = one(daemon, "alice", "GET", API)
    assert {big, big2, small, plain} <= set(names(body)), body

    status, body = one(daemon, "alice", "DELETE", f"{API}?labelSelector=app%3Dbig")
    assert status == 200 and names(body) == sorted([big, big2]), body
    status, body = one(daemon, "alice", "GET", API)
    left = set(names(body))
    assert big not in left and big2 not in left, body
    assert small in left and plain in left, body
    status, body = one(daemon, "bob", "GET", f"{API}/{bobs}")
    assert status == 200, "alice's delete-collection reached bob's sandbox: " + json.dumps(body)


def test_set_based_and_field_selectors_on_lists(daemon, users, cleanup):
    t = tag()
    a, b, c = f"sa-{t}", f"sb-{t}", f"sc-{t}"
    create(daemon, "alice", cleanup, sandbox(a, {"tier": "web", "t": t}))
    create(daemon, "alice", cleanup, sandbox(b, {"tier": "db", "t": t, "gpu": "yes"}))
    create(daemon, "alice", cleanup, sandbox(c, {"t": t}))
    create(daemon, "bob", cleanup, sandbox(f"sa-{t}", {"tier": "web", "t": t}))
    cases = {
        f"t%3D{t},tier%20in%20(web,db)": [a, b],
        f"t%3D{t},tier%20notin%20(web)": [b, c],
        f"t%3D{t},tier": [a, b],
        f"t%3D{t},!tier": [c],
        f"t%3D{t},gpu!%3Dyes": [a, c],
        f"t%3D{t},tier%3D%3Dweb": [a],
    }
    for sel, want in cases.items():
        status, body = one(daemon, "alice", "GET", f"{API}?labelSelector={sel}")
        assert status == 200 and names(body) == sorted(want), (sel, body)
    status, body = one(daemon, "alice", "GET", f"{API}?fieldSelector=metadata.name%3D{b}")
    assert status == 200 and names(body) == [b], body
    status, body = one(daemon, "alice", "GET",
                       f"{API}?fieldSelector=metadata.name!%3D{b}&labelSelector=t%3D{t}")
    assert status == 200 and names(body) == sorted([a, c]), body
    # across namespaces, kubectl's own form
    status, body = one(daemon, "alice", "GET",
                       f"/apis/agents.x-k8s.io/v1beta1/sandboxes?fieldSelector=metadata.namespace%3Ddefault,"
                       f"metadata.name%3D{a}")
    assert status == 200 and names(body) == [a], body
    assert all(o["metadata"]["annotations"]["sbx.x-k8s.io/owner-uid"] == str(users["alice"].uid)
               for o in body["items"]), body


def test_limit_and_continue_page_a_list(daemon, users, cleanup):
    t = tag()
    made = [f"pg{i}-{t}" for i in range(5)]
    for n in made:
        create(daemon, "alice", cleanup, sandbox(n, {"pg": t}))
    seen, cont = [], None
    for _ in range(5):
        path = f"{API}?labelSelector=pg%3D{t}&limit=2" + (f"&continue={cont}" if cont else "")
        status, body = one(daemon, "alice", "GET", path)
        assert status == 200 and len(body["items"]) <= 2, body
        assert body["metadata"]["resourceVersion"].isdigit(), body
        seen += names(body)
        cont = body["metadata"].get("continue")
        if not cont:
            break
    assert sorted(seen) == sorted(made)
    status, body = one(daemon, "alice", "GET", f"{API}?continue=bogus")
    assert status == 400, body
    # a resourceVersion the server has not reached cannot be met
    status, body = one(daemon, "alice", "GET", f"{API}?resourceVersion=999999999999")
    assert status == 504 and "Too large resource version" in body["message"], body
    status, body = one(daemon, "alice", "GET", f"{API}?resourceVersion={body_rv(daemon)}")
    assert status == 200, body


# ---- dryRun ----------------------------------------------------------------------------------

def test_dry_run_changes_nothing(daemon, users, cleanup):
    t = tag()
    ghost = f"ghost-{t}"
    status, body = one(daemon, "alice", "POST", f"{API}?dryRun=All", sandbox(ghost, claims=["data"]))
    assert status == 201 and body["metadata"]["name"] == ghost, body
    status, body = one(daemon, "alice", "GET", f"{API}/{ghost}")
    assert status == 404, "a dry-run create stored the sandbox: " + json.dumps(body)
    status, body = one(daemon, "alice", "GET", f"{CORE}/persistentvolumeclaims")
    assert status == 200 and not [n for n in names(body) if ghost in n], body
    # validation still runs: a dry run of a bad object is refused as the real one would be
    bad = sandbox(f"bad-{t}")
    bad["spec"]["podTemplate"]["spec"]["containers"][0]["name"] = "Not_A_Name"
    status, body = one(daemon, "alice", "POST", f"{API}?dryRun=All", bad)
    assert status == 422, body

    real = f"real-{t}"
    create(daemon, "alice", cleanup, sandbox(real, {"v": "1"}))
    status, before = one(daemon, "alice", "GET", f"{API}/{real}")
    changed = sandbox(real, {"v": "2"})
    status, body = one(daemon, "alice", "PUT", f"{API}/{real}?dryRun=All", changed)
    assert status == 200 and body["metadata"]["labels"]["v"] == "2", body
    status, after = one(daemon, "alice", "GET", f"{API}/{real}")
    assert after["metadata"]["labels"] == {"v": "1"}, after
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], (before, after)
    status, body = one(daemon, "alice", "DELETE", f"{API}/{real}?dryRun=All")
    assert status == 200, body
    status, body = one(daemon, "alice", "GET", f"{API}/{real}")
    assert status == 200, "a dry-run delete deleted the sandbox"
    # kubectl delete --dry-run=server puts it in the DeleteOptions body
    kubectl_opts = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background",
                    "dryRun": ["All"]}
    status, body = one(daemon, "alice", "DELETE", f"{API}/{real}", kubectl_opts)
    assert status == 200, body
    status, body = one(daemon, "alice", "GET", f"{API}/{real}")
    assert status == 200, "a dry-run delete (DeleteOptions.dryRun) deleted the sandbox"
    status, body = one(daemon, "alice", "DELETE", API, dict(kubectl_opts))
    assert status == 200 and real in names(body), body
    assert one(daemon, "alice", "GET", f"{API}/{real}")[0] == 200, "a dry-run delete-collection deleted"
    for opts, says in [({"gracePeriodSeconds": 0}, "gracePeriodSeconds"), ({"bogus": 1}, "unknown field"),
                       ({"dryRun": ["Some"]}, "dryRun"), ({"propagationPolicy": "Later"}, "propagationPolicy"),
                       ({"preconditions": "x"}, "preconditions")]:
        status, body = one(daemon, "alice", "DELETE", f"{API}/{real}", opts)
        assert status == 400 and says in body["message"], (opts, body)
    assert one(daemon, "alice", "GET", f"{API}/{real}")[0] == 200

    sec = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s-{t}"}, "stringData": {"k": "v"}}
    status, body = one(daemon, "alice", "POST", f"{CORE}/secrets?dryRun=All", sec)
    assert status == 201, body
    assert one(daemon, "alice", "GET", f"{CORE}/secrets/s-{t}")[0] == 404
    create(daemon, "alice", cleanup, sec, base=f"{CORE}/secrets")
    assert one(daemon, "alice", "DELETE", f"{CORE}/secrets/s-{t}?dryRun=All")[0] == 200
    assert one(daemon, "alice", "GET", f"{CORE}/secrets/s-{t}")[0] == 200
    # dryRun takes only All
    status, body = one(daemon, "alice", "DELETE", f"{API}/{real}?dryRun=true")
    assert status == 400 and "dryRun" in body["message"], body
    assert one(daemon, "alice", "GET", f"{API}/{real}")[0] == 200


# ---- resourceVersion ---------------------------------------------------------------------------

def put_at_current(daemon, user, path, obj, tries=20):
    """GET, then PUT at the version read, again while the controller's own bookkeeping
    writes come in between (409), as clients do; returns the PUT's answer."""
    for _ in range(tries):
        status, cur = one(daemon, user, "GET", path)
        assert status == 200, cur
        obj["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        status, body = one(daemon, user, "PUT", path, obj)
        if status != 409:
            return status, body
    raise AssertionError(f"{tries} PUTs at the current version were all conflicts: {body}")


def test_stale_resource_version_is_a_conflict(daemon, users, cleanup):
    name = f"occ-{tag()}"
    path = f"{API}/{name}"
    created = create(daemon, "alice", cleanup, sandbox(name, {"v": "1"}))
    rv1 = created["metadata"]["resourceVersion"]
    assert rv1.isdigit(), created
    status, body = put_at_current(daemon, "alice", path, sandbox(name, {"v": "2"}))
    assert status == 200 and int(body["metadata"]["resourceVersion"]) > int(rv1), body
    stale = sandbox(name, {"v": "stale"})
    stale["metadata"]["resourceVersion"] = rv1
    status, body = one(daemon, "alice", "PUT", path, stale)
    assert status == 409 and body["reason"] == "Conflict" and "modified" in body["message"], body
    status, body = one(daemon, "alice", "GET", path)
    assert body["metadata"]["labels"] == {"v": "2"}, body
    status, body = put_at_current(daemon, "alice", path, sandbox(name, {"v": "3"}))
    assert status == 200 and body["metadata"]["labels"] == {"v": "3"}, body
    # a delete's preconditions: a stale version or another uid is a conflict and deletes nothing
    status, body = one(daemon, "alice", "DELETE", path, {"preconditions": {"resourceVersion": rv1}})
    assert status == 409, body
    status, body = one(daemon, "alice", "DELETE", path, {"preconditions": {"uid": "not-its-uid"}})
    assert status == 409, body
    assert one(daemon, "alice", "GET", path)[0] == 200
    # a version on an object that does not exist is a conflict too, not a create
    ghost = sandbox(f"occghost-{tag()}")
    ghost["metadata"]["resourceVersion"] = rv1
    status, body = one(daemon, "alice", "PUT", f"{API}/{ghost['metadata']['name']}", ghost)
    assert status == 409, body
    assert one(daemon, "alice", "GET", f"{API}/{ghost['metadata']['name']}")[0] == 404

    t = tag()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{t}"}, "data": {"a": "1"}}
    made = create(daemon, "alice", cleanup, cm, base=f"{CORE}/configmaps")
    cm2 = dict(cm, data={"a": "2"})
    cm2["metadata"] = dict(cm["metadata"], resourceVersion=made["metadata"]["resourceVersion"])
    assert one(daemon, "alice", "PUT", f"{CORE}/configmaps/cm-{t}", cm2)[0] == 200
    cm3 = dict(cm2, data={"a": "stale"})
    status, body = one(daemon, "alice", "PUT", f"{CORE}/configmaps/cm-{t}", cm3)
    assert status == 409, body
    assert one(daemon, "alice", "GET", f"{CORE}/configmaps/cm-{t}")[1]["data"] == {"a": "2"}


def test_concurrent_writers_at_one_version_one_wins(daemon, users, cleanup):
    """alice and alice again (two clients at once) replace the same ConfigMap at the same
    version: however they interleave, exactly one succeeds and the other is 409."""
    t = tag()
    base = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"race-{t}"}, "data": {"w": "none"}}
    made = create(daemon, "alice", cleanup, base, base=f"{CORE}/configmaps")
    rv = made["metadata"]["resourceVersion"]
    for rnd in range(5):
        procs = []
        for who in ("a", "b"):
            body = {**base, "metadata": {**base["metadata"], "resourceVersion": rv}, "data": {"w": f"{who}{rnd}"}}
            argv = as_user(daemon, "alice", ["/usr/bin/python3", "-c", CLIENT, str(daemon.sock)])
            p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            p.stdin.write(json.dumps([["PUT", f"{CORE}/configmaps/race-{t}", body]]))
            p.stdin.close()
            procs.append((who, p))
        answers = {}
        for who, p in procs:
            answers[who] = json.loads(p.stdout.read())[0]
            p.wait()
        codes = sorted(a[0] for a in answers.values())
        assert codes == [200, 409], answers
        winner = [w for w, a in answers.items() if a[0] == 200][0]
        status, now = one(daemon, "alice", "GET", f"{CORE}/configmaps/race-{t}")
        assert now["data"] == {"w": f"{winner}{rnd}"}, (answers, now)
        rv = now["metadata"]["resourceVersion"]


# ---- watch -------------------------------------------------------------------------------------

class Watcher:
    """A watch as alice or bob, read event by event."""

    def __init__(self, daemon, user, path):
        self.proc = watch(daemon, user, path)
        self.raw = b""

    def until(self, pred, timeout=60):
        """Reads until an event satisfies pred; returns it. Fails on timeout or the end."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            for e in events_of(self.raw):
                if pred(e):
                    return e
            left = deadline - time.monotonic()
            assert left > 0, f"no such event within {timeout}s; got {self.raw!r}"
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                assert chunk, f"the watch ended first: {self.raw!r} {self.proc.stderr.read()!r}"
                self.raw += chunk

    def events(self):
        return events_of(self.raw)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def named(name, type_=None):
    return lambda e: e["object"]["metadata"].get("name") == name and (type_ is None or e["type"] == type_)


def test_watch_streams_changes_only_of_the_owner(daemon, users, cleanup):
    t = tag()
    mine, other = f"w-{t}", f"wother-{t}"
    create(daemon, "alice", cleanup, sandbox(mine, {"v": "1"}))
    create(daemon, "alice", cleanup, sandbox(other, {"v": "1"}))
    w = Watcher(daemon, "alice", f"{API}?watch=true&fieldSelector=metadata.name%3D{mine}&timeoutSeconds=60")
    wall = Watcher(daemon, "alice", f"{API}?watch=true&timeoutSeconds=60")
    try:
        w.until(named(mine, "ADDED"))
        assert w.raw.startswith(b"STATUS 200"), w.raw
        wall.until(named(other, "ADDED"))
        wall.until(named(mine, "ADDED"))
        # bob's sandbox of the same name, made while alice watches
        create(daemon, "bob", cleanup, sandbox(mine, {"v": "bob"}))
        # changes made after the watch started reach it
        assert one(daemon, "alice", "PUT", f"{API}/{other}", sandbox(other, {"v": "2"}))[0] == 200
        assert one(daemon, "alice", "PUT", f"{API}/{mine}", sandbox(mine, {"v": "2"}))[0] == 200
        e = w.until(named(mine, "MODIFIED"))
        assert e["object"]["metadata"]["labels"] == {"v": "2"}, e
        wall.until(named(other, "MODIFIED"))
        wall.until(named(mine, "MODIFIED"))
    finally:
        w.close()
        wall.close()
    assert {e["object"]["metadata"]["name"] for e in w.events()} == {mine}, w.events()
    for e in w.events() + wall.events():
        assert e["object"]["metadata"]["labels"].get("v") != "bob", "bob's sandbox reached alice's watch: " + str(e)
        assert e["object"]["metadata"]["annotations"]["sbx.x-k8s.io/owner-uid"] == str(users["alice"].uid), e


def test_watch_resumes_ends_and_expires(daemon, users, cleanup):
    t = tag()
    name = f"wr-{t}"
    made = create(daemon, "alice", cleanup, sandbox(name, {"v": "1"}))
    rv = made["metadata"]["resourceVersion"]
    status, _ = one(daemon, "alice", "PUT", f"{API}/{name}", sandbox(name, {"v": "2"}))
    assert status == 200
    assert one(daemon, "alice", "DELETE", f"{API}/{name}")[0] == 200
    # resume after the create: the update and the delete, in order, then the end at
    # timeoutSeconds with a bookmark
    w = watch(daemon, "alice", f"{API}?watch=true&resourceVersion={rv}&timeoutSeconds=2&allowWatchBookmarks=true"
                               f"&fieldSelector=metadata.name%3D{name}")
    out, err = w.communicate(timeout=120)
    assert out.decode().splitlines()[0] == "STATUS 200" and out.decode().splitlines()[-1] == "END", (out, err)
    evs = events_of(out)
    changes = [e for e in evs if e["type"] != "BOOKMARK"]
    # the controller's own bookkeeping writes are MODIFIED events too
    assert {e["type"] for e in changes[:-1]} == {"MODIFIED"} and changes[-1]["type"] == "DELETED", evs
    assert any(e["object"]["metadata"]["labels"] == {"v": "2"} for e in changes), evs
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
    assert rvs == sorted(rvs) and rvs[0] > int(rv), evs
    assert evs[-1]["type"] == "BOOKMARK" and evs[-1]["object"]["metadata"]["resourceVersion"].isdigit(), evs
    # too old: push the history past it (1000 changes are kept)
    cm = f"churn-{t}"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": cm}, "data": {"n": "0"}}
    create(daemon, "alice", cleanup, body, base=f"{CORE}/configmaps")
    batch = [("PUT", f"{CORE}/configmaps/{cm}", dict(body, data={"n": str(i)})) for i in range(1005)]
    assert all(s == 200 for s, _ in call(daemon, "alice", *batch))
    status, body = one(daemon, "alice", "GET", f"{API}?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    assert status == 410 and body["reason"] == "Expired", body
    status, body = one(daemon, "alice", "GET", f"{API}?watch=true&resourceVersion=notanumber")
    assert status == 400, body


def test_watches_per_user_are_bounded(daemon, users):
    ws = [watch(daemon, "bob", f"{API}?watch=true&timeoutSeconds=120") for _ in range(16)]
    try:
        for w in ws:
            read_until(w, "STATUS 200", timeout=60)
        status, body = one(daemon, "bob", "GET", f"{API}?watch=true&timeoutSeconds=1")
        assert status == 429, body
        # another user is not held back by bob's watches
        status, body = one(daemon, "alice", "GET", f"{API}?watch=true&timeoutSeconds=1")
        assert status == 200, body
    finally:
        for w in ws:
            w.kill()
            w.wait()


# ---- refused -------------------------------------------------------------------------------------

def test_unknown_and_malformed_parameters_are_refused(daemon, users, cleanup):
    name = f"bad-{tag()}"
    create(daemon, "alice", cleanup, sandbox(name))
    refused = [
        ("GET", f"{API}?bogus=1", "unknown query parameter"),
        ("DELETE", f"{API}/{name}?bogus=1", "unknown query parameter"),
        ("DELETE", f"{API}?labelSelector=app%3Dbig&propagate=1", "unknown query parameter"),
        ("GET", f"{API}?labelSelector=app%3D", None),  # valid: empty value
        ("GET", f"{API}?labelSelector=app%20in%20big", "labelSelector"),
        ("GET", f"{API}?labelSelector=%3Dbig", "labelSelector"),
        ("DELETE", f"{API}?labelSelector=a%3Db,", "labelSelector"),
        ("GET", f"{API}?fieldSelector=spec.nodeName%3Dx", "not supported"),
        ("GET", f"{API}/{name}?dryRun=All", "does not apply"),
        ("GET", f"{API}?labelSelector=a&labelSelector=b", "more than once"),
        ("GET", f"{API}?limit=-1", "limit"),
        ("GET", f"{API}?watch=maybe", "watch"),
        ("GET", f"{API}?allUsers=yes", "allUsers"),
        ("GET", f"{CORE}/events?watch=true", "cannot be watched"),
        ("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=a%3Db", "whole"),
        ("GET", f"{CORE}/resourcequotas?limit=1", "whole"),
        ("GET", "/version?bogus=1", "unknown query parameter"),
    ]
    answers = call(daemon, "alice", *[(m, p, None) for m, p, _ in refused])
    for (method, path, says), (status, body) in zip(refused, answers):
        if says is None:
            assert status == 200, (path, body)
            continue
        assert status == 400, (method, path, body)
        assert says in body["message"], (path, body)
    assert one(daemon, "alice", "GET", f"{API}/{name}")[0] == 200
    daemon.assert_alive()


# The stream protocol's api operation (what the CLI speaks): argv[1] the socket, stdin a
# JSON list of frames; prints a JSON list of the replies.
STREAM = textwrap.dedent("""
    import json, socket, struct, sys
    out = []
    for req in json.load(sys.stdin):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[1])
        data = json.dumps(dict(req, op="api")).encode()
        s.sendall(b"\\0SBX" + struct.pack("=I", len(data)) + data)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack("=I", buf[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        out.append(json.loads(buf[4:4 + struct.unpack("=I", buf[:4])[0]]))
        s.close()
    print(json.dumps(out))
""")


def test_the_stream_api_gets_the_same_semantics(daemon, sbx, users, cleanup):
    """The CLI's REST-in-frames goes through the same handlers and the same checks."""
    t = tag()
    big, small = f"stb-{t}", f"sts-{t}"
    create(daemon, "alice", cleanup, sandbox(big, {"app": "big", "t": t}))
    create(daemon, "alice", cleanup, sandbox(small, {"app": "small", "t": t}))
    frames = [
        {"method": "GET", "path": API, "query": {"labelSelector": f"app=big,t={t}"}},
        {"method": "GET", "path": API, "query": {"bogus": "1"}},
        {"method": "GET", "path": API, "query": {"labelSelector": "app in big"}},
        {"method": "DELETE", "path": f"{API}/{big}", "query": {"dryRun": "All"}},
        {"method": "GET", "path": API, "query": {"watch": "true"}},
        {"method": "DELETE", "path": API, "query": {"labelSelector": f"app=small,t={t}"}},
        {"method": "GET", "path": API, "query": {"labelSelector": f"t={t}"}},
    ]
    r = subprocess.run(as_user(daemon, "alice", ["/usr/bin/python3", "-c", STREAM, str(daemon.sock)]),
                       input=json.dumps(frames), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, explain(r)
    got = json.loads(r.stdout)
    assert got[0]["code"] == 200 and names(got[0]["body"]) == [big], got[0]
    assert got[1]["code"] == 400 and "unknown query parameter" in got[1]["body"]["message"], got[1]
    assert got[2]["code"] == 400 and "labelSelector" in got[2]["body"]["message"], got[2]
    assert got[3]["code"] == 200, got[3]
    assert got[4]["code"] == 400 and "HTTP only" in got[4]["body"]["message"], got[4]
    assert got[5]["code"] == 200 and names(got[5]["body"]) == [small], got[5]
    assert got[6]["code"] == 200 and names(got[6]["body"]) == [big], got[6]
    r = sbx("get", "sandboxes", big, "-o", "json", user="alice")
    assert r.returncode == 0 and '"resourceVersion"' in r.stdout, explain(r)
