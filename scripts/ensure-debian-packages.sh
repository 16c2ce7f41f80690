#!/usr/bin/env bash
# Real parts the tests use, from Debian's packages, installed when missing (as root, or
# through sudo): Chromium for the browser tests (driven by Playwright; no browser is
# downloaded) and HAProxy for the load-balancer tests.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "The tests need: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} for the tests (apt-get install)..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
