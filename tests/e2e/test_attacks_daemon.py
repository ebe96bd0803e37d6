"""test_attacks_daemon.py: one user cannot starve the daemon's socket for the others.

The hole (docs/security.md): a stream frame that carried descriptors and never
sent its body was held forever, 33 descriptors a connection; past 1024 descriptors
libmicrohttpd's select() served no one; a 4 MiB JSON frame or body of `[0,0,...]` cost sbxd
about 27 times its size to parse, 64 at once gigabytes.

Each attack runs as the real user sbxtest-bob, from a small program that holds its
connections open (it prints "ready" when they are in place and lets go at the end of its
input), while sbxtest-alice and root must still be served: `sbx get` over the stream
protocol and GET /version over HTTP must answer (the generous timeouts are liveness bounds,
not timings). Afterwards sbxd is alive, its memory grew within a correctness bound
(VmHWM, 256 MiB), and its output has no sanitizer report.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import _running_daemon, sanitizer_reports
from sbxlib import UNIX_HTTP, explain, wait_until

SHARE_CONNS, SHARE_FDS = 64, 128  # sbxd's defaults (api.h)
FRAME_TIMEOUT_S = 10              # server.c: a request frame must arrive within this
RSS_BOUND = 256 << 20             # how much sbxd's peak memory may grow under the attacks
ASAN_QUARANTINE = 256 << 20       # what AddressSanitizer keeps of freed memory, on top, in its builds

# The attacker: MODE and N from argv; opens N connections at once and prints
# "ready <opened> <answered>" (answered: the daemon has answered or closed it), then holds
# them until the end of stdin and prints "done <answered>".
ATTACKER = r'''
import array, os, select, socket, struct, sys, threading, time
sock_path, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
conns = []
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    return s
def silent_stream_with_fds(s):
    # the magic, a header announcing 100 bytes with 32 descriptors attached, and no body
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(32)]
    s.sendall(b"\0SBX")
    s.sendmsg([struct.pack("=I", 100)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    for fd in fds:
        os.close(fd)
def idle_http(s):
    s.sendall(b"GET /version HTTP/1.1\r\nHost: sbx\r\n")  # headers never end
def big_frame(s):
    body = b'{"op":"api","method":"GET","path":"/version","pad":[' + b"0," * (2 * 1024 * 1024 - 40) + b"0]}"
    s.sendall(b"\0SBX" + struct.pack("=I", len(body)) + body)
def big_body(s):
    body = b"[" + b"0," * (2 * 1024 * 1024 - 1) + b"0]"
    s.sendall(b"POST /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: sbx\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
def deep_frame(s):
    body = b'{"op":"api","x":' + b"[" * 100000 + b"]" * 100000 + b"}"
    s.sendall(b"\0SBX" + struct.pack("=I", len(body)) + body)
def deep_body(s):
    body = b"[" * 100000 + b"]" * 100000
    s.sendall(b"POST /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: sbx\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
def slow_headers(s):
    s.sendall(b"G")
start = {"silent-stream": silent_stream_with_fds, "idle-http": idle_http, "big-frame": big_frame,
         "big-body": big_body, "deep-frame": deep_frame, "deep-body": deep_body, "slowloris": slow_headers}[mode]
lock = threading.Lock()
def one():
    try:
        s = connect()
    except OSError:
        return
    with lock:
        conns.append(s)
    try:
        start(s)
    except OSError:
        pass  # refused in the middle: the daemon closed it
# all at once: the big ones are parsed concurrently
threads = [threading.Thread(target=one) for _ in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
def answered():
    """connections the daemon has answered or closed"""
    p = select.poll()
    for s in conns:
        p.register(s, select.POLLIN)
    return len(p.poll(0))
print("ready", len(conns), answered(), flush=True)
if mode == "slowloris":
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:  # one more header byte a second: never idle
        for s in conns:
            try:
                s.send(b"E")
            except OSError:
                pass
        time.sleep(1)
sys.stdin.read()
print("done", answered(), flush=True)
'''


class Attack:
    """ATTACKER as `user`: held until finish()."""

    def __init__(self, daemon, user, mode, n):
        argv = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--",
                sys.executable, "-c", ATTACKER, str(daemon.sock), mode, str(n)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd="/")
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "ready", self.proc.stderr.read()
        self.opened, self.answered_at_start = int(line[1]), int(line[2])

    def finish(self):
        out, err = self.proc.communicate("", timeout=120)
        assert self.proc.returncode == 0, err
        return int(out.split()[-1])


def sbxd_status(daemon, key):
    for line in open(f"/proc/{daemon.proc.pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} for sbxd")


def sbxd_fds(daemon):
    return len(os.listdir(f"/proc/{daemon.proc.pid}/fd"))


HTTP_GET = UNIX_HTTP + r'''
c = UnixHTTP(sys.argv[1], timeout=60)
c.request("GET", sys.argv[2])
r = c.getresponse()
print(r.status, r.read().decode())
'''


def served(daemon, users):
    """alice (stream and HTTP) and root (stream) are answered."""
    alice = users["alice"]
    r = daemon.run("get", "sandboxes", user=alice, timeout=60)
    assert r.returncode == 0, explain(r)
    r = subprocess.run(["setpriv", f"--reuid={alice.uid}", f"--regid={alice.gid}", "--init-groups", "--",
                        sys.executable, "-c", HTTP_GET, str(daemon.sock), "/version"],
                       capture_output=True, text=True, timeout=90, cwd="/")
    assert r.returncode == 0 and r.stdout.startswith("200 ") and "gitVersion" in r.stdout, explain(r)
    r = daemon.run("version", timeout=60)
    assert r.returncode == 0, explain(r)


def no_sanitizer_report(daemon):
    assert not sanitizer_reports(daemon.stderr_text()), daemon.stderr_text()[-20000:]


def test_silent_stream_frames_with_descriptors_are_dropped(daemon, users):
    """80 stream connections from bob, each a header with 32 descriptors and no body: his
    share of descriptors is refused past SHARE_FDS, each connection is dropped at its frame
    deadline, and alice and root are served meanwhile."""
    fds_before = sbxd_fds(daemon)
    a = Attack(daemon, users["bob"], "silent-stream", SHARE_CONNS + 16)
    try:
        served(daemon, users)
        held = sbxd_fds(daemon) - fds_before
        # at most his connections and his share of descriptors: never 33 a connection
        assert held <= SHARE_CONNS + SHARE_FDS + 16, f"sbxd holds {held} more descriptors"
        # every connection is answered and closed at its deadline, none held forever
        time.sleep(FRAME_TIMEOUT_S + 5)
    finally:
        answered = a.finish()
    assert answered == a.opened, f"{a.opened - answered} of bob's silent connections still held"
    assert wait_until(lambda: sbxd_fds(daemon) <= fds_before + 8, 30), f"{sbxd_fds(daemon)} vs {fds_before}"
    daemon.assert_alive()
    no_sanitizer_report(daemon)


def refused_past_the_share(daemon, users, mode, n):
    """bob's n connections of `mode`: his share is held, everything past it closed by sbxd,
    and the others are served meanwhile."""
    a = Attack(daemon, users["bob"], mode, n)
    try:
        served(daemon, users)
    finally:
        refused = a.finish()
    assert refused >= a.opened - SHARE_CONNS, f"past his share, only {refused} of {a.opened} were refused"
    daemon.assert_alive()
    no_sanitizer_report(daemon)


def test_idle_http_connections_past_the_share_are_refused(daemon, users):
    refused_past_the_share(daemon, users, "idle-http", 1100)


@pytest.fixture
def roomy_daemon():
    """A private sbxd that lets each user hold 2000 connections: enough for bob alone to
    push its descriptors past 1024, where select() stops working."""
    yield from _running_daemon(["--max-connections-per-user", "2000"])


def test_http_is_served_past_1024_descriptors(roomy_daemon, users):
    a = Attack(roomy_daemon, users["bob"], "idle-http", 1100)
    try:
        assert a.opened == 1100 and a.answered_at_start == 0
        assert wait_until(lambda: sbxd_fds(roomy_daemon) > 1100, 60), f"sbxd has {sbxd_fds(roomy_daemon)} descriptors"
        served(roomy_daemon, users)
    finally:
        a.finish()
    roomy_daemon.assert_alive()
    no_sanitizer_report(roomy_daemon)


@pytest.mark.parametrize("mode", ["big-frame", "big-body"])
def test_many_large_json_requests_stay_within_memory(daemon, users, mode):
    """64 requests of 4 MiB of `[0,0,...]` at once, as stream frames or HTTP bodies: refused
    within bob's share, and sbxd's peak memory stays bounded."""
    base = sbxd_status(daemon, "VmRSS")
    hwm_before = sbxd_status(daemon, "VmHWM")
    a = Attack(daemon, users["bob"], mode, SHARE_CONNS)
    try:
        served(daemon, users)
    finally:
        a.finish()
    peak = max(sbxd_status(daemon, "VmHWM"), hwm_before)
    bound = RSS_BOUND + (ASAN_QUARANTINE if b"__asan_init" in (daemon.build / "sbxd").read_bytes() else 0)
    assert peak - base <= bound, f"sbxd grew from {base >> 20} MiB to a peak of {peak >> 20} MiB"
    daemon.assert_alive()
    no_sanitizer_report(daemon)


@pytest.mark.parametrize("mode", ["deep-frame", "deep-body"])
def test_deep_nesting_is_refused(daemon, users, mode):
    a = Attack(daemon, users["bob"], mode, 8)
    try:
        served(daemon, users)
    finally:
        answered = a.finish()
    assert answered == a.opened, f"{a.opened - answered} of {a.opened} not answered"
    daemon.assert_alive()
    no_sanitizer_report(daemon)


def test_slowloris_headers_take_only_their_senders_share(daemon, users):
    refused_past_the_share(daemon, users, "slowloris", SHARE_CONNS + 36)
