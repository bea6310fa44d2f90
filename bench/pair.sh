#!/usr/bin/env bash
# Compares the fresh-page CPU of two composer binaries run at the same time:
# each in its own network namespace with its own copy of the harness' stub
# and its own wrk, over the same window, so that what the machine does
# meanwhile falls on both. Swaps the namespaces every round. Needs root
# (ip netns), wrk and curl.
#   bench/pair.sh BIN_A BIN_B [ROUNDS] [SECONDS]
# prints, per round, each build's CPU per page and B's ÷ A's, then the median.
#   PEERS_DIR  the harness (default ../shared/bench/peers), for its stub
set -euo pipefail
A=${1:?usage: bench/pair.sh BIN_A BIN_B [ROUNDS] [SECONDS]}; B=${2:?usage: bench/pair.sh BIN_A BIN_B [ROUNDS] [SECONDS]}
ROUNDS=${3:-4}; SECS=${4:-6}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench/peers}
WORK=$(mktemp -d); NS=(tpairA$$ tpairB$$)
cleanup() {
  for ns in "${NS[@]}"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9; ip netns del "$ns" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
(cd "$PEERS_DIR/fragstub" && go build -o "$WORK/fragstub" .)
# The composer runs as the harness runs it (bench/tessera-peer.sh): every
# fragment uncached, the harness' layout as the page, on the stub's ports.
composer() { # composer NS BIN LOG: becomes the composer process (run it with &)
  exec ip netns exec "$1" env TMPDIR="$WORK" COMPOSER_BIN="$2" PORT=9250 LAYOUT_TEMPLATE="$PEERS_DIR/layouts/page.tmpl.html" \
    FRAG_HEADLINES_URL=http://127.0.0.1:9101 FRAG_WEATHER_URL=http://127.0.0.1:9102 FRAG_SHOWS_URL=http://127.0.0.1:9103 \
    bash "$ROOT/bench/tessera-peer.sh" > "$3" 2>&1
}
for ns in "${NS[@]}"; do
  ip netns add "$ns"; ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" env FRAG_SIZE=3072 "$WORK/fragstub" > "$WORK/stub-$ns.log" 2>&1 &
done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
round() { # round NS_OF_A: prints "cpuA cpuB"
  local nsa=$1 nsb=$2 pa pb ta tb qa qb
  composer "$nsa" "$A" "$WORK/a.log" & pa=$!
  composer "$nsb" "$B" "$WORK/b.log" & pb=$!
  for ns in "$nsa" "$nsb"; do
    for _ in $(seq 100); do ip netns exec "$ns" curl -sf -o /dev/null http://127.0.0.1:9250/ && break; sleep 0.1; done
  done
  ip netns exec "$nsa" wrk -t1 -c16 -d$((SECS + 3))s http://127.0.0.1:9250/ > "$WORK/wrk-a" 2>&1 & local wa=$!
  ip netns exec "$nsb" wrk -t1 -c16 -d$((SECS + 3))s http://127.0.0.1:9250/ > "$WORK/wrk-b" 2>&1 & local wb=$!
  sleep 1.5
  ta=$(ticks $pa); tb=$(ticks $pb); sleep "$SECS"; ta=$(($(ticks $pa) - ta)); tb=$(($(ticks $pb) - tb))
  wait $wa $wb
  kill -9 $pa $pb; wait $pa $pb 2>/dev/null || true
  qa=$(awk '/Requests\/sec/{print $2}' "$WORK/wrk-a"); qb=$(awk '/Requests\/sec/{print $2}' "$WORK/wrk-b")
  awk -v ta=$ta -v tb=$tb -v qa=$qa -v qb=$qb -v s=$SECS -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.4f %.4f\n", ta*1000/hz/(qa*s), tb*1000/hz/(qb*s) }'
}
sleep 0.5
ratios=()
for i in $(seq "$ROUNDS"); do
  if ((i % 2)); then read -r ca cb < <(round "${NS[0]}" "${NS[1]}"); else read -r ca cb < <(round "${NS[1]}" "${NS[0]}"); fi
  r=$(awk -v a=$ca -v b=$cb 'BEGIN { printf "%.3f", b/a }')
  ratios+=("$r")
  echo "round $i: A $ca ms, B $cb ms per page; B/A $r"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END { m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "median B/A %.3f over %d rounds\n", m, NR }'
