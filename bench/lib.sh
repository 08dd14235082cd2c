# bench/lib.sh — helpers the bench scripts share (sourced, not run): notes,
# bounded waits on processes, finding the bench programs, CPU pinning.
# The sourcing script sets BUILD_DIR first (and BENCH_PEER_DIR, if any).

note() { echo "bench: $*" >&2; }
die() { note "$*"; exit 1; }

# find_program NAME — the path of a bench program: BUILD_DIR/bench (whole
# project tree), BUILD_DIR (bench/ configured on its own) or BENCH_PEER_DIR.
find_program() {
  local dir
  for dir in "$BUILD_DIR/bench" "$BUILD_DIR" ${BENCH_PEER_DIR:+"$BENCH_PEER_DIR"}; do
    if [[ -x $dir/$1 ]]; then
      echo "$dir/$1"
      return 0
    fi
  done
  return 1
}

# PIN_SERVER / PIN_LOAD: the commands that pin a server to CPU 0 and the
# load to CPU 1 (empty where that cannot be done).
PIN_SERVER=() PIN_LOAD=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
  PIN_SERVER=(taskset -c 0) PIN_LOAD=(taskset -c 1)
else
  note "fewer than 2 CPUs or no taskset: running unpinned"
fi

# True while PID runs (kill -0 alone also succeeds on an unreaped zombie).
alive() {
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) } # the state follows the command name
  [[ ${stat:0:1} != [ZX] ]]
}

# deadline SECONDS / expired DEADLINE: wall-clock bounds for polling loops.
deadline() { DEADLINE=$((${EPOCHREALTIME/./} + $1 * 1000000)); }
expired() { ((${EPOCHREALTIME/./} >= $1)); }

# wait_exit PID SECONDS — polls until PID is gone or the time is up.
wait_exit() {
  deadline "$2"
  while alive "$1"; do
    expired "$DEADLINE" && return 1
    sleep 0.05
  done
}

kill_bounded() { # PID: TERM, up to 10 s, then KILL; sets RC to its exit status
  RC=0
  kill -TERM "$1" 2>/dev/null || true
  wait_exit "$1" 10 || kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || RC=$?
}
