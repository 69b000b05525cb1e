#!/usr/bin/env bash
# Install the Debian packages cformer builds and tests with. Idempotent.
set -euo pipefail
packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libcjson-dev libpcre2-dev libutf8proc-dev libopenblas-dev
  libcriterion-dev
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev libstb-dev libkissfft-dev
  libcurl4-openssl-dev libssl-dev libmicrohttpd-dev python3
  help2man dpkg-dev python3-pytest python3-setuptools python3-pip curl  # man page, .deb, Python binding, docs
  chromium  # headless browser test of the server's playground page (~80 MB download, ~20 s to install)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
