#!/usr/bin/env bash
# Installs the Debian packages some tests drive, when missing: `promtool` (package prometheus: the
# alert rules are checked with it) and `chromium` (the status page's browser tests, through
# playwright-core; never a downloaded browser). One `apt-get update` at most. Used by .ci/run.
set -euo pipefail
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ "${#missing[@]}" -eq 0 ]; then
  echo "test tools: promtool and chromium present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test tools: missing ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "test tools: installing ${missing[*]} (apt-get)"
apt-get update -qq >/dev/null
# --no-install-recommends: prometheus would otherwise pull in its exporters and start services.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the prometheus service on install; the tests only need promtool.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
command -v promtool >/dev/null 2>&1 && [ -x /usr/bin/chromium ] || { echo "test tools: installation failed" >&2; exit 1; }
echo "test tools: installed ${missing[*]}"
