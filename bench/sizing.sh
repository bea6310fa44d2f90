#!/usr/bin/env bash
# Sizes one composer replica: CPU per 1,000 pages/s and RSS, at a fixed
# page rate, with Redis and the fragment services on the same machine.
#   bench/sizing.sh [RATE] [SECONDS] [NEAR_CACHE]
# Runs everything in its own network namespace ("tessera-sizing") on fixed
# ports, loopback only; needs root (ip netns), redis-server and Go.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RATE=${1:-1000}
SECS=${2:-20}
NEAR=${3:-1s}
NS=tessera-sizing
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-sizing.XXXXXX")
(cd "$ROOT" && go build -o "$WORK/" ./cmd/composer ./cmd/tessera ./bench/load)
ip netns add "$NS" 2>/dev/null || true
ip netns exec "$NS" ip link set lo up
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
in_ns() { ip netns exec "$NS" "$@"; }
ip netns exec "$NS" redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no --logfile "$WORK/redis.log" </dev/null >/dev/null 2>&1 &
pids+=($!)
export TESSERA_WEATHER_TOKEN=sizing-weather TESSERA_SHOWS_SECRET=sizing-shows TESSERA_SHOWS_EDITOR_TOKEN=sizing-editor
# The fragments, from the all-in-one binary (its own composer on :9090 is idle).
ip netns exec "$NS" "$WORK/tessera" -addr 127.0.0.1:9090 -log-level warn </dev/null >"$WORK/fragments.log" 2>&1 &
pids+=($!)
"$WORK/tessera" config | sed "s/^near_cache:.*//" >"$WORK/tessera.yaml"
printf 'near_cache: %s\n' "$NEAR" >>"$WORK/tessera.yaml"
REDIS_URL=redis://127.0.0.1:6379/0 ip netns exec "$NS" "$WORK/composer" -addr 127.0.0.1:8080 -config "$WORK/tessera.yaml" -log-level warn </dev/null >"$WORK/composer.log" 2>&1 &
CPID=$!
pids+=("$CPID")
for _ in $(seq 1 100); do
  in_ns curl -fsS -o /dev/null http://127.0.0.1:8080/readyz 2>/dev/null && break
  sleep 0.1
done
in_ns "$WORK/load" -url http://127.0.0.1:8080/ -rate 200 -dur 3s >/dev/null   # warm the cache
ticks() { awk '{print $14+$15}' "/proc/$CPID/stat"; }
HZ=$(getconf CLK_TCK)
t0=$(ticks)
in_ns "$WORK/load" -url http://127.0.0.1:8080/ -rate "$RATE" -dur "${SECS}s" | tee "$WORK/load.txt"
t1=$(ticks)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$CPID/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$CPID/status")
# The rate reached, from the load's own count.
RATE=$(sed -n 's/.*(\([0-9]*\)\/s).*/\1/p' "$WORK/load.txt")
awk -v t="$((t1 - t0))" -v hz="$HZ" -v s="$SECS" -v r="$RATE" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
  cores = t / hz / s
  printf "composer: %.2f cores at %d pages/s = %.2f cores per 1,000 pages/s; RSS %.0f MB (peak %.0f MB)\n", cores, r, cores * 1000 / r, rss / 1024, hwm / 1024
}'
