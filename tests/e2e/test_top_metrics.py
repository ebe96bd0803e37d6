"""test_top_metrics.py: sbx top, the metrics APIs, Prometheus /metrics and shell completion,
as the real users sbxtest-alice and sbxtest-bob.

- `sbx top` shows each user their own sandboxes only (another's is "not found", -A gives a
  non-admin only their own), root sees everyone's with -A;
- `sbx top --users` shows every person's totals to everyone, with names and numbers only,
  never another person's sandbox names; disk counts writable layers and claims;
- the numbers move: a sandbox that allocates memory and burns CPU shows it, in its own
  line and in its owner's total;
- /metrics answers root with the text exposition format (families with HELP and TYPE,
  sandboxes by phase, starts, requests by code, per-user series) and refuses alice (403,
  no per-user numbers in the answer);
- `sbx completion bash|zsh`, sourced in bash and zsh, completes verbs, run's flags, kinds,
  output formats, and the caller's own object names (not another user's).
"""

import functools
import json
import re
import subprocess
import textwrap

import pytest

from sbxlib import UNIX_HTTP, explain, unique_name, wait_until
from workspaces import applied, container, exec_in, sandbox, wait_ready

MIB = 1 << 20


def top_json(sbx, *args, user="alice"):
    r = sbx("top", *args, "-o", "json", user=user)
    assert r.returncode == 0, explain(r)
    return json.loads(r.stdout)


def items_by_name(listed):
    return {it["metadata"]["name"]: it for it in listed.get("items", [])}


def person(listed, uid):
    for it in listed.get("items", []):
        if it["uid"] == uid:
            return it
    return None


@pytest.fixture(scope="module")
def workspaces(sbx, users):
    """alice's and bob's idle sandboxes; bob's has a claim with 8 MiB written to it and
    4 MiB in its writable layer."""
    a, b = unique_name("topa"), unique_name("topb")
    applied(sbx, sandbox(a), user="alice")
    applied(sbx, sandbox(b, containers=[container(volumeMounts=[{"name": "data", "mountPath": "/data"}])],
                         claims={"data": "64Mi"}), user="bob")
    wait_ready(sbx, a, user="alice")
    wait_ready(sbx, b, user="bob")
    for path in ("/data/blob", "/var/blob"):
        size = 8 if path.startswith("/data") else 4
        r = exec_in(sbx, b, "/bin/sh", "-c", f"head -c {size * MIB} /dev/urandom > {path} && sync", user="bob")
        assert r.returncode == 0, explain(r)
    yield {"alice": a, "bob": b}
    for user, name in (("alice", a), ("bob", b)):
        sbx("delete", "sandbox", name, user=user, timeout=120)
    sbx("delete", "pvc", f"data-{b}", user="bob")


def test_top_shows_each_user_their_own(sbx, users, workspaces):
    a, b = workspaces["alice"], workspaces["bob"]
    mine = items_by_name(top_json(sbx, user="alice"))
    assert a in mine and b not in mine, mine.keys()
    theirs = items_by_name(top_json(sbx, user="bob"))
    assert b in theirs and a not in theirs, theirs.keys()
    # PodMetrics shape, with sbx's extension
    it = mine[a]
    assert it["kind"] == "PodMetrics" and it["apiVersion"] == "metrics.k8s.io/v1beta1", it
    assert it["containers"][0]["usage"]["memory"].endswith("Ki"), it
    assert it["sbx"]["owner"] == users["alice"].uid and it["sbx"]["phase"] == "Running", it
    assert it["sbx"]["pids"] >= 1 and it["sbx"]["memoryBytes"] > 0, it
    # another's sandbox by name is not found, exactly like a missing one
    r = sbx("top", b, user="alice")
    assert r.returncode != 0 and "not found" in r.stderr and b in r.stderr, explain(r)
    # -A gives a non-admin their own, root everyone's
    assert set(items_by_name(top_json(sbx, "-A", user="alice"))) & {a, b} == {a}
    both = items_by_name(top_json(sbx, "-A", user=None))
    assert {a, b} <= set(both), both.keys()
    # the table
    r = sbx("top", user="alice")
    assert r.returncode == 0, explain(r)
    header = r.stdout.splitlines()[0].split()
    assert header == ["NAME", "CPU(cores)", "MEMORY(bytes)", "PIDS", "WRITABLE", "CLAIMS"], r.stdout
    assert a in r.stdout and b not in r.stdout, r.stdout


def test_disk_of_writable_layer_and_claims(sbx, users, workspaces):
    b = workspaces["bob"]
    disk = items_by_name(top_json(sbx, user="bob"))[b]["sbx"]["disk"]
    assert disk["claimsBytes"] >= 8 * MIB, disk
    assert disk["writableLayerBytes"] >= 4 * MIB, disk


def test_users_totals_are_everyones_without_their_sandbox_names(sbx, users, workspaces):
    a, b = workspaces["alice"], workspaces["bob"]
    r = sbx("top", "--users", "-o", "json", user="alice")
    assert r.returncode == 0, explain(r)
    assert b not in r.stdout, "alice must not learn the names of bob's sandboxes: " + r.stdout
    listed = json.loads(r.stdout)
    al, bo = person(listed, users["alice"].uid), person(listed, users["bob"].uid)
    assert al and bo, listed
    assert al["user"] == users["alice"].name and bo["user"] == users["bob"].name
    assert al["sandboxes"] >= 1 and bo["sandboxes"] >= 1
    assert bo["disk"]["claimsBytes"] >= 8 * MIB and bo["disk"]["writableLayerBytes"] >= 4 * MIB, bo
    assert bo["memoryBytes"] > 0 and bo["pids"] >= 1, bo
    # the table shows people by name
    r = sbx("top", "--users", user="bob")
    assert r.returncode == 0, explain(r)
    assert r.stdout.split()[:3] == ["NAME", "UID", "SANDBOXES"], r.stdout
    assert users["alice"].name in r.stdout and a not in r.stdout, r.stdout


def test_numbers_move_when_a_sandbox_works(sbx, sbx_popen, users, workspaces):
    a = workspaces["alice"]
    before = items_by_name(top_json(sbx, user="alice"))[a]["sbx"]
    # 96 MiB touched, then a busy loop, until killed
    load = textwrap.dedent("""
        import sys
        b = bytearray(96 << 20)
        for i in range(0, len(b), 4096): b[i] = 1
        print("loaded", flush=True)
        while True: pass
    """)
    p = sbx_popen("exec", a, "--", "/usr/bin/python3", "-c", load, user="alice")
    try:
        assert p.stdout.readline().strip() == b"loaded"
        last = {}

        def moved():
            nonlocal last
            last = items_by_name(top_json(sbx, user="alice"))[a]["sbx"]
            return (last["memoryBytes"] >= before["memoryBytes"] + 90 * MIB and last["cpuMillicores"] > 0
                    and last["cpuSeconds"] > before["cpuSeconds"] and last["pids"] > before["pids"])
        assert wait_until(moved, 30, interval=0.5), f"before {before}\nlast {last}"
        assert last["memoryPeakBytes"] >= last["memoryBytes"], last
        # the owner's total moves with it, and everyone sees it
        total = person(top_json(sbx, "--users", user="bob"), users["alice"].uid)
        assert total["memoryBytes"] >= 90 * MIB and total["cpuMillicores"] > 0, total
    finally:
        p.kill()
        p.wait(timeout=30)
    # the load is gone: its memory is given back
    assert wait_until(lambda: items_by_name(top_json(sbx, user="alice"))[a]["sbx"]["memoryBytes"]
                      < before["memoryBytes"] + 48 * MIB, 30, interval=0.5)


# ---- /metrics --------------------------------------------------------------------------------

GET_METRICS = UNIX_HTTP + textwrap.dedent("""
    c = UnixHTTP(sys.argv[1], timeout=30)
    c.request("GET", "/metrics")
    r = c.getresponse()
    sys.stdout.write(f"{r.status}\\n{r.getheader('Content-Type')}\\n")
    sys.stdout.write(r.read().decode())
""")


def get_metrics(daemon, user=None):
    u = daemon._user(user)
    argv = ["/usr/bin/python3", "-c", GET_METRICS, str(daemon.sock)]
    if u is not None:
        argv = ["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--init-groups", "--", *argv]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, explain(r)
    status, ctype, body = r.stdout.split("\n", 2)
    return int(status), ctype, body


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$')


def parse_exposition(text):
    """{family: {"type":…, "samples": [(name, labels, value)]}}; fails on any bad line."""
    fams, current = {}, None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split()[2]
            fams.setdefault(current, {"samples": []})["help"] = True
        elif line.startswith("# TYPE "):
            name, typ = line.split()[2:4]
            assert name == current and typ in ("counter", "gauge", "histogram"), line
            fams[name]["type"] = typ
        else:
            m = SAMPLE.match(line)
            assert m, f"not a sample line of the text format: {line!r}"
            name = m.group(1)
            assert current and name.startswith(current), f"{name} outside its family {current}"
            labels = dict(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            fams[current]["samples"].append((name, labels, float(m.group(3))))
    return fams


def value(fams, family, name=None, **labels):
    for n, l, v in fams[family]["samples"]:
        if n == (name or family) and all(l.get(k) == x for k, x in labels.items()):
            return v
    return None


def test_metrics_for_root_not_for_alice(daemon, sbx, users, workspaces):
    status, _, body = get_metrics(daemon, "alice")
    assert status == 403, body
    assert "admin group" in body and "sbx_user" not in body, body
    status, ctype, body = get_metrics(daemon, None)
    assert status == 200, body
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
    fams = parse_exposition(body)
    for fam, typ in (("sbx_sandboxes", "gauge"), ("sbx_sandbox_starts_total", "counter"),
                     ("sbx_sandbox_start_duration_seconds", "histogram"), ("sbx_api_requests_total", "counter"),
                     ("sbx_user_memory_bytes", "gauge"), ("sbx_user_cpu_seconds_total", "counter"),
                     ("sbx_user_disk_bytes", "gauge")):
        assert fams.get(fam, {}).get("type") == typ and fams[fam].get("help"), (fam, fams.get(fam))
    assert value(fams, "sbx_sandboxes", phase="Running") >= 2
    assert value(fams, "sbx_sandbox_starts_total", kind="pod") >= 2
    count = value(fams, "sbx_sandbox_start_duration_seconds", "sbx_sandbox_start_duration_seconds_count", kind="pod")
    inf = value(fams, "sbx_sandbox_start_duration_seconds", "sbx_sandbox_start_duration_seconds_bucket",
                kind="pod", le="+Inf")
    assert count >= 2 and inf == count
    # alice's refusal was counted
    assert value(fams, "sbx_api_requests_total", code="403") >= 1
    assert value(fams, "sbx_api_requests_total", code="200") >= 1
    bob = str(users["bob"].uid)
    assert value(fams, "sbx_user_disk_bytes", uid=bob, user=users["bob"].name, kind="claims") >= 8 * MIB
    assert value(fams, "sbx_user_memory_bytes", uid=str(users["alice"].uid)) > 0
    # the sandbox names of users are not labels
    assert workspaces["bob"] not in body


# ---- shell completion ------------------------------------------------------------------------

BASH_DRIVER = """
    source <(sbx completion bash) || exit 3
    COMP_WORDS=({line}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
    _sbx
    printf '%s\\n' "${{COMPREPLY[@]}}"
"""
# zsh's compadd and _files work only inside its completion system: stand-ins print what
# would be offered (zsh itself keeps those matching the word, as the filter below does)
ZSH_DRIVER = """
    compdef() {{ : }}
    compadd() {{ [[ $1 == -- ]] && shift; print -l -- "$@" }}
    _files() {{ print -- "<files>" }}
    source <(sbx completion zsh) || exit 3
    words=({line}); CURRENT=${{#words}}
    _sbx
"""


def complete_in(daemon, user, *words, shell="bash"):
    """What the shell completes for the command line `words` (the last one being completed)."""
    u = daemon._user(user)
    line = " ".join(f"'{w}'" for w in words)
    script = textwrap.dedent((BASH_DRIVER if shell == "bash" else ZSH_DRIVER).format(line=line))
    env = daemon.env(u)
    env["PATH"] = f"{daemon.cli.parent}:{env['PATH']}"
    argv = [f"/bin/{shell}", "-c", script]
    if u is not None:
        argv = ["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--init-groups", "--", *argv]
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 0, explain(r)
    return {w for w in r.stdout.split() if w.startswith(words[-1]) or w == "<files>"}


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion(daemon, users, workspaces, shell):
    a, b = workspaces["alice"], workspaces["bob"]
    complete = functools.partial(complete_in, shell=shell)
    assert complete(daemon, "alice", "sbx", "p") == {"ps", "port-forward"}
    assert {"top", "completion", "run", "apply"} <= complete(daemon, "alice", "sbx", "")
    assert complete(daemon, "alice", "sbx", "run", "--m") == {"--memory"}
    assert {"--rm", "--cpus", "--volume", "-v"} <= complete(daemon, "alice", "sbx", "run", "-")
    assert {"sandboxes", "pvc", "secrets"} <= complete(daemon, "alice", "sbx", "get", "")
    assert complete(daemon, "alice", "sbx", "get", "-o", "") == {"wide", "name", "json", "yaml"}
    assert complete(daemon, "alice", "sbx", "completion", "") == {"bash", "zsh"}
    # object names come from the daemon, as the caller: alice's, never bob's
    assert complete(daemon, "alice", "sbx", "logs", "e2e-top") == {a}
    assert complete(daemon, "bob", "sbx", "describe", "sandbox", "e2e-top") == {b}
    assert complete(daemon, "bob", "sbx", "get", "pvc", "") == {f"data-{b}"}
    assert complete(daemon, "alice", "sbx", "wait", "sandbox/e2e-top") == {f"sandbox/{a}"}
    # -f takes a file: bash offers the files of the working directory (/), zsh calls _files
    files = complete(daemon, "alice", "sbx", "apply", "-f", "")
    assert files == {"<files>"} if shell == "zsh" else "usr" in files, files
