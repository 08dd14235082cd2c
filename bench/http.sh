#!/usr/bin/env bash
# bench/http.sh [BUILD_DIR] — ghostnet's HTTP/1.1 server against nginx and
# Boost.Beast.
#
# Servers: ghostnet ($BUILD_DIR/samples/ghostnet-node, one scheduler thread,
# or $GHOSTNET_HTTP_SERVER_CMD with `{ready}` for the ready-file path and
# `{root}` for the static root; its endpoint is "http" in the ready file),
# nginx ($NGINX, /usr/sbin/nginx: one worker, no master, foreground, a
# config made here) and Beast (bench-beast-http, from $BUILD_DIR/bench,
# $BUILD_DIR or $BENCH_PEER_DIR). Each server is pinned to CPU 0, the client
# (wrk, curl) to CPU 1; everything listens on 127.0.0.1 only.
#
# Part 1 (hello): `wrk -t1 -c$BENCH_CONNS -d$BENCH_DURATION --latency` on
# GET /hello (every server answers the node's 20-byte body, text/plain,
# with Date and Server headers), after a short warm-up run. Reports req/s,
# p50 and p99 latency, wrk's socket errors and non-2xx responses.
# Part 2 (file): a $BENCH_FILE_SIZE file of random bytes under the static
# root (GET /static/big.bin; nginx with sendfile on), downloaded
# $BENCH_DOWNLOADS times by curl into /dev/null on a fresh server; reports
# the median MB/s (10^6 bytes) and the server's VmRSS before the first
# download and its maximum (sampled every 100 ms) during them.
#
# Environment: BENCH_DURATION (s per wrk run, 10), BENCH_CONNS (50),
# BENCH_WARMUP (s of discarded wrk warm-up, 2; 0: none), BENCH_REPEAT (wrk
# runs per figure, median taken, 1), BENCH_FILE_SIZE (head -c size, 1G),
# BENCH_DOWNLOADS (3), BENCH_DOWNLOAD_TIMEOUT (s per download, 120),
# BENCH_STALL_TIME (s without a byte before curl gives a download up, 5),
# BENCH_READY_TIMEOUT (s to wait for a server, 20), BENCH_ONLY (hello or
# file; default both), BENCH_SERVERS (subset of "ghostnet nginx beast"),
# WRK (wrk), NGINX (/usr/sbin/nginx).
#
# Prints a markdown table on stdout; progress and notes go to stderr.
set -euo pipefail

BUILD_DIR=${1:-build}
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNS:-50}
WARMUP=${BENCH_WARMUP:-2}
REPEAT=${BENCH_REPEAT:-1}
FILE_SIZE=${BENCH_FILE_SIZE:-1G}
DOWNLOADS=${BENCH_DOWNLOADS:-3}
DOWNLOAD_TIMEOUT=${BENCH_DOWNLOAD_TIMEOUT:-120}
STALL_TIME=${BENCH_STALL_TIME:-5}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-20}
ONLY=${BENCH_ONLY:-}
SERVER_LIST=${BENCH_SERVERS:-ghostnet nginx beast}
WRK=${WRK:-wrk}
NGINX=${NGINX:-/usr/sbin/nginx}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "BENCH_DURATION must be a positive integer (wrk's -d)"
[[ "$CONNS $REPEAT $DOWNLOADS $DOWNLOAD_TIMEOUT $STALL_TIME $READY_TIMEOUT" =~ ^[1-9][0-9]*(\ [1-9][0-9]*){5}$ ]] ||
  die "BENCH_CONNS, BENCH_REPEAT, BENCH_DOWNLOADS, BENCH_DOWNLOAD_TIMEOUT, BENCH_STALL_TIME and BENCH_READY_TIMEOUT must be positive integers"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number of seconds"
[[ $FILE_SIZE =~ ^[1-9][0-9]*[KMG]?$ ]] || die "BENCH_FILE_SIZE must be like 1G, 256M or 1048576"
[[ $ONLY =~ ^(|hello|file)$ ]] || die "BENCH_ONLY must be hello or file (or empty for both)"
for s in $SERVER_LIST; do
  [[ $s =~ ^(ghostnet|nginx|beast)$ ]] || die "BENCH_SERVERS: unknown server $s"
done
RUN_HELLO=1 RUN_FILE=1
if [[ $ONLY == file ]]; then RUN_HELLO=""; fi
if [[ $ONLY == hello ]]; then RUN_FILE=""; fi
command -v curl >/dev/null || die "curl not found"
if [[ -n $RUN_HELLO ]] && ! command -v "$WRK" >/dev/null; then
  die "$WRK not found (apt-get install -y wrk)"
fi

if pgrep -f cc1plus >/dev/null 2>&1; then
  note "a compiler (cc1plus) is running: figures are measured under load"
fi
note "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ghostnet-http-bench.XXXXXX")
ROOT="$WORK/root"
mkdir -p "$ROOT"
SERVER_PID=""
CLIENT_PID=""

cleanup() {
  if [[ -n $CLIENT_PID ]]; then kill_bounded "$CLIENT_PID"; fi
  if [[ -n $SERVER_PID ]]; then kill_bounded "$SERVER_PID"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server NAME — starts it pinned to CPU 0; sets SERVER_PID and PORT.
# Returns 1 (server stopped, a note on stderr) if it did not come up.
start_server() {
  local name=$1 cmd ready="$WORK/$1.ready"
  case $name in
    nginx)
      start_nginx "" # plain HTTP/1.1 listener
      return
      ;;
    ghostnet) cmd=$GHOSTNET_CMD ;;
    beast) cmd="$(printf '%q' "$BEAST") --host 127.0.0.1 --port 0 --root {root} --ready-file {ready}" ;;
  esac
  cmd=${cmd//\{ready\}/$(printf '%q' "$ready")}
  cmd=${cmd//\{root\}/$(printf '%q' "$ROOT")}
  launch_server "$name" "$cmd" http "$ready"
}


rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }


# run_wrk NAME SECONDS — one wrk run against the running server; sets RPS,
# P50, P99 (µs) and ERRS (socket errors + non-2xx/3xx), or "fail".
run_wrk() {
  local name=$1 secs=$2 out
  RPS=fail P50=fail P99=fail ERRS=fail
  out=$(timeout -k 5 $((secs + 30)) "${PIN_LOAD[@]}" "$WRK" -t1 -c"$CONNS" -d"$secs" --latency \
    "http://127.0.0.1:$PORT/hello" 2>&1) || {
    note "$name: wrk failed: $(tail -n 2 <<<"$out")"
    return 0
  }
  printf '%s\n--\n' "$out" >>"$WORK/wrk-$name.log"
  RPS=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  P50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
  P99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  ERRS=$(awk '/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
              /Non-2xx or 3xx responses:/ { n += $NF } END { print n + 0 }' <<<"$out")
  [[ -n $RPS ]] || RPS=fail
  if [[ $ERRS != 0 ]]; then
    note "$name: wrk reported errors: $(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | tr '\n' ';')"
  fi
}

declare -A RESULTS=()

bench_hello() { # NAME
  local name=$1 rep rps="" p50="" p99="" errs=0 bytes
  note "$name: GET /hello, wrk -t1 -c$CONNS -d$DURATION x $REPEAT"
  start_server "$name" || return 0
  bytes=$(curl -si --max-time 5 "http://127.0.0.1:$PORT/hello" | wc -c) || bytes=fail
  if ((WARMUP > 0)); then run_wrk "$name-warmup" "$WARMUP"; fi
  for ((rep = 0; rep < REPEAT; rep++)); do
    run_wrk "$name" "$DURATION"
    rps+=" $RPS" p50+=" $P50" p99+=" $P99"
    if [[ $ERRS =~ ^[0-9]+$ ]]; then errs=$((errs + ERRS)); fi
    note "$name: $RPS req/s, p50 $P50 us, p99 $P99 us"
  done
  alive "$SERVER_PID" || note "$name: server died during the run"
  stop_server "$name"
  # shellcheck disable=SC2086 # space-separated lists
  RESULTS[$name:rps]=$(median $rps) RESULTS[$name:p50]=$(median $p50) RESULTS[$name:p99]=$(median $p99)
  RESULTS[$name:errs]=$errs RESULTS[$name:bytes]=$bytes
}

# download NAME URL — one curl into /dev/null while VmRSS of the server is
# sampled every 100 ms; sets SPEED (MB/s, or "fail") and FAILED (why), and
# raises MAXRSS (KiB). A download that stalls for STALL_TIME s is given up.
download() {
  local name=$1 url=$2 out="$WORK/curl.out" rss line code size speed
  rm -f "$out"
  "${PIN_LOAD[@]}" curl -s -o /dev/null --max-time "$DOWNLOAD_TIMEOUT" \
    --speed-limit 1 --speed-time "$STALL_TIME" \
    -w '%{http_code} %{size_download} %{speed_download}\n' "$url" >"$out" 2>>"$WORK/curl.log" &
  CLIENT_PID=$!
  deadline $((DOWNLOAD_TIMEOUT + 10))
  while alive "$CLIENT_PID" && ! expired "$DEADLINE"; do
    rss=$(rss_kib "$SERVER_PID")
    if [[ -n $rss ]] && ((rss > MAXRSS)); then MAXRSS=$rss; fi
    sleep 0.1
  done
  kill_bounded "$CLIENT_PID"
  CLIENT_PID=""
  SPEED=fail FAILED=""
  line=$(cat "$out" 2>/dev/null || true)
  read -r code size speed <<<"$line" || true
  if [[ $code != 200 || $size != "$FILE_BYTES" ]]; then
    FAILED="status ${code:-none}, stopped at ${size:-0} of $FILE_BYTES bytes"
    note "$name: download failed ($FAILED)"
    return 0
  fi
  SPEED=$(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1e6 }')
}

bench_file() { # NAME
  local name=$1 i speeds="" start failed=""
  note "$name: GET /static/big.bin x $DOWNLOADS"
  start_server "$name" || return 0
  start=$(rss_kib "$SERVER_PID")
  MAXRSS=${start:-0}
  for ((i = 0; i < DOWNLOADS; i++)); do
    download "$name" "http://127.0.0.1:$PORT/static/big.bin"
    speeds+=" $SPEED"
    if [[ -n $FAILED ]]; then failed=$FAILED; else note "$name: $SPEED MB/s"; fi
  done
  alive "$SERVER_PID" || note "$name: server died during the downloads"
  stop_server "$name"
  # shellcheck disable=SC2086 # space-separated list
  RESULTS[$name:mbs]=$(median $speeds)
  if [[ -n $failed ]]; then
    # shellcheck disable=SC2086
    RESULTS[$name:mbs]="$(median $speeds) ($(grep -o fail <<<"$speeds" | wc -l) of $DOWNLOADS failed: $failed)"
  fi
  RESULTS[$name:rss0]=$(awk -v k="${start:-x}" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "n/a" }')
  RESULTS[$name:rssmax]=$(awk -v k="$MAXRSS" 'BEGIN { printf "%.1f", k / 1024 }')
}

# The servers.
GHOSTNET_CMD=${GHOSTNET_HTTP_SERVER_CMD:-}
NODE=$BUILD_DIR/samples/ghostnet-node
if [[ -z $GHOSTNET_CMD && -x $NODE ]]; then
  GHOSTNET_CMD="$(printf '%q' "$NODE") --host=127.0.0.1 --echo.port=0 --tls-echo.port=0 --http.port=0 --http.root={root} --data-dir=$(printf '%q' "$WORK/node-data") --scheduler-threads=1 --log-level=warn --ready-file={ready}"
fi
SERVERS=()
for s in $SERVER_LIST; do
  case $s in
    ghostnet)
      if [[ -z $GHOSTNET_CMD ]]; then
        note "$NODE not found and GHOSTNET_HTTP_SERVER_CMD unset; skipping ghostnet"
      elif [[ $GHOSTNET_CMD != *"{ready}"* ]]; then
        note "GHOSTNET_HTTP_SERVER_CMD has no {ready} placeholder; skipping ghostnet"
      else
        SERVERS+=(ghostnet)
      fi
      ;;
    nginx)
      if [[ -x $NGINX ]]; then SERVERS+=(nginx); else note "$NGINX not found; skipping nginx"; fi
      ;;
    beast)
      if BEAST=$(find_program bench-beast-http); then
        SERVERS+=(beast)
      else
        note "bench-beast-http not built (libboost-dev missing?; or set BENCH_PEER_DIR); skipping beast"
      fi
      ;;
  esac
done
((${#SERVERS[@]} > 0)) || die "no server to measure"

if [[ -n $RUN_HELLO ]]; then
  for s in "${SERVERS[@]}"; do bench_hello "$s"; done
fi

FILE_BYTES=0
if [[ -n $RUN_FILE ]]; then
  note "writing a $FILE_SIZE file of random bytes"
  head -c "$FILE_SIZE" /dev/urandom >"$ROOT/big.bin"
  FILE_BYTES=$(stat -c %s "$ROOT/big.bin")
  cat "$ROOT/big.bin" >/dev/null # into the page cache before the first download
  for s in "${SERVERS[@]}"; do bench_file "$s"; done
  rm -f "$ROOT/big.bin"
fi

# The table.
row() { # LABEL KEY FORMAT
  local line="| $1 |" s
  for s in "${SERVERS[@]}"; do line+=" $(fmt "$3" "${RESULTS[$s:$2]:-n/a}") |"; done
  line+=" $(ratio "${RESULTS[ghostnet:$2]:-}" "${RESULTS[nginx:$2]:-}") |"
  line+=" $(ratio "${RESULTS[ghostnet:$2]:-}" "${RESULTS[beast:$2]:-}") |"
  echo "$line"
}
header="| metric |" rule="|---|"
for s in "${SERVERS[@]}"; do header+=" $s |" rule+="---:|"; done
echo "$header ghostnet/nginx | ghostnet/beast |"
echo "$rule---:|---:|"
if [[ -n $RUN_HELLO ]]; then
  row "GET /hello req/s (wrk -t1 -c$CONNS, ${DURATION}s)" rps %.0f
  row "GET /hello p50 latency µs" p50 %.0f
  row "GET /hello p99 latency µs" p99 %.0f
  row "wrk errors (socket + non-2xx)" errs %.0f
  row "GET /hello response bytes" bytes %.0f
fi
if [[ -n $RUN_FILE ]]; then
  label=$(awk -v b="$FILE_BYTES" 'BEGIN { printf "%.2f GiB", b / 2^30 }')
  row "$label file, MB/s (median of $DOWNLOADS curl downloads)" mbs %.1f
  row "server VmRSS before the downloads, MiB" rss0 %.1f
  row "server max VmRSS during the downloads, MiB" rssmax %.1f
fi
