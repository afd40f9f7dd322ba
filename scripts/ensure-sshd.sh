#!/usr/bin/env bash
# Makes sure Debian's openssh-server (/usr/sbin/sshd) is installed, for the real-OpenSSH verifier
# test (test/e2e/ssh-verifier.test.ts), which starts its own sshd on a free loopback port and never
# uses the system's. Called by .ci/run. Without root or apt-get it only says so: the test then
# skips itself with the reason printed.
set -euo pipefail
if [ -x /usr/sbin/sshd ]; then
  echo "sshd: $(/usr/sbin/sshd -V 2>&1 | head -n 1 || true)"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "sshd: /usr/sbin/sshd is missing and this is not a root Debian machine; the real-OpenSSH test will be skipped" >&2
  exit 0
fi
echo "sshd: installing openssh-server (apt-get)"
apt-get update -qq >/dev/null
# No service start: policy-rc.d refuses it where there is no init; the test runs its own sshd.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
echo "sshd: installed $(/usr/sbin/sshd -V 2>&1 | head -n 1 || true)"
