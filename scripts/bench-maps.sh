#!/usr/bin/env bash
# Live map benchmarks (issue 3): Swift's strategies and a Mutex<[UInt64: Int64]> baseline beside Go's
# concurrent maps (../shared/peers/go-maps), same workload, same machine, one run.
#   scripts/bench-maps.sh [--ops N] [--threads 1,2]
# Prints one table of medians-of-one-run (run it several times and take medians; the machine is noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
OPS=5000000
THREADS=1,2
while [ $# -gt 0 ]; do
  case "$1" in
    --ops) OPS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    *) echo "usage: $0 [--ops N] [--threads 1,2]" >&2; exit 64 ;;
  esac
done
PEER="${PEER_DIR:-$(cd .. && pwd)/shared/peers/go-maps}"
out=$(mktemp -d)

echo "==> building mapctl-bench (release)" >&2
swift build -c release --scratch-path .build-release --product mapctl-bench >&2
BENCH=.build-release/release/mapctl-bench

if ! command -v go >/dev/null 2>&1; then
  echo "==> installing golang-go" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >&2
fi
echo "==> building the Go peer" >&2
d=$(mktemp -d) && cp -r "$PEER"/. "$d" && (cd "$d" && go build -o mapbench .)

echo "==> Go peer" >&2
"$d/mapbench" -ops "$OPS" -threads "$THREADS" | tee "$out/go.txt" >&2
echo "==> Swift: bytes per entry (one fresh process per target)" >&2
for target in baseline mutex rwlock sharded snapshot serialized; do
  "$BENCH" maps --memory-only --targets "$target" | tee -a "$out/swift.txt" >&2
done
echo "==> Swift: throughput" >&2
"$BENCH" maps --ops "$OPS" --threads "$THREADS" | tee -a "$out/swift.txt" >&2

# One table: each Swift strategy beside its Go counterpart and the Swift baseline.
awk -v threads="$THREADS" '
  FNR == 1 { file++ }
  $1 == "RESULT" { mops[$2 " " $3 " " $4 " " $5] = $6; foreign[$2 " " $3 " " $4 " " $5] = $7 }
  $1 == "MEM" { mem[$2 " " $3] = $4 }
  END {
    peer["mutex"] = "mutex"; peer["rwlock"] = "rwmutex"; peer["sharded"] = "shard64-mutex"
    peer["snapshot"] = "syncmap"; peer["serialized"] = "mutex"; peer["baseline"] = "mutex"
    n = split(threads, ts, ",")
    split("read100 read90 mixed50 write90", wls, " ")
    printf "| strategy | workload | threads | Swift Mops/s | Go peer | Go Mops/s | Swift/Go | Swift/baseline | counters off | Go best | Go nolock |\n"
    printf "|---|---|---|---|---|---|---|---|---|---|---|\n"
    split("baseline mutex rwlock sharded snapshot serialized", ss, " ")
    for (si = 1; si <= 6; si++) for (wi = 1; wi <= 4; wi++) for (ti = 1; ti <= n; ti++) {
      s = ss[si]; w = wls[wi]; t = ts[ti]
      sw = mops["swift " s " " w " " t]; gp = peer[s]; g = mops["go " gp " " w " " t]
      b = mops["swift baseline " w " " t]; off = mops["swift " s "-nocounters " w " " t]
      best = 0; split("syncmap rwmutex mutex shard64-rw shard64-mutex", gs, " ")
      for (gi = 1; gi <= 5; gi++) { v = mops["go " gs[gi] " " w " " t]; if (v + 0 > best) best = v + 0 }
      nl = mops["go nolock " w " " t]
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %s |\n", s, w, t, sw, gp, g, \
        (g > 0 ? sprintf("%.2f", sw / g) : "-"), (b > 0 ? sprintf("%.2f", sw / b) : "-"), (off != "" ? off : "-"), best, (nl != "" ? nl : "-")
    }
    printf "\n| structure | bytes/entry at 1M |\n|---|---|\n"
    for (k in mem) printf "| %s | %s |\n", k, mem[k]
  }' "$out/go.txt" "$out/swift.txt"
echo >&2
echo "raw output: $out (foreign cores per point are in column 7 of RESULT lines)" >&2
