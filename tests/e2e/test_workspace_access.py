"""test_workspace_access.py: reaching into a declared workspace: `sbx logs` (-f, --tail,
-c, following through truncation and until the container ends), `sbx exec` (exit statuses,
stdin with -i, a terminal with -t, the window size), `sbx describe` of a running pod-mode
sandbox, and that another user gets "not found" for all of them.

The sandboxes are applied by alice with `sbx apply -f -` (pod mode, image host) and waited
for with `sbx wait --for=condition=Ready`; everything here needs the pod-mode shim (logs
files, exec server) and the Sandbox REST resources.
"""

import glob
import json
import shutil
import os
import re
import subprocess
import time

import pytest

from sbxlib import PY, explain, finish, read_until, run_in_pty, unique_name, wait_until

HELLO = "print('hello', flush=True); import time; time.sleep(1000)"
TICKER = ("import itertools, time\n"
          "for i in itertools.count():\n"
          "    print(f'tick {i}', flush=True)\n"
          "    time.sleep(0.2)\n")
COUNTER = ("import time\n"
           "for i in range(1, 6):\n"
           "    print(f'line {i}', flush=True)\n"
           "    time.sleep(0.3)\n")


def sandbox_doc(name, containers, restart="Always", version="v1alpha1"):
    spec = {"podTemplate": {"spec": {"restartPolicy": restart, "containers": [
        {"name": c, "image": "host", "command": [PY, "-c", code]} for c, code in containers]}}}
    return json.dumps({"apiVersion": f"agents.x-k8s.io/{version}", "kind": "Sandbox",
                       "metadata": {"name": name}, "spec": spec})


def apply(sbx, doc, user="alice"):
    r = sbx("apply", "-f", "-", input=doc, user=user)
    assert r.returncode == 0, explain(r)
    return r


def wait_ready(sbx, name, user="alice", timeout="90s"):
    r = sbx("wait", "--for=condition=Ready", f"sandbox/{name}", f"--timeout={timeout}", user=user,
            timeout=120)
    assert r.returncode == 0, explain(r)
    assert r.stdout == f"sandbox.agents.x-k8s.io/{name} condition met\n"


def not_found(r):
    return r.returncode != 0 and "not found" in r.stderr.lower()


@pytest.fixture(scope="module")
def workspace(sbx):
    """Alice's sandboxes: `hello` (one container printing hello, then idle) and `ticker`
    (two containers: `ticker` printing a line every 0.2 s, and `idle`)."""
    hello, ticker = unique_name("hello"), unique_name("ticker")
    tick_container = "tick" + hello[-6:]  # unique: its log file is found by name on the host
    r = apply(sbx, sandbox_doc(hello, [("main", HELLO)]))
    assert r.stdout == f"sandbox.agents.x-k8s.io/{hello} created\n"
    apply(sbx, sandbox_doc(ticker, [(tick_container, TICKER), ("idle", HELLO)], version="v1beta1"))
    try:
        wait_ready(sbx, hello)
        wait_ready(sbx, ticker)
        yield {"hello": hello, "ticker": ticker, "tick": tick_container}
    finally:
        for n in (hello, ticker):
            sbx("delete", "sandbox", n, user="alice", timeout=120)


def pty_run(daemon, *args, user="alice", **kw):
    u = daemon._user(user)
    argv = daemon.argv(args, u)
    argv[0] = shutil.which(argv[0]) or argv[0]  # run_in_pty execs without a PATH search
    return run_in_pty(argv, daemon.env(u), **kw)


# --- apply of a sandbox ----------------------------------------------------------------------

def test_reapply_is_unchanged(sbx, workspace):
    r = apply(sbx, sandbox_doc(workspace["hello"], [("main", HELLO)]))
    assert r.stdout == f"sandbox.agents.x-k8s.io/{workspace['hello']} unchanged\n"


# --- logs ------------------------------------------------------------------------------------

def test_logs_shows_hello(sbx, workspace):
    name = workspace["hello"]
    wait_until(lambda: sbx("logs", name, user="alice").stdout, 30)
    r = sbx("logs", name, user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout == "hello\n"
    for form in (f"pod/{name}", f"sandbox/{name}"):
        r = sbx("logs", form, user="alice")
        assert r.returncode == 0 and r.stdout == "hello\n", explain(r)
    r = sbx("logs", name, "-c", "main", user="alice")
    assert r.returncode == 0 and r.stdout == "hello\n", explain(r)


def test_logs_tail(sbx, workspace):
    name, c = workspace["ticker"], workspace["tick"]
    wait_until(lambda: "tick 5" in sbx("logs", name, "-c", c, user="alice").stdout, 30)
    r = sbx("logs", name, "-c", c, "--tail", "2", user="alice")
    assert r.returncode == 0, explain(r)
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all(l.startswith("tick ") for l in lines), r.stdout
    n = int(lines[0].split()[1])
    assert lines[1] == f"tick {n + 1}"
    r = sbx("logs", name, "-c", c, "--tail=0", user="alice")
    assert r.returncode == 0 and r.stdout == "", explain(r)


def test_logs_needs_container_when_several(sbx, workspace):
    name, c = workspace["ticker"], workspace["tick"]
    r = sbx("logs", name, user="alice")
    assert r.returncode == 1, explain(r)
    assert f"a container name must be specified for pod {name}, choose one of: [{c} idle]" in r.stderr
    r = sbx("logs", name, "-c", "nosuch", user="alice")
    assert r.returncode == 1 and "nosuch" in r.stderr, explain(r)
    r = sbx("logs", name, "-c", "idle", user="alice")
    assert r.returncode == 0 and r.stdout == "hello\n", explain(r)


def ticks(data):
    return [int(m) for m in re.findall(rb"tick (\d+)\n", data)]


def test_logs_follow(sbx, sbx_popen, workspace):
    name, c = workspace["ticker"], workspace["tick"]
    before = ticks(sbx("logs", name, "-c", c, user="alice").stdout.encode())
    assert before, "the ticker wrote nothing"
    p = sbx_popen("logs", "-f", name, "-c", c, user="alice")
    try:
        out = read_until(p, f"tick {before[-1] + 5}\n", timeout=30)
        got = ticks(out)
        # everything from the start, in order, then what came after
        assert got[:len(before)] == before
        assert got == list(range(got[0], got[-1] + 1))
        assert p.poll() is None, "logs -f ended while the container runs"
    finally:
        p.kill()
        p.wait()


def test_logs_follow_survives_truncation(sbx, sbx_popen, daemon, workspace):
    name, c = workspace["ticker"], workspace["tick"]
    logs = glob.glob(str(daemon.root / "sandboxes" / "*" / "logs" / f"{c}.log"))
    assert len(logs) == 1, f"cannot find the log of {c} under {daemon.root}: {logs}"
    p = sbx_popen("logs", "-f", "--tail=1", name, "-c", c, user="alice")
    try:
        out = read_until(p, "\n", timeout=30)
        last = ticks(out)[-1]
        os.truncate(logs[0], 0)
        out += read_until(p, f"tick {last + 10}\n", timeout=30)
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def test_logs_follow_ends_with_the_container(sbx, sbx_popen):
    name = unique_name("count")
    apply(sbx, sandbox_doc(name, [("main", COUNTER)], restart="Never"))
    try:
        r = wait_until(lambda: sbx("logs", name, user="alice").returncode == 0, 60)
        assert r, "the container's log never appeared"
        p = sbx_popen("logs", "-f", name, user="alice")
        status, out, err = finish(p, timeout=60)
        assert status == 0, err
        assert out == b"".join(b"line %d\n" % i for i in range(1, 6)), out
        # its state shows in describe
        r = sbx("describe", "sandbox", name, user="alice")
        assert r.returncode == 0, explain(r)
        assert re.search(r"State:\s+Terminated\n\s+Reason:\s+Completed\n\s+Exit Code:\s+0\n", r.stdout), r.stdout
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=120)


# --- exec ------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [0, 3, 42])
def test_exec_exit_status(sbx, workspace, code):
    r = sbx("exec", workspace["hello"], "--", PY, "-c", f"import sys; print('in'); sys.exit({code})",
            user="alice")
    assert r.returncode == code, explain(r)
    assert r.stdout == "in\n"


def test_exec_runs_in_the_container(sbx, workspace):
    # the container's hostname (the sandbox's name) and its processes: python is pid 1's world
    r = sbx("exec", workspace["hello"], "--", PY, "-c",
            "import socket, os; print(socket.gethostname()); print(any("
            "'time.sleep(1000)' in open(f'/proc/{p}/cmdline').read().replace(chr(0), ' ')"
            " for p in os.listdir('/proc') if p.isdigit() and p != str(os.getpid())))", user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout.splitlines() == [workspace["hello"], "True"]


def test_exec_stdin(sbx, workspace):
    data = "".join(f"line {i}\n" for i in range(2000))
    r = sbx("exec", "-i", workspace["hello"], "--", "/usr/bin/cat", input=data, user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout == data
    # without -i the command's stdin is empty
    r = sbx("exec", workspace["hello"], "--", "/usr/bin/cat", input="ignored", user="alice")
    assert r.returncode == 0 and r.stdout == "", explain(r)


def test_exec_stderr_and_signal(sbx, workspace):
    r = sbx("exec", workspace["hello"], "--", PY, "-c",
            "import sys; print('err', file=sys.stderr); print('out')", user="alice")
    assert r.returncode == 0 and r.stdout == "out\n" and "err" in r.stderr, explain(r)
    r = sbx("exec", workspace["hello"], "--", PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
            user="alice")
    assert r.returncode == 128 + 9, explain(r)


def test_exec_missing_command(sbx, workspace):
    r = sbx("exec", workspace["hello"], "--", "/nonexistent/program", user="alice")
    assert r.returncode == 127, explain(r)


def test_exec_tty(daemon, workspace):
    status, out = pty_run(daemon, "exec", "-it", workspace["hello"], "--", "/usr/bin/tty")
    assert status == 0, out
    assert b"/dev/pts/" in out, out
    status, out = pty_run(daemon, "exec", "-it", workspace["hello"], "--", "/usr/bin/stty", "size",
                          winsize=(33, 101))
    assert status == 0, out
    assert b"33 101" in out, out
    # typed input reaches a program on the terminal
    status, out = pty_run(daemon, "exec", "-it", workspace["hello"], "--", PY, "-c",
                          "print('ready', flush=True); print('got', input())",
                          send=b"typed\r", send_after=b"ready")
    assert status == 0, out
    assert b"got typed" in out, out


def test_exec_without_tty_has_none(sbx, workspace):
    r = sbx("exec", workspace["hello"], "--", "/usr/bin/tty", user="alice")
    assert r.returncode == 1, explain(r)
    assert "not a tty" in r.stdout
    # -t with no terminal on stdin: kubectl's warning, then no terminal
    r = sbx("exec", "-t", workspace["hello"], "--", "/usr/bin/tty", user="alice")
    assert "Unable to use a TTY" in r.stderr and "not a tty" in r.stdout, explain(r)


def test_exec_needs_container_when_several(sbx, workspace):
    name, c = workspace["ticker"], workspace["tick"]
    r = sbx("exec", name, "--", "/usr/bin/true", user="alice")
    assert r.returncode == 1 and "a container name must be specified" in r.stderr, explain(r)
    r = sbx("exec", name, "-c", "idle", "--", "/usr/bin/true", user="alice")
    assert r.returncode == 0, explain(r)
    r = sbx("exec", "-c", c, name, "--", PY, "-c", "print('x')", user="alice")
    assert r.returncode == 0 and r.stdout == "x\n", explain(r)


# --- describe --------------------------------------------------------------------------------

def test_describe_running(sbx, workspace):
    name = workspace["hello"]
    r = sbx("describe", "sandbox", name, user="alice")
    assert r.returncode == 0, explain(r)
    out = r.stdout
    assert re.search(rf"^Name:\s+{name}$", out, re.M), out
    assert re.search(r"^Namespace:\s+default$", out, re.M), out
    assert re.search(r"^\s+Ready:\s+True$", out, re.M), out
    assert re.search(r"^Operating Mode:\s+Running$", out, re.M), out
    assert re.search(r"^Containers:\n  main:\n    Image:\s+host\n", out, re.M), out
    assert re.search(r"^\s+State:\s+Running\n\s+Started:", out, re.M), out
    assert re.search(r"^\s+Restart Count:\s+0$", out, re.M), out
    assert re.search(r"^Events:", out, re.M), out
    r = sbx("get", "sandbox", name, user="alice")
    assert r.returncode == 0, explain(r)
    assert r.stdout.splitlines()[0].split() == ["NAME", "READY", "REASON", "STATUS", "AGE"]
    assert r.stdout.splitlines()[1].split()[:2] == [name, "True"]


# --- other users -----------------------------------------------------------------------------

def test_bob_sees_nothing(sbx, workspace):
    name = workspace["hello"]
    for args in (["logs", name], ["logs", "-f", name], ["exec", name, "--", "/usr/bin/true"],
                 ["exec", "-i", name, "--", "/usr/bin/cat"], ["describe", "sandbox", name],
                 ["wait", "--for=condition=Ready", f"sandbox/{name}", "--timeout=2s"],
                 ["scale", "sandbox", name, "--replicas=0"], ["delete", "sandbox", name]):
        r = sbx(*args, user="bob", timeout=30)
        assert not_found(r), explain(r)
        assert "hello" not in r.stdout
    # still there and untouched for alice
    r = sbx("logs", name, user="alice")
    assert r.returncode == 0 and r.stdout == "hello\n", explain(r)
    r = sbx("exec", name, "--", "/usr/bin/true", user="alice")
    assert r.returncode == 0, explain(r)
