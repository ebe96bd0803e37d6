"""test_run.py: the behaviour of `sbx run` as a user sees it (DESIGN.md's fixed interface,
docs/protocol.md): output and exit statuses, stdin, the flags, names and listing, cleanup
with --rm, terminals, signals, what happens when the client dies, other users, volumes, bad
flag values and the `host` image. Security attacks are in test_attacks.py.

Programs run inside are given by absolute path in the host image (/usr/bin/...), except
where the test is about the command search path itself.
"""

import json
import os
import signal
import subprocess
import time
from glob import glob
from pathlib import Path

import pytest

from sbxlib import (PY, cgroup_dirs_of, explain, finish, host_mounts_under, host_pids_with_marker,
                    marker, overlay_dirs_of, pid_alive, read_until, run_in_pty,
                    unique_name, wait_until)


def listed(sbx, name, user=None):
    """True if `sbx ps` (as user) shows a sandbox called name."""
    r = sbx("ps", user=user)
    assert r.returncode == 0, explain(r)
    return name in r.stdout.split()


def sandbox_names(sbx, user=None):
    """Names of the caller's sandboxes, from `sbx get sandboxes -o json` (kubectl's List)."""
    r = sbx("get", "sandboxes", "-o", "json", user=user)
    assert r.returncode == 0, explain(r)
    return {it["metadata"]["name"] for it in json.loads(r.stdout).get("items", [])}


SLEEPER = "import time, sys  # {mark}\nprint('up', flush=True)\ntime.sleep(300)\n"


# --- output and exit statuses --------------------------------------------------------------

@pytest.mark.smoke
def test_echo(sbx):
    r = sbx("run", "--rm", "--", "/usr/bin/echo", "hello", "sandbox")
    assert r.returncode == 0, explain(r)
    assert r.stdout == "hello sandbox\n"


def test_stdout_and_stderr_kept_apart(sbx):
    r = sbx("run", "--rm", "--", PY, "-c",
            "import sys; print('to out'); print('to err', file=sys.stderr)")
    assert r.returncode == 0, explain(r)
    assert r.stdout == "to out\n"
    assert "to err" in r.stderr and "to out" not in r.stderr


@pytest.mark.smoke
@pytest.mark.parametrize("code", [0, 3])
def test_exit_code(sbx, code):
    r = sbx("run", "--rm", "--", "/usr/bin/sh", "-c", f"exit {code}")
    assert r.returncode == code, explain(r)


def test_command_found_via_path(sbx):
    r = sbx("run", "--rm", "--", "python3", "-c", "print(6 * 7)")
    assert r.returncode == 0, explain(r)
    assert r.stdout.strip() == "42"


@pytest.mark.parametrize("cmd", ["/nonexistent/program", "sbx-no-such-command"])
def test_missing_command_is_127(sbx, cmd):
    r = sbx("run", "--rm", "--", cmd)
    assert r.returncode == 127, explain(r)
    assert cmd in r.stderr, "the error should name the command" + explain(r)


@pytest.mark.parametrize("path", ["/usr/lib/os-release", "/usr"])
def test_not_executable_is_126(sbx, path):
    r = sbx("run", "--rm", "--", path)
    assert r.returncode == 126, explain(r)
    assert r.stderr.strip(), "expected an error message" + explain(r)


@pytest.mark.parametrize("sig,status", [(signal.SIGKILL, 137), (signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_killed_by_signal_is_128_plus_n(sbx, sig, status):
    code = "import os, signal, time\n"
    if sig != signal.SIGKILL:
        code += f"signal.signal({int(sig)}, signal.SIG_DFL)\n"
    code += f"os.kill(os.getpid(), {int(sig)})\ntime.sleep(30)\n"
    r = sbx("run", "--rm", "--", PY, "-c", code)
    assert r.returncode == status, explain(r)


# --- stdin -------------------------------------------------------------------------------

@pytest.mark.smoke
def test_stdin_piped_with_i(sbx):
    data = "".join(f"line {i} of the input\n" for i in range(20000))  # ~440 KB: many pipe buffers
    r = sbx("run", "--rm", "-i", "--", "/usr/bin/cat", input=data, timeout=120)
    assert r.returncode == 0, explain(r)
    assert r.stdout == data


def test_stdin_eof_is_seen_with_i(sbx):
    r = sbx("run", "--rm", "-i", "--", PY, "-c", "import sys; print(len(sys.stdin.read()))", input="")
    assert r.returncode == 0, explain(r)
    assert r.stdout.strip() == "0"


def test_stdin_not_read_without_i(sbx, tmp_path):
    """Without -i the sandbox's stdin is empty and the client does not consume its own stdin
    (checked through the shared file offset of a regular file given as stdin)."""
    f = tmp_path / "stdin.txt"
    f.write_text("this must not be read\n" * 100)
    code = ("import os\ntry:\n    print(len(os.read(0, 65536)))\n"
            "except OSError as e:\n    print('err', e.errno)\n")
    with open(f, "rb") as fh:
        r = sbx("run", "--rm", "--", PY, "-c", code, stdin=fh)
        offset = os.lseek(fh.fileno(), 0, os.SEEK_CUR)
    assert r.returncode == 0, explain(r)
    out = r.stdout.strip()
    assert out == "0" or out.startswith("err"), "the sandbox read the client's stdin" + explain(r)
    assert offset == 0, f"sbx read {offset} bytes of its stdin without -i"


# --- flags -------------------------------------------------------------------------------

def test_env_flag(sbx):
    code = ("import os, json\nprint(json.dumps({k: os.environ.get(k) for k in "
            "('FOO', 'SPACED', 'EMPTY', 'SBX_E2E_HOST_ONLY', 'PATH')}))")
    r = sbx("run", "--rm", "-e", "FOO=bar", "-e", "SPACED=a b  c", "-e", "EMPTY=", "--", PY, "-c", code)
    assert r.returncode == 0, explain(r)
    env = json.loads(r.stdout)
    assert env["FOO"] == "bar"
    assert env["SPACED"] == "a b  c"
    assert env["EMPTY"] == ""
    assert env["SBX_E2E_HOST_ONLY"] is None, "the client's environment leaked into the sandbox"
    assert env["PATH"], "a sandbox needs a default PATH"


def test_workdir_flag(sbx):
    r = sbx("run", "--rm", "-w", "/tmp", "--", PY, "-c", "import os; print(os.getcwd())")
    assert r.returncode == 0, explain(r)
    assert r.stdout.strip() == "/tmp"


def test_default_user_is_root_inside(sbx):
    r = sbx("run", "--rm", "--", "/usr/bin/id", "-u")
    assert r.returncode == 0, explain(r)
    assert r.stdout.strip() == "0"


def test_user_flag(sbx):
    r = sbx("run", "--rm", "-u", "1000:1000", "--", "/usr/bin/id", "-u")
    assert r.returncode == 0, explain(r)
    assert r.stdout.strip() == "1000"
    code = "import os; print(os.getuid(), os.geteuid(), os.getgid(), os.getegid())"
    r = sbx("run", "--rm", "-u", "1000:1000", "--", PY, "-c", code)
    assert r.returncode == 0, explain(r)
    assert r.stdout.split() == ["1000"] * 4


# --- names, listing, deletion ------------------------------------------------------------

@pytest.mark.smoke
def test_named_sandbox_is_listed_while_it_runs(sbx, sbx_popen):
    name = unique_name("listed")
    p = sbx_popen("run", "--rm", "--name", name, "--", PY, "-c", SLEEPER.format(mark=marker()))
    try:
        read_until(p, "up")
        assert listed(sbx, name), "sbx ps does not show the running sandbox"
        r = sbx("get", "sandboxes")
        assert r.returncode == 0 and name in r.stdout, explain(r)
        r = sbx("get", "sandbox", name, "-o", "json")
        assert r.returncode == 0, explain(r)
        assert json.loads(r.stdout)["metadata"]["name"] == name
    finally:
        d = sbx("delete", "sandbox", name)
        finish(p)
    assert d.returncode == 0, explain(d)
    assert wait_until(lambda: not listed(sbx, name), 15), "deleted sandbox still listed"


def test_duplicate_name_is_refused(sbx, sbx_popen):
    name = unique_name("dup")
    p = sbx_popen("run", "--rm", "--name", name, "--", PY, "-c", SLEEPER.format(mark=marker()))
    try:
        read_until(p, "up")
        r = sbx("run", "--rm", "--name", name, "--", "/usr/bin/true")
        assert r.returncode == 125, explain(r)
        assert name in r.stderr or "exists" in r.stderr.lower(), explain(r)
    finally:
        sbx("delete", "sandbox", name)
        finish(p)


def started(state_dir):
    """A sandbox's state dir, as opposed to a warm-pool spare's: it has a status.json."""
    return (state_dir / "status.json").exists()


def test_rm_leaves_nothing_behind(daemon, sbx, sbx_popen):
    """After `sbx run --rm` returns: no state dir, no cgroup, no overlay layer, no mount and
    no process of the sandbox is left (the daemon gets a few seconds to finish)."""
    sandboxes = daemon.root / "sandboxes"

    def state_entries():
        return set(os.listdir(sandboxes)) if sandboxes.is_dir() else set()

    before = state_entries()
    name, mark = unique_name("rm"), marker()
    p = sbx_popen("run", "--rm", "--name", name, "--", PY, "-c", SLEEPER.format(mark=mark))
    try:
        read_until(p, "up")
        pids = wait_until(lambda: host_pids_with_marker(mark), 10)
        assert pids, "cannot find the sandboxed program on the host"
        ours = cgroup_dirs_of(os.getpid()) | cgroup_dirs_of(daemon.proc.pid)
        cgroups = {d for d in cgroup_dirs_of(pids[0]) if d not in ours}
        layers = overlay_dirs_of(pids[0])
        during = state_entries() - before
        got = sbx("get", "sandbox", name, "-o", "json")
        uid = json.loads(got.stdout).get("metadata", {}).get("uid") if got.returncode == 0 else None
    finally:
        p.send_signal(signal.SIGTERM)
        finish(p)

    def leftovers():
        left = []
        left += [f"cgroup {d}" for d in cgroups if os.path.isdir(d)]
        left += [f"layer {d}" for d in layers if os.path.exists(d)]
        # the warm pool keeps spare state dirs (no status.json until one is claimed)
        left += [f"state {e}" for e in state_entries() - before if started(sandboxes / e)]
        if uid and (sandboxes / uid).exists():
            left.append(f"state {uid}")
        left += [f"host mount {m}" for m in host_mounts_under(daemon.root)]
        left += [f"process {q}" for q in pids if pid_alive(q)]
        for pattern in ("/sys/fs/cgroup/sbx*", "/sys/fs/cgroup/*/sbx*"):
            for top in glob(pattern):
                for dirpath, dirnames, _ in os.walk(top):
                    left += [f"cgroup {dirpath}/{d}" for d in dirnames
                             if name in d or (uid and uid in d)]
        return left

    wait_until(lambda: not leftovers(), 5)
    assert not leftovers(), "left behind after --rm: " + ", ".join(leftovers())
    assert not listed(sbx, name)
    assert sbx("get", "sandbox", name).returncode != 0
    # The checks above must have had something to look at while the sandbox ran.
    assert cgroups or layers or during, "saw no cgroup, layer or state dir of the running sandbox"


def test_rm_unnamed_leaves_no_state(daemon, sbx):
    sandboxes = daemon.root / "sandboxes"
    before = set(os.listdir(sandboxes)) if sandboxes.is_dir() else set()
    names = sandbox_names(sbx)
    r = sbx("run", "--rm", "--", "/usr/bin/true")
    assert r.returncode == 0, explain(r)
    def left():
        now = set(os.listdir(sandboxes)) if sandboxes.is_dir() else set()
        return {e for e in now - before if started(sandboxes / e)}
    assert wait_until(lambda: not left(), 5), f"state left: {left()}"
    # sbx returns when the program's status is known; the record goes with the teardown
    assert wait_until(lambda: sandbox_names(sbx) <= names, 5), sandbox_names(sbx) - names


# --- terminals ---------------------------------------------------------------------------

def pty_run(daemon, *args, user=None, **kw):
    return run_in_pty(daemon.argv(args, daemon._user(user)), daemon.env(daemon._user(user)), **kw)


def test_tty_gives_a_pty(daemon):
    status, out = pty_run(daemon, "run", "--rm", "-t", "--", "/usr/bin/tty")
    assert status == 0, out
    assert b"/dev/pts/" in out, out


def test_tty_window_size(daemon):
    status, out = pty_run(daemon, "run", "--rm", "-t", "--", "/usr/bin/stty", "size", winsize=(33, 101))
    assert status == 0, out
    assert b"33 101" in out, out


def test_tty_interactive_input(daemon):
    code = "s = input('ready> ')\nprint('got', s.upper())\n"
    status, out = pty_run(daemon, "run", "--rm", "-i", "-t", "--", PY, "-c", code,
                          send=b"hello\r", send_after=b"ready> ")
    assert status == 0, out
    assert b"got HELLO" in out, out


def test_tty_exit_code(daemon):
    status, out = pty_run(daemon, "run", "--rm", "-t", "--", "/usr/bin/sh", "-c", "exit 7")
    assert status == 7, out


def test_no_tty_without_t_even_on_a_terminal(daemon):
    """The client's own terminal must not be handed to the sandbox without -t."""
    status, out = pty_run(daemon, "run", "--rm", "--", "/usr/bin/tty")
    assert status == 1, out
    assert b"not a tty" in out, out


# --- signals and the client's death ------------------------------------------------------

TRAP = """import os, signal, sys, time
def handler(signum, frame):
    os.write(1, b'got %d\\n' % signum)  # not print(): the signal may land inside print('ready')
    os._exit(0)
signal.signal(signal.SIGTERM, handler)
signal.signal(signal.SIGINT, handler)
print('ready', flush=True)
time.sleep(60)
print('no signal came', flush=True)
sys.exit(1)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_client_reaches_program(sbx_popen, sig):
    p = sbx_popen("run", "--rm", "--", PY, "-c", TRAP)
    seen = read_until(p, "ready")
    p.send_signal(sig)
    status, out, err = finish(p)
    out = seen + out
    assert f"got {int(sig)}".encode() in out, (out, err)
    assert status == 0, (status, out, err)


def test_client_killed_stops_unnamed_sandbox(sbx, sbx_popen):
    mark = marker()
    before = sandbox_names(sbx)
    p = sbx_popen("run", "--", PY, "-c", SLEEPER.format(mark=mark))
    read_until(p, "up")
    pids = wait_until(lambda: host_pids_with_marker(mark), 10)
    assert pids, "cannot find the sandboxed program on the host"
    new = sandbox_names(sbx) - before
    assert new, "the running sandbox is not listed"
    p.kill()
    p.wait()
    assert wait_until(lambda: not any(pid_alive(q) for q in pids), 10), \
        "the sandboxed program survived its client's death"
    assert wait_until(lambda: not (sandbox_names(sbx) & new), 10), \
        f"{new} still listed after its client died"
    assert not any(listed(sbx, n) for n in new), f"{new} still in `sbx ps`"


def test_client_killed_keeps_named_sandbox(sbx, sbx_popen):
    name, mark = unique_name("keep"), marker()
    p = sbx_popen("run", "--name", name, "--", PY, "-c", SLEEPER.format(mark=mark))
    try:
        read_until(p, "up")
        pids = wait_until(lambda: host_pids_with_marker(mark), 10)
        assert pids, "cannot find the sandboxed program on the host"
        p.kill()
        p.wait()
        time.sleep(2)
        assert all(pid_alive(q) for q in pids), "a named sandbox without --rm stopped with its client"
        assert listed(sbx, name), "a named sandbox without --rm disappeared with its client"
    finally:
        d = sbx("delete", "sandbox", name)
    assert d.returncode == 0, explain(d)
    assert wait_until(lambda: not any(pid_alive(q) for q in pids), 15), "delete left the program running"
    assert wait_until(lambda: not listed(sbx, name), 10)


# --- users -------------------------------------------------------------------------------

def test_non_root_user_can_run(sbx, users):
    r = sbx("run", "--rm", "--", "/usr/bin/id", "-u", user=users["alice"])
    assert r.returncode == 0, explain(r)
    assert r.stdout.strip() == "0"


def test_users_see_and_touch_only_their_own_sandboxes(sbx, sbx_popen, users):
    alice, bob = users["alice"], users["bob"]
    name, mark = unique_name("owned"), marker()
    p = sbx_popen("run", "--rm", "--name", name, "--", PY, "-c", SLEEPER.format(mark=mark), user=alice)
    try:
        read_until(p, "up")
        assert listed(sbx, name, user=alice)
        assert not listed(sbx, name, user=bob), "bob sees alice's sandbox"
        g = sbx("get", "sandbox", name, user=bob)
        assert g.returncode != 0 and "not found" in g.stderr.lower(), explain(g)
        d = sbx("delete", "sandbox", name, user=bob)
        assert d.returncode != 0, "bob deleted alice's sandbox" + explain(d)
        time.sleep(1)
        assert p.poll() is None and listed(sbx, name, user=alice), "bob's delete stopped alice's sandbox"
    finally:
        sbx("delete", "sandbox", name, user=alice)
        finish(p)


# --- volumes -----------------------------------------------------------------------------

@pytest.fixture
def alice_dir(users):
    """A directory in alice's home, owned by her, removed afterwards."""
    alice = users["alice"]
    d = alice.home / unique_name("vol")
    d.mkdir(mode=0o755)
    (d / "in.txt").write_text("from the host\n")
    for p in (d, d / "in.txt"):
        os.chown(p, alice.uid, alice.gid)
    yield d
    subprocess.run(["rm", "-rf", "--one-file-system", str(d)])


def test_volume_of_own_directory_read_write(sbx, users, alice_dir):
    alice = users["alice"]
    code = ("print(open('/work/in.txt').read(), end='')\n"
            "open('/work/out.txt', 'w').write('from the sandbox\\n')\n"
            "import os; os.mkdir('/work/sub')\n")
    r = sbx("run", "--rm", "-v", f"{alice_dir}:/work", "--", PY, "-c", code, user=alice)
    assert r.returncode == 0, explain(r)
    assert r.stdout == "from the host\n"
    out = alice_dir / "out.txt"
    assert out.read_text() == "from the sandbox\n"
    for p in (out, alice_dir / "sub"):
        st = os.stat(p)
        assert (st.st_uid, st.st_gid) == (alice.uid, alice.gid), \
            f"{p} is owned by {st.st_uid}:{st.st_gid} on the host, not by alice"


def test_volume_read_only(sbx, users, alice_dir):
    code = ("import os, errno\nprint(open('/work/in.txt').read(), end='')\n"
            "try:\n    open('/work/new.txt', 'w')\n    print('WROTE')\n"
            "except OSError as e:\n    print(errno.errorcode[e.errno])\n")
    r = sbx("run", "--rm", "-v", f"{alice_dir}:/work:ro", "--", PY, "-c", code, user=users["alice"])
    assert r.returncode == 0, explain(r)
    assert r.stdout.splitlines() == ["from the host", "EROFS"], explain(r)
    assert not (alice_dir / "new.txt").exists()


@pytest.mark.parametrize("what", ["root_dir", "other_users_home", "other_users_file"])
def test_volume_the_user_cannot_reach_is_refused(sbx, users, what):
    root_dir = Path("/root") / unique_name("unreachable")
    root_dir.mkdir(mode=0o755)  # readable itself, but /root (0700) is not traversable by alice
    try:
        src = {"root_dir": root_dir, "other_users_home": users["bob"].home,
               "other_users_file": users["bob"].canary}[what]
        r = sbx("run", "--rm", "-v", f"{src}:/x", "--", "/usr/bin/cat", "/x", user=users["alice"])
        assert r.returncode == 125, explain(r)
        assert users["bob"].secret not in r.stdout
        assert str(src) in r.stderr or "denied" in r.stderr.lower(), explain(r)
    finally:
        root_dir.rmdir()


def test_volume_missing_source_is_refused(sbx):
    r = sbx("run", "--rm", "-v", "/nonexistent/sbx-e2e:/x", "--", "/usr/bin/true")
    assert r.returncode == 125, explain(r)
    assert "/nonexistent/sbx-e2e" in r.stderr, explain(r)


# --- bad flag values ---------------------------------------------------------------------

@pytest.mark.parametrize("flag,value", [
    ("--memory", "lots"), ("--memory", "-1Gi"), ("--memory", "1.5.5Mi"), ("--memory", "12Zi"),
    ("--cpus", "fast"), ("--cpus", "-2"), ("--cpus", "1..5"),
    ("--pids", "many"), ("--pids", "-5"), ("--pids", "1.5"),
])
def test_bad_resource_values_are_refused(sbx, flag, value):
    r = sbx("run", "--rm", flag, value, "--", "/usr/bin/echo", "ran")
    assert r.returncode == 125, explain(r)
    assert flag in r.stderr, "the error should name the flag" + explain(r)
    assert "ran" not in r.stdout


# --- the host image ----------------------------------------------------------------------

def test_host_image(sbx):
    code = r"""
import glob, json, os, sys, errno
def tryw(p):
    try:
        open(p, 'w').close(); return 'OK'
    except OSError as e:
        return errno.errorcode[e.errno]
out = dict(
    python=sys.version_info[:2] >= (3, 11),
    home=os.listdir('/home'), root=os.listdir('/root'),
    shadow=os.path.exists('/etc/shadow'), gshadow=os.path.exists('/etc/gshadow'),
    sudoers=os.path.exists('/etc/sudoers'), ssh_keys=glob.glob('/etc/ssh/ssh_host_*'),
    bin_sh=os.access('/bin/sh', os.X_OK), passwd=os.path.exists('/etc/passwd'),
    usr_write=tryw('/usr/sbx-e2e-probe'), tmp_write=tryw('/tmp/sbx-e2e-probe'),
    home_write=tryw('/home/sbx-e2e-probe'))
try:
    import numpy
    out['numpy'] = int(numpy.arange(4).sum())
except Exception as e:
    out['numpy'] = repr(e)
print(json.dumps(out))
"""
    r = sbx("run", "--rm", "--", PY, "-c", code)
    assert r.returncode == 0, explain(r)
    got = json.loads(r.stdout)
    assert got["python"]
    assert got["home"] == [] and got["root"] == [], got
    assert not got["shadow"] and not got["gshadow"] and not got["sudoers"], got
    assert got["ssh_keys"] == [], got
    assert got["bin_sh"] and got["passwd"], got
    assert got["usr_write"] in ("EROFS", "EACCES"), got
    assert got["tmp_write"] == "OK" and got["home_write"] == "OK", got
    assert got["numpy"] == 6, got


def test_host_image_writes_do_not_outlive_the_sandbox(sbx):
    r = sbx("run", "--rm", "--", "/usr/bin/sh", "-c", "echo x > /tmp/sbx-e2e-left && echo x > /etc/sbx-e2e-left")
    assert r.returncode == 0, explain(r)
    r = sbx("run", "--rm", "--", "/usr/bin/ls", "/tmp", "/etc/sbx-e2e-left")
    assert "sbx-e2e-left" not in r.stdout, explain(r)
    assert not os.path.exists("/etc/sbx-e2e-left")


JUPYTER = r"""
import os, subprocess, sys, time, urllib.request
# Debian's Jupyter, started as a data scientist would, inside the sandbox's own network
nb = subprocess.Popen(["/usr/bin/jupyter", "notebook", "--no-browser", "--allow-root", "--ip", "127.0.0.1",
                       "--port", "8888", "--NotebookApp.token=t"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
for _ in range(200):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:8888/api/kernels?token=t", timeout=1).read()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("jupyter did not answer")
# a kernel starts (and is reaped when the server stops)
req = urllib.request.Request("http://127.0.0.1:8888/api/kernels?token=t", data=b"{}", method="POST")
print("kernel", urllib.request.urlopen(req, timeout=20).status)
nb.terminate()
nb.wait(20)
print("jupyter ok")
"""


def test_jupyter_runs_in_the_host_image(sbx):
    """The host image exists to run Debian's Jupyter: it starts, answers and starts a kernel."""
    r = sbx("run", "--rm", "--memory", "2Gi", "--", PY, "-c", JUPYTER, timeout=120)
    assert r.returncode == 0, explain(r)
    assert "kernel 201" in r.stdout and "jupyter ok" in r.stdout, explain(r)
