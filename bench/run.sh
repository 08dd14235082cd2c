#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] — measures ghostnet against two echo peers.
#
# Servers: epoll (bench-epoll-echo), asio (bench-asio-echo) and ghostnet
# ($BUILD_DIR/samples/ghostnet-node, or $GHOSTNET_SERVER_CMD with `{ready}`
# standing for the ready-file path). Each is pinned to CPU 0, the load
# generator to CPU 1, and driven over 127.0.0.1 only.
#
# Environment: BENCH_DURATION (s per run, 5), BENCH_REPEAT (runs per figure,
# median taken, 1), BENCH_IDLE_CONNS (10000), BENCH_IDLE_SETUP (s allowed to
# open them, 30), BENCH_READY_TIMEOUT (s to wait for a ready file, 20).
#
# Prints a markdown table on stdout; progress and notes go to stderr.
set -euo pipefail

BUILD_DIR=${1:-build}
DURATION=${BENCH_DURATION:-5}
REPEAT=${BENCH_REPEAT:-1}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
IDLE_SETUP=${BENCH_IDLE_SETUP:-30}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-20}

note() { echo "bench: $*" >&2; }
die() { note "$*"; exit 1; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }

[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"
[[ $DURATION =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_DURATION must be a number of seconds"
[[ "$IDLE_CONNS $IDLE_SETUP $READY_TIMEOUT" =~ ^[1-9][0-9]*\ [1-9][0-9]*\ [1-9][0-9]*$ ]] ||
  die "BENCH_IDLE_CONNS, BENCH_IDLE_SETUP and BENCH_READY_TIMEOUT must be positive integers"

# The bench programs live in BUILD_DIR/bench (whole-project tree) or directly
# in BUILD_DIR (bench/ configured on its own).
find_program() {
  local dir
  for dir in "$BUILD_DIR/bench" "$BUILD_DIR"; do
    if [[ -x $dir/$1 ]]; then
      echo "$dir/$1"
      return 0
    fi
  done
  return 1
}

LOADGEN=$(find_program ghostnet-loadgen) ||
  die "ghostnet-loadgen not found in $BUILD_DIR/bench or $BUILD_DIR; build it first"

# Idle connections need a descriptor each, in the server and the generator.
if ! ulimit -Sn 65536 2>/dev/null; then
  ulimit -Sn "$(ulimit -Hn)"
  note "open-file hard limit is $(ulimit -Hn); using it instead of 65536"
fi

PIN_SERVER=() PIN_LOAD=()
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
  PIN_SERVER=(taskset -c 0) PIN_LOAD=(taskset -c 1)
else
  note "fewer than 2 CPUs or no taskset: running unpinned"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ghostnet-bench.XXXXXX")
SERVER_PID=""
IDLE_PID=""

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

cleanup() {
  if [[ -n $IDLE_PID ]]; then kill_bounded "$IDLE_PID"; fi
  if [[ -n $SERVER_PID ]]; then kill_bounded "$SERVER_PID"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server NAME COMMAND — COMMAND is a shell string with `{ready}` in it.
# Sets SERVER_PID, HOST and PORT; returns 1 if no ready file came in time.
start_server() {
  local name=$1 cmd=$2 ready="$WORK/$1.ready" endpoint
  cmd=${cmd//\{ready\}/$(printf '%q' "$ready")}
  rm -f "$ready"
  # exec keeps the PID the server's own, for /proc/PID/status.
  "${PIN_SERVER[@]}" bash -c "exec $cmd" </dev/null >>"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  deadline "$READY_TIMEOUT"
  until [[ -s $ready ]] || ! alive "$SERVER_PID" || expired "$DEADLINE"; do
    sleep 0.05
  done
  if [[ ! -s $ready ]]; then
    note "$name: no ready file after ${READY_TIMEOUT}s; log tail:"
    tail -n 5 "$WORK/$name.log" >&2 || true
    stop_server "$name"
    return 1
  fi
  endpoint=$(sed -n 's/.*"echo"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$ready")
  PORT=${endpoint##*:}
  HOST=${endpoint%:*} HOST=${HOST#\[} HOST=${HOST%\]}
  if [[ ! $PORT =~ ^[0-9]+$ || ! $HOST =~ ^(127\.0\.0\.1|::1)$ ]]; then
    note "$name: ready file does not name a loopback endpoint: $(cat "$ready")"
    stop_server "$name"
    return 1
  fi
}

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill_bounded "$SERVER_PID"
  SERVER_PID=""
  ((RC == 0)) || note "$1: exited with status $RC after SIGTERM"
}

rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

median() {
  printf '%s\n' "$@" | awk '/^[0-9.]+$/' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a";
           else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# load NAME FIELD MODE ARGS... — one loadgen run; sets VALUE to FIELD of its
# RESULT line (or "fail") and adds its errors to ERRORS[NAME]. (No $(...)
# around these functions: ERRORS and IDLE_PID must reach this shell.)
declare -A ERRORS=() RESULTS=()
load() {
  local name=$1 key=$2 mode=$3 out line
  shift 3
  out=$(timeout -k 5 "$(add "$DURATION" 30)" "${PIN_LOAD[@]}" "$LOADGEN" --host "$HOST" \
    --port "$PORT" --mode "$mode" --duration "$DURATION" "$@" 2>>"$WORK/loadgen.log") || true
  line=$(grep '^RESULT ' <<<"$out" | tail -n 1 || true)
  VALUE=fail
  if [[ -z $line ]]; then
    note "$name: $mode run failed"
    return
  fi
  ERRORS[$name]=$(($(field errors "$line") + ${ERRORS[$name]:-0}))
  VALUE=$(field "$key" "$line")
}

# measure_idle NAME — opens IDLE_CONNS connections against the running server
# and sets VALUE to (RSS after READY - RSS before) / connections.
measure_idle() {
  local name=$1 fifo="$WORK/idle.in" out="$WORK/idle.out" before after hold_fd line errors=0
  rm -f "$fifo" "$out"
  mkfifo "$fifo"
  # Our end keeps the loadgen's stdin open until we close it (read-write, so
  # the open does not block; the loadgen itself must not inherit it).
  exec {hold_fd}<>"$fifo"
  before=$(rss_bytes "$SERVER_PID")
  "${PIN_LOAD[@]}" "$LOADGEN" --host "$HOST" --port "$PORT" --mode idle --conns "$IDLE_CONNS" \
    --duration "$IDLE_SETUP" --hold "$(add "$IDLE_SETUP" 30)" <"$fifo" >"$out" 2>>"$WORK/loadgen.log" {hold_fd}>&- &
  IDLE_PID=$!
  deadline $((IDLE_SETUP + 10))
  until grep -q '^READY' "$out" 2>/dev/null || ! alive "$IDLE_PID" || expired "$DEADLINE"; do
    sleep 0.1
  done
  if grep -q '^READY' "$out" 2>/dev/null && alive "$SERVER_PID"; then
    sleep 0.2 # let the last echoes' follow-up reads get registered
    after=$(rss_bytes "$SERVER_PID")
  fi
  exec {hold_fd}>&- # EOF: the loadgen closes everything and prints RESULT
  wait_exit "$IDLE_PID" 30 || true
  kill_bounded "$IDLE_PID"
  IDLE_PID=""
  line=$(grep '^RESULT ' "$out" || true)
  [[ -n $line ]] && errors=$(field errors "$line")
  ERRORS[$name]=$((errors + ${ERRORS[$name]:-0}))
  VALUE=fail
  if [[ -z ${after:-} || $errors -ge $IDLE_CONNS ]]; then
    note "$name: idle run failed"
    return
  fi
  ((errors == 0)) || note "$name: $errors of $IDLE_CONNS idle connections failed"
  VALUE=$(awk -v a="$after" -v b="$before" -v n="$((IDLE_CONNS - errors))" 'BEGIN { printf "%.1f", (a - b) / n }')
}

METRICS=(pipeline bulk rr connect idle)
declare -A LABEL=(
  [pipeline]="64 B pipelined msg/s (50 conns x depth 16)"
  [bulk]="16 KiB bulk MB/s (4 conns x depth 4)"
  [rr]="64 B request/response msg/s (50 conns)"
  [connect]="connects/s (50 concurrent)"
  [idle]="bytes per idle conn ($IDLE_CONNS conns, lower is better)"
)
declare -A FORMAT=([pipeline]=%.0f [bulk]=%.1f [rr]=%.0f [connect]=%.0f [idle]=%.0f)

# bench_server NAME COMMAND — every metric for one server, into RESULTS.
bench_server() {
  local name=$1 cmd=$2 rep m
  declare -A runs=()
  note "$name: throughput runs (${DURATION}s x $REPEAT)"
  start_server "$name" "$cmd" || return 0 # a server that cannot start is reported as n/a
  for ((rep = 0; rep < REPEAT; rep++)); do
    load "$name" msgs_per_s pipeline --conns 50 --size 64 --depth 16
    runs[pipeline]+=" $VALUE"
    load "$name" mb_per_s bulk --conns 4 --size 16384 --depth 4
    runs[bulk]+=" $VALUE"
    load "$name" msgs_per_s rr --conns 50 --size 64
    runs[rr]+=" $VALUE"
    load "$name" connects_per_s connect --concurrency 50
    runs[connect]+=" $VALUE"
  done
  stop_server "$name"
  # Idle memory on a fresh process each time: freed memory of earlier runs
  # would otherwise absorb part of the new connections. A short rr run first
  # does the server's lazy set-up outside the measurement.
  note "$name: idle memory ($IDLE_CONNS conns x $REPEAT)"
  for ((rep = 0; rep < REPEAT; rep++)); do
    start_server "$name" "$cmd" || continue
    DURATION=1 load "$name" msgs_per_s rr --conns 50 --size 64 --warmup 0
    measure_idle "$name"
    runs[idle]+=" $VALUE"
    stop_server "$name"
  done
  for m in "${METRICS[@]}"; do
    # shellcheck disable=SC2086 # the runs are a space-separated list
    RESULTS[$name:$m]=$(median ${runs[$m]:-})
  done
}

SERVERS=()
if EPOLL=$(find_program bench-epoll-echo); then
  SERVERS+=(epoll)
  bench_server epoll "$(printf '%q' "$EPOLL") --host 127.0.0.1 --port 0 --ready-file {ready}"
else
  note "bench-epoll-echo not built; skipping epoll"
fi
if ASIO=$(find_program bench-asio-echo); then
  SERVERS+=(asio)
  bench_server asio "$(printf '%q' "$ASIO") --host 127.0.0.1 --port 0 --ready-file {ready}"
else
  note "bench-asio-echo not built (libasio-dev missing?); skipping asio"
fi
GHOSTNET_CMD=${GHOSTNET_SERVER_CMD:-}
if [[ -z $GHOSTNET_CMD && -x $BUILD_DIR/samples/ghostnet-node ]]; then
  GHOSTNET_CMD="$(printf '%q' "$BUILD_DIR/samples/ghostnet-node") --host=127.0.0.1 --echo.port=0 --scheduler-threads=1 --log-level=warn --ready-file={ready}"
fi
if [[ -z $GHOSTNET_CMD ]]; then
  note "$BUILD_DIR/samples/ghostnet-node not found and GHOSTNET_SERVER_CMD unset; skipping ghostnet"
elif [[ $GHOSTNET_CMD != *"{ready}"* ]]; then
  note "GHOSTNET_SERVER_CMD has no {ready} placeholder; skipping ghostnet"
else
  SERVERS+=(ghostnet)
  bench_server ghostnet "$GHOSTNET_CMD"
fi

cell() { # FORMAT VALUE
  # shellcheck disable=SC2059 # FORMAT comes from the table above
  if [[ $2 =~ ^[0-9.e+-]+$ ]]; then printf "$1" "$2"; else printf '%s' "${2:-n/a}"; fi
}

echo
echo "ghostnet bench: ${DURATION}s per run, median of $REPEAT, $(nproc) CPUs" \
  "(servers on CPU 0, load on CPU 1 when pinned), Linux $(uname -r)"
echo
header="| metric |" rule="|---|"
for s in "${SERVERS[@]}"; do header+=" $s |" rule+="---:|"; done
echo "$header ghostnet/asio |"
echo "$rule---:|"
for m in "${METRICS[@]}"; do
  row="| ${LABEL[$m]} |"
  for s in "${SERVERS[@]}"; do row+=" $(cell "${FORMAT[$m]}" "${RESULTS[$s:$m]:-n/a}") |"; done
  ratio=$(awk -v g="${RESULTS[ghostnet:$m]:-}" -v a="${RESULTS[asio:$m]:-}" \
    'BEGIN { if (g ~ /^[0-9.]+$/ && a ~ /^[0-9.]+$/ && a > 0) printf "%.2f", g / a; else print "n/a" }')
  echo "$row $ratio |"
done
row="| errors (all runs) |"
for s in "${SERVERS[@]}"; do row+=" ${ERRORS[$s]:-0} |"; done
echo "$row |"
