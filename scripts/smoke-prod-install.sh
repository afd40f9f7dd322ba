#!/usr/bin/env bash
# Smoke test of the production install, as the Docker image runs it (no Docker engine needed):
# build, install only production dependencies in a temporary directory, start the image's exact
# start command (`node bin/rotator.js run`) on the embedded demo defaults, rotate the demo fleet
# through the queue with the production CLI, then stop it with SIGTERM and expect a clean exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d /tmp/rotator-smoke.XXXXXX)
prefix="rotator-smoke-$$"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  node -e '
    const { Redis } = require(process.argv[1] + "/node_modules/ioredis");
    const r = new Redis(process.env.REDIS_URL || "redis://127.0.0.1:6379");
    (async () => { let c = "0"; do { const [n, k] = await r.scan(c, "MATCH", process.argv[2] + "*", "COUNT", 1000); c = n; if (k.length) await r.del(...k); } while (c !== "0"); r.disconnect(); })();
  ' "$work/app" "$prefix" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

[ -f dist/cli/rotator-cli.js ] || npm run build
mkdir -p "$work/app"
cp -r package.json package-lock.json bin dist config jobs "$work/app/"
(cd "$work/app" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
[ ! -d "$work/app/node_modules/vitest" ] || { echo "smoke: dev dependencies were installed" >&2; exit 1; }

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
simport=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$work/config.yaml" <<YAML
redis: { keyPrefix: $prefix }
http: { host: 127.0.0.1, port: $port }
simulator: { port: $simport }
vault: { kind: file, file: { path: $work/data/vault.json.enc, keyFile: $work/data/vault.key } }
YAML
export ROTATOR_CONFIG="$work/config.yaml" ROTATOR_JOBS_DIR="$work/app/jobs" NODE_ENV=production ROTATOR_LOG_LEVEL=warn
cd "$work/app"
node bin/rotator.js run > "$work/service.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "smoke: the service exited early:" >&2; cat "$work/service.log" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "smoke: /healthz never answered" >&2; cat "$work/service.log" >&2; exit 1; }
echo "smoke: service up; rotating the demo fleet with the production CLI"
# Exit status 2 means "some servers did not rotate": the demo fleet has ineligible servers on purpose.
rc=0; node bin/rotator.js rotate demo --wait > "$work/rotate.out" 2>&1 || rc=$?
cat "$work/rotate.out"
[ "$rc" = 0 ] || [ "$rc" = 2 ] || { echo "smoke: rotate exited $rc" >&2; exit 1; }
grep -Eq '^(verified|rotated-unverified) +[1-9]' "$work/rotate.out" || { echo "smoke: no server was rotated" >&2; exit 1; }
node bin/rotator.js status demo
curl -fsS "http://127.0.0.1:$port/ui" | grep -q '<html' || { echo "smoke: /ui did not serve the dashboard" >&2; exit 1; }
kill -TERM "$pid"
if wait "$pid"; then echo "smoke: clean shutdown on SIGTERM"; else
  code=$?; echo "smoke: service exited $code on SIGTERM" >&2; cat "$work/service.log" >&2; exit 1; fi
pid=""
cd "$root"
echo "smoke: OK"
