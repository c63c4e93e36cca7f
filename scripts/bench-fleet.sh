#!/usr/bin/env bash
# Fleets (issue 12, BENCHMARKS.md "## Fleets"): release-built `mapctl watch --fleet` replicas on a throwaway
# PostgreSQL (initdb into a temp dir, Unix socket only, default durability settings), writers on every replica.
#  1. Rollbacks: REPLICAS replicas serve map `hot`; ROLLBACKS times a bad version (fault_rate 0.5) lands in every
#     replica's directory, as a ConfigMap update would. For each rollback: the failing interval's end (the window's
#     start in mapctl_fleet_checks + (last judged interval + 1) x interval), the leader's decision (the rollback's
#     time in mapctl_fleet_history), and each replica's rollback done (the "rolled back" line of its JSON log).
#  2. Judging cost: MAPS maps on REPLICAS replicas, CPU (utime+stime from /proc/PID/stat) of the leader, the
#     followers and PostgreSQL per interval, first with every map stable, then with every map in its window; the
#     leader's judging cost is leader minus the followers' median. Also when each check is recorded after its
#     interval's end.
#
# Usage: scripts/bench-fleet.sh [--rollbacks 20] [--maps 100] [--replicas 3] [--intervals 20] [--segments 3]
#                               [--rate 300] [--interval-ms 1000] [--failure-limit 3] [--only rollbacks|cost]
#   --rate        writes per second on each replica (spread over the maps)
#   --intervals   intervals per CPU measurement; --segments: measurements in a row while the windows are open
# Needs PostgreSQL (initdb, pg_ctl, psql in PATH or /usr/lib/postgresql/*/bin; as root, the postgres user and
# runuser or setpriv) and python3. BENCH_SCRATCH picks the build folder (default .build-release);
# BENCH_KEEP=1 keeps the work folder (logs, PostgreSQL data) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

ROLLBACKS=20 MAPS=100 REPLICAS=3 INTERVALS=20 SEGMENTS=3 RATE=300 INTERVAL_MS=1000 FAILURE_LIMIT=3 ONLY=""
usage="usage: $0 [--rollbacks N] [--maps N] [--replicas N] [--intervals N] [--segments N] [--rate N] [--interval-ms N] [--failure-limit N] [--only rollbacks|cost]"
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "$usage" >&2; exit 64; }
  case "$1" in
    --rollbacks) ROLLBACKS="$2" ;;
    --maps) MAPS="$2" ;;
    --replicas) REPLICAS="$2" ;;
    --intervals) INTERVALS="$2" ;;
    --segments) SEGMENTS="$2" ;;
    --rate) RATE="$2" ;;
    --interval-ms) INTERVAL_MS="$2" ;;
    --failure-limit) FAILURE_LIMIT="$2" ;;
    --only) ONLY="$2" ;;
    *) echo "$usage" >&2; exit 64 ;;
  esac
  shift 2
done
SCRATCH="${BENCH_SCRATCH:-.build-release}"
command -v python3 >/dev/null || { echo "missing python3" >&2; exit 1; }

PG_BIN=""
if command -v initdb >/dev/null 2>&1; then
  PG_BIN="$(dirname "$(readlink -f "$(command -v initdb)")")"
else
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ]; then PG_BIN="$dir"; break; fi
  done
fi
[ -n "$PG_BIN" ] || { echo "no PostgreSQL: initdb is neither in PATH nor in /usr/lib/postgresql/*/bin (apt-get install -y postgresql)" >&2; exit 1; }
AS_PG=()
PG_USER="$(id -un)"
if [ "$(id -u)" = 0 ]; then # PostgreSQL refuses to run as root: its server runs as the postgres user
  id postgres >/dev/null 2>&1 || { echo "running as root needs the postgres system user" >&2; exit 1; }
  if command -v runuser >/dev/null 2>&1; then AS_PG=(runuser -u postgres --); else AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi
  PG_USER=postgres
fi

echo "==> release build (swift build -c release --product mapctl --scratch-path $SCRATCH)" >&2
swift build -c release --product mapctl --scratch-path "$SCRATCH" >&2
MAPCTL="$(pwd)/$SCRATCH/release/mapctl"

WORK="$(mktemp -d /tmp/fleetbench.XXXXXX)" # short: the socket path must stay under 108 bytes
chmod 755 "$WORK"
mkdir "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
PG_DATA="$WORK/pg/data"
cleanup() {
  if [ -f "$WORK/driver.pid" ]; then kill "$(cat "$WORK/driver.pid")" 2>/dev/null || true; sleep 1; fi
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
echo "==> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $NF}') in $WORK/pg (Unix socket, $PG_USER)" >&2
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U "$PG_USER" -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log" >&2; exit 1; }
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -l "$WORK/pg/log" \
  -o "-k $WORK/pg -c listen_addresses='' -p 5432 -c max_connections=200" start >/dev/null
"$PG_BIN/psql" -h "$WORK/pg" -p 5432 -U "$PG_USER" -d postgres -qAt -c 'CREATE DATABASE fleet'

cat >"$WORK/driver.py" <<'PY'
import http.client, json, os, re, signal, statistics, subprocess, sys, time, urllib.request
from datetime import datetime, timezone

A = dict(arg.split("=", 1) for arg in sys.argv[2:])
WORK, MAPCTL, INTERVAL = A.get("work", ""), A.get("mapctl", ""), int(A.get("interval_ms", "1000")) / 1000
REPLICAS = [chr(ord("a") + i) for i in range(int(A.get("replicas", "3")))]
DAEMONS, WRITERS = [], []
log = lambda text: print(text, file=sys.stderr, flush=True)

def writer():  # PUTs at a fixed rate over the maps, one keep-alive connection, until SIGTERM
    host, port = A["url"].split("//")[1].split(":")
    maps, period, stop, ok, failed, n = A["maps"].split(","), 1 / float(A["rate"]), [], 0, 0, 0
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    conn, due = http.client.HTTPConnection(host, int(port), timeout=10), time.monotonic()
    while not stop:
        try:
            conn.request("PUT", f"/v1/maps/{maps[n % len(maps)]}/entries/k{n % 5000}", str(n), {"Content-Type": "application/json"})
            response = conn.getresponse(); response.read()
            ok, failed = (ok + 1, failed) if response.status < 300 else (ok, failed + 1)
        except Exception:
            failed += 1; conn.close(); conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n += 1; due += period
        delay = due - time.monotonic()
        if delay > 0: time.sleep(delay)
        elif delay < -1: due = time.monotonic()
    print(json.dumps({"ok": ok, "failed": failed}), flush=True)

def schema(name, version, bad=False, min_ops=10):
    text = (f"name: {name}\nversion: {version}\nkey_type: string\nvalue_type: int64\nstrategy: sharded\nshards: 4\n"
            f"rollback_window: 10m\nrollout:\n  standby: warm\n  interval: {int(INTERVAL * 1000)}ms\n  min_ops: {min_ops}\n"
            f"  failure_limit: {A.get('failure_limit', '3')}\n  max_faults: 0\n")
    return text + ("fault_injection:\n  fault_rate: 0.5\n" if bad else "")

def write_file(path, text):  # as an editor or the kubelet would: a temporary dotfile, then a rename
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    open(tmp, "w").write(text); os.rename(tmp, path)

def start(fleet, replica):
    root = f"{WORK}/{fleet}-{replica}"
    out = open(f"{root}/log", "w")
    process = subprocess.Popen([MAPCTL, "watch", f"{root}/schemas", "--listen", "127.0.0.1:0", "--state", f"{root}/state",
                                "--enable-fault-injection", "--fleet", A["fleet_url"], "--fleet-name", fleet, "--replica", replica,
                                "--log-format", "json"], stdout=out, stderr=subprocess.STDOUT)
    DAEMONS.append(process)
    for _ in range(2400):
        found = re.search(r"listening on (http://\S+)", open(f"{root}/log").read())
        if found: return process, found.group(1)
        if process.poll() is not None: break
        time.sleep(0.05)
    sys.exit(f"replica {replica} did not start: {open(f'{root}/log').read()[-2000:]}")

def get(url, path):
    try:
        with urllib.request.urlopen(url + path, timeout=10) as response: return json.load(response)
    except Exception: return None

def wait(what, condition, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition(): return True
        time.sleep(0.05)
    log(f"!! timed out after {timeout} s waiting for {what}"); return False

def psql(sql):
    result = subprocess.run([A["psql"], "-h", A["pg_host"], "-p", A.get("pg_port", "5432"), "-U", A["pg_user"], "-d", "fleet", "-qAt", "-F", "\t", "-c", sql],
                            check=True, capture_output=True, text=True)
    return [line.split("\t") for line in result.stdout.splitlines() if line]

def writers(urls, maps):
    for url in urls:
        WRITERS.append(subprocess.Popen([sys.executable, __file__, "write", f"url={url}", f"maps={','.join(maps)}", f"rate={A['rate']}"],
                                        stdout=subprocess.PIPE, text=True))

def stop_writers():
    totals = {"ok": 0, "failed": 0}
    for process in WRITERS:
        process.terminate()
        for key, value in json.loads(process.communicate()[0] or "{}").items(): totals[key] += value
    WRITERS.clear(); return totals

def stop_daemons():
    for process in DAEMONS: process.terminate()
    for process in DAEMONS: process.wait(timeout=60)
    DAEMONS.clear()

def pct(values, q):  # nearest rank: p99 of 20 values is the largest
    ordered = sorted(values); return ordered[max(0, min(len(ordered) - 1, -(-int(q * 100) * len(ordered) // 100) - 1))]

def dist(values, scale=1000):
    if not values: return "n=0"
    return f"p50={pct(values, .5) * scale:.0f} p99={pct(values, .99) * scale:.0f} max={max(values) * scale:.0f} ms n={len(values)}"

def epoch(text): return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

def rollbacks():
    fleet, count = "rollbacks", int(A["rollbacks"])
    urls = {}
    for replica in REPLICAS:
        os.makedirs(f"{WORK}/{fleet}-{replica}/schemas")
        write_file(f"{WORK}/{fleet}-{replica}/schemas/hot.yaml", schema("hot", "1.0.0"))
        urls[replica] = start(fleet, replica)[1]
    wait("1.0.0 live on every replica and a leader", lambda: all(
        (s := get(url, "/v1/maps/hot")) and s.get("live_version") == "1.0.0" and len(s.get("replicas") or []) == len(REPLICAS)
        and s.get("leader") for url in urls.values()))
    writers(urls.values(), ["hot"])
    time.sleep(2 * INTERVAL)
    log(f"==> {count} rollbacks, {len(REPLICAS)} replicas, {A['rate']} writes/s on each, interval {INTERVAL} s, failure_limit {A['failure_limit']}")
    missing = []
    for i in range(1, count + 1):
        version = f"1.{i}.0"
        for replica in REPLICAS: write_file(f"{WORK}/{fleet}-{replica}/schemas/hot.yaml", schema("hot", version, bad=True))
        for replica, url in urls.items():
            if not wait(f"{version} rolled back on {replica}", lambda: (s := get(url, "/v1/maps/hot")) is not None
                        and s.get("live_version") == "1.0.0" and version in (s.get("quarantined") or []), timeout=60):
                missing.append((version, replica, get(url, "/v1/maps/hot")))
        time.sleep(0.5)
    totals = stop_writers()
    leader = psql(f"SELECT replica FROM mapctl_fleet_leaders WHERE fleet = '{fleet}'")
    checks = {}
    for version, start_at, index, result in psql(
            f"SELECT version, extract(epoch FROM window_start), interval_index, result FROM mapctl_fleet_checks "
            f"WHERE fleet = '{fleet}' AND name = 'hot' ORDER BY version, window_start, interval_index"):
        checks.setdefault(version, {}).setdefault(float(start_at), []).append((int(index), result))
    decided, rollback_count = {}, {}
    for action, from_version, at in psql(f"SELECT action, from_version, extract(epoch FROM occurred_at) FROM mapctl_fleet_history "
                                         f"WHERE fleet = '{fleet}' AND name = 'hot' AND action = 'rollback' ORDER BY id"):
        decided.setdefault(from_version, float(at)); rollback_count[from_version] = rollback_count.get(from_version, 0) + 1
    done, committed = {replica: {} for replica in REPLICAS}, {}
    for replica in REPLICAS:
        for line in open(f"{WORK}/{fleet}-{replica}/log"):
            try: entry = json.loads(line)
            except ValueError: continue
            if entry.get("message") == "rolled back" and entry.get("map") == "hot":
                done[replica].setdefault(entry.get("from_version"), epoch(entry["time"]))
            if entry.get("message") == "fleet rolled back a version" and entry.get("map") == "hot":  # the leader, once committed
                committed.setdefault(entry.get("from_version"), epoch(entry["time"]))
    everyone, passes, decisions, own, followers, not_all_failed = [], [], [], [], [], []
    log(f"{'version':>8} {'window start (UTC)':>18} {'checks':>22} {'pass':>6} {'commit':>6} " + " ".join(f"{r:>6}" for r in REPLICAS)
        + "  (ms after the failing interval's end: the deciding pass's start, its commit, each replica's rollback done)")
    for i in range(1, count + 1):
        version = f"1.{i}.0"
        windows = checks.get(version, {})
        if not windows or version not in decided: log(f"{version:>8} no judged window or no rollback in history"); continue
        start_at = max(windows); judged = windows[start_at]
        failing_end = start_at + (judged[-1][0] + 1) * INTERVAL
        if any(result != "fail" for _, result in judged): not_all_failed.append(version)
        times = {r: done[r].get(version) for r in REPLICAS}
        passes.append(decided[version] - failing_end)
        if version in committed: decisions.append(committed[version] - failing_end)
        if all(t is not None for t in times.values()): everyone.append(max(times.values()) - failing_end)
        for r, t in times.items():
            if t is None: continue
            (own if leader and r == leader[0][0] else followers).append(t - failing_end)
        log(f"{version:>8} {datetime.fromtimestamp(start_at, timezone.utc).strftime('%H:%M:%S.%f')[:-3]:>18} "
            f"{','.join(result for _, result in judged):>22} {(decided[version] - failing_end) * 1000:>6.0f} "
            f"{(committed.get(version, failing_end) - failing_end) * 1000:>6.0f} "
            + " ".join(f"{(t - failing_end) * 1000:>6.0f}" if t else f"{'never':>6}" for t in times.values()))
    leader_name = leader[0][0] if leader else "?"
    print(f"RESULT fleet_rollback_every_replica {dist(everyone)} (failing interval's end -> last replica's rollback done; "
          f"{len(REPLICAS)} replicas, interval {INTERVAL:g} s, {A['rate']} writes/s each) target=\"< 1 interval\"")
    print(f"RESULT fleet_rollback_decision {dist(decisions)} (failing interval's end -> the leader's rollback committed, its log line)")
    print(f"RESULT fleet_rollback_deciding_pass_start {dist(passes)} (failing interval's end -> the start of the leader's deciding pass, "
          f"the rollback's time in history)")
    print(f"RESULT fleet_rollback_done_on_leader {dist(own)} (leader {leader_name})")
    print(f"RESULT fleet_rollback_done_on_followers {dist(followers)}")
    print(f"RESULT fleet_rollback_checks windows={len(decided)} all_failed={len(decided) - len(not_all_failed)} "
          f"history_rollbacks_per_version={sorted(set(rollback_count.values()))} writes_ok={totals['ok']} writes_failed={totals['failed']}")
    for version, replica, status in missing:
        print(f"DEFECT {version} never rolled back on replica {replica} within 60 s; its status: {json.dumps(status)}")
    stop_daemons()

def cpu_ticks(pid):
    try: fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError: return 0
    return int(fields[11]) + int(fields[12])  # utime, stime

def postgres_ticks():  # the server and its backends; backends that exited are in the postmaster's cutime/cstime
    master = int(open(f"{A['pg_data']}/postmaster.pid").readline())
    fields = open(f"/proc/{master}/stat").read().rsplit(")", 1)[1].split()
    total = sum(int(f) for f in fields[11:15])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1] == str(master): total += cpu_ticks(pid)
        except OSError: pass
    return total

def cost():
    fleet, count = "cost", int(A["maps"])
    names = [f"map_{i:03d}" for i in range(count)]
    tick = os.sysconf("SC_CLK_TCK")
    processes, urls = {}, {}
    for replica in REPLICAS:
        os.makedirs(f"{WORK}/{fleet}-{replica}/schemas")
        for name in names: write_file(f"{WORK}/{fleet}-{replica}/schemas/{name}.yaml", schema(name, "1.0.0", min_ops=5))
        processes[replica], urls[replica] = start(fleet, replica)

    def all_maps(version, phase):
        def check():
            for url in urls.values():
                listing = get(url, "/v1/maps")
                maps = [m for m in (listing or {}).get("maps", []) if m.get("name") in names]
                if len(maps) != count or any(m.get("live_version") != version or m.get("phase") != phase for m in maps): return False
            return True
        return check

    def measure(label):
        leader = (get(urls[REPLICAS[0]], f"/v1/maps/{names[0]}") or {}).get("leader")
        before = {r: cpu_ticks(p.pid) for r, p in processes.items()}; pg_before = postgres_ticks()
        started = time.time(); time.sleep(int(A["intervals"]) * INTERVAL); ended = time.time()
        after = {r: cpu_ticks(p.pid) for r, p in processes.items()}; pg_after = postgres_ticks()
        leader_after = (get(urls[REPLICAS[0]], f"/v1/maps/{names[0]}") or {}).get("leader")
        intervals = (ended - started) / INTERVAL
        per = {r: (after[r] - before[r]) * 1000 / tick / intervals for r in REPLICAS}
        if leader not in per or leader_after != leader:
            print(f"RESULT fleet_cpu {label} leader changed ({leader} -> {leader_after}): not measured"); return
        followers = statistics.median([v for r, v in per.items() if r != leader])
        lags = [float(x) for (x,) in psql(
            f"SELECT extract(epoch FROM recorded_at - window_start) - (interval_index + 1) * {INTERVAL} FROM mapctl_fleet_checks "
            f"WHERE fleet = '{fleet}' AND recorded_at >= to_timestamp({started}) AND recorded_at < to_timestamp({ended})")]
        print(f"RESULT fleet_cpu {label} leader={per[leader]:.1f} followers={followers:.1f} judging={per[leader] - followers:.1f} "
              f"postgres={(pg_after - pg_before) * 1000 / tick / intervals:.1f} ms/interval ({count} maps, {len(REPLICAS)} replicas, "
              f"{intervals:.1f} intervals of {INTERVAL:g} s, leader {leader}; each: "
              + " ".join(f"{r}={v:.1f}" for r, v in per.items()) + ")")
        if lags or "window" in label:
            print(f"RESULT fleet_check_recorded {label} {dist(lags)} after the interval's end ({len(lags)} checks, "
                  f"{len(lags) / max(count * intervals, 1):.2f} per map per interval)")

    wait(f"{count} maps live at 1.0.0 on every replica", all_maps("1.0.0", "stable"), timeout=300)
    writers(urls.values(), names)
    log(f"==> judging cost: {count} maps, {len(REPLICAS)} replicas, {A['rate']} writes/s on each, {A['intervals']} intervals per measurement")
    time.sleep(3 * INTERVAL)
    measure("stable")
    opened = time.time()
    for replica in REPLICAS:
        for name in names: write_file(f"{WORK}/{fleet}-{replica}/schemas/{name}.yaml", schema(name, "1.1.0", min_ops=5))
    wait(f"{count} maps rolling out 1.1.0 on every replica", all_maps("1.1.0", "rolling_out"), timeout=300)
    time.sleep(3 * INTERVAL)
    for segment in range(int(A["segments"])):
        age = time.time() - opened
        measure(f"windows#{segment + 1} (window age {age:.0f}-{age + int(A['intervals']) * INTERVAL:.0f} s)")
    totals = stop_writers()
    print(f"RESULT fleet_cost_writes ok={totals['ok']} failed={totals['failed']}")
    stop_daemons()

if __name__ == "__main__":
    if sys.argv[1] == "write": writer(); sys.exit(0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        if sys.argv[1] in ("all", "rollbacks"): rollbacks()
        if sys.argv[1] in ("all", "cost"): cost()
    finally:
        for process in WRITERS: process.kill()
        for process in DAEMONS:
            if process.poll() is None: process.kill()
PY

python3 "$WORK/driver.py" "${ONLY:-all}" work="$WORK" mapctl="$MAPCTL" interval_ms="$INTERVAL_MS" replicas="$REPLICAS" \
  rollbacks="$ROLLBACKS" maps="$MAPS" intervals="$INTERVALS" segments="$SEGMENTS" rate="$RATE" failure_limit="$FAILURE_LIMIT" \
  fleet_url="postgresql://$PG_USER@/fleet?host=$WORK/pg&port=5432" psql="$PG_BIN/psql" pg_host="$WORK/pg" pg_user="$PG_USER" \
  pg_data="$PG_DATA" &
echo $! >"$WORK/driver.pid"
wait "$(cat "$WORK/driver.pid")"
rm -f "$WORK/driver.pid"
echo "(machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)" >&2
