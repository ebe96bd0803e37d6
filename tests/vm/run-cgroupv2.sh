#!/bin/bash
# run-cgroupv2.sh BUILD_DIR: run the cgroup v2 checks (BUILD_DIR/tests/vm/cgroupv2-check)
# inside a small VM whose only hierarchy is cgroup v2, built by the project's own harness
# tests/vm/vm.sh from Debian packages (qemu-system-x86, busybox-static, a Debian kernel).
# Prints the program's PASS/FAIL lines and exits with its status. Missing packages are a
# failure that says what to install (scripts/install-deps.sh installs them), not a skip:
# only SBX_SKIP_VM=1 skips (77, for meson).
#
# Software emulation (ACCEL=tcg) is the default: it boots and runs the checks in a few
# seconds, and works where /dev/kvm cannot run a stock kernel. The first run fetches a
# Debian kernel with apt-get download when /boot has none (about 30 s); later runs take
# about 4 s.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run-cgroupv2.sh BUILD_DIR}
prog=$build/tests/vm/cgroupv2-check

[ "${SBX_SKIP_VM:-0}" = 1 ] && { echo "SKIP cgroupv2-vm: SBX_SKIP_VM=1"; exit 77; }
missing() { echo "FAIL cgroupv2-vm: $* (run scripts/install-deps.sh)"; exit 1; }
command -v "${QEMU:-qemu-system-x86_64}" >/dev/null || missing "qemu-system-x86 is not installed"
busybox=${BUSYBOX:-/bin/busybox}
# a dynamic busybox (the busybox package) names its loader in a PT_INTERP header
{ [ -x "$busybox" ] && ! readelf -l "$busybox" 2>/dev/null | grep -q INTERP; } || missing "busybox-static is not installed"
[ -x "$prog" ] || { echo "FAIL cgroupv2-vm: $prog not built"; exit 1; }

export BUSYBOX=$busybox TIMEOUT=${TIMEOUT:-240}
rc=0
"$here/vm.sh" "$prog" || rc=$?
if [ "$rc" = 0 ]; then echo "PASS cgroupv2-vm"; else echo "FAIL cgroupv2-vm (status $rc)"; fi
exit "$rc"
