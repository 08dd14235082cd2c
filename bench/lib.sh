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

# launch_server NAME COMMAND KEY READY — runs the shell string COMMAND
# (placeholders already filled in) pinned to the server CPU, its output in
# $WORK/NAME.log, and waits up to READY_TIMEOUT for the ready file READY
# naming a loopback endpoint under KEY. Sets SERVER_PID, HOST and PORT;
# returns 1 (the server stopped) if none came.
launch_server() {
  local name=$1 cmd=$2 key=$3 ready=$4 endpoint
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
  endpoint=$(sed -n "s/.*\"$key\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$ready")
  PORT=${endpoint##*:}
  HOST=${endpoint%:*} HOST=${HOST#\[} HOST=${HOST%\]}
  if [[ ! $PORT =~ ^[0-9]+$ || ! $HOST =~ ^(127\.0\.0\.1|::1)$ ]]; then
    note "$name: ready file has no loopback endpoint \"$key\": $(cat "$ready")"
    stop_server "$name"
    return 1
  fi
}

# stop_server NAME — TERM (then KILL) the server started last; an exit by
# SIGTERM itself (143) is not worth a note.
stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill_bounded "$SERVER_PID"
  SERVER_PID=""
  ((RC == 0 || RC == 143)) || note "$1: exited with status $RC after SIGTERM"
}

# A port nobody listens on right now (nginx has no "port 0 + ready file").
free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    echo $((20000 + RANDOM % 40000))
  fi
}

# nginx_config PORT [LISTEN_FLAGS] — writes $WORK/nginx/nginx.conf: one
# server on 127.0.0.1:PORT (LISTEN_FLAGS appended to `listen`, e.g. http2)
# answering GET /hello with the node's body, /static/ from $ROOT (if set),
# 404 elsewhere.
nginx_config() {
  local dir="$WORK/nginx" static=""
  mkdir -p "$dir/logs"
  if [[ -n ${ROOT:-} ]]; then static="location /static/ { alias $ROOT/; }"; fi
  cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  sendfile on;
  tcp_nopush on;
  # ghostnet and Beast never close a keep-alive connection for its count
  # (nginx's default closes after 1000 requests).
  keepalive_requests 1000000000;
  keepalive_timeout 15s;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$1${2:+ $2};
    location = /hello {
      default_type text/plain;
      charset utf-8;
      return 200 "hello from ghostnet\n";
    }
    ${static:-# (no /static/: ROOT unset)}
    location / { return 404 "not found\n"; }
  }
}
EOF
}

# start_nginx [LISTEN_FLAGS [CURL_OPTION...]] — $NGINX with nginx_config on
# a free port, pinned to the server CPU (up to 5 ports are tried); ready once
# `curl CURL_OPTION... http://127.0.0.1:PORT/hello` succeeds. Sets
# SERVER_PID, HOST and PORT; returns 1 (a note on stderr) if it did not start.
start_nginx() {
  local flags=${1:-} tries
  shift || true
  for ((tries = 0; tries < 5; tries++)); do
    PORT=$(free_port) HOST=127.0.0.1
    nginx_config "$PORT" "$flags"
    "${PIN_SERVER[@]}" "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" \
      -c "$WORK/nginx/nginx.conf" </dev/null >>"$WORK/nginx.log" 2>&1 &
    SERVER_PID=$!
    deadline "$READY_TIMEOUT"
    until curl -sf -o /dev/null --max-time 1 "$@" "http://127.0.0.1:$PORT/hello" ||
      ! alive "$SERVER_PID" || expired "$DEADLINE"; do
      sleep 0.05
    done
    alive "$SERVER_PID" && return 0
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  done
  note "nginx: did not start; error log tail:"
  tail -n 5 "$WORK/nginx/logs/error.log" >&2 || true
  return 1
}

# A latency as wrk and h2load print it ("812.00us", "1.23ms", "1.01s") in
# microseconds ("fail" if it is none).
to_us() {
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") print n; else if (u == "ms") print n * 1000;
    else if (u == "s") print n * 1000000; else print "fail" }'
}

# cpu_ticks PID — the user + system clock ticks PID has used so far.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null; }

# The median of the numbers among the arguments ("n/a" if none).
median() {
  printf '%s\n' "$@" | awk '/^[0-9.]+$/' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a";
           else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Table cells.
fmt() { # FORMAT VALUE — VALUE with thousands separators, or as is
  if [[ $2 =~ ^[0-9.]+$ ]]; then
    # shellcheck disable=SC2059 # the format is the caller's
    LC_ALL=C printf "$1" "$2" | sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta'
  else
    printf '%s' "${2:-n/a}"
  fi
}
ratio() { # A B — A / B to two places
  awk -v a="${1:-x}" -v b="${2:-x}" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "—" }'
}

# bench_workdir NAME — notes the machine's load, makes $WORK and sets the
# traps: at exit the server in $SERVER_PID is stopped and $WORK removed.
bench_workdir() {
  if pgrep -f cc1plus >/dev/null 2>&1; then
    note "a compiler (cc1plus) is running: figures are measured under load"
  fi
  note "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ghostnet-$1-bench.XXXXXX")
  SERVER_PID=""
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
bench_cleanup() {
  if [[ -n $SERVER_PID ]]; then kill_bounded "$SERVER_PID"; fi
  rm -rf "$WORK"
}
