"""test_port_forward_owner.py: attacks on `sbx port-forward`'s owner check (src/cli/peer_uid.c).

root forwards a port to root's own sandbox, whose service records every byte it receives
(RECORDER prints each connection's bytes) and answers "ok:" + them. bob tries to get bytes
into it, or out of it, through root's forward:

* by closing his connection before the forward looks at it: his socket is then a TIME_WAIT
  minisock, which the kernel reports with uid 0 — root's uid. The forward is stopped
  (SIGSTOP) while bob connects, sends and closes, so the check meets exactly that state; the
  test first sees in /proc/net/tcp{,6} that bob's socket is a minisock with uid 0 and inode 0;
* by resetting it (SO_LINGER 0) before the check;
* by having his port reused: bob sends and closes, then a new connection of root's takes the
  same source port (TIME_WAIT reuse on loopback) before the check, so that a lookup of the
  4-tuple finds root's live socket while bob's bytes sit on the accepted one;
* by racing: hundreds of connect-send-close rounds against the running forward.

Each time bob's marker must never reach the sandbox, bob must never read a byte, the forward
must say it refused him, and root must still be served afterwards. Both loopbacks are
attacked where the host has IPv6.
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess

import pytest

from sbxlib import PY, explain, finish, read_until, wait_until
from test_port_forward import REMOTE, Workspace, tcp_server

RECORDER = tcp_server(r'''
def serve(c):
    data = b""
    try:
        while True:
            d = c.recv(1 << 16)
            if not d:
                break
            data += d
        c.sendall(b"ok:" + data)
    except OSError:
        pass
    finally:
        print("received", repr(data), flush=True)
        c.close()
''')

# bob's side: MODE against [HOST]:PORT with MARKER; prints one JSON line.
BOB = r'''
import json, socket, struct, sys
mode, host, port, mark = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
family = socket.AF_INET6 if ":" in host else socket.AF_INET

def conn():
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # lets a later socket reuse the port
    s.settimeout(30)
    s.connect((host, port))
    return s

out = {}
if mode in ("close", "linger0"):
    s = conn()
    out["port"] = s.getsockname()[1]
    s.sendall(mark)
    if mode == "linger0":  # close with a reset instead of a FIN
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
elif mode == "race":
    received = 0
    for i in range(int(sys.argv[5])):
        s = conn()
        s.sendall(mark)
        if i % 3 == 0:
            s.close()
        elif i % 3 == 1:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        else:  # stay and read what comes back
            try:
                s.shutdown(socket.SHUT_WR)  # ENOTCONN once the forward reset the connection
                while True:
                    d = s.recv(1 << 16)
                    if not d:
                        break
                    received += len(d)
            except OSError:
                pass
            s.close()
    out["received"] = received
print(json.dumps(out), flush=True)
'''


def loopbacks():
    hosts = ["127.0.0.1"]
    if socket.has_ipv6 and os.path.exists("/proc/net/if_inet6"):
        hosts.append("::1")
    return hosts


def bob_does(daemon, bob, mode, host, port, mark, *more):
    r = subprocess.run(["/usr/sbin/runuser", "-u", bob.name, "--", PY, "-c", BOB, mode, host, str(port), mark,
                        *[str(m) for m in more]],
                       capture_output=True, text=True, timeout=300, cwd="/", env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, explain(r)
    return json.loads(r.stdout.strip().splitlines()[-1])


def kernel_entry(host, local_port, remote_port):
    """(state, uid, inode) of the socket local_port -> remote_port in /proc/net/tcp{,6}."""
    with open("/proc/net/tcp6" if ":" in host else "/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            lp, rp = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
            if lp == local_port and rp == remote_port:
                return int(fields[3], 16), int(fields[7]), int(fields[9])
    return None


def is_minisock(entry):
    """The entry (or None) when it is a TIME_WAIT minisock: state FIN_WAIT2 or TIME_WAIT, no inode."""
    return entry if entry and entry[0] in (5, 6) and entry[2] == 0 else None


def exchange(s, payload):
    """Sends payload on the connected socket s, shuts its write half, returns all that comes back."""
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    return b"".join(iter(lambda: s.recv(1 << 16), b""))


def round_trip(host, port, payload):
    with socket.create_connection((host, port), timeout=60) as s:
        return exchange(s, payload)


class RootForward:
    """root's sandbox running RECORDER and root's forward to it."""

    def __init__(self, daemon, sbx, sbx_popen):
        self.ws = Workspace(daemon, sbx, sbx_popen, None, program=RECORDER)
        self.ws.start_sandbox()
        out = self.ws.start_forward()
        self.port = self.ws.port
        for host in loopbacks():
            shown = f"[{host}]" if ":" in host else host
            assert f"Forwarding from {shown}:{self.port} -> {REMOTE}\n" in out, out
        self.served = 0

    def serve_root(self, host, payload):
        got = round_trip(host, self.port, payload)
        assert got == b"ok:" + payload, f"root's own connection through [{host}]:{self.port}: {got!r}"
        self.served += 1

    def finish(self):
        """Stops the forward and the sandbox; returns (forward's stdout, its stderr, what the
        sandbox's service received), and checks root was served exactly self.served times."""
        assert self.ws.fwd.poll() is None, "the forward ended"
        status, out, err = self.ws.stop_forward()
        assert status == 0, err
        r = self.ws.sbx("delete", "sandbox", self.ws.name)
        assert r.returncode == 0, explain(r)
        _, received, _ = finish(self.ws.run)
        self.ws.run = None
        handled = out.count(f"Handling connection for {self.port}")
        assert handled == self.served, f"the forward served {handled} connections, root made {self.served}:\n{err}"
        return out, err, received.decode(errors="replace")

    def close(self):
        self.ws.close()


@pytest.fixture
def root_fwd(daemon, sbx, sbx_popen):
    f = RootForward(daemon, sbx, sbx_popen)
    yield f
    f.close()


@pytest.mark.parametrize("host", loopbacks())
def test_closed_and_reset_peers_are_not_taken_for_root(daemon, root_fwd, users, host):
    bob = users["bob"]
    mark = "BOB-MARK-" + secrets.token_hex(6)
    fwd = root_fwd.ws.fwd
    os.kill(fwd.pid, signal.SIGSTOP)
    try:
        closed = bob_does(daemon, bob, "close", host, root_fwd.port, mark)
        # the kernel's view once our side has acknowledged bob's FIN: his end is a minisock
        # (FIN_WAIT2 or TIME_WAIT) with uid 0 and no inode, what the forward will be told
        entry = wait_until(lambda: is_minisock(kernel_entry(host, closed["port"], root_fwd.port)), 30)
        assert entry and entry[1] == 0, f"bob's closed socket is not a minisock with uid 0: {entry}"
        bob_does(daemon, bob, "linger0", host, root_fwd.port, mark)
    finally:
        os.kill(fwd.pid, signal.SIGCONT)
    # the forward takes its queue in order: bob's two, then root's
    root_fwd.serve_root(host, b"root after bob")
    out, err, received = root_fwd.finish()
    assert mark not in received, f"bob's bytes reached root's sandbox:\n{received}\nforward's stderr:\n{err}"
    assert "root after bob" in received
    refusals = re.findall(rf"refused a connection to port {root_fwd.port} from an unknown owner \(([^)]*)\)", err)
    assert len(refusals) == 2, err
    assert any("closed" in r or "state" in r for r in refusals), err


@pytest.mark.parametrize("host", loopbacks())
def test_a_reused_port_does_not_lend_roots_uid_to_bob(daemon, root_fwd, users, host):
    bob = users["bob"]
    mark = "BOB-MARK-" + secrets.token_hex(6)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    fwd = root_fwd.ws.fwd
    os.kill(fwd.pid, signal.SIGSTOP)
    mine = socket.socket(family, socket.SOCK_STREAM)
    try:
        closed = bob_does(daemon, bob, "close", host, root_fwd.port, mark)
        assert wait_until(lambda: is_minisock(kernel_entry(host, closed["port"], root_fwd.port)), 30)
        # root's next connection comes from bob's old port: TIME_WAIT reuse on loopback. Its
        # SYN first meets the accepted socket bob left (which is reset by it), then the
        # listener: root's socket is ESTABLISHED on the very 4-tuple of bob's queued bytes.
        mine.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        mine.bind((host, closed["port"]))
        mine.settimeout(60)
        mine.connect((host, root_fwd.port))
        entry = kernel_entry(host, closed["port"], root_fwd.port)
        assert entry and entry[0] == 1 and entry[1] == 0 and entry[2] != 0, entry
    finally:
        os.kill(fwd.pid, signal.SIGCONT)
    with mine:
        assert exchange(mine, b"root on a reused port") == b"ok:root on a reused port"
    root_fwd.served += 1
    out, err, received = root_fwd.finish()
    assert mark not in received, f"bob's bytes reached root's sandbox:\n{received}\nforward's stderr:\n{err}"
    assert f"refused a connection to port {root_fwd.port} from an unknown owner" in err, err


@pytest.mark.parametrize("host", loopbacks())
def test_connect_close_race_never_gets_through(daemon, root_fwd, users, host):
    bob = users["bob"]
    mark = "BOB-MARK-" + secrets.token_hex(6)
    r = bob_does(daemon, bob, "race", host, root_fwd.port, mark, 300)
    assert r["received"] == 0, f"bob read {r['received']} bytes through root's forward"
    root_fwd.serve_root(host, b"root after the race")
    out, err, received = root_fwd.finish()
    assert mark not in received, f"bob's bytes reached root's sandbox:\n{received}\nforward's stderr:\n{err}"
    assert f"refused a connection from uid {bob.uid}: only uid 0 may use this forward" in err, err


DUAL_STACK = r'''
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.settimeout(30)
s.connect(("::ffff:127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode())
got = b""
try:
    s.shutdown(socket.SHUT_WR)
    while (d := s.recv(65536)):
        got += d
except OSError:
    pass
print(repr(got))
'''


def test_a_dual_stack_client_is_judged_by_its_owner(daemon, sbx, sbx_popen, users):
    """An IPv6 socket connected to 127.0.0.1 (v4-mapped) is the same IPv4 connection: its
    owner is found (the kernel reports its addresses v4-mapped), served or refused as such."""
    alice, bob = users["alice"], users["bob"]
    ws = Workspace(daemon, sbx, sbx_popen, alice)
    try:
        ws.start_sandbox()
        ws.start_forward()
        for user, want in ((alice, b"dual stack\nBYE"), (bob, b"")):
            r = subprocess.run(["/usr/sbin/runuser", "-u", user.name, "--", PY, "-c", DUAL_STACK, str(ws.port),
                                "dual stack"], capture_output=True, text=True, timeout=60, cwd="/")
            assert r.returncode == 0, explain(r)
            assert r.stdout.strip() == repr(want), (user.name, explain(r))
        status, out, err = ws.stop_forward()
        assert status == 0
        assert out.count("Handling connection") == 1, (out, err)
        assert f"refused a connection from uid {bob.uid}: only uid {alice.uid}" in err, err
    finally:
        ws.close()
