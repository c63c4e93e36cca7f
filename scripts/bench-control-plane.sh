#!/usr/bin/env bash
# Control-plane benchmarks of the daemon under large inputs (BENCHMARKS.md "## Control plane under large inputs"):
#  1. a 10,000-document `POST /v1/apply`: how long it takes, the worst and p99 latency of
#     `GET /v1/maps/NAME` and `GET /readyz` asked meanwhile (one of each every 20 ms), and the
#     daemon's resident memory before, at its peak (VmHWM) and after;
#  2. a watched directory of 5,000 schema files: file write (rename over) -> new version live,
#     p50 / max over 20 changes.
#
# Needs python3. Usage:
#   scripts/bench-control-plane.sh [--mapctl PATH] [--docs N] [--files N] [--changes N]
# Without --mapctl it builds `mapctl` (release) into $BENCH_SCRATCH (default .build-release).
# Pass --mapctl to compare two builds (e.g. one of the commit before a change), A/B/A/B.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

MAPCTL=""
DOCS=10000
FILES=5000
CHANGES=20
while [ $# -gt 0 ]; do
  case "$1" in
    --mapctl) MAPCTL="$2"; shift 2 ;;
    --docs) DOCS="$2"; shift 2 ;;
    --files) FILES="$2"; shift 2 ;;
    --changes) CHANGES="$2"; shift 2 ;;
    *) echo "usage: $0 [--mapctl PATH] [--docs N] [--files N] [--changes N]" >&2; exit 64 ;;
  esac
done
command -v python3 >/dev/null || { echo "missing python3" >&2; exit 1; }
if [ -z "$MAPCTL" ]; then
  SCRATCH="${BENCH_SCRATCH:-.build-release}"
  echo "==> release build (swift build -c release --product mapctl --scratch-path $SCRATCH)" >&2
  swift build -c release --product mapctl --scratch-path "$SCRATCH" >&2
  MAPCTL="$SCRATCH/release/mapctl"
fi

WORK="$(mktemp -d)"
DAEMON_PID=""
cleanup() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts `mapctl watch DIR` on a free port; sets DAEMON_PID and BASE once it listens.
start_daemon() { # DIR STATE
  "$MAPCTL" watch "$1" --listen 127.0.0.1:0 --state "$2" >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
  DAEMON_PID=$!
  for _ in $(seq 1 600); do
    BASE="$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$WORK/daemon.out" | head -1)"
    [ -n "$BASE" ] && return 0
    sleep 0.1
  done
  echo "the daemon did not start" >&2; cat "$WORK/daemon.err" >&2; exit 1
}
stop_daemon() {
  kill "$DAEMON_PID"; wait "$DAEMON_PID" || true; DAEMON_PID=""
}

echo "==> 1. a $DOCS-document apply ($MAPCTL)" >&2
mkdir -p "$WORK/empty"
start_daemon "$WORK/empty" "$WORK/state1"
python3 - "$BASE" "$WORK/state1/token" "$DAEMON_PID" "$DOCS" <<'PYEOF'
import http.client, json, sys, threading, time, urllib.parse
base, token_file, pid, docs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
token = open(token_file).read().strip()
host = urllib.parse.urlparse(base)
def request(method, path, body=None, timeout=600):
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=timeout)
    headers = {"Authorization": "Bearer " + token}
    if body is not None: headers["Content-Type"] = "application/yaml"
    start = time.monotonic()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse(); data = response.read(); conn.close()
    return response.status, data, time.monotonic() - start
def memory():
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status") if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024
def doc(name): return f"name: {name}\nversion: 1.0.0\nkey_type: string\nvalue_type: string\n"
assert request("POST", "/v1/apply", doc("probe"))[0] == 200
while request("GET", "/readyz")[0] != 200: time.sleep(0.05)
body = "---\n".join(doc(f"bulk_{i}") for i in range(docs)).encode()
rss_before, _ = memory()
result = {}
def large():
    result["status"], result["body"], result["took"] = request("POST", "/v1/apply", body)
thread = threading.Thread(target=large); thread.start()
status_times, ready_times = [], []
while thread.is_alive():
    s, _, took = request("GET", "/v1/maps/probe"); assert s == 200, s; status_times.append(took)
    s, _, took = request("GET", "/readyz"); ready_times.append(took)
    time.sleep(0.02)
thread.join()
rss_after, peak = memory()
assert result["status"] == 200, result["body"][:300]
def pct(values, p):
    values = sorted(values); return values[min(len(values) - 1, max(0, int(round(len(values) * p + 0.4999)) - 1))] * 1e3
print(f"| apply of {docs} documents | {result['took']:.2f} s | status: {len(status_times)} calls, p99 {pct(status_times, 0.99):.1f} ms, "
      f"max {max(status_times) * 1e3:.1f} ms | readyz: max {max(ready_times) * 1e3:.1f} ms | "
      f"RSS {rss_before / 2**20:.0f} MiB before, {peak / 2**20:.0f} MiB peak, {rss_after / 2**20:.0f} MiB after |")
PYEOF
stop_daemon

echo "==> 2. one-file changes among $FILES watched files" >&2
mkdir -p "$WORK/many"
python3 - "$WORK/many" "$FILES" <<'PYEOF'
import sys
directory, files = sys.argv[1], int(sys.argv[2])
for i in range(files):
    with open(f"{directory}/m_{i}.yaml", "w") as f:
        f.write(f"name: m_{i}\nversion: 1.0.0\nkey_type: string\nvalue_type: string\n")
PYEOF
start_daemon "$WORK/many" "$WORK/state2"
python3 - "$BASE" "$WORK/many" "$FILES" "$CHANGES" <<'PYEOF'
import http.client, json, os, statistics, sys, time, urllib.parse
base, directory, files, changes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
host = urllib.parse.urlparse(base)
def get(path):
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
    conn.request("GET", path); response = conn.getresponse(); data = response.read(); conn.close()
    return response.status, data
start = time.monotonic()
while get("/readyz")[0] != 200:
    time.sleep(0.05)
    if time.monotonic() - start > 600: sys.exit("not ready after 600 s")
ready = time.monotonic() - start
samples = []
for change in range(1, changes + 1):
    index = (change * 997) % files
    version = f"1.{change}.0"
    path = f"{directory}/m_{index}.yaml"
    with open(path + ".tmp~", "w") as f:
        f.write(f"name: m_{index}\nversion: {version}\nkey_type: string\nvalue_type: string\n")
    written = time.monotonic()
    os.rename(path + ".tmp~", path)
    while True:
        status, data = get(f"/v1/maps/m_{index}")
        if status == 200 and json.loads(data).get("live_version") == version: break
        if time.monotonic() - written > 30: sys.exit(f"m_{index} {version} not live after 30 s")
        time.sleep(0.002)
    samples.append(time.monotonic() - written)
    time.sleep(0.2)
print(f"| one-file change among {files} files | {changes} changes | p50 {statistics.median(samples) * 1e3:.0f} ms | "
      f"max {max(samples) * 1e3:.0f} ms | (first reconcile ready after {ready:.1f} s) |")
PYEOF
stop_daemon
