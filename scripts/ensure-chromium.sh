#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser tests (playwright-core drives
# /usr/bin/chromium; its own browser download cannot work here). Installs it with apt-get when
# missing and this runs as root; otherwise says what to do. Used by .ci/run before the tests.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium: $(command -v chromium)"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not installed; install it (apt-get install chromium) or set CHROMIUM_PATH for the browser tests" >&2
  exit 1
fi
echo "chromium: installing (apt-get)"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
echo "chromium: $(command -v chromium)"
