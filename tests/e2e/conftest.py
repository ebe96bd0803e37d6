"""conftest.py: fixtures of the sbx end-to-end suite.

The suite drives the real programs of one build directory ($SBX_BUILD, default ./build at the
repository root: sbxd, sbx, sbx-shim, sbx-init) the way users do:

* `daemon` (session): a private sbxd started with `--root TMP/root --socket TMP/sbx.sock`,
  TMP a fresh directory under /tmp made 0755 so that the test users can reach the socket
  (the daemon makes the socket itself 0666). The CLI is copied to TMP/bin/sbx for the same
  reason. It is ready when `sbx version` answers (10 s at most). At the end every sandbox
  still known to it is deleted, it gets SIGTERM (then SIGKILL), and its stdout/stderr are
  searched for AddressSanitizer/UBSan reports: any report, or a daemon that died during the
  session, fails the run.
* `sbx` (session): `sbx(*args, user=None, input=None, timeout=60, stdin=None, text=True)` runs
  the CLI with SBX_SOCKET set and returns a CompletedProcess; `user` ("alice", "bob" or a
  User) runs it as that unix user via `setpriv --reuid --regid --init-groups`.
  `sbx_popen(*args, user=None)` is the same as a Popen (binary pipes) for tests that signal
  or kill the client while it runs.
* `users` (session): real unix users sbxtest-alice and sbxtest-bob (created with useradd if
  missing), each home 0700 with a secret canary file (0600) the sandboxes must never see.
* `host_canary` (session): a secret file in the host's /root.
"""

import dataclasses
import http.client
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from sbxlib import host_mounts_under

REPO = Path(__file__).resolve().parents[2]
BINARIES = ("sbxd", "sbx", "sbx-shim", "sbx-init")
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
TEST_USERS = {"alice": "sbxtest-alice", "bob": "sbxtest-bob"}
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def build_dir():
    b = Path(os.environ.get("SBX_BUILD", "build"))
    return b if b.is_absolute() else REPO / b


@dataclasses.dataclass
class User:
    name: str
    uid: int
    gid: int
    home: Path
    canary: Path
    secret: str


def sanitizer_reports(text):
    return [p for p in SANITIZER_PATTERNS if p in text]


class _UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over the daemon's unix socket (used only to clean up at the end)."""

    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self._path)


class Daemon:
    """One private sbxd and the helpers that run the CLI against it."""

    def __init__(self, build, tmp, extra_args=()):
        self.extra_args = list(extra_args)
        self.killed_on_purpose = False
        self.build = build
        self.tmp = tmp
        self.root = tmp / "root"
        self.sock = tmp / "sbx.sock"
        self.cli = tmp / "bin" / "sbx"
        self.proc = None
        self.log_out = tmp / "sbxd.stdout"
        self.log_err = tmp / "sbxd.stderr"

    # -- environment and argv -------------------------------------------------------------
    def env(self, user=None):
        env = {
            "PATH": SEARCH_PATH,
            "LANG": "C.UTF-8",
            "SBX_SOCKET": str(self.sock),
            # Sanitizer builds: report and go on, so the whole report reaches the log.
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=0",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=0",
            # Must never be visible inside a sandbox (tests check it).
            "SBX_E2E_HOST_ONLY": "host-environment-must-not-leak",
            "HOME": "/root",
            "USER": "root",
        }
        if user is not None:
            env.update(HOME=str(user.home), USER=user.name, LOGNAME=user.name)
        return env

    def argv(self, args, user=None):
        cmd = [str(self.cli), *[str(a) for a in args]]
        if user is None:
            return cmd
        return ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--", *cmd]

    # -- running the CLI ------------------------------------------------------------------
    def run(self, *args, user=None, input=None, timeout=60, stdin=None, text=True):
        user = self._user(user)
        if input is not None and stdin is not None:
            raise ValueError("give input or stdin, not both")
        if input is not None and text and isinstance(input, bytes):
            input = input.decode()
        r = subprocess.run(
            self.argv(args, user), env=self.env(user), input=input,
            stdin=stdin if stdin is not None else (None if input is not None else subprocess.DEVNULL),
            capture_output=True, timeout=timeout, cwd=str(user.home) if user else "/",
            text=text, errors="replace" if text else None)
        err = r.stderr if text else r.stderr.decode(errors="replace")
        if sanitizer_reports(err):
            pytest.fail(f"sanitizer report from the sbx CLI ({args}):\n{err}", pytrace=False)
        return r

    def popen(self, *args, user=None, stdin=subprocess.DEVNULL, **kw):
        user = self._user(user)
        return subprocess.Popen(self.argv(args, user), env=self.env(user), stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=str(user.home) if user else "/", **kw)

    def _user(self, user):
        if user is None or isinstance(user, User):
            return user
        name = TEST_USERS.get(user, user)
        pw = pwd.getpwnam(name)
        return User(name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir), Path(pw.pw_dir) / "secret.txt", "")

    # -- checks ---------------------------------------------------------------------------
    def answers(self):
        try:
            return self.run("version", timeout=5).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def assert_alive(self):
        """The daemon process is still there and still answers `sbx version` and `sbx ps`."""
        assert self.proc.poll() is None, f"sbxd died (status {self.proc.returncode}); stderr:\n{self.stderr_text()}"
        v = self.run("version", timeout=15)
        assert v.returncode == 0, f"sbxd no longer answers `sbx version`: {v.stderr}"
        ps = self.run("ps", timeout=15)
        assert ps.returncode == 0, f"sbxd no longer answers `sbx ps`: {ps.stderr}"

    def stderr_text(self):
        out = []
        for p in (self.log_out, self.log_err):
            try:
                out.append(p.read_text(errors="replace"))
            except OSError:
                pass
        return "\n".join(out)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self):
        self.root.mkdir(mode=0o700, exist_ok=True)
        env = self.env()
        with open(self.log_out, "wb") as out, open(self.log_err, "wb") as err:
            self.proc = subprocess.Popen(
                [str(self.build / "sbxd"), "--root", str(self.root), "--socket", str(self.sock),
                 *self.extra_args],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd="/",
                start_new_session=True)
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.proc.poll() is not None:
                pytest.fail(f"sbxd exited at start with status {self.proc.returncode}:\n"
                            f"{self.stderr_text()}", pytrace=False)
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"sbxd did not answer `sbx version` on {self.sock} within 10 s:\n"
                            f"{self.stderr_text()}", pytrace=False)
            time.sleep(0.1)

    def kill9(self):
        """SIGKILL the daemon alone (its sandboxes live on), as a crash would."""
        self.killed_on_purpose = True
        self.proc.kill()
        self.proc.wait(timeout=10)

    def restart(self):
        """Start the daemon again on the same state (after kill9)."""
        self.start()

    def delete_everything(self):
        """Best effort: deletes every sandbox the daemon still knows (sandboxes outlive the
        daemon by design, so they must be removed before it is stopped), each as its owner:
        only an object's owner may delete it, root included."""
        try:
            c = _UnixHTTPConnection(str(self.sock))
            c.request("GET", "/apis/agents.x-k8s.io/v1alpha1/sandboxes?allUsers=true")
            items = json.loads(c.getresponse().read() or b"{}").get("items") or []
        except (OSError, ValueError, http.client.HTTPException):
            return
        for it in items:
            md = it.get("metadata", {})
            ns, name = md.get("namespace", "default"), md.get("name")
            owner = (md.get("annotations") or {}).get("sbx.x-k8s.io/owner-uid", "0")
            if not name:
                continue
            try:
                user = None if owner == "0" else self._user(pwd.getpwuid(int(owner)).pw_name)
                self.run("delete", "sandbox", name, "-n", ns, user=user, timeout=60)
            except (KeyError, ValueError, OSError, subprocess.TimeoutExpired):
                pass

    def stop(self):
        """Stops the daemon; returns the problems found (died early, sanitizer reports)."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is not None:
            problems.append(f"sbxd died during the session with status {self.proc.returncode}")
        else:
            self.delete_everything()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                problems.append("sbxd did not exit within 10 s of SIGTERM; killed it")
                self.proc.kill()
                self.proc.wait(timeout=10)
        text = self.stderr_text()
        found = sanitizer_reports(text)
        if found:
            problems.append(f"sanitizer reports in sbxd's output ({', '.join(found)})")
        if problems:
            problems.append("sbxd's output:\n" + text[-20000:])
        return problems

    def remove_tmp(self):
        if os.environ.get("SBX_E2E_KEEP"):
            print(f"\nsbx e2e: keeping {self.tmp} (SBX_E2E_KEEP is set)")
            return
        # Never recurse into something still mounted under the state dir: a bind mount of a
        # user's directory there would be deleted with it.
        for mp in sorted(host_mounts_under(self.tmp), key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        left = host_mounts_under(self.tmp)
        if left:
            print(f"\nsbx e2e: NOT removing {self.tmp}: still mounted there: {left}")
            return
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.tmp)], capture_output=True)


SHARED_DATA = Path("/tmp/sbx-e2e-shared-data")


def _running_daemon(extra_args=()):
    """A started private sbxd (allowing hostPath mounts of SHARED_DATA, like an
    administrator's data lake, and given extra_args); a generator that yields it and, at the
    end, stops it (first starting it again if a test killed it), removes its state and
    reports its problems."""
    build = build_dir()
    missing = [n for n in BINARIES if not os.access(build / n, os.X_OK)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found in {build}: build first "
                    f"(meson setup build && ninja -C build) or set SBX_BUILD", pytrace=False)
    SHARED_DATA.mkdir(mode=0o755, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="sbx-e2e-", dir="/tmp"))
    os.chmod(tmp, 0o755)
    (tmp / "bin").mkdir(mode=0o755)
    shutil.copy2(build / "sbx", tmp / "bin" / "sbx")
    os.chmod(tmp / "bin" / "sbx", 0o755)
    d = Daemon(build, tmp, ["--allow-host-path", str(SHARED_DATA), *extra_args])
    try:
        d.start()
    except BaseException:
        d.stop()
        d.remove_tmp()
        raise
    try:
        yield d
    finally:
        if d.proc is not None and d.proc.poll() is not None and d.killed_on_purpose:
            d.start()  # killed by the test and not restarted: bring it back to clean up
        problems = d.stop()
        d.remove_tmp()
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def daemon():
    if os.geteuid() != 0:
        pytest.exit("the e2e suite runs as root (it starts sbxd and creates test users)", returncode=2)
    yield from _running_daemon()


@pytest.fixture
def own_daemon():
    """A private sbxd for one test, which the test may kill and restart (kill9/restart)."""
    yield from _running_daemon()


@pytest.fixture(scope="session")
def sbx(daemon):
    return daemon.run


@pytest.fixture(scope="session")
def sbx_popen(daemon):
    return daemon.popen


@pytest.fixture(scope="session")
def users():
    out = {}
    for short, name in TEST_USERS.items():
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "-m", "-U", "-s", "/bin/bash", name], check=True,
                           capture_output=True)
            pw = pwd.getpwnam(name)
        home = Path(pw.pw_dir)
        home.mkdir(exist_ok=True)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        os.chmod(home, 0o700)
        secret = f"{short}-secret-{secrets.token_hex(16)}"
        canary = home / "secret.txt"
        canary.write_text(secret + "\n")
        os.chown(canary, pw.pw_uid, pw.pw_gid)
        os.chmod(canary, 0o600)
        out[short] = User(name, pw.pw_uid, pw.pw_gid, home, canary, secret)
    yield out


@pytest.fixture(scope="session")
def host_canary():
    """A secret file in the host's /root, removed at the end."""
    secret = f"root-secret-{secrets.token_hex(16)}"
    path = Path("/root") / f"sbx-e2e-canary-{secrets.token_hex(4)}.txt"
    path.write_text(secret + "\n")
    os.chmod(path, 0o600)
    yield User("root", 0, 0, Path("/root"), path, secret)
    path.unlink(missing_ok=True)


@pytest.fixture
def scratch(daemon):
    """A fresh host directory (0755, root's) under the daemon's TMP, for test fixtures such
    as programs or files to mount into a sandbox."""
    p = Path(tempfile.mkdtemp(prefix="scratch-", dir=daemon.tmp))
    os.chmod(p, 0o755)
    return p
