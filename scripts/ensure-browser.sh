#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through Playwright; no browser is downloaded.
# Install it when it is missing (as root, or through sudo).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "The browser tests need Chromium: apt-get install chromium" >&2
  exit 1
fi
echo "Installing Chromium for the browser tests (apt-get install chromium)..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
