#!/usr/bin/env bash
# setup.sh: the first command of the README. On a fresh Debian 12 machine, as root, it installs
# the build dependencies, builds sbx with meson into ./build, installs it under /usr/local,
# starts the daemon (sbxd) in the background if it is not running yet (no systemd is assumed:
# plain nohup, a pid file in /run/sbx and a log in /var/log/sbxd.log), waits until it answers,
# and then runs a first sandbox so the user sees isolation at work. Running it again is
# harmless: the build directory is reused and a daemon that already answers is left alone.
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

daemon_answers() { "$sbx" version >/dev/null 2>&1; }

say "Starting the daemon"
if daemon_answers; then
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

cat <<'NEXT'

sbx is ready. Things to try next:
  sbx run --rm -it -- bash                    a shell in a fresh sandbox (exit to throw it away)
  sbx run --rm --memory 1Gi --cpus 1 -- /usr/bin/python3 -c 'import numpy; print(numpy.ones(3))'
  sbx run --name scratch -- sleep 600 &       a named sandbox, then:
  sbx ps                                      list your sandboxes
  sbx delete sandbox scratch                  stop and remove it
Run ./scripts/test.sh to run the whole test suite. Docs: README.md and docs/.
NEXT
