#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] — measures ghostnet against two echo peers.
#
# Servers: epoll (bench-epoll-echo), asio (bench-asio-echo) and ghostnet
# ($BUILD_DIR/samples/ghostnet-node, or $GHOSTNET_SERVER_CMD with `{ready}`
# standing for the ready-file path). Each is pinned to CPU 0, the load
# generator to CPU 1, and driven over 127.0.0.1 only.
#
# TLS rows: asio is bench-asio-tls-echo, ghostnet the node's TLS echo service
# (ready-file key "tls-echo"), both with a throwaway EC P-256 certificate made
# here. $GHOSTNET_TLS_SERVER_CMD replaces the node's command (`{cert}` and
# `{key}` stand for the certificate and key files, `{ready}` as above;
# default: $GHOSTNET_SERVER_CMD if set), $GHOSTNET_TLS_READY_KEY the key
# ("tls-echo"). A ghostnet without that endpoint gets n/a.
#
# Environment: BENCH_DURATION (s per run, 5), BENCH_REPEAT (runs per figure,
# median taken, 1), BENCH_IDLE_CONNS (10000), BENCH_TLS_IDLE_CONNS (2000),
# BENCH_IDLE_SETUP (s allowed to open them, 30), BENCH_READY_TIMEOUT (s to wait for a ready file, 20),
# BENCH_ONLY (plain: without the TLS rows; tls: only them; default both).
#
# Prints a markdown table on stdout; progress and notes go to stderr.
set -euo pipefail

BUILD_DIR=${1:-build}
DURATION=${BENCH_DURATION:-5}
REPEAT=${BENCH_REPEAT:-1}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
TLS_IDLE_CONNS=${BENCH_TLS_IDLE_CONNS:-2000}
IDLE_SETUP=${BENCH_IDLE_SETUP:-30}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-20}
ONLY=${BENCH_ONLY:-}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
add() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }

[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"
[[ $DURATION =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_DURATION must be a number of seconds"
[[ "$IDLE_CONNS $TLS_IDLE_CONNS $IDLE_SETUP $READY_TIMEOUT" =~ ^[1-9][0-9]*(\ [1-9][0-9]*){3}$ ]] ||
  die "BENCH_IDLE_CONNS, BENCH_TLS_IDLE_CONNS, BENCH_IDLE_SETUP and BENCH_READY_TIMEOUT must be positive integers"
[[ $ONLY =~ ^(|plain|tls)$ ]] || die "BENCH_ONLY must be plain or tls (or empty for both)"
RUN_PLAIN=1 RUN_TLS=1 # non-empty: run those rows
if [[ $ONLY == tls ]]; then RUN_PLAIN=""; fi
if [[ $ONLY == plain ]]; then RUN_TLS=""; fi

# The bench programs live in BUILD_DIR/bench (whole-project tree) or directly
# in BUILD_DIR (bench/ configured on its own).
LOADGEN=$(find_program ghostnet-loadgen) ||
  die "ghostnet-loadgen not found in $BUILD_DIR/bench or $BUILD_DIR; build it first"

# Idle connections need a descriptor each, in the server and the generator.
if ! ulimit -Sn 65536 2>/dev/null; then
  ulimit -Sn "$(ulimit -Hn)"
  note "open-file hard limit is $(ulimit -Hn); using it instead of 65536"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ghostnet-bench.XXXXXX")
TLS_CERT="$WORK/tls.crt" TLS_KEY="$WORK/tls.key" # made when the TLS rows run
SERVER_PID=""
IDLE_PID=""

cleanup() {
  if [[ -n $IDLE_PID ]]; then kill_bounded "$IDLE_PID"; fi
  if [[ -n $SERVER_PID ]]; then kill_bounded "$SERVER_PID"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server NAME COMMAND [KEY] — COMMAND is a shell string with `{ready}`
# in it (and `{cert}`, `{key}` for TLS servers); KEY names the endpoint in
# the ready file ("echo"). Sets SERVER_PID, HOST and PORT; returns 1 if no
# ready file came in time or it has no loopback endpoint under KEY.
start_server() {
  local name=$1 cmd=$2 key=${3:-echo} ready="$WORK/$1.ready"
  cmd=${cmd//\{ready\}/$(printf '%q' "$ready")}
  cmd=${cmd//\{cert\}/$(printf '%q' "$TLS_CERT")}
  cmd=${cmd//\{key\}/$(printf '%q' "$TLS_KEY")}
  launch_server "$name" "$cmd" "$key" "$ready"
}


rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }

# User + system CPU time of the running server so far, in clock ticks (the
# fields after the command name of /proc/PID/stat: utime is the 12th).
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
server_cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$SERVER_PID/stat" 2>/dev/null; }

# cpu_per_handshake TICKS_BEFORE — the server's CPU microseconds per TLS
# handshake of the last load run (LINE; the whole run, warm-up included).
cpu_per_handshake() {
  local after handshakes
  after=$(server_cpu_ticks) handshakes=$(field tls_handshakes "$LINE")
  awk -v a="${after:-x}" -v b="$1" -v hz="$CLK_TCK" -v n="${handshakes:-0}" \
    'BEGIN { if (a ~ /^[0-9]+$/ && n > 0) printf "%.1f", (a - b) * 1e6 / hz / n; else print "fail" }'
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

median() {
  printf '%s\n' "$@" | awk '/^[0-9.]+$/' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a";
           else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# load NAME FIELD MODE ARGS... — one loadgen run; sets VALUE to FIELD of its
# RESULT line (or "fail"), LINE to that line, and adds its errors to
# ERRORS[NAME]. (No $(...) around these functions: ERRORS and IDLE_PID must
# reach this shell.)
declare -A ERRORS=() RESULTS=()
load() {
  local name=$1 key=$2 mode=$3 out line
  shift 3
  out=$(timeout -k 5 "$(add "$DURATION" 30)" "${PIN_LOAD[@]}" "$LOADGEN" --host "$HOST" \
    --port "$PORT" --mode "$mode" --duration "$DURATION" "$@" 2>>"$WORK/loadgen.log") || true
  line=$(grep '^RESULT ' <<<"$out" | tail -n 1 || true)
  LINE=$line VALUE=fail
  if [[ -z $line ]]; then
    note "$name: $mode run failed"
    return
  fi
  ERRORS[$name]=$(($(field errors "$line") + ${ERRORS[$name]:-0}))
  VALUE=$(field "$key" "$line")
}

# measure_idle NAME — opens IDLE_CONNS connections against the running server
# and sets VALUE to (RSS after READY - RSS before) / connections.
measure_idle() { # NAME [CONNS [LOADGEN ARGS...]]
  local name=$1 conns=${2:-$IDLE_CONNS} fifo="$WORK/idle.in" out="$WORK/idle.out" before after hold_fd line errors=0
  shift $(($# < 2 ? $# : 2))
  rm -f "$fifo" "$out"
  mkfifo "$fifo"
  # Our end keeps the loadgen's stdin open until we close it (read-write, so
  # the open does not block; the loadgen itself must not inherit it).
  exec {hold_fd}<>"$fifo"
  before=$(rss_bytes "$SERVER_PID")
  "${PIN_LOAD[@]}" "$LOADGEN" --host "$HOST" --port "$PORT" --mode idle --conns "$conns" \
    --duration "$IDLE_SETUP" --hold "$(add "$IDLE_SETUP" 30)" "$@" <"$fifo" >"$out" 2>>"$WORK/loadgen.log" {hold_fd}>&- &
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
  if [[ -z ${after:-} || $errors -ge $conns ]]; then
    note "$name: idle run failed"
    return
  fi
  ((errors == 0)) || note "$name: $errors of $conns idle connections failed"
  VALUE=$(awk -v a="$after" -v b="$before" -v n="$((conns - errors))" 'BEGIN { printf "%.1f", (a - b) / n }')
}

PLAIN_METRICS=(pipeline bulk rr connect connect8 idle)
TLS_METRICS=(tls_connect tls_cpu tls_pipeline tls_rr tls_bulk tls_idle)
declare -A LABEL=(
  [pipeline]="64 B pipelined msg/s (50 conns x depth 16)"
  [bulk]="16 KiB bulk MB/s (4 conns x depth 4)"
  [rr]="64 B request/response msg/s (50 conns)"
  [connect]="connects/s (50 concurrent, 1 B echo)"
  [connect8]="connect, 64 B echo, close /s (8 in flight, sources 127.0.0.1-16)"
  [idle]="bytes per idle conn ($IDLE_CONNS conns, lower is better)"
  [tls_connect]="TLS handshakes/s (50 concurrent, full TLS 1.3 + 64 B echo)"
  [tls_cpu]="TLS server CPU us per handshake (lower is better)"
  [tls_pipeline]="TLS 64 B pipelined msg/s (50 conns x depth 16)"
  [tls_rr]="TLS 64 B request/response msg/s (50 conns)"
  [tls_bulk]="TLS 16 KiB MB/s (4 conns x depth 4)"
  [tls_idle]="bytes per idle TLS conn ($TLS_IDLE_CONNS conns, lower is better)"
)
declare -A FORMAT=([pipeline]=%.0f [bulk]=%.1f [rr]=%.0f [connect]=%.0f [connect8]=%.0f
  [idle]=%.0f [tls_connect]=%.0f [tls_cpu]=%.0f [tls_pipeline]=%.0f [tls_rr]=%.0f
  [tls_bulk]=%.1f [tls_idle]=%.0f)

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
    load "$name" connects_per_s connect --concurrency 50 --size 1
    runs[connect]+=" $VALUE"
    load "$name" connects_per_s connect --concurrency 8 --size 64 --sources 16
    runs[connect8]+=" $VALUE"
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
  for m in "${PLAIN_METRICS[@]}"; do
    # shellcheck disable=SC2086 # the runs are a space-separated list
    RESULTS[$name:$m]=$(median ${runs[$m]:-})
  done
}

# bench_tls_server NAME COMMAND KEY — the TLS metrics for one server (its
# endpoint is KEY in the ready file), into RESULTS.
bench_tls_server() {
  local name=$1 cmd=$2 key=$3 rep m ticks
  declare -A runs=()
  note "$name: TLS runs (${DURATION}s x $REPEAT)"
  start_server "$name-tls" "$cmd" "$key" || return 0 # reported as n/a
  for ((rep = 0; rep < REPEAT; rep++)); do
    ticks=$(server_cpu_ticks)
    load "$name" connects_per_s connect --tls --concurrency 50
    runs[tls_connect]+=" $VALUE"
    runs[tls_cpu]+=" $(cpu_per_handshake "$ticks")"
    load "$name" msgs_per_s pipeline --tls --conns 50 --size 64 --depth 16
    runs[tls_pipeline]+=" $VALUE"
    load "$name" msgs_per_s rr --tls --conns 50 --size 64
    runs[tls_rr]+=" $VALUE"
    load "$name" mb_per_s bulk --tls --conns 4 --size 16384 --depth 4
    runs[tls_bulk]+=" $VALUE"
  done
  stop_server "$name-tls"
  # Idle memory on a fresh process, as for the plain rows; handshakes are
  # opened 100 at a time (the server's CPU, not its memory, limits them).
  note "$name: idle TLS memory ($TLS_IDLE_CONNS conns x $REPEAT)"
  for ((rep = 0; rep < REPEAT; rep++)); do
    start_server "$name-tls" "$cmd" "$key" || continue
    DURATION=1 load "$name" connects_per_s connect --tls --concurrency 10 --warmup 0
    measure_idle "$name" "$TLS_IDLE_CONNS" --tls --batch 100
    runs[tls_idle]+=" $VALUE"
    stop_server "$name-tls"
  done
  for m in "${TLS_METRICS[@]}"; do
    # shellcheck disable=SC2086 # the runs are a space-separated list
    RESULTS[$name:$m]=$(median ${runs[$m]:-})
  done
}

SERVERS=()
add_column() { [[ " ${SERVERS[*]} " == *" $1 "* ]] || SERVERS+=("$1"); }

GHOSTNET_CMD=${GHOSTNET_SERVER_CMD:-}
NODE=$BUILD_DIR/samples/ghostnet-node
# Every service on a free port; what the node makes itself goes to $WORK.
NODE_ARGS="--host=127.0.0.1 --echo.port=0 --tls-echo.port=0 --http.port=0 --data-dir=$(printf '%q' "$WORK/node-data") --scheduler-threads=1 --log-level=warn --ready-file={ready}"
if [[ -z $GHOSTNET_CMD && -x $NODE ]]; then
  GHOSTNET_CMD="$(printf '%q' "$NODE") $NODE_ARGS"
fi
ghostnet_usable() { # COMMAND VARIABLE — notes why ghostnet is skipped
  if [[ -z $1 ]]; then
    note "$NODE not found and $2 unset; skipping ghostnet"
  elif [[ $1 != *"{ready}"* ]]; then
    note "$2 has no {ready} placeholder; skipping ghostnet"
  else
    return 0
  fi
  return 1
}

if [[ -n $RUN_PLAIN ]]; then
  if EPOLL=$(find_program bench-epoll-echo); then
    add_column epoll
    bench_server epoll "$(printf '%q' "$EPOLL") --host 127.0.0.1 --port 0 --ready-file {ready}"
  else
    note "bench-epoll-echo not built; skipping epoll"
  fi
  if ASIO=$(find_program bench-asio-echo); then
    add_column asio
    bench_server asio "$(printf '%q' "$ASIO") --host 127.0.0.1 --port 0 --ready-file {ready}"
  else
    note "bench-asio-echo not built (libasio-dev missing?); skipping asio"
  fi
  if ghostnet_usable "$GHOSTNET_CMD" GHOSTNET_SERVER_CMD; then
    add_column ghostnet
    bench_server ghostnet "$GHOSTNET_CMD"
  fi
fi

if [[ -n $RUN_TLS ]]; then
  # A throwaway certificate, shared by both TLS servers.
  if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -keyout "$TLS_KEY" -out "$TLS_CERT" >"$WORK/openssl.log" 2>&1; then
    note "openssl req failed (openssl missing?); skipping the TLS rows"
    RUN_TLS=""
  fi
fi
if [[ -n $RUN_TLS ]]; then
  if ASIO_TLS=$(find_program bench-asio-tls-echo); then
    add_column asio
    bench_tls_server asio "$(printf '%q' "$ASIO_TLS") --cert {cert} --key {key} --host 127.0.0.1 --port 0 --ready-file {ready}" echo
  else
    note "bench-asio-tls-echo not built (libasio-dev missing?); skipping asio TLS"
  fi
  GHOSTNET_TLS_CMD=${GHOSTNET_TLS_SERVER_CMD:-${GHOSTNET_SERVER_CMD:-}}
  if [[ -z $GHOSTNET_TLS_CMD && -x $NODE ]]; then
    GHOSTNET_TLS_CMD="$(printf '%q' "$NODE") $NODE_ARGS --tls-echo.certificate={cert} --tls-echo.private-key={key}"
  fi
  if ghostnet_usable "$GHOSTNET_TLS_CMD" GHOSTNET_TLS_SERVER_CMD; then
    add_column ghostnet
    bench_tls_server ghostnet "$GHOSTNET_TLS_CMD" "${GHOSTNET_TLS_READY_KEY:-tls-echo}"
  fi
fi

METRICS=()
if [[ -n $RUN_PLAIN ]]; then METRICS+=("${PLAIN_METRICS[@]}"); fi
if [[ -n $RUN_TLS ]]; then METRICS+=("${TLS_METRICS[@]}"); fi

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
if [[ -n $RUN_TLS ]]; then
  echo
  echo "TLS rows: asio is bench-asio-tls-echo (asio::ssl); EC P-256 certificate; the" \
    "loadgen verifies nothing and resumes nothing (every handshake is a full one)." \
    "Server CPU per handshake: its user + system time over the handshake runs."
fi
