#!/usr/bin/env bash
# Starts the Tessera composer as the peer harness' "custom" peer: turns the
# harness' environment (PORT, FRAG_*_URL, FRAG_TIMEOUT_MS, SHOWS_TIMEOUT_MS,
# CACHE, LAYOUT_TEMPLATE) into a composer config and execs the composer, so
# that the harness measures the composer process alone.
#   COMPOSER_BIN  the composer binary (required)
#   TESSERA_BENCH_REDIS_URL  use this Redis as the cache (default: in-process)
#   TESSERA_BENCH_NEAR       near_cache with Redis (default 0s: every page reads Redis)
#   TESSERA_BENCH_PRIMARY=1  mark $PRIMARY_FRAGMENT primary (holds the page
#                            head until it arrives, as Tailor does)
#   TESSERA_BENCH_CPUPROFILE write a CPU profile of the whole run to this file
#                            (go tool pprof -top COMPOSER_BIN FILE)
#   TESSERA_BENCH_GOMAXPROCS the composer's GOMAXPROCS (default: Go's, one
#                            per CPU); only the composer's, not the stub's
set -euo pipefail
: "${COMPOSER_BIN:?COMPOSER_BIN is not set}" "${PORT:?}" "${LAYOUT_TEMPLATE:?}"
CFG=$(mktemp "${TMPDIR:-/tmp}/tessera-bench.XXXXXX.yaml")
ttl() { if [[ ${CACHE:-0} == 1 ]]; then echo ""; else echo "    ttl: 0s"; fi; }
primary() { [[ ${TESSERA_BENCH_PRIMARY:-0} == 1 && ${PRIMARY_FRAGMENT:-} == "$1" ]] && echo "    primary: true" || true; }
{
  echo "listen: 127.0.0.1:$PORT"
  echo "near_cache: ${TESSERA_BENCH_NEAR:-0s}"
  echo "fragments:"
  for f in headlines weather shows; do
    var="FRAG_${f^^}_URL"
    timeout=${FRAG_TIMEOUT_MS:-3000}
    [[ $f == shows ]] && timeout=${SHOWS_TIMEOUT_MS:-$timeout}
    echo "  $f:"
    echo "    url: ${!var}"
    echo "    timeout: ${timeout}ms"
    ttl
    primary "$f"
  done
  echo "pages:"
  echo "  - path: /"
  echo "    layout: $LAYOUT_TEMPLATE"
} > "$CFG"
export REDIS_URL=${TESSERA_BENCH_REDIS_URL:-}
export TESSERA_LOG_LEVEL=${TESSERA_LOG_LEVEL:-error}
if [[ -n ${TESSERA_BENCH_GOMAXPROCS:-} ]]; then export GOMAXPROCS=$TESSERA_BENCH_GOMAXPROCS; fi
exec "$COMPOSER_BIN" -config "$CFG" ${TESSERA_BENCH_CPUPROFILE:+-cpuprofile "$TESSERA_BENCH_CPUPROFILE"}
