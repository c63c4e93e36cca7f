#!/usr/bin/env bash
# Fleets (issue 12, BENCHMARKS.md "## Fleets"): release-built `mapctl watch --fleet` replicas on a throwaway
# PostgreSQL (initdb into a temp dir, Unix socket only, default durability settings), writers on every replica at a
# fixed rate. The measuring is scripts/bench-fleet.py; this script builds, starts PostgreSQL and stops it.
#  1. Rollbacks: REPLICAS replicas serve map `hot`; ROLLBACKS times a bad version (fault_rate 0.5) lands in every
#     replica's directory, as a ConfigMap update would. Per rollback: the failing interval's end (the window's start
#     in mapctl_fleet_checks + (last judged interval + 1) x interval), the leader's deciding pass (the rollback's time
#     in mapctl_fleet_history) and commit ("fleet rolled back a version" in its JSON log), and each replica's rollback
#     done (the "rolled back" line of its JSON log, ms precision). p50/p99 by nearest rank (p99 of 20 = the largest).
#  2. Judging cost: MAPS maps, first on one daemon without --fleet (the same load and windows: the baseline), then on
#     REPLICAS replicas: CPU (utime+stime of /proc/PID/stat) per interval of the leader, the followers and PostgreSQL,
#     with every map stable, then SEGMENTS times with every map in its window. Judging = leader - followers' median;
#     with pg_stat_statements (loaded when the server has it) also passes per interval and CPU per pass. How late
#     each check is recorded after its interval's end, and how many samples each replica publishes.
#     Then BUSY_ROLLBACKS rollbacks of one bad map among the MAPS in their windows, timed as in 1.
#
# Usage: scripts/bench-fleet.sh [--rollbacks 20] [--maps 100] [--replicas 3] [--intervals 20] [--segments 3]
#          [--busy-rollbacks 5] [--rate 300] [--interval-ms 1000] [--failure-limit 3] [--only rollbacks|cost]
#   --rate        writes per second on each replica (round robin over the maps)
#   --intervals   intervals per CPU measurement; --segments: measurements in a row while the windows are open
# Needs PostgreSQL (initdb, pg_ctl, psql in PATH or /usr/lib/postgresql/*/bin; as root, the postgres user and
# runuser or setpriv) and python3. BENCH_SCRATCH picks the build folder (default .build-release); BENCH_MAPCTL=PATH
# uses that mapctl instead of building; BENCH_KEEP=1 keeps the work folder (logs, PostgreSQL data) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

ROLLBACKS=20 MAPS=100 REPLICAS=3 INTERVALS=20 SEGMENTS=3 BUSY_ROLLBACKS=5 RATE=300 INTERVAL_MS=1000 FAILURE_LIMIT=3 ONLY=""
usage="usage: $0 [--rollbacks N] [--maps N] [--replicas N] [--intervals N] [--segments N] [--busy-rollbacks N] [--rate N] [--interval-ms N] [--failure-limit N] [--only rollbacks|cost]"
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "$usage" >&2; exit 64; }
  case "$1" in
    --rollbacks) ROLLBACKS="$2" ;;
    --maps) MAPS="$2" ;;
    --replicas) REPLICAS="$2" ;;
    --intervals) INTERVALS="$2" ;;
    --segments) SEGMENTS="$2" ;;
    --busy-rollbacks) BUSY_ROLLBACKS="$2" ;;
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

if [ -n "${BENCH_MAPCTL:-}" ]; then
  MAPCTL="$(readlink -f "$BENCH_MAPCTL")"
  echo "==> using $MAPCTL (BENCH_MAPCTL, no build)" >&2
else
  echo "==> release build (swift build -c release --product mapctl --scratch-path $SCRATCH)" >&2
  swift build -c release --product mapctl --scratch-path "$SCRATCH" >&2
  MAPCTL="$(pwd)/$SCRATCH/release/mapctl"
fi

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
echo "==> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') in $WORK/pg (Unix socket, $PG_USER)" >&2
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U "$PG_USER" -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log" >&2; exit 1; }
PRELOAD=""
[ -f "$PG_BIN/../lib/pg_stat_statements.so" ] && PRELOAD="-c shared_preload_libraries=pg_stat_statements"
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -l "$WORK/pg/log" \
  -o "-k $WORK/pg -c listen_addresses='' -p 5432 -c max_connections=200 $PRELOAD" start >/dev/null
"$PG_BIN/psql" -h "$WORK/pg" -p 5432 -U "$PG_USER" -d postgres -qAt -c 'CREATE DATABASE fleet'
[ -n "$PRELOAD" ] && "$PG_BIN/psql" -h "$WORK/pg" -p 5432 -U "$PG_USER" -d fleet -qAt -c 'CREATE EXTENSION pg_stat_statements'

python3 scripts/bench-fleet.py "${ONLY:-all}" work="$WORK" mapctl="$MAPCTL" interval_ms="$INTERVAL_MS" replicas="$REPLICAS" \
  rollbacks="$ROLLBACKS" maps="$MAPS" intervals="$INTERVALS" segments="$SEGMENTS" rate="$RATE" failure_limit="$FAILURE_LIMIT" \
  busy_rollbacks="$BUSY_ROLLBACKS" fleet_url="postgresql://$PG_USER@/fleet?host=$WORK/pg&port=5432" psql="$PG_BIN/psql" \
  pg_host="$WORK/pg" pg_user="$PG_USER" pg_data="$PG_DATA" &
echo $! >"$WORK/driver.pid"
wait "$(cat "$WORK/driver.pid")"
rm -f "$WORK/driver.pid"
echo "(machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)" >&2
