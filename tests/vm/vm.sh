#!/bin/bash
# vm.sh: run one static program as root inside a throw-away QEMU VM whose only cgroup
# hierarchy is cgroup v2, print what it printed, and exit with its exit status.
#
#   tests/vm/vm.sh STATIC_PROGRAM [ARG...]
#
# The VM is built here from Debian packages, nothing else: qemu-system-x86 runs it, a
# Debian kernel boots it, busybox-static is its whole user space (an initramfs: no disk, no
# network). Inside, /proc, /sys, /dev and /tmp are mounted, cgroup2 is mounted alone at
# /sys/fs/cgroup (the kernel is booted with cgroup_no_v1=all) with cpu, memory and pids (and
# cpuset, io where present) enabled for children, and the program runs from /opt/prog with
# CGROUP_ROOT=/sys/fs/cgroup. Its output comes back over a second serial port.
#
# The kernel, first found wins: $KERNEL; the newest /boot/vmlinuz-*; the newest in $CACHE;
# else linux-image-amd64's current image is fetched with `apt-get download` into $CACHE
# (only its /boot/vmlinuz is kept; nothing is installed). Under software emulation the
# uncompressed ELF vmlinux boots about twice as fast (QEMU's PVH entry), so a compressed
# kernel is unpacked once next to its cached copy (needs xz-utils; PVH=0 turns this off).
#
# Environment: KERNEL, CACHE (default /var/cache/sbx-vm), QEMU (qemu-system-x86_64),
# BUSYBOX (/bin/busybox, static), ACCEL (tcg, default, or kvm), MEM (512M), SMP (2),
# TIMEOUT (300 s for the whole run), VERBOSE=1 (also print the console).
#
# Exit status: the program's; 125 when the VM cannot be set up, 124 when it timed out,
# 126 when it ended without reporting the program's status.
set -euo pipefail

die() { echo "vm.sh: $*" >&2; exit 125; }

[ $# -ge 1 ] || die "usage: vm.sh STATIC_PROGRAM [ARG...]"
prog=$1; shift
[ -f "$prog" ] && [ -x "$prog" ] || die "not an executable file: $prog"

QEMU=${QEMU:-qemu-system-x86_64}
BUSYBOX=${BUSYBOX:-/bin/busybox}
CACHE=${CACHE:-/var/cache/sbx-vm}
ACCEL=${ACCEL:-tcg}
command -v "$QEMU" >/dev/null || die "$QEMU is missing (Debian: qemu-system-x86)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing (Debian: busybox-static)"

is_elf() { [ "$(head -c4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

# ---- the kernel -------------------------------------------------------------------------
newest() { ls -1 "$@" 2>/dev/null | sort -V | tail -n1 || true; }
kernel=${KERNEL:-}
[ -n "$kernel" ] || kernel=$(newest /boot/vmlinuz-*)
[ -n "$kernel" ] && [ ! -r "$kernel" ] && kernel=
[ -n "$kernel" ] || kernel=$(newest "$CACHE"/vmlinuz-*)
if [ -z "$kernel" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$pkg" ] || die "no kernel in /boot or $CACHE, and apt cannot resolve linux-image-amd64 (apt-get update?)"
  mkdir -p "$CACHE"
  dl=$(mktemp -d)
  (cd "$dl" && apt-get download "$pkg" >/dev/null 2>&1) || { rm -rf "$dl"; die "apt-get download $pkg failed"; }
  dpkg-deb --fsys-tarfile "$dl/$pkg"_*.deb | tar -x -C "$dl" --wildcards './boot/vmlinuz-*'
  cp "$dl"/boot/vmlinuz-* "$CACHE"/
  rm -rf "$dl"
  kernel=$(newest "$CACHE"/vmlinuz-*)
fi
[ -r "$kernel" ] || die "cannot read the kernel $kernel"

# the uncompressed vmlinux (an xz stream inside the bzImage), cached beside the cache's copy
if [ "${PVH:-1}" = 1 ] && ! is_elf "$kernel" && command -v xz >/dev/null; then
  mkdir -p "$CACHE"
  vmlinux=$CACHE/vmlinux-$(basename "$kernel" | sed 's/^vmlinuz-//')
  if [ ! -s "$vmlinux" ]; then
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$kernel" | head -n1 | cut -d: -f1 || true)
    if [ -n "$off" ] && tail -c +$((off + 1)) "$kernel" > "$vmlinux.xz" &&
       xz -dc --single-stream "$vmlinux.xz" > "$vmlinux.tmp" 2>/dev/null && is_elf "$vmlinux.tmp"; then
      mv "$vmlinux.tmp" "$vmlinux"
    fi
    rm -f "$vmlinux.tmp" "$vmlinux.xz"
  fi
  [ -s "$vmlinux" ] && kernel=$vmlinux
fi

# ---- the initramfs -------------------------------------------------------------------------
work=$(mktemp -d /tmp/sbx-vm.XXXXXX)
qpid=
cleanup() { [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

r=$work/root
mkdir -p "$r"/{bin,dev,proc,sys,tmp,root,opt}
cp "$BUSYBOX" "$r/bin/busybox"
cp "$prog" "$r/opt/prog"
chmod 0755 "$r/opt/prog"
: > "$r/args"
for a in "$@"; do
  case "$a" in *$'\n'*) die "arguments must not hold newlines" ;; esac
  printf '%s\n' "$a" >> "$r/args"
done
cat > "$r/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
out=/dev/ttyS1
fail() { echo "vm init: $*" > $out; echo "__SBX_VM_EXIT__=125" > $out; poweroff -f; }
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"
grep -q ' cgroup ' /proc/mounts && fail "a cgroup v1 hierarchy is mounted"
for c in cpu memory pids cpuset io; do
  if grep -qw $c /sys/fs/cgroup/cgroup.controllers; then
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || fail "cannot enable +$c"
  else
    case $c in cpu|memory|pids) fail "the kernel has no $c controller" ;; esac
  fi
done
echo "__SBX_VM_READY__" > /dev/ttyS0
export CGROUP_ROOT=/sys/fs/cgroup
set --
while IFS= read -r a; do set -- "$@" "$a"; done < /args
cd /root
/opt/prog "$@" > $out 2>&1 < /dev/null
echo "__SBX_VM_EXIT__=$?" > $out
sync
poweroff -f
INIT
chmod 0755 "$r/init"
(cd "$r" && find . -print0 | "$BUSYBOX" cpio -o -H newc -0 2>/dev/null | gzip -1) > "$work/initrd.gz"

# ---- the run -------------------------------------------------------------------------------
case "$ACCEL" in kvm) cpu=host ;; tcg) cpu=max ;; *) die "ACCEL must be tcg or kvm, not $ACCEL" ;; esac
start=$(date +%s.%N)
st=0
( timeout -k 5 "${TIMEOUT:-300}" "$QEMU" -accel "$ACCEL" -cpu "$cpu" -m "${MEM:-512M}" -smp "${SMP:-2}" \
    -nodefaults -no-user-config -nographic -no-reboot -net none \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet loglevel=3" \
    -serial "file:$work/console.log" -serial "file:$work/prog.out" \
    < /dev/null > "$work/qemu.log" 2>&1 ) 2>> "$work/qemu.log" &
qpid=$!
wait "$qpid" || st=$?
qpid=
end=$(date +%s.%N)

rc=126
if grep -q '^__SBX_VM_EXIT__=' "$work/prog.out" 2>/dev/null; then
  rc=$(sed -n 's/^__SBX_VM_EXIT__=\([0-9]*\).*/\1/p' "$work/prog.out" | tail -n1)
  sed '/^__SBX_VM_EXIT__=/d' "$work/prog.out" | tr -d '\r'
elif [ "$st" = 124 ] || [ "$st" = 137 ]; then
  rc=124
fi
if [ "${VERBOSE:-0}" = 1 ] || [ "$rc" -ge 124 ]; then
  { echo "--- console:"; tr -d '\r' < "$work/console.log"; echo "--- qemu:"; cat "$work/qemu.log"; } >&2
fi
printf 'vm.sh: accel=%s kernel=%s %.1fs status %s\n' "$ACCEL" "$(basename "$kernel")" \
  "$(awk "BEGIN {print $end - $start}")" "$rc" >&2
exit "$rc"
