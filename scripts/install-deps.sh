#!/usr/bin/env bash
# Installs the Debian 12 packages ghostnet needs, and only those missing:
# a second run does no network access and returns at once.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libcaf-dev            # CAF 0.17.6: core, io (brokers, middleman), openssl
  libssl-dev            # OpenSSL 3.0 for the TLS layer
  libspdlog-dev libfmt-dev
  libboost-test-dev     # Boost.Test for the suite
  libboost-dev          # Boost.Beast: the HTTP/1.1 parser
  libnghttp2-dev        # nghttp2: the HTTP/2 frame layer
  libasio-dev           # the Asio peer server of bench/
  netcat-openbsd socat openssl curl procps   # real peers used by tests
  wrk                   # HTTP load peer (tests, bench)
  nginx                 # HTTP peer: the client's tests, the HTTP bench
  python3-websockets    # WebSocket peer (client and server) of the tests
  node-ws nodejs        # WebSocket peer: Node's ws (tests, the WebSocket bench)
  nghttp2-client        # HTTP/2 peers: nghttp, h2load (tests, the HTTP/2 bench)
  prometheus            # promtool checks GET /metrics (its service is not started)
  chromium chromium-driver  # the dashboard's test drives headless Chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "ghostnet: installing missing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Packages with a service (nginx, prometheus) must not start it: it would listen on
# port 80 of every interface. Tests start their own on 127.0.0.1. A
# policy-rc.d that refuses every start (exit 101) is put in place for the
# install unless one is there already, and removed afterwards.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=""
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  OWN_POLICY=1
fi
cleanup() { if [ -n "$OWN_POLICY" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# A service that was started anyway (a policy-rc.d of someone else's that
# allows it) is stopped again.
if printf '%s\n' "${missing[@]}" | grep -qx nginx && pgrep -x nginx >/dev/null; then
  $SUDO nginx -s stop 2>/dev/null || true
fi
if printf '%s\n' "${missing[@]}" | grep -qx prometheus && pgrep -x prometheus >/dev/null; then
  $SUDO pkill -x prometheus 2>/dev/null || true
fi
