#!/usr/bin/env bash
# mapctl in 90 seconds: a good version goes live, a bad one is pushed under
# write load, and the controller rolls it back on its own.
#
#   bash examples/demo.sh
#
# Builds mapctl if needed, runs the daemon on a temporary state directory and
# port, and exits 0 only if the automatic rollback really happened and no
# acknowledged write was lost. Needs curl and python3 (it reads the status JSON).
set -euo pipefail
cd "$(dirname "$0")/.."

bold() { if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

bold "building mapctl"
swift build --product mapctl 2>&1 | tail -n 1
bin="$(swift build --show-bin-path)/mapctl"

work=$(mktemp -d /tmp/mapctl-demo.XXXXXX)
daemon_pid=""; load_pid=""
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null || true
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/schemas"

cat > "$work/schemas/orders.yaml" <<'YAML'
# Orders by id: the map the demo writes to.
name: orders
version: 1.0.0
key_type: string
value_type: int64
strategy: sharded
shards: 16
rollback_window: 2m
rollout:
  standby: warm
  interval: 500ms
  min_ops: 10
  failure_limit: 3
  max_error_rate: 0.05
YAML

bold "mapctl watch $work/schemas (fault injection enabled, port 0)"
"$bin" watch "$work/schemas" --listen 127.0.0.1:0 --state "$work/state" --enable-fault-injection \
  > "$work/daemon.out" 2> "$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 1 100); do
  grep -q 'listening on' "$work/daemon.out" 2>/dev/null && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon.log" >&2; fail "the daemon exited"; }
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/daemon.out" | head -n 1)
[ -n "$url" ] || fail "the daemon did not print 'listening on'"
echo "listening on $url"
export MAPCTL_SERVER="$url"
ctl() { "$bin" "$@" --state "$work/state"; }
for _ in $(seq 1 50); do curl -fs "$url/readyz" >/dev/null && break; sleep 0.1; done

bold "mapctl status"
ctl status

bold "write load: PUT /v1/maps/orders/entries/order-N, acknowledged writes logged"
: > "$work/acked"
(
  i=0
  while [ ! -e "$work/stop" ]; do
    key="order-$((i % 200))"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data "$i" "$url/v1/maps/orders/entries/$key" || echo 000)
    # 2xx: acknowledged; the value must be readable afterwards unless overwritten.
    case "$code" in 2*) echo "$key $i" >> "$work/acked" ;; esac
    i=$((i + 1))
  done
) &
load_pid=$!
sleep 2
echo "$(wc -l < "$work/acked") writes acknowledged so far"

bold "pushing orders 1.1.0: a bad version (fault injection: 40% errors)"
sed -e 's/^version: 1.0.0/version: 1.1.0/' "$work/schemas/orders.yaml" > "$work/orders.next"
printf 'fault_injection:\n  error_rate: 0.4\n' >> "$work/orders.next"
mv "$work/orders.next" "$work/schemas/orders.yaml"     # a rename, as editors and git do

bold "watching the rollout (mapctl status orders, every 0.5 s)"
rolled_back=""
for _ in $(seq 1 40); do
  line=$(ctl status orders -o json)
  phase=$(printf '%s' "$line" | python3 -c 'import json,sys; s=json.load(sys.stdin); c=s["checks"]; print(s["phase"], "live="+str(s["live_version"]), "desired="+str(s["desired_version"]), "checks(pass/fail/inconclusive)=%s/%s/%s" % (c["passed"], c["failed"], c["inconclusive"]))')
  echo "$(date +%T.%N | cut -c1-12)  $phase"
  case "$phase" in rolled_back*) rolled_back=yes; break ;; esac
  sleep 0.5
done
[ -n "$rolled_back" ] || fail "orders 1.1.0 was not rolled back"

sleep 1
touch "$work/stop"; wait "$load_pid" 2>/dev/null || true; load_pid=""   # the writer finishes its request and logs it

bold "mapctl status (after the rollback)"
ctl status

bold "mapctl history orders"
ctl history orders

bold "checking every acknowledged write (the last acknowledged value of each key must be readable)"
total=$(wc -l < "$work/acked")
lost=0
while read -r key value; do
  got=$(curl -fs "$url/v1/maps/orders/entries/$key" || echo missing)
  if [ "$got" != "$value" ]; then
    echo "lost: $key expected $value, got $got" >&2; lost=$((lost + 1))
  fi
done < <(awk '{last[$1] = $2} END {for (k in last) print k, last[k]}' "$work/acked")
echo "$total acknowledged writes over $(awk '{print $1}' "$work/acked" | sort -u | wc -l) keys; lost: $lost"
[ "$lost" -eq 0 ] || fail "$lost acknowledged writes were lost"

bold "a few metrics (GET /metrics)"
curl -fs "$url/metrics" | grep -E '^mapctl_(rollbacks_total|rollout_checks_total|map_info|breaker_state)' | grep -v ' 0$' | head -n 12 || true

bold "stopping the daemon (SIGTERM)"
kill -TERM "$daemon_pid"
status=0; wait "$daemon_pid" || status=$?
daemon_pid=""
[ "$status" -eq 0 ] || fail "the daemon exited with $status on SIGTERM"
echo "daemon exited 0"
echo
echo "demo: OK: orders 1.1.0 was rolled back automatically and no acknowledged write was lost"
