#!/usr/bin/env python3
"""The driver of scripts/bench-fleet.sh (BENCHMARKS.md "## Fleets"), which builds mapctl and starts PostgreSQL.

    bench-fleet.py rollbacks|cost|all key=value...    (bench-fleet.sh passes every key)
    bench-fleet.py write url=URL maps=A,B rate=N      (one writer; run by the driver)

Prints RESULT lines on stdout, progress and per-rollback tables on stderr.
"""
import http.client, json, os, re, signal, statistics, subprocess, sys, time, urllib.request
from datetime import datetime, timezone

A = dict(arg.split("=", 1) for arg in sys.argv[2:])
INTERVAL = int(A.get("interval_ms", "1000")) / 1000
REPLICAS = [chr(ord("a") + i) for i in range(int(A.get("replicas", "3")))]
DAEMONS, WRITERS = [], []


def log(text):
    print(text, file=sys.stderr, flush=True)


def writer():
    """PUTs at a fixed rate, round robin over the maps, on one keep-alive connection, until SIGTERM."""
    host, port = A["url"].split("//")[1].split(":")
    maps, period, stop, ok, failed, n = A["maps"].split(","), 1 / float(A["rate"]), [], 0, 0, 0
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    conn, due = http.client.HTTPConnection(host, int(port), timeout=10), time.monotonic()
    while not stop:
        try:
            conn.request("PUT", f"/v1/maps/{maps[n % len(maps)]}/entries/k{n % 5000}", str(n), {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            ok, failed = (ok + 1, failed) if response.status < 300 else (ok, failed + 1)
        except Exception:
            failed += 1
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n += 1
        due += period
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:  # far behind: do not burst to catch up
            due = time.monotonic()
    print(json.dumps({"ok": ok, "failed": failed}), flush=True)


def schema(name, version, bad=False, min_ops=10):
    text = (f"name: {name}\nversion: {version}\nkey_type: string\nvalue_type: int64\nstrategy: sharded\nshards: 4\n"
            f"rollback_window: 10m\nrollout:\n  standby: warm\n  interval: {int(INTERVAL * 1000)}ms\n  min_ops: {min_ops}\n"
            f"  failure_limit: {A.get('failure_limit', '3')}\n  max_faults: 0\n")
    return text + ("fault_injection:\n  fault_rate: 0.5\n" if bad else "")


def write_file(path, text):
    """As an editor or the kubelet would: a temporary dotfile (ignored), then a rename."""
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w") as file:
        file.write(text)
    os.rename(tmp, path)


def get(url, path):
    try:
        with urllib.request.urlopen(url + path, timeout=10) as response:
            return json.load(response)
    except Exception:
        return None


def wait(what, condition, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    log(f"!! timed out after {timeout} s waiting for {what}")
    return False


def psql(sql):
    command = [A["psql"], "-h", A["pg_host"], "-p", A.get("pg_port", "5432"), "-U", A["pg_user"], "-d", "fleet", "-qAt", "-F", "\t", "-c", sql]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return [line.split("\t") for line in result.stdout.splitlines() if line]


class Fleet:
    """Replicas of one fleet (or one daemon without --fleet when name is None), each with its own directory."""

    def __init__(self, name, replicas, files):
        self.name, self.replicas, self.urls, self.processes = name, replicas, {}, {}
        for replica in replicas:
            os.makedirs(self.root(replica) + "/schemas")
            for file, text in files.items():
                write_file(f"{self.root(replica)}/schemas/{file}", text)
            self.start(replica)

    def root(self, replica):
        return f"{A['work']}/{self.name or 'solo'}-{replica}"

    def start(self, replica):
        root, fleet = self.root(replica), []
        if self.name:
            fleet = ["--fleet", A["fleet_url"], "--fleet-name", self.name, "--replica", replica]
        with open(f"{root}/log", "w") as out:
            process = subprocess.Popen([A["mapctl"], "watch", f"{root}/schemas", "--listen", "127.0.0.1:0", "--state", f"{root}/state",
                                        "--enable-fault-injection", "--log-format", "json"] + fleet, stdout=out, stderr=subprocess.STDOUT)
        DAEMONS.append(process)
        self.processes[replica] = process
        for _ in range(2400):
            found = re.search(r"listening on (http://\S+)", open(f"{root}/log").read())
            if found:
                self.urls[replica] = found.group(1)
                return
            if process.poll() is not None:
                break
            time.sleep(0.05)
        sys.exit(f"replica {replica} did not start: {open(f'{root}/log').read()[-2000:]}")

    def write(self, file, text):
        for replica in self.replicas:
            write_file(f"{self.root(replica)}/schemas/{file}", text)

    def leader(self, name):
        return (get(self.urls[self.replicas[0]], f"/v1/maps/{name}") or {}).get("leader")

    def rolled_back(self, name, version):
        """Waits until no replica serves `version` and each has it quarantined; returns the replicas that did not."""
        missing = []
        for replica, url in self.urls.items():
            def done():
                status = get(url, f"/v1/maps/{name}")
                return status is not None and status.get("live_version") != version and version in (status.get("quarantined") or [])
            if not wait(f"{name} {version} rolled back on {replica}", done, timeout=120):
                missing.append((replica, get(url, f"/v1/maps/{name}")))
        return missing

    def log_times(self, message, name):
        """{replica: {from_version: time}} of the first JSON log line with this message for map `name`."""
        found = {}
        for replica in self.replicas:
            found[replica] = {}
            for line in open(f"{self.root(replica)}/log"):
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("message") == message and entry.get("map") == name:
                    found[replica].setdefault(entry.get("from_version"), epoch(entry["time"]))
        return found


def writers(urls, maps):
    for url in urls:
        command = [sys.executable, __file__, "write", f"url={url}", f"maps={','.join(maps)}", f"rate={A['rate']}"]
        WRITERS.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))


def stop_writers():
    totals = {"ok": 0, "failed": 0}
    for process in WRITERS:
        process.terminate()
        for key, value in json.loads(process.communicate()[0] or "{}").items():
            totals[key] += value
    WRITERS.clear()
    return totals


def stop_daemons():
    for process in DAEMONS:
        process.terminate()
    for process in DAEMONS:
        process.wait(timeout=60)
    DAEMONS.clear()


def pct(values, q):
    """Nearest rank: the p99 of 20 values is the largest."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-round(q * 100) * len(ordered) // 100) - 1))]


def dist(values, scale=1000):
    if not values:
        return "n=0"
    return f"p50={pct(values, .5) * scale:.0f} p99={pct(values, .99) * scale:.0f} max={max(values) * scale:.0f} ms n={len(values)}"


def epoch(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rollback_report(fleet, name, versions, prefix, context):
    """Per rollback: the failing interval's end (window start + (last judged interval + 1) x interval, from the
    fleet's checks), the leader's deciding pass (history) and commit (its log line), each replica's rollback done."""
    checks = {}
    for version, start_at, index, result in psql(
            f"SELECT version, extract(epoch FROM window_start), interval_index, result FROM mapctl_fleet_checks "
            f"WHERE fleet = '{fleet.name}' AND name = '{name}' ORDER BY version, window_start, interval_index"):
        checks.setdefault(version, {}).setdefault(float(start_at), []).append((int(index), result))
    passes, count = {}, {}
    for from_version, at in psql(f"SELECT from_version, extract(epoch FROM occurred_at) FROM mapctl_fleet_history "
                                 f"WHERE fleet = '{fleet.name}' AND name = '{name}' AND action = 'rollback' ORDER BY id"):
        passes.setdefault(from_version, float(at))
        count[from_version] = count.get(from_version, 0) + 1
    committed = {}
    for times in fleet.log_times("fleet rolled back a version", name).values():
        for version, at in times.items():
            committed[version] = min(at, committed.get(version, at))
    done = fleet.log_times("rolled back", name)
    leader = fleet.leader(name)
    every, commits, starts, own, followers, mixed = [], [], [], [], [], []
    log(f"{'version':>8} {'window start':>12} {'checks':>22} {'pass':>6} {'commit':>6} " + " ".join(f"{r:>6}" for r in fleet.replicas)
        + "  (ms after the failing interval's end: the deciding pass's start, its commit, each replica's rollback done)")
    for version in versions:
        if not checks.get(version) or version not in passes:
            log(f"{version:>8} no judged window or no rollback in history")
            continue
        start_at = max(checks[version])
        judged = checks[version][start_at]
        end = start_at + (judged[-1][0] + 1) * INTERVAL
        if any(result != "fail" for _, result in judged):
            mixed.append(version)
        times = {r: done[r].get(version) for r in fleet.replicas}
        starts.append(passes[version] - end)
        if version in committed:
            commits.append(committed[version] - end)
        if all(t is not None for t in times.values()):
            every.append(max(times.values()) - end)
        for replica, at in times.items():
            if at is not None:
                (own if replica == leader else followers).append(at - end)
        row = [f"{(at - end) * 1000:>6.0f}" if at else f"{'never':>6}" for at in [passes[version], committed.get(version)] + list(times.values())]
        shown = ",".join(result[:4] for _, result in judged)
        log(f"{version:>8} {datetime.fromtimestamp(start_at, timezone.utc).strftime('%H:%M:%S.%f')[:-3]:>12} {shown:>22} " + " ".join(row))
    print(f"RESULT {prefix}_every_replica {dist(every)} (failing interval's end -> last replica's rollback done; {context}) "
          f"target=\"< 1 interval ({INTERVAL * 1000:.0f} ms)\"")
    print(f"RESULT {prefix}_decision {dist(commits)} (failing interval's end -> the leader's rollback committed, its log line)")
    print(f"RESULT {prefix}_deciding_pass_start {dist(starts)} (-> the start of the leader's deciding pass: the rollback's time in history)")
    print(f"RESULT {prefix}_done_on_leader {dist(own)} (leader {leader})")
    print(f"RESULT {prefix}_done_on_followers {dist(followers)}")
    print(f"RESULT {prefix}_checks windows={len(passes)} only_failed_checks={len(passes) - len(mixed)} "
          f"rollbacks_in_history_per_version={sorted(set(count.values()))}")


def rollbacks():
    fleet = Fleet("rollbacks", REPLICAS, {"hot.yaml": schema("hot", "1.0.0")})
    wait("1.0.0 live on every replica and a leader", lambda: all(
        (s := get(url, "/v1/maps/hot")) and s.get("live_version") == "1.0.0" and len(s.get("replicas") or []) == len(REPLICAS)
        and s.get("leader") for url in fleet.urls.values()))
    writers(fleet.urls.values(), ["hot"])
    time.sleep(2 * INTERVAL)
    count = int(A["rollbacks"])
    log(f"==> {count} rollbacks, {len(REPLICAS)} replicas, {A['rate']} writes/s on each, interval {INTERVAL:g} s, "
        f"failure_limit {A['failure_limit']}")
    versions, missing = [f"1.{i}.0" for i in range(1, count + 1)], []
    for version in versions:
        fleet.write("hot.yaml", schema("hot", version, bad=True))
        missing += [(version, replica, status) for replica, status in fleet.rolled_back("hot", version)]
        time.sleep(0.5)
    totals = stop_writers()
    rollback_report(fleet, "hot", versions, "fleet_rollback",
                    f"{len(REPLICAS)} replicas, 1 map, interval {INTERVAL:g} s, {A['rate']} writes/s each")
    print(f"RESULT fleet_rollback_writes ok={totals['ok']} failed={totals['failed']} (half the bad versions' writes fail by design)")
    for version, replica, status in missing:
        print(f"DEFECT {version} not rolled back on replica {replica} within 120 s; its status: {json.dumps(status)}")
    stop_daemons()


def cpu_ticks(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def postgres_ticks():
    """The server and its backends; backends that exited are in the postmaster's cutime and cstime."""
    master = int(open(f"{A['pg_data']}/postmaster.pid").readline())
    total = sum(int(f) for f in open(f"/proc/{master}/stat").read().rsplit(")", 1)[1].split()[11:15])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1] == str(master):
                total += cpu_ticks(pid)
        except OSError:
            pass
    return total


def statements():
    """Calls per statement since the last reset (pg_stat_statements), or None without it."""
    try:
        rows = psql("SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 200) FROM pg_stat_statements "
                    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'fleet')")
        return [(int(calls), query) for calls, query in rows]
    except subprocess.CalledProcessError:
        return None


def measure(fleet, names, label):
    """CPU per interval of each replica and of PostgreSQL over `intervals` intervals; passes per replica from
    pg_stat_statements (`SELECT now()` opens every pass, the samples read is the leader's judgement of one map)."""
    tick, maps = os.sysconf("SC_CLK_TCK"), len(names)
    leader = fleet.leader(names[0]) if fleet.name else None
    has_stats = statements() is not None
    if has_stats:
        psql("SELECT pg_stat_statements_reset()")
    before, pg_before = {r: cpu_ticks(p.pid) for r, p in fleet.processes.items()}, postgres_ticks()
    started = time.time()
    time.sleep(int(A["intervals"]) * INTERVAL)
    ended = time.time()
    after, pg_after = {r: cpu_ticks(p.pid) for r, p in fleet.processes.items()}, postgres_ticks()
    intervals = (ended - started) / INTERVAL
    per = {r: (after[r] - before[r]) * 1000 / tick / intervals for r in fleet.replicas}
    setting = f"{maps} maps, {A['rate']} writes/s on each replica, {intervals:.1f} intervals of {INTERVAL:g} s"
    if not fleet.name:
        print(f"RESULT fleet_cpu {label} solo={per[fleet.replicas[0]]:.1f} ms/interval (one daemon without --fleet; {setting})")
        return
    if leader not in per or fleet.leader(names[0]) != leader:
        print(f"RESULT fleet_cpu {label} not measured: the leader changed during the measurement")
        return
    others = [r for r in fleet.replicas if r != leader]
    follower = statistics.median([per[r] for r in others])
    each = " ".join(f"{r}={v:.1f}" for r, v in per.items())
    print(f"RESULT fleet_cpu {label} leader={per[leader]:.1f} followers={follower:.1f} judging={per[leader] - follower:.1f} "
          f"postgres={(pg_after - pg_before) * 1000 / tick / intervals:.1f} ms/interval ({len(fleet.replicas)} replicas, {setting}; "
          f"leader {leader}; {each})")
    rows = statements() if has_stats else None
    if rows is not None:
        total = sum(calls for calls, query in rows if query.startswith("SELECT now()")) / intervals
        judged = sum(calls for calls, query in rows if query.startswith("SELECT interval_index, replica, ops")) / maps / intervals
        queries = sum(calls for calls, _ in rows) / intervals
        if judged > 0:
            followers = (total - judged) / len(others)
            cost = per[leader] / judged - follower / followers
            print(f"RESULT fleet_passes {label} leader={judged:.2f} followers={followers:.2f} per interval (tick 100 ms: 10 when a pass "
                  f"fits in a tick); CPU per pass leader={per[leader] / judged:.1f} followers={follower / followers:.1f} ms; judging "
                  f"{cost:.1f} ms per pass = {cost * judged:.1f} ms/interval at the leader's pace, {cost * 10:.1f} at 10 passes; "
                  f"{queries:.0f} statements/interval in all")
        else:
            print(f"RESULT fleet_passes {label} every replica={total / len(fleet.replicas):.2f} per interval; {queries:.0f} statements/interval in all")
    window = f"recorded_at >= to_timestamp({started}) AND recorded_at < to_timestamp({ended})"
    lags = [float(x) for (x,) in psql(f"SELECT extract(epoch FROM recorded_at - window_start) - (interval_index + 1) * {INTERVAL} "
                                      f"FROM mapctl_fleet_checks WHERE fleet = '{fleet.name}' AND {window}")]
    if lags:
        results = dict(psql(f"SELECT result, count(*) FROM mapctl_fleet_checks WHERE fleet = '{fleet.name}' AND {window} GROUP BY result"))
        samples = dict(psql(f"SELECT replica, count(*) FROM mapctl_fleet_samples WHERE fleet = '{fleet.name}' AND "
                            f"published_at >= to_timestamp({started}) AND published_at < to_timestamp({ended}) GROUP BY replica"))
        print(f"RESULT fleet_check_recorded {label} {dist(lags)} after its interval's end; checks per map per interval "
              f"{len(lags) / (maps * intervals):.2f} ({' '.join(f'{k}={v}' for k, v in sorted(results.items()))}); samples published "
              f"per map per interval: " + " ".join(f"{r}={int(samples.get(r, 0)) / (maps * intervals):.2f}" for r in fleet.replicas))


def cost():
    count = int(A["maps"])
    names = [f"map_{i:03d}" for i in range(count)]
    stable = {f"{name}.yaml": schema(name, "1.0.0", min_ops=5) for name in names}
    log(f"==> judging cost: {count} maps, {len(REPLICAS)} replicas, {A['rate']} writes/s on each, {A['intervals']} intervals per measurement")

    def all_maps(fleet, version, phase):
        def check():
            for url in fleet.urls.values():
                maps = [m for m in (get(url, "/v1/maps") or {}).get("maps", []) if m.get("name") in names]
                if len(maps) != count or any(m.get("live_version") != version or m.get("phase") != phase for m in maps):
                    return False
            return True
        return check

    def open_windows(fleet):
        for name in names:
            fleet.write(f"{name}.yaml", schema(name, "1.1.0", min_ops=5))
        wait(f"{count} maps rolling out 1.1.0", all_maps(fleet, "1.1.0", "rolling_out"), timeout=300)
        time.sleep(3 * INTERVAL)

    solo = Fleet(None, ["solo"], stable)  # the same maps, load and windows on one daemon without a fleet
    wait(f"{count} maps live on the solo daemon", all_maps(solo, "1.0.0", "stable"), timeout=300)
    open_windows(solo)
    writers(solo.urls.values(), names)
    time.sleep(3 * INTERVAL)
    measure(solo, names, "solo-windows")
    stop_writers()
    stop_daemons()

    fleet = Fleet("cost", REPLICAS, stable)
    wait(f"{count} maps live at 1.0.0 on every replica", all_maps(fleet, "1.0.0", "stable"), timeout=300)
    writers(fleet.urls.values(), names)
    time.sleep(3 * INTERVAL)
    measure(fleet, names, "stable")
    opened = time.time()
    open_windows(fleet)
    for segment in range(int(A["segments"])):
        age = time.time() - opened
        measure(fleet, names, f"windows#{segment + 1} (window age {age:.0f}-{age + int(A['intervals']) * INTERVAL:.0f} s)")
    busy = int(A.get("busy_rollbacks", "0"))
    if busy:
        log(f"==> {busy} rollbacks of {names[0]} while the {count} maps are in their windows")
        versions, missing = [f"1.{i}.0" for i in range(2, busy + 2)], []
        for version in versions:
            fleet.write(f"{names[0]}.yaml", schema(names[0], version, bad=True, min_ops=5))
            missing += [(version, replica, status) for replica, status in fleet.rolled_back(names[0], version)]
            time.sleep(0.5)
        rollback_report(fleet, names[0], versions, "fleet_rollback_busy",
                        f"{len(REPLICAS)} replicas, 1 bad map among {count} in their windows, {A['rate']} writes/s each")
        for version, replica, status in missing:
            print(f"DEFECT {names[0]} {version} not rolled back on replica {replica} within 120 s; its status: {json.dumps(status)}")
    totals = stop_writers()
    print(f"RESULT fleet_cost_writes ok={totals['ok']} failed={totals['failed']}")
    stop_daemons()


if __name__ == "__main__":
    if sys.argv[1] == "write":
        writer()
        sys.exit(0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        if sys.argv[1] in ("all", "rollbacks"):
            rollbacks()
        if sys.argv[1] in ("all", "cost"):
            cost()
    finally:
        for process in WRITERS:
            process.kill()
        for process in DAEMONS:
            if process.poll() is None:
                process.kill()
