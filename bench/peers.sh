#!/usr/bin/env bash
# Side-by-side benchmark: Tessera and the peers on the same page and fragments.
#   bench/peers.sh SCENARIO [PEER...]
# SCENARIO is fresh | cached | latency | slowfrag (see the harness README).
# PEERs are harness peers (static tailor podium nginx varnish ...), run after
# Tessera in the same run. Env:
#   PEERS_DIR   the harness (read-only; default ../shared/bench/peers)
#   RESULTS     TSV to append rows to (default: the scratch copy's results.tsv)
#   TESSERA_VARIANTS  which Tessera rows (default "memory"): memory (in-process
#               cache), redis (every page reads Redis), redis-near (Redis with
#               the 1s in-process near cache); the redis ones start
#               redis-server on a free port
#   TESSERA_BENCH_GOMAXPROCS  the composer's GOMAXPROCS (default: Go's)
# Every server binds 127.0.0.1 only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCEN=${1:?usage: bench/peers.sh SCENARIO [PEER...]}
shift
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench/peers}
[[ -x $PEERS_DIR/run.sh ]] || { echo "no harness at $PEERS_DIR (set PEERS_DIR)" >&2; exit 2; }
SCRATCH=${SCRATCH:-$(mktemp -d "${TMPDIR:-/tmp}/tessera-peers.XXXXXX")}
cp -r "$PEERS_DIR"/. "$SCRATCH"/
chmod -R u+w "$SCRATCH"
export RESULTS=${RESULTS:-$SCRATCH/results/results.tsv}
export RUN_TAG=${RUN_TAG:-tessera-$(date -u +%Y%m%dT%H%M%SZ)}
echo "harness copy: $SCRATCH; results: $RESULTS; tag: $RUN_TAG"
BIN=$SCRATCH/bin
mkdir -p "$BIN"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$BIN/tessera-composer" ./cmd/composer)

REDIS_PID=
cleanup() { [[ -n $REDIS_PID ]] && kill "$REDIS_PID" 2>/dev/null || true; }
trap cleanup EXIT

for variant in ${TESSERA_VARIANTS:-memory}; do
  name=tessera
  redis_url=
  near=0s
  if [[ $variant == redis || $variant == redis-near ]]; then
    name=tessera-$variant
    [[ $variant == redis-near ]] && near=1s
    if [[ -z $REDIS_PID ]]; then
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
      redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >/dev/null &
      REDIS_PID=$!
      for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    redis_url=redis://127.0.0.1:$port/0
    redis-cli -p "$port" flushall >/dev/null
  fi
  CUSTOM_NAME=$name CUSTOM_PORT=9250 CUSTOM_PATH=/ \
  CUSTOM_CMD="COMPOSER_BIN='$BIN/tessera-composer' TESSERA_BENCH_REDIS_URL='$redis_url' TESSERA_BENCH_NEAR='$near' TESSERA_BENCH_CPUPROFILE='${TESSERA_BENCH_CPUPROFILE:-}' TESSERA_BENCH_GOMAXPROCS='${TESSERA_BENCH_GOMAXPROCS:-}' exec bash '$ROOT/bench/tessera-peer.sh'" \
    "$SCRATCH/run.sh" custom "$SCEN"
done
for peer in "$@"; do
  "$SCRATCH/run.sh" "$peer" "$SCEN" || echo "peer $peer failed in $SCEN (see $SCRATCH/results/raw)" >&2
done
echo
head -1 "$RESULTS"
grep -F "$RUN_TAG" "$RESULTS" || true
