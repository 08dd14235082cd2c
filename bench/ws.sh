#!/usr/bin/env bash
# bench/ws.sh [BUILD_DIR] — ghostnet's WebSocket echo against Node's `ws`
# and Boost.Beast's websocket: messages/s, same load, same run.
#
# Servers: ghostnet ($BUILD_DIR/samples/ghostnet-node, one scheduler thread,
# its WebSocket echo at /echo on the "http" endpoint of its ready file; or
# $GHOSTNET_WS_SERVER_CMD with `{ready}` for the ready-file path), ws
# (bench/peers/ws_echo.js on $NODEJS with Debian's node-ws from
# $WS_NODE_PATH) and beast (bench-beast-ws-echo, from $BUILD_DIR/bench,
# $BUILD_DIR or $BENCH_PEER_DIR). Each server is pinned to CPU 0, the load
# generator (bench-ws-loadgen, found the same way) to CPU 1; everything
# listens on 127.0.0.1 only. No permessage-deflate anywhere.
#
# Each run: $BENCH_CONNS connections upgrade on /echo, each keeps
# $BENCH_DEPTH masked $BENCH_SIZE-byte binary messages in flight; the
# echoes of $BENCH_WARMUP s are discarded, those of the next
# $BENCH_DURATION s counted (every payload checked). Reports messages/s,
# ghostnet's ratio to each server (the issue's target: >= 1.5 x ws,
# >= 1.0 x beast), p50/p99 round-trip latency, errors (wrong echoes +
# connections lost mid-run), the server's peak RSS (VmHWM), and the CPU
# the server (over the whole run) and the load generator (while counting)
# used: a load generator near 100 % means the server could do more.
#
# Environment: BENCH_DURATION (s counted per run, 10), BENCH_CONNS (50),
# BENCH_SIZE (bytes per message, 64), BENCH_DEPTH (messages in flight per
# connection, 1), BENCH_WARMUP (s discarded per run, 2; 0: none),
# BENCH_REPEAT (runs per server, median taken, 1), BENCH_READY_TIMEOUT (s to
# wait for a server, 20), BENCH_SERVERS (subset of "ghostnet ws beast"),
# NODEJS (node), WS_NODE_PATH (/usr/share/nodejs).
#
# Prints a markdown table on stdout; progress and notes go to stderr.
# Example: BENCH_DURATION=5 BENCH_PEER_DIR=/tmp/wsbench ./bench/ws.sh build
set -euo pipefail

BUILD_DIR=${1:-build}
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNS:-50}
SIZE=${BENCH_SIZE:-64}
DEPTH=${BENCH_DEPTH:-1}
WARMUP=${BENCH_WARMUP:-2}
REPEAT=${BENCH_REPEAT:-1}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-20}
SERVER_LIST=${BENCH_SERVERS:-ghostnet ws beast}
NODEJS=${NODEJS:-node}
WS_NODE_PATH=${WS_NODE_PATH:-/usr/share/nodejs}
WS_ECHO_JS="$(cd "$(dirname "$0")" && pwd)/peers/ws_echo.js"

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

[[ "$DURATION $CONNS $SIZE $DEPTH $REPEAT $READY_TIMEOUT" =~ ^[1-9][0-9]*(\ [1-9][0-9]*){5}$ ]] ||
  die "BENCH_DURATION, BENCH_CONNS, BENCH_SIZE, BENCH_DEPTH, BENCH_REPEAT and BENCH_READY_TIMEOUT must be positive integers"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number of seconds"
((DURATION <= 60 && WARMUP <= 60)) || die "BENCH_DURATION and BENCH_WARMUP are at most 60 (the load generator's bound)"
for s in $SERVER_LIST; do
  [[ $s =~ ^(ghostnet|ws|beast)$ ]] || die "BENCH_SERVERS: unknown server $s"
done
LOADGEN=$(find_program bench-ws-loadgen) ||
  die "bench-ws-loadgen not built (cmake --build $BUILD_DIR --target bench-ws-loadgen; or set BENCH_PEER_DIR)"

bench_workdir ws

# start_server NAME — starts it pinned to CPU 0; sets SERVER_PID, HOST and
# PORT. Returns 1 (server stopped, a note on stderr) if it did not come up.
start_server() {
  local name=$1 cmd ready="$WORK/$1.ready"
  case $name in
    ghostnet) cmd=$GHOSTNET_CMD ;;
    # env, not VAR=x: launch_server execs the command, so the PID stays node's.
    ws) cmd="env NODE_PATH=$(printf '%q' "$WS_NODE_PATH${NODE_PATH:+:$NODE_PATH}") $(printf '%q' "$NODEJS") $(printf '%q' "$WS_ECHO_JS") 0 {ready}" ;;
    beast) cmd="$(printf '%q' "$BEAST") --host 127.0.0.1 --port 0 --ready-file {ready}" ;;
  esac
  cmd=${cmd//\{ready\}/$(printf '%q' "$ready")}
  launch_server "$name" "$cmd" http "$ready"
}


# result_field LINE KEY — the value of KEY=VALUE in the loadgen's RESULT line.
result_field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

CLK_TCK=$(getconf CLK_TCK)

# run_loadgen NAME — one load-generator run against the running server;
# sets RATE, P50, P99 (µs), ERRS (wrong echoes + connections lost), LOAD_CPU
# and SERVER_CPU (%), or "fail".
run_loadgen() {
  local name=$1 out rc=0 line ticks0 ticks1 t0 t1
  RATE=fail P50=fail P99=fail ERRS=fail LOAD_CPU=fail SERVER_CPU=fail
  ticks0=$(cpu_ticks "$SERVER_PID") t0=${EPOCHREALTIME/./}
  out=$(timeout -k 5 $((WARMUP + DURATION + 30)) "${PIN_LOAD[@]}" "$LOADGEN" \
    --host "$HOST" --port "$PORT" --path /echo --connections "$CONNS" --size "$SIZE" \
    --depth "$DEPTH" --warmup "$WARMUP" --duration "$DURATION" 2>"$WORK/loadgen.err") || rc=$?
  ticks1=$(cpu_ticks "$SERVER_PID") t1=${EPOCHREALTIME/./}
  SERVER_CPU=$(awk -v a="${ticks0:-x}" -v b="${ticks1:-x}" -v hz="$CLK_TCK" -v us=$((t1 - t0)) \
    'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && us > 0) printf "%.0f", (b - a) / hz * 1e8 / us; else print "fail" }')
  cat "$WORK/loadgen.err" >>"$WORK/loadgen-$name.log"
  line=$(grep '^RESULT ' <<<"$out" || true)
  if [[ -z $line ]]; then
    note "$name: bench-ws-loadgen failed (status $rc): $(tail -n 3 "$WORK/loadgen.err" | tr '\n' ' ')"
    return 0
  fi
  RATE=$(result_field "$line" messages_per_s)
  P50=$(result_field "$line" p50_us)
  P99=$(result_field "$line" p99_us)
  ERRS=$(($(result_field "$line" errors) + $(result_field "$line" closed)))
  LOAD_CPU=$(awk -v c="$(result_field "$line" cpu)" 'BEGIN { if (c ~ /^[0-9.]+$/) printf "%.0f", c * 100; else print "n/a" }')
  if ((rc != 0)); then
    note "$name: bench-ws-loadgen reported trouble (status $rc): $(tail -n 3 "$WORK/loadgen.err" | tr '\n' ' ')"
  fi
}

declare -A RESULTS=()

bench_server() { # NAME
  local name=$1 rep rates="" p50s="" p99s="" errs=0 hwm server_cpus="" load_cpus=""
  note "$name: $CONNS connections x depth $DEPTH, $SIZE B messages, ${WARMUP}s warm-up + ${DURATION}s x $REPEAT"
  start_server "$name" || return 0
  for ((rep = 0; rep < REPEAT; rep++)); do
    run_loadgen "$name"
    rates+=" $RATE" p50s+=" $P50" p99s+=" $P99" server_cpus+=" $SERVER_CPU" load_cpus+=" $LOAD_CPU"
    if [[ $ERRS =~ ^[0-9]+$ ]]; then errs=$((errs + ERRS)); fi
    note "$name: $RATE messages/s, p50 $P50 us, p99 $P99 us, errors $ERRS, CPU server $SERVER_CPU % loadgen $LOAD_CPU %"
  done
  alive "$SERVER_PID" || note "$name: server died during the run"
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || true)
  stop_server "$name"
  # shellcheck disable=SC2086 # space-separated lists
  RESULTS[$name:rate]=$(median $rates) RESULTS[$name:p50]=$(median $p50s) RESULTS[$name:p99]=$(median $p99s) \
    RESULTS[$name:server_cpu]=$(median $server_cpus) RESULTS[$name:load_cpu]=$(median $load_cpus)
  RESULTS[$name:errs]=$errs
  RESULTS[$name:rss]=$(awk -v k="${hwm:-x}" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "n/a" }')
}

# The servers.
GHOSTNET_CMD=${GHOSTNET_WS_SERVER_CMD:-}
NODE=$BUILD_DIR/samples/ghostnet-node
if [[ -z $GHOSTNET_CMD && -x $NODE ]]; then
  GHOSTNET_CMD="$(printf '%q' "$NODE") --host=127.0.0.1 --echo.port=0 --tls-echo.port=0 --http.port=0 --data-dir=$(printf '%q' "$WORK/node-data") --scheduler-threads=1 --log-level=warn --ready-file={ready}"
fi
declare -A LABEL=([ghostnet]=ghostnet [ws]=ws [beast]=beast)
SERVERS=()
for s in $SERVER_LIST; do
  case $s in
    ghostnet)
      if [[ -z $GHOSTNET_CMD ]]; then
        note "$NODE not found and GHOSTNET_WS_SERVER_CMD unset; skipping ghostnet"
      elif [[ $GHOSTNET_CMD != *"{ready}"* ]]; then
        note "GHOSTNET_WS_SERVER_CMD has no {ready} placeholder; skipping ghostnet"
      else
        SERVERS+=(ghostnet)
      fi
      ;;
    ws)
      if ws_version=$(NODE_PATH="$WS_NODE_PATH${NODE_PATH:+:$NODE_PATH}" "$NODEJS" \
        -p "require('ws/package.json').version" 2>/dev/null); then
        SERVERS+=(ws)
        LABEL[ws]="ws $ws_version (Node $("$NODEJS" --version))"
      else
        note "$NODEJS with the ws package (apt-get install -y nodejs node-ws; or set WS_NODE_PATH) not found; skipping ws"
      fi
      ;;
    beast)
      if BEAST=$(find_program bench-beast-ws-echo); then
        SERVERS+=(beast)
      else
        note "bench-beast-ws-echo not built (libboost-dev missing?; or set BENCH_PEER_DIR); skipping beast"
      fi
      ;;
  esac
done
((${#SERVERS[@]} > 0)) || die "no server to measure"

for s in "${SERVERS[@]}"; do bench_server "$s"; done

# The table.
declare -A TARGET=([ghostnet]="—" [ws]="≥ 1.50" [beast]="≥ 1.00")
echo "| server | messages/s ($CONNS conns, depth $DEPTH, $SIZE B, ${DURATION}s) | ghostnet/server | target | p50 µs | p99 µs | errors | peak RSS MiB | server CPU % | loadgen CPU % |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for s in "${SERVERS[@]}"; do
  echo "| ${LABEL[$s]} | $(fmt %.0f "${RESULTS[$s:rate]:-}") |" \
    "$(ratio "${RESULTS[ghostnet:rate]:-}" "${RESULTS[$s:rate]:-}") | ${TARGET[$s]:-} |" \
    "$(fmt %.0f "${RESULTS[$s:p50]:-}") | $(fmt %.0f "${RESULTS[$s:p99]:-}") |" \
    "${RESULTS[$s:errs]:-n/a} | ${RESULTS[$s:rss]:-n/a} |" \
    "$(fmt %.0f "${RESULTS[$s:server_cpu]:-}") | $(fmt %.0f "${RESULTS[$s:load_cpu]:-}") |"
done
