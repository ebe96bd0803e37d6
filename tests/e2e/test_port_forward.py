"""test_port_forward.py: `sbx port-forward` and the daemon's `portforward` stream operation.

A named sandbox runs a small TCP echo server on 127.0.0.1:7000 inside its own network
namespace (`sbx run --name X -- python3 -c ECHO`); alice forwards a free local port to it
and talks to it. The echo server sends back every byte it receives and, once the client has
shut down its write half (EOF), one more line b"\\nBYE" before closing: a reply that can only
arrive if the EOF went through and the way back stayed open (half-close).

The forward serves only the uid that runs it, so every client that should be served runs as
alice (`runuser -u sbxtest-alice -- python3 -c CLIENT`); the test process itself (root) and
bob are refused.
"""

import json
import os
import re
import socket
import signal
import subprocess
import time

import pytest

from conftest import sanitizer_reports
from sbxlib import PY, explain, finish, read_until, unique_name, wait_until

REMOTE = 7000


def tcp_server(serve):
    """A program for a sandbox: listens on 127.0.0.1:7000, prints "listening", and runs
    `serve(c)` (Python source defining it) for each connection in its own thread."""
    return r'''
import socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7000))
s.listen(256)
print("listening", flush=True)
''' + serve + r'''
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''


ECHO = tcp_server(r'''
def serve(c):
    try:
        while True:
            d = c.recv(1 << 16)
            if not d:
                break
            c.sendall(d)
        c.sendall(b"\nBYE")
    finally:
        c.close()
''')


# A client run as some user: talks to 127.0.0.1:PORT as MODE says, prints one JSON line.
CLIENT = r'''
import hashlib, json, os, socket, sys, threading
mode, port = sys.argv[1], int(sys.argv[2])
arg = sys.argv[3] if len(sys.argv) > 3 else ""

def talk(payload, timeout=60):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = s.recv(1 << 16)
        if not d:
            break
        got += d
    s.close()
    return got

out = {}
if mode == "once":
    out["reply"] = talk(arg.encode()).decode(errors="replace")
elif mode == "many":
    n = int(arg)
    res = [None] * n
    socks = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(n)]
    def one(i):  # all n connections are open at once before any of them finishes
        try:
            msg = (f"message {i} " * (i + 1)).encode()
            socks[i].sendall(msg)
            socks[i].shutdown(socket.SHUT_WR)
            got = b""
            while True:
                d = socks[i].recv(1 << 16)
                if not d:
                    break
                got += d
            res[i] = True if got == msg + b"\nBYE" else f"len {len(got)} vs {len(msg)+4}: {got[:60]!r}...{got[-20:]!r}"
        except OSError as e:
            res[i] = repr(e)
        finally:
            socks[i].close()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts: t.start()
    for t in ts: t.join()
    out["results"] = res
elif mode == "big":
    total = int(arg)
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    sent, recvd = hashlib.sha256(), hashlib.sha256()
    count = [0]
    def reader():
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            recvd.update(d)
            count[0] += len(d)
    t = threading.Thread(target=reader)
    t.start()
    chunk = os.urandom(1 << 20)
    left = total
    while left:
        part = chunk[:min(left, len(chunk))]
        s.sendall(part)
        sent.update(part)
        left -= len(part)
        chunk = hashlib.sha256(chunk[:64]).digest() * 32768  # new bytes each MiB
    s.shutdown(socket.SHUT_WR)
    t.join()
    sent.update(b"\nBYE")
    out["received"] = count[0]
    out["intact"] = sent.hexdigest() == recvd.hexdigest()
elif mode == "probe":
    # a connection the forward should refuse: closed without a byte of data
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(b"hello")
        s.shutdown(socket.SHUT_WR)
        out["data"] = s.recv(100).decode(errors="replace")
    except OSError as e:
        out["data"] = ""
        out["error"] = type(e).__name__
elif mode == "daemon":
    # the stream protocol by hand: {"op":"portforward"} for sandbox `arg`
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(os.environ["SBX_SOCKET"])
    body = json.dumps({"op": "portforward", "namespace": "default", "name": arg, "port": 7000}).encode()
    s.sendall(b"\0SBX" + len(body).to_bytes(4, sys.byteorder) + body)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    n = int.from_bytes(data[:4], sys.byteorder)
    out = json.loads(data[4:4 + n])
print(json.dumps(out), flush=True)
'''


def as_user(daemon, user, *args, timeout=180):
    """Runs CLIENT as `user` (runuser); returns its JSON line."""
    r = subprocess.run(["/usr/sbin/runuser", "-u", user.name, "--", PY, "-c", CLIENT, *[str(a) for a in args]],
                       capture_output=True, text=True, timeout=timeout, cwd="/",
                       env={"PATH": "/usr/bin:/bin", "SBX_SOCKET": str(daemon.sock), "LANG": "C.UTF-8"})
    assert r.returncode == 0, explain(r)
    return json.loads(r.stdout.strip().splitlines()[-1])


class Workspace:
    """A named sandbox of `user`'s running `program` (ECHO), and that user's forward to it."""

    def __init__(self, daemon, sbx, sbx_popen, user, program=ECHO):
        self.daemon, self.sbx, self.popen, self.user, self.program = daemon, sbx, sbx_popen, user, program
        self.name = unique_name("pf")
        self.run = None
        self.fwd = None
        self.port = None

    def start_sandbox(self):
        self.run = self.popen("run", "--name", self.name, "--", PY, "-c", self.program, user=self.user)
        read_until(self.run, "listening")

    def delete_sandbox(self):
        r = self.sbx("delete", "sandbox", self.name, user=self.user)
        assert r.returncode == 0, explain(r)
        if self.run:
            finish(self.run)
            self.run = None

    def start_forward(self, *ports):
        self.fwd = self.popen("port-forward", self.name, *(ports or (f":{REMOTE}",)), user=self.user)
        out = read_until(self.fwd, f"-> {REMOTE}\n").decode()
        m = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> %d" % REMOTE, out)
        assert m, out
        self.port = int(m.group(1))
        self.fwd_out = out
        return out

    def stop_forward(self):
        """SIGTERM: the forward exits 0. Returns (status, stdout, stderr)."""
        self.fwd.send_signal(signal.SIGTERM)
        status, out, err = finish(self.fwd)
        self.fwd = None
        err = err.decode(errors="replace")
        assert not sanitizer_reports(err), err
        return status, out.decode(errors="replace"), err

    def close(self):
        if self.fwd:
            self.fwd.kill()
            _, out, err = finish(self.fwd)
            print("forward's stderr:", err.decode(errors="replace"))
        self.sbx("delete", "sandbox", self.name, user=self.user)
        if self.run:
            finish(self.run)


@pytest.fixture
def ws(daemon, sbx, sbx_popen, users):
    w = Workspace(daemon, sbx, sbx_popen, users["alice"])
    w.start_sandbox()
    w.start_forward()
    yield w
    w.close()


def test_round_trip(daemon, ws, users):
    r = as_user(daemon, users["alice"], "once", ws.port, "hello through the forward")
    assert r["reply"] == "hello through the forward\nBYE"
    status, out, err = ws.stop_forward()
    assert status == 0, err
    assert f"Handling connection for {ws.port}" in out


def test_output_and_named_ports(daemon, sbx_popen, ws):
    # one line per listener, kubectl's words; both loopbacks where the host has IPv6
    assert f"Forwarding from 127.0.0.1:{ws.port} -> {REMOTE}\n" in ws.fwd_out
    if socket.has_ipv6 and os.path.exists("/proc/net/if_inet6"):
        assert f"Forwarding from [::1]:{ws.port} -> {REMOTE}\n" in ws.fwd_out
    status, _, _ = ws.stop_forward()
    assert status == 0
    # a run sandbox's pod template has no named ports: refused before listening
    p = sbx_popen("port-forward", f"sandbox/{ws.name}", "http", user=ws.user)
    status, out, err = finish(p)
    assert status != 0 and "does not have a named port 'http'" in err.decode(), (out, err)


def test_fifty_concurrent_connections(daemon, ws, users):
    r = as_user(daemon, users["alice"], "many", ws.port, 50)
    assert r["results"] == [True] * 50


def test_large_transfer_both_directions_is_intact(daemon, ws, users):
    size = 256 << 20
    r = as_user(daemon, users["alice"], "big", ws.port, size, timeout=300)
    assert r["received"] == size + len(b"\nBYE")
    assert r["intact"], "the bytes that came back differ from the bytes sent"


def test_half_close_reply_arrives_after_eof(daemon, ws, users):
    # the client shuts down its write half; the server sees EOF and only then replies BYE
    r = as_user(daemon, users["alice"], "once", ws.port, "")
    assert r["reply"] == "\nBYE"
    r = as_user(daemon, users["alice"], "once", ws.port, "x" * 100000)
    assert r["reply"] == "x" * 100000 + "\nBYE"


def test_other_users_are_refused(daemon, ws, users):
    alice, bob = users["alice"], users["bob"]
    b = as_user(daemon, bob, "probe", ws.port)
    assert b["data"] == "", f"bob got data through alice's forward: {b}"
    a = as_user(daemon, alice, "once", ws.port, "still mine")
    assert a["reply"] == "still mine\nBYE", "alice's own connection after bob's"
    # root is not alice either
    s = socket.create_connection(("127.0.0.1", ws.port), timeout=10)
    try:
        s.sendall(b"root here")
        s.shutdown(socket.SHUT_WR)
        got = s.recv(100)
    except OSError:  # reset, or shut down already: closed without data either way
        got = b""
    finally:
        s.close()
    assert got == b"", "root got data through alice's forward"
    status, out, err = ws.stop_forward()
    assert status == 0
    assert f"refused a connection from uid {bob.uid}: only uid {alice.uid} may use this forward" in err, err
    assert f"refused a connection from uid 0: only uid {alice.uid}" in err, err


def test_other_users_sandbox_is_not_found(daemon, sbx, ws, users):
    bob = users["bob"]
    # through the daemon's stream operation, exactly as a missing sandbox
    theirs = as_user(daemon, bob, "daemon", 0, ws.name)
    missing = as_user(daemon, bob, "daemon", 0, ws.name + "-missing")
    assert theirs["ok"] is False and theirs["reason"] == "NotFound", theirs
    assert theirs["message"].replace(ws.name, "X") == missing["message"].replace(ws.name + "-missing", "X")
    # and through the CLI
    r = sbx("port-forward", ws.name, "7000", user=bob, timeout=20)
    assert r.returncode != 0 and "not found" in r.stderr.lower(), explain(r)
    # alice asking the daemon herself gets a connected socket
    mine = as_user(daemon, users["alice"], "daemon", 0, ws.name)
    assert mine["ok"] is True, mine


def test_nothing_listening_is_reported_and_the_forward_goes_on(daemon, sbx_popen, ws, users):
    alice = users["alice"]
    ws.stop_forward()
    p = sbx_popen("port-forward", ws.name, f":7999", f":{REMOTE}", user=alice)
    try:
        out = read_until(p, f"-> {REMOTE}\n").decode()
        free = int(re.search(r"127\.0\.0\.1:(\d+) -> 7999", out).group(1))
        good = int(re.search(r"127\.0\.0\.1:(\d+) -> %d" % REMOTE, out).group(1))
        r = as_user(daemon, alice, "probe", free)
        assert r["data"] == ""
        assert as_user(daemon, alice, "once", good, "ok")["reply"] == "ok\nBYE"
    finally:
        p.send_signal(signal.SIGINT)
        status, _, err = finish(p)
    assert status == 0
    assert f"nothing listens on port 7999 in sandbox {ws.name}" in err.decode(), err


def test_sandbox_recreated_under_a_live_forward(daemon, ws, users):
    alice = users["alice"]
    assert as_user(daemon, alice, "once", ws.port, "before")["reply"] == "before\nBYE"
    ws.delete_sandbox()
    r = as_user(daemon, alice, "probe", ws.port)
    assert r["data"] == "", "a deleted sandbox answered"
    assert ws.fwd.poll() is None, "the forward ended with its sandbox"
    ws.start_sandbox()
    assert wait_until(lambda: as_user(daemon, alice, "once", ws.port, "after")["reply"] == "after\nBYE", 20)
    status, _, err = ws.stop_forward()
    assert status == 0
    assert "error forwarding port 7000" in err, err
    daemon.assert_alive()
