#!/usr/bin/env bash
# setup.sh: the first command of the README. On a fresh Debian 12 machine, as root, it installs
# the build dependencies, builds sbx with meson into ./build, installs it under /usr/local,
# starts the daemon (sbxd) if it is not running yet (where systemd is pid 1: the unit
# sbxd.service, enabled; elsewhere plain nohup, a pid file in /run/sbx and a log in
# /var/log/sbxd.log), waits until it answers,
# runs a first sandbox so the user sees isolation at work, and creates the example workspace
# (examples/jupyterlab.yaml: Jupyter with a persistent 20Gi volume) and says how to open it.
# Running it again is harmless: the build directory is reused, a daemon that already answers
# is left alone, and applying the example again changes nothing.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

prefix=/usr/local
sbxd=$prefix/sbin/sbxd
sbx=$prefix/bin/sbx
state=/var/lib/sbx
sock=/run/sbx/sbx.sock
pidfile=/run/sbx/sbxd.pid
log=/var/log/sbxd.log
export SBX_SOCKET=$sock

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (I install packages and start the daemon)"

say "Installing build dependencies from Debian"
"$repo/scripts/install-deps.sh"

say "Building sbx (meson + ninja, build directory ./build)"
if [ -f build/build.ninja ]; then
  meson configure build --prefix="$prefix" >/dev/null
else
  meson setup build --prefix="$prefix"
fi
ninja -C build
say "Installing under $prefix"
ninja -C build install >/dev/null
echo "installed $sbxd, $sbx and the helpers in $prefix/libexec/sbx"
echo "installed the manual pages (man sbx, man sbxd, man sbxd.conf) in $prefix/share/man"
echo "installed bash and zsh completion in $prefix/share/bash-completion/completions and $prefix/share/zsh/site-functions"

daemon_answers() { "$sbx" version >/dev/null 2>&1; }

# systemd is the init system (pid 1): sbxd runs as its unit (docs/operations.md)
use_systemd() { [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && command -v systemctl >/dev/null; }

say "Starting the daemon"
if use_systemd; then
  systemctl daemon-reload
  systemctl enable sbxd.service >/dev/null 2>&1
  if daemon_answers && ! systemctl -q is-active sbxd.service; then
    echo "an sbxd started by hand already answers on $sock; leaving it running (stop it, then run this script again to use the unit)"
  else
    systemctl start sbxd.service || { journalctl -u sbxd.service -n 20 --no-pager >&2 || true; die "sbxd.service did not start; the lines above are from its journal"; }
    echo "sbxd runs as the systemd unit sbxd.service (systemctl status sbxd; journalctl -u sbxd)"
  fi
elif daemon_answers; then
  echo "sbxd already answers on $sock; leaving it running"
  echo "(to run the freshly built one: kill \$(cat $pidfile) and run this script again)"
else
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    die "sbxd (pid $(cat "$pidfile")) is running but does not answer on $sock; see $log"
  fi
  mkdir -p "$state" "$(dirname "$sock")"
  nohup "$sbxd" --root "$state" --socket "$sock" >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    daemon_answers && break
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -n 20 "$log" >&2; die "sbxd exited at start; the lines above are from $log"; }
    sleep 0.1
  done
  daemon_answers || { tail -n 20 "$log" >&2; die "sbxd did not answer on $sock within 10 s; see $log"; }
  echo "sbxd is running (pid $(cat "$pidfile"), state in $state, log in $log)"
fi
"$sbx" version

say "Your first sandbox: sbx run --rm -- /usr/bin/python3 -c '...'"
echo "On the host: hostname $(cat /proc/sys/kernel/hostname), uid $(id -u), $(ls /home | wc -l) entries in /home, $(ls /proc | grep -c '^[0-9]') processes."
echo "Inside the sandbox:"
"$sbx" run --rm -- /usr/bin/python3 -c '
import os, socket
procs = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print("  hostname          :", socket.gethostname())
print("  uid               :", os.getuid(), "(root inside, an unprivileged id on the host)")
print("  /home             :", os.listdir("/home") or "empty")
print("  /etc/shadow exists:", os.path.exists("/etc/shadow"))
print("  processes visible :", procs)
print("  network interfaces:", [n for _, n in socket.if_nameindex()])
'

say "The example workspace: sbx apply -f examples/jupyterlab.yaml"
# the workspace belongs to whoever applies it: the user behind sudo when there is one
as_user=()
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && id "$SUDO_USER" >/dev/null 2>&1; then
  as_user=(setpriv --reuid="$(id -u "$SUDO_USER")" --regid="$(id -g "$SUDO_USER")" --init-groups --)
fi
"${as_user[@]}" "$sbx" apply -f - <"$repo/examples/jupyterlab.yaml"  # read here: the repo may be private to root
"${as_user[@]}" "$sbx" wait --for=condition=Ready sandbox/jupyterlab-sandbox --timeout=180s
"${as_user[@]}" "$sbx" get sandbox jupyterlab-sandbox
cat <<OPEN

Your Jupyter workspace runs. To open it${SUDO_USER:+ (as $SUDO_USER)}:
  sbx port-forward jupyterlab-sandbox 8888:8888     then browse to http://127.0.0.1:8888
(over ssh: ssh -L 8888:127.0.0.1:8888 this-server, then the same URL on your laptop).
Its files live in the volume workspace-jupyterlab-sandbox (sbx get pvc): they stay when
the sandbox is deleted and come back when it is applied again.
OPEN

cat <<'NEXT'

sbx is ready. Things to try next:
  sbx run --rm -it -- bash                    a shell in a fresh sandbox (exit to throw it away)
  sbx run --rm --memory 1Gi --cpus 1 -- /usr/bin/python3 -c 'import numpy; print(numpy.ones(3))'
  sbx run --name scratch -- sleep 600 &       a named sandbox, then:
  sbx ps                                      list your sandboxes
  sbx delete sandbox scratch                  stop and remove it
  sbx logs jupyterlab-sandbox                 the workspace's Jupyter output
  sbx exec -it jupyterlab-sandbox -- bash     a shell inside the workspace
  sbx scale sandbox jupyterlab-sandbox --replicas=0   suspend it (files and packages stay)
Run ./scripts/test.sh to run the whole test suite. Docs: README.md and docs/.
NEXT
