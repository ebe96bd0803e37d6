"""podshim.py: starting sbx-shim in pod mode by hand, for tests/e2e/test_pod_shim.py.

The daemon normally builds the pod spec and the shim's descriptors; here a test writes the
spec itself and `PodShim` lays out the descriptors as sbxd's supervise.c does: fd 3 the
spec, 4 /dev/null (no client), 5 sbx-init in a sealed memfd, 6 the compiled seccomp
filter (made by the test-only sbx-test-prep), 7 the host image's rootfs directory, 8+ the
volume directories. The cgroup parent is sbx-test-<pid>, so nothing else is touched.
It also speaks the exec socket's protocol (wire frames: a host-order uint32 length, JSON,
descriptors as SCM_RIGHTS)."""

import array
import fcntl
import json
import os
import secrets
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

F_ADD_SEALS = 1033
SEALS = 0x1 | 0x2 | 0x4 | 0x8  # SEAL, SHRINK, GROW, WRITE
CGROUP_PARENT = f"sbx-test-{os.getpid()}"


def sealed_memfd(name, data):
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    os.fchmod(fd, 0o555)
    fcntl.fcntl(fd, F_ADD_SEALS, SEALS)
    return fd


class Prepared:
    """What every pod of a session shares: the host image, sbx-init, the seccomp filter."""

    def __init__(self, build, tmp):
        self.build = build
        self.tmp = tmp
        prep = build / "tests" / "unit" / "sbx-test-prep"
        subprocess.run([str(prep), "host-image", str(tmp / "hostimg")], check=True)
        subprocess.run([str(prep), "seccomp", str(tmp / "seccomp.bpf")], check=True)
        self.image = tmp / "hostimg" / "rootfs"
        self.init_bytes = (build / "sbx-init").read_bytes()
        self.seccomp_bytes = (tmp / "seccomp.bpf").read_bytes()


def wire_send(sock, obj, fds=()):
    body = json.dumps(obj).encode()
    msg = struct.pack("=I", len(body)) + body
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    sock.sendmsg([msg], anc)


def wire_recv(sock, timeout=30):
    """One frame: (obj, [fds]); (None, []) at end of stream."""
    sock.settimeout(timeout)
    fds = array.array("i")
    head, anc, _, _ = sock.recvmsg(4, socket.CMSG_SPACE(32 * 4))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % 4])
    if len(head) < 4:
        return None, []
    (n,) = struct.unpack("=I", head)
    body = b""
    while len(body) < n:
        chunk, anc, _, _ = sock.recvmsg(n - len(body), socket.CMSG_SPACE(32 * 4))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % 4])
        if not chunk:
            break
        body += chunk
    return json.loads(body), list(fds)


def container(name, command, **kw):
    c = {"name": name, "image": {"type": "host", "fd": 7}, "imageOwnerMap": False, "command": command,
         "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
         "workingDir": "/", "uid": 0, "gid": 0, "supplementalGroups": [], "readOnlyRootFilesystem": False,
         "noNewPrivileges": True,
         "capabilities": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                          "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
                          "CAP_SYS_CHROOT"],
         "mounts": [], "ephemeralBytes": 0, "tty": False, "stdin": False}
    c.update(kw)
    return c


class PodShim:
    def __init__(self, prepared, containers, init_containers=(), volumes=(), restart_policy="Always", grace=5,
                 limits=None, name="pod"):
        self.p = prepared
        self.id = "p" + secrets.token_hex(8)
        self.root = prepared.tmp / self.id
        self.state = self.root / "state"
        self.state.mkdir(parents=True, mode=0o700)
        self.volume_dirs = {}
        vols = []
        for i, v in enumerate(volumes):
            d = self.root / "vol" / v
            d.mkdir(parents=True)
            self.volume_dirs[v] = d
            vols.append({"name": v, "fd": 8 + i, "readOnly": False, "idmap": True})
        slot = secrets.randbelow(8000)
        self.spec = {
            "mode": "pod", "id": self.id, "name": name, "namespace": "default", "hostname": name,
            "stateDir": str(self.state), "hostIdBase": 1073741824 + (8000 + slot) * 65536, "idCount": 65536,
            "ownerUid": 0, "ownerGid": 0, "cgroupParent": CGROUP_PARENT,
            "limits": limits or {"cpuRequestMilli": 0, "cpuLimitMilli": 0, "memoryLimit": 0, "pids": 1024},
            "restartPolicy": restart_policy, "terminationGracePeriodSeconds": grace,
            "volumes": vols, "initContainers": list(init_containers), "containers": list(containers)}
        self.proc = None
        self.stderr_path = self.root / "shim.stderr"

    def start(self):
        spec = os.memfd_create("spec", os.MFD_CLOEXEC)
        os.write(spec, json.dumps(self.spec).encode())
        srcs = [spec, os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC),
                sealed_memfd("sbx-init", self.p.init_bytes), sealed_memfd("sbx-seccomp", self.p.seccomp_bytes),
                os.open(self.p.image, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)]
        srcs += [os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) for d in self.volume_dirs.values()]
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 200) for fd in srcs]
        for fd in srcs:
            os.close(fd)

        def place():
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)

        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([str(self.p.build / "sbx-shim"), self.id], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, close_fds=False,
                                         preexec_fn=place, start_new_session=True)
        for fd in high:
            os.close(fd)
        return self

    # -- looking at it --------------------------------------------------------------------
    def status(self):
        try:
            return json.loads((self.state / "status.json").read_text())
        except (OSError, ValueError):
            return None

    def cstatus(self, name):
        st = self.status() or {}
        for s in st.get("initContainerStatuses", []) + st.get("containerStatuses", []):
            if s["name"] == name:
                return s
        return None

    def log(self, name, previous=False):
        try:
            return (self.state / "logs" / f"{name}{'.previous' if previous else ''}.log").read_text(errors="replace")
        except OSError:
            return ""

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def cgroup_dirs(self):
        """Every directory of the pod's cgroup that exists, in any hierarchy."""
        out = []
        base = Path("/sys/fs/cgroup")
        for h in base.iterdir():
            d = h / CGROUP_PARENT / self.id
            if d.exists():
                out.append(d)
        return out

    # -- exec -----------------------------------------------------------------------------
    def exec(self, command, container=None, env=(), tty=False, stdin=False, magic=False):
        """Runs command in a container through exec.sock; returns (started, stdout, stderr, exit)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(self.state / "exec.sock"))
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        req = {"op": "exec", "command": command, "tty": tty, "stdin": stdin, "env": list(env)}
        if container:
            req["container"] = container
        if magic:
            s.sendall(b"\0SBX")
        wire_send(s, req, [theirs.fileno()])
        theirs.close()
        ack, _ = wire_recv(s)
        s.close()
        started, fds = wire_recv(mine)
        out = err = b""
        if started and started.get("type") == "started" and tty and len(fds) == 1:
            chunks = []
            while True:
                try:
                    b = os.read(fds[0], 65536)
                except OSError:  # EIO: the last holder of the terminal's other side is gone
                    break
                if not b:
                    break
                chunks.append(b)
            os.close(fds[0])
            out = b"".join(chunks)
        elif started and started.get("type") == "started" and len(fds) >= 2:
            for fd, which in ((fds[-2], "out"), (fds[-1], "err")):
                chunks = []
                while True:
                    b = os.read(fd, 65536)
                    if not b:
                        break
                    chunks.append(b)
                os.close(fd)
                if which == "out":
                    out = b"".join(chunks)
                else:
                    err = b"".join(chunks)
            for fd in fds[:-2]:
                os.close(fd)
        exit_msg, _ = wire_recv(mine) if started and started.get("type") == "started" else (started, [])
        mine.close()
        return ack, out.decode(errors="replace"), err.decode(errors="replace"), exit_msg

    # -- stopping -------------------------------------------------------------------------
    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None
