#!/usr/bin/env bash
# test.sh: the second command of the README, and exactly what CI runs (.ci/run). As root on
# Debian 12 it installs the dependencies, then runs every check in a fixed order:
#
#   1. normal build (./build, -Dwerror=true) and its unit tests (meson test)
#   2. AddressSanitizer + UBSan build (./build-asan) and its unit tests
#   3. the cgroup v2 VM test (tests/vm/run-cgroupv2.sh), when the project has it
#   4. the end-to-end suite (tests/e2e, pytest) against ./build
#   5. the e2e smoke subset (pytest -m smoke) against ./build-asan: the daemon's stderr is
#      checked for sanitizer reports
#   6. bench/run --quick (never fails on a timing, only when a tool cannot run at all)
#
# A failing step does not stop the later ones (steps that need a failed build are reported as
# failed too), so one run shows everything that is wrong. The last line is a one-line summary;
# the exit status is non-zero when anything failed. pytest's "no tests collected" (exit 5)
# counts as a failure: a suite that silently runs nothing must not look green.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
py=/usr/bin/python3

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: must run as root (it installs packages, creates test users and runs sbxd)" >&2
  exit 1
fi

passed=()
failed=()
skipped=()
declare -A ok=()

# step NAME CMD...: runs CMD, records the result under NAME.
step() {
  local name=$1; shift
  printf '\n==== %s\n' "$name"
  local t0=$SECONDS rc=0
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    passed+=("$name"); ok[$name]=1
    printf '==== %s: passed (%ss)\n' "$name" $((SECONDS - t0))
  else
    failed+=("$name (rc $rc)")
    printf '==== %s: FAILED with status %s (%ss)\n' "$name" "$rc" $((SECONDS - t0))
  fi
}

# needs STEP NAME: records NAME as failed without running it when STEP did not pass.
needs() {
  local dep=$1 name=$2
  if [ -z "${ok[$dep]:-}" ]; then
    failed+=("$name (not run: $dep failed)")
    printf '\n==== %s: not run because %s failed\n' "$name" "$dep"
    return 1
  fi
}

build_normal() {
  if [ -f build/build.ninja ]; then
    meson configure build -Dwerror=true
  else
    meson setup build -Dwerror=true --prefix=/usr/local
  fi && ninja -C build
}

build_asan() {
  if [ -f build-asan/build.ninja ]; then
    meson configure build-asan -Db_sanitize=address,undefined -Db_lundef=false
  else
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
  fi && ninja -C build-asan
}

# pytest_run BUILD_DIR ARGS...: the e2e suite against one build; exit 5 (nothing collected)
# is reported and fails like any other non-zero status.
pytest_run() {
  local build=$1; shift
  local rc=0
  SBX_BUILD="$repo/$build" timeout -k 30 3600 "$py" -m pytest tests/e2e -ra "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests (exit 5); counting that as a failure" >&2
  fi
  return "$rc"
}

# The VM is the project's own (tests/vm/vm.sh, from Debian's qemu-system-x86, kernel and
# busybox-static); only SBX_SKIP_VM=1 makes the script exit 77: reported as skipped, with
# its reason, not as passed. Missing packages fail it, saying what to install.
vm_test() {
  local rc=0
  timeout -k 30 1800 bash tests/vm/run-cgroupv2.sh "$repo/build" || rc=$?
  if [ "$rc" -eq 77 ]; then
    skipped+=("cgroupv2-vm")
    return 0
  fi
  return "$rc"
}

step deps scripts/install-deps.sh
if [ -z "${ok[deps]:-}" ]; then
  echo "test.sh: cannot go on without the dependencies"
  echo "test.sh: SUMMARY: 0 passed, 1 failed: deps"
  exit 1
fi

step build build_normal
needs build unit && step unit meson test -C build --print-errorlogs
step build-asan build_asan
needs build-asan unit-asan && step unit-asan meson test -C build-asan --print-errorlogs
if [ -f tests/vm/run-cgroupv2.sh ]; then
  needs build cgroupv2-vm && step cgroupv2-vm vm_test
else
  printf '\n==== cgroupv2-vm: tests/vm/run-cgroupv2.sh not in this tree, skipped\n'
fi
needs build e2e && step e2e pytest_run build
needs build-asan e2e-smoke-asan && step e2e-smoke-asan pytest_run build-asan -m smoke
needs build bench && step bench env SBX_BUILD="$repo/build" timeout -k 30 1800 bench/run --quick

echo
[ ${#skipped[@]} -gt 0 ] && echo "test.sh: skipped (see its output above for why): ${skipped[*]}"
if [ ${#failed[@]} -eq 0 ]; then
  echo "test.sh: SUMMARY: all ${#passed[@]} steps passed: ${passed[*]}"
  exit 0
fi
summary=$(printf '%s, ' "${failed[@]}")
echo "test.sh: SUMMARY: ${#passed[@]} passed, ${#failed[@]} FAILED: ${summary%, }"
exit 1
