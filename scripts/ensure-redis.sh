#!/usr/bin/env bash
# Makes sure a Redis server answers at REDIS_URL (default redis://127.0.0.1:6379).
# Starts a local redis-server when none answers, installing Debian's package first if needed.
# Used by `npm run demo`, `npm run test:ci` and .ci/run, so a fresh machine needs no manual step.
set -euo pipefail
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
hostport="${redis_url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
rhost="${hostport%%:*}"; rport="${hostport##*:}"
[ "$rport" = "$hostport" ] && rport=6379
[ -z "$rhost" ] && rhost=127.0.0.1

redis_ok() {
  (exec 3<>"/dev/tcp/$rhost/$rport" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null
}

if redis_ok; then
  echo "redis: answering at $rhost:$rport"
  exit 0
fi
case "$rhost" in
  127.*|localhost|::1) ;;
  *) echo "redis: nothing answers at $rhost:$rport and it is not local; start it or fix REDIS_URL" >&2; exit 1 ;;
esac
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "redis: redis-server is not installed; install it (e.g. apt-get install redis-server) or set REDIS_URL" >&2
    exit 1
  fi
  echo "redis: installing redis-server (apt-get)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
echo "redis: starting redis-server on $rhost:$rport (no persistence)"
redis-server --bind "$rhost" --port "$rport" --save '' --appendonly no --daemonize yes >/dev/null
for _ in $(seq 1 50); do
  redis_ok && { echo "redis: answering at $rhost:$rport"; exit 0; }
  sleep 0.2
done
echo "redis: started but does not answer at $rhost:$rport" >&2
exit 1
