#!/usr/bin/env bash
# Runs the README's tour, command by command, in a scratch copy of the
# repository (so that `.mapctl/` and the daemon's port are its own), and fails
# if any command does not do what the README shows. CI runs it; keep it in step
# with the "Tour" section of README.md.
#
#   bash scripts/readme-tour.sh            # uses the debug build (builds it if needed)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
swift build --product mapctl 2>&1 | tail -n 1
bin="$(swift build --show-bin-path)/mapctl"

work=$(mktemp -d /tmp/mapctl-tour.XXXXXX)
daemon=""
cleanup() { [ -n "$daemon" ] && kill "$daemon" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
git ls-files -z schemas examples/bad examples/tour | xargs -0 -I{} cp --parents {} "$work/"
cd "$work"

# `swift run mapctl ARGS` in the README is this binary with ARGS, in the repository's root.
mapctl() { "$bin" "$@"; }
step() { printf '\n$ %s\n' "$*"; }
expect_exit() { local want=$1; shift; set +e; "$@"; local got=$?; set -e; [ "$got" -eq "$want" ] || { echo "tour: '$*' exited $got, the README says $want" >&2; exit 1; }; }

# The README's daemon listens on the default 127.0.0.1:7468; a CI machine may
# have that port taken, so the check uses its own and tells the client with MAPCTL_SERVER.
port=${TOUR_PORT:-17468}
export MAPCTL_SERVER="http://127.0.0.1:$port"

step "mapctl validate schemas"
mapctl validate schemas
step "mapctl validate examples/bad/typos.yaml"
expect_exit 1 mapctl validate examples/bad/typos.yaml

step "mapctl watch schemas &"
"$bin" watch schemas --listen "127.0.0.1:$port" > watch.out 2> watch.log &
daemon=$!
for _ in $(seq 1 100); do grep -q 'listening on' watch.out 2>/dev/null && break; sleep 0.1; done
cat watch.out
grep -q "listening on http://127.0.0.1:$port" watch.out || { cat watch.log >&2; exit 1; }
for _ in $(seq 1 50); do curl -fs "$MAPCTL_SERVER/readyz" >/dev/null && break; sleep 0.1; done

step "mapctl status"
mapctl status
mapctl status -o json | python3 -c 'import json,sys; m={s["name"]: s for s in json.load(sys.stdin)["maps"]}; assert m["user_cache"]["live_version"] == "1.0.0" and m["user_cache"]["phase"] == "stable", m'

step "mapctl put user_cache u42 '{\"id\": \"u42\", \"name\": \"Ada\", \"email\": \"ada@example.com\", \"verified\": true}'"
mapctl put user_cache u42 '{"id": "u42", "name": "Ada", "email": "ada@example.com", "verified": true}'
step "mapctl get user_cache u42"
mapctl get user_cache u42
step "mapctl put user_cache u43 '{\"id\": \"u43\"}'"
expect_exit 1 mapctl put user_cache u43 '{"id": "u43"}'

step "mapctl diff -f examples/tour/user_cache-1.1.0.yaml"
expect_exit 1 mapctl diff -f examples/tour/user_cache-1.1.0.yaml
step "mapctl apply -f examples/tour/user_cache-1.1.0.yaml"
mapctl apply -f examples/tour/user_cache-1.1.0.yaml
step "mapctl status user_cache"
mapctl status user_cache
mapctl status user_cache -o json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["live_version"] == "1.1.0" and s["phase"] == "rolling_out" and s["standby_version"] == "1.0.0", s'
step "mapctl get user_cache u42"
mapctl get user_cache u42 | grep -q '"Ada"'
mapctl get user_cache u42

step "mapctl rollback user_cache --reason 'tour: back to 1.0.0'"
mapctl rollback user_cache --reason 'tour: back to 1.0.0'
step "mapctl history user_cache"
mapctl history user_cache
mapctl history user_cache -o json | python3 -c 'import json,sys; h=json.load(sys.stdin); assert [e["action"] for e in h] == ["apply", "apply", "rollback", "quarantine"], h'

step "curl -s http://127.0.0.1:7468/metrics | grep -E '^mapctl_(map_info|rollbacks_total)'"
curl -s "$MAPCTL_SERVER/metrics" | grep -E '^mapctl_(map_info|rollbacks_total)'

step "kill -TERM %1   # the daemon shuts down cleanly"
kill -TERM "$daemon"
status=0; wait "$daemon" || status=$?
daemon=""
[ "$status" -eq 0 ] || { echo "tour: the daemon exited $status on SIGTERM" >&2; exit 1; }
echo "tour: OK"
