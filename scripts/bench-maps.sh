#!/usr/bin/env bash
# Live map benchmarks: Swift's strategies (and a Mutex<[UInt64: Int64]> baseline) beside every peer of
# ../shared/peers (go-maps: Go's maps; go-xsync: xsync MapOf; java-chm: ConcurrentHashMap), same
# workload, same machine. The sides alternate, A/B/A/B: each round runs `mapctl-bench maps`, then each
# peer; three rounds by default. One table of medians over the rounds is printed at the end.
#   scripts/bench-maps.sh [--ops N] [--threads 1,2] [--rounds 3] [--bench PATH] [--peers go-maps,go-xsync,java-chm] [--tries N]
# --tries: attempts per point while other processes use more than 0.25 core (1: never retry, for a busy machine).
# Needs: swift, golang-go (apt-get install -y golang-go), a JDK (17), python3, and XSYNC_GIT (a git copy
# of github.com/puzpuzpuz/xsync) for go-xsync. --bench skips the Swift build (e.g. a static binary).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
OPS=5000000
THREADS=1,2
ROUNDS=3
BENCH=""
PEERS=go-maps,go-xsync,java-chm
TRIES=4
while [ $# -gt 0 ]; do
  case "$1" in
    --ops) OPS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --bench) BENCH="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --tries) TRIES="$2"; shift 2 ;;
    *) echo "usage: $0 [--ops N] [--threads 1,2] [--rounds 3] [--bench PATH] [--peers go-maps,go-xsync,java-chm] [--tries N]" >&2; exit 64 ;;
  esac
done
PEER_DIR="${PEER_DIR:-$(cd .. && pwd)/shared/peers}"
out=$(mktemp -d)
bin="$out/bin"
mkdir -p "$bin"

if [ -z "$BENCH" ]; then
  echo "==> building mapctl-bench (release)" >&2
  swift build -c release --scratch-path .build-release --product mapctl-bench >&2
  BENCH=.build-release/release/mapctl-bench
fi

peers=()
for peer in ${PEERS//,/ }; do
  case "$peer" in
    go-maps|go-xsync)
      command -v go >/dev/null 2>&1 || { echo "go is missing: apt-get install -y golang-go" >&2; exit 69; }
      if [ "$peer" = go-xsync ] && [ -z "${XSYNC_GIT:-}" ]; then
        echo "==> skipping go-xsync: set XSYNC_GIT to a git copy of github.com/puzpuzpuz/xsync" >&2
        continue
      fi
      echo "==> building $peer" >&2
      "$PEER_DIR/build-go-peer.sh" "$peer" "$bin/$peer" >&2
      peers+=("$peer") ;;
    java-chm)
      command -v javac >/dev/null 2>&1 || { echo "javac is missing (a JDK 17)" >&2; exit 69; }
      echo "==> compiling java-chm" >&2
      mkdir -p "$bin/java-chm" && cp "$PEER_DIR/java-chm/MapBench.java" "$bin/java-chm/" && (cd "$bin/java-chm" && javac MapBench.java)
      peers+=("$peer") ;;
    *) echo "unknown peer $peer" >&2; exit 64 ;;
  esac
done

run_peer() {
  case "$1" in
    go-maps|go-xsync) "$bin/$1" -ops "$OPS" -threads "$THREADS" -tries "$TRIES" ;;
    java-chm) (cd "$bin/java-chm" && java -Xms4g -Xmx4g -XX:+UseParallelGC MapBench -ops "$OPS" -threads "$THREADS" -tries "$TRIES") ;;
  esac
}

for round in $(seq 1 "$ROUNDS"); do
  echo "==> round $round/$ROUNDS: Swift, bytes per entry (one fresh process per target)" >&2
  for target in baseline mutex rwlock sharded snapshot serialized; do
    "$BENCH" maps --memory-only --targets "$target" | tee -a "$out/round$round.txt" >&2
  done
  "$BENCH" maps --empty-maps | tee -a "$out/round$round.txt" >&2
  echo "==> round $round/$ROUNDS: Swift throughput" >&2
  "$BENCH" maps --ops "$OPS" --threads "$THREADS" --tries "$TRIES" | tee -a "$out/round$round.txt" >&2
  for peer in "${peers[@]}"; do
    echo "==> round $round/$ROUNDS: $peer" >&2
    run_peer "$peer" | tee -a "$out/round$round.txt" >&2
  done
done

python3 - "$THREADS" "$out"/round*.txt <<'EOF'
import statistics, sys
threads = sys.argv[1].split(",")
rounds = []
for path in sys.argv[2:]:
    mops, mem = {}, {}
    for line in open(path):
        f = line.split()
        if len(f) >= 6 and f[0] == "RESULT":
            mops[(f[1] + " " + f[2], f[3], f[4])] = float(f[5])
        elif len(f) >= 8 and f[0] == "COUNTERS":  # on/off measured side by side (mapctl-bench maps)
            mops[("counters " + f[2], f[3], f[4])] = float(f[7])
        elif len(f) >= 4 and f[0] == "MEM":
            while "=" in f[-1]:  # estimated=..., rss=...
                f = f[:-1]
            mem[" ".join(f[1:-1])] = f[-1]
    rounds.append((mops, mem))
workloads = ["read100", "read90", "mixed50", "write90"]
strategies = ["baseline", "mutex", "rwlock", "sharded", "snapshot", "serialized"]
go_peer = {"baseline": "mutex", "mutex": "mutex", "rwlock": "rwmutex", "sharded": "shard64-mutex", "snapshot": "syncmap", "serialized": "mutex"}
peer_structures = ["go syncmap", "go rwmutex", "go mutex", "go shard64-rw", "go shard64-mutex", "go xsync", "java chm"]

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def per_round(fn):
    return med([fn(m) for m, _ in rounds])

def ratio(a, b):
    return lambda m: m[a] / m[b] if a in m and b in m and m[b] > 0 else None

def on_off(s, w, t):
    """Counters on / off: the side-by-side COUNTERS figure, else the two lone RESULT runs."""
    lone = ratio(("swift " + s, w, t), ("swift " + s + "-nocounters", w, t))
    return lambda m: m.get(("counters " + s, w, t), lone(m))

def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"

print(f"Medians over {len(rounds)} rounds (ratios: median of the per-round ratios).\n")
print("| strategy | workload | threads | Swift Mops/s | Go peer | Go Mops/s | Swift/Go | counters on/off |")
print("|---|---|---|---|---|---|---|---|")
for s in strategies:
    for w in workloads:
        for t in threads:
            sw, go = ("swift " + s, w, t), ("go " + go_peer[s], w, t)
            print(f"| {s} | {w} | {t} | {fmt(per_round(lambda m: m.get(sw)))} | {go_peer[s]} | "
                  f"{fmt(per_round(lambda m: m.get(go)))} | {fmt(per_round(ratio(sw, go)))} | "
                  f"{fmt(per_round(on_off(s, w, t))) if s != 'baseline' else '-'} |")

print("\nBest Swift strategy against the best peer (Go's structures, xsync, ConcurrentHashMap; Go's unlocked map apart):\n")
print("| workload | threads | best Swift | Mops/s | best peer | Mops/s | Swift/peer | Go unlocked | best Swift/unlocked |")
print("|---|---|---|---|---|---|---|---|---|")
for w in workloads:
    for t in threads:
        def best(m, names):
            found = [(m[(n, w, t)], n) for n in names if (n, w, t) in m]
            return max(found) if found else (None, "-")
        swift_names = ["swift " + s for s in strategies if s != "baseline"]
        ratios, unlocked, unlocked_ratios, sw_vals, peer_vals = [], [], [], [], []
        names_sw, names_peer = [], []
        for m, _ in rounds:
            (sv, sn), (pv, pn) = best(m, swift_names), best(m, peer_structures)
            if sv is not None: sw_vals.append(sv); names_sw.append(sn)
            if pv is not None: peer_vals.append(pv); names_peer.append(pn)
            if sv and pv: ratios.append(sv / pv)
            nl = m.get(("go nolock", w, t))
            if nl: unlocked.append(nl)
            if nl and sv: unlocked_ratios.append(sv / nl)
        common = lambda names: max(set(names), key=names.count).split(" ", 1)[1] if names else "-"
        print(f"| {w} | {t} | {common(names_sw)} | {fmt(med(sw_vals))} | {common(names_peer)} | {fmt(med(peer_vals))} | "
              f"{fmt(med(ratios))} | {fmt(med(unlocked))} | {fmt(med(unlocked_ratios))} |")

print("\n`snapshot` read100 against Go's unlocked map (target ≥ 0.9 at 2 threads):\n")
for t in threads:
    print(f"- {t} thread(s): {fmt(per_round(ratio(('swift snapshot', 'read100', t), ('go nolock', 'read100', t))))}")

print("\nBytes per entry at 1M (median; Swift: RSS added by the prefill, one fresh process per target):\n")
print("| structure | bytes/entry |")
print("|---|---|")
keys = []
for _, mem in rounds:
    for k in mem:
        if k not in keys: keys.append(k)
for k in keys:
    values = []
    for _, mem in rounds:
        try: values.append(float(mem[k]))
        except (KeyError, ValueError): pass
    print(f"| {k} | {fmt(med(values), 1)} |")
EOF
echo >&2
echo "raw output: $out (foreign cores per point are in column 7 of RESULT lines)" >&2
