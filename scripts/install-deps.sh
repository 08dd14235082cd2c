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
  libasio-dev           # the Asio peer server of bench/
  netcat-openbsd socat openssl curl procps   # real peers used by tests
  wrk                   # HTTP load peer (tests, bench)
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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
