#!/usr/bin/env bash
# /metrics at 100, 1,000 and 2,000 maps (BENCHMARKS.md "## /metrics at 1,000 maps"): a release-built
# `mapctl watch` per side on a directory of N schema files, one curl scrape at a time, the sides
# alternated A/B/A/B, medians printed. Then, at 1,000 maps, /healthz probed every 50 ms while four
# clients scrape back to back.
#
# Usage: scripts/bench-metrics.sh [--old PATH] [--maps 100,1000,2000] [--rounds 3] [--old-rounds N]
#   --old PATH     a `mapctl` built before the change to compare with (side A); without it only
#                  this tree's daemon (side B) is measured. One way to get it:
#                    git archive OLD_COMMIT | tar -x -C /tmp/mapctl-old
#                    (cd /tmp/mapctl-old && swift build -c release --product mapctl)
#   --old-rounds N rounds for the old side at 2,000 maps and more (one scrape took 160 s); default --rounds
# Needs curl and python3. BENCH_SCRATCH picks the build folder (default .build-release).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

OLD=""
MAPS="100,1000,2000"
ROUNDS=3
OLD_ROUNDS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --old) OLD="$2"; shift 2 ;;
    --maps) MAPS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --old-rounds) OLD_ROUNDS="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
OLD_ROUNDS="${OLD_ROUNDS:-$ROUNDS}"
SCRATCH="${BENCH_SCRATCH:-.build-release}"
PORT_BASE="${BENCH_PORT:-17480}"

for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

echo "==> release build (swift build -c release --product mapctl --scratch-path $SCRATCH)" >&2
swift build -c release --product mapctl --scratch-path "$SCRATCH" >&2
NEW="$SCRATCH/release/mapctl"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

schemas() { # DIR COUNT
  mkdir -p "$1"
  for i in $(seq 0 $(($2 - 1))); do
    printf 'name: map_%d\nversion: 1.0.0\nkey_type: string\nvalue_type: json\nstrategy: sharded\nshards: 4\nrollback_window: 5m\n' "$i" >"$1/map_$i.yaml"
  done
}

start() { # BINARY DIR PORT NAME -> sets STARTED_PID
  "$1" watch "$2" --listen "127.0.0.1:$3" --state "$WORK/state-$4" --log-level warning >"$WORK/$4.out" 2>"$WORK/$4.err" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  local base="http://127.0.0.1:$3"
  for _ in $(seq 1 6000); do curl -fs "$base/readyz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  cat "$WORK/$4.err" >&2
  echo "daemon $4 did not get ready" >&2
  exit 1
}

stop() { # PID
  kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true
}

scrape() { # PORT -> seconds
  curl -fs -o /dev/null -w '%{time_total}\n' --max-time 600 "http://127.0.0.1:$1/metrics"
}

median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v)*1000:.1f}" if v else "-")' "$@"; }

echo "| maps | bytes | old ms (median) | new ms (median) | old/new | old runs | new runs |"
echo "|---|---|---|---|---|---|---|"
for n in ${MAPS//,/ }; do
  dir="$WORK/schemas-$n"
  schemas "$dir" "$n"
  start "$NEW" "$dir" $((PORT_BASE + 1)) "new-$n"
  new_pid=$STARTED_PID
  old_pid=""
  if [ -n "$OLD" ]; then
    start "$OLD" "$dir" $((PORT_BASE + 2)) "old-$n"
    old_pid=$STARTED_PID
  fi
  bytes=$(curl -fs "http://127.0.0.1:$((PORT_BASE + 1))/metrics" | wc -c)
  old_times=()
  new_times=()
  rounds=$ROUNDS
  [ -n "$OLD" ] && [ "$n" -ge 2000 ] && rounds=$(( OLD_ROUNDS > ROUNDS ? OLD_ROUNDS : ROUNDS ))
  for round in $(seq 1 "$rounds"); do
    if [ -n "$OLD" ] && { [ "$n" -lt 2000 ] || [ "$round" -le "$OLD_ROUNDS" ]; }; then
      old_times+=("$(scrape $((PORT_BASE + 2)))")
    fi
    new_times+=("$(scrape $((PORT_BASE + 1)))")
  done
  old_ms=$(median "${old_times[@]}")
  new_ms=$(median "${new_times[@]}")
  ratio=$(python3 -c "import sys; o,n=sys.argv[1],sys.argv[2]; print(f'{float(o)/float(n):.0f}x' if o!='-' else '-')" "$old_ms" "$new_ms")
  echo "| $n | $bytes | $old_ms | $new_ms | $ratio | ${old_times[*]:-} | ${new_times[*]} |"

  if [ "$n" -eq 1000 ]; then
    for side in new old; do
      [ "$side" = old ] && [ -z "$OLD" ] && continue
      port=$((PORT_BASE + 1)); [ "$side" = old ] && port=$((PORT_BASE + 2))
      seconds=10; [ "$side" = old ] && seconds=45
      end=$(( $(date +%s) + seconds ))
      loops=()
      for _ in 1 2 3 4; do
        ( while [ "$(date +%s)" -lt "$end" ]; do curl -fs -o /dev/null --max-time 120 "http://127.0.0.1:$port/metrics" || true; done ) &
        loops+=("$!")
      done
      : >"$WORK/health-$side"
      while [ "$(date +%s)" -lt "$end" ]; do
        curl -s -o /dev/null -w '%{time_total}\n' --max-time 60 "http://127.0.0.1:$port/healthz" >>"$WORK/health-$side" || echo 60 >>"$WORK/health-$side"
        sleep 0.05
      done
      for pid in "${loops[@]}"; do wait "$pid" 2>/dev/null || true; done
      python3 - "$side" "$WORK/health-$side" >>"$WORK/health-report" <<'EOF'
import statistics, sys
v = sorted(float(x) for x in open(sys.argv[2]) if x.strip())
print(f"healthz during 4 concurrent scrapes, 1,000 maps, {sys.argv[1]}: {len(v)} probes, "
      f"median {statistics.median(v)*1000:.1f} ms, p99 {v[int(0.99*(len(v)-1))]*1000:.1f} ms, max {v[-1]*1000:.1f} ms")
EOF
    done
  fi
  stop "$new_pid"
  [ -n "$old_pid" ] && stop "$old_pid"
done
echo
cat "$WORK/health-report" 2>/dev/null || true
