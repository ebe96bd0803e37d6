"""test_operations.py: the operator's toolkit (docs/operations.md).

* the config file: `sbxd --check-config` accepts a good file and prints the effective
  settings with their origins, names file:line for every bad line, refuses a missing
  explicit file; a daemon started with a bad file does not start; one started with a good
  file uses it (flags winning);
* logs: timestamped logfmt lines, an access line per HTTP and stream request carrying the
  caller's uid (alice's), reopening of --log-file and --access-log on SIGHUP, and
  libmicrohttpd's per-connection complaints kept out of the log;
* /healthz, /livez, /readyz (and ?verbose, ?exclude) for any user;
* a backup of the state database taken with sqlite3's .backup while the daemon runs;
* an upgrade in place: the daemon restarted from new binaries (the old ones removed)
  adopts a running sandbox, whose logs and exec still work;
* sbx-uninstall on a private installation (meson install --destdir): every sandbox
  stopped, no process, mount, loop device or cgroup of that daemon left, the installed
  files removed, the data kept (--keep-data) or removed (--purge).
"""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import REPO, Daemon, build_dir, sanitizer_reports
from sbxlib import explain, host_mounts_under, host_pids_with_marker, marker, pid_alive, unique_name, wait_until
from workspaces import applied, container, exec_in, get, ready, sandbox, wait_ready

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) msg=")


def ticker(mark, **extra):
    return container("main", ["/usr/bin/python3", "-c",
                              f"import time\nwhile True:\n print('tick # {mark}', flush=True); time.sleep(0.2)"],
                     **extra)


def as_user(user, *cmd, **kw):
    return subprocess.run(["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--", *cmd],
                          capture_output=True, text=True, timeout=30, **kw)


def curl(sock, path, user=None):
    """(code, body) of GET path on the daemon's socket, as user (or root)."""
    cmd = ["curl", "-s", "-w", "\n%{http_code}", "--unix-socket", str(sock), f"http://sbx{path}"]
    r = as_user(user, *cmd) if user else subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def sbxd(*args):
    return subprocess.run([str(build_dir() / "sbxd"), *map(str, args)], capture_output=True, text=True, timeout=30)


def tmpdir(prefix):
    t = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(t, 0o755)
    (t / "bin").mkdir(mode=0o755)
    shutil.copy2(build_dir() / "sbx", t / "bin" / "sbx")
    return t


@contextmanager
def private_daemon(tmp, binaries, extra_args=()):
    """A Daemon (conftest) run from the sbxd in `binaries`, on tmp/root; stopped (its
    sandboxes deleted) and tmp removed at the end unless the test already took it down."""
    d = Daemon(Path(binaries), tmp, list(extra_args))
    try:
        d.start()
        yield d
    finally:
        problems = []
        if d.proc is not None and d.proc.poll() is None:
            problems = d.stop()
        for f in tmp.glob("*.log*"):  # --log-file is the daemon's stderr: sanitizers report there
            found = sanitizer_reports(f.read_text(errors="replace"))
            if found:
                problems.append(f"sanitizer reports in {f}: {found}\n{f.read_text(errors='replace')[-20000:]}")
        d.remove_tmp()
        assert not problems, "\n".join(problems)


# --- the config file ---------------------------------------------------------------------------

def test_check_config_reports_every_bad_line_and_prints_the_effective_settings(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    good = tmp_path / "good.conf"
    good.write_text(f"# sbxd settings\n\nwarm-pool = 2   # spares\nallow-host-path = {data}:rw\n"
                    f"allow-host-path = {tmp_path}\nlog-level = warn\n")
    r = sbxd("--check-config", "--config", good)
    assert r.returncode == 0, explain(r)
    assert f"warm-pool = 2  # {good}:3\n" in r.stdout, r.stdout
    assert f"allow-host-path = {data}:rw  # {good}:4\n" in r.stdout
    assert f"allow-host-path = {tmp_path}  # {good}:5\n" in r.stdout
    assert "root = /var/lib/sbx  # default\n" in r.stdout
    assert "# admin-group: not set\n" in r.stdout
    # a flag wins over the file: for a repeatable option, over the file's whole list
    r = sbxd("--check-config", "--config", good, "--warm-pool", "0", "--allow-host-path", data)
    assert r.returncode == 0, explain(r)
    assert "warm-pool = 0  # command line\n" in r.stdout
    assert f"allow-host-path = {data}  # command line\n" in r.stdout
    assert f"{good}:4" not in r.stdout and f"{good}:5" not in r.stdout, r.stdout

    bad = tmp_path / "bad.conf"
    bad.write_text("warm_pool = 2\nwarm-pool = many\nadmin-group = sbx-no-such-group-here\n"
                   "allow-host-path = /no/such/dir\nroot = /a\nroot = /b\n--socket = /x\n")
    r = sbxd("--check-config", "--config", bad)
    assert r.returncode == 1, explain(r)
    for want in (f'{bad}:1: unknown key "warm_pool" (did you mean "warm-pool"?)',
                 f'{bad}:2: warm-pool: takes a number from 0 to 64, not "many"',
                 f"{bad}:3: admin-group: sbx-no-such-group-here: no such group",
                 f"{bad}:4: allow-host-path: /no/such/dir: No such file or directory",
                 f"{bad}:6: root is already set on line 5 (it takes one value)",
                 f'{bad}:7: write the key without dashes: "socket = /x"'):
        assert want in r.stderr, f"missing {want!r} in:\n{r.stderr}"

    r = sbxd("--check-config", "--config", tmp_path / "missing.conf")
    assert r.returncode == 1 and f"cannot read the config file {tmp_path}/missing.conf" in r.stderr, explain(r)


def test_daemon_refuses_a_bad_config_and_uses_a_good_one(tmp_path, users):
    bad = tmp_path / "bad.conf"
    bad.write_text("warm-pool = 65\n")
    r = sbxd("--config", bad, "--root", tmp_path / "root", "--socket", tmp_path / "s.sock")
    assert r.returncode == 2, explain(r)
    assert f"{bad}:1: warm-pool: takes a number from 0 to 64" in r.stderr
    assert not (tmp_path / "s.sock").exists()

    tmp = tmpdir("sbx-e2e-conf-")
    conf = tmp / "sbxd.conf"
    conf.write_text(f"warm-pool = 0\nlog-file = {tmp}/sbxd.log\naccess-log = {tmp}/access.log\n"
                    "socket = /nonexistent/overridden-by-the-flag.sock\n")
    with private_daemon(tmp, build_dir(), ["--config", conf]) as d:
        assert d.run("version").returncode == 0  # on the flag's socket, not the file's
        assert LINE.match((tmp / "sbxd.log").read_text().splitlines()[0]), (tmp / "sbxd.log").read_text()
        assert "proto=stream" in (tmp / "access.log").read_text()
        # warm-pool = 0 from the file: no spare is prepared
        time.sleep(0.5)
        assert not list((d.root / "sandboxes").iterdir())


# --- logs --------------------------------------------------------------------------------------

def test_access_log_names_alice_and_sighup_reopens_the_logs(users):
    alice = users["alice"]
    tmp = tmpdir("sbx-e2e-logs-")
    log, access = tmp / "sbxd.log", tmp / "access.log"
    with private_daemon(tmp, build_dir(), ["--warm-pool", "0", "--log-file", log, "--access-log", access]) as d:
        # the stream protocol (the CLI) and plain HTTP, as alice; one request fails
        assert d.run("get", "sandboxes", user="alice").returncode == 0
        assert d.run("get", "sandbox", "no-such-sandbox", user="alice").returncode != 0
        assert curl(d.sock, "/version", user=alice)[0] == 200
        text = access.read_text()
        lines = text.splitlines()
        assert all(LINE.match(x) for x in lines), text
        u = f"uid={alice.uid}"
        assert any(f"msg=request proto=stream {u} verb=GET object=/apis/agents.x-k8s.io/" in x and "code=200" in x
                   for x in lines), text
        assert any(f"proto=stream {u} verb=GET" in x and "/sandboxes/no-such-sandbox code=404 " in x
                   for x in lines), text
        assert any(f"proto=http {u} verb=GET object=/version code=200 duration_ms=" in x for x in lines), text
        assert "proto=" not in log.read_text(), "access lines went to the log as well"

        # attack: alice forges a log line with a newline in the path (libmicrohttpd decodes
        # %0A); it must stay inside her own, quoted, line
        before = len(access.read_text().splitlines())
        forged = "2026-01-01T00:00:00.000Z level=error msg=forged-by-alice"
        assert curl(d.sock, "/version%0A" + forged.replace(" ", "%20"), user=alice)[0] == 404
        lines = access.read_text().splitlines()
        assert len(lines) == before + 1, lines[before:]
        assert not any(x.startswith("2026-01-01") for x in lines), lines[before:]
        assert f"{u} verb=GET object=\"/version\\n{forged}\" code=404" in lines[-1], lines[-1]

        # a client that hangs up in the middle of a request: libmicrohttpd's complaint about
        # it stays at debug level, out of the log
        import socket as socketmod
        s = socketmod.socket(socketmod.AF_UNIX, socketmod.SOCK_STREAM)
        s.connect(str(d.sock))
        s.sendall(b"POST /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        s.close()
        assert curl(d.sock, "/version")[0] == 200
        assert "http:" not in log.read_text(), log.read_text()

        # logrotate: move both files away, SIGHUP, and the next lines land in new files
        os.rename(log, tmp / "sbxd.log.1")
        os.rename(access, tmp / "access.log.1")
        d.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: log.exists() and "log files reopened" in log.read_text(), 10), \
            (tmp / "sbxd.log.1").read_text()
        assert d.run("get", "sandboxes", user="alice").returncode == 0
        assert u in access.read_text()
        assert "reopened" not in (tmp / "sbxd.log.1").read_text()
        old = (tmp / "access.log.1").read_text()
        time.sleep(0.2)
        assert (tmp / "access.log.1").read_text() == old, "the rotated access log is still written to"
        assert d.proc.poll() is None, "SIGHUP stopped the daemon"


# --- health ------------------------------------------------------------------------------------

def test_health_endpoints_answer_anyone(daemon, users):
    bob = users["bob"]
    for path in ("/healthz", "/livez", "/readyz"):
        assert curl(daemon.sock, path, user=bob) == (200, "ok"), path
    code, body = curl(daemon.sock, "/readyz?verbose", user=bob)
    assert code == 200, body
    assert body.splitlines() == ["[+]ping ok", "[+]recovery ok", "[+]reconciler ok", "[+]warm-pool ok",
                                 "readyz check passed"], body
    code, body = curl(daemon.sock, "/readyz?verbose&exclude=warm-pool", user=bob)
    assert code == 200 and "warm-pool" not in body, body
    code, body = curl(daemon.sock, "/livez?verbose", user=bob)
    assert (code, body.splitlines()) == (200, ["[+]ping ok", "livez check passed"]), body


def test_systemd_readiness_over_notify_socket():
    """sbxd under systemd (Type=notify): READY=1 on $NOTIFY_SOCKET once it is ready (and
    /readyz agrees), STOPPING=1 when it stops."""
    import socket as socketmod
    tmp = tmpdir("sbx-e2e-notify-")
    # an abstract socket, as systemd itself uses ("@" in $NOTIFY_SOCKET)
    addr = f"@sbx-e2e-notify-{os.getpid()}-{time.monotonic_ns()}"
    s = socketmod.socket(socketmod.AF_UNIX, socketmod.SOCK_DGRAM)
    s.bind("\0" + addr[1:])
    s.settimeout(30)

    class NotifiedDaemon(Daemon):
        def env(self, user=None):
            return {**super().env(user), "NOTIFY_SOCKET": addr}

    d = NotifiedDaemon(build_dir(), tmp, ["--warm-pool", "1"])
    try:
        d.start()
        got = []
        while "READY=1" not in got:
            got += s.recv(4096).decode().split("\n")
        assert "STATUS=serving" in got, got
        assert curl(d.sock, "/readyz")[1] == "ok"
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(timeout=10)
        assert "STOPPING=1" in s.recv(4096).decode().split("\n")
    finally:
        s.close()
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        else:  # stopped by the test: start it again to delete its spare, then stop it
            d.start()
            d.stop()
        d.remove_tmp()


# --- backup ------------------------------------------------------------------------------------

def test_sqlite_online_backup_of_a_running_daemon(daemon, sbx, users, tmp_path):
    name = unique_name("backup")
    applied(sbx, sandbox(name))
    wait_ready(sbx, name)
    try:
        out = tmp_path / "sbx.db.backup"
        # exactly the command docs/operations.md gives
        r = subprocess.run(["sqlite3", str(daemon.root / "sbx.db"), f".backup '{out}'"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, explain(r)
        db = sqlite3.connect(str(out))
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT owner, json FROM objects WHERE kind = 'Sandbox' AND name = ?", (name,)).fetchall()
        db.close()
        assert len(rows) == 1 and rows[0][0] == users["alice"].uid, rows
        assert json.loads(rows[0][1])["metadata"]["name"] == name
        assert sbx("get", "sandbox", name, user="alice").returncode == 0  # the daemon did not notice
    finally:
        sbx("delete", "sandbox", name, user="alice", timeout=60)


# --- upgrade -----------------------------------------------------------------------------------

def test_upgrade_in_place_adopts_running_sandboxes(users):
    tmp = tmpdir("sbx-e2e-upgrade-")
    old, new = tmp / "v1", tmp / "v2"
    for v in (old, new):
        v.mkdir()
        for b in ("sbxd", "sbx-shim", "sbx-init"):
            shutil.copy2(build_dir() / b, v / b)
    with private_daemon(tmp, old, ["--warm-pool", "1"]) as d:
        sbx = d.run
        name, mark = unique_name("upgrade"), marker()
        applied(sbx, sandbox(name, [ticker(mark)]))
        wait_ready(sbx, name)
        pids = host_pids_with_marker(mark)
        assert len(pids) == 1
        # the upgrade: stop sbxd (as systemd does with KillMode=process), replace the
        # binaries (here: the old ones are gone, the new ones elsewhere), start it again
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(timeout=10)
        assert pid_alive(pids[0]), "stopping the daemon stopped the sandbox"
        shutil.rmtree(old)
        d.build = new
        d.start()
        assert curl(d.sock, "/readyz")[1] == "ok"
        o = get(sbx, name)
        assert ready(o)["status"] == "True", o
        assert host_pids_with_marker(mark) == pids, "the sandbox was restarted instead of adopted"
        n1 = sbx("logs", name, user="alice").stdout.count(f"tick # {mark}")
        assert wait_until(lambda: sbx("logs", name, user="alice").stdout.count(f"tick # {mark}") > n1, 10), \
            "logs stopped flowing after the upgrade"
        r = exec_in(sbx, name, "/bin/sh", "-c", "echo exec-after-upgrade")
        assert r.returncode == 0 and "exec-after-upgrade" in r.stdout, explain(r)
        r = sbx("run", "--rm", "--", "/bin/echo", "new-shim", user="alice")
        assert r.returncode == 0 and "new-shim" in r.stdout, explain(r)
        assert sbx("delete", "sandbox", name, user="alice", timeout=60).returncode == 0
        assert wait_until(lambda: not host_pids_with_marker(mark), 20)


# --- uninstall ---------------------------------------------------------------------------------

def loops_backed_under(prefix):
    r = subprocess.run(["losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE"],
                       capture_output=True, text=True)
    return [x for x in r.stdout.splitlines() if f" {prefix}/" in x]


def cgroups_named(ids):
    found = []
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if line.split(" - ", 1)[1].split()[0] in ("cgroup", "cgroup2")]
    for m in mounts:  # sbx/<id>, or below a person's group: sbx/user-UID/<id>, sbx/pool/<id>
        for i in ids:
            found += [str(p) for p in Path(m, "sbx").glob(f"*/{i}")] + [str(p) for p in Path(m, "sbx").glob(i)]
    return found


def test_uninstall_stops_everything_of_its_daemon_and_keeps_or_purges_the_data(users):
    tmp = tmpdir("sbx-e2e-uninstall-")
    fs = tmp / "fs"
    r = subprocess.run(["meson", "install", "-C", str(build_dir()), "--destdir", str(fs), "--no-rebuild", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, explain(r)
    sbin = next(fs.glob("**/sbin/sbxd")).parent
    prefix = "/" + str(sbin.parent.relative_to(fs))
    (fs / "etc" / "sbx").mkdir(parents=True)
    (fs / "etc" / "sbx" / "sbxd.conf").write_text("warm-pool = 1\n")
    where = ["--destdir", str(fs), "--prefix", prefix, "--root", str(tmp / "root")]
    uninstall = [str(sbin / "sbx-uninstall"), *where]
    again = [str(REPO / "scripts" / "uninstall.sh"), *where]  # the installed copy removed itself
    taken_down = False
    d = Daemon(sbin, tmp, ["--warm-pool", "1"])
    try:
        d.start()
        sbx = d.run
        name, mark = unique_name("uninst"), marker()
        applied(sbx, sandbox(name, [ticker(mark, volumeMounts=[{"name": "work", "mountPath": "/work"}])],
                             claims={"work": "32Mi"}))
        wait_ready(sbx, name)
        assert exec_in(sbx, name, "sh", "-c", "echo kept > /work/f").returncode == 0
        pids = host_pids_with_marker(mark)
        ids = [p.name for p in (d.root / "sandboxes").iterdir()]
        assert len(pids) == 1 and len(ids) >= 2  # the workspace and the warm pool's spare
        assert cgroups_named(ids) and host_mounts_under(d.root) and loops_backed_under(d.root)
        daemon_pid = d.proc.pid

        r = subprocess.run(uninstall, capture_output=True, text=True, timeout=120)
        taken_down = True
        assert r.returncode == 0, explain(r)
        d.proc.wait(timeout=10)
        assert not pid_alive(daemon_pid)
        assert wait_until(lambda: not host_pids_with_marker(mark), 10), "the sandbox survived the uninstall"
        assert host_mounts_under(d.root) == []
        assert loops_backed_under(d.root) == []
        assert cgroups_named(ids) == []
        shims = [p for p in os.listdir("/proc") if p.isdigit() and _shim_of(p, ids)]
        assert shims == [], shims
        installed = [p for p in fs.rglob("*") if p.is_file()]
        assert [str(p.relative_to(fs)) for p in installed] == ["etc/sbx/sbxd.conf"], installed
        # --keep-data: the database and the volume's image stay
        assert (d.root / "sbx.db").exists() and list((d.root / "volume-images").rglob("*.img"))

        # again (harmless), then --purge --remove-config
        r = subprocess.run(again + ["--purge", "--remove-config"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, explain(r)
        assert not d.root.exists() and not (fs / "etc" / "sbx").exists()
    finally:
        if not taken_down and d.proc is not None and d.proc.poll() is None:
            d.stop()
        elif taken_down:
            subprocess.run(again + ["--purge"], capture_output=True, timeout=120)  # on a failed check
        d.remove_tmp()


def _shim_of(pid, ids):
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return Path(f"/proc/{pid}/comm").read_text().strip() == "sbx-shim" and len(argv) > 1 and \
            argv[1].decode(errors="replace") in ids
    except OSError:
        return False
