#!/usr/bin/env bash
# Governed maps (issue 9): the path users touch (typed handle, JSON entry path, rollback window) against the
# bare engine, a Mutex<[String: User]>, and the Go peer ../shared/peers/go-strings, on the seed's user cache
# (100,000 string keys -> User records). Builds release and the Go peer, runs Swift and Go alternately
# RUNS times (Swift, Go, Swift, Go, ...), and prints the medians and one table of median ratios.
#
#   scripts/bench-governed.sh [--ops N] [--threads 1,2] [--tries N] [--runs N] [--targets LIST] [--workloads LIST]
#   OPS=1000000 TRIES=1 scripts/bench-governed.sh          # the same, from the environment
#   scripts/bench-governed.sh --summarize DIR              # the tables again from an earlier run's raw output
#
# XSYNC_GIT: a git copy of github.com/puzpuzpuz/xsync (default ../.mirror/puzpuzpuz+xsync/repo or
# /work/.mirror/puzpuzpuz+xsync/repo). Without Go or xsync the Go side is skipped, with a message.
# SWIFT_BUILD_FLAGS: extra flags for the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
OPS="${OPS:-5000000}"
THREADS="${THREADS:-1,2}"
TRIES="${TRIES:-4}"
RUNS="${RUNS:-3}"
TARGETS="${TARGETS:-}"
WORKLOADS="${WORKLOADS:-read100,read90,mixed50}"
usage="usage: $0 [--ops N] [--threads 1,2] [--tries N] [--runs N] [--targets LIST] [--workloads LIST] [--summarize DIR]"
SUMMARIZE=""
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "$usage" >&2; exit 64; }
  case "$1" in
    --ops) OPS="$2" ;;
    --threads) THREADS="$2" ;;
    --tries) TRIES="$2" ;;
    --runs) RUNS="$2" ;;
    --targets) TARGETS="$2" ;;
    --workloads) WORKLOADS="$2" ;;
    --summarize) SUMMARIZE="$2" ;;
    *) echo "$usage" >&2; exit 64 ;;
  esac
  shift 2
done
peers="$(cd .. && pwd)/shared/peers"
if [ -n "$SUMMARIZE" ]; then
  out="$SUMMARIZE"
  RUNS=$(find "$out" -name 'swift-*.txt' | wc -l)
else
  out=$(mktemp -d)
  echo "==> building mapctl-bench (release)" >&2
  # shellcheck disable=SC2086  # SWIFT_BUILD_FLAGS is a list of flags
  swift build -c release --product mapctl-bench --scratch-path .build-release ${SWIFT_BUILD_FLAGS:-} >&2
  BENCH=.build-release/release/mapctl-bench

  GO_PEER=""
  if [ -z "${XSYNC_GIT:-}" ]; then
    for candidate in ../.mirror/puzpuzpuz+xsync/repo /work/.mirror/puzpuzpuz+xsync/repo; do
      if [ -d "$candidate" ]; then XSYNC_GIT="$(cd "$candidate" && pwd)"; break; fi
    done
  fi
  if ! command -v go >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing golang-go" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >&2 || true
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "==> SKIPPING the Go side: no 'go' on PATH (apt-get install -y golang-go)" >&2
  elif [ -z "${XSYNC_GIT:-}" ] || ! git -C "$XSYNC_GIT" rev-parse -q --verify v3.5.1 >/dev/null 2>&1; then
    echo "==> SKIPPING the Go side: no git copy of puzpuzpuz/xsync with tag v3.5.1 (set XSYNC_GIT; see $peers/README.md)" >&2
  else
    echo "==> building the Go peer go-strings" >&2
    XSYNC_GIT="$XSYNC_GIT" "$peers/build-go-peer.sh" go-strings "$out/go-strings" >&2
    GO_PEER="$out/go-strings"
  fi

  swift_args=(governed --ops "$OPS" --threads "$THREADS" --tries "$TRIES" --workloads "$WORKLOADS")
  [ -n "$TARGETS" ] && swift_args+=(--targets "$TARGETS")
  for run in $(seq 1 "$RUNS"); do
    echo "==> run $run/$RUNS: Swift ($BENCH ${swift_args[*]})" >&2
    "$BENCH" "${swift_args[@]}" | tee "$out/swift-$run.txt" >&2
    if [ -n "$GO_PEER" ]; then
      echo "==> run $run/$RUNS: Go ($GO_PEER -ops $OPS -threads $THREADS -tries $TRIES)" >&2
      "$GO_PEER" -ops "$OPS" -threads "$THREADS" -tries "$TRIES" | tee "$out/go-$run.txt" >&2
    fi
  done
fi

# Medians over the runs, then the ratios the issue's targets are stated in. A missed target is marked ✗.
cat "$out"/*.txt | awk -v threads="$THREADS" -v workloads="$WORKLOADS" -v runs="$RUNS" '
  function median(key,   n, i, j, v, t) {
    n = split(values[key], v, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return (n % 2) ? v[(n + 1) / 2] + 0 : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  function cell(num, den, goal,   r) {
    if (num == "" || den == "" || den + 0 == 0) return "-"
    r = num / den
    return sprintf("%.2f%s", r, (goal != "" && r < goal) ? " ✗" : "")
  }
  function header(first,   p) {
    printf "| %s |", first
    for (p = 1; p <= np; p++) printf " %s %sT |", pw[p], pt[p]
    printf "\n|---|"
    for (p = 1; p <= np; p++) printf "---|"
    printf "\n"
  }
  $1 == "RESULT" {
    side = ($2 == "swift") ? "swift" : "go"
    key = side " " $3 " " $4 " " $5
    values[key] = values[key] " " $6
    if (!((side " " $3) in seen)) { seen[side " " $3] = 1; order[side, ++count[side]] = $3 }
  }
  END {
    nw = split(workloads, ws, ","); nt = split(threads, ts, ",")
    np = 0
    for (w = 1; w <= nw; w++) for (t = 1; t <= nt; t++) { np++; pw[np] = ws[w]; pt[np] = ts[t] }
    split("mutex rwlock sharded snapshot serialized", strategies, " ")
    for (p = 1; p <= np; p++) {
      for (i = 1; i <= count["swift"]; i++) m[p, order["swift", i]] = median("swift " order["swift", i] " " pw[p] " " pt[p])
      for (i = 1; i <= count["go"]; i++) g[p, order["go", i]] = median("go " order["go", i] " " pw[p] " " pt[p])
      bestTyped[p] = ""; bestGo[p] = ""
      for (s = 1; s <= 5; s++) { v = m[p, "typed-" strategies[s]]; if (v != "" && (bestTyped[p] == "" || v > bestTyped[p] + 0)) { bestTyped[p] = v; bestTypedName[p] = strategies[s] } }
      for (i = 1; i <= count["go"]; i++) { v = g[p, order["go", i]]; if (v != "" && (bestGo[p] == "" || v > bestGo[p] + 0)) { bestGo[p] = v; bestGoName[p] = order["go", i] } }
    }
    printf "Medians of %s runs, Mops/s (Swift `mapctl-bench governed`, Go `go-strings`)\n\n", runs
    header("target")
    for (i = 1; i <= count["swift"]; i++) {
      printf "| %s |", order["swift", i]
      for (p = 1; p <= np; p++) printf " %s |", (m[p, order["swift", i]] == "" ? "-" : sprintf("%.2f", m[p, order["swift", i]]))
      printf "\n"
    }
    for (i = 1; i <= count["go"]; i++) {
      printf "| Go %s |", order["go", i]
      for (p = 1; p <= np; p++) printf " %s |", (g[p, order["go", i]] == "" ? "-" : sprintf("%.2f", g[p, order["go", i]]))
      printf "\n"
    }
    printf "| best typed-* |"; for (p = 1; p <= np; p++) printf " %s |", (bestTyped[p] == "" ? "-" : sprintf("%.2f (%s)", bestTyped[p], bestTypedName[p])); printf "\n"
    printf "| best Go |"; for (p = 1; p <= np; p++) printf " %s |", (bestGo[p] == "" ? "-" : sprintf("%.2f (%s)", bestGo[p], bestGoName[p])); printf "\n"

    printf "\nRatios of the medians (✗: below the issue'"'"'s target, given in brackets)\n\n"
    header("ratio")
    split("typed window dynamic", kinds, " "); goals["typed"] = 0.9; goals["window"] = 0.5; goals["dynamic"] = 0.5
    for (k = 1; k <= 3; k++) for (s = 1; s <= 5; s++) {
      name = kinds[k] "-" strategies[s]
      if (!(("swift " name) in seen)) continue
      printf "| %s / live-%s (≥ %s) |", name, strategies[s], goals[kinds[k]]
      for (p = 1; p <= np; p++) printf " %s |", cell(m[p, name], m[p, "live-" strategies[s]], goals[kinds[k]])
      printf "\n"
    }
    for (i = 1; i <= count["swift"]; i++) {
      name = order["swift", i]
      if (name == "dictionary") continue
      goal = ""
      if (name ~ /^typed-/) goal = (name == "typed-serialized") ? 0.5 : 1
      printf "| %s / dictionary%s |", name, (goal == "" ? "" : " (≥ " goal " at 2T)")
      for (p = 1; p <= np; p++) printf " %s |", cell(m[p, name], m[p, "dictionary"], (pt[p] == 2 ? goal : ""))
      printf "\n"
    }
    if (count["go"] > 0) {
      printf "| best typed-* / best Go (≥ 1) |"
      for (p = 1; p <= np; p++) printf " %s |", cell(bestTyped[p], bestGo[p], 1)
      printf "\n"
    }
  }'
echo >&2
echo "raw output: $out (foreign cores per point are in column 7 of RESULT lines)" >&2
