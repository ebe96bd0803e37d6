"""sbxlib.py: helpers shared by the e2e tests (imported by conftest.py and the test files).

Two kinds of helpers live here:

* host-side ones: unique sandbox names, polling, reading a child's output up to a marker,
  running a command under a pseudo-terminal, finding the host pid of a sandboxed program by a
  marker in its command line, mapping a process to its cgroup directories;
* PRELUDE, Python source prepended to the small programs the tests run *inside* sandboxes
  (with /usr/bin/python3 of the host image). It gives them raw syscalls through ctypes
  (x86_64 numbers), `attempt(fn)`, which runs one attack in a forked child so a successful
  attack cannot change the process that reports, and `done()`, which prints the results dict
  R as one `SBXRESULT {json}` line that `result_of()` parses on the host.

Results of attempts are "OK" / "OK:<value>" when the operation succeeded, the errno name
("EPERM", "ENOENT", ...) when it raised OSError, or "EXC:<repr>" for anything else, so an
assertion failure shows exactly what the kernel said.
"""

import json
import os
import pty
import secrets
import select
import signal
import struct
import subprocess
import time

PY = "/usr/bin/python3"

# errno names that mean "the sandbox policy refused this": seccomp (EPERM or ENOSYS, as
# Docker's default profile answers), or a missing capability (EPERM, EACCES).
DENIED = frozenset({"EPERM", "EACCES", "ENOSYS"})


def unique_name(what):
    """A DNS-label sandbox name that no other test uses."""
    return f"e2e-{what}-{secrets.token_hex(3)}"


def marker():
    """A token to put in a sandboxed program's command line to find it on the host."""
    return "sbxe2emark" + secrets.token_hex(6)


def wait_until(pred, timeout, interval=0.1):
    """Polls pred() until it is true or timeout seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def explain(r):
    """A readable dump of a CompletedProcess for assertion messages."""
    return (f"\n--- command: {getattr(r, 'args', '?')}\n--- exit status: {r.returncode}"
            f"\n--- stdout:\n{r.stdout}\n--- stderr:\n{r.stderr}")


def read_until(proc, needle, timeout=30):
    """Reads proc.stdout (a binary pipe) until `needle` (bytes) appears; returns all bytes read.
    Fails with what was read (and the child's stderr if it exited) on timeout or EOF."""
    if isinstance(needle, str):
        needle = needle.encode()
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {timeout}s waiting for {needle!r}; "
                                 f"stdout so far: {buf!r}")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            err = b""
            if proc.stderr is not None:
                try:
                    proc.wait(timeout=5)
                    err = proc.stderr.read()
                except subprocess.TimeoutExpired:
                    pass
            raise AssertionError(f"stdout ended before {needle!r} (exit status {proc.poll()}); "
                                 f"stdout: {buf!r}; stderr: {err!r}")
        buf += chunk
    return buf


def finish(proc, timeout=30):
    """Waits for a Popen started by sbx_popen; returns (status, stdout bytes, stderr bytes)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"sbx did not exit within {timeout}s; stdout {out!r} stderr {err!r}")
    return proc.returncode, out, err


def result_of(r):
    """The results dict a sandboxed program printed with done() (last SBXRESULT line)."""
    out = r.stdout if isinstance(r.stdout, str) else r.stdout.decode(errors="replace")
    lines = [l for l in out.splitlines() if l.startswith("SBXRESULT ")]
    assert lines, "the sandboxed program printed no SBXRESULT line" + explain(r)
    return json.loads(lines[-1][len("SBXRESULT "):])


def run_in_pty(argv, env, winsize=None, send=None, send_after=None, timeout=60):
    """Runs argv with a new pseudo-terminal as its stdin/stdout/stderr (like a user's terminal).
    winsize=(rows, cols) is set on that terminal first; `send` (bytes) is typed once
    `send_after` (bytes) has appeared in the output (or at once if send_after is None).
    Returns (exit status as a shell reports it, all output bytes)."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the terminal is fd 0, 1, 2
        try:
            if winsize:
                import fcntl
                import termios
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", winsize[0], winsize[1], 0, 0))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    out = b""
    sent = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            if send is not None and not sent and (send_after is None or send_after in out):
                os.write(fd, send)
                sent = True
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"{argv} under a pty did not finish in {timeout}s; output {out!r}")
            r, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not r:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the last holder of the terminal's other side closed it
                break
            if not chunk:
                break
            out += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    return (128 - code if code < 0 else code), out


def host_pids_with_marker(mark, exe_suffix="python3"):
    """Host pids of `python3 -c CODE` processes whose CODE contains `mark` (so the
    `sbx run ... -- python3 -c CODE` client itself does not match)."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        argv = cmd.split(b"\0")
        if len(argv) > 2 and argv[0].decode(errors="replace").endswith(exe_suffix) \
                and argv[1] == b"-c" and mark.encode() in cmd:
            found.append(int(p))
    return found


def pid_alive(pid):
    """True if the host process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cgroup_mounts():
    """[(fstype, set of super options, mount root, mount point)] of the host's cgroup mounts."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.rstrip("\n").split(" - ", 1)
            fields, tail = pre.split(), post.split()
            if tail[0] in ("cgroup", "cgroup2"):
                out.append((tail[0], set(tail[2].split(",")), fields[3], fields[4]))
    return out


def cgroup_dirs_of(pid):
    """The host directories of every cgroup the process is in, one per hierarchy."""
    mounts = _cgroup_mounts()
    dirs = set()
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            want = set(ctrls.split(",")) if ctrls else None
            for fstype, opts, root, mp in mounts:
                if (want is None and fstype == "cgroup2") or (want and fstype == "cgroup" and want <= opts):
                    if path == root or path.startswith(root.rstrip("/") + "/"):
                        rel = path[len(root.rstrip("/")):] if root != "/" else path
                        dirs.add(os.path.normpath(mp + rel))
                        break
    return dirs


def overlay_dirs_of(pid):
    """upperdir=/workdir= paths of the overlay mounts in the process's mount namespace."""
    dirs = set()
    try:
        with open(f"/proc/{pid}/mountinfo") as f:
            for line in f:
                for opt in line.rstrip("\n").split(" - ", 1)[1].split()[-1].split(","):
                    k, _, v = opt.partition("=")
                    if k in ("upperdir", "workdir") and v:
                        dirs.add(v)
    except OSError:
        pass
    return dirs


def host_mounts_under(prefix):
    """Mount points in the host's (this process's) mount namespace at or below prefix."""
    prefix = str(prefix).rstrip("/")
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == prefix or mp.startswith(prefix + "/"):
                out.append(mp)
    return out


def host_ipv4_addrs():
    """The host's IPv4 addresses outside 127.0.0.0/8."""
    try:
        js = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True,
                                       text=True, timeout=10).stdout or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return []
    return [a["local"] for i in js for a in i.get("addr_info", [])
            if a.get("local") and not a["local"].startswith("127.")]


def sha256(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# The head of a small Python program that speaks HTTP to sbxd's unix socket, for tests that
# run it as a test user (setpriv + python3 -c UNIX_HTTP + "..."): UnixHTTP(socket_path,
# timeout) is an http.client connection over that socket.
UNIX_HTTP = r'''
import http.client, json, socket, sys
class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)
'''


def inside(code, **consts):
    """PRELUDE + `C = {consts}` + code: the source of a program to run in a sandbox with
    `/usr/bin/python3 -c`. The program should fill R and call done()."""
    return PRELUDE + f"C = json.loads({json.dumps(json.dumps(consts))})\n" + code


PRELUDE = r'''
import ctypes, errno, json, os, socket, stat, struct, sys
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# x86_64 system call numbers
NR = dict(mount=165, umount2=166, swapon=167, swapoff=168, reboot=169, settimeofday=164,
          acct=163, pivot_root=155, iopl=172, ioperm=173, init_module=175, delete_module=176,
          syslog=103, mknodat=259, unshare=272, setns=308, keyctl=250, add_key=248,
          request_key=249, bpf=321, perf_event_open=298, userfaultfd=323, io_uring_setup=425,
          finit_module=313, open_by_handle_at=304, kexec_load=246, kexec_file_load=320,
          clone=56, clone3=435, open_tree=428, move_mount=429, fsopen=430, mount_setattr=442)
CLONE = dict(NEWNS=0x00020000, NEWCGROUP=0x02000000, NEWUTS=0x04000000, NEWIPC=0x08000000,
             NEWUSER=0x10000000, NEWPID=0x20000000, NEWNET=0x40000000, NEWTIME=0x00000080)
MS_RDONLY, MS_NOSUID, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 32, 4096, 16384
AT_FDCWD = -100

def _arg(a):
    if a is None:
        return ctypes.c_void_p(0)
    if isinstance(a, int):
        return ctypes.c_long(a)
    if isinstance(a, str):
        return ctypes.c_char_p(a.encode())
    if isinstance(a, bytes):
        return ctypes.c_char_p(a)
    return a  # a ctypes buffer: passed as a pointer

def syscall(name, *args):
    """Raw system call by name; returns its result or raises OSError(errno)."""
    r = _libc.syscall(ctypes.c_long(NR[name]), *[_arg(a) for a in args])
    if r == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r

def ename(e):
    return errno.errorcode.get(e, str(e))

def read_all(fd):
    """Everything a pipe delivers until its writers are gone."""
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return data
        data += chunk

def attempt(fn):
    """Runs fn() in a forked child; "OK"/"OK:<value>", the errno name, or "EXC:<repr>"."""
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError as e:
        return "EXC:fork failed " + ename(e.errno)
    if pid == 0:
        os.close(r)
        try:
            v = fn()
            out = "OK" if v is None else "OK:" + str(v)
        except OSError as e:
            out = ename(e.errno) if e.errno else "EXC:" + repr(e)
        except BaseException as e:
            out = "EXC:" + repr(e)
        os.write(w, out.encode()[:8000])
        os._exit(0)
    os.close(w)
    data = read_all(r)
    os.close(r)
    os.waitpid(pid, 0)
    return data.decode(errors="replace") or "EXC:the child died without a result"

def read_file(path, n=4096):
    with open(path, "rb") as f:
        return f.read(n).decode(errors="replace")

def write_file(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data.encode() if isinstance(data, str) else data)
    finally:
        os.close(fd)

def connect_unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(path)

def connect_tcp(host, port, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, port))
    except socket.timeout:
        return "TIMEOUT"

R = {}

def done():
    print("SBXRESULT " + json.dumps(R), flush=True)
'''
