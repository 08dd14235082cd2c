#!/usr/bin/env bash
# bench/http2.sh [BUILD_DIR] — ghostnet's HTTP/2 server (h2c with prior
# knowledge) against nginx: GET /hello under h2load.
#
# Servers: ghostnet ($BUILD_DIR/samples/ghostnet-node, one scheduler thread,
# h2c on the "http" endpoint of its ready file; or $GHOSTNET_HTTP2_SERVER_CMD
# with `{ready}` for the ready-file path) and nginx ($NGINX, /usr/sbin/nginx:
# one worker, no master, foreground, `listen 127.0.0.1:PORT http2;` — h2c
# with prior knowledge; nginx 1.22 has no `http2 on;` — the config of
# bench/http.sh otherwise). Both answer the node's 20-byte body, text/plain;
# charset=utf-8, with Date and Server headers. Each server is pinned to CPU
# 0, h2load (one thread) to CPU 1; everything listens on 127.0.0.1 only.
#
# For each stream depth (BENCH_STREAMS, then each of BENCH_EXTRA_STREAMS) a
# fresh server gets a discarded warm-up run of BENCH_WARMUP s, then
# BENCH_REPEAT runs of `h2load -c$BENCH_CONNS -m<streams> -D$BENCH_DURATION
# http://127.0.0.1:PORT/hello` (medians taken). Reports req/s, ghostnet's
# ratio to each server (the issue's target: >= 0.90 x nginx at
# -m$BENCH_STREAMS), failed requests (h2load's "failed"; "errored", the
# non-HTTP failures such as resets and closes, is a subset of it), the mean
# and max of h2load's "time for request", response header bytes per response
# (after HPACK), the server's peak RSS (VmHWM) and the CPU the server and
# h2load used while measuring (h2load near 100 % means the server might do
# more).
#
# Environment: BENCH_DURATION (s per h2load run, 10), BENCH_CONNS (50),
# BENCH_STREAMS (concurrent streams per connection, 10), BENCH_EXTRA_STREAMS
# (more stream depths measured after it, "1"; empty: none), BENCH_WARMUP (s
# of discarded warm-up, 2; 0: none), BENCH_REPEAT (runs per figure, median
# taken, 1), BENCH_READY_TIMEOUT (s to wait for a server, 20),
# BENCH_SERVERS (subset of "ghostnet nginx"), H2LOAD (h2load), NGINX
# (/usr/sbin/nginx).
#
# Prints a markdown table on stdout; progress and notes go to stderr.
# Example: BENCH_DURATION=5 ./bench/http2.sh build
set -euo pipefail

BUILD_DIR=${1:-build}
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNS:-50}
STREAMS=${BENCH_STREAMS:-10}
EXTRA_STREAMS=${BENCH_EXTRA_STREAMS-1}
WARMUP=${BENCH_WARMUP:-2}
REPEAT=${BENCH_REPEAT:-1}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-20}
SERVER_LIST=${BENCH_SERVERS:-ghostnet nginx}
H2LOAD=${H2LOAD:-h2load}
NGINX=${NGINX:-/usr/sbin/nginx}
BODY=$'hello from ghostnet\n'

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

[[ "$DURATION $CONNS $STREAMS $REPEAT $READY_TIMEOUT" =~ ^[1-9][0-9]*(\ [1-9][0-9]*){4}$ ]] ||
  die "BENCH_DURATION, BENCH_CONNS, BENCH_STREAMS, BENCH_REPEAT and BENCH_READY_TIMEOUT must be positive integers"
[[ $EXTRA_STREAMS =~ ^\ *([1-9][0-9]*\ *)*$ ]] || die "BENCH_EXTRA_STREAMS must be positive integers separated by spaces (or empty)"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number of seconds"
((DURATION <= 600 && WARMUP <= 600 && REPEAT <= 100)) || die "BENCH_DURATION and BENCH_WARMUP are at most 600, BENCH_REPEAT at most 100"
for s in $SERVER_LIST; do
  [[ $s =~ ^(ghostnet|nginx)$ ]] || die "BENCH_SERVERS: unknown server $s"
done
command -v curl >/dev/null || die "curl not found"
command -v "$H2LOAD" >/dev/null || die "$H2LOAD not found (apt-get install -y nghttp2-client)"
# The stream depths measured, the main one first, each once.
DEPTHS=("$STREAMS")
for m in $EXTRA_STREAMS; do
  [[ " ${DEPTHS[*]} " == *" $m "* ]] || DEPTHS+=("$m")
done

bench_workdir http2

CLK_TCK=$(getconf CLK_TCK)

# start_server NAME — starts it pinned to CPU 0; sets SERVER_PID, HOST and
# PORT. Returns 1 (server stopped, a note on stderr) if it did not come up.
start_server() {
  local name=$1 cmd ready="$WORK/$1.ready"
  case $name in
    nginx)
      start_nginx http2 --http2-prior-knowledge
      return
      ;;
    ghostnet) cmd=$GHOSTNET_CMD ;;
  esac
  cmd=${cmd//\{ready\}/$(printf '%q' "$ready")}
  launch_server "$name" "$cmd" http "$ready"
}

# check_hello NAME — one GET /hello over h2c by curl: a note unless it is
# HTTP/2 200 with the node's body.
check_hello() {
  local name=$1 out
  out=$(curl -s --http2-prior-knowledge --max-time 5 -w '\n%{http_version} %{http_code}' \
    "http://$HOST:$PORT/hello" 2>&1) || true
  if [[ $out != "$BODY"$'\n2 200' ]]; then
    note "$name: curl --http2-prior-knowledge /hello gave an unexpected answer: $(printf '%q' "$out")"
  fi
}

# run_h2load NAME SECONDS STREAMS — one h2load run against the running
# server; sets RPS, FAILED, ERRORED, MEAN and MAX (µs), HDR (header bytes per
# response), SERVER_CPU and LOAD_CPU (%), or "fail".
run_h2load() {
  local name=$1 secs=$2 m=$3 out="$WORK/h2load.out" rc=0 ticks0 ticks1 t0 t1 times line ndone hbytes dbytes
  RPS=fail FAILED=fail ERRORED=fail MEAN=fail MAX=fail HDR=fail SERVER_CPU=fail LOAD_CPU=fail
  ticks0=$(cpu_ticks "$SERVER_PID") t0=${EPOCHREALTIME/./}
  # time: h2load's CPU (user, system) and the wall clock, to stderr of the group.
  {
    TIMEFORMAT='%3U %3S %3R'
    time timeout -k 5 $((secs + 30)) "${PIN_LOAD[@]}" "$H2LOAD" -c"$CONNS" -m"$m" -D"$secs" \
      "http://$HOST:$PORT/hello" >"$out" 2>&1 || rc=$?
  } 2>"$WORK/h2load.time"
  ticks1=$(cpu_ticks "$SERVER_PID") t1=${EPOCHREALTIME/./}
  SERVER_CPU=$(awk -v a="${ticks0:-x}" -v b="${ticks1:-x}" -v hz="$CLK_TCK" -v us=$((t1 - t0)) \
    'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && us > 0) printf "%.0f", (b - a) / hz * 1e8 / us; else print "fail" }')
  times=$(tail -n 1 "$WORK/h2load.time")
  LOAD_CPU=$(awk -v t="$times" 'BEGIN { n = split(t, f, " ");
    if (n == 3 && f[3] > 0) printf "%.0f", (f[1] + f[2]) / f[3] * 100; else print "fail" }')
  RPS=$(awk '/^finished in/ { print $4 }' "$out")
  if [[ -z $RPS ]]; then
    RPS=fail
    note "$name: h2load failed (status $rc): $(tail -n 3 "$out" | tr '\n' ' ')"
    return 0
  fi
  if ! grep -q '^Application protocol: h2c' "$out"; then
    note "$name: h2load did not speak h2c: $(grep -E '^(Application protocol|No protocol)' "$out" | tr '\n' ' ')"
  fi
  line=$(grep '^requests:' "$out" || true)
  # requests: T total, S started, D done, OK succeeded, F failed, E errored, X timeout
  read -r FAILED ERRORED <<<"$(awk '{ print $10, $12 }' <<<"$line")"
  MEAN=$(to_us "$(awk '/^time for request:/ { print $6 }' "$out")")
  MAX=$(to_us "$(awk '/^time for request:/ { print $5 }' "$out")")
  # traffic: 46.78MB (49051910) total, 8.96MB (9397220) headers (space savings 91.81%), 19.90MB (20869600) data
  read -r ndone hbytes dbytes <<<"$(awk '/^requests:/ { d = $6 }
    /^traffic:/ { h = $0; sub(/ headers.*/, "", h); sub(/.*\(/, "", h); sub(/\).*/, "", h)
                  b = $0; sub(/ data.*/, "", b); sub(/.*\(/, "", b); sub(/\).*/, "", b) }
    END { print d + 0, h, b }' "$out")"
  if ((ndone == 0)); then
    note "$name: no request completed: $line"
    RPS=fail
  elif (($(awk '{ print $4 - $6 }' <<<"$line") > CONNS * m)); then
    note "$name: more requests started than $CONNS x $m streams can hold in flight at the end: $line"
  fi
  HDR=$(awk -v d="$ndone" -v h="${hbytes:-x}" 'BEGIN { if (d > 0 && h ~ /^[0-9]+$/) printf "%.1f", h / d; else print "fail" }')
  # Every response must carry the node's 20-byte body.
  awk -v d="$ndone" -v b="${dbytes:-x}" -v want=${#BODY} 'BEGIN { exit !(d > 0 && b == d * want) }' ||
    note "$name: DATA bytes are not ${#BODY} per response: $(grep -E '^(requests|traffic):' "$out" | tr '\n' ' ')"
  if [[ $FAILED != 0 || $ERRORED != 0 ]] || grep -qE '^status codes: .*[1-9][0-9]* [345]xx' "$out"; then
    note "$name: h2load reported failures: $line; $(grep '^status codes:' "$out")"
  fi
  if ((rc != 0)); then
    note "$name: h2load exited with status $rc: $(tail -n 2 "$out" | tr '\n' ' ')"
  fi
}

# log_notes NAME FILE — the server's own complaints, if any, on stderr.
log_notes() {
  local n
  [[ -s $2 ]] || return 0
  n=$(wc -l <"$2")
  note "$1: $n line(s) in its log; the first ones:"
  head -n 5 "$2" | sed 's/^/    /' >&2
}

declare -A RESULTS=()

bench_server() { # NAME STREAMS
  local name=$1 m=$2 key="$1:$2" rep rps="" means="" maxs="" hdrs="" scpus="" lcpus="" failed=0 errored=0 hwm
  note "$name: h2load -c$CONNS -m$m, ${WARMUP}s warm-up + ${DURATION}s x $REPEAT"
  start_server "$name" || return 0
  check_hello "$name"
  if ((WARMUP > 0)); then run_h2load "$name-warmup" "$WARMUP" "$m"; fi
  for ((rep = 0; rep < REPEAT; rep++)); do
    run_h2load "$name" "$DURATION" "$m"
    rps+=" $RPS" means+=" $MEAN" maxs+=" $MAX" hdrs+=" $HDR" scpus+=" $SERVER_CPU" lcpus+=" $LOAD_CPU"
    if [[ $FAILED =~ ^[0-9]+$ ]]; then failed=$((failed + FAILED)); fi
    if [[ $ERRORED =~ ^[0-9]+$ ]]; then errored=$((errored + ERRORED)); fi
    note "$name: $RPS req/s, mean $MEAN us, max $MAX us, failed $FAILED (errored $ERRORED), CPU server $SERVER_CPU % h2load $LOAD_CPU %"
  done
  alive "$SERVER_PID" || note "$name: server died during the run"
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || true)
  stop_server "$name"
  if [[ $name == nginx ]]; then log_notes nginx "$WORK/nginx/logs/error.log"; else log_notes "$name" "$WORK/$name.log"; fi
  : >"$WORK/$name.log"
  if [[ $name == nginx ]]; then : >"$WORK/nginx/logs/error.log"; fi
  # shellcheck disable=SC2086 # space-separated lists
  RESULTS[$key:rps]=$(median $rps) RESULTS[$key:mean]=$(median $means) RESULTS[$key:max]=$(median $maxs) \
    RESULTS[$key:hdr]=$(median $hdrs) RESULTS[$key:server_cpu]=$(median $scpus) RESULTS[$key:load_cpu]=$(median $lcpus)
  RESULTS[$key:errs]="$failed ($errored)"
  RESULTS[$key:rss]=$(awk -v k="${hwm:-x}" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "n/a" }')
}

# The servers.
GHOSTNET_CMD=${GHOSTNET_HTTP2_SERVER_CMD:-}
NODE=$BUILD_DIR/samples/ghostnet-node
if [[ -z $GHOSTNET_CMD && -x $NODE ]]; then
  GHOSTNET_CMD="$(printf '%q' "$NODE") --host=127.0.0.1 --echo.port=0 --tls-echo.port=0 --http.port=0 --data-dir=$(printf '%q' "$WORK/node-data") --scheduler-threads=1 --log-level=warn --ready-file={ready}"
fi
declare -A LABEL=([ghostnet]=ghostnet [nginx]=nginx)
SERVERS=()
for s in $SERVER_LIST; do
  case $s in
    ghostnet)
      if [[ -z $GHOSTNET_CMD ]]; then
        note "$NODE not found and GHOSTNET_HTTP2_SERVER_CMD unset; skipping ghostnet"
      elif [[ $GHOSTNET_CMD != *"{ready}"* ]]; then
        note "GHOSTNET_HTTP2_SERVER_CMD has no {ready} placeholder; skipping ghostnet"
      else
        SERVERS+=(ghostnet)
      fi
      ;;
    nginx)
      if [[ -x $NGINX ]]; then
        SERVERS+=(nginx)
        LABEL[nginx]="nginx $("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([^ ]*\).*|\1|p')"
      else
        note "$NGINX not found; skipping nginx"
      fi
      ;;
  esac
done
((${#SERVERS[@]} > 0)) || die "no server to measure"

for m in "${DEPTHS[@]}"; do
  for s in "${SERVERS[@]}"; do bench_server "$s" "$m"; done
done

# The table: a row per stream depth and server.
echo "| server | h2load | req/s (${DURATION}s, median of $REPEAT) | ghostnet/server | target | failed (errored) | request mean µs | request max µs | header B/resp | peak RSS MiB | server CPU % | h2load CPU % |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for m in "${DEPTHS[@]}"; do
  for s in "${SERVERS[@]}"; do
    k="$s:$m" target="—"
    if [[ $s == nginx && $m == "$STREAMS" ]]; then target="≥ 0.90"; fi
    echo "| ${LABEL[$s]} | -c$CONNS -m$m | $(fmt %.0f "${RESULTS[$k:rps]:-}") |" \
      "$(ratio "${RESULTS[ghostnet:$m:rps]:-}" "${RESULTS[$k:rps]:-}") | $target |" \
      "${RESULTS[$k:errs]:-n/a} | $(fmt %.0f "${RESULTS[$k:mean]:-}") | $(fmt %.0f "${RESULTS[$k:max]:-}") |" \
      "${RESULTS[$k:hdr]:-n/a} | ${RESULTS[$k:rss]:-n/a} |" \
      "$(fmt %.0f "${RESULTS[$k:server_cpu]:-}") | $(fmt %.0f "${RESULTS[$k:load_cpu]:-}") |"
  done
done
