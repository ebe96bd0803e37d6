#!/usr/bin/env bash
# install-deps.sh: installs from Debian 12's archive everything sbx needs to build and to run
# its tests (unit, e2e, the cgroup v2 VM test), or with --bench the peers bench/run measures
# against. Safe to run again: it asks apt only for packages that are missing, refreshes the
# package lists only when there are none (a fresh minbase root) or when an install fails
# because they are stale, and never prompts.
#
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --bench    benchmark peers and tools (bubblewrap, runc, podman, socat, ...)
set -euo pipefail

build_pkgs=(
  build-essential meson ninja-build pkg-config
  libjson-c-dev libseccomp-dev libsqlite3-dev libmicrohttpd-dev
  libyaml-dev libcmocka-dev
  python3 python3-pytest python3-numpy python3-yaml jupyter-notebook   # e2e suite (yaml: the upstream CRDs); the host image runs Debian's Jupyter
  e2fsprogs                                                # mkfs.ext4: capacity-bound volumes
  iproute2 procps util-linux passwd                        # ip, ps, setpriv, useradd
  groff-base zsh                                           # man page check (groff -ww), zsh completion test
  curl sqlite3                                             # health and metrics over the socket; the documented online backup
  busybox-static qemu-system-x86 xz-utils                  # tiny rootfs fixtures, cgroup v2 VM test (tests/vm/vm.sh)
)
bench_pkgs=(
  bubblewrap runc podman socat debootstrap hyperfine       # the peers, the rootfs, the timer
  stress-ng gcc libc6-dev                                  # fairness load; bench/c/sbxbench.c is compiled at bench time
  python3-matplotlib jupyter-notebook                      # the plots; the workspace benchmark's Jupyter
)

pkgs=("${build_pkgs[@]}")
case "${1:-}" in
  --bench) pkgs=("${bench_pkgs[@]}") ;;
  "") ;;
  -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
  *) echo "install-deps.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root (it calls apt-get)" >&2
  exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps.sh: all ${#pkgs[@]} packages already installed"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
          -o Dpkg::Use-Pty=0 --no-install-recommends)
echo "install-deps.sh: installing ${missing[*]}"
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
  apt-get update -qq
fi
if ! apt-get install "${apt_opts[@]}" "${missing[@]}"; then
  echo "install-deps.sh: install failed, refreshing the package lists and retrying" >&2
  apt-get update -qq
  apt-get install "${apt_opts[@]}" "${missing[@]}"
fi
