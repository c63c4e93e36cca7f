#!/usr/bin/env bash
# HTTP benchmarks of the daemon (BENCHMARKS.md "## HTTP"):
#  1. entry GET and PUT throughput and latency with wrk on loopback, 2 and 64
#     connections, against a release-built `mapctl watch`;
#  2. redis-benchmark GET/SET against a local redis-server, same connection
#     counts, not pipelined, as the yardstick (ratio ours / redis);
#  3. file write -> new version live: p50/p99 over 100 changes;
#  4. the RESP section and the yardstick section (a bare Hummingbird app), see below.
#
# Needs: wrk, redis-server, redis-tools, curl, python3 (apt-get install -y wrk
# redis-server redis-tools curl python3). Usage: scripts/bench-http.sh [--resp|--compare] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

# --resp: only the RESP section (BENCHMARKS.md "## Redis protocol"), see resp_section below.
# --compare: only the yardstick section, mapctl against a bare Hummingbird app, see compare_section below.
RESP_ONLY=0
COMPARE_ONLY=0
if [ "${1:-}" = "--resp" ]; then RESP_ONLY=1; shift; fi
if [ "${1:-}" = "--compare" ]; then COMPARE_ONLY=1; shift; fi
DURATION="${1:-10}"
PORT="${BENCH_PORT:-17468}"
REDIS_PORT="${BENCH_REDIS_PORT:-16399}"
SCRATCH="${BENCH_SCRATCH:-.build-release}"
CHANGES="${BENCH_CHANGES:-100}"

for tool in wrk redis-server redis-benchmark curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk redis-server redis-tools curl python3)" >&2; exit 1; }
done

echo "==> release build (swift build -c release --product mapctl --scratch-path $SCRATCH)" >&2
swift build -c release --product mapctl --scratch-path "$SCRATCH" >&2
MAPCTL="$SCRATCH/release/mapctl"

WORK="$(mktemp -d)"
DAEMON_PID=""
REDIS_PID=""
cleanup() {
  [ -n "${RESP_PID:-}" ] && kill "$RESP_PID" 2>/dev/null && wait "$RESP_PID" 2>/dev/null || true
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/schemas"
schema() { # VERSION
  cat <<EOF
name: bench
version: $1
key_type: string
value_type: json
strategy: sharded
shards: 64
rollback_window: 1m
EOF
}
schema 1.0.0 >"$WORK/schemas/bench.yaml"

"$MAPCTL" watch "$WORK/schemas" --listen "127.0.0.1:$PORT" --state "$WORK/state" --log-level warning \
  >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
DAEMON_PID=$!
for _ in $(seq 1 200); do
  grep -q "listening on" "$WORK/daemon.out" 2>/dev/null && break
  sleep 0.05
done
grep -q "listening on" "$WORK/daemon.out" || { cat "$WORK/daemon.err" >&2; echo "daemon did not start" >&2; exit 1; }
BASE="http://127.0.0.1:$PORT"
until curl -fs "$BASE/readyz" >/dev/null; do sleep 0.05; done
curl -fs -X PUT --data '{"id":"u1","name":"Ann"}' "$BASE/v1/maps/bench/entries/k1" >/dev/null

redis-server --port "$REDIS_PORT" --save "" --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done

cat >"$WORK/put.lua" <<'EOF'
wrk.method = "PUT"
wrk.body = '{"id":"u1","name":"Ann"}'
wrk.headers["Content-Type"] = "application/json"
EOF

# wrk: requests/s and p99 (ms) from --latency output.
run_wrk() { # CONNECTIONS EXTRA...
  local connections="$1"; shift
  local threads=2
  [ "$connections" -lt 2 ] && threads=1
  wrk -t"$threads" -c"$connections" -d"${DURATION}s" --latency "$@" "$BASE/v1/maps/bench/entries/k1" >"$WORK/wrk.txt"
  local rps p99 p50 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")
  errors=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt")
  echo "$rps ${p50} ${p99} ${errors:-0}"
}

run_redis() { # TEST CONNECTIONS -> rps p50 p99 (ms)
  redis-benchmark -p "$REDIS_PORT" -t "$1" -c "$2" -n $((DURATION * 20000)) -P 1 -d 24 --csv 2>/dev/null |
    awk -F'"' 'NR>1 {print $4, $10, $14}'
}

to_ms() { # wrk latency like 120.00us / 1.20ms / 1.01s -> ms
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "%s", v }'
}

# ---- RESP section -----------------------------------------------------------------------------
# redis-benchmark -t get,set -n RESP_REQUESTS (-r 100000 random keys) at 2 and 64 connections,
# unpipelined and -P 16, against a second daemon's RESP listener (a `string` map named `key`, so
# redis-benchmark's keys key:NNN land in it) and against the redis-server above, alternated
# RESP_ROUNDS times; medians and ratios mapctl / redis-server.
RESP_REQUESTS="${BENCH_RESP_REQUESTS:-200000}"
RESP_ROUNDS="${BENCH_RESP_ROUNDS:-3}"
RESP_PID=""
resp_section() {
  mkdir -p "$WORK/resp-schemas"
  printf 'name: key\nversion: 1.0.0\nkey_type: string\nvalue_type: string\n' >"$WORK/resp-schemas/key.yaml"
  "$MAPCTL" watch "$WORK/resp-schemas" --listen 127.0.0.1:0 --resp 127.0.0.1:0 --state "$WORK/resp-state" \
    --log-level warning >"$WORK/resp.out" 2>"$WORK/resp.err" &
  RESP_PID=$!
  for _ in $(seq 1 200); do
    grep -q "resp listening on" "$WORK/resp.out" 2>/dev/null && break
    sleep 0.05
  done
  local resp_port
  resp_port=$(sed -n 's/^resp listening on .*:\([0-9]*\)$/\1/p' "$WORK/resp.out")
  [ -n "$resp_port" ] || { cat "$WORK/resp.err" >&2; echo "RESP listener did not start" >&2; exit 1; }
  until [ "$(redis-cli -p "$resp_port" SET key:probe x 2>/dev/null)" = "OK" ]; do sleep 0.05; done

  : >"$WORK/resp.samples"
  for round in $(seq 1 "$RESP_ROUNDS"); do
    for connections in 2 64; do
      for pipeline in 1 16; do
        for target in mapctl redis; do
          local port="$resp_port"
          [ "$target" = redis ] && port="$REDIS_PORT"
          redis-benchmark -p "$port" -t get,set -n "$RESP_REQUESTS" -r 100000 -c "$connections" -P "$pipeline" --csv 2>/dev/null |
            awk -F'"' -v t="$target" -v c="$connections" -v p="$pipeline" -v r="$round" 'NR>1 {print t, $2, c, p, r, $4}' \
            >>"$WORK/resp.samples"
        done
      done
    done
  done
  kill "$RESP_PID" 2>/dev/null && wait "$RESP_PID" 2>/dev/null || true
  RESP_PID=""

  echo
  echo "RESP: redis-benchmark -t get,set -n $RESP_REQUESTS -r 100000 -c 2|64 [-P 16], median of $RESP_ROUNDS alternated rounds"
  python3 - "$WORK/resp.samples" <<'PYEOF'
import statistics, sys
samples = {}
for line in open(sys.argv[1]):
    target, test, c, p, _, rps = line.split()
    samples.setdefault((target, test, int(c), int(p)), []).append(float(rps))
print("| command | connections | pipeline | mapctl req/s | redis-server req/s | ratio | target | met |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for c in (2, 64):
    for p in (1, 16):
        for test in ("SET", "GET"):
            ours = statistics.median(samples.get(("mapctl", test, c, p), [0]))
            theirs = statistics.median(samples.get(("redis", test, c, p), [0])) or 1
            target = 0.5 if p == 1 else 0.7
            ratio = ours / theirs
            print(f"| {test} | {c} | {'-P 16' if p > 1 else 'none'} | {ours:,.0f} | {theirs:,.0f} | {ratio:.0%} | "
                  f"{target:.0%} | {'yes' if ratio >= target else 'no'} |")
PYEOF
}
# ---- Yardstick section ------------------------------------------------------------------------
# wrk on GET /healthz and GET /v1/maps/bench/entries/k1 at 2 and 64 connections against:
#   mapctl         the daemon above (entry requests on the fast path, EntryFastPathHandler);
#   mapctl-routed  the same binary with MAPCTL_HTTP_FAST_PATH=off: entries through the router;
#   mapctl-nio     the same binary with MAPCTL_EXECUTOR=nio: NIO's event loops as the global executor;
#   bare           `mapctl-bench bare-http`, a Hummingbird app of the same package versions with nothing
#                  of mapctl (healthz, and entries in a locked dictionary);
#   bare-nio       the same with NIO's event loops as the global executor;
#   mapctl-b       when BENCH_MAPCTL_B names another mapctl binary (say, a build from before a change).
# Targets alternate within each of COMPARE_ROUNDS rounds (A/B/A/B). Two tables of medians: req/s, and the
# server's CPU time per request (utime + stime from /proc, which is steadier than req/s on a shared machine).
COMPARE_ROUNDS="${BENCH_ROUNDS:-3}"
compare_section() {
  echo "==> release build (swift build -c release --product mapctl-bench --scratch-path $SCRATCH)" >&2
  swift build -c release --product mapctl-bench --scratch-path "$SCRATCH" >&2
  local targets="mapctl=$BASE=$DAEMON_PID"
  start_server() { # NAME COMMAND... -> adds NAME=URL=PID to the targets
    local name="$1"; shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    local pid=$!
    echo $pid >>"$WORK/compare.pids"
    for _ in $(seq 1 200); do
      grep -q "listening on" "$WORK/$name.out" 2>/dev/null && break
      sleep 0.05
    done
    local url
    url=$(sed -n 's/^listening on \(http:.*\)$/\1/p' "$WORK/$name.out" | head -1)
    [ -n "$url" ] || { cat "$WORK/$name.err" >&2; echo "$name did not start" >&2; exit 1; }
    curl -fs -X PUT --data '{"id":"u1","name":"Ann"}' "$url/v1/maps/bench/entries/k1" >/dev/null
    targets="$targets $name=$url=$pid"
  }
  start_mapctl() { # NAME BINARY [ENV=VALUE...]
    local name="$1" binary="$2"; shift 2
    mkdir -p "$WORK/schemas-$name"
    cp "$WORK/schemas/bench.yaml" "$WORK/schemas-$name/"
    start_server "$name" env "$@" "$binary" watch "$WORK/schemas-$name" --listen 127.0.0.1:0 --state "$WORK/state-$name" --log-level warning
  }
  : >"$WORK/compare.pids"
  start_mapctl mapctl-routed "$MAPCTL" MAPCTL_HTTP_FAST_PATH=off
  start_mapctl mapctl-nio "$MAPCTL" MAPCTL_EXECUTOR=nio
  start_server bare "$SCRATCH/release/mapctl-bench" bare-http --listen 127.0.0.1:0
  start_server bare-nio "$SCRATCH/release/mapctl-bench" bare-http --listen 127.0.0.1:0 --nio-executor
  if [ -n "${BENCH_MAPCTL_B:-}" ]; then start_mapctl mapctl-b "$BENCH_MAPCTL_B"; fi
  cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  : >"$WORK/compare.samples"
  for round in $(seq 1 "$COMPARE_ROUNDS"); do
    for connections in 2 64; do
      for path in /healthz /v1/maps/bench/entries/k1; do
        for target in $targets; do
          local name="${target%%=*}" rest="${target#*=}"
          local url="${rest%=*}" pid="${rest##*=}" before after
          before=$(cpu_ticks "$pid")
          wrk -t2 -c"$connections" -d"${DURATION}s" "$url$path" >"$WORK/wrk.txt"
          after=$(cpu_ticks "$pid")
          echo "$name $path $connections $round $(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt") $((after - before)) $(getconf CLK_TCK)" \
            "$(awk '/requests in/ {print $1}' "$WORK/wrk.txt") $(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt")" >>"$WORK/compare.samples"
        done
      done
    done
  done
  while read -r pid; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done <"$WORK/compare.pids"

  echo
  echo "Yardstick: wrk -t2 -c2|64 -d${DURATION}s, medians of $COMPARE_ROUNDS alternated rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  python3 - "$WORK/compare.samples" <<'PYEOF'
import statistics, sys
rps, cpu, names, errors = {}, {}, [], set()
for line in open(sys.argv[1]):
    parts = line.split()
    name, path, c, _, rate, ticks, hz, count = parts[:8]
    if len(parts) > 8: errors.add(name)
    key = (name, path, int(c))
    rps.setdefault(key, []).append(float(rate))
    cpu.setdefault(key, []).append(int(ticks) / int(hz) * 1e6 / max(1, int(count)))
    if name not in names: names.append(name)
paths = ("/healthz", "/v1/maps/bench/entries/k1")
print("Requests per second, median (min-max):")
print()
print("| path | connections | " + " | ".join(names) + " | mapctl / bare |")
print("| --- | --- | " + " | ".join("---" for _ in names) + " | --- |")
for path in paths:
    for c in (2, 64):
        m = {n: statistics.median(rps[(n, path, c)]) for n in names}
        cells = " | ".join(f"{m[n]:,.0f} ({min(rps[(n, path, c)]):,.0f}-{max(rps[(n, path, c)]):,.0f})" for n in names)
        print(f"| GET {path} | {c} | {cells} | {m['mapctl'] / m['bare']:.2f} |")
print()
print("Server CPU time per request, microseconds, median:")
print()
print("| path | connections | " + " | ".join(names) + " | bare / mapctl |")
print("| --- | --- | " + " | ".join("---" for _ in names) + " | --- |")
for path in paths:
    for c in (2, 64):
        m = {n: statistics.median(cpu[(n, path, c)]) for n in names}
        print(f"| GET {path} | {c} | " + " | ".join(f"{m[n]:.1f}" for n in names) + f" | {m['bare'] / m['mapctl']:.2f} |")
if errors: print("non-2xx answers from: " + ", ".join(sorted(errors)))
PYEOF
}

if [ "$RESP_ONLY" = 1 ]; then
  resp_section
  exit 0
fi
if [ "$COMPARE_ONLY" = 1 ]; then
  compare_section
  exit 0
fi

echo
echo "| op | connections | mapctl req/s | mapctl p50 / p99 ms | redis req/s | redis p50 / p99 ms | ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for connections in 2 64; do
  for op in GET PUT; do
    if [ "$op" = GET ]; then ours=$(run_wrk "$connections"); theirs=$(run_redis get "$connections")
    else ours=$(run_wrk "$connections" -s "$WORK/put.lua"); theirs=$(run_redis set "$connections"); fi
    read -r rps p50 p99 errors <<<"$ours"
    read -r rrps rp50 rp99 <<<"$theirs"
    ratio=$(awk -v a="$rps" -v b="$rrps" 'BEGIN { printf "%.0f %%", 100 * a / b }')
    note=""
    [ "$errors" != "0" ] && note=" ($errors non-2xx)"
    printf "| %s | %s | %.0f%s | %s / %s | %.0f | %s / %s | %s |\n" "$op" "$connections" "$rps" "$note" \
      "$(to_ms "$p50")" "$(to_ms "$p99")" "$rrps" "$rp50" "$rp99" "$ratio"
  done
done

# File write -> new version live, measured from the write to the first status that shows it.
echo
python3 - "$BASE" "$WORK/schemas/bench.yaml" "$CHANGES" <<'EOF'
import http.client, json, sys, time
base, path, changes = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = base.replace("http://", "").split(":")
conn = http.client.HTTPConnection(host, int(port))
def live():
    conn.request("GET", "/v1/maps/bench")
    return json.loads(conn.getresponse().read())["live_version"]
samples = []
for i in range(1, changes + 1):
    version = f"1.1.{i}"
    text = f"name: bench\nversion: {version}\nkey_type: string\nvalue_type: json\nstrategy: sharded\nshards: 64\nrollback_window: 1m\n"
    start = time.monotonic()
    with open(path, "w") as f:
        f.write(text)
    while live() != version:
        if time.monotonic() - start > 5:
            sys.exit(f"version {version} not live after 5 s")
    samples.append((time.monotonic() - start) * 1000)
    time.sleep(0.15)  # let the burst window close: each change is measured on its own
samples.sort()
pct = lambda p: samples[min(len(samples) - 1, int(round(p / 100 * len(samples))) - 1)]
print(f"| file write -> live | changes | p50 ms | p99 ms | max ms |")
print(f"| --- | --- | --- | --- | --- |")
print(f"| inotify | {len(samples)} | {pct(50):.1f} | {pct(99):.1f} | {samples[-1]:.1f} |")
EOF

resp_section
compare_section
