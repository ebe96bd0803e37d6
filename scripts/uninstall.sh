#!/usr/bin/env bash
# shellcheck disable=SC2086,SC2116,SC2046  # pid, id and mount lists are split on purpose (they hold no blanks)
# uninstall.sh (installed as sbx-uninstall): takes sbx off this machine.
#
# In order: stops sbxd (the systemd unit, else the daemon run from PREFIX), stops every
# sandbox of its state directory (kills their shims and every process in their cgroups,
# then removes the cgroups), unmounts everything mounted under the state directory (volumes,
# emptyDirs, writable layers) and frees the loop devices behind them, removes what
# `meson install` put there (programs, helpers, the unit, the logrotate snippet, man
# pages, docs, the socket directory), and then:
#   --keep-data (default): keeps the state directory (the database and the volume images):
#                          a later install starts every workspace again, as after a reboot;
#   --purge:               removes the state directory and sbx's logs too;
#   --remove-config:       removes /etc/sbx (kept otherwise).
# Only this daemon's sandboxes are touched: those whose state lies under its --root (their
# shims, whose first argument is the sandbox's id, and their cgroups sbx/<id>).
# --destdir and --prefix name an installation made with `meson install --destdir`, so the
# script can be tested on a private tree. Running it twice is harmless. Exits 1 if anything
# of the daemon is left (a process, a mount, a loop device or a cgroup), naming it.
set -euo pipefail

prefix=/usr/local
destdir=
state=
socket=
cgparent=sbx
purge=false
remove_config=false

usage() {
  cat <<'EOF'
usage: sbx-uninstall [--prefix DIR] [--destdir DIR] [--root DIR] [--socket PATH]
                     [--keep-data | --purge] [--remove-config]
  --prefix DIR     where sbx was installed (default /usr/local)
  --destdir DIR    the tree it was installed into with meson install --destdir (default /)
  --root DIR       sbxd's state directory (default DESTDIR/var/lib/sbx)
  --socket PATH    sbxd's socket (default DESTDIR/run/sbx/sbx.sock)
  --cgroup-parent P  sbxd's --cgroup-parent (default sbx)
  --keep-data      keep the state directory: workspaces and volumes come back on reinstall (default)
  --purge          remove the state directory (every volume's data) and the logs
  --remove-config  remove /etc/sbx as well
EOF
}

die() { printf 'sbx-uninstall: %s\n' "$*" >&2; exit 2; }
say() { printf 'sbx-uninstall: %s\n' "$*"; }

while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
    --root) state=${2:?--root needs a directory}; shift 2 ;;
    --socket) socket=${2:?--socket needs a path}; shift 2 ;;
    --cgroup-parent) cgparent=${2:?--cgroup-parent needs a cgroup path}; shift 2 ;;
    --keep-data) purge=false; shift ;;
    --purge) purge=true; shift ;;
    --remove-config) remove_config=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "run me as root (I stop sandboxes and unmount their volumes)"
destdir=${destdir%/}
case $prefix in /*) ;; *) die "--prefix must be absolute, not $prefix" ;; esac
P=$destdir$prefix
state=${state:-$destdir/var/lib/sbx}
socket=${socket:-$destdir/run/sbx/sbx.sock}
case $state in /?*) ;; *) die "--root must be an absolute directory other than /, not $state" ;; esac
state=$(realpath -m "$state")

# pids whose executable is PATH (also when the file was replaced or removed); a process's
# comm is read with a builtin first, so a busy host's /proc is walked without a fork each
pids_of() {
  local p exe comm want=$1 name
  name=$(basename "$want")
  for p in /proc/[0-9]*; do
    read -r comm 2>/dev/null <"$p/comm" || continue
    [ "$comm" = "${name:0:15}" ] || continue
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    if [ "${exe% (deleted)}" = "$want" ]; then echo "${p#/proc/}"; fi
  done
}

# pids of the sbx-shim processes of these sandbox ids (a shim's first argument is its id)
shims_of() {
  local p id arg1 comm
  [ $# -gt 0 ] || return 0
  for p in /proc/[0-9]*; do
    read -r comm 2>/dev/null <"$p/comm" || continue
    [ "$comm" = sbx-shim ] || continue
    arg1=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | sed -n 2p) || continue
    for id in "$@"; do
      if [ "$arg1" = "$id" ]; then echo "${p#/proc/}"; break; fi
    done
  done
}

# every cgroup mount point of the host (v1 controllers, named hierarchies, v2)
cgroup_mounts() { awk '{ split($0, a, " - "); split(a[2], t, " "); if (t[1] == "cgroup" || t[1] == "cgroup2") print $5 }' /proc/self/mountinfo; }
# a sandbox's cgroups in every hierarchy: PARENT/user-UID/ID, PARENT/pool/ID (a spare), or
# PARENT/ID (sbx before per-person groups)
sandbox_cgroups() {
  local mnt
  for mnt in $(cgroup_mounts); do
    [ -d "$mnt/$cgparent" ] && find "$mnt/$cgparent" -mindepth 1 -maxdepth 2 -type d -name "$1" 2>/dev/null
  done
  return 0
}

# mount points at or below $state, deepest first
mounts_under() {
  awk -v s="$state" '{ mp = $5; gsub(/\\040/, " ", mp); if (mp == s || index(mp, s "/") == 1) print length(mp) " " mp }' \
    /proc/self/mountinfo | sort -rn | cut -d' ' -f2-
}

# loop devices whose backing file lies under $state
loops_under() {
  losetup --list --noheadings --raw --output NAME,BACK-FILE 2>/dev/null |
    awk -v s="$state" '{ f = substr($0, index($0, " ") + 1); sub(/ \(deleted\)$/, "", f); if (index(f, s "/") == 1) print $1 }'
}

sandbox_ids() {
  if [ -d "$state/sandboxes" ]; then find "$state/sandboxes" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'; fi
}

# the sandboxes (and warm-pool spares) known before the daemon stops: a spare removes its
# own state directory when the daemon goes, and its cgroup must still be checked
ids_before=$(sandbox_ids)

# --- 1. the daemon -----------------------------------------------------------------------
if [ -z "$destdir" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  if systemctl list-unit-files sbxd.service >/dev/null 2>&1; then
    systemctl disable --now sbxd.service >/dev/null 2>&1 || true # KillMode=process: only sbxd
  fi
fi
daemons=$(pids_of "$P/sbin/sbxd")
if [ -n "$daemons" ]; then
  say "stopping sbxd (pid $(echo $daemons))"
  kill -TERM $daemons 2>/dev/null || true
  for _ in $(seq 1 100); do
    [ -z "$(pids_of "$P/sbin/sbxd")" ] && break
    sleep 0.1
  done
  left=$(pids_of "$P/sbin/sbxd")
  [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
fi

# --- 2. every sandbox ----------------------------------------------------------------------
ids=$(printf '%s\n' $ids_before $(sandbox_ids) | sort -u)
shims=$(shims_of $ids)
[ -z "$shims" ] || { say "stopping $(echo $shims | wc -w) sandbox shim(s)"; kill -KILL $shims 2>/dev/null || true; }
for id in $ids; do
  for cg in $(sandbox_cgroups "$id"); do
    for _ in $(seq 1 50); do
      procs=$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
      [ -z "$procs" ] && break
      if [ -f "$cg/cgroup.kill" ]; then echo 1 >"$cg/cgroup.kill" 2>/dev/null || true; fi
      kill -KILL $procs 2>/dev/null || true
      sleep 0.1
    done
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
done
# the people's groups emptied by that (rmdir removes only an empty cgroup: another daemon's
# sandboxes under the same parent keep theirs)
for mnt in $(cgroup_mounts); do
  for g in "$mnt/$cgparent"/user-* "$mnt/$cgparent"/pool; do [ -d "$g" ] && { rmdir "$g" 2>/dev/null || true; }; done
done
[ -z "$ids" ] || say "stopped the sandboxes and spares of $state ($(echo $ids | wc -w))"

# --- 3. mounts and loop devices --------------------------------------------------------------
for _ in 1 2 3 4 5; do
  mps=$(mounts_under)
  [ -z "$mps" ] && break
  while IFS= read -r mp; do
    umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
  done <<<"$mps"
done
# a volume's loop device clears itself once unmounted, which the kernel may finish a moment
# later: detach what is left, and wait (5 s at most) until none is left
for _ in $(seq 1 50); do
  devs=$(loops_under)
  [ -z "$devs" ] && break
  for dev in $devs; do losetup -d "$dev" 2>/dev/null || true; done
  sleep 0.1
done

# --- 4. what was installed -------------------------------------------------------------------
removed=0
rm_path() {
  local f
  for f in "$@"; do
    if [ -e "$f" ] || [ -L "$f" ]; then rm -rf --one-file-system -- "$f"; removed=$((removed + 1)); fi
  done
}
rm_path "$P/sbin/sbxd" "$P/bin/sbx" "$P/libexec/sbx" "$P/share/doc/sbx" \
  "$P/lib/systemd/system/sbxd.service" "$destdir/etc/systemd/system/sbxd.service" \
  "$destdir/etc/logrotate.d/sbxd" "$(dirname "$socket")"
shopt -s nullglob
rm_path "$P"/share/man/man[1-8]/sbx.[1-8]* "$P"/share/man/man[1-8]/sbx-*.[1-8]* "$P"/share/man/man[1-8]/sbxd.[1-8]* \
  "$P"/share/man/man[1-8]/sbxd.conf.[1-8]* \
  "$P/share/bash-completion/completions/sbx" "$P/share/zsh/site-functions/_sbx"
shopt -u nullglob
if $remove_config; then rm_path "$destdir/etc/sbx"; fi
rm_path "$P/sbin/sbx-uninstall" # last: this script may be it (bash has read it already)
say "removed $removed installed path(s) from $P"
if [ -z "$destdir" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  systemctl daemon-reload || true
fi

# --- 5. the data -----------------------------------------------------------------------------
left=()
procs=$( { pids_of "$P/sbin/sbxd"; shims_of $ids; } | tr '\n' ' ')
[ -z "$procs" ] || left+=("processes: $procs")
for id in $ids; do
  for cg in $(sandbox_cgroups "$id"); do left+=("cgroup $cg"); done
done
mps=$(mounts_under)
[ -z "$mps" ] || left+=("mounts: $(echo $mps)")
loops=$(loops_under)
[ -z "$loops" ] || left+=("loop devices: $(echo $loops)")
if [ ${#left[@]} -gt 0 ]; then
  printf 'sbx-uninstall: still there (state kept in %s):\n' "$state" >&2
  printf '  %s\n' "${left[@]}" >&2
  exit 1
fi
if $purge; then
  rm_path "$state" "$destdir/var/log/sbx"
  shopt -s nullglob
  rm_path "$destdir"/var/log/sbxd.log*
  shopt -u nullglob
  say "removed the state directory $state and the logs"
elif [ -d "$state" ]; then
  say "kept the state directory $state (database and volumes); --purge removes it"
fi
say "done"
