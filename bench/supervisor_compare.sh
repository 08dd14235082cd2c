#!/usr/bin/env bash
# bench/supervisor_compare.sh BASE_COMMIT [BUILD_DIR] — the supervisor bench
# of this tree against the one of BASE_COMMIT, alternating in the same
# session (the machine's load drifts: alternating spreads it over both).
#
# Builds BASE_COMMIT's ghostnet-supervisor-bench in a git worktree under
# ${BENCH_BASE_DIR:-/tmp/ghostnet-bench-base}, then runs both binaries
# BENCH_REPEAT (7) times each with BENCH_THREADS (2) scheduler threads over
# 1000, 10000 and 50000 children (a first, untimed 1000 warms each process
# up), and prints the medians in µs per child as a markdown table.
set -euo pipefail

BASE=${1:?usage: bench/supervisor_compare.sh BASE_COMMIT [BUILD_DIR]}
BUILD_DIR=${2:-build}
REPEAT=${BENCH_REPEAT:-7}
THREADS=${BENCH_THREADS:-2}
BASE_DIR=${BENCH_BASE_DIR:-/tmp/ghostnet-bench-base}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NOW_BIN=$ROOT/$BUILD_DIR/bench/ghostnet-supervisor-bench

[[ -x $NOW_BIN ]] || { echo "build $NOW_BIN first (make build)" >&2; exit 1; }
if [[ ! -d $BASE_DIR ]]; then
  git -C "$ROOT" worktree add --detach "$BASE_DIR" "$BASE" >&2
else
  git -C "$BASE_DIR" checkout --detach -q "$BASE"
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$BASE_DIR" -B "$BASE_DIR/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
cmake --build "$BASE_DIR/build" --target ghostnet-supervisor-bench >&2
BASE_BIN=$BASE_DIR/build/bench/ghostnet-supervisor-bench

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((i = 1; i <= REPEAT; ++i)); do
  echo "run $i of $REPEAT" >&2
  for who in before now; do
    bin=$BASE_BIN
    [[ $who == now ]] && bin=$NOW_BIN
    # The last three rows: the warm-up row and the header are dropped.
    BENCH_THREADS=$THREADS "$bin" 1000 1000 10000 50000 2>/dev/null \
      | tail -n 3 | sed "s/^/$who /" >>"$out"
  done
done

awk -F'|' '
  { who = $1; gsub(/ /, "", who); n = $2 + 0
    start[who, n, ++cnt[who, n]] = $5 + 0; stop[who, n, cnt[who, n]] = $6 + 0 }
  function median(arr, who, n,    k, i, j, t, v) {
    k = cnt[who, n]
    for (i = 1; i <= k; ++i) v[i] = arr[who, n, i]
    for (i = 1; i <= k; ++i) for (j = i + 1; j <= k; ++j)
      if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
  }
  END {
    print "| children | start before | start now | ratio | stop before | stop now | ratio |"
    print "|---:|---:|---:|---:|---:|---:|---:|"
    split("1000 10000 50000", sizes, " ")
    for (s = 1; s <= 3; ++s) {
      n = sizes[s]
      a = median(start, "before", n); b = median(start, "now", n)
      c = median(stop, "before", n); d = median(stop, "now", n)
      printf "| %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", n, a, b, b / a, c, d, d / c
    }
  }' "$out"
