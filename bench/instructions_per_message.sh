#!/usr/bin/env bash
# bench/instructions_per_message.sh BUILD_DIR MODE [LOADGEN ARGS...]
#
# User-space instructions the node spends per echoed message, counted by
# callgrind: repeatable for the same binary and load, whatever else the
# machine does (unlike the wall-clock figures of run.sh). The node runs
# under callgrind with one scheduler thread; a 1 s load warms it up, the
# counters are zeroed, a 4 s load of MODE runs, the counters are dumped.
# Kernel time (recv/send) is not counted. NODE_EXTRA adds node flags (e.g.
# --http.port=0 for builds that have the HTTP service); PORT_KEY names the
# node's endpoint in its ready file ("echo"; "tls-echo" with --tls).
#
#   bench/instructions_per_message.sh build rr --conns 50 --size 64
#   PORT_KEY=tls-echo bench/instructions_per_message.sh build pipeline --tls --conns 50 --size 64 --depth 16
set -euo pipefail
B=$1; shift; MODE=$1; shift
W=$(mktemp -d)
valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file=$W/cg.%p "$B/samples/ghostnet-node" --host=127.0.0.1 --echo.port=0 --tls-echo.port=0 ${NODE_EXTRA:-} --data-dir=$W/data --scheduler-threads=1 --log-level=warn --ready-file=$W/ready >/dev/null 2>$W/vg.log &
PID=$!
for i in $(seq 1 200); do [[ -s $W/ready ]] && grep -q '}' $W/ready && break; sleep 0.2; done
PORT=$(grep -o "\"${PORT_KEY:-echo}\": \"[^\"]*\"" $W/ready | grep -o '[0-9]*"$' | tr -d '"')
"$B/bench/ghostnet-loadgen" --port $PORT --mode $MODE --duration 1 --warmup 0 "$@" >/dev/null 2>&1 || true
callgrind_control -z $PID >/dev/null
OUT=$("$B/bench/ghostnet-loadgen" --port $PORT --mode $MODE --duration 4 --warmup 0 "$@" 2>/dev/null | grep RESULT)
callgrind_control -d $PID >/dev/null
sleep 1
kill -TERM $PID; wait $PID || true
RATE=$(echo "$OUT" | grep -o "${FIELD:-msgs_per_s}=[0-9.]*" | cut -d= -f2)
IR=$(grep -h "^summary:\|^totals:" $W/cg.$PID.1 | head -1 | awk '{print $2}')
echo "$OUT"
awk -v ir="$IR" -v r="$RATE" 'BEGIN { printf "Ir=%d msgs=%.0f Ir/msg=%.0f\n", ir, r*4, ir/(r*4) }'
rm -rf "$W"

