#!/bin/bash
# run-cgroupv2.sh BUILD_DIR: run the cgroup v2 checks (BUILD_DIR/tests/vm/cgroupv2-check)
# inside a small VM whose only hierarchy is cgroup v2, using the shared tool
# ../shared/tools/cgroupv2-vm.sh (beside the repository). Prints the program's PASS/FAIL
# lines and exits with its status; 77 (skipped, for meson) when qemu-system-x86 or
# busybox-static is missing, or when SBX_SKIP_VM=1.
#
# The VM tool's default ACCEL=auto first tries KVM and waits up to 30 s before falling back
# to software emulation when /dev/kvm cannot run a stock kernel (as on the build machine);
# software emulation alone boots and runs the checks in a few seconds, so it is the default
# here. ACCEL=auto or ACCEL=kvm in the environment is passed through. The first run
# downloads a Debian kernel with apt-get (about 30 s); later runs take about 4 s.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run-cgroupv2.sh BUILD_DIR}
tool=${CGROUPV2_VM:-$here/../../../shared/tools/cgroupv2-vm.sh}
prog=$build/tests/vm/cgroupv2-check

skip() { echo "SKIP cgroupv2-vm: $*"; exit 77; }
[ "${SBX_SKIP_VM:-0}" = 1 ] && skip "SBX_SKIP_VM=1"
[ -x "$tool" ] || skip "VM tool not found at $tool"
command -v "${QEMU:-qemu-system-x86_64}" >/dev/null || skip "qemu-system-x86 is not installed"
busybox=${BUSYBOX:-/bin/busybox}
is_static() {
  if command -v file >/dev/null; then file -L "$1" | grep -q 'statically linked'
  else ! grep -qa 'ld-linux' "$1"; fi
}
[ -x "$busybox" ] && is_static "$busybox" || skip "busybox-static is not installed"
[ -x "$prog" ] || { echo "FAIL cgroupv2-vm: $prog not built"; exit 1; }

export ACCEL=${ACCEL:-tcg} TIMEOUT=${TIMEOUT:-240}
export BUSYBOX=$busybox
rc=0
"$tool" "$prog" || rc=$?
if [ "$rc" = 0 ]; then
  echo "PASS cgroupv2-vm"
else
  echo "FAIL cgroupv2-vm (status $rc)"
fi
exit "$rc"
