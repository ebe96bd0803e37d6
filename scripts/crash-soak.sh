#!/usr/bin/env bash
# crash-soak.sh: the crash-consistency test (tests/e2e/test_crash_consistency.py) for a long
# time, for nightly runs: ROUNDS rounds per run (default 200), RUNS runs (default 1), each with
# a fresh seed that is printed (and kept in the log), so a failure can be replayed with
# SBX_CRASH_SEED=N. Runs as root against the build in $SBX_BUILD (default ./build).
#
#   scripts/crash-soak.sh                 200 rounds, once
#   ROUNDS=1000 RUNS=5 scripts/crash-soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SBX_BUILD="${SBX_BUILD:-$PWD/build}"
rounds="${ROUNDS:-200}"
runs="${RUNS:-1}"
for ((i = 1; i <= runs; i++)); do
  echo "crash-soak: run $i of $runs, $rounds rounds"
  SBX_CRASH_ROUNDS="$rounds" /usr/bin/python3 -m pytest tests/e2e/test_crash_consistency.py -x -q -s
done
